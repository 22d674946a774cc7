// End to end: envoy.filters.http.grpc_web through bin/legate in front of a real grpc-js server (the Echo service of
// test/support/grpc-peers.ts, HTTP/2 upstream). The clients are hand-built gRPC-Web requests over HTTP/1.1 (node:http
// and curl), binary and -text (base64 both ways), and over HTTP/2 (curl --http2-prior-knowledge).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { PATHS, decodeEnvelope, encodeEnvelope, requestMessage, sha256, startJsEchoServer, type JsEchoServer } from '../support/grpc-peers.ts';

/** A gRPC length-prefixed message (flag 0). */
function frame(message: Buffer, flag = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flag;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

interface WebFrames {
  messages: Buffer[];
  trailers: Map<string, string>;
  trailerFrames: number;
}

/** Splits a gRPC-Web body into its messages and its trailer frame. */
function parseFrames(body: Buffer): WebFrames {
  const messages: Buffer[] = [];
  const trailers = new Map<string, string>();
  let trailerFrames = 0;
  let off = 0;
  while (off < body.length) {
    assert.ok(body.length - off >= 5, `a truncated frame header at ${off}`);
    const flag = body[off]!;
    const len = body.readUInt32BE(off + 1);
    assert.ok(body.length - off - 5 >= len, `a truncated frame at ${off}`);
    const payload = body.subarray(off + 5, off + 5 + len);
    if (flag & 0x80) {
      trailerFrames++;
      for (const line of payload.toString('latin1').split('\r\n')) {
        if (line === '') continue;
        const i = line.indexOf(':');
        trailers.set(line.slice(0, i), line.slice(i + 1));
      }
    } else {
      messages.push(payload);
    }
    off += 5 + len;
  }
  return { messages, trailers, trailerFrames };
}

/** Decodes a -text body: base64 quanta, padding allowed at the end of each encoded piece. */
function decodeText(text: string): Buffer {
  assert.match(text, /^[A-Za-z0-9+/=]*$/);
  assert.equal(text.length % 4, 0);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i += 4) {
    if (text[i + 3] === '=') {
      parts.push(Buffer.from(text.slice(start, i + 4), 'base64'));
      start = i + 4;
    }
  }
  parts.push(Buffer.from(text.slice(start), 'base64'));
  return Buffer.concat(parts);
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function post(port: number, urlPath: string, headers: Record<string, string>, body: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', headers, agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** curl with the body from stdin; resolves with the raw response body (and the head via -D to stdout's start). */
function curlRaw(args: string[], input: string): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = execFile('curl', ['-sS', '--max-time', '20', '-D', '-', '--data-binary', '@-', ...args], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err !== null) return reject(err);
      const out = stdout as Buffer;
      // The last head (after any interim ones) ends with the first blank line after a final status line.
      let start = 0;
      for (;;) {
        const end = out.indexOf('\r\n\r\n', start);
        if (end < 0) return reject(new Error('no response head'));
        const head = out.subarray(start, end).toString('latin1');
        if (!/^HTTP\/[\d.]+ 1\d\d/.test(head)) return resolve({ head, body: out.subarray(end + 4) });
        start = end + 4;
      }
    });
    child.stdin!.end(input);
  });
}

describe('grpc_web: gRPC-Web clients to a grpc-js server', () => {
  let legate: LegateProcess;
  let server: JsEchoServer;
  let plain: http.Server;
  let port: number;

  before(async () => {
    server = await startJsEchoServer();
    plain = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/down') {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('backend down: 100%');
        } else {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`plain ${req.headers['content-type'] ?? ''}`);
        }
      });
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    port = await freePort();
    const h2 = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
`;
    const listener = hcmListener({
      name: 'web',
      port,
      routes: [
        { match: '{ prefix: "/legate.test.Echo/" }', action: 'route: { cluster: echo }' },
        { match: '{ prefix: "/" }', action: 'route: { cluster: plain }' },
      ],
      hcmExtra: '          codec_type: AUTO\n',
      httpFilters: filter('envoy.filters.http.grpc_web', 'type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb'),
    });
    legate = await startLegate({
      config: bootstrap([listener], [
        cluster({ name: 'echo', extra: h2, endpoints: [{ address: '127.0.0.1', port: server.port }] }),
        cluster({ name: 'plain', endpoints: [{ address: '127.0.0.1', port: (plain.address() as net.AddressInfo).port }] }),
      ]),
      concurrency: 1,
    });
  });

  after(async () => {
    await legate?.stop();
    await server?.close();
    plain?.closeAllConnections();
    await new Promise<void>((r) => (plain === undefined ? r() : plain.close(() => r())));
  });

  it('binary (application/grpc-web+proto over HTTP/1.1): the message reaches the server, the reply and its trailers come back framed', async () => {
    const m = requestMessage(0, 3000);
    const r = await post(port, PATHS.Unary, {
      'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', 'x-call-id': 'web-bin', 'x-trailers': JSON.stringify({ 'x-extra': 'yes' }),
    }, frame(m.bytes));
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(r.headers['content-length'], undefined);
    const f = parseFrames(r.body);
    assert.equal(f.messages.length, 1);
    const reply = decodeEnvelope(f.messages[0]!);
    assert.equal(reply.h['gotSha'], m.sha, 'the server got the message intact');
    assert.equal(sha256(reply.p), reply.h['sha']);
    assert.equal(f.trailerFrames, 1);
    assert.equal(f.trailers.get('grpc-status'), '0');
    assert.equal(f.trailers.get('x-extra'), 'yes');
    const call = await server.waitCall('web-bin');
    assert.equal(call.outcome, 'ok');
    assert.equal(call.metadata['x-grpc-web'], '1');
  });

  it('text (application/grpc-web-text, curl): base64 request decoded, base64 response with each frame encoded', async () => {
    const m = requestMessage(0, 700);
    const { head, body } = await curlRaw([
      '-H', 'content-type: application/grpc-web-text', '-H', 'accept: application/grpc-web-text', '-H', 'x-call-id: web-text',
      `http://127.0.0.1:${port}${PATHS.Unary}`,
    ], frame(m.bytes).toString('base64'));
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /\r\ncontent-type: application\/grpc-web-text\+proto\r\n/i);
    const f = parseFrames(decodeText(body.toString('latin1')));
    assert.equal(f.messages.length, 1);
    assert.equal(decodeEnvelope(f.messages[0]!).h['gotSha'], m.sha);
    assert.equal(f.trailers.get('grpc-status'), '0');
    assert.equal((await server.waitCall('web-text')).outcome, 'ok');
  });

  it('text, server streaming in several frames, the request split mid-quantum over HTTP/2 (curl --http2-prior-knowledge)', async () => {
    const req = encodeEnvelope({ seq: 0, len: 0, sha: sha256(Buffer.alloc(0)), sizes: [10, 40000, 3] }, Buffer.alloc(0));
    const { head, body } = await curlRaw([
      '--http2-prior-knowledge', '-H', 'content-type: application/grpc-web-text+proto', '-H', 'accept: application/grpc-web-text+proto',
      `http://127.0.0.1:${port}${PATHS.ServerStream}`,
    ], frame(req).toString('base64'));
    assert.match(head, /^HTTP\/2 200/);
    const f = parseFrames(decodeText(body.toString('latin1')));
    assert.deepEqual(f.messages.map((x) => decodeEnvelope(x).p.length), [10, 40000, 3]);
    for (const x of f.messages) {
      const e = decodeEnvelope(x);
      assert.equal(sha256(e.p), e.h['sha']);
    }
    assert.equal(f.trailers.get('grpc-status'), '0');
  });

  it('a failing call: trailers-only (grpc-status in the head) and after a message (in the trailer frame)', async () => {
    const m = requestMessage(0, 10);
    const only = await post(port, PATHS.Unary, {
      'content-type': 'application/grpc-web', 'x-fail-code': '9', 'x-fail-message': 'not now',
    }, frame(m.bytes));
    assert.equal(only.status, 200);
    assert.equal(only.headers['grpc-status'], '9');
    assert.equal(only.headers['grpc-message'], 'not%20now', 'as the server percent-encoded it');
    assert.equal(only.headers['content-type'], 'application/grpc-web+proto');
    const req = encodeEnvelope({ seq: 0, len: 0, sha: sha256(Buffer.alloc(0)), sizes: [5, 5] }, Buffer.alloc(0));
    const late = await post(port, PATHS.ServerStream, {
      'content-type': 'application/grpc-web', 'x-fail-code': '10', 'x-fail-after': '1',
    }, frame(req));
    const f = parseFrames(late.body);
    assert.equal(f.messages.length, 1);
    assert.equal(f.trailers.get('grpc-status'), '10');
  });

  it('a response that is not gRPC becomes a gRPC-Web error: grpc-status from the HTTP status, grpc-message from its body', async () => {
    const r = await post(port, '/down', { 'content-type': 'application/grpc-web+proto' }, frame(Buffer.from('x')));
    assert.equal(r.status, 503);
    assert.equal(r.headers['grpc-status'], '14');
    assert.equal(r.headers['grpc-message'], 'backend down: 100%25');
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.body.length, 0);
  });

  it('bad base64 is answered 400; other requests pass untouched', async () => {
    const bad = await post(port, PATHS.Unary, { 'content-type': 'application/grpc-web-text' }, 'AAA*AAAA');
    // The 400 reaches a gRPC-Web client as gRPC-Web: INTERNAL (400's gRPC status) with the reason as grpc-message.
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['grpc-status'], '13');
    assert.equal(bad.headers['grpc-message'], 'Bad gRPC-web request, invalid base64 data.');
    const short = await post(port, PATHS.Unary, { 'content-type': 'application/grpc-web-text' }, 'AAAAA');
    assert.equal(short.status, 400);
    const other = await post(port, '/other', { 'content-type': 'application/json' }, '{}');
    assert.equal(other.status, 200);
    assert.equal(other.body.toString(), 'plain application/json');
  });

  it('a request the client sends in pieces (-text, chunked) is decoded across chunk boundaries', async () => {
    const m = requestMessage(0, 5000);
    const text = frame(m.bytes).toString('base64');
    const r = await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: PATHS.Unary, method: 'POST', agent: false, headers: { 'content-type': 'application/grpc-web-text', 'x-call-id': 'web-chunks' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      // Pieces of 1, 2, 3, ... characters: most end inside a base64 quantum.
      let off = 0;
      for (let n = 1; off < text.length; n++) {
        req.write(text.slice(off, off + n));
        off += n;
      }
      req.end();
    });
    assert.equal(r.status, 200);
    const f = parseFrames(r.body);
    assert.equal(decodeEnvelope(f.messages[0]!).h['gotSha'], m.sha);
    assert.equal(f.trailers.get('grpc-status'), '0');
  });
});

describe('grpc_http1_bridge: an HTTP/1.1 client calling a grpc-js server', () => {
  let legate: LegateProcess;
  let server: JsEchoServer;
  let port: number;

  before(async () => {
    server = await startJsEchoServer();
    port = await freePort();
    const h2 = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
`;
    const listener = hcmListener({ name: 'bridge', port, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: echo }' }], hcmExtra: '          codec_type: AUTO\n', httpFilters: filter('envoy.filters.http.grpc_http1_bridge', 'type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config') });
    legate = await startLegate({
      config: bootstrap([listener], [cluster({ name: 'echo', extra: h2, endpoints: [{ address: '127.0.0.1', port: server.port }] })]),
      concurrency: 1,
    });
  });

  after(async () => {
    await legate?.stop();
    await server?.close();
  });

  it('the whole response with content-length, grpc-status and grpc-message in its head; a failed call is a 503', async () => {
    const m = requestMessage(0, 2000);
    const ok = await post(port, PATHS.Unary, { 'content-type': 'application/grpc' }, frame(m.bytes));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['grpc-status'], '0');
    assert.equal(ok.headers['content-length'], String(ok.body.length));
    assert.equal(ok.headers['transfer-encoding'], undefined);
    const f = parseFrames(ok.body);
    assert.equal(f.messages.length, 1);
    assert.equal(decodeEnvelope(f.messages[0]!).h['gotSha'], m.sha);
    const req = encodeEnvelope({ seq: 0, len: 0, sha: sha256(Buffer.alloc(0)), sizes: [7, 7] }, Buffer.alloc(0));
    const failed = await post(port, PATHS.ServerStream, { 'content-type': 'application/grpc', 'x-fail-code': '10', 'x-fail-after': '1', 'x-fail-message': 'stop' }, frame(req));
    assert.equal(failed.status, 503);
    assert.equal(failed.headers['grpc-status'], '10');
    assert.equal(failed.headers['grpc-message'], 'stop');
    assert.equal(parseFrames(failed.body).messages.length, 1);
  });
});
