// Test support: real gRPC peers (@grpc/grpc-js) for one service, legate.test.Echo, with no protoc or codegen.
// Every message is raw bytes in a tiny envelope that grpc_peer.py (grpcio, C-core) speaks too:
//   u32 big-endian length of a JSON header | the JSON header (utf-8) | payload bytes
// The header carries the payload's length and sha256, so every hop's integrity and message boundaries are checked.
//
// Call behaviour is asked for with request metadata (the same keys for both server implementations):
//   x-call-id       the server records the call under this id (SeenCall)
//   x-delay-ms      wait before the first response message (ClientStream: after the last request message)
//   x-fail-code     end with this status code instead of OK, after x-fail-after response messages (default 0;
//   x-fail-message  Unary with 0 answers trailers-only), with this grpc-message (percent-encoded in the metadata:
//                   metadata is ASCII, a status message need not be)
//   x-trailers      JSON object of trailing metadata to send (keys ending in -bin: base64 values)
//   x-wait-ack      ServerStream: after the first message, wait until the test calls ack(token)
//   x-linger-ms     ClientStream/Bidi: once the request stream ends, give the call this long to turn out reset
//                   rather than half-closed (servers see a client's RST_STREAM as an end of the requests first)
// Unary request header: { respSize? } (default: echo the payload). ServerStream request header: { sizes: [...] }.
// Responses say what the server got: { seq, len, sha, gotLen, gotSha, server } (ClientStream: count, total,
// sizes, shas). Every server sends initial metadata x-server: js|python with its first message.

import * as grpc from '@grpc/grpc-js';
import crypto from 'node:crypto';
import type { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type net from 'node:net';

export const SERVICE = 'legate.test.Echo';
export const PATHS = {
  Unary: `/${SERVICE}/Unary`,
  ServerStream: `/${SERVICE}/ServerStream`,
  ClientStream: `/${SERVICE}/ClientStream`,
  Bidi: `/${SERVICE}/Bidi`,
} as const;
export type MethodName = keyof typeof PATHS;

/** Both peers raise their message limits this far (gRPC's default is 4 MiB to receive). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** gRPC status codes used by the tests (grpc.status, by number so results from Python compare directly). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

// ---- the envelope ----

export interface Envelope {
  h: Record<string, unknown>;
  p: Buffer;
}

export function sha256(p: Buffer): string {
  return crypto.createHash('sha256').update(p).digest('hex');
}

export function encodeEnvelope(h: Record<string, unknown>, p: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.length + p.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  p.copy(out, 4 + json.length);
  return out;
}

export function decodeEnvelope(b: Buffer): Envelope {
  if (b.length < 4) throw new Error(`envelope too short (${b.length} bytes)`);
  const n = b.readUInt32BE(0);
  if (4 + n > b.length) throw new Error(`envelope header length ${n} exceeds message of ${b.length} bytes`);
  return { h: JSON.parse(b.subarray(4, 4 + n).toString('utf8')) as Record<string, unknown>, p: b.subarray(4 + n) };
}

/** A request message: seq, len and sha of a random payload of `size` bytes. */
export function requestMessage(seq: number, size: number, extra: Record<string, unknown> = {}): { bytes: Buffer; len: number; sha: string } {
  const p = crypto.randomBytes(size);
  const sha = sha256(p);
  return { bytes: encodeEnvelope({ seq, len: size, sha, ...extra }, p), len: size, sha };
}

const identity = (b: Buffer): Buffer => b;

/** The service, for server.addService and makeGenericClientConstructor: raw bytes both ways. */
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Unary: { path: PATHS.Unary, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  ServerStream: { path: PATHS.ServerStream, requestStream: false, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  ClientStream: { path: PATHS.ClientStream, requestStream: true, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  Bidi: { path: PATHS.Bidi, requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

// ---- metadata as plain objects ----

/** key -> value; -bin values base64; repeated keys joined with ','. */
export type MetadataMap = Record<string, string>;

export function metadataToMap(md: grpc.Metadata | null | undefined): MetadataMap {
  const out: MetadataMap = {};
  if (md === null || md === undefined) return out;
  for (const [key, values] of Object.entries(md.toJSON())) {
    out[key] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v))).join(',');
  }
  return out;
}

export function mapToMetadata(map: MetadataMap | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(map ?? {})) {
    if (k.endsWith('-bin')) md.set(k, Buffer.from(v, 'base64'));
    else md.set(k, v);
  }
  return md;
}

// ---- servers ----

/** What a server saw of one call, recorded when the call is over. */
export interface SeenCall {
  id: string;
  method: MethodName;
  /** Request metadata (text keys). */
  metadata: MetadataMap;
  /** Milliseconds left until the call's deadline when the server got it (from grpc-timeout); null: no deadline. */
  deadlineMs: number | null;
  /** Request messages as the server decoded them. */
  received: { len: number; sha: string; intact: boolean }[];
  /** ok / error: the handler finished; cancelled: the call ended under it (client cancel, RST_STREAM, deadline). */
  outcome: 'ok' | 'error' | 'cancelled';
}

/** A running Echo server, whatever its implementation (grpc-js here, grpcio in grpc-python.ts). */
export interface EchoServerPeer {
  readonly kind: 'js' | 'python';
  readonly port: number;
  /** Lets a ServerStream waiting on x-wait-ack go on. */
  ack(token: string): void;
  /** Resolves with the record of call `id` once it is over. */
  waitCall(id: string, timeoutMs?: number): Promise<SeenCall>;
  close(): Promise<void>;
}

/** Keeps SeenCall records and lets tests wait for one. Shared by the server implementations. */
export class CallLog {
  readonly calls = new Map<string, SeenCall>();
  private readonly waiters = new Map<string, ((c: SeenCall) => void)[]>();

  add(c: SeenCall): void {
    this.calls.set(c.id, c);
    const ws = this.waiters.get(c.id);
    if (ws !== undefined) {
      this.waiters.delete(c.id);
      for (const w of ws) w(c);
    }
  }

  wait(id: string, timeoutMs = 15_000, who = 'server'): Promise<SeenCall> {
    const c = this.calls.get(id);
    if (c !== undefined) return Promise.resolve(c);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${who}: call ${id} not over after ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(id) ?? [];
      list.push((cc) => {
        clearTimeout(timer);
        resolve(cc);
      });
      this.waiters.set(id, list);
    });
  }
}

interface Behaviour {
  id: string;
  delayMs: number;
  failCode: number;
  failMessage: string;
  failAfter: number;
  trailers: MetadataMap;
  waitAck: string | null;
  lingerMs: number;
}

function behaviourOf(md: MetadataMap): Behaviour {
  return {
    id: md['x-call-id'] ?? `anon-${crypto.randomUUID()}`,
    delayMs: Number(md['x-delay-ms'] ?? 0),
    failCode: Number(md['x-fail-code'] ?? 0),
    failMessage: decodeURIComponent(md['x-fail-message'] ?? ''),
    failAfter: Number(md['x-fail-after'] ?? 0),
    trailers: md['x-trailers'] !== undefined ? (JSON.parse(md['x-trailers']) as MetadataMap) : {},
    waitAck: md['x-wait-ack'] ?? null,
    lingerMs: Number(md['x-linger-ms'] ?? 0),
  };
}

type AnyServerCall = grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerReadableStream<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>;

/** One call in the grpc-js server: its behaviour, what it received, and how it ended. */
class JsCallState {
  readonly b: Behaviour;
  readonly rec: SeenCall;
  private readonly log: CallLog;
  private done: boolean;
  private headersSent: boolean;
  private readonly call: AnyServerCall;
  /** Pending waits (delay / ack) to settle early when the call is cancelled. */
  private readonly onCancel: (() => void)[] = [];

  constructor(log: CallLog, method: MethodName, call: AnyServerCall) {
    this.log = log;
    this.call = call;
    const md = metadataToMap(call.metadata);
    this.b = behaviourOf(md);
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    this.rec = { id: this.b.id, method, metadata: md, deadlineMs: Number.isFinite(ms) ? ms - Date.now() : null, received: [], outcome: 'ok' };
    this.done = false;
    this.headersSent = false;
    (call as EventEmitter).on('cancelled', () => {
      for (const f of this.onCancel.splice(0)) f();
      this.finish('cancelled');
    });
  }

  get cancelled(): boolean {
    return this.done && this.rec.outcome === 'cancelled';
  }

  got(msg: Buffer): void {
    try {
      const e = decodeEnvelope(msg);
      const sha = sha256(e.p);
      this.rec.received.push({ len: e.p.length, sha, intact: sha === e.h['sha'] && e.p.length === e.h['len'] });
    } catch {
      this.rec.received.push({ len: msg.length, sha: '', intact: false });
    }
  }

  sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const md = new grpc.Metadata();
    md.set('x-server', 'js');
    this.call.sendMetadata(md);
  }

  trailers(): grpc.Metadata {
    return mapToMetadata(this.b.trailers);
  }

  error(): grpc.ServiceError {
    const err = new Error(this.b.failMessage) as grpc.ServiceError;
    err.code = this.b.failCode;
    err.details = this.b.failMessage;
    err.metadata = this.trailers();
    return err;
  }

  /** After the request stream ended: true for a half-close, false for a reset (see x-linger-ms). */
  async requestStreamEnded(): Promise<boolean> {
    // grpc-js ends the request stream on a client's RST_STREAM too, and says 'cancelled' only ticks later.
    await new Promise((r) => setImmediate(() => setImmediate(r)));
    return this.sleep(this.b.lingerMs);
  }

  /** Resolves true after ms, or false as soon as the call is cancelled. */
  sleep(ms: number): Promise<boolean> {
    if (this.done) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(!this.done), ms);
      this.onCancel.push(() => {
        clearTimeout(t);
        resolve(false);
      });
    });
  }

  /** Resolves true once the test acks `token`, false if the call is cancelled first. */
  waitAck(server: JsEchoServer, token: string): Promise<boolean> {
    if (this.done) return Promise.resolve(false);
    return new Promise((resolve) => {
      server.onAck(token, () => resolve(!this.done));
      this.onCancel.push(() => resolve(false));
    });
  }

  finish(outcome: SeenCall['outcome']): void {
    if (this.done) return;
    this.done = true;
    this.rec.outcome = outcome;
    this.log.add(this.rec);
  }
}

function echoOf(seq: number, got: Buffer | null, payload: Buffer, server: string): Buffer {
  let gotLen = -1;
  let gotSha = '';
  if (got !== null) {
    const e = decodeEnvelope(got);
    gotLen = e.p.length;
    gotSha = sha256(e.p);
  }
  return encodeEnvelope({ seq, len: payload.length, sha: sha256(payload), gotLen, gotSha, server }, payload);
}

/** The Echo service on a grpc-js server (127.0.0.1, port 0). */
export class JsEchoServer implements EchoServerPeer {
  readonly kind = 'js' as const;
  readonly server: grpc.Server;
  readonly log = new CallLog();
  port = 0;
  private readonly acked = new Set<string>();
  private readonly ackWaiters = new Map<string, (() => void)[]>();

  constructor() {
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES });
    this.server.addService(ECHO_SERVICE, {
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => void this.unary(call, cb),
      ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => void this.serverStream(call),
      ClientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.clientStream(call, cb),
      Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.bidi(call),
    });
  }

  async start(): Promise<this> {
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err !== null ? reject(err) : resolve(port)));
    });
    return this;
  }

  ack(token: string): void {
    const ws = this.ackWaiters.get(token);
    if (ws === undefined) {
      this.acked.add(token);
      return;
    }
    this.ackWaiters.delete(token);
    for (const w of ws) w();
  }

  onAck(token: string, f: () => void): void {
    if (this.acked.delete(token)) return f();
    const list = this.ackWaiters.get(token) ?? [];
    list.push(f);
    this.ackWaiters.set(token, list);
  }

  waitCall(id: string, timeoutMs?: number): Promise<SeenCall> {
    return this.log.wait(id, timeoutMs, 'js server');
  }

  close(): Promise<void> {
    this.server.forceShutdown();
    return Promise.resolve();
  }

  private async unary(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): Promise<void> {
    const st = new JsCallState(this.log, 'Unary', call);
    st.got(call.request);
    if (!(await st.sleep(st.b.delayMs))) return;
    if (st.b.failCode !== 0) {
      // No initial metadata first: the answer is trailers-only.
      st.finish('error');
      return cb(st.error());
    }
    const req = decodeEnvelope(call.request);
    const respSize = typeof req.h['respSize'] === 'number' ? req.h['respSize'] : -1;
    const payload = respSize >= 0 ? crypto.randomBytes(respSize) : req.p;
    st.sendHeaders();
    st.finish('ok');
    cb(null, echoOf(0, call.request, payload, 'js'), st.trailers());
  }

  private async serverStream(call: grpc.ServerWritableStream<Buffer, Buffer>): Promise<void> {
    const st = new JsCallState(this.log, 'ServerStream', call);
    st.got(call.request);
    const req = decodeEnvelope(call.request);
    const sizes = Array.isArray(req.h['sizes']) ? (req.h['sizes'] as number[]) : [];
    if (!(await st.sleep(st.b.delayMs))) return;
    for (let i = 0; i < sizes.length; i++) {
      if (st.b.failCode !== 0 && i === st.b.failAfter) break;
      st.sendHeaders();
      const p = crypto.randomBytes(sizes[i]!);
      // Respect backpressure so a large stream does not pile up in this process.
      if (!call.write(encodeEnvelope({ seq: i, len: p.length, sha: sha256(p), server: 'js' }, p))) {
        await new Promise<void>((r) => {
          call.once('drain', r);
          call.once('cancelled', r);
        });
      }
      if (st.cancelled) return;
      if (i === 0 && st.b.waitAck !== null && !(await st.waitAck(this, st.b.waitAck))) return;
    }
    if (st.cancelled) return;
    if (st.b.failCode !== 0) {
      st.finish('error');
      call.emit('error', st.error());
      return;
    }
    st.finish('ok');
    call.end(st.trailers());
  }

  private clientStream(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    const st = new JsCallState(this.log, 'ClientStream', call);
    call.on('data', (m: Buffer) => st.got(m));
    call.on('end', () => {
      void (async () => {
        if (!(await st.requestStreamEnded()) || !(await st.sleep(st.b.delayMs))) return;
        if (st.b.failCode !== 0) {
          st.finish('error');
          return cb(st.error());
        }
        const r = st.rec.received;
        const body = encodeEnvelope({ seq: 0, len: 0, sha: sha256(Buffer.alloc(0)), count: r.length, total: r.reduce((a, m) => a + m.len, 0), sizes: r.map((m) => m.len), shas: r.map((m) => m.sha), server: 'js' }, Buffer.alloc(0));
        st.sendHeaders();
        st.finish('ok');
        cb(null, body, st.trailers());
      })();
    });
  }

  private bidi(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const st = new JsCallState(this.log, 'Bidi', call);
    let seq = 0;
    let chain = Promise.resolve(true);
    let failed = false;
    call.on('data', (m: Buffer) => {
      st.got(m);
      // Answer in order, one at a time (the delay applies before the first echo).
      chain = chain.then(async (goOn) => {
        if (!goOn || failed || st.cancelled) return false;
        if (seq === 0 && !(await st.sleep(st.b.delayMs))) return false;
        if (st.b.failCode !== 0 && seq === st.b.failAfter) {
          failed = true;
          st.finish('error');
          call.emit('error', st.error());
          return false;
        }
        st.sendHeaders();
        call.write(echoOf(seq, m, decodeEnvelope(m).p, 'js'));
        seq++;
        return true;
      });
    });
    call.on('end', () => {
      void chain.then(async () => {
        if (failed || st.cancelled || !(await st.requestStreamEnded())) return;
        if (st.b.failCode !== 0) {
          st.finish('error');
          call.emit('error', st.error());
          return;
        }
        st.finish('ok');
        call.end(st.trailers());
      });
    });
  }
}

export async function startJsEchoServer(): Promise<JsEchoServer> {
  return new JsEchoServer().start();
}

// ---- clients: one spec language, two implementations (this one in-process, grpc_peer.py) ----

interface CommonSpec {
  /** Request metadata; x-call-id is how the test finds the server's record. */
  metadata?: MetadataMap;
  /** Client deadline, from when the call starts. */
  deadlineMs?: number;
  /** Overrides the method path (e.g. a service no route knows). */
  path?: string;
}

export type CallSpec =
  | (CommonSpec & { kind: 'unary'; size: number; respSize?: number })
  | (CommonSpec & { kind: 'server_stream'; sizes: number[]; cancelAfter?: number })
  | (CommonSpec & { kind: 'client_stream'; sizes: number[] })
  /** Ping-pong: each message is sent once the echo of the one before arrived; half-close after the last echo. */
  | (CommonSpec & { kind: 'bidi'; sizes: number[]; cancelAfter?: number })
  /** `unary` unary calls of `size` bytes at once plus `streams` bidi ping-pongs of `streamSizes`, on one channel. */
  | { kind: 'concurrent'; unary: number; size: number; streams: number; streamSizes: number[] };

export interface ReceivedMessage {
  len: number;
  sha: string;
  /** The payload matches the length and sha256 its own header announces. */
  intact: boolean;
  h: Record<string, unknown>;
}

export interface CallOutcome {
  kind: CallSpec['kind'];
  code: number;
  details: string;
  /** Initial metadata (response headers) the client saw. */
  headers: MetadataMap;
  trailers: MetadataMap;
  sent: { len: number; sha: string }[];
  received: ReceivedMessage[];
  /** concurrent: calls that ended OK with intact, matching echoes, out of total; failures says what went wrong. */
  okCount?: number;
  total?: number;
  failures?: string[];
}

export interface EchoClientDriver {
  readonly kind: 'js' | 'python';
  /** Runs the specs one after the other on one channel to `target` (host:port). */
  run(target: string, specs: CallSpec[]): Promise<CallOutcome[]>;
}

export const CLIENT_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.enable_http_proxy': 0,
  'grpc.enable_retries': 0,
};

const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

export function makeEchoClient(target: string): grpc.Client {
  return new EchoClientCtor(target, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
}

export function summarize(msg: Buffer): ReceivedMessage {
  try {
    const e = decodeEnvelope(msg);
    const sha = sha256(e.p);
    return { len: e.p.length, sha, intact: sha === e.h['sha'] && e.p.length === e.h['len'], h: e.h };
  } catch (err) {
    return { len: msg.length, sha: '', intact: false, h: { error: String(err) } };
  }
}

function callOptions(spec: CommonSpec): grpc.CallOptions {
  return spec.deadlineMs !== undefined ? { deadline: Date.now() + spec.deadlineMs } : {};
}

function blankOutcome(kind: CallSpec['kind']): CallOutcome {
  return { kind, code: -1, details: '', headers: {}, trailers: {}, sent: [], received: [] };
}

/** Waits for the call's 'status' (always the last event in grpc-js) and fills code, details and trailers. */
function onStatus(call: grpc.ClientUnaryCall | grpc.ClientReadableStream<Buffer> | grpc.ClientWritableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, out: CallOutcome): Promise<CallOutcome> {
  call.on('metadata', (md: grpc.Metadata) => {
    out.headers = metadataToMap(md);
  });
  return new Promise((resolve) => {
    call.on('status', (s: grpc.StatusObject) => {
      out.code = s.code;
      out.details = s.details;
      out.trailers = metadataToMap(s.metadata);
      resolve(out);
    });
  });
}

export function jsUnary(client: grpc.Client, spec: Extract<CallSpec, { kind: 'unary' }>): Promise<CallOutcome> {
  const out = blankOutcome('unary');
  const req = requestMessage(0, spec.size, spec.respSize !== undefined ? { respSize: spec.respSize } : {});
  out.sent.push({ len: req.len, sha: req.sha });
  const call = client.makeUnaryRequest(spec.path ?? PATHS.Unary, identity, identity, req.bytes, mapToMetadata(spec.metadata), callOptions(spec), (err, value) => {
    if (err === null && value !== undefined) out.received.push(summarize(value));
  });
  // The callback runs before 'status'; both are in by the time 'status' fires.
  return onStatus(call, out);
}

export function jsServerStream(client: grpc.Client, spec: Extract<CallSpec, { kind: 'server_stream' }>): Promise<CallOutcome> {
  const out = blankOutcome('server_stream');
  const req = requestMessage(0, 0, { sizes: spec.sizes });
  out.sent.push({ len: req.len, sha: req.sha });
  const call = client.makeServerStreamRequest(spec.path ?? PATHS.ServerStream, identity, identity, req.bytes, mapToMetadata(spec.metadata), callOptions(spec));
  call.on('data', (m: Buffer) => {
    out.received.push(summarize(m));
    if (spec.cancelAfter !== undefined && out.received.length === spec.cancelAfter) call.cancel();
  });
  call.on('error', () => {}); // the outcome comes from 'status'
  return onStatus(call, out);
}

export function jsClientStream(client: grpc.Client, spec: Extract<CallSpec, { kind: 'client_stream' }>): Promise<CallOutcome> {
  const out = blankOutcome('client_stream');
  const call = client.makeClientStreamRequest(spec.path ?? PATHS.ClientStream, identity, identity, mapToMetadata(spec.metadata), callOptions(spec), (err, value) => {
    if (err === null && value !== undefined) out.received.push(summarize(value));
  });
  const done = onStatus(call, out);
  for (let i = 0; i < spec.sizes.length; i++) {
    const m = requestMessage(i, spec.sizes[i]!);
    out.sent.push({ len: m.len, sha: m.sha });
    call.write(m.bytes);
  }
  call.end();
  return done;
}

export function jsBidi(client: grpc.Client, spec: Extract<CallSpec, { kind: 'bidi' }>): Promise<CallOutcome> {
  const out = blankOutcome('bidi');
  const call = client.makeBidiStreamRequest(spec.path ?? PATHS.Bidi, identity, identity, mapToMetadata(spec.metadata), callOptions(spec));
  const done = onStatus(call, out);
  const sendNext = (): void => {
    const i = out.sent.length;
    if (i >= spec.sizes.length) {
      call.end();
      return;
    }
    const m = requestMessage(i, spec.sizes[i]!);
    out.sent.push({ len: m.len, sha: m.sha });
    call.write(m.bytes);
  };
  call.on('data', (m: Buffer) => {
    out.received.push(summarize(m));
    if (spec.cancelAfter !== undefined && out.received.length === spec.cancelAfter) call.cancel();
    else sendNext();
  });
  call.on('error', () => {});
  sendNext();
  return done;
}

/** True when every echo says the server got exactly what was sent, in order, and arrived intact. */
export function echoesMatch(o: CallOutcome): boolean {
  if (o.received.length !== o.sent.length) return false;
  return o.received.every((r, i) => r.intact && r.h['seq'] === i && r.h['gotLen'] === o.sent[i]!.len && r.h['gotSha'] === o.sent[i]!.sha);
}

async function jsConcurrent(client: grpc.Client, spec: Extract<CallSpec, { kind: 'concurrent' }>): Promise<CallOutcome> {
  const failures: string[] = [];
  const unaries = Array.from({ length: spec.unary }, (_, i) =>
    jsUnary(client, { kind: 'unary', size: spec.size, metadata: { 'x-call-id': `conc-u-${i}` } }).then((o) => {
      if (o.code !== Code.OK || !echoesMatch(o)) failures.push(`unary ${i}: code ${o.code} ${o.details} echoes ${echoesMatch(o)}`);
      return o;
    }),
  );
  const streams = Array.from({ length: spec.streams }, (_, i) =>
    jsBidi(client, { kind: 'bidi', sizes: spec.streamSizes, metadata: { 'x-call-id': `conc-s-${i}` } }).then((o) => {
      if (o.code !== Code.OK || !echoesMatch(o)) failures.push(`stream ${i}: code ${o.code} ${o.details} got ${o.received.length}/${o.sent.length}`);
      return o;
    }),
  );
  const all = await Promise.all([...unaries, ...streams]);
  const total = all.length;
  return { ...blankOutcome('concurrent'), code: failures.length === 0 ? Code.OK : Code.UNKNOWN, details: failures[0] ?? '', okCount: total - failures.length, total, failures };
}

export function runJsSpec(client: grpc.Client, spec: CallSpec): Promise<CallOutcome> {
  switch (spec.kind) {
    case 'unary':
      return jsUnary(client, spec);
    case 'server_stream':
      return jsServerStream(client, spec);
    case 'client_stream':
      return jsClientStream(client, spec);
    case 'bidi':
      return jsBidi(client, spec);
    case 'concurrent':
      return jsConcurrent(client, spec);
  }
}

/** The grpc-js client as a driver: one channel per run, specs in order. */
export const jsClient: EchoClientDriver = {
  kind: 'js',
  async run(target: string, specs: CallSpec[]): Promise<CallOutcome[]> {
    const client = makeEchoClient(target);
    try {
      const out: CallOutcome[] = [];
      for (const s of specs) out.push(await runJsSpec(client, s));
      return out;
    } finally {
      client.close();
    }
  },
};

// ---- an HTTP/2 upstream that never answers ----

/**
 * A plain node:http2 (h2c) server that takes every stream and never answers it: a gRPC upstream that ignores
 * deadlines, so only the proxy can end the call. Records each stream's request headers and whether it was
 * closed from the far side (RST_STREAM or the connection going away).
 */
export class SilentH2Upstream {
  readonly server: http2.Http2Server;
  readonly streams: { headers: http2.IncomingHttpHeaders; closed: boolean; rstCode: number | null }[] = [];
  port = 0;
  private readonly closeWaiters: (() => void)[] = [];
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor() {
    this.server = http2.createServer();
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
    });
    this.server.on('stream', (stream, headers) => {
      const rec = { headers, closed: false, rstCode: null as number | null };
      this.streams.push(rec);
      stream.on('error', () => {});
      stream.resume();
      stream.on('close', () => {
        rec.closed = true;
        rec.rstCode = stream.rstCode ?? null;
        for (const w of this.closeWaiters.splice(0)) w();
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Resolves once the n-th stream (1-based) is closed. */
  waitClosed(n: number, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.streams.length >= n && this.streams[n - 1]!.closed) {
          clearTimeout(timer);
          resolve();
        } else this.closeWaiters.push(check);
      };
      const timer = setTimeout(() => reject(new Error(`silent upstream: stream ${n} not closed after ${timeoutMs} ms (streams seen: ${this.streams.length})`)), timeoutMs);
      check();
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      // Open sessions keep the server from closing.
      for (const s of [...this.sessions]) s.destroy();
    });
  }
}

export async function startSilentH2Upstream(): Promise<SilentH2Upstream> {
  return new SilentH2Upstream().listen();
}
