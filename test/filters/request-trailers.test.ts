// End to end: request trailers go upstream after the body, as Envoy forwards them: an HTTP/1.1 chunked request's
// trailers to an HTTP/1.1 upstream (on its re-chunked body) and to an HTTP/2 upstream (a trailing HEADERS frame), and
// an HTTP/2 request's trailers to an HTTP/2 upstream; with the router alone and behind an HTTP filter (the router
// filter's decodeTrailers). A request without trailers still ends cleanly on an HTTP/2 upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';

const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** An HTTP/1.1 upstream that keeps the raw bytes of each connection and answers 200 once a chunked body ended. */
class RawH1Upstream {
  readonly server: net.Server;
  readonly received: string[] = [];
  port = 0;

  constructor() {
    this.server = net.createServer((sock) => {
      const i = this.received.push('') - 1;
      sock.setEncoding('latin1');
      sock.on('error', () => {});
      sock.on('data', (d: string) => {
        this.received[i] += d;
        if (/\r\n0\r\n(?:[^\r\n]+\r\n)*\r\n$/.test(this.received[i]!)) {
          sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

interface H2Seen {
  path: string;
  body: string;
  trailers: Record<string, unknown> | null;
}

/** An HTTP/2 (h2c) upstream that records each request's body and trailers. */
class H2Upstream {
  readonly server: http2.Http2Server;
  readonly seen: H2Seen[] = [];
  port = 0;

  constructor() {
    this.server = http2.createServer();
    this.server.on('stream', (s, headers) => {
      const rec: H2Seen = { path: String(headers[':path']), body: '', trailers: null };
      s.on('data', (d: Buffer) => (rec.body += d.toString('latin1')));
      s.on('trailers', (t) => (rec.trailers = { ...t }));
      s.on('error', () => {});
      s.on('end', () => {
        this.seen.push(rec);
        s.respond({ ':status': 200 });
        s.end('ok');
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Sends raw bytes and waits for one whole response (a fixed-length or chunked body), with a timeout. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no response, got ${JSON.stringify(data)}`));
    }, 10_000);
    sock.setEncoding('latin1');
    sock.on('error', () => {});
    sock.on('data', (d: string) => {
      data += d;
      const m = /content-length: (\d+)\r\n/i.exec(data);
      const end = data.indexOf('\r\n\r\n');
      const whole = m !== null ? end >= 0 && data.length >= end + 4 + Number(m[1]) : end >= 0 && data.endsWith('\r\n0\r\n\r\n');
      if (whole) {
        clearTimeout(timer);
        sock.destroy();
        resolve(data);
      }
    });
    sock.write(bytes);
  });
}

/** An HTTP/2 request with a body and (when given) trailers; resolves with the status. */
function h2Request(port: number, path: string, body: string, trailers: Record<string, string> | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error('HTTP/2 request timed out'));
    }, 10_000);
    client.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const req = client.request({ ':method': 'POST', ':path': path }, { waitForTrailers: trailers !== null });
    if (trailers !== null) req.on('wantTrailers', () => req.sendTrailers(trailers));
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', () => {});
    req.on('end', () => {
      clearTimeout(timer);
      client.close();
      resolve(status);
    });
    req.end(body);
  });
}

function chunkedWithTrailers(path: string, trailerLines: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n${trailerLines}\r\n`;
}

describe('request trailers are forwarded upstream', () => {
  let legate: LegateProcess;
  let h1: RawH1Upstream;
  let h2: H2Upstream;
  let plain: number;
  let filtered: number;

  before(async () => {
    h1 = await new RawH1Upstream().listen();
    h2 = await new H2Upstream().listen();
    plain = await freePort();
    filtered = await freePort();
    const routes = [
      { match: '{ prefix: "/h2" }', action: 'route: { cluster: h2 }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: h1 }' },
    ];
    const withFilter = hcmListener({ name: 'filtered', port: filtered, routes, httpFilters: `          - name: lrl
            typed_config: { "@type": ${LRL}, stat_prefix: lrl }
` });
    const clusters = [
      cluster({ name: 'h1', endpoints: [{ address: '127.0.0.1', port: h1.port }] }),
      cluster({ name: 'h2', endpoints: [{ address: '127.0.0.1', port: h2.port }], extra: '    http2_protocol_options: {}\n' }),
    ];
    legate = await startLegate({ config: bootstrap([hcmListener({ name: 'plain', port: plain, routes }), withFilter], clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await h1?.close();
    await h2?.close();
  });

  it('HTTP/1.1 chunked trailers reach an HTTP/1.1 upstream on the last chunk (router alone, and behind a filter)', async () => {
    for (const [port, tag] of [[plain, 'plain'], [filtered, 'filtered']] as const) {
      const r = await rawRequest(port, chunkedWithTrailers(`/one/${tag}`, `x-checksum: ${tag}-abc\r\n`));
      assert.match(r, /^HTTP\/1\.1 200 /);
      const got = h1.received.find((x) => x.includes(`/one/${tag}`));
      assert.ok(got !== undefined);
      assert.match(got, /\r\n5\r\nhello\r\n0\r\nx-checksum: [^\r\n]*\r\n\r\n$/);
      assert.match(got, new RegExp(`x-checksum: ${tag}-abc\\r\\n`));
    }
  });

  it('HTTP/1.1 chunked trailers reach an HTTP/2 upstream as trailing HEADERS', async () => {
    for (const [port, tag] of [[plain, 'plain'], [filtered, 'filtered']] as const) {
      const r = await rawRequest(port, chunkedWithTrailers(`/h2/one/${tag}`, `x-checksum: ${tag}-h2\r\n`));
      assert.match(r, /^HTTP\/1\.1 200 /);
      await waitUntil(() => h2.seen.some((s) => s.path === `/h2/one/${tag}`), () => `the request at the HTTP/2 upstream`);
      const seen = h2.seen.find((s) => s.path === `/h2/one/${tag}`)!;
      assert.equal(seen.body, 'hello');
      assert.equal(seen.trailers?.['x-checksum'], `${tag}-h2`);
    }
  });

  it('HTTP/2 request trailers reach an HTTP/2 upstream; without trailers the stream still ends', async () => {
    assert.equal(await h2Request(plain, '/h2/two', 'body', { 'grpc-status-details': 'x', 'x-sum': '42' }), 200);
    assert.equal(await h2Request(filtered, '/h2/three', 'body', null), 200);
    await waitUntil(() => h2.seen.some((s) => s.path === '/h2/three'), () => 'the request without trailers');
    const two = h2.seen.find((s) => s.path === '/h2/two')!;
    assert.equal(two.body, 'body');
    assert.equal(two.trailers?.['x-sum'], '42');
    const three = h2.seen.find((s) => s.path === '/h2/three')!;
    assert.equal(three.body, 'body');
    assert.equal(three.trailers, null);
  });
});
