// End to end: the protocol behaviour of Legate's own HTTP/2 server codec (workers/http2/server-codec.ts) through
// bin/legate — invalid HTTP messaging as a connection or a stream error, the empty-frame, CONTINUATION, PRIORITY and
// WINDOW_UPDATE limits, header lists over max_request_headers_kb, connection-level protocol errors, request trailers,
// flow control of our responses, a client's GOAWAY, and frames on closed and idle streams (RFC 9113 §5.1). Each
// case asserts what went over the wire (decoded with HPACK where a status matters), the counter that names it, and
// what the upstream saw; then a real client (curl) must still be served. One Legate process, one listener per
// config variant.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import {
  CONNECTION_PREFACE,
  H2RawClient,
  ErrorCode,
  FrameFlag,
  FrameReader,
  FrameType,
  Setting,
  dataFrame,
  encodeFrame,
  encodeHeaderBlock,
  errorCodeName,
  headersFrame,
  pingFrame,
  priorityFrame,
  requestHeaders,
  rstStreamFrame,
  windowUpdateFrame,
  type HeaderField,
} from '../support/h2-raw-client.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { settle, waitUntil } from '../support/polling.ts';
import { HpackDecoder, HpackDecodeResult } from '../../src/http2/hpack-decoder.ts';

// ---- helpers -------------------------------------------------------------------------------------------

/** A PING round trip: whatever the server wrote before reading our PING has arrived once it is answered. */
async function roundTrip(c: H2RawClient): Promise<void> {
  const acks = c.pingAcksReceived;
  c.ping(0x5a5a + acks);
  await c.waitFor(() => c.pingAcksReceived > acks || c.closed, 'PING ACK');
}

/**
 * Every header block the server sent, by stream, decoded in order with one HPACK decoder (the dynamic table is
 * connection state). Flat name, value lists, one per block (response head, then trailers).
 */
function headerBlocks(c: H2RawClient): Map<number, string[][]> {
  const decoder = new HpackDecoder(4096, 1 << 20, 1000);
  const out = new Map<number, string[][]>();
  let fragments: Buffer[] = [];
  let streamId = 0;
  for (const f of c.frames) {
    if (f.type === FrameType.HEADERS) {
      let start = 0;
      let end = f.payload.length;
      if ((f.flags & FrameFlag.PADDED) !== 0) {
        start = 1;
        end -= f.payload[0]!;
      }
      if ((f.flags & FrameFlag.PRIORITY) !== 0) start += 5;
      fragments = [f.payload.subarray(start, end)];
      streamId = f.streamId;
    } else if (f.type === FrameType.CONTINUATION) {
      fragments.push(f.payload);
    } else continue;
    if ((f.flags & FrameFlag.END_HEADERS) === 0) continue;
    const block = Buffer.concat(fragments);
    const fields: string[] = [];
    assert.equal(decoder.decode(block, 0, block.length, fields), HpackDecodeResult.OK, `Legate's HPACK on stream ${streamId}`);
    const list = out.get(streamId) ?? [];
    list.push(fields);
    out.set(streamId, list);
  }
  return out;
}

/** The response :status on `streamId`, or 0 when no response head came. */
function statusOf(c: H2RawClient, streamId: number): number {
  const head = headerBlocks(c).get(streamId)?.[0];
  if (head === undefined) return 0;
  for (let i = 0; i < head.length; i += 2) if (head[i] === ':status') return Number(head[i + 1]);
  return -1;
}

/** Total response DATA bytes on the connection. */
function dataBytes(c: H2RawClient): number {
  let n = 0;
  for (const s of c.streams.values()) n += s.dataBytes;
  return n;
}

function concat(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

function emptyData(streamId: number, n: number): Buffer[] {
  return Array.from({ length: n }, () => dataFrame(streamId));
}

/** A POST head without END_STREAM (the request body follows). */
function postHead(streamId: number, path: string, extra: readonly HeaderField[] = []): Buffer {
  return headersFrame(streamId, requestHeaders({ path, method: 'POST', extra }), { endStream: false });
}

/** A header block cut into `fragment`-byte pieces: HEADERS then CONTINUATION frames, END_HEADERS on the last only if `endHeaders`. */
function headerFragments(streamId: number, block: Buffer, fragment: number, opts: { endStream: boolean; endHeaders: boolean }): Buffer {
  const frames: Buffer[] = [];
  for (let off = 0; off < block.length; off += fragment) {
    const last = off + fragment >= block.length;
    const flags = (off === 0 && opts.endStream ? FrameFlag.END_STREAM : 0) | (last && opts.endHeaders ? FrameFlag.END_HEADERS : 0);
    frames.push(encodeFrame(off === 0 ? FrameType.HEADERS : FrameType.CONTINUATION, flags, streamId, block.subarray(off, off + fragment)));
  }
  return Buffer.concat(frames);
}

/** A GET's header block padded with one `x-big` header to exactly `bytes` bytes of HPACK. */
function headerBlockOfSize(path: string, bytes: number): Buffer {
  const base = requestHeaders({ path });
  for (let n = bytes - 16; n > 0; n--) {
    const block = encodeHeaderBlock([...base, ['x-big', 'v'.repeat(n)]]);
    if (block.length === bytes) return block;
    if (block.length < bytes) break;
  }
  throw new Error(`no header block of exactly ${bytes} bytes`);
}

// ---- the upstream --------------------------------------------------------------------------------------

// ---- the cases -----------------------------------------------------------------------------------------

/** Malformed requests (RFC 9113 §8.1.1, §8.2, §8.3): invalid HTTP messaging. */
const INVALID_REQUESTS: readonly { what: string; frames: (streamId: number, path: string) => Buffer }[] = [
  { what: 'an uppercase header name (X-Upper: 1)', frames: (id, path) => headersFrame(id, requestHeaders({ path, extra: [['X-Upper', '1']] })) },
  { what: 'connection: keep-alive', frames: (id, path) => headersFrame(id, requestHeaders({ path, extra: [['connection', 'keep-alive']] })) },
  { what: 'te: gzip', frames: (id, path) => headersFrame(id, requestHeaders({ path, extra: [['te', 'gzip']] })) },
  // No :path to count it by: the upstream check below is on everything the upstream saw.
  { what: 'no :path', frames: (id) => headersFrame(id, [[':method', 'GET'], [':scheme', 'http'], [':authority', 'localhost']]) },
  {
    what: 'a pseudo-header after a regular header',
    frames: (id, path) => headersFrame(id, [[':method', 'GET'], [':scheme', 'http'], [':authority', 'localhost'], ['x-first', '1'], [':path', path]]),
  },
  {
    what: 'content-length: 5 and a 3-byte body',
    frames: (id, path) => concat(postHead(id, path, [['content-length', '5']]), dataFrame(id, 'abc', { endStream: true })),
  },
];

/** Connection errors (RFC 9113 §5.4.1): GOAWAY with `code`, then the connection closes. */
const CONNECTION_ERRORS: readonly { what: string; code: number; preface?: boolean; settings?: [number, number][]; bytes?: Buffer }[] = [
  { what: 'the first frame after the preface is a PING, not SETTINGS', code: ErrorCode.PROTOCOL_ERROR, preface: false, bytes: concat(CONNECTION_PREFACE, pingFrame(1)) },
  // The codec sends its SETTINGS on accept, then answers the preface it could not match with GOAWAY.
  { what: 'a bad preface (PRI * HTTP/2.0 then garbage)', code: ErrorCode.PROTOCOL_ERROR, preface: false, bytes: Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', 'latin1') },
  { what: 'an HTTP/1.1 request on a codec_type HTTP2 listener', code: ErrorCode.PROTOCOL_ERROR, preface: false, bytes: Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n', 'latin1') },
  { what: 'a 16,385-byte frame (over SETTINGS_MAX_FRAME_SIZE)', code: ErrorCode.FRAME_SIZE_ERROR, bytes: encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 1, Buffer.alloc(16_385)) },
  { what: 'HEADERS on stream 2 (even: server-initiated)', code: ErrorCode.PROTOCOL_ERROR, bytes: headersFrame(2, requestHeaders({ path: '/conn-error/even' })) },
  { what: 'DATA on idle stream 1', code: ErrorCode.PROTOCOL_ERROR, bytes: dataFrame(1, 'x', { endStream: true }) },
  { what: 'WINDOW_UPDATE with increment 0 on stream 0', code: ErrorCode.PROTOCOL_ERROR, bytes: windowUpdateFrame(0, 0) },
  {
    what: 'PUSH_PROMISE from the client',
    code: ErrorCode.PROTOCOL_ERROR,
    bytes: encodeFrame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, 1, concat(Buffer.from([0, 0, 0, 2]), encodeHeaderBlock(requestHeaders({ path: '/conn-error/push' })))),
  },
  { what: 'SETTINGS_INITIAL_WINDOW_SIZE 2^31', code: ErrorCode.FLOW_CONTROL_ERROR, settings: [[Setting.INITIAL_WINDOW_SIZE, 2 ** 31]] },
  { what: 'an HPACK indexed field with index 0', code: ErrorCode.COMPRESSION_ERROR, bytes: encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 1, Buffer.from([0x80])) },
  // RFC 9113 §5.3.1; a connection error as in nghttp2 (Envoy's codec), never an RST_STREAM on an idle stream.
  {
    what: 'HEADERS on stream 1 depending on itself',
    code: ErrorCode.PROTOCOL_ERROR,
    bytes: encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM | FrameFlag.PRIORITY, 1,
      concat(Buffer.from([0, 0, 0, 1, 255]), encodeHeaderBlock(requestHeaders({ path: '/conn-error/self-dependent' })))),
  },
  { what: 'PRIORITY on idle stream 1 depending on itself', code: ErrorCode.PROTOCOL_ERROR, bytes: priorityFrame(1, 1) },
];

// ---- Legate ------------------------------------------------------------------------------------------

describe('HTTP/2 server codec protocol behaviour (bin/legate, codec_type HTTP2)', () => {
  let legate: LegateProcess;
  let up: RecordingUpstream;
  /** Listener name (= stat prefix) -> port. */
  const ports: Record<string, number> = {};
  const clients: H2RawClient[] = [];

  const connect = async (listener: string, opts: Omit<Parameters<typeof H2RawClient.connect>[0], 'port'> = {}): Promise<H2RawClient> => {
    const c = await H2RawClient.connect({ port: ports[listener]!, ...opts });
    clients.push(c);
    return c;
  };

  const stats = (): Promise<Map<string, number>> => legate.statsMap();

  /** Waits for each counter to move by at least its delta from `before`, then asserts it moved by exactly that. */
  const expectCounters = async (before: Map<string, number>, deltas: Record<string, number>, context: () => string): Promise<void> => {
    let now = before;
    const moved = (): Record<string, number> => Object.fromEntries(Object.keys(deltas).map((n) => [n, (now.get(n) ?? 0) - (before.get(n) ?? 0)]));
    await waitUntil(async () => {
      now = await stats();
      return Object.entries(deltas).every(([n, d]) => (now.get(n) ?? 0) - (before.get(n) ?? 0) >= d);
    }, () => 'counters').catch(() => {});
    for (const n of Object.keys(deltas)) assert.ok(now.has(n), `no stat named ${n}`);
    assert.deepEqual(moved(), deltas, `counters; ${context()}`);
  };

  /** What the upstream saw since `mark` (besides the still-serving checks), once nothing more arrives. */
  const upstreamSince = async (mark: number): Promise<string[]> => {
    await settle(() => up.seen.length);
    return up.seen.slice(mark).map((r) => r.url).filter((u) => u !== '/still-serving');
  };

  /** A real client (curl) still gets its answer over HTTP/2 on `listener`, and the process is whole. */
  const assertStillServing = async (listener: string, after: string): Promise<void> => {
    const r = await curl(['--http2-prior-knowledge', '-w', '\n%{http_version}', `http://127.0.0.1:${ports[listener]}/still-serving`]);
    assert.equal(r.exitCode, 0, `after ${after}: curl failed (exit ${r.exitCode}); legate stderr:\n${legate.stderr}`);
    assert.equal(r.status, 200, `after ${after}: status ${r.status}`);
    assert.equal(r.body, 'ok\n2', `after ${after}: body/version ${JSON.stringify(r.body)}`);
    assert.equal(legate.exitCode, null, `after ${after}: legate exited`);
    assert.doesNotMatch(legate.stderr, /worker \d+ (failed|exited)|stream failed/, `after ${after}`);
  };

  const assertConnectionOpen = async (c: H2RawClient): Promise<void> => {
    await roundTrip(c);
    assert.equal(c.goaways.length, 0, `unexpected GOAWAY; ${c.describe()}`);
    assert.equal(c.closed, false, `connection closed; ${c.describe()}`);
  };

  /** GOAWAY(code) arrives and the connection closes. */
  const assertGoawayAndClose = async (c: H2RawClient, code: number): Promise<void> => {
    const g = await c.waitForGoaway();
    await c.waitForClose();
    assert.equal(errorCodeName(g.errorCode), errorCodeName(code), c.describe());
    assert.equal(c.goaways.length, 1, c.describe());
  };

  before(async () => {
    up = await new RecordingUpstream().listen();
    const variants: Record<string, string> = {
      // Envoy's defaults: invalid messaging closes the connection; one empty frame in a row allowed.
      def: '',
      serr: '          http2_protocol_options: { stream_error_on_invalid_http_messaging: true }\n',
      hcmserr: '          stream_error_on_invalid_http_message: true\n',
      override: '          http2_protocol_options: { override_stream_error_on_invalid_http_message: false }\n' +
        '          stream_error_on_invalid_http_message: true\n',
      empty3: '          http2_protocol_options: { max_consecutive_inbound_frames_with_empty_payload: 3 }\n',
      small: '          max_request_headers_kb: 8\n',
    };
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend, timeout: 0s }' }];
    const listeners: string[] = [];
    for (const [name, extra] of Object.entries(variants)) {
      listeners.push(hcmListener({ name, routes, hcmExtra: `          codec_type: HTTP2\n${extra}` }));
    }
    legate = await startLegate({
      config: bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
      concurrency: 1,
    });
    for (const name of Object.keys(variants)) ports[name] = await legate.listenerPort(name);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await legate?.stop();
    await up?.close();
  });

  // ---- 1. invalid messaging, stream_error_on_invalid_http_messaging false (the default) ----

  for (const [i, bad] of INVALID_REQUESTS.entries()) {
    it(`invalid messaging (default): ${bad.what} -> GOAWAY(PROTOCOL_ERROR), closed, http2.rx_messaging_error, nothing upstream`, async () => {
      const before = await stats();
      const mark = up.seen.length;
      const c = await connect('def');
      c.write(bad.frames(1, `/invalid-default/${i}`));
      await assertGoawayAndClose(c, ErrorCode.PROTOCOL_ERROR);
      assert.equal(c.streams.get(1)?.headers ?? 0, 0, `a response on the malformed stream; ${c.describe()}`);
      await expectCounters(before, { 'http2.rx_messaging_error': 1, 'http.def.downstream_cx_protocol_error': 1 }, () => c.describe());
      await assertStillServing('def', bad.what);
      assert.deepEqual(await upstreamSince(mark), [], 'the upstream saw the malformed request');
    });
  }

  // ---- 2. invalid messaging as a stream error ----

  const streamErrorCase = async (listener: string, bad: (typeof INVALID_REQUESTS)[number], tag: string): Promise<void> => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect(listener);
    // The malformed stream and a valid one right behind it, in one write.
    c.write(concat(bad.frames(1, `/invalid-stream/${tag}`), headersFrame(3, requestHeaders({ path: `/valid-after/${tag}` }))));
    const s1 = await c.waitForStreamEnd(1);
    const s3 = await c.waitForStreamEnd(3);
    assert.equal(s1.rstCode === null ? null : errorCodeName(s1.rstCode), 'PROTOCOL_ERROR', c.describe());
    assert.equal(s1.headers, 0, `a response on the malformed stream; ${c.describe()}`);
    assert.equal(statusOf(c, 3), 200, c.describe());
    assert.ok(s3.ended && s3.rstCode === null && s3.dataBytes === 2, c.describe());
    await assertConnectionOpen(c);
    await expectCounters(before, {
      'http2.rx_messaging_error': 1,
      'http2.tx_reset': 1,
      [`http.${listener}.downstream_cx_protocol_error`]: 0,
    }, () => c.describe());
    c.destroy();
    await assertStillServing(listener, bad.what);
    assert.deepEqual(await upstreamSince(mark), [`/valid-after/${tag}`]);
  };

  for (const [i, bad] of INVALID_REQUESTS.entries()) {
    it(`http2_protocol_options.stream_error_on_invalid_http_messaging: ${bad.what} -> RST_STREAM(PROTOCOL_ERROR) only; the next stream gets its 200`, async () => {
      await streamErrorCase('serr', bad, `serr-${i}`);
    });
  }

  it('stream error: DATA and trailers the client sent behind the reset stream\'s HEADERS are dropped, the connection stays up', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('serr');
    // The client cannot know of our RST_STREAM yet: its body and trailers for that stream are already on the way.
    c.write(concat(
      headersFrame(1, requestHeaders({ path: '/invalid-stream/racing', method: 'POST', extra: [['X-Upper', '1']] }), { endStream: false }),
      dataFrame(1, 'racing body'),
      headersFrame(1, [['x-trailer', '1']], { endStream: true }),
      headersFrame(3, requestHeaders({ path: '/valid-after/racing' })),
    ));
    const s3 = await c.waitForStreamEnd(3);
    assert.equal(c.streams.get(1)?.rstCode ?? null, ErrorCode.PROTOCOL_ERROR, c.describe());
    assert.equal(statusOf(c, 3), 200, c.describe());
    assert.ok(s3.ended && s3.rstCode === null, c.describe());
    await assertConnectionOpen(c);
    await expectCounters(before, { 'http2.rx_messaging_error': 1, 'http2.tx_reset': 1, 'http.serr.downstream_cx_protocol_error': 0 }, () => c.describe());
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), ['/valid-after/racing']);
  });

  it('HCM stream_error_on_invalid_http_message: true -> RST_STREAM(PROTOCOL_ERROR) only; the next stream gets its 200', async () => {
    await streamErrorCase('hcmserr', INVALID_REQUESTS[0]!, 'hcm-0');
    await streamErrorCase('hcmserr', INVALID_REQUESTS[5]!, 'hcm-5');
  });

  it('override_stream_error_on_invalid_http_message: false wins over the HCM\'s true -> GOAWAY(PROTOCOL_ERROR), closed', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('override');
    c.write(concat(INVALID_REQUESTS[0]!.frames(1, '/invalid-override'), headersFrame(3, requestHeaders({ path: '/valid-after/override' }))));
    await assertGoawayAndClose(c, ErrorCode.PROTOCOL_ERROR);
    assert.equal(c.streams.get(3)?.headers ?? 0, 0, `stream 3 was served after the connection error; ${c.describe()}`);
    await expectCounters(before, { 'http2.rx_messaging_error': 1, 'http.override.downstream_cx_protocol_error': 1 }, () => c.describe());
    await assertStillServing('override', 'the override');
    assert.deepEqual(await upstreamSince(mark), []);
  });

  // ---- 3. max_consecutive_inbound_frames_with_empty_payload ----

  it('max_consecutive_inbound_frames_with_empty_payload 3: runs of 3 empty DATA frames broken by a non-empty one are fine', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('empty3');
    c.write(concat(postHead(1, '/empty3/ok'), ...emptyData(1, 3), dataFrame(1, 'a'), ...emptyData(1, 3), dataFrame(1, 'b', { endStream: true })));
    const s = await c.waitForStreamEnd(1);
    assert.equal(statusOf(c, 1), 200, c.describe());
    assert.ok(s.ended && s.rstCode === null, c.describe());
    await assertConnectionOpen(c);
    assert.equal(up.request('/empty3/ok')?.body?.toString(), 'ab');
    await expectCounters(before, { 'http2.inbound_empty_frames_flood': 0 }, () => c.describe());
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), ['/empty3/ok']);
  });

  it('max_consecutive_inbound_frames_with_empty_payload 3: the 4th empty DATA in a row -> GOAWAY(ENHANCE_YOUR_CALM), http2.inbound_empty_frames_flood', async () => {
    const before = await stats();
    const c = await connect('empty3');
    c.write(postHead(1, '/hold/empty3/flood'));
    // The request head reached the upstream (it is valid); the flood comes after it.
    await waitUntil(() => up.request('/hold/empty3/flood') !== undefined, () => `the request at the upstream; ${c.describe()}`);
    const mark = up.seen.length;
    c.write(concat(...emptyData(1, 3)));
    await assertConnectionOpen(c);
    c.write(dataFrame(1));
    await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
    await expectCounters(before, { 'http2.inbound_empty_frames_flood': 1, 'http.empty3.downstream_cx_protocol_error': 0 }, () => c.describe());
    assert.equal(up.request('/hold/empty3/flood')?.body, null, 'the flooded request body ended at the upstream');
    up.release();
    await assertStillServing('empty3', 'the empty-frame flood');
    assert.deepEqual(await upstreamSince(mark), []);
  });

  it('default max_consecutive_inbound_frames_with_empty_payload 1: single empty frames are fine, two in a row close the connection', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const ok = await connect('def');
    ok.write(concat(postHead(1, '/empty1/ok'), dataFrame(1), dataFrame(1, 'a'), dataFrame(1), dataFrame(1, 'b', { endStream: true })));
    await ok.waitForStreamEnd(1);
    assert.equal(statusOf(ok, 1), 200, ok.describe());
    await assertConnectionOpen(ok);
    assert.equal(up.request('/empty1/ok')?.body?.toString(), 'ab');
    ok.destroy();

    const c = await connect('def');
    c.write(postHead(1, '/hold/empty1/flood'));
    await waitUntil(() => up.request('/hold/empty1/flood') !== undefined, () => `the request at the upstream; ${c.describe()}`);
    c.write(dataFrame(1));
    await assertConnectionOpen(c);
    c.write(dataFrame(1));
    await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
    await expectCounters(before, { 'http2.inbound_empty_frames_flood': 1 }, () => c.describe());
    assert.equal(up.request('/hold/empty1/flood')?.body, null, 'the flooded request body ended at the upstream');
    up.release();
    await assertStillServing('def', 'two empty frames');
    assert.deepEqual(await upstreamSince(mark), ['/empty1/ok', '/hold/empty1/flood']);
  });

  it('a stream opened in the read that ends in a connection error never reaches the upstream', async () => {
    const attacks = [
      { bytes: INVALID_REQUESTS[5]!.frames(1, '/same-read/content-length'), code: ErrorCode.PROTOCOL_ERROR },
      { bytes: concat(postHead(1, '/same-read/empty-flood'), ...emptyData(1, 2)), code: ErrorCode.ENHANCE_YOUR_CALM },
    ];
    for (const a of attacks) {
      // With an idle upstream connection in the pool, a stream started by mistake would reach the upstream at once
      // (instead of racing the client's close with a connect).
      await assertStillServing('def', 'a warm-up request');
      const mark = up.seen.length;
      const c = await connect('def');
      c.write(a.bytes);
      await assertGoawayAndClose(c, a.code);
      assert.deepEqual(await upstreamSince(mark), []);
    }
  });

  // ---- 4. CONTINUATION ----

  it('a header block split over HEADERS + 3 CONTINUATION frames is reassembled: 200, the upstream sees every header intact', async () => {
    const mark = up.seen.length;
    const c = await connect('def');
    const split = 's'.repeat(300);
    const block = encodeHeaderBlock(requestHeaders({ path: '/continuation/ok', extra: [['x-split', split], ['x-after', 'tail']] }));
    const frames = headerFragments(1, block, Math.ceil(block.length / 4), { endStream: true, endHeaders: true });
    assert.deepEqual(new FrameReader().push(frames).map((f) => f.type), [FrameType.HEADERS, FrameType.CONTINUATION, FrameType.CONTINUATION, FrameType.CONTINUATION]);
    c.write(frames);
    await c.waitForStreamEnd(1);
    assert.equal(statusOf(c, 1), 200, c.describe());
    const seen = up.request('/continuation/ok');
    assert.equal(seen?.headers['x-split'], split);
    assert.equal(seen?.headers['x-after'], 'tail');
    await assertConnectionOpen(c);
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), ['/continuation/ok']);
  });

  it('CONTINUATION flood (CVE-2024-27316): a header block one byte over max_request_headers_kb + 16 KiB -> GOAWAY(ENHANCE_YOUR_CALM), http2.header_overflow', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const bound = 60 * 1024 + 16_384; // max_request_headers_kb default 60
    const c = await connect('def');
    // No END_HEADERS: the codec must give up before the block ends.
    c.write(headerFragments(1, headerBlockOfSize('/continuation/flood', bound + 1), 16_384, { endStream: true, endHeaders: false }));
    await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
    await expectCounters(before, { 'http2.header_overflow': 1, 'http.def.downstream_cx_protocol_error': 1 }, () => c.describe());
    await assertStillServing('def', 'the CONTINUATION flood');
    assert.deepEqual(await upstreamSince(mark), []);
  });

  it('a header block of exactly max_request_headers_kb + 16 KiB is not a flood: decoded, answered 431 on its stream', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const bound = 60 * 1024 + 16_384;
    const c = await connect('def');
    c.write(headerFragments(1, headerBlockOfSize('/continuation/at-bound', bound), 16_384, { endStream: true, endHeaders: true }));
    const s = await c.waitForStreamEnd(1);
    assert.equal(statusOf(c, 1), 431, c.describe());
    assert.ok(s.ended, c.describe());
    await assertConnectionOpen(c);
    await expectCounters(before, { 'http2.header_overflow': 1, 'http.def.downstream_cx_protocol_error': 0 }, () => c.describe());
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), []);
  });

  // ---- 5. a header list over max_request_headers_kb ----

  it('max_request_headers_kb 8: a 10 KiB header over HEADERS + CONTINUATION -> 431 on that stream, http2.header_overflow, the next stream served', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('small');
    const big = headersFrame(1, requestHeaders({ path: '/small/too-big', extra: [['x-big', 'v'.repeat(10 * 1024)]] }), { maxFrameSize: 4096 });
    assert.ok(new FrameReader().push(big).some((f) => f.type === FrameType.CONTINUATION));
    c.write(concat(big, headersFrame(3, requestHeaders({ path: '/small/next' }))));
    const s1 = await c.waitForStreamEnd(1);
    const s3 = await c.waitForStreamEnd(3);
    assert.equal(statusOf(c, 1), 431, c.describe());
    assert.ok(s1.ended && s1.dataBytes === 0, c.describe());
    assert.equal(statusOf(c, 3), 200, c.describe());
    assert.ok(s3.ended && s3.dataBytes === 2, c.describe());
    await assertConnectionOpen(c);
    await expectCounters(before, { 'http2.header_overflow': 1, 'http.small.downstream_cx_protocol_error': 0 }, () => c.describe());
    c.destroy();
    await assertStillServing('small', 'a header list over max_request_headers_kb');
    assert.deepEqual(await upstreamSince(mark), ['/small/next']);
  });

  // ---- 6. PRIORITY and WINDOW_UPDATE floods ----

  it('PRIORITY: 100 x (1 + streams opened) are allowed, one more -> GOAWAY(ENHANCE_YOUR_CALM), http2.inbound_priority_frames_flood', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('def');
    const priorities = (n: number): Buffer => concat(...Array.from({ length: n }, () => priorityFrame(1)));
    c.write(priorities(100)); // stream 1 is idle: PRIORITY is allowed there
    await assertConnectionOpen(c);
    c.request(1, '/priority/one'); // one stream opened: 200 allowed in all
    await c.waitForStreamEnd(1);
    assert.equal(statusOf(c, 1), 200, c.describe());
    c.write(priorities(100)); // stream 1 is closed: PRIORITY is still allowed
    await assertConnectionOpen(c);
    c.write(priorities(1));
    await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
    await expectCounters(before, { 'http2.inbound_priority_frames_flood': 1, 'http.def.downstream_cx_protocol_error': 0 }, () => c.describe());
    await assertStillServing('def', 'the PRIORITY flood');
    assert.deepEqual(await upstreamSince(mark), ['/priority/one']);
  });

  it('WINDOW_UPDATE flood: 1,000 WINDOW_UPDATE(0, 1) before any DATA -> GOAWAY(ENHANCE_YOUR_CALM), http2.inbound_window_update_frames_flood', async () => {
    const before = await stats();
    const c = await connect('def');
    c.write(concat(...Array.from({ length: 1000 }, () => windowUpdateFrame(0, 1))));
    await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
    await expectCounters(before, { 'http2.inbound_window_update_frames_flood': 1, 'http.def.downstream_cx_protocol_error': 0 }, () => c.describe());
    await assertStillServing('def', 'the WINDOW_UPDATE flood');
  });

  // Envoy's limit (protocol_constraints.cc since envoyproxy/envoy#14924): more than
  // 5 + 2 x (opened streams + max_inbound_window_update_frames_per_data_frame_sent x DATA frames sent) is a flood.
  it('WINDOW_UPDATE: with nothing opened and no DATA sent, 5 are allowed and the 6th is a flood', async () => {
    const before = await stats();
    const c = await connect('def');
    c.write(concat(...Array.from({ length: 5 }, () => windowUpdateFrame(0, 1))));
    await assertConnectionOpen(c);
    c.write(windowUpdateFrame(0, 1));
    await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
    await expectCounters(before, { 'http2.inbound_window_update_frames_flood': 1 }, () => c.describe());
  });

  it('WINDOW_UPDATE: 10 streams opened and no DATA sent allow 5 + 2 x 10, the 26th is a flood', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('def');
    const heads: Buffer[] = [];
    for (let i = 0; i < 10; i++) heads.push(headersFrame(1 + 2 * i, requestHeaders({ path: `/hold/wu/${i}` })));
    c.write(concat(...heads));
    await waitUntil(() => up.seen.length - mark >= 10, () => `10 requests at the upstream; ${c.describe()}`);
    try {
      // A client raising its streams' receive windows before any response DATA.
      const updates: Buffer[] = [];
      for (let i = 0; i < 25; i++) updates.push(windowUpdateFrame(1 + 2 * (i % 10), 1000));
      c.write(concat(...updates));
      await assertConnectionOpen(c);
      c.write(windowUpdateFrame(1, 1000));
      await assertGoawayAndClose(c, ErrorCode.ENHANCE_YOUR_CALM);
      await expectCounters(before, { 'http2.inbound_window_update_frames_flood': 1 }, () => c.describe());
    } finally {
      up.release();
      c.destroy();
    }
  });

  // ---- 7. connection-level protocol errors ----

  for (const e of CONNECTION_ERRORS) {
    it(`connection error: ${e.what} -> GOAWAY(${errorCodeName(e.code)}, last stream 0), closed, downstream_cx_protocol_error`, async () => {
      const before = await stats();
      const mark = up.seen.length;
      const c = await connect('def', { preface: e.preface ?? true, settings: e.settings ?? [], firstFlight: e.bytes });
      await assertGoawayAndClose(c, e.code);
      assert.equal(c.goaways[0]!.lastStreamId, 0, `no stream was processed; ${c.describe()}`);
      await expectCounters(before, { 'http.def.downstream_cx_protocol_error': 1 }, () => c.describe());
      await assertStillServing('def', e.what);
      assert.deepEqual(await upstreamSince(mark), []);
    });
  }

  it('HEADERS opening a stream below the highest stream opened -> GOAWAY(PROTOCOL_ERROR) (RFC 9113 §5.1.1)', async () => {
    const mark = up.seen.length;
    const c = await connect('def');
    c.request(5, '/order/5');
    await c.waitForStreamEnd(5);
    c.request(3, '/order/3');
    await roundTrip(c); // answered only if the codec carried on
    assert.equal(c.goaways[0] === undefined ? 'none' : errorCodeName(c.goaways[0].errorCode), 'PROTOCOL_ERROR', c.describe());
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), ['/order/5']);
  });

  // ---- 8. request trailers ----

  it('request trailers (HEADERS with END_STREAM after DATA): the upstream gets the whole body, the client a 200, http2.trailers', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('def');
    c.write(concat(
      postHead(1, '/trailers'),
      dataFrame(1, 'hello '),
      dataFrame(1, 'world'),
      headersFrame(1, [['x-checksum', 'abc']], { endStream: true }),
    ));
    const s = await c.waitForStreamEnd(1);
    assert.equal(statusOf(c, 1), 200, c.describe());
    assert.ok(s.ended && s.rstCode === null, c.describe());
    await waitUntil(() => up.request('/trailers')?.body !== null, () => 'the body at the upstream');
    assert.equal(up.request('/trailers')?.body?.toString(), 'hello world');
    await assertConnectionOpen(c);
    await expectCounters(before, { 'http2.trailers': 1, 'http2.rx_messaging_error': 0 }, () => c.describe());
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), ['/trailers']);
  });

  // ---- 9. flow control of responses ----

  it('stream window: SETTINGS_INITIAL_WINDOW_SIZE 100 -> exactly 100 bytes of a 5,000-byte body until WINDOW_UPDATEs, then the rest and END_STREAM', async () => {
    const c = await connect('def', { settings: [[Setting.INITIAL_WINDOW_SIZE, 100]] });
    c.request(1, '/bytes/5000');
    const s = () => c.streams.get(1);
    await c.waitFor(() => (s()?.dataBytes ?? 0) >= 100, '100 bytes of DATA');
    await waitUntil(() => up.request('/bytes/5000')?.body !== null, () => 'the upstream request');
    await roundTrip(c);
    assert.equal(statusOf(c, 1), 200, c.describe());
    assert.equal(s()!.dataBytes, 100, c.describe());
    assert.equal(s()!.ended, false, c.describe());
    c.windowUpdate(1, 1000);
    await c.waitFor(() => s()!.dataBytes >= 1100, '1,100 bytes of DATA');
    await roundTrip(c);
    assert.equal(s()!.dataBytes, 1100, c.describe());
    assert.equal(s()!.ended, false, c.describe());
    c.windowUpdate(1, 3900);
    await c.waitForStreamEnd(1);
    assert.equal(s()!.dataBytes, 5000, c.describe());
    assert.ok(s()!.ended && s()!.rstCode === null, c.describe());
    await assertConnectionOpen(c);
    c.destroy();
  });

  it('connection window: two 50,000-byte responses with large stream windows stop at 65,535 bytes in all until a connection WINDOW_UPDATE', async () => {
    const c = await connect('def', { settings: [[Setting.INITIAL_WINDOW_SIZE, 1_000_000]] });
    c.write(concat(headersFrame(1, requestHeaders({ path: '/bytes/50000?a' })), headersFrame(3, requestHeaders({ path: '/bytes/50000?b' }))));
    await c.waitFor(() => dataBytes(c) >= 65_535, '65,535 bytes of DATA');
    await roundTrip(c);
    assert.equal(dataBytes(c), 65_535, c.describe());
    assert.ok(!(c.streams.get(1)!.ended && c.streams.get(3)!.ended), c.describe());
    c.windowUpdate(0, 100_000 - 65_535);
    await c.waitForStreamEnd(1);
    await c.waitForStreamEnd(3);
    assert.equal(c.streams.get(1)!.dataBytes, 50_000, c.describe());
    assert.equal(c.streams.get(3)!.dataBytes, 50_000, c.describe());
    assert.equal(statusOf(c, 1), 200, c.describe());
    assert.equal(statusOf(c, 3), 200, c.describe());
    await assertConnectionOpen(c);
    c.destroy();
  });

  // ---- 10. GOAWAY from the client ----

  it('the client\'s GOAWAY(NO_ERROR) with a stream in flight: the stream completes, then the connection closes', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('def');
    c.request(1, '/hold/peer-goaway');
    await waitUntil(() => up.request('/hold/peer-goaway') !== undefined, () => `the request at the upstream; ${c.describe()}`);
    c.goaway(0, ErrorCode.NO_ERROR);
    // Legate answers with its own GOAWAY(NO_ERROR, last stream 1) and keeps the stream.
    const g = await c.waitForGoaway();
    assert.equal(errorCodeName(g.errorCode), 'NO_ERROR', c.describe());
    assert.equal(g.lastStreamId, 1, c.describe());
    await roundTrip(c);
    assert.equal(c.closed, false, c.describe());
    up.release();
    const s = await c.waitForStreamEnd(1);
    assert.equal(statusOf(c, 1), 200, c.describe());
    assert.ok(s.ended && s.rstCode === null && s.dataBytes === 'released'.length, c.describe());
    await c.waitForClose();
    await expectCounters(before, { 'http.def.downstream_cx_protocol_error': 0 }, () => c.describe());
    await assertStillServing('def', 'the client\'s GOAWAY');
    assert.deepEqual(await upstreamSince(mark), ['/hold/peer-goaway']);
  });

  // ---- 11. frames on closed and idle streams (RFC 9113 §5.1) ----

  it('DATA and HEADERS on a stream the client reset -> RST_STREAM(STREAM_CLOSED), a stream error only; the connection serves on', async () => {
    const before = await stats();
    const mark = up.seen.length;
    const c = await connect('def');
    c.write(concat(postHead(1, '/closed/peer-reset-1'), rstStreamFrame(1, ErrorCode.CANCEL), dataFrame(1, 'late', { endStream: true })));
    await c.waitForStreamEnd(1);
    c.write(concat(postHead(3, '/closed/peer-reset-3'), rstStreamFrame(3, ErrorCode.CANCEL), headersFrame(3, requestHeaders({ path: '/closed/peer-reset-3' }))));
    await c.waitForStreamEnd(3);
    c.request(5, '/closed/after-peer-resets');
    await c.waitForStreamEnd(5);
    assert.deepEqual(c.resetCodes(), { STREAM_CLOSED: 2 }, c.describe());
    assert.equal(statusOf(c, 5), 200, c.describe());
    await assertConnectionOpen(c);
    await expectCounters(before, { 'http2.tx_reset': 2, 'http.def.downstream_cx_protocol_error': 0 }, () => c.describe());
    c.destroy();
    // Reset in the read that opened them, the streams never started.
    assert.deepEqual(await upstreamSince(mark), ['/closed/after-peer-resets']);
  });

  for (const [what, late] of [
    ['DATA', (id: number): Buffer => dataFrame(id, 'late', { endStream: true })],
    ['HEADERS', (id: number): Buffer => headersFrame(id, requestHeaders({ path: '/closed/ended-again' }))],
  ] as const) {
    it(`${what} on a stream closed after the client's END_STREAM -> GOAWAY(STREAM_CLOSED), downstream_cx_protocol_error`, async () => {
      const before = await stats();
      const mark = up.seen.length;
      const c = await connect('def');
      c.request(1, '/closed/ended');
      const s = await c.waitForStreamEnd(1);
      assert.ok(s.ended && s.rstCode === null && statusOf(c, 1) === 200, c.describe());
      c.write(late(1));
      await assertGoawayAndClose(c, ErrorCode.STREAM_CLOSED);
      assert.equal(c.goaways[0]!.lastStreamId, 1, c.describe());
      await expectCounters(before, { 'http.def.downstream_cx_protocol_error': 1 }, () => c.describe());
      assert.deepEqual(await upstreamSince(mark), ['/closed/ended']);
    });
  }

  it('DATA the client sends after our RST_STREAM(NO_ERROR) (a complete 431 to a request still sending) is ignored', async () => {
    const before = await stats();
    const c = await connect('small');
    c.write(headersFrame(1, requestHeaders({ path: '/closed/ours', method: 'POST', extra: [['x-big', 'v'.repeat(10 * 1024)]] }), { endStream: false, maxFrameSize: 4096 }));
    await c.waitFor(() => c.streams.get(1)?.rstCode !== null && c.streams.get(1)?.rstCode !== undefined, 'RST_STREAM on stream 1');
    assert.equal(statusOf(c, 1), 431, c.describe());
    // The body the client had already sent, then a frame after it saw the reset: neither gets an answer.
    c.write(concat(dataFrame(1, 'in flight'), dataFrame(1, 'late', { endStream: true })));
    await assertConnectionOpen(c);
    assert.equal(c.count(FrameType.RST_STREAM), 1, c.describe());
    assert.deepEqual(c.resetCodes(), { NO_ERROR: 1 }, c.describe());
    await expectCounters(before, { 'http.small.downstream_cx_protocol_error': 0 }, () => c.describe());
    c.destroy();
  });

  it('the closed-stream record is bounded: DATA on a stream we reset 100 resets ago gets RST_STREAM(STREAM_CLOSED), not a connection error', async () => {
    const mark = up.seen.length;
    const c = await connect('serr');
    // 100 malformed requests, each reset by us (stream errors on this listener); only the latest are remembered.
    const bad: Buffer[] = [];
    for (let id = 1; id <= 199; id += 2) bad.push(INVALID_REQUESTS[0]!.frames(id, `/closed/forgotten/${id}`));
    c.write(concat(...bad));
    await c.waitFor(() => c.resetStreams().length === 100, '100 resets');
    // Stream 199 is remembered: its DATA is ignored. Stream 1 is forgotten: a stream error, harmless to a client
    // whose DATA was in flight, instead of a connection error that would take every stream with it.
    c.write(concat(dataFrame(199, 'late'), dataFrame(1, 'late')));
    await c.waitFor(() => c.streams.get(1)?.rstCode === ErrorCode.STREAM_CLOSED, 'RST_STREAM(STREAM_CLOSED) on stream 1');
    await assertConnectionOpen(c);
    assert.equal(c.streams.get(199)?.rstCode, ErrorCode.PROTOCOL_ERROR, c.describe());
    assert.equal(c.count(FrameType.RST_STREAM), 101, c.describe());
    c.destroy();
    assert.deepEqual(await upstreamSince(mark), []);
  });

  it('DATA on stream 1 never opened, below stream 3 (implicitly closed, RFC 9113 §5.1.1) -> RST_STREAM(STREAM_CLOSED)', async () => {
    const c = await connect('def');
    c.write(concat(headersFrame(3, requestHeaders({ path: '/closed/skipped' })), dataFrame(1, 'x', { endStream: true })));
    await c.waitForStreamEnd(3);
    await c.waitForStreamEnd(1);
    assert.equal(c.streams.get(1)?.rstCode, ErrorCode.STREAM_CLOSED, c.describe());
    assert.equal(statusOf(c, 3), 200, c.describe());
    await assertConnectionOpen(c);
    c.destroy();
  });

  for (const [what, frame] of [
    ['DATA', dataFrame(2, 'x')],
    ['WINDOW_UPDATE', windowUpdateFrame(2, 100)],
    ['RST_STREAM', rstStreamFrame(2, ErrorCode.CANCEL)],
  ] as const) {
    it(`${what} on even stream 2 below the client's stream 3 (idle: a server's stream) -> GOAWAY(PROTOCOL_ERROR)`, async () => {
      const before = await stats();
      const c = await connect('def');
      c.request(3, '/closed/even');
      await c.waitForStreamEnd(3);
      c.write(frame);
      await assertGoawayAndClose(c, ErrorCode.PROTOCOL_ERROR);
      await expectCounters(before, { 'http.def.downstream_cx_protocol_error': 1 }, () => c.describe());
    });
  }
});
