// End to end: HTTP/2 protocol abuse against an h2c listener (HCM codec_type AUTO) in front of a real HTTP/1.1
// upstream that counts what reaches it — too many concurrent streams, rapid reset (CVE-2023-44487), a zero-window
// stall, PING and empty-DATA floods (CVE-2019-9512/9518), and an HTTP/1.1 `Upgrade: h2c`. After each attack
// Legate must still serve a normal HTTP/2 request and no worker may have died.
// The raw client (test/support/h2-raw-client.ts) is first checked against node:http2's own server.

import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import {
  H2RawClient,
  ErrorCode,
  FrameFlag,
  FrameType,
  Setting,
  dataFrame,
  headersFrame,
  pingFrame,
  requestHeaders,
  rstStreamFrame,
} from '../support/h2-raw-client.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { settle, waitUntil } from '../support/polling.ts';

// ---- helpers -------------------------------------------------------------------------------------------

/** One write of N request HEADERS (GET, END_STREAM) on streams 1, 3, 5, … */
function manyRequests(n: number, pathPrefix: string, firstStream = 1): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) frames.push(headersFrame(firstStream + 2 * i, requestHeaders({ path: `${pathPrefix}${i}` })));
  return Buffer.concat(frames);
}

/** N pairs of HEADERS immediately followed by RST_STREAM(CANCEL), in one buffer. */
function rapidResets(n: number, pathPrefix: string): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const id = 1 + 2 * i;
    frames.push(headersFrame(id, requestHeaders({ path: `${pathPrefix}${i}` })), rstStreamFrame(id, ErrorCode.CANCEL));
  }
  return Buffer.concat(frames);
}

function pings(n: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) frames.push(pingFrame(i));
  return Buffer.concat(frames);
}

function emptyDataFrames(streamId: number, n: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) frames.push(dataFrame(streamId));
  return Buffer.concat(frames);
}

/** Sends raw HTTP/1.1 bytes and returns the first complete response (head + content-length body). */
function http1Exchange(port: number, bytes: string, timeoutMs = 10_000): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const finish = (): boolean => {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const head = data.slice(0, end);
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
      if (/^HTTP\/1\.1 101/.test(head) || len < 0 || data.length - end - 4 >= len) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ head, body: data.slice(end + 4, len < 0 ? undefined : end + 4 + len) });
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete HTTP/1.1 response; got ${JSON.stringify(data)}`));
    }, timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      data += d;
      finish();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (!finish()) {
        clearTimeout(timer);
        reject(new Error(`connection closed before a complete response; got ${JSON.stringify(data)}`));
      }
    });
    sock.write(bytes);
  });
}

// ---- the raw client against node:http2 ----------------------------------------------------------------

interface NodeH2 {
  server: http2.Http2Server;
  port: number;
  /** 'stream' events (requests that reached the handler). */
  streams: number;
  /** Header lists the handler saw, by :path. */
  headersByPath: Map<string, http2.IncomingHttpHeaders>;
  bodies: Map<string, number>;
  clientResetCodes: number[];
  goawaysReceived: { code: number; lastStreamId: number }[];
  sessionErrors: string[];
}

async function startNodeH2(settings: http2.Settings = {}): Promise<NodeH2> {
  const server = http2.createServer({ settings });
  const st: NodeH2 = { server, port: 0, streams: 0, headersByPath: new Map(), bodies: new Map(), clientResetCodes: [], goawaysReceived: [], sessionErrors: [] };
  server.on('session', (session) => {
    session.on('error', (e: NodeJS.ErrnoException) => st.sessionErrors.push(`${e.code}: ${e.message}`));
    session.on('goaway', (code: number, lastStreamId: number) => st.goawaysReceived.push({ code, lastStreamId }));
  });
  server.on('stream', (stream, headers) => {
    st.streams++;
    stream.on('error', () => {});
    const path = String(headers[':path']);
    st.headersByPath.set(path, headers);
    stream.on('close', () => {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) st.clientResetCodes.push(stream.rstCode);
    });
    if (path.startsWith('/hold')) return;
    if (path === '/reset-me') {
      stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      return;
    }
    if (path === '/goaway') {
      stream.session?.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 3, Buffer.from('calm down'));
      return;
    }
    const big = /^\/big\/(\d+)/.exec(path);
    if (big !== null) {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(Number(big[1]), 'b'));
      return;
    }
    let bytes = 0;
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.on('end', () => {
      st.bodies.set(path, bytes);
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end(`got ${bytes}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  st.port = (server.address() as net.AddressInfo).port;
  return st;
}

function stopNodeH2(st: NodeH2): Promise<void> {
  return new Promise((r) => {
    st.server.close(() => r());
    // Sessions left open by an attack would keep close() waiting.
    (st.server as unknown as { closeAllSessions?: () => void }).closeAllSessions?.();
    setTimeout(r, 200).unref();
  });
}

describe('raw HTTP/2 client against node:http2', () => {
  let node: NodeH2;
  let small: NodeH2;
  const clients: H2RawClient[] = [];
  const connect = async (opts: Parameters<typeof H2RawClient.connect>[0]): Promise<H2RawClient> => {
    const c = await H2RawClient.connect(opts);
    clients.push(c);
    return c;
  };

  before(async () => {
    node = await startNodeH2();
    small = await startNodeH2({ maxConcurrentStreams: 10 });
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await stopNodeH2(node);
    await stopNodeH2(small);
  });

  it('exchanges SETTINGS, sends a GET and reads HEADERS + DATA + END_STREAM', async () => {
    const c = await connect({ port: node.port });
    c.request(1, '/hello');
    const s = await c.waitForStreamEnd(1);
    assert.ok(c.serverSettingsReceived, c.describe());
    await c.waitFor(() => c.settingsAcksReceived === 1, 'the ACK of our SETTINGS');
    assert.equal(s.headers, 1);
    assert.equal(s.rstCode, null);
    assert.equal(s.dataBytes, 'got 0'.length);
    assert.ok(s.ended);
  });

  it('HPACK literals arrive intact: multi-byte lengths and a block split into CONTINUATION frames', async () => {
    const c = await connect({ port: node.port });
    const long = 'v'.repeat(300);
    const huge = 'h'.repeat(20_000); // over the 16 KiB frame size: HEADERS + CONTINUATION
    c.request(1, '/hpack', { extra: [['x-long', long], ['x-huge', huge], ['x-' + 'n'.repeat(200), 'name is long']] });
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, null, c.describe());
    const seen = node.headersByPath.get('/hpack');
    assert.ok(seen !== undefined);
    assert.equal(seen['x-long'], long);
    assert.equal(seen['x-huge'], huge);
    assert.equal(seen['x-' + 'n'.repeat(200)], 'name is long');
    assert.equal(seen[':method'], 'GET');
    assert.equal(seen[':authority'], 'localhost');
  });

  it('DATA frames carry a request body to END_STREAM', async () => {
    const c = await connect({ port: node.port });
    c.request(1, '/upload', { method: 'POST', endStream: false });
    c.data(1, Buffer.alloc(1000, 'a'));
    c.data(1, Buffer.alloc(234, 'a'), { endStream: true });
    const s = await c.waitForStreamEnd(1);
    assert.ok(s.ended, c.describe());
    assert.equal(node.bodies.get('/upload'), 1234);
  });

  it('parses RST_STREAM and GOAWAY from the server; the server sees our RST_STREAM and GOAWAY codes', async () => {
    const c = await connect({ port: node.port });
    c.request(1, '/reset-me');
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, ErrorCode.ENHANCE_YOUR_CALM, c.describe());

    c.request(3, '/hold/rst');
    await waitUntil(() => node.headersByPath.has('/hold/rst'), () => 'the held request at the server');
    const resetsBefore = node.clientResetCodes.length;
    c.rstStream(3, ErrorCode.CANCEL);
    await waitUntil(() => node.clientResetCodes.length > resetsBefore, () => 'the server to see our RST_STREAM');
    assert.equal(node.clientResetCodes.at(-1), ErrorCode.CANCEL);

    c.request(5, '/goaway');
    const g = await c.waitForGoaway();
    assert.equal(g.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(g.lastStreamId, 3);
    assert.equal(g.debug, 'calm down');

    const c2 = await connect({ port: node.port });
    await c2.waitForSettings();
    c2.goaway(0, ErrorCode.PROTOCOL_ERROR, 'bye');
    await waitUntil(() => node.goawaysReceived.some((x) => x.code === ErrorCode.PROTOCOL_ERROR), () => 'the server to see our GOAWAY');
  });

  it('PING is acknowledged with the same opaque data', async () => {
    const c = await connect({ port: node.port });
    const opaque = Buffer.from('8bytes!!');
    c.ping(opaque);
    await c.waitFor(() => c.pingAcksReceived === 1, 'PING ACK');
    const ack = c.frames.find((f) => f.type === FrameType.PING && (f.flags & FrameFlag.ACK) !== 0);
    assert.deepEqual(ack?.payload, opaque);
    assert.equal(c.count(FrameType.PING), 1);
  });

  it('SETTINGS_INITIAL_WINDOW_SIZE 0: the response HEADERS come, no DATA until WINDOW_UPDATE, then exactly the window', async () => {
    const c = await connect({ port: node.port, settings: [[Setting.INITIAL_WINDOW_SIZE, 0]] });
    c.request(1, '/big/100000');
    await c.waitFor(() => (c.streams.get(1)?.headers ?? 0) === 1, 'response HEADERS');
    // A PING round trip as a barrier: DATA the server could send would have been written before the ACK.
    c.ping(1);
    await c.waitFor(() => c.pingAcksReceived === 1, 'PING ACK');
    assert.equal(c.streams.get(1)!.dataBytes, 0, c.describe());
    c.windowUpdate(1, 1000);
    await c.waitFor(() => c.streams.get(1)!.dataBytes >= 1000, '1000 bytes of DATA');
    c.ping(2);
    await c.waitFor(() => c.pingAcksReceived === 2, 'PING ACK');
    assert.equal(c.streams.get(1)!.dataBytes, 1000, c.describe());
    assert.equal(c.streams.get(1)!.ended, false);
  });

  it('a first flight of 1000 HEADERS over maxConcurrentStreams 10: 10 reach the handler, 990 are REFUSED_STREAM', async () => {
    const before = small.streams;
    const c = await connect({ port: small.port, firstFlight: manyRequests(1000, '/hold/mcs/') });
    await c.waitFor(() => c.resetStreams().length >= 990 || c.closed, '990 RST_STREAM');
    await waitUntil(() => small.streams - before >= 10, () => `10 streams at the server (saw ${small.streams - before})`);
    assert.equal(c.resetStreams(ErrorCode.REFUSED_STREAM).length, 990, c.describe());
    assert.equal(c.closed, false);
    assert.equal(await settle(() => small.streams - before, 500, 10_000), 10);
  });

  it('the same 1000 HEADERS after our SETTINGS ACK: nghttp2 ends the connection (PROTOCOL_ERROR), 10 reach the handler', async () => {
    // Documents nghttp2: once the limit is acknowledged, exceeding it is a connection error, not REFUSED_STREAM.
    const before = small.streams;
    const c = await connect({ port: small.port });
    await c.waitForSettings();
    c.ping(1); // the server has our SETTINGS ACK once this PING is answered
    await c.waitFor(() => c.pingAcksReceived === 1, 'PING ACK');
    c.write(manyRequests(1000, '/hold/mcs-late/'));
    const g = await c.waitForGoaway();
    await c.waitForClose();
    assert.equal(g.errorCode, ErrorCode.PROTOCOL_ERROR, c.describe());
    assert.ok(small.streams - before <= 10, `${small.streams - before} streams reached the handler`);
  });

  it('rapid reset: 3000 HEADERS+RST_STREAM pairs end in GOAWAY and a close (nghttp2\'s own reset rate limit)', async () => {
    const before = node.streams;
    const c = await connect({ port: node.port, keepFrames: false });
    await c.waitForSettings();
    c.write(rapidResets(3000, '/rr/'));
    const g = await c.waitForGoaway();
    await c.waitForClose();
    // node:http2 emits 'stream' for streams whose RST_STREAM came in the same read: a proxy must not forward them.
    const reached = await settle(() => node.streams - before, 500, 10_000);
    assert.ok(reached > 0 && reached < 3000, `reached the handler: ${reached}; ${c.describe()}`);
    assert.equal(g.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
  });

  it('an empty DATA flood ends in GOAWAY and a close (node\'s maxSessionInvalidFrames)', async () => {
    const c = await connect({ port: node.port });
    c.request(1, '/hold/empty', { method: 'POST', endStream: false });
    c.write(emptyDataFrames(1, 10_000));
    const g = await c.waitForGoaway();
    await c.waitForClose();
    assert.ok(node.sessionErrors.some((e) => e.startsWith('ERR_HTTP2_TOO_MANY_INVALID_FRAMES')), node.sessionErrors.join('\n'));
    assert.equal(g.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
  });

  it('a PING flood from a client that does not read ends in GOAWAY and a close (nghttp2 flood detection)', async () => {
    const c = await connect({ port: node.port, keepFrames: false });
    await c.waitForSettings();
    c.pauseReading();
    await c.writeAndFlush(pings(100_000));
    c.resumeReading();
    await c.waitForClose();
    assert.ok(c.goaways.length > 0, c.describe());
    assert.equal(c.goaways[0]!.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
    assert.ok(node.sessionErrors.some((e) => /Flooding was detected/.test(e)), node.sessionErrors.join('\n'));
  });
});

// ---- Legate ------------------------------------------------------------------------------------------

describe('HTTP/2 abuse against Legate (h2c, codec_type AUTO)', () => {
  let legate: LegateProcess;
  let up: RecordingUpstream;
  let port: number; // max_concurrent_streams 100
  let smallPort: number; // max_concurrent_streams 10
  let stallPort: number; // stream_idle_timeout 1s
  const clients: H2RawClient[] = [];
  const connect = async (opts: Parameters<typeof H2RawClient.connect>[0]): Promise<H2RawClient> => {
    const c = await H2RawClient.connect(opts);
    clients.push(c);
    return c;
  };

  const stat = async (name: string): Promise<number> => (await legate.statsMap()).get(name) ?? 0;
  /** Waits for a counter to pass `above`; returns its value (or the last value seen, for the failure message). */
  const statAbove = async (name: string, above: number, timeoutMs = 10_000): Promise<number> => {
    let v = above;
    try {
      await waitUntil(async () => (v = await stat(name)) > above, () => name, timeoutMs);
    } catch {
      // the caller's assertion reports it
    }
    return v;
  };

  /** Legate answers a normal HTTP/2 request from a real client, the process is up and no worker was replaced. */
  const assertStillServing = async (after: string): Promise<void> => {
    const r = await curl(['--http2-prior-knowledge', '-w', '\n%{http_version}', `http://127.0.0.1:${port}/after-attack`]);
    assert.equal(r.exitCode, 0, `after ${after}: curl failed (exit ${r.exitCode}); legate stderr:\n${legate.stderr}`);
    assert.equal(r.status, 200, `after ${after}: status ${r.status}`);
    assert.equal(r.body, 'ok\n2', `after ${after}: body/version ${JSON.stringify(r.body)}`);
    assert.equal(legate.exitCode, null, `after ${after}: legate exited`);
    assert.equal(await stat('server.worker_restarts'), 0, `after ${after}: a worker was replaced; legate stderr:\n${legate.stderr}`);
    assert.doesNotMatch(legate.stderr, /worker \d+ (failed|exited)/, `after ${after}`);
  };

  before(async () => {
    up = await new RecordingUpstream().listen();
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend, timeout: 0s }' }];
    const listeners = [
      hcmListener({
        name: 'h2',
        routes,
        hcmExtra: '          codec_type: AUTO\n          http2_protocol_options: { max_concurrent_streams: 100 }\n',
      }),
      hcmListener({
        name: 'h2small',
        routes,
        hcmExtra: '          codec_type: AUTO\n          http2_protocol_options: { max_concurrent_streams: 10 }\n',
      }),
      hcmListener({
        name: 'h2stall',
        routes,
        hcmExtra: '          codec_type: AUTO\n          stream_idle_timeout: 1s\n',
      }),
    ];
    legate = await startLegate({
      config: bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
      concurrency: 1,
    });
    port = await legate.listenerPort('h2');
    smallPort = await legate.listenerPort('h2small');
    stallPort = await legate.listenerPort('h2stall');
  });

  after(async () => {
    for (const c of clients) c.destroy();
    up?.release();
    await legate?.stop();
    await up?.close();
  });

  it('serves a normal h2c request (curl and the raw client) and counts it as HTTP/2', async () => {
    const cxBefore = await stat('http.h2.downstream_cx_http2_total');
    const rqBefore = await stat('http.h2.downstream_rq_http2_total');
    const c = await connect({ port });
    c.request(1, '/plain');
    const s = await c.waitForStreamEnd(1);
    assert.ok(s.ended && s.rstCode === null && s.headers === 1, c.describe());
    assert.equal(s.dataBytes, 2);
    await waitUntil(async () => (await stat('http.h2.downstream_cx_http2_active')) >= 1, () => 'downstream_cx_http2_active >= 1');
    c.destroy();
    await assertStillServing('a normal request');
    assert.ok((await stat('http.h2.downstream_cx_http2_total')) >= cxBefore + 2);
    assert.ok((await stat('http.h2.downstream_rq_http2_total')) >= rqBefore + 2);
  });

  /** (a) N streams in one write, none waiting for a reply (in the first flight, or right after the SETTINGS exchange
   * when `afterAck`); at most `limit` may reach the upstream. */
  const concurrencyAttack = async (t: TestContext, p: number, limit: number, tag: string, afterAck: boolean): Promise<void> => {
    const N = 1000;
    await waitUntil(() => up.active === 0, () => `the upstream to be idle (active ${up.active})`);
    up.resetConcurrency();
    const prefix = `/hold/${tag}/`;
    const flight = manyRequests(N, prefix);
    let c: H2RawClient;
    if (afterAck) {
      c = await connect({ port: p });
      await c.waitForSettings();
      c.ping(1); // answered only after our SETTINGS ACK was read
      await c.waitFor(() => c.pingAcksReceived === 1, 'PING ACK');
      c.write(flight);
    } else {
      c = await connect({ port: p, firstFlight: flight });
    }
    // Every stream ends up held at the upstream, refused, answered, or the connection goes.
    const settled = (): number => up.count(prefix) + [...c.streams.values()].filter((s) => s.rstCode !== null || s.ended).length;
    await waitUntil(() => settled() >= N || c.closed, () => `every stream to have an outcome (${settled()}/${N}); upstream held ${up.heldCount}; ${c.describe()}`);
    const reached = await settle(() => up.count(prefix), 500, 10_000);
    const what = `reached the upstream: ${reached}, max concurrent there: ${up.maxActive}; client: ${c.describe()}`;
    t.diagnostic(what);
    assert.ok(up.maxActive <= limit, `more than ${limit} streams were open at the upstream at once; ${what}`);
    assert.ok(reached <= limit, what);
    if (!afterAck || !c.closed) {
      assert.ok(reached >= 1, `no stream was accepted; ${what}`);
      assert.equal(c.closed, false, `refusing streams must not close the connection; ${what}`);
      assert.deepEqual(c.resetCodes(), { REFUSED_STREAM: N - reached }, `every stream beyond the limit must be REFUSED_STREAM; ${what}`);
      // The accepted streams still complete once the upstream answers; nothing refused arrives late.
      up.release();
      await c.waitFor(() => [...c.streams.values()].filter((s) => s.ended).length >= reached, `the ${reached} accepted streams to end`);
      assert.equal(up.count(prefix), reached, what);
    } else {
      // After the limit was acknowledged, exceeding it may be a connection error (RFC 9113 §5.1.2, nghttp2's choice).
      assert.ok(c.goaways.length > 0, `closed without GOAWAY; ${what}`);
      up.release();
    }
    c.destroy();
    await assertStillServing(`${N} concurrent streams (limit ${limit})`);
  };

  it('(a) 1000 streams at once, max_concurrent_streams 100: at most 100 reach the upstream, the rest REFUSED_STREAM', async (t) => {
    await concurrencyAttack(t, port, 100, 'mcs100', false);
  });

  it('(a) 1000 streams at once, max_concurrent_streams 10: at most 10 reach the upstream, the rest REFUSED_STREAM', async (t) => {
    await concurrencyAttack(t, smallPort, 10, 'mcs10', false);
  });

  it('(a) 1000 streams after the SETTINGS exchange, max_concurrent_streams 10: at most 10 reach the upstream', async (t) => {
    await concurrencyAttack(t, smallPort, 10, 'mcs10late', true);
  });

  it('(b) rapid reset: 2500 HEADERS each followed at once by RST_STREAM(CANCEL) -> GOAWAY, close, counted, ≤ 20 upstream', async (t) => {
    const N = 2500;
    const counter = 'http.h2.downstream_rq_too_many_premature_resets';
    const before = await stat(counter);
    const rxResetBefore = await stat('http2.rx_reset');
    const c = await connect({ port, keepFrames: false });
    await c.waitForSettings();
    c.write(rapidResets(N, '/rr/'));
    await c.waitFor(() => c.closed, 'the connection to close', 30_000).catch(() => {});
    const reached = await settle(() => up.count('/rr/'), 500, 10_000);
    const premature = await statAbove(counter, before);
    const what = `client: ${c.describe()}; upstream saw ${reached} of ${N}; ${counter} ${before} -> ${premature}; ` +
      `http2.rx_reset ${rxResetBefore} -> ${await stat('http2.rx_reset')}`;
    t.diagnostic(what);
    assert.ok(c.closed, `connection still open; ${what}`);
    assert.ok(c.goaways.length > 0, `closed without GOAWAY; ${what}`);
    assert.ok(reached <= 20, `too many reset streams reached the upstream; ${what}`);
    assert.ok(premature > before, `premature-reset counter did not move; ${what}`);
    assert.ok((await stat('http2.rx_reset')) > rxResetBefore, `http2.rx_reset did not move; ${what}`);
    await assertStillServing('rapid reset');
  });

  it('(b) rapid reset spread over reads: batches of 50 HEADERS+RST_STREAM pairs, a PING round trip between -> the 500-stream rule closes it', async (t) => {
    // Each batch is fully processed (and its streams freed) before the next, so node:http2's own per-read limits do
    // not fire first: this checks Legate's premature-reset rule itself.
    const counter = 'http.h2.downstream_rq_too_many_premature_resets';
    const before = await stat(counter);
    const c = await connect({ port, keepFrames: false });
    await c.waitForSettings();
    let id = 1;
    let sent = 0;
    for (let batch = 0; batch < 50 && !c.closed; batch++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 50; i++, id += 2) frames.push(headersFrame(id, requestHeaders({ path: `/rr2/${id}` })), rstStreamFrame(id, ErrorCode.CANCEL));
      c.write(Buffer.concat(frames));
      sent += 50;
      const acks = c.pingAcksReceived;
      c.ping(batch);
      await c.waitFor(() => c.closed || c.pingAcksReceived > acks, 'PING ACK or close');
    }
    await c.waitFor(() => c.closed, 'the connection to close').catch(() => {});
    const reached = await settle(() => up.count('/rr2/'), 500, 10_000);
    const premature = await statAbove(counter, before);
    const what = `client: ${c.describe()}; streams sent ${sent}; upstream saw ${reached}; ${counter} ${before} -> ${premature}`;
    t.diagnostic(what);
    assert.ok(c.closed, `connection still open after ${sent} prematurely reset streams; ${what}`);
    assert.ok(c.goaways.length > 0, `closed without GOAWAY; ${what}`);
    assert.ok(reached <= 20, `too many reset streams reached the upstream; ${what}`);
    assert.ok(premature > before, `premature-reset counter did not move; ${what}`);
    await assertStillServing('rapid reset in batches');
  });

  it('(c) zero-window stall: INITIAL_WINDOW_SIZE 0 and no WINDOW_UPDATE -> stream reset after stream_idle_timeout, counted', async (t) => {
    const counter = 'http.h2stall.downstream_rq_idle_timeout';
    const before = await stat(counter);
    const txResetBefore = await stat('http2.tx_reset');
    const upBefore = up.count('/big/');
    const c = await connect({ port: stallPort, settings: [[Setting.INITIAL_WINDOW_SIZE, 0]] });
    c.request(1, '/big/1000000');
    const s = await c.waitForStreamEnd(1, 30_000).catch(() => c.streams.get(1));
    const idle = await statAbove(counter, before);
    const what = `client: ${c.describe()}; stream 1: ${JSON.stringify(s)}; ${counter} ${before} -> ${idle}; ` +
      `http2.tx_reset ${txResetBefore} -> ${await stat('http2.tx_reset')}; upstream /big requests +${up.count('/big/') - upBefore}`;
    t.diagnostic(what);
    assert.equal(up.count('/big/') - upBefore, 1, `the request must have reached the upstream (the stall is on the response); ${what}`);
    assert.ok(s !== undefined && (s.rstCode !== null || c.closed), `neither a stream reset nor a close; ${what}`);
    assert.equal(s.ended, false, `the stream ended normally despite a zero window; ${what}`);
    assert.equal(s.dataBytes, 0, `DATA was sent into a zero window; ${what}`);
    assert.ok(idle > before, `idle-timeout counter did not move; ${what}`);
    if (s.rstCode !== null) assert.ok((await stat('http2.tx_reset')) > txResetBefore, `http2.tx_reset did not move; ${what}`);
    c.destroy();
    await assertStillServing('zero-window stall');
  });

  it('(d) PING flood: 100,000 PINGs from a client that never reads -> connection closed, http2.outbound_control_flood counted', async (t) => {
    const counter = 'http2.outbound_control_flood';
    const before = await stat(counter);
    const c = await connect({ port, keepFrames: false });
    await c.waitForSettings();
    c.pauseReading();
    await c.writeAndFlush(pings(100_000));
    // Now read what the server left for us (a GOAWAY, if it sent one before closing).
    c.resumeReading();
    await c.waitFor(() => c.closed, 'the connection to close', 30_000).catch(() => {});
    const flood = await statAbove(counter, before);
    const what = `client: ${c.describe()}; sent ${c.socket.bytesWritten} bytes, PING ACKs read ${c.pingAcksReceived}; ${counter} ${before} -> ${flood}`;
    t.diagnostic(what);
    assert.ok(c.closed, `connection still open; ${what}`);
    await assertStillServing('PING flood');
    assert.ok(flood > before, `the connection was closed and Legate still serves, but the flood was not counted; ${what}`);
  });

  it('(e) empty DATA flood: 10,000 empty DATA frames without END_STREAM -> connection closed, http2.inbound_empty_frames_flood counted', async (t) => {
    const counter = 'http2.inbound_empty_frames_flood';
    const before = await stat(counter);
    const c = await connect({ port });
    c.request(1, '/hold/empty', { method: 'POST', endStream: false });
    c.write(emptyDataFrames(1, 10_000));
    await c.waitFor(() => c.closed, 'the connection to close', 30_000).catch(() => {});
    const flood = await statAbove(counter, before);
    const what = `client: ${c.describe()}; ${counter} ${before} -> ${flood}`;
    t.diagnostic(what);
    assert.ok(c.closed, `connection still open; ${what}`);
    assert.ok(flood > before, `empty-frame flood not counted; ${what}`);
    up.release();
    await assertStillServing('empty DATA flood');
  });

  it('(f) HTTP/1.1 with Upgrade: h2c and HTTP2-Settings: an HTTP/1.1 answer, the upstream never sees the upgrade', async (t) => {
    const raw = await http1Exchange(port,
      'GET /h2c-upgrade/raw HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
      'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
    const statusLine = raw.head.split('\r\n')[0]!;
    assert.match(statusLine, /^HTTP\/1\.1 \d{3}/, `not an HTTP/1.1 answer: ${statusLine}`);
    assert.doesNotMatch(statusLine, /^HTTP\/1\.1 101/, 'Legate switched to h2c');
    // curl's own h2c upgrade attempt (curl --http2 on http://) must stay on HTTP/1.1 too.
    const viaCurl = await curl(['--http2', '-w', '\n%{http_version}', `http://127.0.0.1:${port}/h2c-upgrade/curl`]);
    assert.equal(viaCurl.exitCode, 0);
    assert.match(viaCurl.body, /\n1\.1$/, `curl did not stay on HTTP/1.1: ${JSON.stringify(viaCurl.body)}`);
    const seen = up.seen.filter((r) => r.url.startsWith('/h2c-upgrade'));
    for (const r of seen) {
      assert.doesNotMatch(String(r.headers['upgrade'] ?? ''), /h2c/i, `upstream saw upgrade: ${r.headers['upgrade']} on ${r.url}`);
      assert.equal(r.headers['http2-settings'], undefined, `upstream saw HTTP2-Settings on ${r.url}`);
      assert.doesNotMatch(String(r.headers['connection'] ?? ''), /upgrade|http2-settings/i, `upstream saw connection: ${r.headers['connection']} on ${r.url}`);
    }
    // Envoy strips the h2c upgrade and forwards the request; a local HTTP/1.1 refusal is also safe. Say which.
    const diag = `raw: ${statusLine}; curl: ${viaCurl.status}; forwarded: ${seen.map((r) => r.url).join(', ') || 'none'}`;
    t.diagnostic(diag);
    assert.ok(seen.length === 0 || (raw.head.startsWith('HTTP/1.1 200') && viaCurl.status === 200), diag);
    await assertStillServing('h2c upgrade');
  });
});
