// Worker thread. The router's request to one upstream host: picks a host, then either takes a pooled HTTP/1.1
// connection (writes the request head, streams the body, parses the response strictly) or opens a stream on a
// pooled HTTP/2 connection (Legate's client codec; a stream the peer refused, e.g. past its GOAWAY, is retried on another
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
import { routerLog, streamTag } from '../http/stream-log.ts';
import { LocalReply, type LocalReplySpec } from '../http/local-reply.ts';
import type { Http2PoolConnection, Http2StreamRequester } from '../upstream/http2-pool.ts';
import { Http2ResetReason, type Http2ClientStream, type Http2ClientStreamHandler } from '../http2/client-codec.ts';
import { ErrorCode } from '../../src/http2/frames.ts';
import { UpstreamProtocol } from '../../src/upstream/cluster-config.ts';
import { requestHeadersForHttp2, responseHeadFromHttp2, trailerFieldsForHttp2 } from '../../src/http/http2-headers.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import { DeadlineLists, type DeadlineEntry } from '../../src/common/deadline-list.ts';
import { addHashCookies, hashRequest } from './request-hash.ts';
import type { Hash64 } from '../../src/common/xxhash64.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import { ResetKind, X_ENVOY_ATTEMPT_COUNT, type RetryState } from './retry-state.ts';
import { UPSTREAM_RQ_CODE_INDEX } from '../../src/stats/definitions.ts';
import { checkImmediateHealthCheckFail } from '../upstream/health-reports.ts';
import { reportOutlierLocalFailure, reportOutlierResult } from '../upstream/outlier-reports.ts';

/** Request body bytes held for re-sending when an HTTP/2 stream is refused (beyond this, no retry). */
const RETRY_BUFFER_BYTES = 64 * 1024;
/** Tries for a stream the peer refused (REFUSED_STREAM, or beyond a GOAWAY's last stream id). */
const MAX_REFUSED_ATTEMPTS = 3;

/** x-envoy-overloaded: true, on a reply to a request a circuit breaker refused. */
const OVERLOADED_HEADER: HeaderList = ['x-envoy-overloaded', 'true'];
const RETRY_BUFFER_OVERFLOW_BODY = Buffer.from('exceeded request buffer limit while retrying upstream');

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
    if (conn.sharedReads) this.parser.setTransientInput(true);
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

export class UpstreamRequest implements PoolRequester, UpstreamConnectionHandler, Http2StreamRequester, Http2ClientStreamHandler {
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
  /**
   * The route timeout: this request is an entry of the worker's timeout deadline lists (src/common/deadline-list.ts;
   * no Timeout object per request). deadlineList non-null = armed.
   */
  deadlineAt: number;
  deadlinePrev: DeadlineEntry | null;
  deadlineNext: DeadlineEntry | null;
  deadlineList: DeadlineEntry['deadlineList'];
  private active: boolean;
  /** This request goes over HTTP/2 (the cluster's protocol, or the downstream's with use_downstream_protocol_config). */
  private http2: boolean;
  private h2conn: Http2PoolConnection | null;
  private h2stream: Http2ClientStream | null;
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
  /** RING_HASH / MAGLEV clusters: the route hash_policy's hash of this request (null: none; workers/router/request-hash.ts). */
  requestHash: Hash64 | null;
  /** Cookies a hash_policy with a ttl generated: Set-Cookie on the response; null: none. */
  hashCookies: string[] | null;
  /**
   * The router has the whole request: its head came with end of stream, or endBody() was called. Not the
   * downstream's own end (ActiveStream.requestComplete): a filter may still hold body the router has not been given.
   */
  private downstreamEnded: boolean;
  /**
   * Retries (Envoy's RetryStateImpl): only for a route with a retry policy; null otherwise, and then no retry
   * work is done at all. Each attempt reuses this object: abandonAttempt() drops the attempt's connection and
   * state, the back-off timer starts the next one (startAttempt).
   */
  readonly retry: RetryState | null;
  /** The route timeout for this request (a trusted x-envoy-upstream-rq-timeout-ms may replace the route's). */
  private readonly timeoutMs: number;
  /** per_try_timeout and per_try_idle_timeout of the attempt under way (null: not armed). */
  private perTryTimer: NodeJS.Timeout | null;
  private idleTimer: NodeJS.Timeout | null;

  /**
   * `endStream`: the head the router got ends the request (no body will be passed to sendBody/endBody). `retry`:
   * the request's retry state when its route has a retry policy. `hedgeOf`: a hedged attempt started beside that
   * one (per-try timeout with hedge_on_per_try_timeout), for the whole request the router already has.
   */
  constructor(
    stream: ActiveStream, cluster: WorkerCluster, route: Route, path: string, endStream: boolean, retry: RetryState | null = null,
    hedgeOf: UpstreamRequest | null = null,
  ) {
    this.downstreamEnded = endStream;
    this.retry = retry;
    this.perTryTimer = null;
    this.idleTimer = null;
    // A hedge ends when the request's route timeout does, counted from the first attempt.
    this.timeoutMs = retry === null ? route.timeoutMs
      : hedgeOf === null || retry.timeoutMs === 0 ? retry.timeoutMs
      : Math.max(1, Math.ceil(retry.timeoutMs - (performance.now() - hedgeOf.startMonoMs)));
    if (retry !== null && retry.inflight !== null) retry.inflight.push(this);
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
    this.deadlineAt = 0;
    this.deadlinePrev = null;
    this.deadlineNext = null;
    this.deadlineList = null;
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
    this.requestHash = null;
    this.hashCookies = null;
  }

  start(): void {
    const cluster = this.cluster;
    // A dynamic forward proxy cluster sets `hashing` too: its host is the one the request's host resolved to.
    const host = !cluster.hashing ? cluster.chooseHost(null)
      : cluster.dynamicForwardProxy === null ? cluster.chooseHost(hashRequest(this), 0, this.route.metadataMatch ?? null) : cluster.dynamicForwardProxy.hostFor(this.stream.info.authority);
    if (this.retry !== null && host !== null) this.retry.hosts.push(host);
    this.startAttempt(host);
  }

  /** One attempt to `host` (null: none could be picked): counted, then a connection or stream from its pool. */
  private startAttempt(host: UpstreamHost | null): void {
    const values = this.stream.hcm.stats.values;
    if (host === null) {
      values[this.slots.upstream_cx_none_healthy]++;
      if (this.retry === null) {
        this.done = true;
      } else {
        // A retry or hedge found no host: its timers and circuit-breaker unit go; a hedge beside another just ends.
        const others = this.retry.inflight !== null && this.retry.inflight.length > 1;
        if (others) return this.dropHedge();
        this.finishUpstream(false);
      }
      this.stream.localReply(LocalReply.noHealthyUpstream);
      return;
    }
    const info = this.stream.info;
    info.upstreamHost = host.addressString;
    if (routerLog.debug) routerLog.log('debug', `${streamTag(this.stream)}cluster '${this.cluster.name}' match for URL '${info.path}', upstream host ${host.addressString}`);
    values[this.slots.upstream_rq_total]++;
    values[this.slots.upstream_rq_active]++;
    values[this.slots.upstream_rq_pending_total]++;
    host.counters.rqTotal++;
    info.upstreamAttemptCount = this.retry === null ? 1 : this.retry.attempt;
    host.counters.rqActive++;
    this.activeHost = host;
    this.hostCounters = host.counters;
    this.active = true;
    if (this.timeoutMs > 0 && this.downstreamEnded && this.deadlineList === null) this.armTimeout();
    const protocol = this.cluster.config.upstreamProtocol;
    this.http2 = this.stream.upgradeType === null && (
      protocol === UpstreamProtocol.HTTP2 ||
      (protocol === UpstreamProtocol.DOWNSTREAM && this.stream.conn.multiplexed) ||
      (protocol === UpstreamProtocol.AUTO && !host.negotiatedHttp1));
    const high = this.route.highPriority === true;
    this.poolHandle = this.http2 ? host.http2PoolFor(high).acquire(this) : host.poolFor(high).acquire(this);
  }

  // ---- HTTP/2 pool ----

  onHttp2Ready(conn: Http2PoolConnection): void {
    this.poolHandle = null;
    if (this.done) {
      conn.pool.release(conn);
      return;
    }
    this.attempts++;
    const retry = this.retry;
    this.stream.info.upstreamAttemptCount = retry === null ? this.attempts : retry.attempt;
    const stream = this.stream;
    const headers = stream.headers;
    if (this.route.autoHostRewrite && conn.pool.host.hostname !== '') setHeader(headers, H.host, conn.pool.host.hostname);
    if (retry !== null && retry.policy.includeAttemptCountInRequest) setHeader(headers, X_ENVOY_ATTEMPT_COUNT, String(retry.attempt));
    const scheme = this.cluster.config.transportSocket !== null ? 'https' : 'http';
    const pending = this.pending;
    const endStream = this.downstreamEnded && (pending === null || pending.length === 0) && this.retainedBytes === 0 && this.requestTrailers === null;
    // The stream's events come to this object (Http2ClientStreamHandler: onHeaders, onData, ...).
    const s = conn.codec.request(this, requestHeadersForHttp2(stream.head.method, this.path, scheme, headers), endStream);
    if (s === null) {
      // The connection went away between the pool's check and now (GOAWAY, close): try another connection.
      conn.pool.release(conn);
      return this.retryOrFail(LocalReply.connectFailure);
    }
    this.h2conn = conn;
    this.h2stream = s;
    // Body that arrived before the stream (and, on a retry, what the refused stream had sent).
    const retained = this.retained;
    if (retained !== null && this.retainedBytes > 0) for (let i = 0; i < retained.length; i++) conn.codec.writeData(s, retained[i]!);
    if (pending !== null) {
      for (let i = 0; i < pending.length; i++) this.writeH2Body(pending[i]!);
      this.pending = null;
      this.pendingBytes = 0;
      stream.conn.resumeReading(stream);
    }
    if (this.downstreamEnded && !endStream) conn.codec.end(s, this.requestTrailers === null ? null : trailerFieldsForHttp2(this.requestTrailers));
    if (this.downstreamEnded) this.requestEnded = true;
    if (retry !== null) this.armPerTry(retry);
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
    // false: onWritable resumes the client's body.
    return this.h2conn!.codec.writeData(this.h2stream!, chunk);
  }

  // ---- the HTTP/2 stream's events (Http2ClientStreamHandler; each a boundary: a bug resets this request only) ----

  onHeaders(s: Http2ClientStream, fields: string[], endStream: boolean): void {
    try {
      if (fields[1]!.charCodeAt(0) === 49 /* 1xx */) this.onH2Interim(s, fields);
      else this.onH2Response(s, endStream, fields);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onData(s: Http2ClientStream, chunk: Buffer): void {
    try {
      this.onH2Data(s, chunk);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onTrailers(s: Http2ClientStream, fields: string[]): void {
    if (s === this.h2stream) this.h2Trailers = fields;
  }

  onEnd(s: Http2ClientStream): void {
    try {
      this.onH2End(s);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onReset(s: Http2ClientStream): void {
    try {
      this.onH2Reset(s);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  onWritable(s: Http2ClientStream): void {
    try {
      if (!this.done && s === this.h2stream) this.stream.conn.resumeReading(this.stream);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  private onH2Response(s: Http2ClientStream, endStream: boolean, raw: string[]): void {
    if (this.done || s !== this.h2stream) return;
    const head = responseHeadFromHttp2(raw, endStream);
    if (head === null) return this.onResponseError(null as never);
    // The response has begun: a later failure can no longer be retried.
    this.retained = null;
    this.onResponseHead(head);
    // (A retried response: this stream was abandoned.)
    if (s !== this.h2stream) return;
    if (!this.done && endStream) this.completeH2();
    else if (!this.done && !this.stream.flushResponse()) this.h2conn!.codec.pause(s);
  }

  private onH2Interim(s: Http2ClientStream, raw: string[]): void {
    if (this.done || s !== this.h2stream || this.responseHead !== null) return;
    const head = responseHeadFromHttp2(raw, false);
    // HTTP/2 has no 101 (RFC 9113 §8.6); anything but an interim status here is not ours to pass.
    if (head !== null && head.statusCode < 200 && head.statusCode !== 101) this.onResponseHead(head);
  }

  private onH2Data(s: Http2ClientStream, chunk: Buffer): void {
    if (this.done || s !== this.h2stream) return;
    this.onResponseBody(chunk);
    if (!this.done && s === this.h2stream && !this.stream.flushResponse()) this.h2conn!.codec.pause(s);
  }

  private onH2End(s: Http2ClientStream): void {
    if (this.done || s !== this.h2stream || this.responseHead === null) return;
    this.completeH2();
  }

  private completeH2(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    this.onResponseComplete(this.h2Trailers);
  }

  /** The stream was reset under this request (by the peer, a GOAWAY, the connection's end): the pool has its slot back. */
  private onH2Reset(s: Http2ClientStream): void {
    if (s !== this.h2stream) return;
    this.h2stream = null;
    this.h2conn = null;
    if (this.done) return;
    const values = this.stream.hcm.stats.values;
    values[this.slots['http2.rx_reset']]++;
    if (this.responseHead === null && s.resetReason === Http2ResetReason.REMOTE_REFUSED_STREAM_RESET) return this.retryOrFail(LocalReply.upstreamRefused);
    values[this.slots.upstream_rq_rx_reset]++;
    this.reportLocalFailure(503);
    if (this.retry !== null && this.responseHead === null && this.maybeRetry(ResetKind.RESET, null)) return;
    this.finishUpstream(false);
    // Envoy's reset reason: the peer's RST_STREAM (UR), its protocol error (502 UPE), the connection's end (UC).
    const reason = s.resetReason;
    this.stream.upstreamFailed(reason === Http2ResetReason.PROTOCOL_ERROR ? LocalReply.upstreamProtocolError
      : reason === Http2ResetReason.CONNECTION_TERMINATION || reason === Http2ResetReason.CONNECTION_FAILURE ? LocalReply.upstreamTermination
        : LocalReply.upstreamReset);
  }

  /** A stream the peer never processed: again on a new stream while the body is still held, else fail. */
  private retryOrFail(spec: LocalReplySpec): void {
    if (this.attempts < MAX_REFUSED_ATTEMPTS && this.retained !== null && this.activeHost !== null) {
      this.h2Trailers = null;
      this.poolHandle = this.activeHost.http2PoolFor(this.route.highPriority === true).acquire(this);
      return;
    }
    if (this.retry !== null && this.maybeRetry(spec === LocalReply.upstreamRefused ? ResetKind.REFUSED_STREAM : ResetKind.CONNECT_FAILURE, null)) return;
    this.finishUpstream(false);
    this.stream.upstreamFailed(spec);
  }

  // ---- retries (only with a retry policy: this.retry !== null) ----

  /**
   * A final response head of an attempt: true when it is retried instead of forwarded (the retry_on condition
   * holds and a retry is allowed). Counts a retry's success when the response is forwarded.
   */
  private retryResponse(retry: RetryState, head: ResponseHead): boolean {
    if (head.statusCode === 101 || this.awaitingUpgrade) return false;
    if (!retry.wouldRetryOnHeaders(head)) {
      if (retry.attempt > 1) this.stream.hcm.stats.values[this.slots.upstream_rq_retry_success]++;
      return false;
    }
    if (!this.maybeRetry(0, head)) return false;
    // The retried response is counted as the attempt's outcome (it never reaches the client).
    const values = this.stream.hcm.stats.values;
    const status = head.statusCode;
    values[status >= 500 ? this.slots.upstream_rq_5xx : status >= 400 ? this.slots.upstream_rq_4xx : this.slots.upstream_rq_2xx]++;
    return true;
  }

  /**
   * Envoy's shouldRetry for an attempt that failed (`kind`: a ResetKind; 0 with `head`: a response already found
   * retriable). True when a retry is scheduled: the attempt is abandoned and the back-off timer starts the next.
   * False: the caller fails or forwards as without retries (with URX once the retries ran out).
   */
  private maybeRetry(kind: number, head: ResponseHead | null): boolean {
    const retry = this.retry!;
    if (this.done || this.stream.finished) return false;
    // Hedging: an attempt that failed while another is under way just ends; the other may still answer.
    if (retry.inflight !== null && retry.inflight.length > 1) {
      this.dropHedge();
      return true;
    }
    if (kind !== 0 && !retry.wouldRetryOnReset(kind)) return false;
    // The body went past the buffer limit: it cannot be sent again.
    if (retry.body === null) return false;
    const values = this.stream.hcm.stats.values;
    if (retry.remaining <= 0) {
      values[this.slots.upstream_rq_retry_limit_exceeded]++;
      this.stream.info.responseFlags |= ResponseFlag.UpstreamRetryLimitExceeded;
      return false;
    }
    if (!retry.tryTakeRetry()) return false;
    retry.remaining--;
    values[this.slots.upstream_rq_retry]++;
    const delay = retry.nextBackoffMs(head);
    values[retry.rateLimited ? this.slots.upstream_rq_retry_backoff_ratelimited : this.slots.upstream_rq_retry_backoff_exponential]++;
    this.abandonAttempt();
    // (A hedge still in its back-off is replaced by this retry.)
    if (retry.backoffTimer !== null) clearTimeout(retry.backoffTimer);
    retry.backoffTimer = setTimeout(onRetryBackoff, delay, this);
    return true;
  }

  /** Drops the current attempt (its connection reset or its stream cancelled) and its per-attempt state. */
  private abandonAttempt(): void {
    const retry = this.retry!;
    this.clearTryTimers();
    if (this.poolHandle !== null) {
      this.poolHandle.cancel();
      this.poolHandle = null;
    }
    this.releaseAttempt(false);
    this.hostCounters = null;
    this.conn = null;
    this.codec = null;
    this.h2conn = null;
    this.h2stream = null;
    this.h2Trailers = null;
    this.responseHead = null;
    this.responseDone = false;
    this.bodyChunked = false;
    this.requestEnded = false;
    this.retained = [];
    this.retainedBytes = 0;
    this.attempts = 0;
  }

  /** The back-off is over: the next attempt, to a host the retry host predicate accepts, with the body again. */
  onRetryBackoff(): void {
    const retry = this.retry!;
    retry.backoffTimer = null;
    if (this.done) return;
    retry.attempt++;
    // The body so far goes first; what the client sends from now on follows it (sendBody adds to `pending`).
    const body = retry.body;
    if (body === null) return this.retryBufferOverflow();
    this.pending = body.length === 0 ? null : body.slice();
    this.pendingBytes = retry.bodyBytes;
    this.startAttempt(retry.pickHost(this.requestHash));
  }

  /**
   * The body outgrew the buffer limit while no attempt was under way (a back-off): what was sent cannot be sent
   * again, so the request ends here, as Envoy's 507.
   */
  private retryBufferOverflow(): void {
    this.finishUpstream(false);
    this.stream.sendLocal(507, RETRY_BUFFER_OVERFLOW_BODY, 0, 'request_payload_exceeded_retry_buffer_limit', 'text/plain');
  }

  /** per_try_timeout and per_try_idle_timeout, from when the attempt has the whole request (as Envoy). */
  private armPerTry(retry: RetryState): void {
    if (!this.downstreamEnded || this.done || this.responseDone) return;
    if (retry.perTryTimeoutMs > 0 && this.perTryTimer === null) this.perTryTimer = setTimeout(onPerTryTimeout, retry.perTryTimeoutMs, this);
    if (retry.perTryIdleTimeoutMs > 0 && this.idleTimer === null) this.idleTimer = setTimeout(onPerTryIdleTimeout, retry.perTryIdleTimeoutMs, this);
  }

  /** The attempt took longer than per_try_timeout (`idle`: was silent for per_try_idle_timeout). */
  onPerTryTimeout(idle: boolean): void {
    const retry = this.retry!;
    if (idle) this.idleTimer = null;
    else this.perTryTimer = null;
    if (this.done) return;
    this.stream.hcm.stats.values[idle ? this.slots.upstream_rq_per_try_idle_timeout : this.slots.upstream_rq_per_try_timeout]++;
    if (this.hostCounters !== null) this.hostCounters.rqTimeout++;
    // hedge_on_per_try_timeout: this attempt goes on; another starts beside it (Envoy's soft per-try timeout).
    if (!idle && retry.inflight !== null) {
      if (this.responseHead === null) this.maybeHedge(retry);
      return;
    }
    if (this.responseHead === null && this.maybeRetry(ResetKind.RESET, null)) return;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamTimeout);
  }

  private clearTryTimers(): void {
    if (this.perTryTimer !== null) {
      clearTimeout(this.perTryTimer);
      this.perTryTimer = null;
    }
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  // ---- hedging (hedge_on_per_try_timeout; retry.inflight !== null) ----

  /** Envoy's shouldHedgeRetryPerTryTimeout: a hedged attempt after the back-off, if a retry is allowed. */
  private maybeHedge(retry: RetryState): void {
    if (this.stream.finished || retry.backoffTimer !== null || !retry.wouldRetryOnReset(ResetKind.RESET)) return;
    if (retry.body === null || !this.downstreamEnded) return;
    const values = this.stream.hcm.stats.values;
    if (retry.remaining <= 0) {
      values[this.slots.upstream_rq_retry_limit_exceeded]++;
      return;
    }
    if (!retry.tryTakeRetry()) return;
    retry.remaining--;
    values[this.slots.upstream_rq_retry]++;
    const delay = retry.nextBackoffMs(null);
    values[this.slots.upstream_rq_retry_backoff_exponential]++;
    retry.backoffTimer = setTimeout(onHedgeBackoff, delay, this);
  }

  /** The hedge's back-off is over: a new attempt with the whole request, beside this one. */
  onHedgeBackoff(): void {
    const retry = this.retry!;
    retry.backoffTimer = null;
    if (this.stream.finished || retry.inflight!.length === 0) return;
    const body = retry.body;
    if (body === null) return;
    retry.attempt++;
    const hedge = new UpstreamRequest(this.stream, this.cluster, this.route, this.path, true, retry, this);
    hedge.pending = body.length === 0 ? null : body.slice();
    hedge.pendingBytes = retry.bodyBytes;
    hedge.requestTrailers = this.requestTrailers;
    hedge.requestHash = this.requestHash;
    hedge.hashCookies = this.hashCookies;
    hedge.startAttempt(retry.pickHost(this.requestHash));
  }

  /** This attempt failed while another is under way: it ends without a word to the client. */
  private dropHedge(): void {
    const retry = this.retry!;
    this.finishUpstream(false);
    const stream = this.stream;
    if (stream.upstream === this && retry.inflight!.length > 0) stream.upstream = retry.inflight![0]!;
  }

  /** This attempt's response goes to the client: the others are cancelled, and it is the stream's upstream now. */
  private winHedge(): void {
    this.resetOtherHedges();
    const retry = this.retry!;
    if (retry.backoffTimer !== null) {
      clearTimeout(retry.backoffTimer);
      retry.backoffTimer = null;
    }
    this.stream.upstream = this;
  }

  private resetOtherHedges(): void {
    const inflight = this.retry!.inflight!;
    const others = inflight.filter((r) => r !== this);
    for (let i = 0; i < others.length; i++) others[i]!.cancelHedge();
  }

  /** Another attempt won (or the request ended): this one is abandoned. */
  private cancelHedge(): void {
    if (this.done) return;
    if (this.poolHandle !== null) {
      this.poolHandle.cancel();
      this.poolHandle = null;
    }
    this.stream.hcm.stats.values[this.slots.upstream_rq_cancelled]++;
    this.finishUpstream(false);
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
    if (routerLog.debug) routerLog.log('debug', `${streamTag(stream)}pool ready`);
    const head = stream.head;
    codec.parser.expectResponse(head.method, this.awaitingUpgrade);

    const headers = stream.headers;
    if (this.route.autoHostRewrite && conn.host.hostname !== '') setHeader(headers, H.host, conn.host.hostname);
    const retry = this.retry;
    if (retry !== null && retry.policy.includeAttemptCountInRequest) setHeader(headers, X_ENVOY_ATTEMPT_COUNT, String(retry.attempt));
    // Framing of the upstream hop: keep a known length, re-chunk an unknown one.
    if (head.contentLength >= 0) {
      setHeader(headers, H.contentLength, String(head.contentLength));
    } else if (head.chunked && (stream.filters === null || getHeader(headers, H.contentLength) === undefined)) {
      // (A content-length here was set by a filter that holds the whole body, envoy.filters.http.buffer.)
      this.bodyChunked = true;
      // (A retry's headers have it from the first attempt.)
      if (retry === null || retry.attempt === 1) headers.push(H.transferEncoding, 'chunked');
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
    if (retry !== null) this.armPerTry(retry);
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string | null = null): void {
    this.poolHandle = null;
    if (this.done) return;
    if (reason === 'http1_negotiated' && this.activeHost !== null) {
      // auto_config: the host chose HTTP/1.1 by ALPN; this request goes over its HTTP/1.1 pool.
      this.http2 = false;
      this.poolHandle = this.activeHost.poolFor(this.route.highPriority === true).acquire(this);
      return;
    }
    const info = this.stream.info;
    // The pool says why a TLS connect failed (handshake, verification); otherwise the pool's reason.
    info.upstreamTransportFailureReason = transportFailureReason ?? reason;
    // A connect failure counts as a gateway failure for outlier detection (Envoy, errors not split by origin).
    if (reason !== 'overflow') this.reportLocalFailure(503);
    if (this.retry !== null && reason !== 'overflow' && this.maybeRetry(ResetKind.CONNECT_FAILURE, null)) return;
    this.finishUpstream(false);
    switch (reason) {
      case 'connect_timeout':
        return this.stream.upstreamFailed(LocalReply.connectTimeout);
      case 'overflow': {
        // A circuit breaker refused it (UO): as Envoy's router, the reply says so unless suppress_envoy_headers.
        const stream = this.stream;
        if (stream.hcm.config.suppressEnvoyHeaders) return stream.upstreamFailed(LocalReply.overflow);
        const o = LocalReply.overflow;
        return stream.sendLocal(o.status, Buffer.from(o.body, 'latin1'), o.flag, o.details, 'text/plain', undefined, o.grpcStatus, OVERLOADED_HEADER);
      }
      default:
        return this.stream.upstreamFailed(LocalReply.connectFailure);
    }
  }

  // ---- request body (client -> upstream) ----

  sendBody(chunk: Buffer): void {
    if (this.done) return;
    if (this.retry !== null && !this.retry.bufferBody(chunk) && this.retry.backoffTimer !== null) return this.retryBufferOverflow();
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
    if (this.timeoutMs > 0 && this.deadlineList === null) this.armTimeout();
    if (this.conn !== null) this.writeEnd();
    else if (this.h2stream !== null && !this.requestEnded) {
      this.requestEnded = true;
      this.h2conn!.codec.end(this.h2stream, this.requestTrailers === null ? null : trailerFieldsForHttp2(this.requestTrailers));
    }
    if (this.retry !== null && (this.conn !== null || this.h2stream !== null)) this.armPerTry(this.retry);
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
    this.reportLocalFailure(503);
    if (this.retry !== null && this.responseHead === null && this.maybeRetry(ResetKind.RESET, null)) return;
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
    else if (this.h2stream !== null) this.h2conn!.codec.resume(this.h2stream);
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
      if (this.deadlineList !== null) upstreamTimeoutDeadlines.cancel(this);
    }
    // Envoy: an upstream's x-envoy-immediate-health-check-fail fails its host in the active health checker.
    if (this.cluster.activeHealthChecked && this.activeHost !== null) checkImmediateHealthCheckFail(this.cluster.name, this.activeHost, head.headers);
    // Outlier detection (the primary decides): every attempt's response counts, retried or not, as Envoy.
    if (this.cluster.config.outlierDetection !== null && this.activeHost !== null) reportOutlierResult(this.cluster.name, this.activeHost, status);
    const retry = this.retry;
    if (retry !== null) {
      if (this.retryResponse(retry, head)) return;
      if (retry.inflight !== null && retry.inflight.length > 1) this.winHedge();
      if (this.idleTimer !== null) this.idleTimer.refresh();
      if (retry.policy.includeAttemptCountInResponse) head.headers.push(X_ENVOY_ATTEMPT_COUNT, String(retry.attempt));
    }
    this.responseHead = head;
    this.stream.info.firstUpstreamRxMonoMs = performance.now();
    if (this.hashCookies !== null) addHashCookies(head.headers, this.hashCookies);
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
    if (this.idleTimer !== null) this.idleTimer.refresh();
    if (!this.stream.encodeData(chunk)) {
      if (this.conn !== null) this.conn.socket.pause();
      else if (this.h2stream !== null) this.h2conn!.codec.pause(this.h2stream);
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
    // cluster.<name>.upstream_rq_<code> (dashboards' envoy_cluster_upstream_rq{envoy_response_code=...}).
    const codeBase = this.slots.upstream_rq_code_base;
    const codeIndex = status < 600 ? UPSTREAM_RQ_CODE_INDEX[status]! : -1;
    if (codeIndex >= 0 && codeBase >= 0) values[codeBase + codeIndex]++;
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
    // The body kept for a retry holds what waits for a connection too.
    let n = (this.retry === null ? this.pendingBytes : Math.max(this.pendingBytes, this.retry.bodyBytes)) + this.retainedBytes;
    const conn = this.conn;
    if (conn !== null) n += conn.socket.writableLength + conn.socket.readableLength;
    const s = this.h2stream;
    if (s !== null) n += s.queuedBytes;
    return n;
  }

  /** The downstream side is gone or answered locally: abandon the upstream exchange. */
  reset(): void {
    const inflight = this.retry === null ? null : this.retry.inflight;
    if (inflight !== null && inflight.length > 0) this.resetOtherHedges();
    if (this.done) return;
    if (this.poolHandle !== null) {
      this.poolHandle.cancel();
      this.poolHandle = null;
      this.stream.hcm.stats.values[this.slots.upstream_rq_cancelled]++;
    }
    this.finishUpstream(false);
  }

  private armTimeout(): void {
    upstreamTimeoutDeadlines.arm(this, this.timeoutMs);
  }

  onTimeout(): void {
    if (this.done) return;
    this.stream.hcm.stats.values[this.slots.upstream_rq_timeout]++;
    // (None during a retry's back-off.)
    if (this.hostCounters !== null) this.hostCounters.rqTimeout++;
    this.reportLocalFailure(504);
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamTimeout);
  }

  /** Outlier detection (the primary decides): a local-origin failure of this attempt (503 connect/reset, 504 timeout). */
  private reportLocalFailure(mapped: number): void {
    const od = this.cluster.config.outlierDetection;
    if (od !== null && this.activeHost !== null) reportOutlierLocalFailure(this.cluster.name, this.activeHost, mapped, od.splitExternalLocalOriginErrors);
  }

  /** Ends this request's use of the upstream: timers, gauges, and the connection back to the pool or closed. */
  private finishUpstream(reusable: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.deadlineList !== null) upstreamTimeoutDeadlines.cancel(this);
    this.clearTryTimers();
    const retry = this.retry;
    if (retry !== null) {
      const inflight = retry.inflight;
      if (inflight !== null) {
        const i = inflight.indexOf(this);
        if (i >= 0) inflight.splice(i, 1);
      }
      // The request's retry state ends with its last attempt.
      if (inflight === null || inflight.length === 0) retry.clear();
    }
    this.releaseAttempt(reusable);
    this.pending = null;
    this.pendingBytes = 0;
  }

  /** The current attempt's gauges, host counters, and connection (back to the pool, or reset) or HTTP/2 stream. */
  private releaseAttempt(reusable: boolean): void {
    if (this.active) {
      this.active = false;
      this.stream.hcm.stats.values[this.slots.upstream_rq_active]--;
      this.activeHost!.counters.rqActive--;
      // Still set: the exchange ended without a complete response (reset, timeout, protocol error).
      if (this.hostCounters !== null) this.hostCounters.rqError++;
    }
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
    if (s !== null && !s.closed && !(reusable && this.requestEnded)) {
      // Abandoned (reset, timeout, local reply) or answered before the request ended: reset the stream; the
      // pool gets the connection back from the stream's close.
      this.stream.hcm.stats.values[this.slots['http2.tx_reset']]++;
      this.h2conn!.codec.reset(s, ErrorCode.CANCEL);
    }
  }
}

/** Every upstream request's route timeout on this worker, one list per duration. */
const upstreamTimeoutDeadlines = new DeadlineLists<UpstreamRequest>(onUpstreamTimeout);

function onUpstreamTimeout(req: UpstreamRequest): void {
  try {
    req.onTimeout();
  } catch (err) {
    req.onInternalError(err);
  }
}

function onRetryBackoff(req: UpstreamRequest): void {
  try {
    req.onRetryBackoff();
  } catch (err) {
    req.onInternalError(err);
  }
}

function onHedgeBackoff(req: UpstreamRequest): void {
  try {
    req.onHedgeBackoff();
  } catch (err) {
    req.onInternalError(err);
  }
}

function onPerTryTimeout(req: UpstreamRequest): void {
  try {
    req.onPerTryTimeout(false);
  } catch (err) {
    req.onInternalError(err);
  }
}

function onPerTryIdleTimeout(req: UpstreamRequest): void {
  try {
    req.onPerTryTimeout(true);
  } catch (err) {
    req.onInternalError(err);
  }
}
