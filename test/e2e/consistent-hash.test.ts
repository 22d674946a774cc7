// End to end: consistent hashing through bin/legate with two workers and three real upstreams. RING_HASH and
// MAGLEV clusters (lb_policy and the typed load_balancing_policy), route hash_policy by header, cookie with ttl,
// source IP and query parameter. Every request goes on a fresh connection, so the kernel spreads them over both
// workers (checked with worker_<i>.downstream_rq_total); the upstream each key reaches is predicted by building the
// same ring or table in this process, which is what "the same key maps to the same host on every worker and
// across restarts" means.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { Hash64, hash64Hex, xxHash64 } from '../../src/common/xxhash64.ts';
import { RingHashLoadBalancer } from '../../workers/upstream/ring-hash-lb.ts';
import { MaglevLoadBalancer } from '../../workers/upstream/maglev-lb.ts';

interface Reply {
  status: number;
  upstream: string;
  headers: http.IncomingHttpHeaders;
  clientPort: number;
}

/** One request on its own connection (agent: false), so requests land on either worker. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({
        status: res.statusCode!,
        upstream: String(res.headers['x-upstream'] ?? ''),
        headers: res.headers,
        clientPort: req.socket?.localPort ?? 0,
      }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

function adminText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { s += d; });
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
}

class Host {
  readonly addressString: string;
  readonly weight = 1;
  readonly activeRequests = 0;
  readonly name: string;
  constructor(up: TestUpstream) {
    this.addressString = `127.0.0.1:${up.port}`;
    this.name = up.name;
  }
}

function endpoints(ups: TestUpstream[]): string {
  return ups.map((u) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${u.port} } } }\n`).join('');
}

function config(port: number, ups: TestUpstream[]): string {
  const eps = endpoints(ups);
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: main
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ch
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/ring" }
                route:
                  cluster: ring
                  hash_policy:
                  - header: { header_name: x-user }
              - match: { prefix: "/maglev" }
                route:
                  cluster: maglev
                  hash_policy:
                  - header: { header_name: x-user }
              - match: { prefix: "/cookie" }
                route:
                  cluster: ring
                  hash_policy:
                  - cookie: { name: sticky, ttl: 60s, path: / }
              - match: { prefix: "/ip" }
                route:
                  cluster: maglev
                  hash_policy:
                  - connection_properties: { source_ip: true }
              - match: { prefix: "/query" }
                route:
                  cluster: typed_ring
                  hash_policy:
                  - query_parameter: { name: user }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: ring
    connect_timeout: 1s
    lb_policy: RING_HASH
    ring_hash_lb_config: { minimum_ring_size: 2048 }
    load_assignment:
      cluster_name: ring
      endpoints:
      - lb_endpoints:
${eps}  - name: maglev
    connect_timeout: 1s
    lb_policy: MAGLEV
    load_assignment:
      cluster_name: maglev
      endpoints:
      - lb_endpoints:
${eps}  - name: typed_ring
    connect_timeout: 1s
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.ring_hash
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash
            minimum_ring_size: 1024
    load_assignment:
      cluster_name: typed_ring
      endpoints:
      - lb_endpoints:
${eps}`;
}

describe('consistent hashing end to end (2 workers, 3 upstreams)', () => {
  let legate: LegateProcess;
  let ups: TestUpstream[];
  let port: number;
  let hosts: Host[];

  before(async () => {
    ups = await Promise.all(['up-a', 'up-b', 'up-c'].map((n) => startUpstream(n)));
    hosts = ups.map((u) => new Host(u));
    port = await freePort();
    legate = await startLegate({ config: config(port, ups), concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    await Promise.all((ups ?? []).map((u) => u.close()));
  });

  const USERS = Array.from({ length: 12 }, (_, i) => `user-${i}`);

  async function checkSticky(path: string, predict: (key: string) => string, send: (user: string) => [string, Record<string, string>]): Promise<Set<string>> {
    const reached = new Set<string>();
    for (const user of USERS) {
      const expected = predict(user);
      for (let i = 0; i < 5; i++) {
        const [p, headers] = send(user);
        const r = await get(port, p, headers);
        assert.equal(r.status, 200);
        assert.equal(r.upstream, expected, `${path} ${user} (try ${i})`);
        reached.add(r.upstream);
      }
    }
    return reached;
  }

  it('RING_HASH by header: each value always reaches the upstream the ring predicts, over both workers', async () => {
    const ring = new RingHashLoadBalancer(hosts, { minimumRingSize: 2048, maximumRingSize: 8388608 }, Math.random);
    const predict = (k: string): string => ring.chooseHost(xxHash64(k, new Hash64()))!.name;
    const reached = await checkSticky('/ring', predict, (u) => ['/ring', { 'x-user': u }]);
    assert.ok(reached.size >= 2, `keys spread over upstreams: ${[...reached].join(',')}`);
    // Both workers served (fresh connections spread by the kernel).
    const stats = await adminText(legate.adminPort, '/stats?filter=^worker_');
    for (const w of [0, 1]) {
      const m = new RegExp(`worker_${w}\\.downstream_rq_total: (\\d+)`).exec(stats);
      assert.ok(m !== null && Number(m[1]) > 0, `worker_${w} served requests:\n${stats}`);
    }
  });

  it('MAGLEV by header: each value always reaches the upstream the table predicts', async () => {
    const maglev = new MaglevLoadBalancer(hosts, 65537, Math.random);
    const predict = (k: string): string => maglev.chooseHost(xxHash64(k, new Hash64()))!.name;
    const reached = await checkSticky('/maglev', predict, (u) => ['/maglev', { 'x-user': u }]);
    assert.ok(reached.size >= 2);
  });

  it('no hash (header absent): a random pick, so several upstreams are reached', async () => {
    const reached = new Set<string>();
    for (let i = 0; i < 30 && reached.size < 2; i++) reached.add((await get(port, '/ring')).upstream);
    assert.ok(reached.size >= 2, `reached ${[...reached].join(',')}`);
  });

  it('typed load_balancing_policy ring_hash with query_parameter', async () => {
    const ring = new RingHashLoadBalancer(hosts, { minimumRingSize: 1024, maximumRingSize: 8388608 }, Math.random);
    const predict = (k: string): string => ring.chooseHost(xxHash64(k, new Hash64()))!.name;
    await checkSticky('/query', predict, (u) => [`/query?x=1&user=${u}`, {}]);
  });

  it('cookie with ttl: Legate sets the cookie (Envoy\'s value and attributes) and requests carrying it stick', async () => {
    const first = await get(port, '/cookie');
    assert.equal(first.status, 200);
    const setCookie = first.headers['set-cookie'];
    assert.ok(Array.isArray(setCookie) && setCookie.length === 1, `set-cookie: ${String(setCookie)}`);
    const generated = hash64Hex(xxHash64(`127.0.0.1:${first.clientPort}127.0.0.1:${port}`, new Hash64()));
    assert.equal(setCookie[0], `sticky="${generated}"; Max-Age=60; Path=/; HttpOnly`);
    const ring = new RingHashLoadBalancer(hosts, { minimumRingSize: 2048, maximumRingSize: 8388608 }, Math.random);
    const expected = ring.chooseHost(xxHash64(generated, new Hash64()))!.name;
    assert.equal(first.upstream, expected);
    for (let i = 0; i < 8; i++) {
      const r = await get(port, '/cookie', { cookie: `other=1; sticky="${generated}"` });
      assert.equal(r.upstream, expected);
      assert.equal(r.headers['set-cookie'], undefined, 'no new cookie once the request has one');
    }
  });

  it('source_ip: every connection from 127.0.0.1 reaches the same upstream', async () => {
    const maglev = new MaglevLoadBalancer(hosts, 65537, Math.random);
    const expected = maglev.chooseHost(xxHash64('127.0.0.1', new Hash64()))!.name;
    for (let i = 0; i < 12; i++) assert.equal((await get(port, '/ip')).upstream, expected);
  });
});

describe('consistent hashing across a host set change (reload, 2 workers)', () => {
  let legate: LegateProcess;
  let ups: TestUpstream[];
  let port: number;

  before(async () => {
    ups = await Promise.all(['h0', 'h1', 'h2', 'h3'].map((n) => startUpstream(n)));
    port = await freePort();
    legate = await startLegate({ config: config(port, ups), concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    await Promise.all((ups ?? []).map((u) => u.close()));
  });

  it('after a host is removed, keys follow the new table on every worker; keys of remaining hosts stay (maglev)', async () => {
    const users = Array.from({ length: 40 }, (_, i) => `k-${i}`);
    const before = new Map<string, string>();
    for (const u of users) before.set(u, (await get(port, '/maglev', { 'x-user': u })).upstream);
    const remaining = ups.filter((u) => u.name !== 'h2');
    fs.writeFileSync(legate.configPath, config(port, remaining));
    assert.equal(await legate.reload(), true);
    const maglev = new MaglevLoadBalancer(remaining.map((u) => new Host(u)), 65537, Math.random);
    let stayed = 0;
    let onRemaining = 0;
    for (const u of users) {
      const expected = maglev.chooseHost(xxHash64(u, new Hash64()))!.name;
      for (let i = 0; i < 3; i++) assert.equal((await get(port, '/maglev', { 'x-user': u })).upstream, expected, `${u} after the reload`);
      if (before.get(u) !== 'h2') {
        onRemaining++;
        if (before.get(u) === expected) stayed++;
      }
    }
    assert.ok([...before.values()].includes('h2'), 'some keys were on the removed host');
    assert.ok(stayed >= onRemaining * 0.75, `keys of remaining hosts that stayed: ${stayed} of ${onRemaining}`);
  });
});
