// Legate's HTTP/2 client codec (workers/http2/client-codec.ts) against real servers: node:http2 (nghttp2), a grpc-js
// server, nghttpd when installed, and raw-socket peers for GOAWAY, refused streams and protocol violations.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  Http2ClientCodec, Http2ResetReason, type Http2ClientConnectionCallbacks, type Http2ClientStream, type Http2ClientStreamHandler,
} from '../../workers/http2/client-codec.ts';
import { Http2KeepaliveTimer } from '../../workers/http2/keepalive.ts';
import { ErrorCode, FrameFlag, FrameType } from '../../src/http2/frames.ts';
import {
  CONNECTION_PREFACE, FrameReader, encodeFrame, goawayFrame, headersFrame, dataFrame, parseGoaway, rstStreamFrame, settingsFrame,
} from '../support/h2-raw-client.ts';
import { PATHS, decodeEnvelope, requestMessage, sha256, startJsEchoServer, type JsEchoServer } from '../support/grpc-peers.ts';
import { waitUntil } from '../support/polling.ts';
import { startLegate, tempDir, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';

const WAIT_MS = 10_000;

/** Records one response; `done` settles on onEnd or onReset. */
class Exchange implements Http2ClientStreamHandler {
  heads: string[][] = [];
  chunks: Buffer[] = [];
  trailers: string[] | null = null;
  ended = false;
  resetReason = -1;
  resetCode = -1;
  writable = 0;
  done: Promise<void>;
  private settle!: () => void;

  constructor() {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  onHeaders(_s: Http2ClientStream, fields: string[]): void {
    this.heads.push(fields);
  }
  onData(_s: Http2ClientStream, chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }
  onTrailers(_s: Http2ClientStream, fields: string[]): void {
    this.trailers = fields;
  }
  onEnd(): void {
    this.ended = true;
    this.settle();
  }
  onReset(s: Http2ClientStream): void {
    this.resetReason = s.resetReason;
    this.resetCode = s.resetCode;
    this.settle();
  }
  onWritable(): void {
    this.writable++;
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }
  header(name: string): string | undefined {
    const h = this.heads[this.heads.length - 1] ?? [];
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }
  async wait(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('stream did not finish')), WAIT_MS)))]);
    clearTimeout(timer);
  }
}

class Conn implements Http2ClientConnectionCallbacks {
  codec: Http2ClientCodec;
  settingsSeen = 0;
  goaway: { code: number; lastStreamId: number } | null = null;
  connectionErrors: number[] = [];
  counts = new Map<string, number>();
  closedStreams = 0;
  closed = false;
  internalErrors: unknown[] = [];

  constructor(port: number, opts: { window?: number; connWindow?: number; maxStreams?: number } = {}) {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    this.codec = new Http2ClientCodec(socket, {
      initialStreamWindowSize: opts.window ?? 268_435_456,
      initialConnectionWindowSize: opts.connWindow ?? 268_435_456,
      maxConcurrentStreams: opts.maxStreams ?? 2_147_483_647,
      maxHeaderListBytes: 60 * 1024,
      maxHeaders: 100,
      bufferLimitBytes: 1024 * 1024,
    }, this);
    this.codec.start();
  }

  onRemoteSettings(): void {
    this.settingsSeen++;
  }
  onGoaway(_c: Http2ClientCodec, code: number, lastStreamId: number): void {
    this.goaway = { code, lastStreamId };
  }
  onStreamClose(): void {
    this.closedStreams++;
  }
  onConnectionError(_c: Http2ClientCodec, code: number): void {
    this.connectionErrors.push(code);
  }
  count(stat: string): void {
    this.counts.set(stat, (this.counts.get(stat) ?? 0) + 1);
  }
  onClose(): void {
    this.closed = true;
  }
  onStreamInternalError(_s: Http2ClientStream, err: unknown): void {
    this.internalErrors.push(err);
  }
  onInternalError(_c: Http2ClientCodec, err: unknown): void {
    this.internalErrors.push(err);
  }

  get(path: string, authority: string, extra: string[] = []): Exchange {
    const ex = new Exchange();
    const s = this.codec.request(ex, [':method', 'GET', ':scheme', 'http', ':authority', authority, ':path', path, ...extra], true);
    assert.ok(s !== null, 'the connection takes a stream');
    return ex;
  }

  /** Writes `body` honouring writeData's backpressure (waits for onWritable). */
  async post(path: string, authority: string, body: Buffer, trailers: string[] | null, extra: string[] = []): Promise<Exchange> {
    const ex = new Exchange();
    const s = this.codec.request(ex, [':method', 'POST', ':scheme', 'http', ':authority', authority, ':path', path, ...extra], false);
    assert.ok(s !== null);
    for (let at = 0; at < body.length; at += 65_536) {
      const seen = ex.writable;
      if (!this.codec.writeData(s, body.subarray(at, Math.min(body.length, at + 65_536)))) {
        await waitUntil(() => ex.writable > seen || s.closed, () => 'onWritable');
      }
      if (s.closed) return ex;
    }
    this.codec.end(s, trailers);
    return ex;
  }

  async waitSettings(): Promise<void> {
    await waitUntil(() => this.settingsSeen > 0 || this.closed, () => 'the peer SETTINGS', WAIT_MS);
  }
  async waitClosed(): Promise<void> {
    await waitUntil(() => this.closed, () => 'the connection to close', WAIT_MS);
  }
}

function fieldsOf(list: string[] | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (list !== null) for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

describe('node:http2 server', () => {
  let server: http2.Http2Server;
  let port = 0;
  const sessions = new Set<http2.ServerHttp2Session>();

  before(async () => {
    server = http2.createServer({ settings: { initialWindowSize: 16_384, maxConcurrentStreams: 50 }, maxHeaderListPairs: 2000, maxSessionMemory: 100 });
    server.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      // Resets are what some cases are about: the server's stream hears of them as errors.
      stream.on('error', () => {});
      const path = headers[':path'];
      if (path === '/hello') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-big': headers['x-big'] === undefined ? 'no' : String(headers['x-big']).length });
        stream.end('hello world');
      } else if (path === '/trailers') {
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-t': 'yes' }));
        stream.end('body');
      } else if (path === '/big-head') {
        stream.respond({ ':status': 200, 'x-huge': 'v'.repeat(40_000) });
        stream.end();
      } else if (path === '/echo') {
        const hash = crypto.createHash('sha256');
        let n = 0;
        stream.on('data', (c: Buffer) => {
          hash.update(c);
          n += c.length;
        });
        let t: http2.IncomingHttpHeaders | undefined;
        stream.on('trailers', (got: http2.IncomingHttpHeaders) => (t = got));
        stream.on('end', () => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200, 'x-got-bytes': String(n), 'x-got-sha': hash.digest('hex'), 'x-got-trailer': String(t?.['x-req-trailer'] ?? 'none') });
          stream.end();
        });
      } else if (path === '/mirror') {
        // The request body comes back as the response body: 1 MiB both ways over 16 KiB windows.
        stream.respond({ ':status': 200 });
        stream.pipe(stream);
      } else if (path === '/rst') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      } else if (path === '/refuse') {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      } else if (path === '/continue') {
        stream.additionalHeaders({ ':status': 103, link: '</a>; rel=preload' });
        stream.respond({ ':status': 204 });
        stream.end();
      } else {
        stream.respond({ ':status': 404 });
        stream.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('GET, response trailers, 1xx, peer SETTINGS (max concurrent streams) and keepalive PING', async () => {
    const c = new Conn(port);
    const a = c.get('/hello', `127.0.0.1:${port}`);
    const b = c.get('/trailers', `127.0.0.1:${port}`);
    const d = c.get('/continue', `127.0.0.1:${port}`);
    await Promise.all([a.wait(), b.wait(), d.wait()]);
    assert.equal(a.ended, true);
    assert.equal(a.header(':status'), '200');
    assert.equal(a.header('content-type'), 'text/plain');
    assert.equal(a.body.toString(), 'hello world');
    assert.equal(b.body.toString(), 'body');
    assert.deepEqual(fieldsOf(b.trailers), { 'grpc-status': '0', 'x-t': 'yes' });
    assert.equal(c.counts.get('trailers'), 1);
    assert.deepEqual(d.heads.map((h) => h[1]), ['103', '204']);
    assert.equal(c.codec.peerMaxConcurrentStreams, 50);
    assert.equal(c.codec.capacity(), 50);
    assert.equal(c.closedStreams, 3);
    // PING: keepalive's interface, answered by the peer.
    const pong = await new Promise<Error | null>((resolve) => c.codec.ping(resolve));
    assert.equal(pong, null);
    let timedOut = false;
    const ka = new Http2KeepaliveTimer(c.codec, { intervalMs: 10, intervalJitterPercent: 0, timeoutMs: 5000 }, () => (timedOut = true), (err) => assert.fail(String(err)));
    const before = c.counts.size;
    await new Promise((r) => setTimeout(r, 60));
    ka.stop();
    assert.equal(timedOut, false);
    assert.equal(c.counts.size, before);
    c.codec.close();
    await c.waitClosed();
    assert.deepEqual(c.internalErrors, []);
  });

  test('request headers over 16 KiB go out as HEADERS + CONTINUATION; response headers over 16 KiB come back in CONTINUATION', async () => {
    const c = new Conn(port);
    const big = 'x'.repeat(30_000);
    const a = c.get('/hello', `127.0.0.1:${port}`, ['x-big', big]);
    const b = c.get('/big-head', `127.0.0.1:${port}`);
    await Promise.all([a.wait(), b.wait()]);
    assert.equal(a.header('x-big'), String(big.length));
    assert.equal(b.header('x-huge')?.length, 40_000);
    c.codec.destroy();
    await c.waitClosed();
  });

  test('a request body with trailers; 1 MiB both ways over 16 KiB stream windows (flow control, WINDOW_UPDATE)', async () => {
    const c = new Conn(port, { window: 16_384, connWindow: 65_535 });
    await c.waitSettings();
    const body = crypto.randomBytes(1024 * 1024);
    const a = await c.post('/echo', `127.0.0.1:${port}`, body, ['x-req-trailer', 'tv']);
    await a.wait();
    assert.equal(a.header('x-got-bytes'), String(body.length));
    assert.equal(a.header('x-got-sha'), sha256(body));
    assert.equal(a.header('x-got-trailer'), 'tv');
    const m = await c.post('/mirror', `127.0.0.1:${port}`, body, null);
    await m.wait();
    assert.equal(m.ended, true);
    assert.equal(sha256(m.body), sha256(body));
    c.codec.close();
    await c.waitClosed();
  });

  test('RST_STREAM from the peer: remote reset and remote refused stream reset, the connection goes on', async () => {
    const c = new Conn(port);
    const a = c.get('/rst', `127.0.0.1:${port}`);
    const b = c.get('/refuse', `127.0.0.1:${port}`);
    await Promise.all([a.wait(), b.wait()]);
    assert.equal(a.resetReason, Http2ResetReason.REMOTE_RESET);
    assert.equal(a.resetCode, ErrorCode.INTERNAL_ERROR);
    assert.equal(b.resetReason, Http2ResetReason.REMOTE_REFUSED_STREAM_RESET);
    assert.equal(c.counts.get('rx_reset'), 2);
    const d = c.get('/hello', `127.0.0.1:${port}`);
    await d.wait();
    assert.equal(d.body.toString(), 'hello world');
    c.codec.close();
    await c.waitClosed();
  });

  test('a local reset sends RST_STREAM CANCEL; the peer sees the stream aborted', async () => {
    const c = new Conn(port);
    const ex = new Exchange();
    const s = c.codec.request(ex, [':method', 'POST', ':scheme', 'http', ':authority', 'x', ':path', '/echo'], false)!;
    c.codec.writeData(s, Buffer.from('partial'));
    const aborted = new Promise<number>((resolve) => server.once('stream', (st) => st.on('close', () => resolve(st.rstCode))));
    c.codec.reset(s, ErrorCode.CANCEL);
    assert.equal(await aborted, http2.constants.NGHTTP2_CANCEL);
    assert.equal(c.counts.get('tx_reset'), 1);
    assert.equal(ex.resetReason, -1, 'the owner hears nothing of its own reset');
    assert.equal(c.codec.activeStreams, 0);
    c.codec.destroy();
    await c.waitClosed();
  });
});

describe('grpc-js server', () => {
  let grpcServer: JsEchoServer;

  before(async () => {
    grpcServer = await startJsEchoServer();
  });
  after(async () => {
    await grpcServer.close();
  });

  function grpcFrame(msg: Buffer): Buffer {
    const out = Buffer.alloc(5 + msg.length);
    out.writeUInt32BE(msg.length, 1);
    msg.copy(out, 5);
    return out;
  }
  function grpcMessages(body: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (let at = 0; at + 5 <= body.length;) {
      const n = body.readUInt32BE(at + 1);
      out.push(body.subarray(at + 5, at + 5 + n));
      at += 5 + n;
    }
    return out;
  }
  const GRPC_HEADERS = ['content-type', 'application/grpc', 'te', 'trailers'];

  test('unary and server streaming calls end with grpc-status trailers; a failing call carries its status', async () => {
    const c = new Conn(grpcServer.port);
    const req = requestMessage(0, 100_000);
    const unary = await c.post(PATHS.Unary, 'echo', grpcFrame(req.bytes), null, GRPC_HEADERS);
    const stream = await c.post(PATHS.ServerStream, 'echo', grpcFrame(requestMessage(0, 0, { sizes: [10, 20_000, 30] }).bytes), null, GRPC_HEADERS);
    const failing = await c.post(PATHS.Unary, 'echo', grpcFrame(requestMessage(0, 5).bytes), null, [...GRPC_HEADERS, 'x-fail-code', '7', 'x-fail-message', 'nope']);
    await Promise.all([unary.wait(), stream.wait(), failing.wait()]);
    assert.equal(unary.header(':status'), '200');
    assert.equal(fieldsOf(unary.trailers)['grpc-status'], '0');
    const [echo] = grpcMessages(unary.body);
    assert.equal(decodeEnvelope(echo!).h['gotSha'], req.sha);
    const msgs = grpcMessages(stream.body);
    assert.deepEqual(msgs.map((m) => decodeEnvelope(m).p.length), [10, 20_000, 30]);
    assert.equal(fieldsOf(stream.trailers)['grpc-status'], '0');
    // Trailers-only: the status rides the response head with END_STREAM.
    const failed = { ...fieldsOf(failing.heads[0]!), ...fieldsOf(failing.trailers) };
    assert.equal(failed['grpc-status'], '7');
    assert.equal(failing.ended, true);
    c.codec.close();
    await c.waitClosed();
  });
});

describe('nghttpd (nghttp2\'s own server) as the upstream, through bin/legate', () => {
  // Installed by test/support/install-test-tools.sh (package nghttp2-server), as make test and .ci/run do.
  let legate: LegateProcess;
  let nghttpd: ChildProcess;
  let port: number;
  const docroot = tempDir('legate-nghttpd-');
  const small = crypto.randomBytes(5000);
  const large = crypto.randomBytes(3 * 1024 * 1024);

  before(async () => {
    fs.writeFileSync(path.join(docroot, 'small.bin'), small);
    fs.writeFileSync(path.join(docroot, 'large.bin'), large);
    const upstreamPort = await unusedPort();
    // h2c, prior knowledge (nghttpd --no-tls speaks HTTP/2 from the first byte).
    nghttpd = spawn('nghttpd', ['--no-tls', '-d', docroot, '-a', '127.0.0.1', String(upstreamPort)], { stdio: 'ignore' });
    await waitUntil(() => new Promise<boolean>((resolve) => {
      const probe = net.connect(upstreamPort, '127.0.0.1');
      probe.on('connect', () => { probe.destroy(); resolve(true); });
      probe.on('error', () => resolve(false));
    }), () => 'nghttpd did not start', 10_000);
    legate = await startLegate({
      concurrency: 1,
      config: bootstrap(
        [hcmListener({ name: 'front', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: nghttpd }' }] })],
        [cluster({ name: 'nghttpd', endpoints: [{ address: '127.0.0.1', port: upstreamPort }], extra: H2_CLUSTER })],
      ),
    });
    port = await legate.listenerPort('front');
  });

  after(async () => {
    await legate?.stop();
    nghttpd?.kill();
    fs.rmSync(docroot, { recursive: true, force: true });
  });

  test('serves files from nghttpd, small and 3 MiB (many WINDOW_UPDATEs over 64 KiB windows), and a 404, on one upstream connection', async () => {
    const a = await fetchVia(port, '/small.bin');
    assert.equal(a.status, 200);
    assert.equal(sha256(a.body), sha256(small));
    const b = await fetchVia(port, '/large.bin');
    assert.equal(b.status, 200);
    assert.equal(sha256(b.body), sha256(large));
    const missing = await fetchVia(port, '/nothing-here');
    assert.equal(missing.status, 404);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.nghttpd.upstream_cx_http2_total'), 1);
    assert.equal(stats.get('cluster.nghttpd.upstream_rq_total'), 3);
  });
});

/** A raw HTTP/2 server: the test scripts its frames. */
class RawPeer {
  server: net.Server;
  port = 0;
  sockets: net.Socket[] = [];
  frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }> = [];
  onFrame: (sock: net.Socket, f: { type: number; flags: number; streamId: number; payload: Buffer }) => void = () => {};

  constructor() {
    this.server = net.createServer((sock) => {
      this.sockets.push(sock);
      const reader = new FrameReader();
      let preface = false;
      let pending = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.write(settingsFrame([[0x3, 100]]));
      sock.on('data', (chunk: Buffer) => {
        let buf = chunk;
        if (!preface) {
          pending = Buffer.concat([pending, chunk]);
          if (pending.length < CONNECTION_PREFACE.length) return;
          preface = true;
          buf = pending.subarray(CONNECTION_PREFACE.length);
        }
        for (const f of reader.push(buf)) {
          this.frames.push(f);
          if (f.type === FrameType.SETTINGS && (f.flags & FrameFlag.ACK) === 0) sock.write(settingsFrame([], true));
          this.onFrame(sock, f);
        }
      });
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const RESPONSE_200: Array<readonly [string, string]> = [[':status', '200']];

describe('raw peers', () => {
  test('GOAWAY mid-flight: streams above its last stream id are refused (retryable), those below finish', async () => {
    const peer = await new RawPeer().start();
    const heads: number[] = [];
    peer.onFrame = (sock, f) => {
      if (f.type !== FrameType.HEADERS) return;
      heads.push(f.streamId);
      if (heads.length === 3) {
        sock.write(goawayFrame(1, ErrorCode.NO_ERROR));
        sock.write(headersFrame(1, RESPONSE_200, { endStream: false }));
        sock.write(dataFrame(1, 'one', { endStream: true }));
      }
    };
    const c = new Conn(peer.port);
    await c.waitSettings();
    const a = c.get('/a', 'x');
    const b = c.get('/b', 'x');
    const d = c.get('/c', 'x');
    await Promise.all([a.wait(), b.wait(), d.wait()]);
    assert.equal(a.ended, true);
    assert.equal(a.body.toString(), 'one');
    assert.equal(b.resetReason, Http2ResetReason.REMOTE_REFUSED_STREAM_RESET);
    assert.equal(d.resetReason, Http2ResetReason.REMOTE_REFUSED_STREAM_RESET);
    assert.deepEqual(c.goaway, { code: ErrorCode.NO_ERROR, lastStreamId: 1 });
    assert.equal(c.codec.capacity(), 0, 'no new streams after GOAWAY');
    assert.equal(c.codec.request(new Exchange(), [':method', 'GET', ':scheme', 'http', ':authority', 'x', ':path', '/'], true), null);
    // With nothing left in flight the connection closes by itself.
    await c.waitClosed();
    await peer.close();
  });

  test('a peer that breaks the protocol: GOAWAY with the error, streams reset with protocol_error, the process goes on', async () => {
    const peer = await new RawPeer().start();
    peer.onFrame = (sock, f) => {
      if (f.type !== FrameType.HEADERS) return;
      // DATA on stream 0 is a connection error PROTOCOL_ERROR (RFC 9113 §6.1).
      sock.write(encodeFrame(FrameType.DATA, 0, 0, Buffer.from('bad')));
    };
    const c = new Conn(peer.port);
    const a = c.get('/a', 'x');
    const b = c.get('/b', 'x');
    await Promise.all([a.wait(), b.wait()]);
    assert.equal(a.resetReason, Http2ResetReason.PROTOCOL_ERROR);
    assert.equal(b.resetReason, Http2ResetReason.PROTOCOL_ERROR);
    assert.deepEqual(c.connectionErrors, [ErrorCode.PROTOCOL_ERROR]);
    await c.waitClosed();
    await waitUntil(() => peer.frames.some((f) => f.type === FrameType.GOAWAY), () => 'our GOAWAY at the peer', WAIT_MS);
    const goaway = peer.frames.find((f) => f.type === FrameType.GOAWAY)!;
    assert.equal(parseGoaway(goaway.payload).errorCode, ErrorCode.PROTOCOL_ERROR);
    assert.deepEqual(c.internalErrors, []);
    await peer.close();
  });

  test('malformed responses are stream errors: a response without :status, DATA before HEADERS; an oversized frame is a connection error', async () => {
    const peer = await new RawPeer().start();
    peer.onFrame = (sock, f) => {
      if (f.type !== FrameType.HEADERS) return;
      if (f.streamId === 1) sock.write(headersFrame(1, [['content-type', 'x']], { endStream: true }));
      else if (f.streamId === 3) sock.write(dataFrame(3, 'early'));
      else if (f.streamId === 5) {
        sock.write(headersFrame(5, RESPONSE_200, { endStream: false }));
        sock.write(encodeFrame(FrameType.DATA, 0, 5, Buffer.alloc(20_000)));
      }
    };
    const c = new Conn(peer.port);
    await c.waitSettings();
    const a = c.get('/a', 'x');
    await a.wait();
    assert.equal(a.resetReason, Http2ResetReason.PROTOCOL_ERROR);
    const b = c.get('/b', 'x');
    await b.wait();
    assert.equal(b.resetReason, Http2ResetReason.PROTOCOL_ERROR);
    assert.equal(c.counts.get('rx_messaging_error'), 2);
    await waitUntil(() => peer.frames.filter((f) => f.type === FrameType.RST_STREAM).length === 2, () => 'two RST_STREAMs at the peer', WAIT_MS);
    assert.equal(c.closed, false, 'stream errors leave the connection up');
    const d = c.get('/c', 'x');
    await d.wait();
    assert.equal(d.resetReason, Http2ResetReason.PROTOCOL_ERROR);
    assert.deepEqual(c.connectionErrors, [ErrorCode.FRAME_SIZE_ERROR]);
    await c.waitClosed();
    await peer.close();
  });

  test('a response body that disagrees with content-length is a stream error; HEAD and 204 carry none', async () => {
    const peer = await new RawPeer().start();
    peer.onFrame = (sock, f) => {
      if (f.type !== FrameType.HEADERS) return;
      if (f.streamId === 1) {
        sock.write(headersFrame(1, [[':status', '200'], ['content-length', '10']], { endStream: false }));
        sock.write(dataFrame(1, 'abc', { endStream: true }));
      } else if (f.streamId === 3) sock.write(headersFrame(3, [[':status', '200'], ['content-length', '10']]));
      else if (f.streamId === 5) sock.write(headersFrame(5, [[':status', '204'], ['content-length', '7']]));
      else if (f.streamId === 7) {
        sock.write(headersFrame(7, [[':status', '200'], ['content-length', '3']], { endStream: false }));
        sock.write(dataFrame(7, 'abc', { endStream: true }));
      }
    };
    const c = new Conn(peer.port);
    await c.waitSettings();
    const short = c.get('/short', 'x');
    const head = new Exchange();
    c.codec.request(head, [':method', 'HEAD', ':scheme', 'http', ':authority', 'x', ':path', '/head'], true);
    const noContent = c.get('/204', 'x');
    const whole = c.get('/whole', 'x');
    await Promise.all([short.wait(), head.wait(), noContent.wait(), whole.wait()]);
    assert.equal(short.resetReason, Http2ResetReason.PROTOCOL_ERROR);
    assert.equal(c.counts.get('rx_messaging_error'), 1);
    assert.equal(head.ended, true);
    assert.equal(noContent.ended, true);
    assert.equal(whole.ended, true);
    assert.equal(whole.body.toString(), 'abc');
    c.codec.close();
    await c.waitClosed();
    await peer.close();
  });

  test('a peer that closes the connection: streams in flight hear connection termination', async () => {
    const peer = await new RawPeer().start();
    peer.onFrame = (sock, f) => {
      if (f.type === FrameType.HEADERS) sock.destroy();
    };
    const c = new Conn(peer.port);
    await c.waitSettings();
    const a = c.get('/a', 'x');
    await a.wait();
    assert.equal(a.resetReason, Http2ResetReason.CONNECTION_TERMINATION);
    await c.waitClosed();
    await peer.close();
  });

  test('an RST_STREAM after a whole response (NO_ERROR) closes the stream quietly; the request side stops', async () => {
    const peer = await new RawPeer().start();
    peer.onFrame = (sock, f) => {
      if (f.type !== FrameType.HEADERS) return;
      sock.write(headersFrame(f.streamId, RESPONSE_200, { endStream: true }));
      sock.write(rstStreamFrame(f.streamId, ErrorCode.NO_ERROR));
    };
    const c = new Conn(peer.port);
    const ex = new Exchange();
    const s = c.codec.request(ex, [':method', 'POST', ':scheme', 'http', ':authority', 'x', ':path', '/up'], false)!;
    await ex.wait();
    assert.equal(ex.ended, true);
    await waitUntil(() => s.closed, () => 'the stream to close', WAIT_MS);
    assert.equal(ex.resetReason, -1);
    assert.equal(c.codec.writeData(s, Buffer.from('late')), true);
    c.codec.close();
    await c.waitClosed();
    await peer.close();
  });
});

const H2_CLUSTER = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: { initial_stream_window_size: 65535, initial_connection_window_size: 65535 } }
`;

function fetchVia(port: number, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const req = client.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path });
    const timer = setTimeout(() => reject(new Error(`no answer for ${path}`)), WAIT_MS);
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('close', () => {
      clearTimeout(timer);
      client.close();
      resolve({ status, body: Buffer.concat(chunks) });
    });
    req.end(body);
  });
}

describe('through Legate (the router and the pool on the client codec)', () => {
  let legate: LegateProcess;
  let good: http2.Http2Server;
  let bad: RawPeer;
  let port = 0;

  before(async () => {
    good = http2.createServer();
    good.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stream.destroyed) return;
        const got = Buffer.concat(chunks);
        stream.respond({ ':status': 200, 'x-path': String(headers[':path']), 'x-got-sha': sha256(got) });
        stream.end(got.length > 0 ? got : 'ok');
      });
    });
    await new Promise<void>((resolve) => good.listen(0, '127.0.0.1', resolve));
    bad = await new RawPeer().start();
    bad.onFrame = (sock, f) => {
      // A PUSH_PROMISE to a client that disabled push: a connection error PROTOCOL_ERROR.
      if (f.type === FrameType.HEADERS) sock.write(encodeFrame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, f.streamId, Buffer.from([0, 0, 0, 2])));
    };
    legate = await startLegate({
      concurrency: 1,
      config: bootstrap(
        [hcmListener({ name: 'front', routes: [
          { match: '{ prefix: "/bad" }', action: 'route: { cluster: bad }' },
          { match: '{ prefix: "/" }', action: 'route: { cluster: good }' },
        ] })],
        [
          cluster({ name: 'good', endpoints: [{ address: '127.0.0.1', port: (good.address() as AddressInfo).port }], extra: H2_CLUSTER }),
          cluster({ name: 'bad', endpoints: [{ address: '127.0.0.1', port: bad.port }], extra: H2_CLUSTER }),
        ],
      ),
    });
    port = await legate.listenerPort('front');
  });

  after(async () => {
    await legate?.stop();
    await bad?.close();
    await new Promise<void>((resolve) => good.close(() => resolve()));
  });

  test('1 MiB both ways over 64 KiB upstream windows; a protocol-breaking upstream is a 502 (protocol error) and the worker serves on', async () => {
    const body = crypto.randomBytes(1024 * 1024);
    const echoed = await fetchVia(port, '/echo', body);
    assert.equal(echoed.status, 200);
    assert.equal(sha256(echoed.body), sha256(body));
    const broken = await fetchVia(port, '/bad');
    // Envoy's answer to an upstream protocol error: 502, upstream_reset_before_response_started{protocol_error}.
    assert.equal(broken.status, 502);
    assert.match(broken.body.toString(), /protocol error/);
    const stats = await legate.statsMap();
    assert.ok((stats.get('cluster.bad.upstream_cx_protocol_error') ?? 0) >= 1, 'counted as an upstream protocol error');
    const after = await fetchVia(port, '/again');
    assert.equal(after.status, 200);
    assert.equal(after.body.toString(), 'ok');
    assert.equal(stats.get('cluster.good.upstream_cx_http2_total'), 1);
  });
});
