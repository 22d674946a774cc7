// End to end: connection-manager request options — normalize_path, merge_slashes and
// headers_with_underscores_action — seen by the router and by the upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import http2 from 'node:http2';
import net from 'node:net';

describe('connection manager request options', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let strictPort: number;
  let dropPort: number;
  let escapedPorts: Record<string, number>;

  before(async () => {
    up = await startUpstream('opts');
    const escapedActions = ['REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'];

    const routes = [
      { match: '{ path: "/echo/a/c" }', action: 'route: { cluster: backend }' },
      { match: '{ prefix: "/echo" }', action: 'route: { cluster: backend }' },
    ];
    const listeners = [
      hcmListener({
        name: 'strict',
        routes,
        hcmExtra: '          normalize_path: true\n          merge_slashes: true\n          common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }\n',
      }),
      hcmListener({
        name: 'drop',
        routes,
        hcmExtra: '          common_http_protocol_options: { headers_with_underscores_action: DROP_HEADER }\n',
      }),
      ...escapedActions.map((action) => hcmListener({
        name: `escaped_${action.toLowerCase()}`,
        routes,
        hcmExtra: `          normalize_path: true\n          path_with_escaped_slashes_action: ${action}\n`,
      })),
    ];
    legate = await startLegate({ config: bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
    strictPort = await legate.listenerPort('strict');
    dropPort = await legate.listenerPort('drop');
    escapedPorts = {};
    for (const action of escapedActions) escapedPorts[action] = await legate.listenerPort(`escaped_${action.toLowerCase()}`);
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('normalizes dot segments and merges slashes before routing; the upstream gets the clean path', async () => {
    const r = await curl(['--path-as-is', `http://127.0.0.1:${strictPort}/echo//a/b/../c?x=//y`]);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { url: string }).url, '/echo/a/c?x=//y');
  });

  it('REJECT_REQUEST answers 400 to a header name with an underscore, never forwarding it', async () => {
    const before = up.seen.length;
    const r = await curl([`http://127.0.0.1:${strictPort}/echo`, '-H', 'x_bad: 1']);
    assert.equal(r.status, 400);
    assert.equal(up.seen.length, before);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.strict.requests_rejected_with_underscores_in_headers'), 1);
  });

  it('path_with_escaped_slashes_action: REJECT_REQUEST 400, UNESCAPE_AND_REDIRECT 307 to the plain path, UNESCAPE_AND_FORWARD sends it on', async () => {
    const before = up.seen.length;
    const rejected = await curl([`http://127.0.0.1:${escapedPorts['REJECT_REQUEST']}/echo/a%2Fb?q=%2F`]);
    assert.equal(rejected.status, 400);
    assert.equal(up.seen.length, before, 'a rejected path never reaches the upstream');
    const redirected = await curl([`http://127.0.0.1:${escapedPorts['UNESCAPE_AND_REDIRECT']}/echo/x/..%2Fa%5Cb?q=%2F`]);
    assert.equal(redirected.status, 307);
    // Unescaped, then normalized again (normalize_path turns the backslash into a slash too); the query is kept.
    assert.deepEqual(redirected.headers.get('location'), ['/echo/a/b?q=%2F']);
    assert.equal(up.seen.length, before);
    const forwarded = await curl([`http://127.0.0.1:${escapedPorts['UNESCAPE_AND_FORWARD']}/echo/a%2fb`]);
    assert.equal(forwarded.status, 200);
    assert.equal((JSON.parse(forwarded.body) as { url: string }).url, '/echo/a/b');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.escaped_reject_request.downstream_rq_failed_path_normalization'), 1);
    assert.equal(stats.get('http.escaped_unescape_and_redirect.downstream_rq_redirected_with_normalized_path'), 1);
  });

  it('DROP_HEADER forwards the request without such headers', async () => {
    const r = await curl([`http://127.0.0.1:${dropPort}/echo`, '-H', 'x_bad: 1', '-H', 'x-good: 2']);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x_bad'], undefined);
    assert.equal(seen.headers['x-good'], '2');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.drop.dropped_headers_with_underscores'), 1);
  });
});

describe('connection manager limits: common_http_protocol_options', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream('limits');
    const routes = [
      { match: '{ prefix: "/own" }', action: 'route: { cluster: backend, max_stream_duration: { max_stream_duration: 0s } }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listener = hcmListener({
      name: 'limits',
      routes,
      hcmExtra: '          request_headers_timeout: 0.3s\n          common_http_protocol_options: { max_requests_per_connection: 2, max_connection_duration: 1s, max_stream_duration: 0.3s }\n',
    });
    legate = await startLegate({ config: bootstrap([listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
    port = await legate.listenerPort('limits');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('max_requests_per_connection: the second HTTP/1.1 response says connection: close, the third request needs a new connection', async () => {
    const before = (await legate.statsMap()).get('http.limits.downstream_cx_total') ?? 0;
    const r = await curl([`http://127.0.0.1:${port}/echo/1`, `http://127.0.0.1:${port}/echo/2`, `http://127.0.0.1:${port}/echo/3`]);
    assert.equal(r.exitCode, 0);
    assert.equal((r.body.match(/connection: close/gi) ?? []).length, 1, r.body);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.limits.downstream_cx_total')! - before, 2, 'three requests over two connections');
    assert.ok(stats.get('http.limits.downstream_cx_max_requests_reached')! >= 1);
  });

  it('max_requests_per_connection on HTTP/2: GOAWAY after the second stream, which still completes', async () => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    let goaway = false;
    client.on('goaway', () => (goaway = true));
    client.on('error', () => {});
    const one = (path: string): Promise<number> => new Promise((resolve) => {
      const req = client.request({ ':path': path });
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('error', () => {});
      req.resume();
      req.on('close', () => resolve(status));
    });
    assert.equal(await one('/echo/a'), 200);
    assert.equal(await one('/echo/b'), 200);
    for (let i = 0; i < 100 && !goaway; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(goaway, true, 'GOAWAY after max_requests_per_connection streams');
    client.destroy();
  });

  it('max_connection_duration: an idle keep-alive connection is closed once it has lived that long', async () => {
    const before = (await legate.statsMap()).get('http.limits.downstream_cx_max_duration_reached') ?? 0;
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => socket.on('connect', () => r()));
    socket.write('GET /echo/keep HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.resume();
    await new Promise<void>((r) => socket.on('close', () => r()));
    const after = (await legate.statsMap()).get('http.limits.downstream_cx_max_duration_reached') ?? 0;
    assert.equal(after - before, 1);
  });

  it('request_headers_timeout: a head that never completes gets 408 and the connection closes; nothing reaches the upstream', async () => {
    const seenBefore = up.seen.length;
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => socket.on('connect', () => r()));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (answer += d));
    socket.write('GET /echo/slowloris HTTP/1.1\r\nHost: x\r\nX-Slow: '); // and never the rest
    await new Promise<void>((r) => socket.on('close', () => r()));
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal(up.seen.length, seenBefore);
    assert.ok((await legate.statsMap()).get('http.limits.downstream_rq_header_timeout')! >= 1);
  });

  it('max_stream_duration: a stream is ended (504, DT) unless its route sets its own (0s: none)', async () => {
    const slow = await curl([`http://127.0.0.1:${port}/delay/3000`]);
    assert.equal(slow.status, 504);
    assert.match(slow.body, /downstream duration timeout/);
    const own = await curl([`http://127.0.0.1:${port}/own/delay/600`]);
    assert.equal(own.status, 200);
    const stats = await legate.statsMap();
    assert.ok(stats.get('http.limits.downstream_rq_max_duration_reached')! >= 1);
  });
});
