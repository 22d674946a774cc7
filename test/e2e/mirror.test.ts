// End to end: request_mirror_policies through bin/legate with real upstreams. The mirror gets a copy of the request
// (host "<authority>-shadow" unless disabled, the body as it streamed); a mirror that is dead, holds its answer, or
// stops reading never slows or fails the main request (the one that stops reading is abandoned past the buffer
// limit); runtime_fraction 0 mirrors nothing; a virtual host's policies apply to routes without their own.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { shadowHost } from '../../src/router/mirror-policy.ts';

const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__route-mirror-envoy.yaml');

describe('request mirroring: the shadow host', () => {
  it('appends -shadow to the host name, before a port (Envoy\'s shadowAppendedHost)', () => {
    assert.equal(shadowHost('svc.example'), 'svc.example-shadow');
    assert.equal(shadowHost('svc.example:8080'), 'svc.example-shadow:8080');
    assert.equal(shadowHost('[::1]:80'), '[::1]-shadow:80');
    assert.equal(shadowHost('[::1]'), '[::1]-shadow');
  });
});

describe('request mirroring through bin/legate', () => {
  let legate: LegateProcess;
  let main: TestUpstream;
  let mirror: TestUpstream;
  let slow: RecordingUpstream;
  let stuck: net.Server;
  const stuckSockets: net.Socket[] = [];
  let port = 0;
  /** A listener whose connection manager runs an HTTP filter before the router (the body reaches it through the chain). */
  let chainPort = 0;
  let dir = '';

  before(async () => {
    main = await startUpstream('main');
    mirror = await startUpstream('mirror');
    slow = await new RecordingUpstream().listen();
    // A mirror that accepts and never reads: what Legate writes to it piles up.
    stuck = net.createServer((s) => {
      s.pause();
      stuckSockets.push(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', r));
    const deadPort = await freePort();
    port = await freePort();
    chainPort = await freePort();
    dir = tempDir();
    const mirrorTo = (c: string, extra = ''): string => `request_mirror_policies: [{ cluster: ${c}${extra} }]`;
    const routes = [
      { match: '{ prefix: "/m" }', action: `route: { cluster: main, ${mirrorTo('mirror')} }` },
      { match: '{ prefix: "/keep" }', action: `route: { cluster: main, ${mirrorTo('mirror', ', disable_shadow_host_suffix_append: true')} }` },
      { match: '{ prefix: "/never" }', action: `route: { cluster: main, ${mirrorTo('mirror', ', runtime_fraction: { default_value: { numerator: 0 } }')} }` },
      { match: '{ prefix: "/dead" }', action: `route: { cluster: main, ${mirrorTo('dead')} }` },
      { match: '{ prefix: "/hold" }', action: `route: { cluster: main, ${mirrorTo('slow')} }` },
      { match: '{ prefix: "/stuck" }', action: `route: { cluster: main, timeout: 120s, ${mirrorTo('stuck')} }` },
      { match: '{ prefix: "/plain" }', action: 'route: { cluster: main }' },
    ];
    const listener = hcmListener({
      name: 'mir', port, routes,
      vhostExtra: '              request_mirror_policies: [{ cluster: mirror }]\n',
    });
    const chained = hcmListener({
      name: 'chain', port: chainPort, routes: [{ match: '{ prefix: "/" }', action: `route: { cluster: main, ${mirrorTo('mirror')} }` }],
      httpFilters: `          - name: envoy.filters.http.cors
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }
`,
    });
    const ep = (p: number): { address: string; port: number }[] => [{ address: '127.0.0.1', port: p }];
    legate = await startLegate({
      config: bootstrap([listener, chained], [
        cluster({ name: 'main', endpoints: ep(main.port) }),
        cluster({ name: 'mirror', endpoints: ep(mirror.port) }),
        cluster({ name: 'dead', endpoints: ep(deadPort) }),
        cluster({ name: 'slow', endpoints: ep(slow.port) }),
        cluster({ name: 'stuck', endpoints: ep((stuck.address() as net.AddressInfo).port) }),
      ]),
      concurrency: 1,
    });
  });

  after(async () => {
    await legate?.stop();
    slow?.release();
    for (const s of stuckSockets) s.destroy();
    await new Promise<void>((r) => stuck?.close(() => r()));
    await main?.close();
    await mirror?.close();
    await new Promise<void>((r) => slow?.server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the mirror gets the request with host <authority>-shadow and the whole body; the response is the main upstream\'s', async () => {
    const r = await curl(['-H', 'Host: svc.example:8080', '-H', 'x-mark: one', '--data-binary', 'hello-body', `http://127.0.0.1:${port}/m/1`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello from main');
    await waitUntil(() => mirror.seen.some((s) => s.url === '/m/1'), () => 'the mirrored request');
    const copy = mirror.seen.find((s) => s.url === '/m/1')!;
    assert.equal(copy.method, 'POST');
    assert.equal(copy.headers['host'], 'svc.example-shadow:8080');
    assert.equal(copy.headers['x-mark'], 'one');
    assert.equal(copy.body.toString(), 'hello-body');
    assert.equal(main.seen.find((s) => s.url === '/m/1')!.headers['host'], 'svc.example:8080');
    await waitUntil(async () => (await legate.statsMap()).get('cluster.mirror.upstream_rq_2xx') === 1, () => 'cluster.mirror.upstream_rq_2xx = 1');
  });

  it('an HTTP/2 request is mirrored with its :authority as the shadow host', async () => {
    const r = await curl(['--http2-prior-knowledge', '-H', 'Host: h2.example', '--data-binary', 'over-h2', `http://127.0.0.1:${port}/m/h2`]);
    assert.equal(r.status, 200);
    await waitUntil(() => mirror.seen.some((s) => s.url === '/m/h2'), () => 'the HTTP/2 copy');
    const copy = mirror.seen.find((s) => s.url === '/m/h2')!;
    assert.equal(copy.headers['host'], 'h2.example-shadow');
    assert.equal(copy.body.toString(), 'over-h2');
  });

  it('a streamed (chunked) body of 3 MiB reaches the mirror whole', async () => {
    const file = path.join(dir, 'big.bin');
    const data = crypto.randomBytes(3 * 1024 * 1024);
    fs.writeFileSync(file, data);
    const r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `http://127.0.0.1:${port}/m/big`]);
    assert.equal(r.status, 200);
    await waitUntil(() => mirror.seen.some((s) => s.url === '/m/big'), () => 'the mirrored big request');
    const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
    assert.equal(sha(mirror.seen.find((s) => s.url === '/m/big')!.body), sha(data));
    assert.equal(sha(main.seen.find((s) => s.url === '/m/big')!.body), sha(data));
  });

  it('behind another HTTP filter (the router in a filter chain) the copy gets the streamed body too', async () => {
    const file = path.join(dir, 'chain.bin');
    const data = crypto.randomBytes(512 * 1024);
    fs.writeFileSync(file, data);
    const r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `http://127.0.0.1:${chainPort}/chain/1`]);
    assert.equal(r.status, 200);
    await waitUntil(() => mirror.seen.some((s) => s.url === '/chain/1'), () => 'the copy through the chain');
    assert.ok(mirror.seen.find((s) => s.url === '/chain/1')!.body.equals(data));
  });

  it('disable_shadow_host_suffix_append keeps the host; a virtual host\'s policy applies to a route without one', async () => {
    await curl(['-H', 'Host: keep.example', `http://127.0.0.1:${port}/keep/1`]);
    await curl(['-H', 'Host: plain.example', `http://127.0.0.1:${port}/plain/1`]);
    await waitUntil(() => mirror.seen.some((s) => s.url === '/keep/1') && mirror.seen.some((s) => s.url === '/plain/1'), () => 'both copies');
    assert.equal(mirror.seen.find((s) => s.url === '/keep/1')!.headers['host'], 'keep.example');
    assert.equal(mirror.seen.find((s) => s.url === '/plain/1')!.headers['host'], 'plain.example-shadow');
  });

  it('runtime_fraction 0 mirrors nothing', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await curl([`http://127.0.0.1:${port}/never/${i}`])).status, 200);
    // A request mirrored afterwards on the same connection pool arrives; none of the /never ones did.
    await curl([`http://127.0.0.1:${port}/m/after-never`]);
    await waitUntil(() => mirror.seen.some((s) => s.url === '/m/after-never'), () => 'the later copy');
    assert.equal(mirror.seen.filter((s) => s.url.startsWith('/never')).length, 0);
    assert.equal(main.seen.filter((s) => s.url.startsWith('/never')).length, 20);
  });

  it('a dead mirror fails only its copy, counted in its cluster\'s stats', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await curl(['--data-binary', 'x', `http://127.0.0.1:${port}/dead/${i}`]);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello from main');
    }
    await waitUntil(async () => ((await legate.statsMap()).get('cluster.dead.upstream_cx_connect_fail') ?? 0) >= 1, () => 'cluster.dead.upstream_cx_connect_fail');
  });

  it('a mirror that holds its answer does not hold the main response', async () => {
    const r = await curl(['--data-binary', 'held', `http://127.0.0.1:${port}/hold/1`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello from main');
    await waitUntil(() => slow.heldCount === 1, () => 'the copy held by the slow mirror');
    assert.equal(slow.request('/hold/1')!.headers['host'], `127.0.0.1-shadow:${port}`);
    slow.release();
  });

  it('a mirror that stops reading is abandoned past the buffer limit; the main request goes through whole', async () => {
    const file = path.join(dir, 'huge.bin');
    const data = crypto.randomBytes(32 * 1024 * 1024);
    fs.writeFileSync(file, data);
    const r = await curl(['--data-binary', `@${file}`, `http://127.0.0.1:${port}/stuck/1`]);
    assert.equal(r.status, 200);
    assert.equal(main.seen.find((s) => s.url === '/stuck/1')!.body.length, data.length);
    // The copy is over (the route timeout, 120 s, would be the only other end of it) and its connection closed.
    await waitUntil(async () => {
      const stats = await legate.statsMap();
      return stats.get('cluster.stuck.upstream_rq_total') === 1 && stats.get('cluster.stuck.upstream_rq_active') === 0 && stats.get('cluster.stuck.upstream_cx_active') === 0;
    }, () => 'the stuck mirror copy abandoned', 15_000);
  });
});

describe('request mirroring: the corpus example (route-mirror/envoy.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  const ups: Record<string, TestUpstream> = {};
  let port = 0;

  before(async () => {
    port = await freePort();
    let yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000', `port_value: ${port}`);
    for (const name of ['service1', 'service1-mirror', 'service2', 'service2-mirror']) {
      ups[name] = await startUpstream(name);
      yaml = yaml.replace(new RegExp(`address: ${name}\\n(\\s+)port_value: 8080`), `address: 127.0.0.1\n$1port_value: ${ups[name]!.port}`);
    }
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    for (const u of Object.values(ups)) await u.close();
  });

  it('mirrors /service/1 to service1-mirror, and /service/2 to the cluster x-mirror-cluster names', async () => {
    const one = await curl([`http://127.0.0.1:${port}/service/1`]);
    assert.equal(one.body, 'hello from service1');
    const two = await curl(['-H', 'x-mirror-cluster: service2-mirror', `http://127.0.0.1:${port}/service/2`]);
    assert.equal(two.body, 'hello from service2');
    await curl([`http://127.0.0.1:${port}/service/2?no-header`]);
    await waitUntil(() => ups['service1-mirror']!.seen.length === 1 && ups['service2-mirror']!.seen.length === 1, () => 'one copy at each mirror');
    assert.equal(ups['service1-mirror']!.seen[0]!.headers['host'], `127.0.0.1-shadow:${port}`);
    assert.equal(ups['service2-mirror']!.seen[0]!.url, '/service/2');
    assert.equal(ups['service2']!.seen.length, 2);
  });
});
