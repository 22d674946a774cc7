// Worker thread. The router's request to one upstream host: picks a host, then either takes a pooled HTTP/1.1
// connection (writes the request head, streams the body, parses the response strictly) or opens a stream on a
// pooled HTTP/2 connection (node:http2; a stream the peer refused, e.g. past its GOAWAY, is retried on another
// connection while its body is still held), and hands the response to the ActiveStream, with backpressure both
// ways and Envoy's route timeout.

import { ResponseParser } from '../../src/http1/response-parser.ts';
import type { Http1ParseError, Http1ResponseCallbacks, ResponseHead } from '../../src/http1/types.ts';
import { serializeLastChunk, serializeRequestHead } from '../../src/http1/serializer.ts';
import { getHeader, type HeaderList } from '../../src/http/stream-info.ts';
import { H } from '../../src/http/header-names.ts';
import { setHeader } from '../../src/http/header-list.ts';
import type { Route } from '../../src/router/route-table.ts';
import type { ClusterSlots } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerCluster } from '../upstream/worker-cluster.ts';
import type { HostCounters, UpstreamHost } from '../upstream/upstream-host.ts';
import type { PoolFailureReason, PoolHandle, PoolRequester, UpstreamConnection, UpstreamConnectionHandler } from '../upstream/connection-pool.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import { LocalReply, type LocalReplySpec } from '../http/local-reply.ts';
import http2 from 'node:http2';
import type { Http2PoolConnection, Http2StreamRequester } from '../upstream/http2-pool.ts';
import { UpstreamProtocol } from '../../src/upstream/cluster-config.ts';
import { requestHeadersForHttp2, responseHeadFromHttp2, trailerFieldsForHttp2 } from '../../src/http/http2-headers.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;
/** Request body bytes held for re-sending when an HTTP/2 stream is refused (beyond this, no retry). */
const RETRY_BUFFER_BYTES = 64 * 1024;
/** Tries for a stream the peer refused (REFUSED_STREAM, or beyond a GOAWAY's last stream id). */
const MAX_REFUSED_ATTEMPTS = 3;

const CHUNK_END = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** Per upstream connection: its response parser, dispatching to whichever request uses the connection now. */
export class UpstreamCodec implements Http1ResponseCallbacks {
  readonly parser: ResponseParser;
  readonly conn: UpstreamConnection;
  current: UpstreamRequest | null;

  constructor(maxHeadersCount: number, conn: UpstreamConnection) {
    this.current = null;
    this.conn = conn;
    this.parser = new ResponseParser({ maxHeadBytes: 60 * 1024, maxHeadersCount }, this);
  }
  onResponseHead(head: ResponseHead): void {
    if (this.current !== null) this.current.onResponseHead(head);
  }
  onResponseBody(chunk: Buffer): void {
    if (this.current !== null) this.current.onResponseBody(chunk);
  }
  onResponseComplete(trailers: HeaderList | null): void {
    if (this.current !== null) this.current.onResponseComplete(trailers);
  }
  onResponseError(err: Http1ParseError): void {
    if (this.current !== null) {
      this.current.onResponseError(err);
      return;
    }
    // Bytes after the response just completed, in the same read (a 204 or HEAD response with a body, say): the
    // connection, already back in the pool, must not answer the next request with them.
    const ctx = this.conn.pool.context;
    ctx.stats.values[ctx.slots.upstream_cx_protocol_error]++;
    this.conn.closedLocally = true;
    this.conn.socket.destroy();
  }
}

export class UpstreamRequest implements PoolRequester, UpstreamConnectionHandler, Http2StreamRequester {
  readonly stream: ActiveStream;
  readonly cluster: WorkerCluster;
  readonly route: Route;
  readonly path: string;
  readonly slots: ClusterSlots;
  conn: UpstreamConnection | null;
  codec: UpstreamCodec | null;
  poolHandle: PoolHandle | null;
  /** The host picked (null until then). */
  activeHost: UpstreamHost | null;
  /** The host's counters until the outcome of the exchange is counted on them. */
  private hostCounters: HostCounters | null;
  startMonoMs: number;
  /** Body bytes that arrived before the connection was ready. */
  private pending: Buffer[] | null;
  private pendingBytes: number;
  private bodyChunked: boolean;
  private requestEnded: boolean;
  /** The request's trailers (endBody), forwarded after the body: HTTP/1.1 chunked, or HTTP/2; null: none. */
  private requestTrailers: HeaderList | null;
  private responseHead: ResponseHead | null;
  private done: boolean;
  private timer: NodeJS.Timeout | null;
  private active: boolean;
  /** This request goes over HTTP/2 (the cluster's protocol, or the downstream's with use_downstream_protocol_config). */
  private http2: boolean;
  private h2conn: Http2PoolConnection | null;
  private h2stream: http2.ClientHttp2Stream | null;
  /** Body sent on the current HTTP/2 stream, kept while a refused stream could be retried; null once too big. */
  private retained: Buffer[] | null;
  private retainedBytes: number;
  private attempts: number;
  private h2Trailers: HeaderList | null;
  private responseDone: boolean;
  /**
   * An allowed upgrade still waiting for the upstream's 101: the client's bytes after the head are held (they are
   * the tunnel's, and an upstream that declines would take them for a request Legate never routed). Stays set
   * when the upgrade is declined: those bytes then go nowhere.
   */
  private awaitingUpgrade: boolean;
  /**
   * The router has the whole request: its head came with end of stream, or endBody() was called. Not the
   * downstream's own end (ActiveStream.requestComplete): a filter may still hold body the router has not been given.
   */
  private downstreamEnded: boolean;

  /** `endStream`: the head the router got ends the request (no body will be passed to sendBody/endBody). */
  constructor(stream: ActiveStream, cluster: WorkerCluster, route: Route, path: string, endStream: boolean) {
    this.downstreamEnded = endStream;
    this.stream = stream;
    this.cluster = cluster;
    this.route = route;
    this.path = path;
    this.slots = cluster.slots;
    this.conn = null;
    this.codec = null;
    this.poolHandle = null;
    this.activeHost = null;
    this.hostCounters = null;
    this.startMonoMs = performance.now();
    this.pending = null;
    this.pendingBytes = 0;
    this.bodyChunked = false;
    this.requestEnded = false;
    this.requestTrailers = null;
    this.responseHead = null;
    this.done = false;
    this.timer = null;
    this.active = false;
    this.http2 = false;
    this.h2conn = null;
    this.h2stream = null;
    this.retained = [];
    this.retainedBytes = 0;
    this.attempts = 0;
    this.h2Trailers = null;
    this.responseDone = false;
    this.awaitingUpgrade = stream.upgradeType !== null;
  }

  start(): void {
    const host = this.cluster.chooseHost();
    const values = this.stream.hcm.stats.values;
    if (host === null) {
      values[this.slots.upstream_cx_none_healthy]++;
      this.done = true;
      this.stream.localReply(LocalReply.noHealthyUpstream);
      return;
    }
    const info = this.stream.info;
    info.upstreamHost = host.addressString;
    values[this.slots.upstream_rq_total]++;
    values[this.slots.upstream_rq_active]++;
    values[this.slots.upstream_rq_pending_total]++;
    host.counters.rqTotal++;
    info.upstreamAttemptCount = 1;
    host.counters.rqActive++;
    this.activeHost = host;
    this.hostCounters = host.counters;
    this.active = true;
    if (this.route.timeoutMs > 0 && this.downstreamEnded) this.armTimeout();
    const protocol = this.cluster.config.upstreamProtocol;
    this.http2 = this.stream.upgradeType === null && (
      protocol === UpstreamProtocol.HTTP2 ||
      (protocol === UpstreamProtocol.DOWNSTREAM && this.stream.conn.multiplexed) ||
      (protocol === UpstreamProtocol.AUTO && !host.negotiatedHttp1));
    this.poolHandle = this.http2 ? host.http2Pool.acquire(this) : host.pool.acquire(this);
  }

  // ---- HTTP/2 pool ----

  onHttp2Ready(conn: Http2PoolConnection): void {
    this.poolHandle = null;
    if (this.done) {
      conn.pool.release(conn);
      return;
    }
    this.attempts++;
    this.stream.info.upstreamAttemptCount = this.attempts;
    const stream = this.stream;
    const headers = stream.headers;
    if (this.route.autoHostRewrite && conn.pool.host.hostname !== '') setHeader(headers, H.host, conn.pool.host.hostname);
    const scheme = this.cluster.config.transportSocket !== null ? 'https' : 'http';
    const pending = this.pending;
    const endStream = this.downstreamEnded && (pending === null || pending.length === 0) && this.retainedBytes === 0 && this.requestTrailers === null;
    let s: http2.ClientHttp2Stream;
    try {
      // A body still to come may end with trailers: the stream then stays open after the last DATA for them
      // ('wantTrailers'; none is an empty DATA frame with END_STREAM).
      const waitForTrailers = !endStream && (!this.downstreamEnded || this.requestTrailers !== null);
      s = conn.session.request(requestHeadersForHttp2(stream.head.method, this.path, scheme, headers) as never, { endStream, waitForTrailers });
      if (waitForTrailers) s.on('wantTrailers', () => sendH2Trailers(s, this.requestTrailers));
    } catch {
      // The session went away between the pool's check and now (GOAWAY, close): try another connection.
      conn.pool.release(conn);
      return this.retryOrFail(LocalReply.connectFailure);
    }
    this.h2conn = conn;
    this.h2stream = s;
    // Each listener is a boundary: node:http2 calls them from its session's socket reads, where an exception would
    // take the worker down; it resets this request only (onInternalError).
    s.on('response', (_h: unknown, flags: number, raw: string[]) => {
      try {
        this.onH2Response(s, flags, raw);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    // Interim 1xx heads (node:http2 reports them as 'headers' before 'response').
    s.on('headers', (_h: unknown, _flags: number, raw: string[]) => {
      try {
        this.onH2Interim(s, raw);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    s.on('data', (chunk: Buffer) => {
      try {
        this.onH2Data(s, chunk);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    s.on('trailers', (_h: unknown, _flags: number, raw: string[]) => {
      if (s === this.h2stream) this.h2Trailers = raw;
    });
    s.on('end', () => {
      try {
        this.onH2End(s);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    s.on('error', ignoreError);
    s.on('close', () => {
      try {
        this.onH2Close(conn, s);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    // Body that arrived before the stream (and, on a retry, what the refused stream had sent).
    const retained = this.retained;
    if (retained !== null && this.retainedBytes > 0) for (let i = 0; i < retained.length; i++) s.write(retained[i]!);
    if (pending !== null) {
      for (let i = 0; i < pending.length; i++) this.writeH2Body(pending[i]!);
      this.pending = null;
      this.pendingBytes = 0;
      stream.conn.resumeReading(stream);
    }
    if (this.downstreamEnded && !endStream) s.end();
    if (this.downstreamEnded) this.requestEnded = true;
  }

  private writeH2Body(chunk: Buffer): boolean {
    const retained = this.retained;
    if (retained !== null) {
      if (this.retainedBytes + chunk.length <= RETRY_BUFFER_BYTES) {
        retained.push(chunk);
        this.retainedBytes += chunk.length;
      } else {
        this.retained = null;
        this.retainedBytes = 0;
      }
    }
    const s = this.h2stream!;
    if (s.write(chunk)) return true;
    s.once('drain', () => {
      try {
        if (!this.done) this.stream.conn.resumeReading(this.stream);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    return false;
  }

  private onH2Response(s: http2.ClientHttp2Stream, flags: number, raw: string[]): void {
    if (this.done || s !== this.h2stream) return;
    const endStream = (flags & 1) !== 0;
    const head = responseHeadFromHttp2(raw, endStream);
    if (head === null) return this.onResponseError(null as never);
    // The response has begun: a later failure can no longer be retried.
    this.retained = null;
    this.onResponseHead(head);
    if (!this.done && endStream) this.completeH2();
    else if (!this.done && !this.stream.flushResponse()) s.pause();
  }

  private onH2Interim(s: http2.ClientHttp2Stream, raw: string[]): void {
    if (this.done || s !== this.h2stream || this.responseHead !== null) return;
    const head = responseHeadFromHttp2(raw, false);
    // HTTP/2 has no 101 (RFC 9113 §8.6); anything but an interim status here is not ours to pass.
    if (head !== null && head.statusCode < 200 && head.statusCode !== 101) this.onResponseHead(head);
  }

  private onH2Data(s: http2.ClientHttp2Stream, chunk: Buffer): void {
    if (this.done || s !== this.h2stream) return;
    this.onResponseBody(chunk);
    if (!this.done && !this.stream.flushResponse()) s.pause();
  }

  private onH2End(s: http2.ClientHttp2Stream): void {
    if (this.done || s !== this.h2stream || this.responseHead === null) return;
    this.completeH2();
  }

  private completeH2(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    this.onResponseComplete(this.h2Trailers);
  }

  private onH2Close(conn: Http2PoolConnection, s: http2.ClientHttp2Stream): void {
    conn.pool.release(conn);
    if (s !== this.h2stream) return;
    this.h2stream = null;
    this.h2conn = null;
    if (this.done) return;
    const code = s.rstCode;
    const values = this.stream.hcm.stats.values;
    values[this.slots['http2.rx_reset']]++;
    if (this.responseHead === null && code === NGHTTP2_REFUSED_STREAM) return this.retryOrFail(LocalReply.upstreamRefused);
    values[this.slots.upstream_rq_rx_reset]++;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamReset);
  }

  /** A stream the peer never processed: again on a new stream while the body is still held, else fail. */
  private retryOrFail(spec: LocalReplySpec): void {
    if (this.attempts < MAX_REFUSED_ATTEMPTS && this.retained !== null && this.activeHost !== null) {
      this.h2Trailers = null;
      this.poolHandle = this.activeHost.http2Pool.acquire(this);
      return;
    }
    this.finishUpstream(false);
    this.stream.upstreamFailed(spec);
  }

  // ---- pool ----

  onPoolReady(conn: UpstreamConnection): void {
    this.poolHandle = null;
    if (this.done) {
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
    codec.current = this;
    this.codec = codec;
    const stream = this.stream;
    const head = stream.head;
    codec.parser.expectResponse(head.method, this.awaitingUpgrade);

    const headers = stream.headers;
    if (this.route.autoHostRewrite && conn.host.hostname !== '') setHeader(headers, H.host, conn.host.hostname);
    // Framing of the upstream hop: keep a known length, re-chunk an unknown one.
    if (head.contentLength >= 0) {
      setHeader(headers, H.contentLength, String(head.contentLength));
    } else if (head.chunked && (stream.filters === null || getHeader(headers, H.contentLength) === undefined)) {
      // (A content-length here was set by a filter that holds the whole body, envoy.filters.http.buffer.)
      this.bodyChunked = true;
      headers.push(H.transferEncoding, 'chunked');
    }
    const socket = conn.socket;
    socket.cork();
    socket.write(serializeRequestHead(head.method, this.path, headers), 'latin1');
    const pending = this.pending;
    if (pending !== null && !this.awaitingUpgrade) {
      for (let i = 0; i < pending.length; i++) this.writeBody(pending[i]!);
      this.pending = null;
      this.pendingBytes = 0;
      stream.conn.resumeReading(stream);
    }
    if (this.downstreamEnded) this.writeEnd();
    socket.uncork();
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string | null = null): void {
    this.poolHandle = null;
    if (this.done) return;
    if (reason === 'http1_negotiated' && this.activeHost !== null) {
      // auto_config: the host chose HTTP/1.1 by ALPN; this request goes over its HTTP/1.1 pool.
      this.http2 = false;
      this.poolHandle = this.activeHost.pool.acquire(this);
      return;
    }
    const info = this.stream.info;
    // The pool says why a TLS connect failed (handshake, verification); otherwise the pool's reason.
    info.upstreamTransportFailureReason = transportFailureReason ?? reason;
    this.finishUpstream(false);
    switch (reason) {
      case 'connect_timeout':
        return this.stream.upstreamFailed(LocalReply.connectTimeout);
      case 'overflow':
        return this.stream.upstreamFailed(LocalReply.overflow);
      default:
        return this.stream.upstreamFailed(LocalReply.connectFailure);
    }
  }

  // ---- request body (client -> upstream) ----

  sendBody(chunk: Buffer): void {
    if (this.done) return;
    if (this.awaitingUpgrade || (this.conn === null && this.h2stream === null)) {
      // The upgrade was declined: the connection closes after that response; these bytes go nowhere.
      if (this.responseHead !== null) return;
      if (this.pending === null) this.pending = [];
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // Bounded buffering until the connection is ready (per_connection_buffer_limit_bytes).
      if (this.pendingBytes > this.stream.hcm.listener.perConnectionBufferLimitBytes) this.stream.conn.pauseReading(this.stream);
      return;
    }
    if (!(this.h2stream !== null ? this.writeH2Body(chunk) : this.writeBody(chunk))) this.stream.conn.pauseReading(this.stream);
  }

  /** The request's end, with its trailers (null or empty: none). */
  endBody(trailers: HeaderList | null = null): void {
    this.downstreamEnded = true;
    if (this.done) return;
    if (trailers !== null && trailers.length > 0) this.requestTrailers = trailers;
    if (this.stream.upgraded) {
      // The client ended its side of the tunnel: pass the FIN on.
      if (this.conn !== null) this.conn.socket.end();
      return;
    }
    if (this.route.timeoutMs > 0 && this.timer === null) this.armTimeout();
    if (this.conn !== null) this.writeEnd();
    else if (this.h2stream !== null && !this.requestEnded) {
      this.requestEnded = true;
      this.h2stream.end();
    }
  }

  private writeBody(chunk: Buffer): boolean {
    const socket = this.conn!.socket;
    if (!this.bodyChunked) return socket.write(chunk);
    socket.cork();
    socket.write(chunk.length.toString(16) + CHUNK_END, 'latin1');
    socket.write(chunk);
    const ok = socket.write(CHUNK_END, 'latin1');
    socket.uncork();
    return ok;
  }

  private writeEnd(): void {
    if (this.requestEnded) return;
    this.requestEnded = true;
    // Trailers go out only on a chunked body (with a content-length there is no place for them, as Envoy's codec).
    if (this.bodyChunked) this.conn!.socket.write(this.requestTrailers === null ? LAST_CHUNK : serializeLastChunk(this.requestTrailers), 'latin1');
  }

  // ---- socket events while this request owns the connection ----

  onUpstreamData(chunk: Buffer): void {
    this.codec!.parser.execute(chunk);
    // What this read produced (head and small body chunks) goes to the client in one write.
    if (!this.stream.flushResponse() && this.conn !== null) this.conn.socket.pause();
  }

  onUpstreamEnd(): void {
    if (this.done) return;
    this.codec!.parser.finish();
    this.stream.flushResponse();
  }

  onUpstreamClose(_hadError: boolean): void {
    if (this.done) return;
    // A close-delimited body ends here; anything else is a reset.
    this.codec!.parser.finish();
    this.stream.flushResponse();
    if (this.done) return;
    const values = this.stream.hcm.stats.values;
    values[this.slots.upstream_rq_rx_reset]++;
    this.conn = null;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamTermination);
  }

  onUpstreamDrain(): void {
    if (!this.done) this.stream.conn.resumeReading(this.stream);
  }

  /** The client caught up: read the upstream again. */
  resumeReading(): void {
    if (this.done) return;
    if (this.conn !== null) this.conn.socket.resume();
    else if (this.h2stream !== null) this.h2stream.resume();
  }

  // ---- response (upstream -> client) ----

  onResponseHead(head: ResponseHead): void {
    if (this.done) return;
    const status = head.statusCode;
    if (status < 200) {
      if (status !== 101) {
        // Interim (100, 102, 103...): counted as Envoy does; the stream decides what reaches the client.
        this.stream.hcm.stats.values[this.slots.upstream_rq_1xx]++;
        this.stream.encode1xxHeaders(head);
        return;
      }
      // A 101 is a tunnel only for an allowed upgrade (the HTTP/1.1 parser already refuses any other).
      if (!this.awaitingUpgrade) return this.onResponseError(null);
      // An accepted upgrade: the route timeout covered getting here; the tunnel lives until either side closes
      // (the stream idle timeout still applies).
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    }
    this.responseHead = head;
    this.stream.info.firstUpstreamRxMonoMs = performance.now();
    this.stream.encodeHeaders(head);
    if (status === 101 && !this.done) this.openTunnel();
  }

  /** The 101 is on its way to the client: the bytes held since the upgrade head go upstream, then the client's. */
  private openTunnel(): void {
    this.awaitingUpgrade = false;
    const socket = this.conn!.socket;
    const pending = this.pending;
    if (pending !== null) {
      socket.cork();
      for (let i = 0; i < pending.length; i++) socket.write(pending[i]!);
      socket.uncork();
      this.pending = null;
      this.pendingBytes = 0;
    }
    // The client may have ended its side before the 101: pass its FIN on after its bytes.
    if (this.downstreamEnded) socket.end();
    else this.stream.conn.resumeReading(this.stream);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.done) return;
    if (!this.stream.encodeData(chunk)) {
      if (this.conn !== null) this.conn.socket.pause();
      else if (this.h2stream !== null) this.h2stream.pause();
    }
  }

  onResponseComplete(trailers: HeaderList | null): void {
    if (this.done) return;
    this.responseDone = true;
    const head = this.responseHead;
    // Never without a final head (the parser reports none); if it ever did, the upstream is at fault, not the worker.
    if (head === null) return this.onResponseError(null);
    const values = this.stream.hcm.stats.values;
    const status = head.statusCode;
    if (status >= 500) values[this.slots.upstream_rq_5xx]++;
    else if (status >= 400) values[this.slots.upstream_rq_4xx]++;
    else if (status >= 300) values[this.slots.upstream_rq_3xx]++;
    else if (status >= 200) values[this.slots.upstream_rq_2xx]++;
    else values[this.slots.upstream_rq_1xx]++;
    values[this.slots.upstream_rq_completed]++;
    const serviceMs = performance.now() - this.startMonoMs;
    this.stream.hcm.stats.record(this.slots.upstream_rq_time, serviceMs);
    this.stream.info.upstreamServiceTimeMs = serviceMs;
    if (status >= 500) this.hostCounters!.rqError++;
    else this.hostCounters!.rqSuccess++;
    this.hostCounters = null;
    // Reuse only a connection whose both messages ended cleanly (never one that declined an upgrade).
    this.finishUpstream(head.keepAlive && !head.readUntilClose && this.requestEnded && status !== 101 && !this.awaitingUpgrade);
    this.stream.encodeComplete(trailers);
  }

  onResponseError(_err: Http1ParseError | null): void {
    if (this.done) return;
    const values = this.stream.hcm.stats.values;
    values[this.slots.upstream_cx_protocol_error]++;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamProtocolError);
  }

  /**
   * An exception escaped one of this request's callbacks (socket or stream events, the pool's, the route timeout):
   * a bug. The upstream exchange is abandoned (reset) and the downstream stream is reset, counted and logged
   * (ActiveStream.onInternalError). Never throws.
   */
  onInternalError(err: unknown): void {
    try {
      this.reset();
    } catch (err2) {
      reportInternalError('upstream request reset', err2);
    }
    this.stream.onInternalError(err);
  }

  /**
   * The bytes this request holds in the process: body waiting for a connection or kept for a retry, and what its
   * upstream socket (or HTTP/2 stream) has not sent yet or received and not delivered. For
   * reset_high_memory_stream, once per overload refresh while the action is active; never on the request path.
   */
  heldBytes(): number {
    let n = this.pendingBytes + this.retainedBytes;
    const conn = this.conn;
    if (conn !== null) n += conn.socket.writableLength + conn.socket.readableLength;
    const s = this.h2stream;
    if (s !== null && !s.destroyed) n += s.writableLength + s.readableLength;
    return n;
  }

  /** The downstream side is gone or answered locally: abandon the upstream exchange. */
  reset(): void {
    if (this.done) return;
    if (this.poolHandle !== null) {
      this.poolHandle.cancel();
      this.poolHandle = null;
      this.stream.hcm.stats.values[this.slots.upstream_rq_cancelled]++;
    }
    this.finishUpstream(false);
  }

  private armTimeout(): void {
    this.timer = setTimeout(onUpstreamTimeout, this.route.timeoutMs, this);
  }

  onTimeout(): void {
    this.timer = null;
    if (this.done) return;
    this.stream.hcm.stats.values[this.slots.upstream_rq_timeout]++;
    this.hostCounters!.rqTimeout++;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamTimeout);
  }

  /** Ends this request's use of the upstream: timers, gauges, and the connection back to the pool or closed. */
  private finishUpstream(reusable: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.active) {
      this.active = false;
      this.stream.hcm.stats.values[this.slots.upstream_rq_active]--;
      this.activeHost!.counters.rqActive--;
      // Still set: the exchange ended without a complete response (reset, timeout, protocol error).
      if (this.hostCounters !== null) this.hostCounters.rqError++;
    }
    this.pending = null;
    this.pendingBytes = 0;
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.handler = null;
      if (this.codec !== null) this.codec.current = null;
      if (reusable || (this.responseDone && (this.requestEnded || this.stream.upgraded || this.awaitingUpgrade))) {
        // Both messages ended (a tunnel: its upstream side; a declined upgrade: its head): reused, or a FIN.
        if (conn.socket.isPaused()) conn.socket.resume();
        conn.pool.release(conn, reusable);
      } else {
        // Abandoned mid-exchange (the client left or broke its body, a local reply, a timeout, a response before the
        // request was all sent): a RST, so no upstream can take a request cut short for a complete one.
        conn.pool.reset(conn);
      }
    }
    const s = this.h2stream;
    if (s !== null && !s.closed && !s.destroyed && !(reusable && this.requestEnded)) {
      // Abandoned (reset, timeout, local reply) or answered before the request ended: reset the stream; the
      // pool gets the connection back from the stream's close.
      this.stream.hcm.stats.values[this.slots['http2.tx_reset']]++;
      s.close(NGHTTP2_CANCEL);
    }
  }
}

function onUpstreamTimeout(req: UpstreamRequest): void {
  try {
    req.onTimeout();
  } catch (err) {
    req.onInternalError(err);
  }
}

function ignoreError(): void {}

/** 'wantTrailers' of an upstream HTTP/2 request: its trailers (minus connection-specific fields), or none. */
function sendH2Trailers(s: http2.ClientHttp2Stream, trailers: HeaderList | null): void {
  const fields = trailerFieldsForHttp2(trailers);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const prev = out[name];
    out[name] = prev === undefined ? fields[i + 1]! : Array.isArray(prev) ? [...prev, fields[i + 1]!] : [prev, fields[i + 1]!];
  }
  try {
    s.sendTrailers(out);
  } catch {
    // The stream closed meanwhile (reset, session gone): nothing left to end.
  }
}
