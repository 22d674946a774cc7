// End to end: gRPC through Legate (an h2c listener with codec_type AUTO to HTTP/2 clusters) between real peers of
// two implementations, grpc-js and Python's grpcio (C-core), in every pairing: the four call kinds, status and
// trailing metadata, message boundaries, large messages, many concurrent streams on one channel, deadlines,
// cancellation both ways, responses that stream rather than arrive whole, and Legate's own replies as gRPC errors.
// The same specs first run client → server directly, so a failure through Legate is Legate's, not the peers'.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startLegate, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import {
  Code,
  PATHS,
  echoesMatch,
  encodeEnvelope,
  jsClient,
  makeEchoClient,
  mapToMetadata,
  startJsEchoServer,
  startSilentH2Upstream,
  summarize,
  requestMessage,
  type CallOutcome,
  type CallSpec,
  type EchoClientDriver,
  type EchoServerPeer,
  type JsEchoServer,
  type ReceivedMessage,
  type SilentH2Upstream,
} from '../support/grpc-peers.ts';
import { PythonEchoServer, pythonClient } from '../support/grpc-python.ts';

const MiB = 1024 * 1024;
/** A status message that needs grpc-message's percent-encoding: '%', non-ASCII, spaces. */
const FAIL_MESSAGE = 'precondition failed: 100% sure ✓ (ünïcödé)';
const BIN_TRAILER = Buffer.from([0, 255, 1, 128, 10, 13]).toString('base64');
const trailers = (tag: string): string => JSON.stringify({ 'x-trailer-a': `alpha-${tag}`, 'x-trailer-bin': BIN_TRAILER });

/** One scenario: the call to make and what must be true of its outcome (and of the server's record of it). */
interface Scenario {
  name: string;
  spec: CallSpec;
  check(o: CallOutcome, server: EchoServerPeer): Promise<void> | void;
}

function lens(r: ReceivedMessage[]): number[] {
  return r.map((m) => m.len);
}

function describeOutcome(o: CallOutcome): string {
  return JSON.stringify({ code: o.code, details: o.details, trailers: o.trailers, received: o.received.map((r) => ({ len: r.len, intact: r.intact, seq: r.h['seq'] })), failures: o.failures?.slice(0, 5) });
}

function assertOk(o: CallOutcome): void {
  assert.equal(o.code, Code.OK, `expected OK, got ${describeOutcome(o)}`);
}

/** The scenarios every client/server pair runs, directly and through Legate; ids are unique per batch. */
function scenarios(tag: string): Scenario[] {
  const id = (name: string): string => `${tag}-${name}`;
  const md = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({ 'x-call-id': id(name), ...extra });
  return [
    {
      name: 'unary: echo intact, request metadata (text and -bin) reaches the server, trailing metadata reaches the client',
      spec: { kind: 'unary', size: 1000, metadata: md('unary', { 'x-trailers': trailers(tag), 'x-req-text': 'hello', 'x-req-bin': 'AQID' }) },
      async check(o, server) {
        assertOk(o);
        assert.ok(echoesMatch(o), describeOutcome(o));
        assert.equal(o.headers['x-server'], server.kind, 'initial metadata from the server');
        assert.equal(o.trailers['x-trailer-a'], `alpha-${tag}`);
        assert.equal(o.trailers['x-trailer-bin'], BIN_TRAILER);
        const seen = await server.waitCall(id('unary'));
        assert.equal(seen.outcome, 'ok');
        assert.equal(seen.metadata['x-req-text'], 'hello');
        assert.equal(seen.metadata['x-req-bin'], 'AQID');
        assert.deepEqual(seen.received.map((m) => m.intact), [true]);
      },
    },
    {
      name: 'unary: an error status (trailers-only) keeps grpc-status, grpc-message and custom trailers',
      spec: { kind: 'unary', size: 10, metadata: md('unary-fail', { 'x-fail-code': String(Code.FAILED_PRECONDITION), 'x-fail-message': encodeURIComponent(FAIL_MESSAGE), 'x-trailers': trailers(tag) }) },
      check(o) {
        assert.equal(o.code, Code.FAILED_PRECONDITION, describeOutcome(o));
        assert.equal(o.details, FAIL_MESSAGE);
        assert.equal(o.trailers['x-trailer-a'], `alpha-${tag}`);
        assert.equal(o.trailers['x-trailer-bin'], BIN_TRAILER);
        assert.equal(o.received.length, 0);
      },
    },
    {
      name: 'server stream: every message arrives whole, in order, with its own size (empty ones too)',
      spec: { kind: 'server_stream', sizes: [0, 1, 5, 16_383, 16_384, 16_385, 70_000, 0, 3], metadata: md('sstream', { 'x-trailers': trailers(tag) }) },
      check(o, server) {
        assertOk(o);
        assert.deepEqual(lens(o.received), [0, 1, 5, 16_383, 16_384, 16_385, 70_000, 0, 3]);
        assert.ok(o.received.every((r, i) => r.intact && r.h['seq'] === i && r.h['server'] === server.kind), describeOutcome(o));
        assert.equal(o.trailers['x-trailer-a'], `alpha-${tag}`);
      },
    },
    {
      name: 'client stream: the server counts the messages and bytes sent, with their boundaries',
      spec: { kind: 'client_stream', sizes: [0, 1, 16_383, 16_384, 65_536, 100_000, 0, 7], metadata: md('cstream', { 'x-trailers': trailers(tag) }) },
      async check(o, server) {
        assertOk(o);
        const r = o.received[0];
        assert.ok(r !== undefined && r.intact, describeOutcome(o));
        assert.equal(r.h['count'], 8);
        assert.equal(r.h['total'], 0 + 1 + 16_383 + 16_384 + 65_536 + 100_000 + 0 + 7);
        assert.deepEqual(r.h['sizes'], o.sent.map((s) => s.len));
        assert.deepEqual(r.h['shas'], o.sent.map((s) => s.sha));
        assert.equal(o.trailers['x-trailer-a'], `alpha-${tag}`);
        const seen = await server.waitCall(id('cstream'));
        assert.ok(seen.received.every((m) => m.intact));
      },
    },
    {
      name: 'bidi ping-pong: each message is echoed before the next is sent (neither direction waits for the end)',
      spec: { kind: 'bidi', sizes: [1, 0, 1000, 65_535, 2, 300_000, 9], metadata: md('bidi', { 'x-trailers': trailers(tag) }) },
      check(o) {
        assertOk(o);
        assert.ok(echoesMatch(o), describeOutcome(o));
        assert.equal(o.trailers['x-trailer-a'], `alpha-${tag}`);
        assert.equal(o.trailers['x-trailer-bin'], BIN_TRAILER);
      },
    },
    {
      name: 'server stream: a server that aborts after two messages → the client gets both, then its status and trailers',
      spec: { kind: 'server_stream', sizes: [10, 20, 30, 40], metadata: md('sabort', { 'x-fail-code': String(Code.ABORTED), 'x-fail-after': '2', 'x-fail-message': encodeURIComponent(FAIL_MESSAGE), 'x-trailers': trailers(tag) }) },
      check(o) {
        assert.equal(o.code, Code.ABORTED, describeOutcome(o));
        assert.equal(o.details, FAIL_MESSAGE);
        assert.deepEqual(lens(o.received), [10, 20]);
        assert.ok(o.received.every((r) => r.intact));
        assert.equal(o.trailers['x-trailer-a'], `alpha-${tag}`);
      },
    },
    {
      name: 'bidi: a server that fails mid-stream → the client sees its status after the echoes so far',
      spec: { kind: 'bidi', sizes: [5, 6, 7, 8], metadata: md('babort', { 'x-fail-code': String(Code.FAILED_PRECONDITION), 'x-fail-after': '2', 'x-fail-message': 'third%20message%20refused' }) },
      check(o) {
        assert.equal(o.code, Code.FAILED_PRECONDITION, describeOutcome(o));
        assert.equal(o.details, 'third message refused');
        assert.deepEqual(lens(o.received), [5, 6]);
      },
    },
    {
      name: 'large unary: 5 MiB each way',
      spec: { kind: 'unary', size: 5 * MiB, respSize: 5 * MiB + 3, metadata: md('large-unary') },
      check(o) {
        assertOk(o);
        const r = o.received[0];
        assert.ok(r !== undefined && r.intact, describeOutcome(o));
        assert.equal(r.len, 5 * MiB + 3);
        assert.equal(r.h['gotLen'], 5 * MiB);
        assert.equal(r.h['gotSha'], o.sent[0]!.sha);
      },
    },
    {
      name: 'large streams: several MiB messages from the server, from the client, and echoed',
      spec: { kind: 'server_stream', sizes: [3 * MiB, 1, 4 * MiB], metadata: md('large-sstream') },
      check(o) {
        assertOk(o);
        assert.deepEqual(lens(o.received), [3 * MiB, 1, 4 * MiB]);
        assert.ok(o.received.every((r) => r.intact));
      },
    },
    {
      name: 'large client stream',
      spec: { kind: 'client_stream', sizes: [3 * MiB, 4 * MiB + 1], metadata: md('large-cstream') },
      check(o) {
        assertOk(o);
        assert.deepEqual(o.received[0]?.h['sizes'], [3 * MiB, 4 * MiB + 1]);
        assert.deepEqual(o.received[0]?.h['shas'], o.sent.map((s) => s.sha));
      },
    },
    {
      name: 'large bidi',
      spec: { kind: 'bidi', sizes: [4 * MiB, 2 * MiB + 5], metadata: md('large-bidi') },
      check(o) {
        assertOk(o);
        assert.ok(echoesMatch(o), describeOutcome(o));
      },
    },
    {
      name: 'deadline: a client deadline shorter than the server delay → DEADLINE_EXCEEDED; the server sees it cancelled',
      spec: { kind: 'unary', size: 10, deadlineMs: 300, metadata: md('deadline', { 'x-delay-ms': '30000' }) },
      async check(o, server) {
        assert.equal(o.code, Code.DEADLINE_EXCEEDED, describeOutcome(o));
        const seen = await server.waitCall(id('deadline'));
        assert.equal(seen.outcome, 'cancelled');
        // The deadline travelled as grpc-timeout: the server had one, of the client's size (C-core rounds its
        // encoding up, so not exactly 300 ms), not none.
        assert.ok(seen.deadlineMs !== null && seen.deadlineMs < 1000, `server deadline ${seen.deadlineMs}`);
      },
    },
    {
      name: 'deadline on a stream: the messages before it arrive, then DEADLINE_EXCEEDED',
      spec: { kind: 'server_stream', sizes: [11, 12], deadlineMs: 400, metadata: md('deadline-stream', { 'x-wait-ack': `never-${tag}` }) },
      async check(o, server) {
        assert.equal(o.code, Code.DEADLINE_EXCEEDED, describeOutcome(o));
        assert.deepEqual(lens(o.received), [11]);
        assert.equal((await server.waitCall(id('deadline-stream'))).outcome, 'cancelled');
      },
    },
    {
      name: 'client cancels a server stream after the first message → the server sees the call cancelled',
      spec: { kind: 'server_stream', sizes: [10, 10, 10], cancelAfter: 1, metadata: md('cancel', { 'x-wait-ack': `never-${tag}` }) },
      async check(o, server) {
        assert.equal(o.code, Code.CANCELLED, describeOutcome(o));
        assert.deepEqual(lens(o.received), [10]);
        assert.equal((await server.waitCall(id('cancel'))).outcome, 'cancelled');
      },
    },
    {
      name: 'client cancels a bidi stream mid-way → the server sees the call cancelled',
      spec: { kind: 'bidi', sizes: [5, 5, 5, 5], cancelAfter: 2, metadata: md('cancel-bidi', { 'x-linger-ms': '5000' }) },
      async check(o, server) {
        assert.equal(o.code, Code.CANCELLED, describeOutcome(o));
        assert.deepEqual(lens(o.received), [5, 5]);
        const seen = await server.waitCall(id('cancel-bidi'));
        assert.equal(seen.outcome, 'cancelled');
        assert.equal(seen.received.length, 2);
      },
    },
    // Last, on the channel every scenario above used (cancelled and reset streams included), as a long-lived
    // client's channel would be.
    {
      name: '200 concurrent unary calls on one channel while 3 long bidi streams run',
      spec: { kind: 'concurrent', unary: 200, size: 2000, streams: 3, streamSizes: Array.from({ length: 40 }, (_, i) => (i * 997) % 20_000) },
      check(o) {
        assert.equal(o.total, 203);
        assert.equal(o.okCount, 203, `failures: ${JSON.stringify(o.failures?.slice(0, 10))}`);
      },
    },
  ];
}

/** Runs the specs once (lazily, shared by the `it`s) so every scenario reports on its own. */
function batch(client: EchoClientDriver, target: () => string, specs: CallSpec[]): () => Promise<CallOutcome[]> {
  let p: Promise<CallOutcome[]> | null = null;
  return () => (p ??= client.run(target(), specs));
}

function pairSuite(via: string, client: EchoClientDriver, server: () => EchoServerPeer, target: () => string, extraContext: () => string): void {
  const serverKind = (): string => server().kind;
  describe(`${client.kind} client → ${via}`, () => {
    const tag = `${via}-${client.kind}-${Math.random().toString(36).slice(2, 8)}`;
    const list = scenarios(tag);
    const run = batch(client, target, list.map((s) => s.spec));
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      it(s.name, async () => {
        const outcomes = await run();
        try {
          await s.check(outcomes[i]!, server());
        } catch (err) {
          // node:test prints the stack, which already holds the message: add the context to both.
          const e = err as Error;
          const context = `\n(${client.kind} client, ${serverKind()} server)${extraContext()}`;
          e.message += context;
          if (typeof e.stack === 'string') e.stack += context;
          throw e;
        }
      });
    }
  });
}

/** A streamed response is not held until it is complete: message 1 must arrive while the server waits for it. */
async function assertStreamsNotBuffered(target: string, server: EchoServerPeer, token: string): Promise<void> {
  const client = makeEchoClient(target);
  try {
    const req = requestMessage(0, 0, { sizes: [777, 778] });
    const call = client.makeServerStreamRequest(PATHS.ServerStream, (b: Buffer) => b, (b: Buffer) => b, req.bytes, mapToMetadata({ 'x-call-id': token, 'x-wait-ack': token }), {});
    const got: ReceivedMessage[] = [];
    const status = new Promise<number>((resolve) => call.on('status', (s) => resolve(s.code)));
    call.on('error', () => {});
    const first = new Promise<void>((resolve, reject) => {
      // A liveness bound, not a timing assertion: the server will not send more until we ack.
      const timer = setTimeout(() => reject(new Error('message 1 was not delivered while the server waited for its receipt: the response is buffered')), 10_000);
      call.on('data', (m: Buffer) => {
        got.push(summarize(m));
        if (got.length === 1) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await first;
    } catch (err) {
      call.cancel();
      throw err;
    }
    assert.equal(got.length, 1, 'the server has sent only one message so far');
    server.ack(token);
    assert.equal(await status, Code.OK);
    assert.deepEqual(lens(got), [777, 778]);
    assert.ok(got.every((r) => r.intact));
  } finally {
    client.close();
  }
}

interface RawH2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | null;
  body: Buffer;
}

/** A gRPC request by hand over node:http2 (h2c), to see the wire form of an answer, not a client's reading of it. */
function rawGrpcRequest(port: number, path: string, extraHeaders: Record<string, string> = {}): Promise<RawH2Result> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no complete answer to ${path} within 15 s`));
    }, 15_000);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extraHeaders });
    const msg = encodeEnvelope({ seq: 0, len: 0, sha: '' }, Buffer.alloc(0));
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    req.end(frame);
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      headers = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('close', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status: Number(headers[':status']), headers, trailers, body: Buffer.concat(chunks) });
    });
  });
}

const ALL_PAIRS: [EchoClientDriver, 'js' | 'python'][] = [
  [jsClient, 'js'],
  [pythonClient, 'python'],
  [jsClient, 'python'],
  [pythonClient, 'js'],
];

describe('gRPC', () => {
  let jsServer: JsEchoServer;
  let pyServer: PythonEchoServer;
  const serverOf = (kind: 'js' | 'python'): EchoServerPeer => (kind === 'js' ? jsServer : pyServer);

  before(async () => {
    [jsServer, pyServer] = await Promise.all([startJsEchoServer(), PythonEchoServer.start()]);
  });

  after(async () => {
    await Promise.all([jsServer?.close(), pyServer?.close()]);
  });

  // The peers themselves, client → server with nothing in between.
  describe('peers directly (no Legate)', () => {
    for (const [client, kind] of ALL_PAIRS) {
      pairSuite(`${kind} server directly`, client, () => serverOf(kind), () => `127.0.0.1:${serverOf(kind).port}`, () => (kind === 'python' ? `\npython server stderr:\n${pyServer.stderr}` : ''));
    }

    it('a streamed response arrives message by message (js and python servers)', async () => {
      await assertStreamsNotBuffered(`127.0.0.1:${jsServer.port}`, jsServer, `direct-nobuf-js-${Date.now()}`);
      await assertStreamsNotBuffered(`127.0.0.1:${pyServer.port}`, pyServer, `direct-nobuf-py-${Date.now()}`);
    });

    it('the silent HTTP/2 upstream never answers, so only a deadline ends a call to it', async () => {
      const silent = await startSilentH2Upstream();
      try {
        const [o] = await jsClient.run(`127.0.0.1:${silent.port}`, [{ kind: 'unary', size: 1, deadlineMs: 200 }]);
        assert.equal(o!.code, Code.DEADLINE_EXCEEDED, describeOutcome(o!));
        await silent.waitClosed(1);
        assert.equal(silent.streams[0]!.headers['grpc-timeout'] !== undefined, true);
      } finally {
        await silent.close();
      }
    });
  });

  describe('through Legate (h2c listener, HTTP/2 clusters)', () => {
    let legate: LegateProcess;
    let silent: SilentH2Upstream;
    let toJs: number;
    let toPy: number;
    let edge: number;
    const legateLog = (): string => (legate !== undefined ? `\nlegate stderr:\n${legate.stderr.slice(-4000)}` : '');

    before(async () => {
      silent = await startSilentH2Upstream();
      const h2 = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
`;
      // The default max_concurrent_streams (100) under 200 concurrent calls with cancellations: a stream the client
      // cancels frees its slot at once, so a new stream in the same read as the cancel is served, not refused.
      const auto = '          codec_type: AUTO\n';
      const grpcRoute = (clusterName: string): { match: string; action: string } => ({
        match: '{ prefix: "/legate.test.Echo/", grpc: {} }',
        action: `route: { cluster: ${clusterName}, timeout: 0s, max_stream_duration: { grpc_timeout_header_max: 0s } }`,
      });
      const byHeader = (value: string, action: string): { match: string; action: string } => ({
        match: `{ prefix: "/legate.test.Echo/", grpc: {}, headers: [{ name: x-route, string_match: { exact: ${value} } }] }`,
        action,
      });
      const refusedPort = await unusedPort(); // nothing listens there
      const config = bootstrap(
        [
          hcmListener({ name: 'to_js', hcmExtra: auto, routes: [grpcRoute('js_echo')] }),
          hcmListener({ name: 'to_py', hcmExtra: auto, routes: [grpcRoute('py_echo')] }),
          hcmListener({
            name: 'edge',
            hcmExtra: auto,
            routes: [
              byHeader('refused', 'route: { cluster: refused }'),
              byHeader('nohost', 'route: { cluster: nohost }'),
              byHeader('timeout', 'route: { cluster: js_echo, timeout: 0.3s }'),
              byHeader('duration', 'route: { cluster: js_echo, timeout: 0s, max_stream_duration: { max_stream_duration: 0.3s } }'),
              byHeader('grpc-timeout', 'route: { cluster: silent, timeout: 0s, max_stream_duration: { grpc_timeout_header_max: 0s } }'),
              grpcRoute('js_echo'),
            ],
          }),
        ],
        [
          cluster({ name: 'js_echo', extra: h2, endpoints: [{ address: '127.0.0.1', port: jsServer.port }] }),
          cluster({ name: 'py_echo', extra: h2, endpoints: [{ address: '127.0.0.1', port: pyServer.port }] }),
          cluster({ name: 'silent', extra: h2, endpoints: [{ address: '127.0.0.1', port: silent.port }] }),
          cluster({ name: 'refused', extra: h2, endpoints: [{ address: '127.0.0.1', port: refusedPort }] }),
          cluster({ name: 'nohost', type: 'STRICT_DNS', extra: `${h2}    dns_lookup_family: V4_ONLY\n    dns_refresh_rate: 1s\n`, endpoints: [{ address: 'no-such-host.invalid', port: 80 }] }),
        ],
      );
      legate = await startLegate({ config, concurrency: 2 });
      [toJs, toPy, edge] = [await legate.listenerPort('to_js'), await legate.listenerPort('to_py'), await legate.listenerPort('edge')];
    });

    after(async () => {
      await legate?.stop();
      await silent?.close();
    });

    for (const [client, kind] of ALL_PAIRS) {
      pairSuite(`${kind} server via Legate`, client, () => serverOf(kind), () => `127.0.0.1:${kind === 'js' ? toJs : toPy}`, () => `${kind === 'python' ? `\npython server stderr:\n${pyServer.stderr}` : ''}${legateLog()}`);
    }

    it('a streamed response is passed on message by message, not buffered whole (js and python servers)', async () => {
      await assertStreamsNotBuffered(`127.0.0.1:${toJs}`, jsServer, `legate-nobuf-js-${Date.now()}`);
      await assertStreamsNotBuffered(`127.0.0.1:${toPy}`, pyServer, `legate-nobuf-py-${Date.now()}`);
    });

    describe('local replies are gRPC errors', () => {
      const localSpecs = (tag: string): CallSpec[] => [
        { kind: 'unary', size: 1, path: '/legate.test.Nope/Unary', metadata: { 'x-call-id': `${tag}-nr` } },
        { kind: 'unary', size: 1, metadata: { 'x-route': 'refused' } },
        { kind: 'unary', size: 1, metadata: { 'x-route': 'nohost' } },
        { kind: 'server_stream', sizes: [1], metadata: { 'x-route': 'refused' } },
      ];
      for (const client of [jsClient, pythonClient]) {
        it(`${client.kind} client: no route → UNIMPLEMENTED; refused or no host → UNAVAILABLE`, async () => {
          const [nr, refused, nohost, refusedStream] = await client.run(`127.0.0.1:${edge}`, localSpecs(`local-${client.kind}`));
          assert.equal(nr!.code, Code.UNIMPLEMENTED, `${describeOutcome(nr!)}${legateLog()}`);
          assert.equal(refused!.code, Code.UNAVAILABLE, `${describeOutcome(refused!)}${legateLog()}`);
          assert.equal(nohost!.code, Code.UNAVAILABLE, `${describeOutcome(nohost!)}${legateLog()}`);
          assert.match(nohost!.details, /no healthy upstream/);
          assert.equal(refusedStream!.code, Code.UNAVAILABLE, `${describeOutcome(refusedStream!)}${legateLog()}`);
        });
      }

      it('on the wire: HTTP 200, application/grpc, grpc-status in a trailers-only response (not an HTTP error a client maps)', async () => {
        const cases: [string, Record<string, string>, number][] = [
          ['/legate.test.Nope/Unary', {}, Code.UNIMPLEMENTED],
          [PATHS.Unary, { 'x-route': 'refused' }, Code.UNAVAILABLE],
          [PATHS.Unary, { 'x-route': 'nohost' }, Code.UNAVAILABLE],
        ];
        for (const [path, headers, code] of cases) {
          const r = await rawGrpcRequest(edge, path, headers);
          const where = `${path} ${JSON.stringify(headers)}: ${JSON.stringify({ status: r.status, headers: r.headers, trailers: r.trailers, body: r.body.toString('latin1') })}${legateLog()}`;
          assert.equal(r.status, 200, where);
          assert.match(String(r.headers['content-type']), /^application\/grpc/, where);
          assert.equal(r.headers['grpc-status'], String(code), where);
          assert.equal(r.body.length, 0, where);
        }
      });

      // As Envoy: the route timeout's 504 maps to UNAVAILABLE (gRPC's HTTP mapping), so gRPC clients see
      // "Unavailable: upstream request timeout"; the gRPC deadline (grpc-timeout, max_stream_duration) is
      // DEADLINE_EXCEEDED (next tests).
      it('route timeout: the upstream is reset and the client gets UNAVAILABLE "upstream request timeout"', async () => {
        for (const client of [jsClient, pythonClient]) {
          const callId = `local-timeout-${client.kind}-${Date.now()}`;
          const [o] = await client.run(`127.0.0.1:${edge}`, [{ kind: 'unary', size: 1, metadata: { 'x-route': 'timeout', 'x-call-id': callId, 'x-delay-ms': '30000' } }]);
          assert.equal(o!.code, Code.UNAVAILABLE, `${client.kind}: ${describeOutcome(o!)}${legateLog()}`);
          assert.match(o!.details, /upstream request timeout/);
          assert.equal((await jsServer.waitCall(callId)).outcome, 'cancelled', 'the server sees its call reset');
        }
      });

      it('route max_stream_duration: DEADLINE_EXCEEDED from Legate (the client set no deadline)', async () => {
        for (const client of [jsClient, pythonClient]) {
          const callId = `local-duration-${client.kind}-${Date.now()}`;
          const [o] = await client.run(`127.0.0.1:${edge}`, [{ kind: 'unary', size: 1, metadata: { 'x-route': 'duration', 'x-call-id': callId, 'x-delay-ms': '30000' } }]);
          assert.equal(o!.code, Code.DEADLINE_EXCEEDED, `${client.kind}: ${describeOutcome(o!)}${legateLog()}`);
          assert.equal((await jsServer.waitCall(callId)).outcome, 'cancelled', 'the server sees its call reset');
        }
      });

      it('route max_stream_duration on a stream under way: the messages before it, then DEADLINE_EXCEEDED in trailers (not a reset)', async () => {
        for (const client of [jsClient, pythonClient]) {
          const callId = `local-duration-stream-${client.kind}-${Date.now()}`;
          const [o] = await client.run(`127.0.0.1:${edge}`, [{ kind: 'server_stream', sizes: [11, 12], metadata: { 'x-route': 'duration', 'x-call-id': callId, 'x-wait-ack': `never-${callId}` } }]);
          assert.equal(o!.code, Code.DEADLINE_EXCEEDED, `${client.kind}: ${describeOutcome(o!)}${legateLog()}`);
          assert.deepEqual(o!.received.map((m) => m.len), [11], `${client.kind}: ${describeOutcome(o!)}`);
          assert.equal((await jsServer.waitCall(callId)).outcome, 'cancelled', 'the server sees its call reset');
        }
      });

      it('grpc-timeout honoured (grpc_timeout_header_max: 0s): DEADLINE_EXCEEDED from Legate for an upstream that never answers', async () => {
        // The header is sent as metadata, without a client deadline: only Legate can end this call.
        const before = silent.streams.length;
        const r = await rawGrpcRequest(edge, PATHS.Unary, { 'x-route': 'grpc-timeout', 'grpc-timeout': '300m' });
        const where = JSON.stringify({ status: r.status, headers: r.headers, trailers: r.trailers }) + legateLog();
        const grpcStatus = r.trailers?.['grpc-status'] ?? r.headers['grpc-status'];
        assert.equal(r.status, 200, where);
        assert.equal(grpcStatus, String(Code.DEADLINE_EXCEEDED), where);
        await silent.waitClosed(before + 1);
        assert.equal(silent.streams[before]!.headers['grpc-timeout'], '300m', 'grpc-timeout is passed upstream');
      });
    });
  });
});
