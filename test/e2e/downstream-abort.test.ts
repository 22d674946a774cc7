// End to end: broken or vanishing clients, early responses, and exception guards (issue 9, findings 5, 6, 15, 17),
// through a real Legate against upstreams on raw `net` sockets that record every byte and how each connection
// ended: a RST shows as an ECONNRESET 'error' there, a FIN as 'end'. An upstream must never see a clean end of a
// request the client aborted or broke; a client must never be left hanging by a response that came early; an
// exception in a handler resets only its connection or stream, is counted, and leaves the worker serving.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

// ---- the recording upstream ----

interface UpstreamConn {
  socket: net.Socket;
  /** Everything received, as latin1. */
  data: string;
  /** The request path of the first head. */
  path: string;
  /** How the connection ended: 'fin' (clean end), 'rst' (ECONNRESET), or null while open. */
  ended: 'fin' | 'rst' | null;
}

/**
 * Answers by the first request's path:
 *   /silent...          -> reads everything, never answers
 *   /early...           -> stops reading after the head, answers 200 "early" a little later (keeps the connection)
 *   /stream...          -> answers a chunked 200 whose end never comes ("first" chunk only)
 *   /big...             -> 200 with an 8 MiB body, and closes
 *   /throw-response-head -> 200 carrying `x-legate-test-throw: response-head`
 *   anything else       -> 200 "ok" once the head is in, and closes (one request per connection)
 */
class RecordingNetUpstream {
  readonly server: net.Server;
  readonly conns: UpstreamConn[] = [];
  port = 0;

  constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The connection whose first request was for `p` (waits for it). */
  async conn(p: string): Promise<UpstreamConn> {
    let found: UpstreamConn | undefined;
    await waitUntil(() => (found = this.conns.find((c) => c.path === p)) !== undefined, () => `an upstream request for ${p}`);
    return found!;
  }

  async ended(c: UpstreamConn): Promise<'fin' | 'rst'> {
    await waitUntil(() => c.ended !== null, () => `the upstream connection for ${c.path} to end (received ${c.data.length} bytes)`);
    return c.ended!;
  }

  private accept(socket: net.Socket): void {
    const c: UpstreamConn = { socket, data: '', path: '', ended: null };
    this.conns.push(c);
    socket.setEncoding('latin1');
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (c.ended === null) c.ended = err.code === 'ECONNRESET' ? 'rst' : 'fin';
    });
    socket.on('end', () => {
      if (c.ended === null) c.ended = 'fin';
    });
    socket.on('close', () => {
      if (c.ended === null) c.ended = 'fin';
    });
    socket.on('data', (d: string) => {
      const first = c.path === '';
      c.data += d;
      if (!first) return;
      const headEnd = c.data.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      c.path = c.data.slice(0, headEnd).split(' ')[1] ?? '/';
      this.answer(c);
    });
  }

  private answer(c: UpstreamConn): void {
    const s = c.socket;
    if (c.path.startsWith('/silent') || c.path.startsWith('/route-timeout')) return;
    if (c.path.startsWith('/early')) {
      // As a server that answers without reading the body (after a while: long enough for the upload to fill
      // every buffer on the way, so the proxy has stopped reading the client): nothing is read until it answered.
      s.pause();
      setTimeout(() => s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nearly', () => s.resume()), 300);
      return;
    }
    if (c.path.startsWith('/stream')) {
      s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n');
      return;
    }
    if (c.path.startsWith('/big')) {
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${8 * 1024 * 1024}\r\nconnection: close\r\n\r\n`);
      s.end(Buffer.alloc(8 * 1024 * 1024, 'B'));
      return;
    }
    if (c.path.startsWith('/throw-response-head')) {
      s.write('HTTP/1.1 200 OK\r\nx-legate-test-throw: response-head\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      return;
    }
    // One request per connection (what it received is that request's alone).
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
  }

  close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

// ---- clients ----

interface RawClient {
  socket: net.Socket;
  received(): string;
  /** Resolves when the connection is closed; `reset` when it ended with ECONNRESET/EPIPE. */
  closed: Promise<{ reset: boolean }>;
}

/** `allowHalfOpen`: the proxy's FIN does not end this side (a client that keeps writing whatever it reads). */
function rawClient(port: number, allowHalfOpen = false): Promise<RawClient> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
    let data = '';
    let reset = false;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', () => {
      reset = true;
    });
    const closed = new Promise<{ reset: boolean }>((r) => socket.on('close', () => r({ reset })));
    socket.on('connect', () => resolve({ socket, received: () => data, closed }));
  });
}

/**
 * Uploads `total` bytes of body after `head` (Infinity: without end), as fast as the connection takes them, and
 * keeps writing whatever it is told, a FIN from the proxy included (a stubborn client, as attack tools are): it
 * stops only when the connection breaks or everything is written, then ends its side and waits for the close. It
 * reads all along.
 */
async function stubbornUpload(port: number, head: string, total: number): Promise<{ data: string; reset: boolean; wrote: number }> {
  const c = await rawClient(port, true);
  const chunk = Buffer.alloc(64 * 1024, 'u');
  let wrote = 0;
  c.socket.write(head);
  const done = c.closed;
  let open = true;
  void done.then(() => (open = false));
  while (open && wrote < total) {
    const n = Math.min(chunk.length, total - wrote);
    wrote += n;
    if (!c.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      await Promise.race([new Promise((r) => c.socket.once('drain', r)), done]);
    }
  }
  if (open) c.socket.end();
  const { reset } = await done;
  return { data: c.received(), reset, wrote };
}

// ---- the proxy ----

const MiB = 1024 * 1024;

describe('downstream abort, early responses and exception guards', { timeout: 120_000 }, () => {
  let legate: LegateProcess;
  let upstream: RecordingNetUpstream;
  let h2Upstream: http2.Http2Server;
  const h2Streams: { path: string; rstCode: number | null; bytes: number; aborted: boolean }[] = [];
  let tcpPeer: net.Server;
  const tcpConns: UpstreamConn[] = [];
  // A TLS upstream, recording how its connection ended.
  let pki: TestPki | null = null;
  let tlsPeer: net.Server;
  const tlsConns: UpstreamConn[] = [];
  let port = 0;
  let h2ClusterPort = 0;
  let tcpPort = 0;

  before(async () => {
    upstream = await new RecordingNetUpstream().listen();
    h2Upstream = http2.createServer();
    h2Upstream.on('stream', (stream, headers) => {
      const rec = { path: String(headers[':path']), rstCode: null as number | null, bytes: 0, aborted: false };
      h2Streams.push(rec);
      stream.on('data', (d: Buffer) => (rec.bytes += d.length));
      // Reset by the peer before its request ended.
      stream.on('aborted', () => (rec.aborted = true));
      stream.on('error', () => {});
      stream.on('close', () => (rec.rstCode = stream.rstCode ?? 0));
    });
    await new Promise<void>((r) => h2Upstream.listen(0, '127.0.0.1', r));
    h2ClusterPort = (h2Upstream.address() as net.AddressInfo).port;
    // tcp_proxy peer: records like the HTTP upstream; a client sending "reset-me" gets a RST back.
    tcpPeer = net.createServer({ allowHalfOpen: true }, (socket) => {
      const c: UpstreamConn = { socket, data: '', path: 'tcp', ended: null };
      tcpConns.push(c);
      socket.setEncoding('latin1');
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (c.ended === null) c.ended = err.code === 'ECONNRESET' ? 'rst' : 'fin';
      });
      socket.on('end', () => {
        if (c.ended === null) c.ended = 'fin';
        socket.end();
      });
      socket.on('data', (d: string) => {
        c.data += d;
        if (c.data.includes('reset-me')) socket.resetAndDestroy();
        else if (c.data.includes('echo')) socket.write(d);
      });
    });
    await new Promise<void>((r) => tcpPeer.listen(0, '127.0.0.1', r));
    let tlsCluster = '';
    if (opensslAvailable()) {
      pki = TestPki.create();
      const cert = pki.issue('backend', { sans: ['DNS:backend.test'] });
      tlsPeer = net.createServer((raw) => {
        const c: UpstreamConn = { socket: raw, data: '', path: 'tls', ended: null };
        tlsConns.push(c);
        // The TLS socket takes the TCP handle over: it reports the TCP connection's reset (or end).
        const t = new tls.TLSSocket(raw, { isServer: true, key: cert.keyPem, cert: cert.certPem });
        t.setEncoding('latin1');
        t.on('error', (err: NodeJS.ErrnoException) => {
          if (c.ended === null) c.ended = err.code === 'ECONNRESET' ? 'rst' : 'fin';
        });
        t.on('end', () => {
          if (c.ended === null) c.ended = 'fin';
        });
        t.on('data', (d: string) => (c.data += d));
      });
      await new Promise<void>((r) => tlsPeer.listen(0, '127.0.0.1', r));
      tlsCluster = cluster({
        name: 'rawtls',
        endpoints: [{ address: '127.0.0.1', port: (tlsPeer.address() as net.AddressInfo).port }],
        extra: `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: backend.test
`,
      });
    }

    const routes = [
      { match: '{ prefix: "/route-timeout" }', action: 'route: { cluster: raw, timeout: 0.2s }' },
      { match: '{ prefix: "/h2" }', action: 'route: { cluster: h2 }' },
      ...(pki === null ? [] : [{ match: '{ prefix: "/tls" }', action: 'route: { cluster: rawtls }' }]),
      { match: '{ prefix: "/direct" }', action: 'direct_response: { status: 200, body: { inline_string: "direct" } }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: raw }' },
    ];
    const tcpListener = `  - name: tcp
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: rawtcp
          cluster: tcppeer
`;
    // A short linger keeps the endless upload below cheap (Envoy's default is 1 s).
    const hcmExtra = '          delayed_close_timeout: 0.2s\n';
    const config = bootstrap(
      [hcmListener({ name: 'abort', routes, hcmExtra }), tcpListener],
      [
        cluster({ name: 'raw', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }),
        cluster({ name: 'h2', endpoints: [{ address: '127.0.0.1', port: h2ClusterPort }], extra: '    http2_protocol_options: {}\n' }),
        cluster({ name: 'tcppeer', endpoints: [{ address: '127.0.0.1', port: (tcpPeer.address() as net.AddressInfo).port }] }),
        ...(tlsCluster === '' ? [] : [tlsCluster]),
      ],
    );
    legate = await startLegate({ config, concurrency: 1, env: { LEGATE_TEST_THROW: '1' } });
    port = await legate.listenerPort('abort');
    tcpPort = await legate.listenerPort('tcp');
  });

  after(async () => {
    await legate?.stop();
    await upstream?.close();
    h2Upstream?.close();
    for (const c of tcpConns) c.socket.destroy();
    tcpPeer?.close();
    for (const c of tlsConns) c.socket.destroy();
    tlsPeer?.close();
    pki?.remove();
  });

  async function stat(name: string): Promise<number> {
    return (await legate.statsMap()).get(name) ?? 0;
  }

  // ---- finding 5: a malformed body after the head went upstream ----

  it('a malformed chunk size after the head went upstream: the client gets 400, the upstream a RST', async () => {
    const c = await rawClient(port);
    c.socket.write('POST /silent-chunk-size HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    const up = await upstream.conn('/silent-chunk-size');
    await waitUntil(() => up.data.includes('hello'), () => 'the first chunk upstream');
    c.socket.write('10000000000000005\r\n' + 'x'.repeat(32) + '\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(c.received(), /\r\nconnection: close\r\n/i);
    assert.equal(await upstream.ended(up), 'rst', 'the upstream must not see a clean end of a broken request');
    assert.ok(!up.data.includes('0\r\n\r\n'), 'no last chunk went upstream');
  });

  it('malformed trailers after the head went upstream: the client gets 400, the upstream a RST', async () => {
    const c = await rawClient(port);
    c.socket.write('POST /silent-trailer HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    const up = await upstream.conn('/silent-trailer');
    await waitUntil(() => up.data.includes('hello'), () => 'the first chunk upstream');
    c.socket.write('0\r\nbad trailer\r\n\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 400 /);
    assert.equal(await upstream.ended(up), 'rst');
    assert.ok(!up.data.includes('0\r\n\r\n'), 'no last chunk went upstream');
  });

  it('a malformed body once the response has started: the client is reset mid-response, the upstream too', async () => {
    const c = await rawClient(port);
    c.socket.write('POST /stream HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    const up = await upstream.conn('/stream');
    await waitUntil(() => c.received().includes('first'), () => 'the first response chunk at the client');
    c.socket.write('zz\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(!c.received().includes('0\r\n\r\n'), 'the response must not look complete');
    assert.equal(await upstream.ended(up), 'rst');
  });

  // ---- finding 6: the client leaves mid-body ----

  it('a client that half-closes before its Content-Length is reached: the upstream gets a RST, not a FIN', async () => {
    const before = await stat('http.abort.downstream_rq_rx_reset');
    const c = await rawClient(port);
    c.socket.write('POST /silent-cl HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n' + 'a'.repeat(100));
    const up = await upstream.conn('/silent-cl');
    await waitUntil(() => up.data.endsWith('a'.repeat(100)), () => 'the partial body upstream');
    c.socket.end();
    await c.closed;
    assert.equal(await upstream.ended(up), 'rst', 'a FIN would let the upstream run the truncated request');
    assert.equal(up.data.split('\r\n\r\n')[1], 'a'.repeat(100));
    assert.equal(await stat('http.abort.downstream_rq_rx_reset'), before + 1);
  });

  it('a client that half-closes inside a chunked body: the upstream gets a RST', async () => {
    const c = await rawClient(port);
    c.socket.write('POST /silent-chunked-fin HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    const up = await upstream.conn('/silent-chunked-fin');
    await waitUntil(() => up.data.includes('hello'), () => 'the first chunk upstream');
    c.socket.end();
    await c.closed;
    assert.equal(await upstream.ended(up), 'rst');
    assert.ok(!up.data.includes('0\r\n\r\n'), 'no last chunk went upstream');
  });

  it('a client that resets mid-body: the upstream gets a RST', async () => {
    const c = await rawClient(port);
    c.socket.write('POST /silent-client-rst HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n' + 'b'.repeat(10));
    const up = await upstream.conn('/silent-client-rst');
    await waitUntil(() => up.data.endsWith('b'.repeat(10)), () => 'the partial body upstream');
    c.socket.resetAndDestroy();
    assert.equal(await upstream.ended(up), 'rst');
  });

  it('a TLS upstream: a client leaving mid-body resets the TCP connection under the TLS one', async (t) => {
    if (pki === null) return t.skip('openssl not available');
    const c = await rawClient(port);
    c.socket.write('POST /tls-abort HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n' + 'd'.repeat(10));
    await waitUntil(() => tlsConns.some((u) => u.data.endsWith('d'.repeat(10))), () => 'the partial body at the TLS upstream');
    const up = tlsConns.find((u) => u.data.endsWith('d'.repeat(10)))!;
    c.socket.end();
    await c.closed;
    await waitUntil(() => up.ended !== null, () => 'the TLS upstream connection to end');
    assert.equal(up.ended, 'rst');
  });

  it('an HTTP/2 upstream: a client leaving mid-body cancels the stream (RST_STREAM CANCEL)', async () => {
    // Chunked, so the upstream stream has no content-length (with one, nghttp2 reports any reset as PROTOCOL_ERROR).
    const c = await rawClient(port);
    c.socket.write('POST /h2-abort HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\na\r\n' + 'c'.repeat(10) + '\r\n');
    await waitUntil(() => h2Streams.some((s) => s.path === '/h2-abort' && s.bytes === 10), () => 'the partial body on the HTTP/2 stream');
    c.socket.end();
    await c.closed;
    const rec = h2Streams.find((s) => s.path === '/h2-abort')!;
    await waitUntil(() => rec.rstCode !== null, () => 'the upstream stream to close');
    assert.equal(rec.rstCode, http2.constants.NGHTTP2_CANCEL);
    assert.equal(rec.aborted, true, 'the request must not end cleanly');
  });

  // ---- finding 15: an early response during an upload ----

  it('an upstream answering early during a 32 MiB upload: the client gets the response and its connection ends', { timeout: 30_000 }, async () => {
    const before = await stat('http.abort.downstream_rq_response_before_rq_complete');
    const res = await stubbornUpload(port, `POST /early HTTP/1.1\r\nhost: x\r\ncontent-length: ${32 * MiB}\r\n\r\n`, 32 * MiB);
    assert.match(res.data, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(res.data, /\r\nconnection: close\r\n/i);
    assert.ok(res.data.endsWith('\r\n\r\nearly'), `the whole response: ${JSON.stringify(res.data.slice(-40))}`);
    const up = await upstream.conn('/early');
    assert.equal(await upstream.ended(up), 'rst', 'the upstream never got the whole body: it must not see a clean end');
    assert.equal(await stat('http.abort.downstream_rq_response_before_rq_complete'), before + 1);
  });

  it('curl uploading 16 MiB to an upstream that answers early gets the response and exits', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'upload.bin');
    fs.writeFileSync(file, Buffer.alloc(16 * MiB, 'q'));
    const r = await curl(['-H', 'Expect:', '--data-binary', `@${file}`, `http://127.0.0.1:${port}/early-curl`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'early');
    const up = await upstream.conn('/early-curl');
    assert.equal(await upstream.ended(up), 'rst');
  });

  it('a local reply during an endless upload: the client gets it, then is cut off after delayed_close_timeout', { timeout: 30_000 }, async () => {
    const res = await stubbornUpload(port, 'POST /direct HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000000000000\r\n\r\n', Infinity);
    assert.match(res.data, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(res.data, /\r\nconnection: close\r\n/i);
    assert.ok(res.data.endsWith('\r\n\r\ndirect'));
    assert.equal(res.reset, true, 'a client that never stops sending is reset once the linger is over');
  });

  it('a request pipelined behind one answered with connection: close never goes upstream', { timeout: 30_000 }, async () => {
    const c = await rawClient(port);
    // Read slowly at first, so the response backs up and its writes drain later (the moment a closing connection
    // must not start parsing again).
    c.socket.pause();
    c.socket.write('GET /big-close HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\nGET /pipelined-after-close HTTP/1.1\r\nhost: x\r\n\r\n');
    await upstream.conn('/big-close');
    await new Promise((r) => setTimeout(r, 200));
    c.socket.resume();
    await c.closed;
    assert.ok(c.received().startsWith('HTTP/1.1 200 OK\r\n'));
    assert.equal(c.received().split('HTTP/1.1 ').length - 1, 1, 'one response only');
    assert.equal(upstream.conns.filter((u) => u.path === '/pipelined-after-close').length, 0);
  });

  // ---- finding 17: exception guards ----

  it('an exception while handling a request head resets that connection only; counted, logged once', async () => {
    const before = await stat('http.abort.internal_error');
    for (let i = 0; i < 2; i++) {
      const c = await rawClient(port);
      c.socket.write('GET /ok HTTP/1.1\r\nhost: x\r\nx-legate-test-throw: decode-headers\r\n\r\n');
      await c.closed;
      assert.equal(c.received(), '', 'no response on a connection whose handler threw');
    }
    assert.equal(await stat('http.abort.internal_error'), before + 2);
    assert.equal(legate.stderr.split('test hook: decodeHeaders throws').length - 1, 1, 'the stack is logged once');
    const ok = await curl([`http://127.0.0.1:${port}/ok-after-throw`]);
    assert.equal(ok.status, 200);
    assert.equal(await stat('server.worker_restarts'), 0);
    assert.ok(legate.exitCode === null);
  });

  it('an exception while handling an upstream response resets that request (client and upstream) only', async () => {
    const before = await stat('http.abort.internal_error');
    const c = await rawClient(port);
    c.socket.write('GET /throw-response-head HTTP/1.1\r\nhost: x\r\n\r\n');
    await c.closed;
    assert.equal(c.received(), '');
    const up = await upstream.conn('/throw-response-head');
    assert.equal(await upstream.ended(up), 'rst');
    assert.equal(await stat('http.abort.internal_error'), before + 1);
    assert.equal((await curl([`http://127.0.0.1:${port}/ok-after-response-throw`])).status, 200);
    assert.equal(await stat('server.worker_restarts'), 0);
  });

  it('an exception in a timer (the route timeout) resets that request only', async () => {
    const before = await stat('http.abort.internal_error');
    const c = await rawClient(port);
    c.socket.write('GET /route-timeout HTTP/1.1\r\nhost: x\r\nx-legate-test-throw: route-timeout\r\n\r\n');
    await c.closed;
    assert.equal(c.received(), '');
    const up = await upstream.conn('/route-timeout');
    assert.equal(await upstream.ended(up), 'rst');
    assert.equal(await stat('http.abort.internal_error'), before + 1);
    assert.equal((await curl([`http://127.0.0.1:${port}/ok-after-timer-throw`])).status, 200);
    assert.equal(await stat('server.worker_restarts'), 0);
  });

  // ---- tcp_proxy ----

  it('tcp_proxy: a client RST reaches the upstream as a RST, not a FIN', async () => {
    const c = await rawClient(tcpPort);
    c.socket.write('hello tcp');
    await waitUntil(() => tcpConns.some((t) => t.data === 'hello tcp'), () => 'the bytes upstream');
    const up = tcpConns.find((t) => t.data === 'hello tcp')!;
    c.socket.resetAndDestroy();
    await waitUntil(() => up.ended !== null, () => 'the tcp upstream to close');
    assert.equal(up.ended, 'rst');
  });

  it('tcp_proxy: an upstream RST reaches the client as a RST', async () => {
    const c = await rawClient(tcpPort);
    c.socket.write('reset-me');
    const { reset } = await c.closed;
    assert.equal(reset, true, 'the client must see the reset');
  });

  it('tcp_proxy: an exception in a session handler resets that session only; counted', async () => {
    const before = await stat('tcp.rawtcp.internal_error');
    const c = await rawClient(tcpPort);
    c.socket.write('LEGATE-TEST-THROW');
    await c.closed;
    assert.equal(await stat('tcp.rawtcp.internal_error'), before + 1);
    const d = await rawClient(tcpPort);
    d.socket.write('echo');
    await waitUntil(() => d.received() === 'echo', () => 'an echo through a new session');
    d.socket.destroy();
    assert.equal(await stat('server.worker_restarts'), 0);
  });
});
