// End to end: HTTP/1.1 proxying through a real Legate process to real upstreams, driven by curl and raw sockets.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startLegate, tempDir, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, rawExchange, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('HTTP/1.1 proxying', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  let base: string;

  before(async () => {
    up = await startUpstream('backend');
    const config = bootstrap(
      [
        hcmListener({
          name: 'ingress',
          statPrefix: 'ingress_http',
          hcmExtra: '          use_remote_address: true\n          via: legate-test\n',
          routes: [
            { match: '{ prefix: "/slow" }', action: 'route: { cluster: backend, timeout: 0.3s, prefix_rewrite: "/delay/3000" }' },
            { match: '{ prefix: "/api/" }', action: 'route: { cluster: backend, prefix_rewrite: "/echo/" }' },
            { match: '{ prefix: "/refused" }', action: 'route: { cluster: refused }' },
            { match: '{ prefix: "/local" }', action: 'direct_response: { status: 418, body: { inline_string: "short and stout" } }' },
            { match: '{ prefix: "/old" }', action: 'redirect: { path_redirect: "/new", response_code: FOUND }' },
            { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
          ],
        }),
      ],
      [
        cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
        cluster({ name: 'refused', endpoints: [{ address: '127.0.0.1', port: await unusedPort() }] }),
      ],
    );
    legate = await startLegate({ config, concurrency: 2 });
    port = await legate.listenerPort('ingress');
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('proxies a GET and sets the headers Envoy sets', async () => {
    const r = await curl([`${base}/echo/hello?x=1`, '-H', 'Connection: keep-alive, x-hop', '-H', 'x-hop: secret', '-H', 'Keep-Alive: timeout=5']);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/echo/hello?x=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.match(seen.headers['x-request-id']!, /^[0-9a-f-]{36}$/);
    assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], '15000');
    assert.equal(seen.headers['via'], 'legate-test');
    assert.equal(seen.headers['keep-alive'], undefined, 'hop-by-hop keep-alive removed');
    assert.equal(r.headers.get('server')?.[0], 'envoy');
    assert.ok(r.headers.has('x-envoy-upstream-service-time'));
    assert.equal(r.headers.get('x-upstream')?.[0], 'backend');
  });

  it('rewrites the path prefix and keeps the query', async () => {
    const r = await curl([`${base}/api/items?id=7`]);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/echo/items?id=7');
    assert.equal(seen.headers['x-envoy-original-path'], '/api/items?id=7');
  });

  it('streams large bodies both ways, with content-length and chunked', async () => {
    const big = 'b'.repeat(3 * 1024 * 1024);
    const file = path.join(tempDir(), 'upload.bin');
    fs.writeFileSync(file, big);
    const r1 = await curl([`${base}/echo/upload`, '--data-binary', `@${file}`, '-H', 'content-type: application/octet-stream']);
    assert.equal(r1.status, 200);
    assert.equal((JSON.parse(r1.body) as { bodyLength: number }).bodyLength, big.length);
    const r2 = await curl([`${base}/echo/upload-chunked`, '--data-binary', `@${file}`, '-H', 'transfer-encoding: chunked']);
    assert.equal(r2.status, 200);
    assert.equal((JSON.parse(r2.body) as { bodyLength: number }).bodyLength, big.length);
    const r3 = await curl([`${base}/bytes/5000000`]);
    assert.equal(r3.status, 200);
    assert.equal(r3.body.length, 5_000_000);
    const r4 = await curl([`${base}/chunked/1000000`]);
    assert.equal(r4.status, 200);
    assert.equal(r4.headers.get('transfer-encoding')?.[0], 'chunked');
    assert.equal(r4.body.length, 1_000_000);
  });

  it('keeps the downstream connection alive and answers pipelined requests in order', async () => {
    const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const last = `GET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const { data } = await rawExchange(port, req('/delay/100') + req('/bytes/10') + req('/local') + last);
    const statuses = [...data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 200, 418, 201]);
  });

  it('answers a client that half-closes right after its request (FIN), then closes', async () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    await new Promise<void>((r) => socket.on('connect', () => r()));
    // The upstream answers later (/delay): the response must still reach the half-closed client.
    socket.end('GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => socket.on('close', () => r()));
    assert.match(data, /^HTTP\/1\.1 200 /);
    assert.match(data, /\r\nconnection: close\r\n/i);
  });

  it('answers HEAD without a body', async () => {
    const r = await curl(['-I', `${base}/bytes/1234`]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length')?.[0], '1234');
    assert.equal(r.body, '');
  });

  it('gives Envoy local replies: 503 UF, 504 UT, direct_response, redirect', async () => {
    const uf = await curl([`${base}/refused`]);
    assert.equal(uf.status, 503);
    assert.match(uf.body, /upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
    const ut = await curl([`${base}/slow`]);
    assert.equal(ut.status, 504);
    assert.equal(ut.body, 'upstream request timeout');
    const local = await curl([`${base}/local`]);
    assert.equal(local.status, 418);
    assert.equal(local.body, 'short and stout');
    const redirect = await curl([`${base}/old?q=1`, '-H', 'Host: site.example']);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location')?.[0], 'http://site.example/new?q=1');
  });

  it('resets the client when the upstream resets mid-response (never a clean truncated end)', async () => {
    const r = await curl([`${base}/reset-mid-body`]);
    assert.notEqual(r.exitCode, 0, 'curl must see an error, not a clean end');
  });

  it('ends a close-delimited upstream body cleanly with chunked framing downstream', async () => {
    const r = await curl([`${base}/close-delimited`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'until-close body');
    assert.equal(r.exitCode, 0);
  });

  it('rejects malformed requests with 400 and never forwards them', async () => {
    const before = up.seen.length;
    const cases = [
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
      'GET / HTTP/1.1\nHost: x\n\n',
      'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n',
    ];
    for (const c of cases) {
      const { data } = await rawExchange(port, c);
      assert.match(data, /^HTTP\/1\.1 400 /, `expected 400 for ${JSON.stringify(c)}, got ${JSON.stringify(data.slice(0, 40))}`);
    }
    assert.equal(up.seen.length, before, 'no malformed request reached the upstream');
  });

  it('answers 431 to a head over max_request_headers_kb', async () => {
    const { data } = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    assert.match(data, /^HTTP\/1\.1 431 /);
  });

  it('keeps serving after a client disconnects mid-request', async () => {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    sock.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    const r = await curl([`${base}/echo/after`]);
    assert.equal(r.status, 200);
  });
});
