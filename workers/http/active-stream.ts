// Worker thread. One downstream request and its response, whatever the protocol: Envoy's ActiveStream. It applies
// the connection manager's request rules (host, x-forwarded-*, x-request-id, path normalisation, overload), routes,
// and hands the request to the HTTP filters, the router last (workers/router/router-filter.ts; called directly when
// it is the only one). The response (the upstream's, or a local reply, as a gRPC error to a gRPC client) comes back
// through the filters' encoders, then the connection manager's response rules, to its connection
// (StreamConnection) to encode: HTTP/1.1 or HTTP/2.

import { randomUUID } from 'node:crypto';
import type { RequestHead, ResponseHead } from '../../src/http1/types.ts';
import { StreamInfo, getHeader, type HeaderList } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import { H, isHopByHop } from '../../src/http/header-names.ts';
import { setHeader, removeHeader, hasHeader, stripHopByHop } from '../../src/http/header-list.ts';
import { httpDateNow } from '../../src/http/date-header.ts';
import { appendForwardedFor } from '../../src/http/forwarded-for.ts';
import { isInternalRequest, removeExternalEnvoyHeaders } from '../../src/http/header-sanitizing.ts';
import { httpLog, logRequestHeaders, logResponseHeaders, streamTag } from './stream-log.ts';
import { hasEscapedSlashes, mergeSlashes, normalizePath, unescapeSlashes } from '../../src/http/path-normalization.ts';
import { isValidAuthority } from '../../src/http/authority.ts';
import type { Route } from '../../src/router/route-table.ts';
import type { HcmRuntime } from './hcm-runtime.ts';
import { BodyFraming, type StreamConnection } from './stream-connection.ts';
import { grpcStatusForHttp, isGrpcContentType, parseGrpcTimeout } from '../../src/http/grpc.ts';
import { LocalReply, type LocalReplySpec } from './local-reply.ts';
import { reasonPhrase } from '../../src/http1/reason-phrases.ts';
import type { UpstreamRequest } from '../router/upstream-request.ts';
import type { RequestMirrors } from '../router/mirror.ts';
import { routeRequest } from '../router/router-filter.ts';
import type { FilterManager } from './filters/filter-manager.ts';
import type { StreamTrace } from '../tracing/http-tracer.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import { OverloadAction, overloadShared, streamIdleTimeoutMs } from '../../src/overload/overload-shared.ts';
import { DeadlineLists, type DeadlineEntry } from '../../src/common/deadline-list.ts';

const EMPTY = Buffer.alloc(0);
/** Interim (1xx) heads passed to one client per request at most; more from the upstream are dropped. */
const MAX_INTERIM_HEADS = 10;

export class ActiveStream {
  readonly conn: StreamConnection;
  readonly hcm: HcmRuntime;
  readonly info: StreamInfo;
  readonly head: RequestHead;
  /** Headers as they will go upstream (the request head's list, mutated in place). */
  readonly headers: HeaderList;
  /** The route (null: none matched); recomputed by currentRoute() after a filter's clearRouteCache(). */
  route: Route | null;
  /** The router's upstream request (set by the router), so the stream can reset it. */
  upstream: UpstreamRequest | null;
  /** The router's request copies (request_mirror_policies); null when the route mirrors nothing. */
  mirrors: RequestMirrors | null;
  /** The stream's HTTP filters; null when the router is the only one (it is then called directly). */
  filters: FilterManager | null;
  /** The downstream request has been fully received. */
  requestComplete: boolean;
  responseStarted: boolean;
  /** The response head or local reply asked to close the connection after this response. */
  closeAfterResponse: boolean;
  finished: boolean;
  /** HTTP/1.1: the response is re-chunked towards the client (set by the connection's encoder). */
  chunkedResponse: boolean;
  /** content-type application/grpc*: local replies are gRPC errors (HTTP 200 with grpc-status). */
  isGrpc: boolean;
  /** HEAD and 204/304: no response body is written whatever the upstream sends. */
  suppressResponseBody: boolean;
  /** The Upgrade value of an upgrade request allowed by upgrade_configs (e.g. "websocket"), else null. */
  upgradeType: string | null;
  /** The upstream answered 101: bytes now flow raw both ways until either side closes. */
  upgraded: boolean;
  /** Interim 1xx heads sent to the client (100 Continue included); at most MAX_INTERIM_HEADS. */
  interimSent: number;
  /** A 100 Continue went to the client (Legate's own or the upstream's): at most one. */
  continueSent: boolean;
  /** Envoy's internal request (src/http/header-sanitizing.ts), decided when the head arrives; false before. */
  internalRequest: boolean;
  /** The connection's per-stream handle (HTTP/2: the node:http2 stream); null for HTTP/1.1. */
  transport: unknown;
  /** The request's span when tracing is configured and the request is sampled (workers/tracing); else null. */
  trace: StreamTrace | null;
  /** The [S..] of this stream's debug lines (workers/http/stream-log.ts); 0 until its first one. */
  logId: number;
  /** The response head in flight is a local reply (the connection manager's rules for those apply to it). */
  private localResponse: boolean;
  /** How the response body is framed (BodyFraming), from the upstream's head or the local reply. */
  private responseFraming: number;
  /** The reason phrase that goes with info.responseCode. */
  private responseReason: string;
  /** false after clearRouteCache(): the next currentRoute() matches again. */
  private routeCached: boolean;
  /**
   * stream_idle_timeout (or the route's idle_timeout): this stream is an entry of the worker's idle deadline lists
   * (src/common/deadline-list.ts; no Timeout object per stream). deadlineList non-null = armed.
   */
  deadlineAt: number;
  deadlinePrev: DeadlineEntry | null;
  deadlineNext: DeadlineEntry | null;
  deadlineList: DeadlineEntry['deadlineList'];
  private requestTimer: NodeJS.Timeout | null;
  private durationTimer: NodeJS.Timeout | null;

  /**
   * `protocol` is %PROTOCOL% ("HTTP/1.1", "HTTP/2"). A head without a body must have requestComplete true from
   * the start (HTTP/1.1: no length and not chunked; HTTP/2: END_STREAM on HEADERS), passed as `endStream`.
   */
  constructor(conn: StreamConnection, hcm: HcmRuntime, head: RequestHead, protocol: string, endStream: boolean, transport: unknown) {
    this.conn = conn;
    this.hcm = hcm;
    this.head = head;
    this.headers = head.headers;
    this.info = new StreamInfo();
    this.route = null;
    this.upstream = null;
    this.mirrors = null;
    this.filters = null;
    // A request without a body ends with its head (Envoy's end_stream on decodeHeaders): a local reply to it
    // keeps the connection, and the route timeout starts now.
    this.requestComplete = endStream;
    this.responseStarted = false;
    this.closeAfterResponse = !head.keepAlive;
    this.finished = false;
    this.chunkedResponse = false;
    this.isGrpc = false;
    this.suppressResponseBody = head.method === 'HEAD';
    this.upgradeType = null;
    this.upgraded = false;
    this.interimSent = 0;
    this.continueSent = false;
    this.internalRequest = false;
    this.transport = transport;
    this.trace = null;
    this.logId = 0;
    this.localResponse = false;
    this.responseFraming = BodyFraming.NONE;
    this.responseReason = '';
    this.routeCached = false;
    this.deadlineAt = 0;
    this.deadlinePrev = null;
    this.deadlineNext = null;
    this.deadlineList = null;
    this.requestTimer = null;
    this.durationTimer = null;
    this.info.protocol = protocol;
  }

  // ---- decoding (client -> proxy) ----

  /** The stream begins: counted, and what StreamInfo knows from the connection and the head. */
  private begin(): void {
    const hcm = this.hcm;
    const values = hcm.stats.values;
    const slots = hcm.config.slots!;
    const info = this.info;
    values[slots.downstream_rq_total]++;
    values[this.conn.multiplexed ? slots.downstream_rq_http2_total : slots.downstream_rq_http1_total]++;
    values[slots.downstream_rq_active]++;
    values[hcm.workerRqTotalSlot]++;
    values[hcm.workerRqActiveSlot]++;

    info.startTimeMs = Date.now();
    info.startMonoMs = performance.now();
    info.method = this.head.method;
    info.requestHeaders = this.headers;
    info.downstreamRemoteAddress = this.conn.remoteAddress;
    info.downstreamDirectRemoteAddress = this.conn.remoteAddress;
    info.downstreamLocalAddress = this.conn.localAddress;
    info.scheme = this.conn.scheme;
    info.connectionId = this.conn.id;
  }

  /**
   * A request the HTTP/1.1 codec refused before its head was whole (a 400, 413, 414, 431, 501 with the codec's
   * details), or whose head did not arrive in time (request_headers_timeout, 408): as Envoy's stream for a message
   * it could not decode, it is counted and access-logged like any request and answered through sendLocal (so
   * local_reply_config applies); the connection closes after it. `head` is an empty placeholder.
   */
  rejectBeforeHead(spec: LocalReplySpec): void {
    this.begin();
    this.closeAfterResponse = true;
    this.localReply(spec);
  }

  decodeHeaders(): void {
    const hcm = this.hcm;
    const cfg = hcm.config;
    const values = hcm.stats.values;
    const slots = cfg.slots!;
    const info = this.info;
    const head = this.head;
    this.begin();
    if (httpLog.debug) logRequestHeaders(this, head.method, head.target, this.headers, this.requestComplete);
    if (cfg.streamIdleTimeoutMs > 0) this.armIdleTimer(cfg.streamIdleTimeoutMs);
    if (cfg.requestTimeoutMs > 0) this.requestTimer = setTimeout(onRequestTimeout, cfg.requestTimeoutMs, this);
    // Overload manager actions (one shared-memory read each while inactive).
    const overload = overloadShared;
    if (overload.fires(OverloadAction.STOP_ACCEPTING_REQUESTS)) {
      values[slots.downstream_rq_overload_close]++;
      return this.localReply(LocalReply.overloaded);
    }
    if (!this.conn.draining && overload.fires(OverloadAction.DISABLE_HTTP_KEEPALIVE)) {
      values[slots.downstream_cx_overload_disable_keepalive]++;
      // HTTP/1.1: connection: close on this response; HTTP/2: GOAWAY, the streams in flight finish.
      if (this.conn.multiplexed) this.conn.drain();
      else this.closeAfterResponse = true;
    }

    this.isGrpc = isGrpcContentType(getHeader(this.headers, H.contentType));
    if (head.versionMinor === 0 && !cfg.acceptHttp10) return this.localReply(LocalReply.http10NotAccepted);
    if (head.upgrade) {
      // Upgrades the connection manager allows (upgrade_configs) are tunnelled once the upstream answers 101.
      // Whether this one is allowed depends on the route too (checked once it is known).
      const type = head.method === 'CONNECT' ? '' : (getHeader(this.headers, H.upgrade) ?? '');
      if (type === '' || cfg.upgradeConfigs[type.toLowerCase()] === undefined) {
        values[slots.downstream_rq_ws_on_non_ws_route]++;
        return this.localReply(LocalReply.upgradeNotAllowed);
      }
      this.upgradeType = type;
      this.closeAfterResponse = true;
    }

    // :path and :authority, from origin-form or absolute-form.
    let path = head.target;
    let authority = getHeader(this.headers, H.host);
    // RFC 9112 §3.2, RFC 9113 §8.3.1: Host (HTTP/2 :authority) is uri-host [":" port] without userinfo; anything
    // else is a 400, never forwarded. Checked even when an absolute-form target replaces it.
    if (authority !== undefined && authority !== '' && !isValidAuthority(authority)) {
      values[slots.downstream_rq_invalid_host]++;
      return this.localReply(LocalReply.invalidHost);
    }
    if (path.charCodeAt(0) !== 47 /* / */) {
      const parsed = parseAbsoluteForm(path);
      if (parsed === null) {
        values[slots.downstream_rq_non_relative_path]++;
        return this.localReply(badRequest('absolute_path_rejected'));
      }
      if (!isValidAuthority(parsed.authority)) {
        values[slots.downstream_rq_invalid_host]++;
        return this.localReply(LocalReply.invalidHost);
      }
      path = parsed.path;
      authority = parsed.authority;
      setHeader(this.headers, H.host, authority);
    }
    if (authority === undefined || authority === '') {
      if (head.versionMinor === 0 && cfg.defaultHostForHttp10 !== '') {
        authority = cfg.defaultHostForHttp10;
        setHeader(this.headers, H.host, authority);
      } else {
        return this.localReply(LocalReply.missingHost);
      }
    }
    if (cfg.headersWithUnderscoresAction !== 'ALLOW' && this.checkUnderscores()) return;
    // Envoy's path options: %REQ(:PATH)% and routing see the normalized path, which also goes upstream.
    if (cfg.normalizePath) path = normalizePath(path);
    if (cfg.mergeSlashes) path = mergeSlashes(path);
    if (cfg.pathWithEscapedSlashesAction !== 'KEEP_UNCHANGED' && hasEscapedSlashes(path)) {
      const action = cfg.pathWithEscapedSlashesAction;
      if (action === 'REJECT_REQUEST' || (action === 'UNESCAPE_AND_REDIRECT' && this.isGrpc)) {
        info.path = path;
        this.hcm.stats.values[slots.downstream_rq_failed_path_normalization]++;
        return this.localReply(LocalReply.escapedSlashesRejected);
      }
      // Unescaped, then normalized again as configured (Envoy's maybeNormalizePath).
      path = unescapeSlashes(path);
      if (cfg.normalizePath) path = normalizePath(path);
      if (cfg.mergeSlashes) path = mergeSlashes(path);
      if (action === 'UNESCAPE_AND_REDIRECT') {
        // The client comes back with the plain path, so every hop sees the same one.
        info.path = path;
        this.hcm.stats.values[slots.downstream_rq_redirected_with_normalized_path]++;
        return this.sendLocal(307, EMPTY, 0, 'path_normalization_redirect', null, path);
      }
    }
    info.path = path;
    info.authority = authority;

    // Connection-level request rules, as Envoy's ConnectionManagerUtility::mutateRequestHeaders. Internal or
    // external is decided on the request as received (src/http/header-sanitizing.ts).
    const peerIp = this.conn.remoteIp;
    const internal = isInternalRequest(cfg.useRemoteAddress, peerIp, this.headers, hcm.internalAddress);
    this.internalRequest = internal;
    if (internal) {
      setHeader(this.headers, H.xEnvoyInternal, 'true');
    } else {
      removeExternalEnvoyHeaders(this.headers, cfg.useRemoteAddress);
      hcm.routeTable.removeInternalOnlyHeaders(this.headers);
      if (cfg.useRemoteAddress) this.headers.push(H.xEnvoyExternalAddress, peerIp);
    }
    if (cfg.useRemoteAddress) {
      if (!cfg.skipXffAppend) setHeader(this.headers, H.xForwardedFor, appendForwardedFor(getHeader(this.headers, H.xForwardedFor), peerIp));
      setHeader(this.headers, H.xForwardedProto, this.conn.scheme);
    } else if (getHeader(this.headers, H.xForwardedProto) === undefined) {
      this.headers.push(H.xForwardedProto, this.conn.scheme);
    }
    if (cfg.via !== '') appendVia(this.headers, cfg.via);
    let requestId = getHeader(this.headers, H.xRequestId);
    if (cfg.generateRequestId && (requestId === undefined || requestId === '' || (cfg.useRemoteAddress && !cfg.preserveExternalRequestId))) {
      requestId = randomUUID();
      setHeader(this.headers, H.xRequestId, requestId);
    }
    info.requestId = requestId ?? '';

    this.setRoute(hcm.routeTable.route(authority, head.method, path, this.headers));
    // Tracing: the decision (x-request-id's trace status) and, when sampled, the span (null check when not configured).
    if (hcm.tracer !== null) this.trace = hcm.tracer.start(this.headers, info, this.route === null ? null : this.route.decoratorOperation ?? null);

    // The HTTP filters, the router last. Without any (or with every one disabled for this route), the router is
    // called directly: a chain that is not there costs nothing.
    const chain = hcm.filterChain;
    if (chain !== null) {
      const filters = chain.createFilterManager(this, this.route);
      if (filters !== null) {
        this.filters = filters;
        filters.decodeHeaders(this.headers, this.requestComplete);
        return;
      }
    }
    routeRequest(this, this.requestComplete);
  }

  /** The route the request has now: matched again after clearRouteCache() (host and info.path as they are now). */
  currentRoute(): Route | null {
    if (!this.routeCached) {
      const authority = getHeader(this.headers, H.host) ?? this.info.authority;
      this.info.authority = authority;
      // The route so far goes along: a weighted_clusters route keeps the cluster it chose for this stream.
      this.setRoute(this.hcm.routeTable.route(authority, this.head.method, this.info.path, this.headers, this.route));
    }
    return this.route;
  }

  /** A filter changed what routing looks at (Envoy's clearRouteCache): the next currentRoute() matches again. */
  clearRouteCache(): void {
    this.routeCached = false;
  }

  /** The route's timers (idle_timeout, max_stream_duration) replace the connection manager's (refreshCachedRoute). */
  private setRoute(route: Route | null): void {
    this.route = route;
    this.routeCached = true;
    if (route === null) return;
    if (route.idleTimeoutConfigured) {
      // The route's idle_timeout replaces the connection manager's stream_idle_timeout; 0 disables it (Envoy).
      streamIdleDeadlines.cancel(this);
      if (route.idleTimeoutMs > 0) this.armIdleTimer(route.idleTimeoutMs);
    }
    this.info.routeName = route.routeName;
    if (route.maxStreamDurationSet || this.hcm.config.maxStreamDurationMs > 0) this.armDurationTimer(route);
  }

  decodeData(chunk: Buffer): void {
    this.info.bytesReceived += chunk.length;
    if (this.deadlineList !== null) streamIdleDeadlines.refresh(this);
    if (this.finished) return;
    if (this.filters !== null) this.filters.decodeData(chunk, false);
    else if (this.upstream !== null) {
      this.upstream.sendBody(chunk);
      if (this.mirrors !== null) this.mirrors.sendData(chunk, false);
    }
  }

  /** The request ended (with `trailers`, or null): end of stream through the filters to the router. */
  decodeComplete(trailers: HeaderList | null = null): void {
    // A request that ended with its head was complete at the start: no second clock read.
    this.info.lastDownstreamRxMonoMs = this.requestComplete && this.info.bytesReceived === 0 ? this.info.startMonoMs : performance.now();
    this.requestComplete = true;
    if (this.requestTimer !== null) {
      clearTimeout(this.requestTimer);
      this.requestTimer = null;
    }
    if (this.finished) return;
    const filters = this.filters;
    if (filters !== null) {
      if (trailers !== null && trailers.length > 0) filters.decodeTrailers(trailers);
      else filters.decodeData(EMPTY, true);
    } else if (this.upstream !== null) {
      this.upstream.endBody(trailers);
      if (this.mirrors !== null) this.mirrors.end(trailers);
    }
  }

  /**
   * An exception reached one of this stream's boundaries (its timers, its upstream request's callbacks) or its
   * connection's: a bug. Counted (internal_error), its stack logged once, and the stream reset (HTTP/1.1: its
   * connection) without trusting its state. Never throws.
   */
  onInternalError(err: unknown): void {
    reportInternalError(`stream of connection ${this.conn.id}`, err);
    this.hcm.stats.values[this.hcm.config.slots!.internal_error]++;
    this.resetAfterInternalError();
  }

  /** Resets the stream after an exception, each step on its own: the upstream request, then the stream. Never throws. */
  resetAfterInternalError(): void {
    if (this.finished) return;
    const upstream = this.upstream;
    if (upstream !== null) {
      try {
        upstream.reset();
      } catch (err) {
        reportInternalError('upstream request reset', err);
      }
    }
    try {
      this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_tx_reset]++;
      this.finish(false);
    } catch (err) {
      reportInternalError('stream reset', err);
      // finish() failed part of the way: the connection must still reset the stream.
      try {
        this.conn.onStreamDone(this, false);
      } catch (err2) {
        reportInternalError('stream reset', err2);
      }
    }
  }

  /** Bytes held for this stream by its HTTP filters' buffers and its upstream request (reset_high_memory_stream). */
  heldBytes(): number {
    let bytes = this.upstream === null ? 0 : this.upstream.heldBytes();
    if (this.filters !== null) bytes += this.filters.heldBytes();
    return bytes;
  }

  /**
   * envoy.overload_actions.reset_high_memory_stream chose this stream (it holds the most memory): reset as Envoy's
   * onResetStream(OverloadManager) does it — flag OM, details "overload", counted as downstream_rq_rx_reset (Envoy
   * counts every codec reset there) — with its upstream request. HTTP/1.1 then closes the connection; HTTP/2 resets
   * the stream.
   */
  resetByOverloadManager(): void {
    if (this.finished) return;
    this.info.responseFlags |= ResponseFlag.OverloadManager;
    this.info.responseCodeDetails = 'overload';
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_rx_reset]++;
    if (this.upstream !== null) this.upstream.reset();
    this.finish(false);
  }

  /** The client went away (connection closed) before the response finished. */
  onDownstreamReset(): void {
    if (this.finished) return;
    this.info.responseFlags |= ResponseFlag.DownstreamConnectionTermination;
    if (httpLog.debug) httpLog.log('debug', `${streamTag(this)}stream reset: reset reason: connection termination`);
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_rx_reset]++;
    if (this.upstream !== null) this.upstream.reset();
    this.finish(false);
  }

  // ---- encoding (proxy -> client) ----

  /**
   * An interim head (1xx other than 101) from the upstream, before the final one. A 100 reaches the client only
   * with proxy_100_continue (otherwise Legate answered the expectation itself and stripped it) and only once;
   * other 1xx (102, 103 Early Hints...) are forwarded, as RFC 9110 §15.2 asks of a proxy, up to MAX_INTERIM_HEADS
   * per request, never to an HTTP/1.0 client (Envoy forwards only the first of 100/102/103 and drops other codes).
   */
  encode1xxHeaders(rh: ResponseHead): void {
    if (this.finished || this.responseStarted) return;
    const status = rh.statusCode;
    if (status === 100 && (this.continueSent || !this.hcm.config.proxy100Continue)) return;
    this.sendInterim(status, rh.reason, rh.headers);
  }

  /** An interim head to the client (the router's own 100 Continue, or an upstream's 1xx); filters do not see it. */
  sendInterim(status: number, reason: string, headers: HeaderList): void {
    if (this.head.versionMinor === 0 || this.interimSent >= MAX_INTERIM_HEADS) return;
    this.interimSent++;
    if (status === 100) this.continueSent = true;
    if (this.deadlineList !== null) streamIdleDeadlines.refresh(this);
    if (headers.length > 0) {
      // A 1xx has no body: no framing fields on it (Envoy's strict 1xx rule; an HTTP/1.1 upstream's non-zero
      // Content-Length or Transfer-Encoding was already refused, a "content-length: 0" or an HTTP/2 one goes here).
      stripHopByHop(headers);
      removeHeader(headers, H.contentLength);
    }
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_1xx]++;
    this.conn.encode1xxHeaders(this, status, reason, headers);
  }

  /** The response head that came from the upstream (HTTP/1.1 or HTTP/2, as a ResponseHead). */
  encodeHeaders(rh: ResponseHead): void {
    if (this.finished) return;
    const cfg = this.hcm.config;
    const info = this.info;
    const headers = rh.headers;
    stripHopByHop(headers);
    const status = rh.statusCode;
    info.responseCode = status;
    info.responseHeaders = headers;
    info.responseCodeDetails = 'via_upstream';
    if (status === 101) {
      // The upgrade went through: the 101 carries the upgrade headers back, and the connection is a tunnel.
      headers.push(H.connection, 'upgrade', H.upgrade, getHeader(rh.headers, H.upgrade) ?? this.upgradeType!);
      this.upgraded = true;
      const values = this.hcm.stats.values;
      values[cfg.slots!.downstream_cx_upgrades_total]++;
      values[cfg.slots!.downstream_cx_upgrades_active]++;
    } else if (status === 204 || status === 304) {
      this.suppressResponseBody = true;
      // As Envoy: a 204 goes out without a length (the parser refused any but 0 from an HTTP/1.1 upstream).
      if (status === 204) removeHeader(headers, H.contentLength);
    }
    if (!cfg.suppressEnvoyHeaders && this.upstream !== null) {
      // The router stamped firstUpstreamRxMonoMs as this head arrived.
      headers.push(H.xEnvoyUpstreamServiceTime, String(Math.round(info.firstUpstreamRxMonoMs - this.upstream.startMonoMs)));
    }
    // The route's response headers (the router's, in Envoy), then the encoder filters, then the connection
    // manager's own rules (server, x-request-id) in encodeHeadersToCodec.
    if (this.route !== null) this.route.applyResponseHeaderMutations(headers, info);
    this.localResponse = false;
    this.responseReason = rh.reason;
    this.responseFraming = rh.chunked || rh.readUntilClose ? BodyFraming.UNKNOWN : rh.contentLength >= 0 ? BodyFraming.LENGTH : BodyFraming.NONE;
    if (this.filters !== null) this.filters.encodeHeaders(headers, false);
    else this.encodeHeadersToCodec(headers, false);
  }

  /**
   * The response head past the encoder filters (or straight from encodeHeaders without any): the connection
   * manager's response rules, then the codec. The status is info.responseCode.
   */
  encodeHeadersToCodec(headers: HeaderList, endStream: boolean): void {
    if (this.finished) return;
    const cfg = this.hcm.config;
    const info = this.info;
    info.responseHeaders = headers;
    if (this.localResponse) {
      if (!this.requestComplete && !this.conn.multiplexed) this.closeAfterResponse = true;
    } else {
      applyServerHeader(headers, cfg.serverName, cfg.serverHeaderTransformation);
      this.noteResponseBeforeRequest();
    }
    if (cfg.alwaysSetRequestIdInResponse && info.requestId !== '') setHeader(headers, H.xRequestId, info.requestId);
    this.responseStarted = true;
    const framing = this.filters === null ? this.responseFraming : reframe(this.responseFraming, headers, endStream);
    if (httpLog.debug) logResponseHeaders(this, info.responseCode, headers, endStream);
    this.conn.encodeHeaders(this, info.responseCode, this.responseReason, headers, framing);
    if (endStream) this.endResponse(null);
  }

  /** A response body chunk from the upstream; false when the upstream should pause (see flushResponse). */
  encodeData(chunk: Buffer): boolean {
    if (this.finished) return true;
    if (this.filters !== null) {
      // Upstream data keeps the stream alive even while a filter holds it.
      if (this.deadlineList !== null) streamIdleDeadlines.refresh(this);
      return this.filters.encodeData(chunk, false);
    }
    if (this.suppressResponseBody || chunk.length === 0) return true;
    if (this.deadlineList !== null) streamIdleDeadlines.refresh(this);
    this.info.bytesSent += chunk.length;
    return this.conn.encodeData(this, chunk);
  }

  /** Response data past the encoder filters. */
  encodeDataToCodec(data: Buffer, endStream: boolean): boolean {
    if (this.finished) return true;
    let writable = true;
    if (data.length > 0 && !this.suppressResponseBody) {
      if (this.deadlineList !== null) streamIdleDeadlines.refresh(this);
      this.info.bytesSent += data.length;
      writable = this.conn.encodeData(this, data);
    }
    if (endStream) this.endResponse(null);
    return writable;
  }

  /** The end of the upstream's response, with its trailers (null or empty: none). */
  encodeComplete(trailers: HeaderList | null): void {
    if (this.finished) return;
    const filters = this.filters;
    if (filters === null) return this.endResponse(trailers);
    if (trailers !== null && trailers.length > 0) filters.encodeTrailers(trailers);
    else filters.encodeData(EMPTY, true);
  }

  /** Response trailers past the encoder filters: the end of the response. */
  encodeTrailersToCodec(trailers: HeaderList): void {
    if (!this.finished) this.endResponse(trailers);
  }

  private endResponse(trailers: HeaderList | null): void {
    this.info.responseTrailers = trailers;
    this.conn.encodeEnd(this, trailers);
    this.finish(true);
  }

  /** A filter's new response status (FilterCallbacks.setResponseStatus). */
  setResponseStatus(status: number): void {
    this.info.responseCode = status;
    this.responseReason = reasonPhrase(status);
  }

  /**
   * Writes what the response has pending (called at the end of each upstream read). Returns false when the client
   * cannot take more now (the caller pauses the upstream until the connection calls resumeUpstream()).
   */
  flushResponse(): boolean {
    return this.finished || this.conn.flush(this);
  }

  /** The client can take more response bytes: read the upstream again. */
  resumeUpstream(): void {
    if (this.upstream !== null && !this.finished) this.upstream.resumeReading();
  }

  /** Envoy counts a response that starts before its request ended; HTTP/1.1 must then close the connection. */
  private noteResponseBeforeRequest(): void {
    if (this.requestComplete || this.upgraded) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_response_before_rq_complete]++;
    if (!this.conn.multiplexed) this.closeAfterResponse = true;
  }

  /**
   * The response can no longer be completed: a reply if nothing was sent yet; a gRPC response already under way on
   * HTTP/2 ends with the error's grpc-status in trailers (a reset would reach the client as INTERNAL, not as the
   * deadline or unavailability it is); anything else is a reset of the client.
   */
  upstreamFailed(spec: LocalReplySpec): void {
    if (this.finished) return;
    if (!this.responseStarted) return this.localReply(spec);
    this.info.responseFlags |= spec.flag;
    if (this.isGrpc && this.conn.multiplexed) {
      this.info.responseCodeDetails = spec.details;
      if (this.upstream !== null) this.upstream.reset();
      const trailers: HeaderList = ['grpc-status', String(spec.grpcStatus >= 0 ? spec.grpcStatus : grpcStatusForHttp(spec.status))];
      if (spec.body !== '') trailers.push('grpc-message', encodeGrpcMessage(spec.body));
      this.encodeComplete(trailers);
      return;
    }
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_tx_reset]++;
    this.finish(false);
  }

  /**
   * A local reply from a spec. One that refuses the request as malformed (the DPE flag: missing or invalid Host,
   * HTTP/1.0 refused, absolute-form refused, a codec error after the head...) also ends an HTTP/1.1 connection, as
   * Envoy's onLocalReply does for its 400s: whatever the client pipelined behind it is never parsed, let alone
   * forwarded. Ordinary replies (no route, direct_response, upstream failures) keep the connection.
   */
  localReply(spec: LocalReplySpec): void {
    if ((spec.flag & ResponseFlag.DownstreamProtocolError) !== 0 && !this.conn.multiplexed) this.closeAfterResponse = true;
    this.sendLocal(spec.status, spec.body === '' ? EMPTY : Buffer.from(spec.body, 'latin1'), spec.flag, spec.details, spec.body === '' ? null : 'text/plain', undefined, spec.grpcStatus);
  }

  /**
   * A response made by the proxy (the connection manager's, the router's or a filter's). To a gRPC client it is a
   * gRPC error as Envoy sends it: HTTP 200, content-type application/grpc, grpc-status (from the HTTP status unless
   * the reply names one) and grpc-message, no body. With HTTP filters it goes through the encoders of those whose
   * decodeHeaders ran, unless a response head is already inside them (then around them, as Envoy's
   * sendDirectLocalReply); after the head went out, the stream is reset.
   */
  sendLocal(status: number, body: Buffer, flag: number, details: string, contentType: string | null, location?: string, grpcStatus = -1, extraHeaders: HeaderList | null = null): void {
    if (this.finished) return;
    if (this.responseStarted) {
      // Headers already went out: the only honest signal left is a reset.
      this.info.responseFlags |= flag;
      this.finish(false);
      return;
    }
    const cfg = this.hcm.config;
    const info = this.info;
    info.responseFlags |= flag;
    info.responseCodeDetails = details;
    const headers: HeaderList = [];
    if (location !== undefined) headers.push('location', location);
    if (extraHeaders !== null) for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i]!);
    const rewriter = this.hcm.localReply;
    if (rewriter !== null) {
      // local_reply_config: mappers and body_format, before the reply becomes a gRPC error (as Envoy's).
      const r = rewriter.rewrite(info, this.headers, headers, status, body.length === 0 ? '' : body.toString(), contentType ?? 'text/plain');
      status = r.status;
      body = r.body === '' ? EMPTY : Buffer.from(r.body);
      contentType = r.contentType;
    } else if (body.length > 0) {
      info.localReplyBody = body.toString();
    }
    let framing: number = BodyFraming.LENGTH;
    if (this.isGrpc && location === undefined) {
      info.responseCode = 200;
      setHeader(headers, H.contentType, 'application/grpc');
      headers.push('grpc-status', String(grpcStatus >= 0 ? grpcStatus : grpcStatusForHttp(status)));
      if (body.length > 0) headers.push('grpc-message', encodeGrpcMessage(body.toString('latin1')));
      body = EMPTY;
      framing = BodyFraming.NONE;
      status = 200;
    } else {
      info.responseCode = status;
      // A content-type a mapper's headers_to_add set stays (Envoy's has_custom_content_type).
      if (body.length > 0 && contentType !== null && (rewriter === null || !hasHeader(headers, H.contentType))) headers.push(H.contentType, contentType);
      headers.push(H.contentLength, String(body.length));
    }
    headers.push(H.date, httpDateNow(Date.now()));
    headers.push(H.server, cfg.serverName);
    info.responseHeaders = headers;
    if (this.route !== null) this.route.applyResponseHeaderMutations(headers, info);
    const filters = this.filters;
    if (filters !== null) {
      if (!filters.encodeStarted) {
        this.localResponse = true;
        info.responseCode = status;
        this.responseReason = reasonPhrase(status);
        this.responseFraming = framing;
        if (this.upstream !== null) this.upstream.reset();
        filters.encodeLocalReply(headers, body);
        return;
      }
      filters.abort();
    }
    if (cfg.alwaysSetRequestIdInResponse && info.requestId !== '') setHeader(headers, H.xRequestId, info.requestId);
    if (!this.requestComplete && !this.conn.multiplexed) this.closeAfterResponse = true;
    this.responseStarted = true;
    if (httpLog.debug) logResponseHeaders(this, status, headers, body.length === 0 || this.suppressResponseBody);
    this.conn.encodeHeaders(this, status, reasonPhrase(status), headers, framing);
    if (body.length > 0 && !this.suppressResponseBody) {
      info.bytesSent += body.length;
      this.conn.encodeData(this, body);
    }
    if (this.upstream !== null) this.upstream.reset();
    this.conn.encodeEnd(this, null);
    this.finish(true);
  }

  /** headers_with_underscores_action REJECT_REQUEST/DROP_HEADER; true when the request was answered (400). */
  private checkUnderscores(): boolean {
    const headers = this.headers;
    const cfg = this.hcm.config;
    const values = this.hcm.stats.values;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.indexOf('_') < 0) continue;
      if (cfg.headersWithUnderscoresAction === 'REJECT_REQUEST') {
        values[cfg.slots!.requests_rejected_with_underscores_in_headers]++;
        this.localReply(LocalReply.underscoreInHeaderName);
        return true;
      }
      values[cfg.slots!.dropped_headers_with_underscores]++;
      headers.splice(i, 2);
      i -= 2;
    }
    return false;
  }

  private armIdleTimer(ms: number): void {
    streamIdleDeadlines.arm(this, streamIdleTimeoutMs(ms));
  }

  onIdleTimeout(): void {
    if (this.finished) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_idle_timeout]++;
    this.closeAfterResponse = true;
    this.upstreamFailed(LocalReply.streamIdleTimeout);
  }

  onRequestTimeout(): void {
    this.requestTimer = null;
    if (this.finished || this.requestComplete) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_timeout]++;
    this.closeAfterResponse = true;
    this.upstreamFailed(LocalReply.requestTimeout);
  }

  /**
   * RouteAction.max_stream_duration, else the connection manager's common_http_protocol_options.max_stream_duration
   * (Envoy's refreshDurationTimeout): max_stream_duration from the stream's start,
   * replaced for a gRPC request by its grpc-timeout when grpc_timeout_header_max is set (capped by it unless 0,
   * less grpc_timeout_header_offset).
   */
  private armDurationTimer(route: Route): void {
    let ms = route.maxStreamDurationMs >= 0 ? route.maxStreamDurationMs : this.hcm.config.maxStreamDurationMs;
    if (this.isGrpc && route.grpcTimeoutHeaderMaxMs >= 0) {
      const grpcMs = parseGrpcTimeout(getHeader(this.headers, 'grpc-timeout'));
      if (grpcMs >= 0) {
        ms = route.grpcTimeoutHeaderMaxMs > 0 && grpcMs > route.grpcTimeoutHeaderMaxMs ? route.grpcTimeoutHeaderMaxMs : grpcMs;
        if (route.grpcTimeoutHeaderOffsetMs > 0 && route.grpcTimeoutHeaderOffsetMs < ms) ms -= route.grpcTimeoutHeaderOffsetMs;
        if (ms === 0) ms = 1; // grpc-timeout 0: already expired
      }
    }
    if (ms > 0) this.durationTimer = setTimeout(onStreamDurationTimeout, ms, this);
  }

  onDurationTimeout(): void {
    this.durationTimer = null;
    if (this.finished) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_max_duration_reached]++;
    this.closeAfterResponse = true;
    this.upstreamFailed(this.requestComplete ? LocalReply.maxDurationReached : LocalReply.maxDurationReachedBeforeRequestEnd);
  }

  /** The filters' onDestroy; one that throws is a bug, counted and logged, and the stream still ends. */
  private destroyFilters(): void {
    try {
      this.filters!.destroy();
    } catch (err) {
      reportInternalError(`http filter of connection ${this.conn.id}`, err);
      this.hcm.stats.values[this.hcm.config.slots!.internal_error]++;
    }
  }

  /** Ends the stream: stats, access log, then the connection goes on (clean) or is reset (not clean). */
  private finish(clean: boolean): void {
    if (this.finished) return;
    this.finished = true;
    if (httpLog.debug) httpLog.log('debug', `${streamTag(this)}${clean ? 'Codec completed encoding stream.' : 'doEndStream() resetting stream'}`);
    if (this.deadlineList !== null) streamIdleDeadlines.cancel(this);
    if (this.requestTimer !== null) clearTimeout(this.requestTimer);
    if (this.durationTimer !== null) clearTimeout(this.durationTimer);
    this.requestTimer = null;
    this.durationTimer = null;
    const hcm = this.hcm;
    const values = hcm.stats.values;
    const slots = hcm.config.slots!;
    const info = this.info;
    const now = performance.now();
    info.lastDownstreamTxMonoMs = now;
    values[slots.downstream_rq_active]--;
    values[hcm.workerRqActiveSlot]--;
    if (this.upgraded) values[slots.downstream_cx_upgrades_active]--;
    if (clean) {
      values[slots.downstream_rq_completed]++;
      const status = info.responseCode;
      if (status >= 500) values[slots.downstream_rq_5xx]++;
      else if (status >= 400) values[slots.downstream_rq_4xx]++;
      else if (status >= 300) values[slots.downstream_rq_3xx]++;
      else if (status >= 200) values[slots.downstream_rq_2xx]++;
      else values[slots.downstream_rq_1xx]++;
      // listener.<address>.http.<stat_prefix>.* (the same counts, per listener).
      const ls = hcm.config.listenerSlots;
      if (ls != null) {
        values[ls.downstream_rq_completed]++;
        values[status >= 500 ? ls.downstream_rq_5xx : status >= 400 ? ls.downstream_rq_4xx : status >= 300 ? ls.downstream_rq_3xx : status >= 200 ? ls.downstream_rq_2xx : ls.downstream_rq_1xx]++;
      }
    }
    hcm.stats.record(slots.downstream_rq_time, now - info.startMonoMs);
    if (this.trace !== null) this.trace.finish(info);
    const logs = hcm.accessLogs;
    for (let i = 0; i < logs.length; i++) logs[i]!.log(info);
    if (this.filters !== null) this.destroyFilters();
    if (this.mirrors !== null) this.mirrors.onStreamDone();
    this.conn.onStreamDone(this, clean);
  }
}

/**
 * The response's framing after the encoder filters: as the upstream's or the local reply's, unless a filter removed
 * or added content-length (a body it rewrote).
 */
function reframe(framing: number, headers: HeaderList, endStream: boolean): number {
  const hasLength = hasHeader(headers, H.contentLength);
  if (framing === BodyFraming.LENGTH && !hasLength) return endStream ? BodyFraming.NONE : BodyFraming.UNKNOWN;
  if (framing !== BodyFraming.LENGTH && hasLength) return BodyFraming.LENGTH;
  return framing;
}

/** Every stream's idle timeout on this worker, one list per duration. */
const streamIdleDeadlines = new DeadlineLists<ActiveStream>(onStreamIdleTimeout);

// Timer callbacks are boundaries: an exception resets this stream only.
function onStreamIdleTimeout(stream: ActiveStream): void {
  try {
    stream.onIdleTimeout();
  } catch (err) {
    stream.onInternalError(err);
  }
}

function onRequestTimeout(stream: ActiveStream): void {
  try {
    stream.onRequestTimeout();
  } catch (err) {
    stream.onInternalError(err);
  }
}

function onStreamDurationTimeout(stream: ActiveStream): void {
  try {
    stream.onDurationTimeout();
  } catch (err) {
    stream.onInternalError(err);
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2): bytes outside printable ASCII and '%' itself. */
function encodeGrpcMessage(message: string): string {
  let out = '';
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    out += c >= 0x20 && c <= 0x7e && c !== 0x25 ? message[i] : '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}

function badRequest(details: string): LocalReplySpec {
  return { status: 400, body: 'Bad Request', flag: ResponseFlag.DownstreamProtocolError, details, grpcStatus: -1 };
}

function appendVia(headers: HeaderList, via: string): void {
  const existing = getHeader(headers, H.via);
  setHeader(headers, H.via, existing === undefined || existing === '' ? via : `${existing}, ${via}`);
}

function applyServerHeader(headers: HeaderList, serverName: string, mode: string): void {
  if (mode === 'PASS_THROUGH') return;
  if (mode === 'APPEND_IF_ABSENT') {
    if (getHeader(headers, H.server) === undefined) headers.push(H.server, serverName);
    return;
  }
  removeHeader(headers, H.server);
  headers.push(H.server, serverName);
}

/** http://host[:port]/path?q -> { authority, path }; null when it is not an absolute http(s) URL. */
function parseAbsoluteForm(target: string): { authority: string; path: string } | null {
  const lower = target.slice(0, 8).toLowerCase();
  let start: number;
  if (lower.startsWith('http://')) start = 7;
  else if (lower.startsWith('https://')) start = 8;
  else return null;
  let end = target.length;
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */) {
      end = i;
      break;
    }
  }
  const authority = target.slice(start, end);
  if (authority === '') return null;
  let path = target.slice(end);
  if (path === '' || path.charCodeAt(0) === 63) path = '/' + path;
  return { authority, path };
}
