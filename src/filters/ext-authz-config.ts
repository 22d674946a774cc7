// Any thread (pure; config time). envoy.filters.http.ext_authz: its ExtAuthz (http_service or grpc_service) and the
// per-route ExtAuthzPerRoute, compiled. Settings hold compiled StringMatchers, so they are built where they are used
// (the worker) and never cross threads: the filter-level config crosses as the loader's plain data, checked here
// first on the primary (the same compile, its problems reported with their field paths).

import { compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';
import { bool, durationMs, isObj, list, num, obj, str, type Obj } from '../router/config-values.ts';
import type { HeaderList } from '../http/stream-info.ts';
import { protoSchema } from '../config-loader/proto-schema.ts';
import { fractionOf } from './cors-config.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const EXT_AUTHZ_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';
export const EXT_AUTHZ_FILTER_NAME = 'envoy.filters.http.ext_authz';

/** Envoy's default for both services' timeout. */
const DEFAULT_TIMEOUT_MS = 200;

/** with_request_body. */
export interface BufferSettings {
  readonly maxRequestBytes: number;
  readonly allowPartialMessage: boolean;
  readonly packAsBytes: boolean;
}

/** A ListStringMatcher: any pattern matches. */
export type HeaderNameMatchers = readonly StringMatcher[];

export function matchesAny(matchers: HeaderNameMatchers, name: string): boolean {
  for (let i = 0; i < matchers.length; i++) if (matchers[i]!.match(name)) return true;
  return false;
}

export class ExtAuthzSettings {
  /** grpc_service (envoy.service.auth.v3.Authorization/Check), else http_service. */
  readonly grpc: boolean;
  readonly cluster: string;
  readonly timeoutMs: number;
  /** grpc_service.initial_metadata. */
  readonly initialMetadata: HeaderList;
  /** http_service.path_prefix. */
  readonly pathPrefix: string;
  /** allowed_headers (or the deprecated authorization_request.allowed_headers); null = not set. */
  readonly allowedHeaders: HeaderNameMatchers | null;
  readonly disallowedHeaders: HeaderNameMatchers | null;
  /** http_service.authorization_request.headers_to_add. */
  readonly headersToAdd: HeaderList;
  readonly allowedUpstreamHeaders: HeaderNameMatchers;
  readonly allowedUpstreamHeadersToAppend: HeaderNameMatchers;
  /** null = not set (every header of a denial goes to the client). */
  readonly allowedClientHeaders: HeaderNameMatchers | null;
  readonly allowedClientHeadersOnSuccess: HeaderNameMatchers;
  readonly failureModeAllow: boolean;
  readonly failureModeAllowHeaderAdd: boolean;
  readonly clearRouteCache: boolean;
  readonly statusOnError: number;
  /** filter_enabled's default_value as a fraction (Legate reads no runtime); 1 when absent. */
  readonly enabledFraction: number;
  readonly withRequestBody: BufferSettings | null;

  constructor(o: Omit<ExtAuthzSettings, never>) {
    this.grpc = o.grpc;
    this.cluster = o.cluster;
    this.timeoutMs = o.timeoutMs;
    this.initialMetadata = o.initialMetadata;
    this.pathPrefix = o.pathPrefix;
    this.allowedHeaders = o.allowedHeaders;
    this.disallowedHeaders = o.disallowedHeaders;
    this.headersToAdd = o.headersToAdd;
    this.allowedUpstreamHeaders = o.allowedUpstreamHeaders;
    this.allowedUpstreamHeadersToAppend = o.allowedUpstreamHeadersToAppend;
    this.allowedClientHeaders = o.allowedClientHeaders;
    this.allowedClientHeadersOnSuccess = o.allowedClientHeadersOnSuccess;
    this.failureModeAllow = o.failureModeAllow;
    this.failureModeAllowHeaderAdd = o.failureModeAllowHeaderAdd;
    this.clearRouteCache = o.clearRouteCache;
    this.statusOnError = o.statusOnError;
    this.enabledFraction = o.enabledFraction;
    this.withRequestBody = o.withRequestBody;
    Object.freeze(this);
  }
}

/** ExtAuthzPerRoute, compiled. */
export class ExtAuthzPerRoute {
  readonly disabled: boolean;
  /** check_settings.context_extensions; null when none. */
  readonly contextExtensions: Readonly<Record<string, string>> | null;
  readonly disableRequestBodyBuffering: boolean;

  constructor(disabled: boolean, contextExtensions: Readonly<Record<string, string>> | null, disableRequestBodyBuffering: boolean) {
    this.disabled = disabled;
    this.contextExtensions = contextExtensions;
    this.disableRequestBodyBuffering = disableRequestBodyBuffering;
    Object.freeze(this);
  }
}

/** An envoy.type.v3.HttpStatus's code (the loader gives the StatusCode enum by name; a number passes as it is). */
export function httpStatusCodeOf(v: unknown, dflt: number): number {
  if (!isObj(v)) return dflt;
  const code = v['code'];
  if (typeof code === 'number') return code >= 100 && code < 600 ? code : dflt;
  if (typeof code !== 'string' || code === '') return dflt;
  const schema = protoSchema();
  // Loads envoy/type/v3/http_status.proto if this thread's schema has not yet.
  schema.lookupMessage('envoy.type.v3.HttpStatus');
  const n = schema.root.lookupEnum('envoy.type.v3.StatusCode').values[code];
  return n !== undefined && n >= 100 && n < 600 ? n : dflt;
}

function listMatcher(v: unknown, path: string, problems: FilterConfigProblem[]): HeaderNameMatchers | null {
  if (!isObj(v)) return null;
  const out: StringMatcher[] = [];
  list(v['patterns']).forEach((p, i) => {
    const m = compileStringMatcher(obj(p), `${path}.patterns[${i}]`, problems);
    if (m !== null) out.push(m);
  });
  return Object.freeze(out);
}

function headerValues(v: unknown): HeaderList {
  const out: HeaderList = [];
  for (const h of list(v)) {
    const o = obj(h);
    const key = str(o['key'], '').toLowerCase();
    if (key !== '') out.push(key, str(o['value'], ''));
  }
  return out;
}

/** ExtAuthz at `path`, compiled (problems for what is missing or wrong). */
export function compileExtAuthz(o: Obj, path: string, problems: FilterConfigProblem[]): ExtAuthzSettings {
  const grpcService = o['grpc_service'];
  const httpService = o['http_service'];
  let grpc = false;
  let cluster = '';
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  let initialMetadata: HeaderList = [];
  let pathPrefix = '';
  let headersToAdd: HeaderList = [];
  let allowedHeaders: HeaderNameMatchers | null = null;
  let allowedUpstreamHeaders: HeaderNameMatchers = [];
  let allowedUpstreamHeadersToAppend: HeaderNameMatchers = [];
  let allowedClientHeaders: HeaderNameMatchers | null = null;
  let allowedClientHeadersOnSuccess: HeaderNameMatchers = [];
  if (isObj(grpcService)) {
    grpc = true;
    const gp = `${path}.grpc_service`;
    cluster = str(obj(grpcService['envoy_grpc'])['cluster_name'], '');
    if (cluster === '') problems.push({ code: 'missing_field', path: `${gp}.envoy_grpc.cluster_name`, message: 'grpc_service needs envoy_grpc.cluster_name' });
    timeoutMs = durationMs(grpcService, 'timeout', DEFAULT_TIMEOUT_MS, gp, problems);
    initialMetadata = headerValues(grpcService['initial_metadata']);
  } else if (isObj(httpService)) {
    const hp = `${path}.http_service`;
    const uri = obj(httpService['server_uri']);
    cluster = str(uri['cluster'], '');
    if (cluster === '') problems.push({ code: 'missing_field', path: `${hp}.server_uri.cluster`, message: 'http_service needs server_uri.cluster' });
    timeoutMs = durationMs(uri, 'timeout', DEFAULT_TIMEOUT_MS, `${hp}.server_uri`, problems);
    pathPrefix = str(httpService['path_prefix'], '');
    if (pathPrefix !== '' && !pathPrefix.startsWith('/')) problems.push({ path: `${hp}.path_prefix`, message: 'path_prefix must start with /' });
    const req = obj(httpService['authorization_request']);
    headersToAdd = headerValues(req['headers_to_add']);
    allowedHeaders = listMatcher(req['allowed_headers'], `${hp}.authorization_request.allowed_headers`, problems);
    const res = obj(httpService['authorization_response']);
    const rp = `${hp}.authorization_response`;
    allowedUpstreamHeaders = listMatcher(res['allowed_upstream_headers'], `${rp}.allowed_upstream_headers`, problems) ?? [];
    allowedUpstreamHeadersToAppend = listMatcher(res['allowed_upstream_headers_to_append'], `${rp}.allowed_upstream_headers_to_append`, problems) ?? [];
    allowedClientHeaders = listMatcher(res['allowed_client_headers'], `${rp}.allowed_client_headers`, problems);
    allowedClientHeadersOnSuccess = listMatcher(res['allowed_client_headers_on_success'], `${rp}.allowed_client_headers_on_success`, problems) ?? [];
  } else {
    problems.push({ code: 'missing_field', path, message: 'ext_authz needs grpc_service or http_service' });
  }
  // The newer top-level allowed_headers wins over the deprecated authorization_request one.
  const top = listMatcher(o['allowed_headers'], `${path}.allowed_headers`, problems);
  if (top !== null) allowedHeaders = top;
  let withRequestBody: BufferSettings | null = null;
  if (isObj(o['with_request_body'])) {
    const b = o['with_request_body'];
    const max = num(b['max_request_bytes'], 0);
    if (!(max > 0)) problems.push({ path: `${path}.with_request_body.max_request_bytes`, message: 'max_request_bytes must be greater than 0' });
    withRequestBody = Object.freeze({
      maxRequestBytes: max,
      allowPartialMessage: bool(b['allow_partial_message'], false),
      packAsBytes: bool(b['pack_as_bytes'], false),
    });
  }
  return new ExtAuthzSettings({
    grpc,
    cluster,
    timeoutMs,
    initialMetadata: Object.freeze(initialMetadata) as HeaderList,
    pathPrefix,
    allowedHeaders,
    disallowedHeaders: listMatcher(o['disallowed_headers'], `${path}.disallowed_headers`, problems),
    headersToAdd: Object.freeze(headersToAdd) as HeaderList,
    allowedUpstreamHeaders,
    allowedUpstreamHeadersToAppend,
    allowedClientHeaders,
    allowedClientHeadersOnSuccess,
    failureModeAllow: bool(o['failure_mode_allow'], false),
    failureModeAllowHeaderAdd: bool(o['failure_mode_allow_header_add'], false),
    clearRouteCache: bool(o['clear_route_cache'], false),
    statusOnError: httpStatusCodeOf(o['status_on_error'], 403),
    enabledFraction: fractionOf(o['filter_enabled'], 1),
    withRequestBody,
  });
}

/** ExtAuthzPerRoute at `path`: disabled, or check_settings. */
export function compileExtAuthzPerRoute(o: Obj, _path: string, _problems: FilterConfigProblem[]): ExtAuthzPerRoute {
  const settings = obj(o['check_settings']);
  const ext = obj(settings['context_extensions']);
  const keys = Object.keys(ext);
  let contextExtensions: Record<string, string> | null = null;
  if (keys.length > 0) {
    contextExtensions = {};
    for (const k of keys) contextExtensions[k] = str(ext[k], '');
    Object.freeze(contextExtensions);
  }
  return new ExtAuthzPerRoute(bool(o['disabled'], false), contextExtensions, bool(settings['disable_request_body_buffering'], false));
}

/** http.<hcm stat_prefix>.ext_authz.[<stat_prefix>.]* (Envoy's). */
export function extAuthzStats(typedConfig: Obj, hcmStatPrefix: string): HttpFilterStats {
  const own = str(typedConfig['stat_prefix'], '');
  return {
    prefix: `http.${hcmStatPrefix}.ext_authz.${own === '' ? '' : `${own}.`}`,
    definition: 'ext_authz',
    tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]],
  };
}

/** The filter: checked here, compiled again in the worker (workers/http/filters/ext-authz-filter.ts). */
export const EXT_AUTHZ_FILTER: HttpFilterType = {
  name: EXT_AUTHZ_FILTER_NAME,
  compile(typedConfig, path, problems, hcmStatPrefix) {
    compileExtAuthz(typedConfig, path, problems);
    return { config: typedConfig, stats: extAuthzStats(typedConfig, hcmStatPrefix) };
  },
};
