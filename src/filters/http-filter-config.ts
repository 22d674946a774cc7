// Any thread (pure; config time only). A connection manager's http_filters and the routes' typed_per_filter_config,
// compiled: each filter Legate runs is known here by its config message, with a compiler that checks what the schema
// cannot and turns its config into plain data (it crosses to the workers in the snapshot). The worker builds the
// filter's factory from that data by the filter's Envoy name (workers/http/filters/filter-registry.ts).

import { bool, list, obj, str, type Obj } from '../router/config-values.ts';
import { COMPRESSOR_FILTER, COMPRESSOR_PER_ROUTE_TYPE, COMPRESSOR_TYPE, compileCompressorPerRoute } from './compressor-config.ts';
import { DECOMPRESSOR_FILTER, DECOMPRESSOR_TYPE } from './decompressor-config.ts';
import { GRPC_WEB_FILTER, GRPC_WEB_TYPE } from './grpc-web-config.ts';
import { GRPC_HTTP1_BRIDGE_FILTER, GRPC_HTTP1_BRIDGE_TYPE } from './grpc-http1-bridge-config.ts';
import { CORS_CONFIG_TYPE, CORS_FILTER, CORS_POLICY_TYPE, compileCorsPolicy } from './cors-config.ts';
import { EXT_AUTHZ_FILTER, EXT_AUTHZ_PER_ROUTE_TYPE, EXT_AUTHZ_TYPE, compileExtAuthzPerRoute } from './ext-authz-config.ts';
import { EXT_PROC_FILTER, EXT_PROC_PER_ROUTE_TYPE, EXT_PROC_TYPE, compileExtProcPerRoute } from './ext-proc-config.ts';
import { FAULT_FILTER, FAULT_TYPE, compilePerRouteFault } from './fault-config.ts';
import { BUFFER_FILTER, BUFFER_PER_ROUTE_TYPE, BUFFER_TYPE, compileBufferPerRoute } from './buffer-config.ts';
import { LUA_FILTER, LUA_PER_ROUTE_TYPE, LUA_TYPE, compileLuaPerRoute } from './lua-config.ts';
import { HEALTH_CHECK_FILTER, HEALTH_CHECK_TYPE } from './health-check-config.ts';
import {
  HEADER_MUTATION_FILTER, HEADER_MUTATION_PER_ROUTE_TYPE, HEADER_MUTATION_TYPE, compileHeaderMutationPerRoute,
} from './header-mutation-config.ts';
import {
  LOCAL_RATELIMIT_FILTER, LOCAL_RATELIMIT_TYPE, compilePerRouteLocalRateLimit, perRouteLocalRateLimitStats,
} from './local-ratelimit-config.ts';
import { BASIC_AUTH_FILTER, BASIC_AUTH_PER_ROUTE_TYPE, BASIC_AUTH_TYPE, compileBasicAuthPerRoute } from './basic-auth-config.ts';
import { DFP_FILTER, DFP_PER_ROUTE_TYPE, DFP_TYPE, compileDfpPerRoute } from './dynamic-forward-proxy-config.ts';
import { JWT_AUTHN_FILTER, JWT_AUTHN_PER_ROUTE_TYPE, JWT_AUTHN_TYPE, compileJwtAuthnPerRoute } from './jwt-authn/jwt-authn-config.ts';
import { TYPESCRIPT_FILTER, TYPESCRIPT_FILTER_PER_ROUTE_TYPE, TYPESCRIPT_FILTER_TYPE, compileTypeScriptPerRoute } from './typescript-filter-config.ts';
import { HTTP_RBAC_FILTER, HTTP_RBAC_PER_ROUTE_TYPE, HTTP_RBAC_TYPE, compileRbacPerRoute } from './rbac-config.ts';
import { CSRF_FILTER, CSRF_POLICY_TYPE, compileCsrfPolicy } from './csrf-config.ts';
import type { StatScopeDefinition } from '../stats/definitions.ts';

/** One problem, at an Envoy field path; `code` as the config loader's ('bad_value' when not given). */
export interface FilterConfigProblem {
  path: string;
  message: string;
  code?: 'bad_value' | 'missing_field' | 'not_supported';
}

/** One entry of http_filters, compiled (the router, always last, is not one: it ends every chain). */
export interface HttpFilterConfig {
  /** HttpFilter.name: the key of its typed_per_filter_config. */
  name: string;
  /** The Envoy extension name its factory is registered under in the worker (e.g. envoy.filters.http.cors). */
  filter: string;
  /** Its compiled config (plain data). */
  config: unknown;
  /** HttpFilter.disabled: the filter runs only on routes whose typed_per_filter_config names it (not disabled). */
  disabled: boolean;
  /** The stats it writes (the primary gives them slots), or null. */
  stats: HttpFilterStats | null;
  /** Those stats' slots by name, set by the primary (src/primary/stats-hub.ts); null without stats. */
  slots: Record<string, number> | null;
}

/** A filter's stat scope: `prefix` (e.g. "http.ingress.cors."), its definition in HTTP_FILTER_STATS, its tags. */
export interface HttpFilterStats {
  prefix: string;
  definition: string;
  tags: [string, string][];
  /** The scope's stats when they are not a fixed HTTP_FILTER_STATS entry (a TypeScript filter declares its own). */
  scope?: StatScopeDefinition;
}

/** Where a filter entry sits: its HttpFilter.name and the directory a file it names is relative to (the config's). */
export interface FilterCompileContext {
  filterName: string;
  baseDir: string;
}

/** One entry of a virtual host's or route's typed_per_filter_config, compiled. */
export interface RouteFilterConfig {
  /** FilterConfig.disabled: the filter does not run for requests to this route. */
  disabled: boolean;
  /** The filter's per-route config, compiled; null for a FilterConfig without config. */
  config: unknown;
  /**
   * The configs of every level that has one for this filter, most specific first (the route's, then its virtual
   * host's; Envoy's getAllPerFilterConfig): a filter such as CORS takes each setting from the first that has it.
   */
  allConfigs: unknown[];
}

/** A filter Legate runs: its Envoy name and how its config compiles (plain data; `hcmStatPrefix` for its stats). */
export interface HttpFilterType {
  /** Envoy extension name. */
  readonly name: string;
  compile(typedConfig: Obj, path: string, problems: FilterConfigProblem[], hcmStatPrefix: string, context?: FilterCompileContext): { config: unknown; stats: HttpFilterStats | null };
}

/** A per-route config message and its compiler. */
export type PerRouteCompiler = (typedConfig: Obj, path: string, problems: FilterConfigProblem[]) => unknown;

export const ROUTER_CONFIG_TYPE = 'envoy.extensions.filters.http.router.v3.Router';
export const FILTER_CONFIG_TYPE = 'envoy.config.route.v3.FilterConfig';
const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Config message full name -> the filter Legate runs for it. */
const FILTER_TYPES: ReadonlyMap<string, HttpFilterType> = new Map([
  [COMPRESSOR_TYPE, COMPRESSOR_FILTER],
  [DECOMPRESSOR_TYPE, DECOMPRESSOR_FILTER],
  [GRPC_WEB_TYPE, GRPC_WEB_FILTER],
  [GRPC_HTTP1_BRIDGE_TYPE, GRPC_HTTP1_BRIDGE_FILTER],
  [HTTP_RBAC_TYPE, HTTP_RBAC_FILTER],
  [CSRF_POLICY_TYPE, CSRF_FILTER],
  [CORS_CONFIG_TYPE, CORS_FILTER],
  [EXT_AUTHZ_TYPE, EXT_AUTHZ_FILTER],
  [EXT_PROC_TYPE, EXT_PROC_FILTER],
  [FAULT_TYPE, FAULT_FILTER],
  [BUFFER_TYPE, BUFFER_FILTER],
  [LUA_TYPE, LUA_FILTER],
  [HEALTH_CHECK_TYPE, HEALTH_CHECK_FILTER],
  [HEADER_MUTATION_TYPE, HEADER_MUTATION_FILTER],
  [LOCAL_RATELIMIT_TYPE, LOCAL_RATELIMIT_FILTER],
  [BASIC_AUTH_TYPE, BASIC_AUTH_FILTER],
  [DFP_TYPE, DFP_FILTER],
  [JWT_AUTHN_TYPE, JWT_AUTHN_FILTER],
  [TYPESCRIPT_FILTER_TYPE, TYPESCRIPT_FILTER],
]);
/** Per-route config message full name -> its compiler (the compiled value may hold matchers: it never crosses threads). */
const PER_ROUTE_TYPES: ReadonlyMap<string, PerRouteCompiler> = new Map<string, PerRouteCompiler>([
  [COMPRESSOR_PER_ROUTE_TYPE, compileCompressorPerRoute],
  [HTTP_RBAC_PER_ROUTE_TYPE, compileRbacPerRoute],
  [CSRF_POLICY_TYPE, compileCsrfPolicy],
  [CORS_POLICY_TYPE, compileCorsPolicy],
  [EXT_AUTHZ_PER_ROUTE_TYPE, compileExtAuthzPerRoute],
  [EXT_PROC_PER_ROUTE_TYPE, compileExtProcPerRoute],
  [FAULT_TYPE, compilePerRouteFault],
  [BUFFER_PER_ROUTE_TYPE, compileBufferPerRoute],
  [LUA_PER_ROUTE_TYPE, compileLuaPerRoute],
  [HEADER_MUTATION_PER_ROUTE_TYPE, compileHeaderMutationPerRoute],
  [LOCAL_RATELIMIT_TYPE, compilePerRouteLocalRateLimit],
  [BASIC_AUTH_PER_ROUTE_TYPE, compileBasicAuthPerRoute],
  [DFP_PER_ROUTE_TYPE, compileDfpPerRoute],
  [JWT_AUTHN_PER_ROUTE_TYPE, compileJwtAuthnPerRoute],
  [TYPESCRIPT_FILTER_PER_ROUTE_TYPE, compileTypeScriptPerRoute],
]);
/** Per-route config messages whose filter writes stats of the config's own (a per-route local rate limit's stat_prefix). */
const PER_ROUTE_STATS: ReadonlyMap<string, (typedConfig: Obj) => HttpFilterStats> = new Map([
  [LOCAL_RATELIMIT_TYPE, perRouteLocalRateLimitStats],
]);

/** The message full name of an Any's '@type' ('' when absent). */
export function messageTypeOf(typedConfig: Obj): string {
  const url = str(typedConfig['@type'], '');
  return url.startsWith(TYPE_URL_PREFIX) ? url.slice(TYPE_URL_PREFIX.length) : url.slice(url.lastIndexOf('/') + 1);
}

export interface CompiledHttpFilters {
  /** In config order, without the router. Empty: the router alone (the connection manager calls it directly). */
  filters: HttpFilterConfig[];
  /** The router's suppress_envoy_headers. */
  suppressEnvoyHeaders: boolean;
}

/**
 * http_filters at `path`: every entry but the last must be a filter Legate runs (or is_optional, then skipped as
 * Envoy skips an optional filter it has no factory for: a warning says so), the last must be the router.
 */
export function compileHttpFilters(
  entries: readonly unknown[], path: string, hcmStatPrefix: string, problems: FilterConfigProblem[], warnings: FilterConfigProblem[],
  /** The directory files named by filters are relative to (the config file's); the working directory when not given. */
  baseDir: string = process.cwd(),
): CompiledHttpFilters {
  const filters: HttpFilterConfig[] = [];
  let suppressEnvoyHeaders = false;
  if (entries.length === 0) {
    problems.push({ code: 'missing_field', path, message: 'http_filters must end with envoy.filters.http.router' });
    return { filters, suppressEnvoyHeaders };
  }
  entries.forEach((raw, i) => {
    const f = obj(raw);
    const fp = `${path}[${i}]`;
    const tc = obj(f['typed_config']);
    const type = messageTypeOf(tc);
    const name = str(f['name'], '');
    const disabled = bool(f['disabled'], false);
    const last = i === entries.length - 1;
    if (type === ROUTER_CONFIG_TYPE) {
      if (!last) problems.push({ path: fp, message: 'envoy.filters.http.router must be the last http filter' });
      // Envoy: the terminal filter cannot be disabled by default.
      if (disabled) problems.push({ path: `${fp}.disabled`, message: 'the router, the last filter, cannot be disabled' });
      suppressEnvoyHeaders = bool(tc['suppress_envoy_headers'], false);
      return;
    }
    const known = FILTER_TYPES.get(type);
    if (known === undefined) {
      if (bool(f['is_optional'], false)) {
        warnings.push({ path: fp, message: `optional http filter '${name}' (${type === '' ? 'of a type Legate does not know' : type}) is skipped: Legate does not run it` });
      } else {
        problems.push({ code: 'not_supported', path: `${fp}.typed_config`, message: `not supported yet: http filter @type ${type === '' ? '(none)' : type}` });
      }
      if (last) problems.push({ path: fp, message: 'http_filters must end with envoy.filters.http.router' });
      return;
    }
    if (last) problems.push({ path: fp, message: 'http_filters must end with envoy.filters.http.router' });
    if (name === '') problems.push({ code: 'missing_field', path: `${fp}.name`, message: 'an http filter needs a name' });
    else if (filters.some((x) => x.name === name)) problems.push({ path: `${fp}.name`, message: `http filter name '${name}' is used twice` });
    const compiled = known.compile(tc, `${fp}.typed_config`, problems, hcmStatPrefix, { filterName: name, baseDir });
    filters.push({ name, filter: known.name, config: compiled.config, disabled, stats: compiled.stats, slots: null });
  });
  return { filters, suppressEnvoyHeaders };
}

/**
 * A virtual host's or route's typed_per_filter_config (`map` at `path`): filter name -> its per-route config, a
 * FilterConfig wrapper unwrapped (disabled, is_optional). An entry whose config Legate does not know is skipped
 * when is_optional, else a problem. null when nothing is left.
 */
export function compilePerFilterConfigs(map: Obj, path: string, problems: FilterConfigProblem[]): Record<string, RouteFilterConfig> | null {
  let out: Record<string, RouteFilterConfig> | null = null;
  for (const key of Object.keys(map)) {
    const kp = `${path}[${JSON.stringify(key)}]`;
    const any = obj(map[key]);
    let type = messageTypeOf(any);
    let disabled = false;
    let optional = false;
    let inner: Obj | null = any;
    let ip = kp;
    if (type === FILTER_CONFIG_TYPE) {
      disabled = bool(any['disabled'], false);
      optional = bool(any['is_optional'], false);
      inner = any['config'] === undefined ? null : obj(any['config']);
      ip = `${kp}.config`;
      type = inner === null ? '' : messageTypeOf(inner);
    }
    let config: unknown = null;
    if (inner !== null) {
      const compile = PER_ROUTE_TYPES.get(type);
      if (compile === undefined) {
        if (optional) continue;
        problems.push({ code: 'not_supported', path: ip, message: `not supported yet: per-route filter config ${type === '' ? '(no @type)' : type}` });
        continue;
      }
      config = compile(inner, ip, problems);
    }
    (out ??= {})[key] = { disabled, config, allConfigs: config === null ? [] : [config] };
  }
  return out;
}

/**
 * The stat scopes the per-route configs of a route configuration write (each once), so the primary can give them
 * slots with the rest: the workers compile those configs with their route tables and find the slots by prefix.
 */
export function perRouteFilterStats(routeConfig: Obj): HttpFilterStats[] {
  const out: HttpFilterStats[] = [];
  const add = (map: unknown): void => {
    const m = obj(map);
    for (const key of Object.keys(m)) {
      let tc = obj(m[key]);
      if (messageTypeOf(tc) === FILTER_CONFIG_TYPE) tc = obj(tc['config']);
      const statsOf = PER_ROUTE_STATS.get(messageTypeOf(tc));
      if (statsOf === undefined) continue;
      const stats = statsOf(tc);
      if (!out.some((s) => s.prefix === stats.prefix)) out.push(stats);
    }
  };
  for (const vh of list(routeConfig['virtual_hosts'])) {
    add(obj(vh)['typed_per_filter_config']);
    for (const r of list(obj(vh)['routes'])) {
      add(obj(r)['typed_per_filter_config']);
      // weighted_clusters: each cluster's own per-route configs.
      for (const c of list(obj(obj(obj(r)['route'])['weighted_clusters'])['clusters'])) add(obj(c)['typed_per_filter_config']);
    }
  }
  return out;
}
