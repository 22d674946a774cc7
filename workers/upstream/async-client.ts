// Worker thread. Envoy's Http::AsyncClient: requests a filter (ext_authz, jwt_authn's remote_jwks, ...) sends to a
// cluster through this worker's own pools (the same HTTP/1.1 connections and HTTP/2 sessions the router uses, TLS
// included), counting the cluster's upstream_rq_* stats as Envoy does for them. One AsyncClient per worker
// (asyncClientFor). Every callback runs on this worker from socket events or timers, never inside the caller's
// call to start()/send(); no call throws into the caller's stack.

import type { HeaderList } from '../../src/http/stream-info.ts';
import type { Http1ParseError, ResponseHead } from '../../src/http1/types.ts';
import { serializeLastChunk, serializeRequestHead } from '../../src/http1/serializer.ts';
import { requestHeadersForHttp2, trailerFieldsForHttp2 } from '../../src/http/http2-headers.ts';
import { UpstreamProtocol } from '../../src/upstream/cluster-config.ts';
import type { ClusterSlots } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
// The router's per-connection HTTP/1.1 codec: a connection either of us opened must parse for the other one too.
import { UpstreamCodec } from '../router/upstream-request.ts';
import type { UpstreamRequest } from '../router/upstream-request.ts';
import type { WorkerClusterManager } from './cluster-manager.ts';
import type { WorkerCluster } from './worker-cluster.ts';
import type { UpstreamHost } from './upstream-host.ts';
import type { PoolFailureReason, PoolHandle, PoolRequester, UpstreamConnection, UpstreamConnectionHandler } from './connection-pool.ts';
import type { Http2PoolConnection, Http2StreamRequester } from './http2-pool.ts';
import type { Http2ClientStream, Http2ClientStreamHandler } from '../http2/client-codec.ts';
import { ErrorCode } from '../../src/http2/frames.ts';

export interface AsyncRequest {
  method: string;
  path: string;
  /** '' -> the cluster name. */
  authority: string;
  /** Extra request headers (lower-case names). */
  headers: HeaderList | null;
  body: Buffer | null;
  /** 0 = none. */
  timeoutMs: number;
}

export interface AsyncResponse {
  status: number;
  headers: HeaderList;
  body: Buffer;
  trailers: HeaderList | null;
}

export type AsyncClientErrorCode =
  | 'no_cluster'
  | 'no_healthy_upstream'
  | 'connect_failure'
  | 'timeout'
  | 'reset'
  | 'overflow'
  | 'response_too_large';

export class AsyncClientError extends Error {
  readonly code: AsyncClientErrorCode;
  constructor(code: AsyncClientErrorCode, message: string) {
    super(message);
    this.name = 'AsyncClientError';
    this.code = code;
  }
}

/**
 * What a streaming exchange reports, on the worker thread, never from inside start(). Headers come once (final
 * status only; interim 1xx are skipped), then data, then trailers (or endStream on headers/data); onReset ends the
 * exchange instead, and nothing follows it. A callback may call the stream's methods (reset() included).
 */
export interface AsyncStreamCallbacks {
  onHeaders(status: number, headers: HeaderList, endStream: boolean): void;
  onData(data: Buffer, endStream: boolean): void;
  onTrailers(trailers: HeaderList): void;
  /** No call follows. */
  onReset(error: AsyncClientError): void;
}

export interface AsyncStream {
  sendData(data: Buffer, endStream: boolean): void;
  sendTrailers(trailers: HeaderList): void;
  /** Cancels; no callback follows. */
  reset(): void;
  /**
   * Request bytes given to sendData and not yet taken by the kernel (queued for the connection, or in the socket's or
   * HTTP/2 stream's write buffer): a caller that must not hold more than a limit (a request mirror) reads it.
   */
  bufferedBytes(): number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const CHUNK_END = '\r\n';

/** Not started yet, waiting for a connection, sending, done. */
const IDLE = 0;
const ACTIVE = 1;
const DONE = 2;

/**
 * One request/response exchange with one host: the pool requester, the connection's handler while it has one, and
 * the AsyncStream handed to the caller.
 */
class AsyncExchange implements AsyncStream, PoolRequester, UpstreamConnectionHandler, Http2StreamRequester, Http2ClientStreamHandler {
  private readonly cluster: WorkerCluster;
  private readonly stats: WorkerStatsStore;
  private readonly slots: ClusterSlots;
  private readonly request: AsyncRequest;
  private readonly callbacks: AsyncStreamCallbacks;
  private state: number;
  private host: UpstreamHost | null;
  private poolHandle: PoolHandle | null;
  private conn: UpstreamConnection | null;
  private codec: UpstreamCodec | null;
  private h2conn: Http2PoolConnection | null;
  private h2stream: Http2ClientStream | null;
  private http2: boolean;
  /** Request body (and end) waiting for the connection. */
  private pending: Buffer[];
  private requestEnded: boolean;
  /** The request's end (data with endStream, or trailers) was written to the connection. */
  private requestWritten: boolean;
  private pendingTrailers: HeaderList | null;
  /** HTTP/1.1: the body goes chunked (length unknown when the head was written). */
  private chunked: boolean;
  private responseHead: ResponseHead | null;
  private responseDone: boolean;
  private h2Trailers: HeaderList | null;
  private timer: NodeJS.Timeout | null;
  private startMonoMs: number;
  private counted: boolean;

  constructor(cluster: WorkerCluster, request: AsyncRequest, endStream: boolean, callbacks: AsyncStreamCallbacks) {
    this.cluster = cluster;
    this.stats = cluster.poolContext.stats;
    this.slots = cluster.slots;
    this.request = request;
    this.callbacks = callbacks;
    this.state = IDLE;
    this.host = null;
    this.poolHandle = null;
    this.conn = null;
    this.codec = null;
    this.h2conn = null;
    this.h2stream = null;
    this.http2 = false;
    this.pending = [];
    if (request.body !== null && request.body.length > 0) this.pending.push(request.body);
    this.requestEnded = endStream;
    this.requestWritten = false;
    this.pendingTrailers = null;
    this.chunked = false;
    this.responseHead = null;
    this.responseDone = false;
    this.h2Trailers = null;
    this.timer = null;
    this.startMonoMs = performance.now();
    this.counted = false;
  }

  /** Picks a host and asks its pool; a failure is reported on the next tick (never inside start()). */
  begin(): void {
    const host = this.cluster.chooseHost();
    const values = this.stats.values;
    if (host === null) {
      values[this.slots.upstream_cx_none_healthy]++;
      this.failLater('no_healthy_upstream', `no healthy upstream in cluster '${this.cluster.name}'`);
      return;
    }
    this.state = ACTIVE;
    this.host = host;
    this.counted = true;
    values[this.slots.upstream_rq_total]++;
    values[this.slots.upstream_rq_active]++;
    values[this.slots.upstream_rq_pending_total]++;
    host.counters.rqTotal++;
    host.counters.rqActive++;
    if (this.request.timeoutMs > 0) this.timer = setTimeout(onExchangeTimeout, this.request.timeoutMs, this);
    const protocol = this.cluster.config.upstreamProtocol;
    this.http2 = protocol === UpstreamProtocol.HTTP2 || (protocol === UpstreamProtocol.AUTO && !host.negotiatedHttp1);
    // The pools may answer synchronously (idle connection, overflow): defer so nothing runs inside start().
    process.nextTick(acquireLater, this);
  }

  /** @internal */
  acquire(): void {
    if (this.state !== ACTIVE) return;
    const host = this.host!;
    this.poolHandle = this.http2 ? host.http2Pool.acquire(this) : host.pool.acquire(this);
  }

  private failLater(code: AsyncClientErrorCode, message: string): void {
    this.state = ACTIVE;
    process.nextTick(failDeferred, this, code, message);
  }

  /** @internal */
  failDeferred(code: AsyncClientErrorCode, message: string): void {
    if (this.state !== ACTIVE) return;
    this.fail(code, message);
  }

  // ---- AsyncStream ----

  sendData(data: Buffer, endStream: boolean): void {
    try {
      if (this.state === DONE || this.requestEnded) return;
      if (endStream) this.requestEnded = true;
      if (this.conn !== null) {
        if (data.length > 0) this.writeH1Body(data);
        if (endStream) this.writeH1End();
      } else if (this.h2stream !== null) {
        if (data.length > 0) this.h2conn!.codec.writeData(this.h2stream, data);
        if (endStream) this.endH2();
      } else if (data.length > 0) {
        this.pending.push(data);
      }
    } catch (err) {
      this.onInternalError(err);
    }
  }

  bufferedBytes(): number {
    let n = 0;
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) n += pending[i]!.length;
    if (this.conn !== null) n += this.conn.socket.writableLength;
    else if (this.h2stream !== null) n += this.h2stream.queuedBytes;
    return n;
  }

  sendTrailers(trailers: HeaderList): void {
    try {
      if (this.state === DONE || this.requestEnded) return;
      this.requestEnded = true;
      this.pendingTrailers = trailers;
      if (this.conn !== null) this.writeH1End();
      else if (this.h2stream !== null) this.endH2();
    } catch (err) {
      this.onInternalError(err);
    }
  }

  reset(): void {
    if (this.state === DONE) return;
    try {
      if (this.poolHandle !== null) {
        this.poolHandle.cancel();
        this.poolHandle = null;
        this.stats.values[this.slots.upstream_rq_cancelled]++;
      }
      this.finish(false);
    } catch (err) {
      this.countInternalError(err);
    }
  }

  // ---- HTTP/1.1 pool ----

  onPoolReady(conn: UpstreamConnection): void {
    this.poolHandle = null;
    if (this.state !== ACTIVE) {
      conn.pool.release(conn, true);
      return;
    }
    this.conn = conn;
    conn.handler = this;
    let codec = conn.codec as UpstreamCodec | null;
    if (codec === null) {
      codec = new UpstreamCodec(this.cluster.config.maxHeadersCount, conn);
      conn.codec = codec;
    }
    // The codec calls onResponseHead/Body/Complete/Error on whoever uses the connection now (same names as ours).
    codec.current = this as unknown as UpstreamRequest;
    this.codec = codec;
    const req = this.request;
    codec.parser.expectResponse(req.method, false);
    const headers: HeaderList = ['host', req.authority === '' ? this.cluster.name : req.authority];
    const extra = req.headers;
    let hasLength = false;
    if (extra !== null) {
      for (let i = 0; i < extra.length; i += 2) {
        const name = extra[i]!;
        if (name === 'host' || name === 'transfer-encoding' || name === 'connection') continue;
        if (name === 'content-length') {
          if (!this.requestEnded) hasLength = true;
          else continue;
        }
        headers.push(name, extra[i + 1]!);
      }
    }
    if (this.requestEnded && this.pendingTrailers === null) {
      let n = 0;
      for (let i = 0; i < this.pending.length; i++) n += this.pending[i]!.length;
      if (n > 0 || BODY_METHODS.has(req.method)) headers.push('content-length', String(n));
    } else if (!hasLength) {
      this.chunked = true;
      headers.push('transfer-encoding', 'chunked');
    }
    const socket = conn.socket;
    socket.cork();
    socket.write(serializeRequestHead(req.method, req.path, headers), 'latin1');
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i++) this.writeH1Body(pending[i]!);
    if (this.requestEnded) this.writeH1End();
    socket.uncork();
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string | null = null): void {
    this.poolHandle = null;
    if (this.state !== ACTIVE) return;
    if (reason === 'http1_negotiated' && this.host !== null) {
      this.http2 = false;
      this.poolHandle = this.host.pool.acquire(this);
      return;
    }
    if (reason === 'overflow') this.fail('overflow', `cluster '${this.cluster.name}': too many pending requests`);
    else this.fail('connect_failure', `cluster '${this.cluster.name}': ${transportFailureReason ?? reason}`);
  }

  private writeH1Body(chunk: Buffer): void {
    const socket = this.conn!.socket;
    if (!this.chunked) {
      socket.write(chunk);
      return;
    }
    socket.write(chunk.length.toString(16) + CHUNK_END, 'latin1');
    socket.write(chunk);
    socket.write(CHUNK_END, 'latin1');
  }

  private writeH1End(): void {
    if (this.requestWritten) return;
    this.requestWritten = true;
    if (this.chunked) this.conn!.socket.write(serializeLastChunk(this.pendingTrailers), 'latin1');
  }

  // ---- HTTP/2 pool ----

  onHttp2Ready(conn: Http2PoolConnection): void {
    this.poolHandle = null;
    if (this.state !== ACTIVE) {
      conn.pool.release(conn);
      return;
    }
    const req = this.request;
    const headers: HeaderList = ['host', req.authority === '' ? this.cluster.name : req.authority];
    const extra = req.headers;
    if (extra !== null) {
      for (let i = 0; i < extra.length; i += 2) if (extra[i] !== 'host') headers.push(extra[i]!, extra[i + 1]!);
    }
    const scheme = this.cluster.config.transportSocket !== null ? 'https' : 'http';
    const pending = this.pending;
    this.pending = [];
    const endStream = this.requestEnded && pending.length === 0 && this.pendingTrailers === null;
    // The stream's events come to this object (Http2ClientStreamHandler).
    const s = conn.codec.request(this, requestHeadersForHttp2(req.method, req.path, scheme, headers), endStream);
    if (s === null) {
      conn.pool.release(conn);
      this.fail('connect_failure', `cluster '${this.cluster.name}': the HTTP/2 connection went away`);
      return;
    }
    this.h2conn = conn;
    this.h2stream = s;
    for (let i = 0; i < pending.length; i++) conn.codec.writeData(s, pending[i]!);
    if (this.requestEnded && !endStream) this.endH2();
    else if (endStream) this.requestWritten = true;
  }

  private endH2(): void {
    if (this.requestWritten) return;
    this.requestWritten = true;
    // Trailers when the caller sent some; else an empty DATA frame with END_STREAM.
    this.h2conn!.codec.end(this.h2stream!, this.pendingTrailers === null ? null : trailerFieldsForHttp2(this.pendingTrailers));
  }

  // ---- the HTTP/2 stream's events (Http2ClientStreamHandler; each a boundary) ----

  onHeaders(s: Http2ClientStream, fields: string[], endStream: boolean): void {
    try {
      // Interim 1xx heads are skipped (the caller hears the final status only).
      if (fields[1]!.charCodeAt(0) !== 49) this.onH2Response(s, endStream, fields);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onData(s: Http2ClientStream, chunk: Buffer): void {
    try {
      if (s === this.h2stream && this.responseHead !== null) this.onResponseBody(chunk);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onTrailers(s: Http2ClientStream, fields: string[]): void {
    if (s === this.h2stream) this.h2Trailers = fields;
  }

  onEnd(s: Http2ClientStream): void {
    try {
      if (s === this.h2stream && this.responseHead !== null && !this.responseDone) this.onResponseComplete(this.h2Trailers);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onReset(s: Http2ClientStream): void {
    try {
      this.onH2Reset(s);
    } catch (err) {
      this.countInternalError(err);
    }
  }

  onWritable(_s: Http2ClientStream): void {}

  private onH2Response(s: Http2ClientStream, endStream: boolean, raw: string[]): void {
    if (this.state !== ACTIVE || s !== this.h2stream) return;
    let status = 0;
    const headers: HeaderList = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name === ':status') status = Number(raw[i + 1]);
      else if (name.charCodeAt(0) !== 58) headers.push(name, raw[i + 1]!);
    }
    if (!(status >= 200 && status < 600)) {
      this.stats.values[this.slots.upstream_cx_protocol_error]++;
      this.fail('reset', `cluster '${this.cluster.name}': malformed HTTP/2 response head`);
      return;
    }
    const head: ResponseHead = {
      statusCode: status, reason: '', versionMinor: 1, headers, contentLength: -1, chunked: false, keepAlive: true,
      readUntilClose: false,
    };
    if (!endStream) {
      this.onResponseHead(head);
      return;
    }
    // END_STREAM on the head (e.g. a gRPC trailers-only response): reported as onHeaders(..., true).
    this.responseHead = head;
    this.onResponseComplete(null, true);
  }

  /** The stream was reset under this exchange (the pool has its slot back from the stream's close). */
  private onH2Reset(s: Http2ClientStream): void {
    if (s !== this.h2stream) return;
    this.h2stream = null;
    this.h2conn = null;
    if (this.state !== ACTIVE) return;
    this.stats.values[this.slots['http2.rx_reset']]++;
    this.stats.values[this.slots.upstream_rq_rx_reset]++;
    this.fail('reset', `cluster '${this.cluster.name}': the upstream reset the stream (code ${s.resetCode})`);
  }

  // ---- HTTP/1.1 connection events (UpstreamConnectionHandler) ----

  onUpstreamData(chunk: Buffer): void {
    this.codec!.parser.execute(chunk);
  }

  onUpstreamEnd(): void {
    if (this.state !== ACTIVE) return;
    this.codec!.parser.finish();
  }

  onUpstreamClose(_hadError: boolean): void {
    if (this.state !== ACTIVE) return;
    this.codec!.parser.finish();
    if (this.state !== ACTIVE) return;
    this.conn = null;
    this.stats.values[this.slots.upstream_rq_rx_reset]++;
    this.fail('reset', `cluster '${this.cluster.name}': the upstream closed the connection`);
  }

  onUpstreamDrain(): void {}

  // ---- response (from the HTTP/1.1 codec, or the HTTP/2 stream above) ----

  onResponseHead(head: ResponseHead): void {
    if (this.state !== ACTIVE || head.statusCode < 200) return;
    this.responseHead = head;
    // HTTP/1.1: a body may follow; a body-less response completes right after (onData(empty, true)).
    this.safeCall(HEADERS, head.statusCode, head.headers, null, false);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.state !== ACTIVE) return;
    this.safeCall(DATA, 0, null, chunk, false);
  }

  onResponseComplete(trailers: HeaderList | null, headersOnly = false): void {
    if (this.state !== ACTIVE || this.responseDone) return;
    this.responseDone = true;
    const head = this.responseHead;
    if (head === null) return this.onResponseError(null);
    const values = this.stats.values;
    const slots = this.slots;
    const status = head.statusCode;
    if (status >= 500) values[slots.upstream_rq_5xx]++;
    else if (status >= 400) values[slots.upstream_rq_4xx]++;
    else if (status >= 300) values[slots.upstream_rq_3xx]++;
    else values[slots.upstream_rq_2xx]++;
    values[slots.upstream_rq_completed]++;
    this.stats.record(slots.upstream_rq_time, performance.now() - this.startMonoMs);
    if (status >= 500) this.host!.counters.rqError++;
    else this.host!.counters.rqSuccess++;
    const reusable = head.keepAlive && !head.readUntilClose && this.requestWritten;
    this.finish(reusable, true);
    // The end of the response, after the exchange is closed (a callback may start another one).
    if (headersOnly) this.safeCall(HEADERS, status, head.headers, null, true);
    else if (trailers !== null && trailers.length > 0) this.safeCall(TRAILERS, 0, trailers, null, false);
    else this.safeCall(DATA, 0, null, EMPTY, true);
  }

  onResponseError(_err: Http1ParseError | null): void {
    if (this.state !== ACTIVE) return;
    this.stats.values[this.slots.upstream_cx_protocol_error]++;
    this.fail('reset', `cluster '${this.cluster.name}': malformed response`);
  }

  /** @internal */
  onTimeout(): void {
    this.timer = null;
    if (this.state !== ACTIVE) return;
    this.stats.values[this.slots.upstream_rq_timeout]++;
    if (this.host !== null) this.host.counters.rqTimeout++;
    if (this.poolHandle !== null) {
      this.poolHandle.cancel();
      this.poolHandle = null;
    }
    this.fail('timeout', `cluster '${this.cluster.name}': no response within ${this.request.timeoutMs} ms`);
  }

  /**
   * An exception escaped a callback of the pool, the connection or the caller's (a bug): the exchange is reset, the
   * cluster counts it (internal_error), and the caller hears onReset unless its own callback threw. Never throws.
   */
  onInternalError(err: unknown): void {
    this.countInternalError(err);
    if (this.state !== ACTIVE) return;
    try {
      this.fail('reset', `cluster '${this.cluster.name}': internal error`);
    } catch (err2) {
      reportInternalError('async client', err2);
    }
  }

  private countInternalError(err: unknown): void {
    reportInternalError(`async client request to cluster '${this.cluster.name}'`, err);
    this.stats.values[this.slots.internal_error]++;
  }

  // ---- ending ----

  private fail(code: AsyncClientErrorCode, message: string): void {
    if (this.state === DONE) return;
    // A reset after the response head: the host's request failed.
    if (this.host !== null && this.counted && !this.responseDone) this.host.counters.rqError++;
    this.finish(false);
    const callbacks = this.callbacks;
    try {
      callbacks.onReset(new AsyncClientError(code, message));
    } catch (err) {
      this.countInternalError(err);
    }
  }

  /** Ends this exchange's use of the upstream: timer, gauges, and the connection back to the pool or reset. */
  private finish(reusable: boolean, completed = false): void {
    if (this.state === DONE) return;
    this.state = DONE;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.counted) {
      this.counted = false;
      this.stats.values[this.slots.upstream_rq_active]--;
      this.host!.counters.rqActive--;
    }
    this.pending = [];
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.handler = null;
      if (this.codec !== null && (this.codec.current as unknown) === this) this.codec.current = null;
      if (completed && this.requestWritten) conn.pool.release(conn, reusable);
      else conn.pool.reset(conn);
    }
    const s = this.h2stream;
    if (s !== null && !s.closed && !(completed && this.requestWritten)) {
      this.stats.values[this.slots['http2.tx_reset']]++;
      this.h2conn!.codec.reset(s, ErrorCode.CANCEL);
    }
  }

  /** Calls the caller; an exception there is its bug: counted, and the exchange is reset without another callback. */
  private safeCall(kind: number, status: number, headers: HeaderList | null, data: Buffer | null, endStream: boolean): void {
    const cb = this.callbacks;
    try {
      if (kind === HEADERS) cb.onHeaders(status, headers!, endStream);
      else if (kind === DATA) cb.onData(data!, endStream);
      else cb.onTrailers(headers!);
    } catch (err) {
      this.countInternalError(err);
      if (this.state === ACTIVE) this.finish(false);
    }
  }
}

const HEADERS = 0;
const DATA = 1;
const TRAILERS = 2;
const EMPTY = Buffer.alloc(0);

function acquireLater(ex: AsyncExchange): void {
  try {
    ex.acquire();
  } catch (err) {
    ex.onInternalError(err);
  }
}

function failDeferred(ex: AsyncExchange, code: AsyncClientErrorCode, message: string): void {
  ex.failDeferred(code, message);
}

function onExchangeTimeout(ex: AsyncExchange): void {
  try {
    ex.onTimeout();
  } catch (err) {
    ex.onInternalError(err);
  }
}

/** A stream that failed before it began (no cluster): only onReset, on the next tick, unless reset() first. */
class FailedStream implements AsyncStream {
  private cancelled: boolean;
  constructor(callbacks: AsyncStreamCallbacks, error: AsyncClientError) {
    this.cancelled = false;
    process.nextTick(() => {
      if (this.cancelled) return;
      this.cancelled = true;
      try {
        callbacks.onReset(error);
      } catch (err) {
        reportInternalError('async client callback', err);
      }
    });
  }
  sendData(): void {}
  sendTrailers(): void {}
  bufferedBytes(): number {
    return 0;
  }
  reset(): void {
    this.cancelled = true;
  }
}

/** Collects a whole response for send(). */
class BufferingCallbacks implements AsyncStreamCallbacks {
  private readonly resolve: (r: AsyncResponse) => void;
  private readonly reject: (e: AsyncClientError) => void;
  private readonly maxBytes: number;
  private status: number;
  private headers: HeaderList;
  private chunks: Buffer[];
  private bytes: number;
  stream: AsyncStream | null;

  constructor(resolve: (r: AsyncResponse) => void, reject: (e: AsyncClientError) => void, maxBytes: number) {
    this.resolve = resolve;
    this.reject = reject;
    this.maxBytes = maxBytes;
    this.status = 0;
    this.headers = [];
    this.chunks = [];
    this.bytes = 0;
    this.stream = null;
  }
  onHeaders(status: number, headers: HeaderList, endStream: boolean): void {
    this.status = status;
    this.headers = headers;
    if (endStream) this.done(null);
  }
  onData(data: Buffer, endStream: boolean): void {
    if (data.length > 0) {
      this.bytes += data.length;
      if (this.bytes > this.maxBytes) {
        if (this.stream !== null) this.stream.reset();
        this.reject(new AsyncClientError('response_too_large', `response body over ${this.maxBytes} bytes`));
        return;
      }
      this.chunks.push(data);
    }
    if (endStream) this.done(null);
  }
  onTrailers(trailers: HeaderList): void {
    this.done(trailers);
  }
  onReset(error: AsyncClientError): void {
    this.reject(error);
  }
  private done(trailers: HeaderList | null): void {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    this.resolve({ status: this.status, headers: this.headers, body, trailers });
  }
}

export class AsyncClient {
  private readonly clusters: WorkerClusterManager;

  constructor(clusters: WorkerClusterManager) {
    this.clusters = clusters;
  }

  /** A buffered request; rejects with AsyncClientError. maxResponseBytes bounds the body (default 1 MiB). */
  send(cluster: string, request: AsyncRequest, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES): Promise<AsyncResponse> {
    return new Promise<AsyncResponse>((resolve, reject) => {
      const callbacks = new BufferingCallbacks(resolve, reject, maxResponseBytes);
      callbacks.stream = this.start(cluster, request, true, callbacks);
    });
  }

  /**
   * A streaming exchange: the request head (and request.body) now, more body and trailers through the returned
   * stream unless `endStream`. Errors, including an unknown cluster, arrive through callbacks.onReset on a later
   * tick; the returned stream is then inert.
   */
  start(cluster: string, request: AsyncRequest, endStream: boolean, callbacks: AsyncStreamCallbacks): AsyncStream {
    const c = this.clusters.get(cluster);
    if (c === undefined) return new FailedStream(callbacks, new AsyncClientError('no_cluster', `unknown cluster '${cluster}'`));
    const ex = new AsyncExchange(c, request, endStream, callbacks);
    try {
      ex.begin();
    } catch (err) {
      ex.onInternalError(err);
    }
    return ex;
  }
}

const perWorker = new WeakMap<WorkerClusterManager, AsyncClient>();

/** This worker's one AsyncClient (one cluster manager per worker). */
export function asyncClientFor(clusters: WorkerClusterManager): AsyncClient {
  let client = perWorker.get(clusters);
  if (client === undefined) {
    client = new AsyncClient(clusters);
    perWorker.set(clusters, client);
  }
  return client;
}
