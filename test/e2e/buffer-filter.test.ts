// End to end: envoy.filters.http.buffer through bin/legate with real upstreams: the request is held until complete
// (the upstream sees nothing before), a chunked request goes upstream with the content-length of what was buffered,
// a body over max_request_bytes is a 413 that never reaches the upstream (even under the connection's own buffer
// limit), and BufferPerRoute disables the filter or gives a route its own limit.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

const BUFFER = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer';
const BUFFER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute';

function echoed(body: string): { headers: Record<string, string>; bodyLength: number } {
  return JSON.parse(body) as { headers: Record<string, string>; bodyLength: number };
}

describe('buffer filter', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let rec: RecordingUpstream;
  let port: number;
  let base: string;

  before(async () => {
    up = await startUpstream('buf');
    rec = await new RecordingUpstream().listen();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const routes = [
      { match: '{ prefix: "/echo-off" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  buf: { "@type": ${BUFFER_ROUTE}, disabled: true }` },
      { match: '{ prefix: "/echo-big" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  buf: { "@type": ${BUFFER_ROUTE}, buffer: { max_request_bytes: 8192 } }` },
      { match: '{ prefix: "/rec" }', action: 'route: { cluster: recording }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listener = hcmListener({ name: 'buf', port, routes, httpFilters: filter('buf', BUFFER, `              max_request_bytes: 1024
`) });
    const clusters = [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
      cluster({ name: 'recording', endpoints: [{ address: '127.0.0.1', port: rec.port }] }),
    ];
    legate = await startLegate({ config: bootstrap([listener], clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await rec?.close();
  });

  it('sends a chunked request upstream whole, with the content-length of what it buffered', async () => {
    const body = 'x'.repeat(700);
    const r = await curl([`${base}/echo`, '-H', 'transfer-encoding: chunked', '--data-binary', body]);
    assert.equal(r.status, 200, r.body);
    const e = echoed(r.body);
    assert.equal(e.headers['content-length'], '700');
    assert.equal(e.headers['transfer-encoding'], undefined);
    assert.equal(e.bodyLength, 700);
  });

  it('answers 413 past max_request_bytes (under the connection limit) and the upstream never sees it', async () => {
    const before = up.seen.length;
    const r = await curl([`${base}/echo`, '-H', 'transfer-encoding: chunked', '--data-binary', 'y'.repeat(2000)]);
    assert.equal(r.status, 413);
    assert.equal(r.body, 'Payload Too Large');
    assert.equal(up.seen.length, before);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.buf.downstream_rq_too_large'), 1);
  });

  it('BufferPerRoute: disabled lets the body stream as it came; buffer gives the route its own limit', async () => {
    const off = await curl([`${base}/echo-off`, '-H', 'transfer-encoding: chunked', '--data-binary', 'z'.repeat(2000)]);
    assert.equal(off.status, 200, off.body);
    assert.equal(echoed(off.body).headers['transfer-encoding'], 'chunked');
    const big = await curl([`${base}/echo-big`, '-H', 'transfer-encoding: chunked', '--data-binary', 'w'.repeat(5000)]);
    assert.equal(big.status, 200, big.body);
    assert.equal(echoed(big.body).headers['content-length'], '5000');
  });

  it('answers Expect: 100-continue itself, since the body must come before the request goes on', async () => {
    const sock = net.connect(port, '127.0.0.1');
    let response = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (response += d));
    sock.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      sock.write('POST /rec/expect HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n');
      await waitUntil(() => response.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), () => `a 100 Continue, got ${JSON.stringify(response)}`, 10_000);
      sock.write('hello');
      await waitUntil(() => /HTTP\/1\.1 200 [\s\S]*\r\n0\r\n\r\n$/.test(response), () => `a response, got ${JSON.stringify(response)}`, 10_000);
      assert.equal(response.match(/HTTP\/1\.1 100 /g)!.length, 1);
      const seen = rec.request('/rec/expect')!;
      assert.equal(seen.headers['expect'], undefined);
      assert.equal(seen.body?.toString(), 'hello');
    } finally {
      sock.destroy();
    }
  });

  it('holds the request until its body ended: the upstream gets nothing before', async () => {
    const sock = net.connect(port, '127.0.0.1');
    let response = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (response += d));
    sock.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      sock.write('POST /rec/held HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      // The same request without the filter reaches the upstream at once; give it the time it would take.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(rec.count('/rec/held'), 0);
      sock.write('6\r\n world\r\n0\r\n\r\n');
      await waitUntil(() => /^HTTP\/1\.1 200 [\s\S]*\r\n0\r\n\r\n$/.test(response), () => `a response, got ${JSON.stringify(response)}`, 10_000);
      const seen = rec.request('/rec/held')!;
      assert.equal(seen.headers['content-length'], '11');
      assert.equal(seen.body?.toString(), 'hello world');
    } finally {
      sock.destroy();
    }
  });
});
