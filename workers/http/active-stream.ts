// Worker thread. One downstream HTTP/1.1 request and its response: Envoy's ActiveStream. It applies the
// connection manager's request rules (host, x-forwarded-*, x-request-id), routes, answers locally or hands the
// request to the router's UpstreamRequest, and encodes the response back to the client with backpressure.

import { randomUUID } from 'node:crypto';
import type { RequestHead, ResponseHead } from '../../src/http1/types.ts';
import { StreamInfo, getHeader, type HeaderList } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import { H, isHopByHop } from '../../src/http/header-names.ts';
import { setHeader, removeHeader } from '../../src/http/header-list.ts';
import { httpDateNow } from '../../src/http/date-header.ts';
import { appendForwardedFor } from '../../src/http/forwarded-for.ts';
import { isInternalAddress } from '../../src/http/internal-address.ts';
import { mergeSlashes, normalizePath } from '../../src/http/path-normalization.ts';
import { serializeResponseHead } from '../../src/http1/serializer.ts';
import { RouteKind, type Route } from '../../src/router/route-table.ts';
import type { HcmRuntime } from './hcm-runtime.ts';
import type { DownstreamConnection } from './downstream-connection.ts';
import { LocalReply, type LocalReplySpec } from './local-reply.ts';
import { reasonPhrase } from '../../src/http1/reason-phrases.ts';
import { UpstreamRequest } from '../router/upstream-request.ts';

const EMPTY = Buffer.alloc(0);
const CHUNK_END = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/**
 * Body chunks up to this size join the pending response text (latin1, so bytes round-trip exactly) instead of
 * being written on their own: one write syscall per upstream read instead of one per head and per chunk. Larger
 * chunks go out with the pending text in one writev (cork), without a copy into a string.
 */
const MERGE_MAX_BYTES = 2048;

interface Latin1Decoder {
  /** Buffer's internal latin1 decoder, cheaper than toString('latin1'). */
  latin1Slice(start: number, end: number): string;
}

export class ActiveStream {
  readonly conn: DownstreamConnection;
  readonly hcm: HcmRuntime;
  readonly info: StreamInfo;
  readonly head: RequestHead;
  /** Headers as they will go upstream (the request head's list, mutated in place). */
  readonly headers: HeaderList;
  route: Route | null;
  upstream: UpstreamRequest | null;
  /** The downstream request has been fully received. */
  requestComplete: boolean;
  responseStarted: boolean;
  /** The response head or local reply asked to close the connection after this response. */
  closeAfterResponse: boolean;
  finished: boolean;
  /** Response body framing towards the client: chunked re-encoding. */
  chunkedResponse: boolean;
  /** HEAD and 204/304: no response body is written whatever the upstream sends. */
  suppressResponseBody: boolean;
  /** The Upgrade value of an upgrade request allowed by upgrade_configs (e.g. "websocket"), else null. */
  upgradeType: string | null;
  /** The upstream answered 101: bytes now flow raw both ways until either side closes. */
  upgraded: boolean;
  /**
   * Response bytes (latin1) not yet handed to the socket: the head and small body chunks wait here until the end of
   * the upstream read that produced them (flushResponse), the end of the response, or a large chunk.
   */
  private pendingOut: string;
  private idleTimer: NodeJS.Timeout | null;
  private requestTimer: NodeJS.Timeout | null;

  constructor(conn: DownstreamConnection, hcm: HcmRuntime, head: RequestHead) {
    this.conn = conn;
    this.hcm = hcm;
    this.head = head;
    this.headers = head.headers;
    this.info = new StreamInfo();
    this.route = null;
    this.upstream = null;
    // A request without a body ends with its head (Envoy's end_stream on decodeHeaders): a local reply to it
    // keeps the connection, and the route timeout starts now.
    this.requestComplete = head.contentLength <= 0 && !head.chunked && !head.upgrade;
    this.responseStarted = false;
    this.closeAfterResponse = !head.keepAlive;
    this.finished = false;
    this.chunkedResponse = false;
    this.suppressResponseBody = head.method === 'HEAD';
    this.upgradeType = null;
    this.upgraded = false;
    this.pendingOut = '';
    this.idleTimer = null;
    this.requestTimer = null;
  }

  // ---- decoding (client -> proxy) ----

  decodeHeaders(): void {
    const hcm = this.hcm;
    const cfg = hcm.config;
    const values = hcm.stats.values;
    const slots = cfg.slots!;
    const info = this.info;
    const head = this.head;
    values[slots.downstream_rq_total]++;
    values[slots.downstream_rq_http1_total]++;
    values[slots.downstream_rq_active]++;
    values[hcm.workerRqTotalSlot]++;
    values[hcm.workerRqActiveSlot]++;

    info.startTimeMs = Date.now();
    info.startMonoMs = performance.now();
    info.protocol = head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
    info.method = head.method;
    info.requestHeaders = this.headers;
    info.downstreamRemoteAddress = this.conn.remoteAddress;
    info.downstreamDirectRemoteAddress = this.conn.remoteAddress;
    info.downstreamLocalAddress = this.conn.localAddress;
    info.scheme = this.conn.scheme;
    info.connectionId = this.conn.id;
    if (cfg.streamIdleTimeoutMs > 0) this.armIdleTimer(cfg.streamIdleTimeoutMs);
    if (cfg.requestTimeoutMs > 0) this.requestTimer = setTimeout(onRequestTimeout, cfg.requestTimeoutMs, this);

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
    if (path.charCodeAt(0) !== 47 /* / */) {
      const parsed = parseAbsoluteForm(path);
      if (parsed === null) {
        values[slots.downstream_rq_non_relative_path]++;
        return this.localReply(badRequest('absolute_path_rejected'));
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
    info.path = path;
    info.authority = authority;

    // Connection-level request rules, as Envoy's ConnectionManagerUtility::mutateRequestHeaders.
    const peerIp = this.conn.remoteIp;
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

    // Envoy removes internal_only_headers from requests whose source is not internal.
    if (!(cfg.useRemoteAddress && isInternalAddress(peerIp))) hcm.routeTable.removeInternalOnlyHeaders(this.headers);
    const route = hcm.routeTable.route(authority, head.method, path, this.headers);
    if (route === null) {
      values[slots.no_route]++;
      return this.localReply(LocalReply.noRoute);
    }
    this.route = route;
    if (route.idleTimeoutConfigured) {
      // The route's idle_timeout replaces the connection manager's stream_idle_timeout; 0 disables it (Envoy).
      if (this.idleTimer !== null) clearTimeout(this.idleTimer);
      this.idleTimer = null;
      if (route.idleTimeoutMs > 0) this.armIdleTimer(route.idleTimeoutMs);
    }
    info.routeName = route.routeName;
    if (route.kind === RouteKind.DIRECT_RESPONSE) {
      values[slots.rq_direct_response]++;
      return this.sendLocal(route.directStatus, route.directBody ?? EMPTY, 0, 'direct_response', route.directBody === null ? null : 'text/plain');
    }
    if (route.kind === RouteKind.REDIRECT) {
      values[slots.rq_redirect]++;
      const location = route.redirectLocation(info.scheme, authority, path);
      return this.sendLocal(route.redirectStatus, EMPTY, 0, 'via_upstream', null, location);
    }

    const cluster = hcm.clusters.get(route.clusterName);
    if (cluster === undefined) {
      values[slots.no_cluster]++;
      return this.localReply(LocalReply.noCluster);
    }
    info.upstreamCluster = route.clusterName;
    if (this.upgradeType !== null) {
      const type = this.upgradeType.toLowerCase();
      const override = route.upgradeOverrides === null ? undefined : route.upgradeOverrides[type];
      if (!(override ?? cfg.upgradeConfigs[type]!)) {
        values[slots.downstream_rq_ws_on_non_ws_route]++;
        return this.localReply(LocalReply.upgradeNotAllowed);
      }
    }

    // Route-level request rewriting, then hop-by-hop removal: the upstream hop is framed by the proxy.
    route.applyRequestHeaderMutations(this.headers, info);
    if (route.hostRewriteLiteral !== null) setHeader(this.headers, H.host, route.hostRewriteLiteral);
    const upstreamPath = route.rewritePath(path);
    if (upstreamPath !== path && !cfg.suppressEnvoyHeaders) setHeader(this.headers, H.xEnvoyOriginalPath, path);
    if (route.timeoutMs > 0 && !cfg.suppressEnvoyHeaders) setHeader(this.headers, H.xEnvoyExpectedRqTimeoutMs, String(route.timeoutMs));
    stripHopByHop(this.headers);
    if (this.upgradeType !== null) this.headers.push(H.connection, 'upgrade', H.upgrade, this.upgradeType);

    const upstream = new UpstreamRequest(this, cluster, route, upstreamPath);
    this.upstream = upstream;
    upstream.start();
  }

  decodeData(chunk: Buffer): void {
    this.info.bytesReceived += chunk.length;
    if (this.idleTimer !== null) this.idleTimer.refresh();
    if (this.upstream !== null && !this.finished) this.upstream.sendBody(chunk);
  }

  decodeComplete(): void {
    this.requestComplete = true;
    this.info.lastDownstreamRxMonoMs = performance.now();
    if (this.requestTimer !== null) {
      clearTimeout(this.requestTimer);
      this.requestTimer = null;
    }
    if (this.upstream !== null && !this.finished) this.upstream.endBody();
  }

  /** The client went away (connection closed) before the response finished. */
  onDownstreamReset(): void {
    if (this.finished) return;
    this.info.responseFlags |= ResponseFlag.DownstreamConnectionTermination;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_rx_reset]++;
    if (this.upstream !== null) this.upstream.reset();
    this.finish(false);
  }

  // ---- encoding (proxy -> client) ----

  /** Writes the response head that came from the upstream. */
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
    } else if (status === 204 || status === 304) this.suppressResponseBody = true;
    if (!this.suppressResponseBody && !this.upgraded) {
      if (rh.chunked || (rh.readUntilClose && status >= 200)) {
        if (this.head.versionMinor === 1) {
          this.chunkedResponse = true;
          headers.push(H.transferEncoding, 'chunked');
        } else {
          this.closeAfterResponse = true;
        }
      }
    } else if (rh.chunked && this.head.method === 'HEAD') {
      // A HEAD response keeps the framing header the GET would have had.
      headers.push(H.transferEncoding, 'chunked');
    }
    if (!cfg.suppressEnvoyHeaders && this.upstream !== null) {
      headers.push(H.xEnvoyUpstreamServiceTime, String(Math.round(performance.now() - this.upstream.startMonoMs)));
    }
    applyServerHeader(headers, cfg.serverName, cfg.serverHeaderTransformation);
    if (cfg.alwaysSetRequestIdInResponse && info.requestId !== '') setHeader(headers, H.xRequestId, info.requestId);
    if (this.route !== null) this.route.applyResponseHeaderMutations(headers, info);
    if (this.conn.draining) this.closeAfterResponse = true;
    if (!this.upgraded && (this.closeAfterResponse || !this.requestComplete)) {
      // A response that beats its request to the end closes the connection: the rest of the request body
      // cannot be told apart from the next request.
      if (!this.requestComplete) {
        this.closeAfterResponse = true;
        this.hcm.stats.values[cfg.slots!.downstream_rq_response_before_rq_complete]++;
      }
      headers.push(H.connection, 'close');
    }
    this.responseStarted = true;
    this.writeHead(status, rh.reason, headers);
  }

  encodeData(chunk: Buffer): boolean {
    if (this.finished || this.suppressResponseBody || chunk.length === 0) return true;
    if (this.idleTimer !== null) this.idleTimer.refresh();
    this.info.bytesSent += chunk.length;
    return this.chunkedResponse ? this.writeChunked(chunk) : this.writeBody(chunk);
  }

  encodeComplete(trailers: HeaderList | null): void {
    if (this.finished) return;
    if (this.chunkedResponse) {
      this.pendingOut += trailers === null || trailers.length === 0 ? LAST_CHUNK : serializeTrailers(trailers);
    }
    this.info.responseTrailers = trailers;
    this.finish(true);
  }

  /**
   * Writes what the response has pending (called at the end of each upstream read). Returns false when the client
   * socket's buffer is full (the caller pauses the upstream until 'drain').
   */
  flushResponse(): boolean {
    const out = this.pendingOut;
    if (out === '') return true;
    this.pendingOut = '';
    return this.conn.socket.write(out, 'latin1');
  }

  private writeBody(chunk: Buffer): boolean {
    const out = this.pendingOut;
    if (chunk.length <= MERGE_MAX_BYTES) {
      this.pendingOut = out + (chunk as unknown as Latin1Decoder).latin1Slice(0, chunk.length);
      return true;
    }
    const socket = this.conn.socket;
    if (out === '') return socket.write(chunk);
    // Pending head and this chunk in one writev.
    this.pendingOut = '';
    socket.cork();
    socket.write(out, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  private writeChunked(chunk: Buffer): boolean {
    const size = chunk.length.toString(16) + CHUNK_END;
    if (chunk.length <= MERGE_MAX_BYTES) {
      this.pendingOut += size + (chunk as unknown as Latin1Decoder).latin1Slice(0, chunk.length) + CHUNK_END;
      return true;
    }
    const socket = this.conn.socket;
    const out = this.pendingOut;
    this.pendingOut = '';
    socket.cork();
    socket.write(out + size, 'latin1');
    socket.write(chunk);
    const ok = socket.write(CHUNK_END, 'latin1');
    socket.uncork();
    return ok;
  }

  /** The response can no longer be completed: a reply if nothing was sent yet, else a reset of the client. */
  upstreamFailed(spec: LocalReplySpec): void {
    if (this.finished) return;
    if (!this.responseStarted) return this.localReply(spec);
    this.info.responseFlags |= spec.flag;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_tx_reset]++;
    this.finish(false);
  }

  localReply(spec: LocalReplySpec): void {
    this.sendLocal(spec.status, spec.body === '' ? EMPTY : Buffer.from(spec.body, 'latin1'), spec.flag, spec.details, spec.body === '' ? null : 'text/plain');
  }

  private sendLocal(status: number, body: Buffer, flag: number, details: string, contentType: string | null, location?: string): void {
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
    info.responseCode = status;
    info.responseCodeDetails = details;
    const headers: HeaderList = [];
    if (location !== undefined) headers.push('location', location);
    if (body.length > 0 && contentType !== null) headers.push(H.contentType, contentType);
    headers.push(H.contentLength, String(body.length));
    headers.push(H.date, httpDateNow(Date.now()));
    headers.push(H.server, cfg.serverName);
    info.responseHeaders = headers;
    if (this.route !== null) this.route.applyResponseHeaderMutations(headers, info);
    if (cfg.alwaysSetRequestIdInResponse && info.requestId !== '') setHeader(headers, H.xRequestId, info.requestId);
    if (!this.requestComplete || this.conn.draining) this.closeAfterResponse = true;
    if (this.closeAfterResponse) headers.push(H.connection, 'close');
    info.responseHeaders = headers;
    this.responseStarted = true;
    this.writeHead(status, reasonPhrase(status), headers);
    if (body.length > 0 && !this.suppressResponseBody) {
      info.bytesSent += body.length;
      this.writeBody(body);
    }
    if (this.upstream !== null) this.upstream.reset();
    this.finish(true);
  }

  /** The head waits in pendingOut for the body bytes of the same upstream read. */
  private writeHead(status: number, reason: string, headers: HeaderList): void {
    this.pendingOut = serializeResponseHead(this.head.versionMinor, status, reason, headers);
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
    this.idleTimer = setTimeout(onStreamIdleTimeout, ms, this);
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
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

  /** Ends the stream: stats, access log, then the connection goes on (clean) or is reset (not clean). */
  private finish(clean: boolean): void {
    if (this.finished) return;
    this.finished = true;
    // Whatever was produced goes out first, even before a reset (as when each piece was written at once).
    if (this.pendingOut !== '') this.flushResponse();
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.requestTimer !== null) clearTimeout(this.requestTimer);
    this.idleTimer = null;
    this.requestTimer = null;
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
    }
    hcm.stats.record(slots.downstream_rq_time, now - info.startMonoMs);
    const logs = hcm.accessLogs;
    for (let i = 0; i < logs.length; i++) logs[i]!.log(info);
    this.conn.onStreamDone(this, clean);
  }
}

function onStreamIdleTimeout(stream: ActiveStream): void {
  stream.onIdleTimeout();
}

function onRequestTimeout(stream: ActiveStream): void {
  stream.onRequestTimeout();
}

function badRequest(details: string): LocalReplySpec {
  return { status: 400, body: 'Bad Request', flag: ResponseFlag.DownstreamProtocolError, details };
}

function stripHopByHop(headers: HeaderList): void {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (isHopByHop(name)) {
      if (name === 'te' && headers[i + 1]!.trim().toLowerCase() === 'trailers') continue;
      headers.splice(i, 2);
      i -= 2;
    }
  }
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

function serializeTrailers(trailers: HeaderList): string {
  let s = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) s += trailers[i] + ': ' + trailers[i + 1] + '\r\n';
  return s + '\r\n';
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
