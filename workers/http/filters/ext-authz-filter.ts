// Worker thread. envoy.filters.http.ext_authz, as Envoy's: each request (unless the route disables the filter or
// filter_enabled samples it out) is checked with an authorization service before it goes on, through this worker's
// AsyncClient: http_service (the request's method, path_prefix + path, authority, the allowed headers and
// headers_to_add, optionally the body) or grpc_service (envoy.service.auth.v3.Authorization/Check with a
// CheckRequest). The chain stops while the check runs (the body held with flow control) and resumes on OK with the
// service's header mutations; a denial is answered with the service's status, headers and body (ext_authz_denied,
// UAEX); a failure is answered with status_on_error (ext_authz_error, UAEX) unless failure_mode_allow. Stats:
// http.<stat_prefix>.ext_authz.[<filter stat_prefix>.]{ok,denied,error,disabled,failure_mode_allowed}.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../../src/http/header-list.ts';
import { ResponseFlag } from '../../../src/http/response-flags.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import {
  compileExtAuthz, matchesAny, type ExtAuthzPerRoute, type ExtAuthzSettings,
} from '../../../src/filters/ext-authz-config.ts';
import {
  AUTHORIZATION_CHECK_METHOD, authMessageTypes, decodeCheckResponse, encodeCheckRequest, socketAddressOf,
  type AuthMessageTypes,
} from '../../../src/filters/ext-authz-messages.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';
import type { AsyncClient, AsyncClientError, AsyncStream, AsyncStreamCallbacks } from '../../upstream/async-client.ts';
import { GrpcAsyncClient, type GrpcStream, type GrpcStreamCallbacks } from '../../upstream/grpc-async-client.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks,
} from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

/** What an authorization response body may hold (HTTP service). */
const MAX_AUTH_RESPONSE_BYTES = 64 * 1024;
const FAILURE_MODE_ALLOWED_HEADER = 'x-envoy-auth-failure-mode-allowed';
const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';
/** The HTTP service names request headers to remove in this response header (comma-separated). */
const HEADERS_TO_REMOVE_HEADER = 'x-envoy-auth-headers-to-remove';
/** Never copied from an authorization response into a reply or a request: framing and the connection's own. */
const NOT_FORWARDED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'host', 'date', 'server', 'content-type', 'te', 'trailer', 'proxy-connection']);
const EMPTY = Buffer.alloc(0);

class ExtAuthzShared {
  readonly settings: ExtAuthzSettings;
  readonly stats: WorkerStatsStore;
  readonly okSlot: number;
  readonly deniedSlot: number;
  readonly errorSlot: number;
  readonly disabledSlot: number;
  readonly failureModeAllowedSlot: number;
  readonly http: AsyncClient;
  readonly grpc: GrpcAsyncClient | null;
  readonly types: AuthMessageTypes | null;

  constructor(config: Obj, context: HttpFilterFactoryContext) {
    // Checked by the primary already (src/filters/ext-authz-config.ts); compiled here for this worker.
    this.settings = compileExtAuthz(config, 'ext_authz', []);
    this.stats = context.stats;
    const s = context.slots;
    this.okSlot = s === null ? -1 : s['ok']!;
    this.deniedSlot = s === null ? -1 : s['denied']!;
    this.errorSlot = s === null ? -1 : s['error']!;
    this.disabledSlot = s === null ? -1 : s['disabled']!;
    this.failureModeAllowedSlot = s === null ? -1 : s['failure_mode_allowed']!;
    this.http = context.asyncClient;
    this.grpc = this.settings.grpc ? new GrpcAsyncClient(context.asyncClient) : null;
    this.types = this.settings.grpc ? authMessageTypes() : null;
  }

  count(slot: number): void {
    if (slot >= 0) this.stats.values[slot]++;
  }
}

function sample(fraction: number): boolean {
  return fraction >= 1 || (fraction > 0 && Math.random() < fraction);
}

/** No check yet; the body is being buffered for it; it runs; it answered (or was skipped). */
const IDLE = 0;
const BUFFERING = 1;
const CALLING = 2;
const DONE = 3;

class ExtAuthzFilter extends PassThroughFilter implements AsyncStreamCallbacks, GrpcStreamCallbacks {
  private readonly cb: FilterCallbacks;
  private readonly shared: ExtAuthzShared;
  private state: number;
  private perRoute: ExtAuthzPerRoute | null;
  private httpCall: AsyncStream | null;
  private grpcCall: GrpcStream | null;
  /** The HTTP service's answer as it arrives. */
  private status: number;
  private responseHeaders: HeaderList | null;
  private chunks: Buffer[] | null;
  private bytes: number;
  private grpcReply: Buffer | null;
  /** Headers the service asked to add to the response: name, value, append ('1') or set ('0'). */
  private responseHeadersToAdd: string[] | null;
  /** The request's body ended (without trailers) while held here. */
  private endedByData: boolean;

  constructor(cb: FilterCallbacks, shared: ExtAuthzShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.state = IDLE;
    this.perRoute = null;
    this.httpCall = null;
    this.grpcCall = null;
    this.status = 0;
    this.responseHeaders = null;
    this.chunks = null;
    this.bytes = 0;
    this.grpcReply = null;
    this.responseHeadersToAdd = null;
    this.endedByData = false;
  }

  override decodeHeaders(_headers: HeaderList, endStream: boolean): number {
    const shared = this.shared;
    const settings = shared.settings;
    const perRoute = this.cb.mostSpecificPerFilterConfig() as ExtAuthzPerRoute | null;
    if (perRoute !== null && perRoute.disabled) {
      this.state = DONE;
      return FilterHeadersStatus.Continue;
    }
    if (!sample(settings.enabledFraction)) {
      shared.count(shared.disabledSlot);
      this.state = DONE;
      return FilterHeadersStatus.Continue;
    }
    this.perRoute = perRoute;
    if (settings.withRequestBody !== null && !endStream && (perRoute === null || !perRoute.disableRequestBodyBuffering)) {
      this.state = BUFFERING;
      return FilterHeadersStatus.StopIteration;
    }
    this.startCheck(null);
    // StopIteration, not StopAll: the body comes here (held with flow control) so the filter sees how it ends.
    return this.state === CALLING ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    if (this.state === BUFFERING) {
      const limits = this.shared.settings.withRequestBody!;
      const held = this.cb.decodingBuffer();
      const buffered = (held === null ? 0 : held.length) + data.length;
      if (!endStream && buffered < limits.maxRequestBytes) return FilterDataStatus.StopIterationAndBuffer;
      if (buffered > limits.maxRequestBytes && !limits.allowPartialMessage) {
        this.state = DONE;
        this.cb.sendLocalReply(413, 'Payload Too Large', null, -1, 'request_payload_too_large');
        return FilterDataStatus.StopIterationNoBuffer;
      }
      const body = held === null ? data : Buffer.concat([held, data]);
      if (endStream) this.endedByData = true;
      // As Envoy: whether the service sees only part of the body (both the check and the upstream see this header).
      setHeader(this.cb.requestHeaders, PARTIAL_BODY_HEADER, buffered > limits.maxRequestBytes || !endStream ? 'true' : 'false');
      this.startCheck(body.length > limits.maxRequestBytes ? body.subarray(0, limits.maxRequestBytes) : body);
      return (this.state as number) === CALLING ? FilterDataStatus.StopIterationAndWatermark : FilterDataStatus.Continue;
    }
    if (this.state === CALLING) {
      if (endStream) this.endedByData = true;
      return FilterDataStatus.StopIterationAndWatermark;
    }
    return FilterDataStatus.Continue;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    if (this.state === BUFFERING) {
      const held = this.cb.decodingBuffer();
      const max = this.shared.settings.withRequestBody!.maxRequestBytes;
      const body = held === null ? EMPTY : held.length > max ? held.subarray(0, max) : held;
      setHeader(this.cb.requestHeaders, PARTIAL_BODY_HEADER, held !== null && held.length > max ? 'true' : 'false');
      this.startCheck(body);
    }
    return this.state === CALLING ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  override encodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const add = this.responseHeadersToAdd;
    if (add !== null) {
      for (let i = 0; i < add.length; i += 3) {
        if (add[i + 2] === '1') headers.push(add[i]!, add[i + 1]!);
        else setHeader(headers, add[i]!, add[i + 1]!);
      }
    }
    return FilterHeadersStatus.Continue;
  }

  override onDestroy(): void {
    if (this.state !== CALLING) return;
    this.state = DONE;
    // Cancels the check: no callback follows.
    if (this.httpCall !== null) this.httpCall.reset();
    if (this.grpcCall !== null) this.grpcCall.reset();
  }

  // ---- the check ----

  private startCheck(body: Buffer | null): void {
    this.state = CALLING;
    const settings = this.shared.settings;
    try {
      if (this.shared.grpc !== null) {
        const bytes = encodeCheckRequest(this.shared.types!, this.checkRequest(body));
        this.grpcCall = this.shared.grpc.startUnary(settings.cluster, AUTHORIZATION_CHECK_METHOD, bytes, settings.timeoutMs, settings.initialMetadata.length === 0 ? null : settings.initialMetadata, this);
      } else {
        this.httpCall = this.shared.http.start(settings.cluster, this.httpCheckRequest(body), true, this);
      }
    } catch {
      // A request that could not be built (a bug or an unencodable value): as a failed call.
      this.state = DONE;
      this.onCheckError();
    }
  }

  /** The request headers the service sees: all (gRPC) or authorization (HTTP), narrowed by allowed/disallowed. */
  private forwardedHeader(name: string, grpc: boolean): boolean {
    const s = this.shared.settings;
    if (s.disallowedHeaders !== null && matchesAny(s.disallowedHeaders, name)) return false;
    if (!grpc && (name === 'authorization' || name === 'content-length')) return name === 'authorization';
    if (s.allowedHeaders === null) return grpc;
    return matchesAny(s.allowedHeaders, name);
  }

  private httpCheckRequest(body: Buffer | null): { method: string; path: string; authority: string; headers: HeaderList; body: Buffer | null; timeoutMs: number } {
    const s = this.shared.settings;
    const info = this.cb.streamInfo;
    const request = this.cb.requestHeaders;
    const headers: HeaderList = [];
    for (let i = 0; i < request.length; i += 2) {
      const name = request[i]!;
      if (name === 'host' || NOT_FORWARDED.has(name) || !this.forwardedHeader(name, false)) continue;
      headers.push(name, request[i + 1]!);
    }
    const add = s.headersToAdd;
    for (let i = 0; i < add.length; i += 2) setHeader(headers, add[i]!, add[i + 1]!);
    return {
      method: info.method,
      path: s.pathPrefix + info.path,
      authority: getHeader(request, 'host') ?? info.authority,
      headers,
      body,
      timeoutMs: s.timeoutMs,
    };
  }

  private checkRequest(body: Buffer | null): Record<string, unknown> {
    const info = this.cb.streamInfo;
    const request = this.cb.requestHeaders;
    const authority = getHeader(request, 'host') ?? info.authority;
    const headers: Record<string, string> = { ':authority': authority, ':method': info.method, ':path': info.path, ':scheme': info.scheme };
    for (let i = 0; i < request.length; i += 2) {
      const name = request[i]!;
      if (name === 'host' || !this.forwardedHeader(name, true)) continue;
      const prev = headers[name];
      headers[name] = prev === undefined ? request[i + 1]! : `${prev},${request[i + 1]!}`;
    }
    const length = getHeader(request, 'content-length');
    const http: Record<string, unknown> = {
      id: info.requestId,
      method: info.method,
      headers,
      path: info.path,
      host: authority,
      scheme: info.scheme,
      size: length !== undefined && /^[0-9]{1,15}$/.test(length) ? Number(length) : -1,
      protocol: info.protocol,
    };
    if (body !== null) {
      if (this.shared.settings.withRequestBody!.packAsBytes) http['raw_body'] = body;
      else http['body'] = body.toString('utf8');
    }
    const ms = info.startTimeMs > 0 ? info.startTimeMs : Date.now();
    const ext = this.perRoute === null ? null : this.perRoute.contextExtensions;
    return {
      attributes: {
        source: { address: socketAddressOf(info.downstreamRemoteAddress) },
        destination: { address: socketAddressOf(info.downstreamLocalAddress) },
        request: { time: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 }, http },
        context_extensions: ext === null ? {} : ext,
      },
    };
  }

  // ---- HTTP service answers (AsyncStreamCallbacks) ----

  onHeaders(status: number, headers: HeaderList, endStream: boolean): void {
    this.status = status;
    this.responseHeaders = headers;
    if (endStream) this.onHttpResponse();
  }

  onData(data: Buffer, endStream: boolean): void {
    if (this.state !== CALLING) return;
    if (data.length > 0) {
      this.bytes += data.length;
      if (this.bytes > MAX_AUTH_RESPONSE_BYTES) {
        this.httpCall!.reset();
        this.state = DONE;
        this.onCheckError();
        return;
      }
      (this.chunks ??= []).push(data);
    }
    if (endStream) this.onHttpResponse();
  }

  onTrailers(_trailers: HeaderList): void {
    this.onHttpResponse();
  }

  onReset(_error: AsyncClientError): void {
    if (this.state !== CALLING) return;
    this.state = DONE;
    this.onCheckError();
  }

  private onHttpResponse(): void {
    if (this.state !== CALLING) return;
    this.state = DONE;
    const s = this.shared.settings;
    const status = this.status;
    const headers = this.responseHeaders ?? [];
    if (status >= 500) return this.onCheckError();
    if (status === 200) {
      const set: HeaderList = [];
      const append: HeaderList = [];
      const remove: string[] = [];
      let toClient: string[] | null = null;
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i]!;
        const value = headers[i + 1]!;
        if (name === HEADERS_TO_REMOVE_HEADER) {
          for (const n of value.split(',')) {
            const t = n.trim().toLowerCase();
            if (t !== '') remove.push(t);
          }
          continue;
        }
        if (NOT_FORWARDED.has(name) || name.charCodeAt(0) === 58) continue;
        if (matchesAny(s.allowedUpstreamHeaders, name)) set.push(name, value);
        if (matchesAny(s.allowedUpstreamHeadersToAppend, name)) append.push(name, value);
        if (matchesAny(s.allowedClientHeadersOnSuccess, name)) (toClient ??= []).push(name, value, '1');
      }
      this.responseHeadersToAdd = toClient;
      return this.onAllowed(set, append, remove);
    }
    const out: HeaderList = [];
    const allowed = s.allowedClientHeaders;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (NOT_FORWARDED.has(name) || name.charCodeAt(0) === 58) continue;
      if (allowed !== null && !matchesAny(allowed, name)) continue;
      out.push(name, headers[i + 1]!);
    }
    const chunks = this.chunks;
    const body = chunks === null ? '' : Buffer.concat(chunks).toString();
    this.onDenied(status, out, body);
  }

  // ---- gRPC service answers (GrpcStreamCallbacks) ----

  onMessage(message: Buffer): void {
    if (this.grpcReply === null) this.grpcReply = message;
  }

  onClose(status: number, _message: string): void {
    if (this.state !== CALLING) return;
    this.state = DONE;
    const reply = this.grpcReply;
    if (status !== 0 || reply === null) return this.onCheckError();
    let r: Record<string, unknown>;
    try {
      r = decodeCheckResponse(this.shared.types!, reply);
    } catch {
      return this.onCheckError();
    }
    const code = (r['status'] as { code?: number } | undefined)?.code ?? 0;
    if (code === 0) {
      const ok = (r['ok_response'] ?? {}) as Record<string, unknown>;
      const set: HeaderList = [];
      const append: HeaderList = [];
      for (const h of (ok['headers'] ?? []) as HeaderValueOptionData[]) {
        const name = (h.header?.key ?? '').toLowerCase();
        if (name === '' || name === 'host' || name.charCodeAt(0) === 58) continue;
        if (h.append?.value === true) append.push(name, h.header?.value ?? '');
        else set.push(name, h.header?.value ?? '');
      }
      const remove = ((ok['headers_to_remove'] ?? []) as string[]).map((n) => n.toLowerCase());
      let toClient: string[] | null = null;
      for (const h of (ok['response_headers_to_add'] ?? []) as HeaderValueOptionData[]) {
        const name = (h.header?.key ?? '').toLowerCase();
        if (name === '' || name.charCodeAt(0) === 58) continue;
        (toClient ??= []).push(name, h.header?.value ?? '', h.append?.value === false ? '0' : '1');
      }
      this.responseHeadersToAdd = toClient;
      return this.onAllowed(set, append, remove);
    }
    const denied = (r['denied_response'] ?? {}) as Record<string, unknown>;
    const httpStatus = (denied['status'] as { code?: number } | undefined)?.code ?? 0;
    const out: HeaderList = [];
    for (const h of (denied['headers'] ?? []) as HeaderValueOptionData[]) {
      const name = (h.header?.key ?? '').toLowerCase();
      if (name === '' || NOT_FORWARDED.has(name) || name.charCodeAt(0) === 58) continue;
      if (h.append?.value === true) out.push(name, h.header?.value ?? '');
      else setHeader(out, name, h.header?.value ?? '');
    }
    this.onDenied(httpStatus >= 100 && httpStatus < 600 ? httpStatus : 403, out, typeof denied['body'] === 'string' ? denied['body'] : '');
  }

  // ---- outcomes ----

  private onAllowed(set: HeaderList, append: HeaderList, remove: string[]): void {
    const shared = this.shared;
    shared.count(shared.okSlot);
    const request = this.cb.requestHeaders;
    for (let i = 0; i < set.length; i += 2) setHeader(request, set[i]!, set[i + 1]!);
    for (let i = 0; i < append.length; i += 2) request.push(append[i]!, append[i + 1]!);
    for (let i = 0; i < remove.length; i++) {
      const name = remove[i]!;
      if (name !== 'host' && name.charCodeAt(0) !== 58) removeHeader(request, name);
    }
    if (shared.settings.clearRouteCache && (set.length > 0 || append.length > 0 || remove.length > 0)) this.cb.clearRouteCache();
    this.resume();
  }

  /**
   * Lets the request go on. A body held here whole goes upstream with its length (a chunked one too): the router
   * frames the end of a request that completed while held before it is handed the held body.
   */
  private resume(): void {
    if (this.endedByData) {
      const held = this.cb.decodingBuffer();
      this.cb.requestBodyLength?.(held === null ? 0 : held.length);
    }
    this.cb.continueDecoding();
  }

  private onDenied(status: number, headers: HeaderList, body: string): void {
    const shared = this.shared;
    shared.count(shared.deniedSlot);
    this.cb.streamInfo.responseFlags |= ResponseFlag.UnauthorizedExternalService;
    this.cb.sendLocalReply(status, body, headers.length === 0 ? null : headers, -1, 'ext_authz_denied');
  }

  private onCheckError(): void {
    const shared = this.shared;
    shared.count(shared.errorSlot);
    const s = shared.settings;
    if (s.failureModeAllow) {
      shared.count(shared.failureModeAllowedSlot);
      if (s.failureModeAllowHeaderAdd) setHeader(this.cb.requestHeaders, FAILURE_MODE_ALLOWED_HEADER, 'true');
      this.resume();
      return;
    }
    this.cb.streamInfo.responseFlags |= ResponseFlag.UnauthorizedExternalService;
    this.cb.sendLocalReply(s.statusOnError, '', null, -1, 'ext_authz_error');
  }
}

/** envoy.config.core.v3.HeaderValueOption as decoded. */
interface HeaderValueOptionData {
  header?: { key?: string; value?: string };
  append?: { value?: boolean };
}

export function extAuthzFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new ExtAuthzShared(config as Obj, context);
  return {
    createFilter(callbacks: FilterCallbacks) {
      return new ExtAuthzFilter(callbacks, shared);
    },
  };
}
