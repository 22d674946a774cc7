// End to end: ORIGINAL_DST clusters (Envoy's original destination cluster and load balancer) and the
// envoy.filters.listener.original_dst listener filter, through bin/legate. Two real upstreams listen on the same
// port on 127.0.0.1 and 127.0.0.2 (Linux loopback answers all of 127/8). With use_http_header the
// x-envoy-original-dst-host header picks the upstream (none, or a bad value: 503, original_dst_host_invalid); a
// metadata_key reads the request's dynamic metadata (set by a Lua filter) first; a listener on 0.0.0.0 with original_dst sends each connection to its local address (reached via 127.0.0.1 or
// 127.0.0.2) with upstream_port_override, for HTTP and for tcp_proxy; without the listener filter there is no
// original destination (503); hosts unused for cleanup_interval leave /clusters.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';
import { parseIpPort } from '../../workers/upstream/original-dst-hosts.ts';

function upstream(name: string): http.Server {
  return http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'x-upstream': name });
      res.end(name);
    });
  });
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Two upstreams on 127.0.0.1:P and 127.0.0.2:P (a few tries: another process may hold P on 127.0.0.2). */
async function twoUpstreams(): Promise<{ a: http.Server; b: http.Server; port: number }> {
  for (let i = 0; ; i++) {
    const a = upstream('a');
    const port = await listen(a, '127.0.0.1', 0);
    const b = upstream('b');
    try {
      await listen(b, '127.0.0.2', port);
      return { a, b, port };
    } catch (err) {
      a.close();
      if (i >= 5) throw err;
    }
  }
}

function request(host: string, port: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 8000, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** One HTTP/1.0 request written on a raw TCP connection (through tcp_proxy); the whole answer. */
function rawRequest(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let out = '';
    s.setTimeout(8000, () => s.destroy(new Error('timeout')));
    s.on('connect', () => s.write('GET / HTTP/1.0\r\nhost: x\r\n\r\n'));
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

function hcm(prefix: string, cluster: string, filters = ''): string {
  return `      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${prefix}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: ${cluster} }
          http_filters:
${filters}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`;
}

const ORIGINAL_DST_FILTER = `    listener_filters:
    - name: envoy.filters.listener.original_dst
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst
`;

/** Copies x-dst into the dynamic metadata envoy.lb/dst (what metadata_key reads). */
const LUA_SETS_METADATA = `          - name: envoy.filters.http.lua
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
              default_source_code:
                inline_string: |
                  function envoy_on_request(h)
                    local d = h:headers():get("x-dst")
                    if d ~= nil then h:streamInfo():dynamicMetadata():set("envoy.lb", "dst", d) end
                  end
`;

function config(upstreamPort: number): string {
  const listeners = [
    `  - name: by_header
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${hcm('by_header', 'by_header')}`,
    `  - name: restored
    address:
      socket_address: { address: 0.0.0.0, port_value: 0 }
${ORIGINAL_DST_FILTER}    filter_chains:
    - filters:
${hcm('restored', 'by_dst')}`,
    `  - name: tcp
    address:
      socket_address: { address: 0.0.0.0, port_value: 0 }
${ORIGINAL_DST_FILTER}    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: by_dst
`,
    `  - name: by_metadata
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${hcm('by_metadata', 'by_metadata', LUA_SETS_METADATA)}`,
    `  - name: not_restored
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${hcm('not_restored', 'by_dst')}`,
  ];
  const clusters = [
    `  - name: by_header
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 1s
    original_dst_lb_config: { use_http_header: true }
`,
    `  - name: by_metadata
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 1s
    original_dst_lb_config: { metadata_key: { key: envoy.lb, path: [{ key: dst }] }, use_http_header: true }
`,
    `  - name: by_dst
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 1s
    cleanup_interval: 1s
    original_dst_lb_config: { upstream_port_override: ${upstreamPort} }
`,
  ];
  return bootstrap(listeners, clusters);
}

describe('ORIGINAL_DST clusters and the original_dst listener filter', () => {
  let legate: LegateProcess;
  let a: http.Server;
  let b: http.Server;
  let upstreamPort: number;
  let ports: Record<string, number>;

  before(async () => {
    ({ a, b, port: upstreamPort } = await twoUpstreams());
    legate = await startLegate({ config: config(upstreamPort), concurrency: 1 });
    ports = await legate.listenerPorts();
  });

  after(async () => {
    await legate?.stop();
    for (const s of [a, b]) {
      s?.closeAllConnections();
      s?.close();
    }
  });

  /** The hosts /clusters lists for `cluster` (the workers' host reports refreshed through /stats first). */
  async function clusterHosts(cluster: string): Promise<string[]> {
    await legate.admin('/stats', { signal: AbortSignal.timeout(10_000) });
    const body = (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body;
    const hosts = new Set<string>();
    for (const line of body.split('\n')) {
      const m = new RegExp(`^${cluster}::(.+)::cx_total::`).exec(line);
      if (m !== null) hosts.add(m[1]!);
    }
    return [...hosts].sort();
  }

  it('with use_http_header, x-envoy-original-dst-host picks the upstream', async () => {
    const r1 = await request('127.0.0.1', ports['by_header']!, { 'x-envoy-original-dst-host': `127.0.0.1:${upstreamPort}` });
    assert.deepEqual([r1.status, r1.body], [200, 'a']);
    const r2 = await request('127.0.0.1', ports['by_header']!, { 'x-envoy-original-dst-host': `127.0.0.2:${upstreamPort}` });
    assert.deepEqual([r2.status, r2.body], [200, 'b']);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.by_header.upstream_rq_2xx'), 2);
    assert.equal(stats.get('cluster.by_header.upstream_cx_total'), 2);
  });

  it('without the header, or with a value that is not ip:port, answers 503 (no original destination)', async () => {
    const none = await request('127.0.0.1', ports['by_header']!);
    assert.equal(none.status, 503);
    assert.equal(none.body, 'no healthy upstream');
    const bad = await request('127.0.0.1', ports['by_header']!, { 'x-envoy-original-dst-host': `localhost:${upstreamPort}` });
    assert.equal(bad.status, 503);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.by_header.original_dst_host_invalid'), 1);
    assert.equal(stats.get('cluster.by_header.upstream_cx_none_healthy'), 2);
  });

  it('with metadata_key, the request\'s dynamic metadata names the host before the header does', async () => {
    const r1 = await request('127.0.0.1', ports['by_metadata']!, { 'x-dst': `127.0.0.2:${upstreamPort}`, 'x-envoy-original-dst-host': `127.0.0.1:${upstreamPort}` });
    assert.deepEqual([r1.status, r1.body], [200, 'b']);
    // No metadata: the header decides; a bad metadata value is counted and the header decides too.
    const r2 = await request('127.0.0.1', ports['by_metadata']!, { 'x-envoy-original-dst-host': `127.0.0.1:${upstreamPort}` });
    assert.deepEqual([r2.status, r2.body], [200, 'a']);
    const r3 = await request('127.0.0.1', ports['by_metadata']!, { 'x-dst': 'nowhere', 'x-envoy-original-dst-host': `127.0.0.2:${upstreamPort}` });
    assert.deepEqual([r3.status, r3.body], [200, 'b']);
    assert.equal((await legate.statsMap()).get('cluster.by_metadata.original_dst_host_invalid'), 1);
  });

  it('a listener with original_dst sends each connection to its local address (upstream_port_override)', async () => {
    const r1 = await request('127.0.0.1', ports['restored']!);
    assert.deepEqual([r1.status, r1.body], [200, 'a']);
    const r2 = await request('127.0.0.2', ports['restored']!);
    assert.deepEqual([r2.status, r2.body], [200, 'b']);
    // The header is not looked at without use_http_header.
    const r3 = await request('127.0.0.2', ports['restored']!, { 'x-envoy-original-dst-host': `127.0.0.1:${upstreamPort}` });
    assert.deepEqual([r3.status, r3.body], [200, 'b']);
  });

  it('tcp_proxy to an ORIGINAL_DST cluster connects to the connection\'s local address', async () => {
    assert.match(await rawRequest('127.0.0.2', ports['tcp']!), /\r\n\r\nb$/);
    assert.match(await rawRequest('127.0.0.1', ports['tcp']!), /\r\n\r\na$/);
  });

  it('without the listener filter there is no original destination: 503', async () => {
    const r = await request('127.0.0.1', ports['not_restored']!);
    assert.equal(r.status, 503);
  });

  it('lists the hosts made on demand in /clusters and drops them once unused for cleanup_interval', async () => {
    await request('127.0.0.2', ports['restored']!);
    assert.ok((await clusterHosts('by_dst')).includes(`127.0.0.2:${upstreamPort}`));
    await waitUntil(async () => (await clusterHosts('by_dst')).length === 0, () => 'by_dst hosts to be cleaned up', 10_000, 100);
    // Their pools drained: the idle upstream connections closed.
    await waitUntil(async () => (await legate.statsMap()).get('cluster.by_dst.upstream_cx_active') === 0, () => 'upstream connections to close', 10_000, 50);
    // A new request makes its host again.
    const r = await request('127.0.0.1', ports['restored']!);
    assert.deepEqual([r.status, r.body], [200, 'a']);
    assert.deepEqual(await clusterHosts('by_dst'), [`127.0.0.1:${upstreamPort}`]);
  });
});

describe('ORIGINAL_DST config', () => {
  const P = 'static_resources.clusters[0]';
  it('compiles original_dst_lb_config and cleanup_interval with Envoy\'s defaults', () => {
    const r = compileCluster({ name: 'o', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', original_dst_lb_config: { use_http_header: true } }, P);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.cluster!.originalDst, { httpHeaderName: 'x-envoy-original-dst-host', upstreamPortOverride: 0, cleanupIntervalMs: 5000, metadataKey: null });
    const named = compileCluster({ name: 'o', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', cleanup_interval: 1500, original_dst_lb_config: { use_http_header: true, http_header_name: 'X-Dst', upstream_port_override: 8080 } }, P);
    assert.deepEqual(named.cluster!.originalDst, { httpHeaderName: 'x-dst', upstreamPortOverride: 8080, cleanupIntervalMs: 1500, metadataKey: null });
  });

  it('refuses what Envoy refuses and what Legate does not do yet, with positions', () => {
    const paths = (c: Record<string, unknown>): string[] => compileCluster({ name: 'o', type: 'ORIGINAL_DST', ...c }, P).problems.map((p) => `${p.code} ${p.path}`);
    assert.deepEqual(paths({}), [`bad_value ${P}.lb_policy`]);
    assert.deepEqual(paths({ lb_policy: 'CLUSTER_PROVIDED', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] } }), [`bad_value ${P}.load_assignment`]);
    assert.deepEqual(paths({ lb_policy: 'CLUSTER_PROVIDED', outlier_detection: { consecutive_5xx: 3 } }), [`not_supported ${P}.outlier_detection`]);
  });
});

describe('the destination header value, as Envoy parses it (an IP literal and a port)', () => {
  it('takes IPv4 and bracketed IPv6, and gives an IPv4-mapped address as IPv4', () => {
    assert.deepEqual(parseIpPort('10.0.0.1:8080'), { ip: '10.0.0.1', port: 8080 });
    assert.deepEqual(parseIpPort('[2001:db8::1]:443'), { ip: '2001:db8::1', port: 443 });
    assert.deepEqual(parseIpPort('[::ffff:127.0.0.2]:80'), { ip: '127.0.0.2', port: 80 });
  });
  it('refuses names, missing or bad ports and unbracketed IPv6', () => {
    for (const v of ['localhost:80', '10.0.0.1', '10.0.0.1:', '10.0.0.1:65536', '10.0.0.1:8o', '2001:db8::1:80', '[2001:db8::1]', '[nope]:80', '']) {
      assert.equal(parseIpPort(v), null, v);
    }
  });
});
