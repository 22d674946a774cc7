// Any thread (pure but for reading a local_jwks file; config time). envoy.filters.http.jwt_authn's JwtAuthentication
// and PerRouteConfig, checked and compiled to plain data: providers (where their JWTs are, who issues them, their
// keys), rules (a RouteMatch and a requirement) and named requirements. The filter-level config crosses to the
// workers as this plain data; each worker compiles the rules' matchers and the keys itself
// (workers/http/filters/jwt-authn/).

import { bool, isHeaderName, list, num, obj, oneofSet, str, type Obj } from '../../router/config-values.ts';
import { readDataSourceText, type DataSourceRules } from '../../router/data-source.ts';
import { compileRouteMatch } from '../../router/route-match.ts';
import { compileStringMatcher } from '../../router/string-matcher.ts';
import type { FilterConfigProblem, HttpFilterType } from '../http-filter-config.ts';

export const JWT_AUTHN_TYPE = 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig';
/** The dynamic metadata namespace of payload_in_metadata / header_in_metadata (the filter's name, as Envoy's). */
export const JWT_AUTHN_METADATA_NAMESPACE = 'envoy.filters.http.jwt_authn';

/** Envoy's defaults. */
const DEFAULT_CLOCK_SKEW_SECONDS = 60;
const DEFAULT_CACHE_DURATION_MS = 5 * 60 * 1000;
const DEFAULT_FAILED_REFETCH_MS = 1000;
const DEFAULT_JWT_CACHE_SIZE = 100;

/** One place a JWT is looked for. */
export interface JwtHeaderLocation {
  /** Lower-cased header name. */
  name: string;
  /** value_prefix ('' when none): the JWT follows it. */
  prefix: string;
}

/** remote_jwks.retry_policy (a core RetryPolicy), compiled. */
export interface JwksRetryPolicy {
  numRetries: number;
  /** retry_back_off: a jittered exponential back-off from baseMs, each wait at most maxMs. */
  baseMs: number;
  maxMs: number;
  /** retry_on: which failures are retried. */
  on5xx: boolean;
  onGatewayError: boolean;
  onConnectFailure: boolean;
  onReset: boolean;
}

/** What the JWKS fetch retries when retry_on is empty (Envoy's JwksFetcher default). */
const DEFAULT_JWKS_RETRY_ON = '5xx,gateway-error,connect-failure,reset';
const RETRY_ON_NAMES = new Set(['5xx', 'gateway-error', 'connect-failure', 'reset', 'refused-stream', 'retriable-4xx']);

/** remote_jwks, compiled. */
export interface RemoteJwksConfig {
  cluster: string;
  /** The uri's path and query. */
  path: string;
  /** The uri's host[:port]. */
  authority: string;
  timeoutMs: number;
  cacheDurationMs: number;
  /** async_fetch given: fetched when the worker's filter is built and refreshed in the background. */
  asyncFetch: boolean;
  failedRefetchMs: number;
  /** retry_policy; null: one attempt. */
  retry: JwksRetryPolicy | null;
}

function compileRetryPolicy(r: Obj, path: string, problems: FilterConfigProblem[]): JwksRetryPolicy {
  const backOff = r['retry_back_off'] === undefined || r['retry_back_off'] === null ? null : obj(r['retry_back_off']);
  // Envoy's defaults: a 1 s base and 10 times the base as the maximum; one retry.
  const baseMs = backOff === null ? 1000 : num(backOff['base_interval'], 1000);
  const maxMs = backOff === null || backOff['max_interval'] === undefined ? 10 * baseMs : num(backOff['max_interval'], 10 * baseMs);
  if (backOff !== null && backOff['base_interval'] === undefined) {
    problems.push({ code: 'missing_field', path: `${path}.retry_back_off.base_interval`, message: 'retry_back_off needs a base_interval' });
  }
  if (maxMs < baseMs) problems.push({ path: `${path}.retry_back_off.max_interval`, message: 'max_interval must be greater than or equal to the base_interval' });
  const on = str(r['retry_on'], '') || DEFAULT_JWKS_RETRY_ON;
  const names = on.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!RETRY_ON_NAMES.has(n)) problems.push({ path: `${path}.retry_on`, message: `invalid retry_on '${n}': one of ${[...RETRY_ON_NAMES].join(', ')}` });
  }
  return {
    numRetries: num(r['num_retries'], 1),
    baseMs,
    maxMs,
    on5xx: names.includes('5xx'),
    onGatewayError: names.includes('gateway-error'),
    onConnectFailure: names.includes('connect-failure'),
    onReset: names.includes('reset') || names.includes('refused-stream'),
  };
}

/** A JwtProvider, compiled (plain data). */
export interface JwtProviderConfig {
  name: string;
  issuer: string;
  audiences: string[];
  /** subjects, a StringMatcher as given (compiled where it is used); null when any subject is allowed. */
  subjects: Obj | null;
  /**
   * The longest remaining lifetime (exp - now) a JWT may have, in seconds: max_lifetime, else Infinity with
   * require_expiration (a JWT without exp fails), else -1 (no check).
   */
  maxLifetimeSeconds: number;
  /** local_jwks' text (a JWKS JSON), or null with remote. */
  localJwks: string | null;
  remote: RemoteJwksConfig | null;
  forward: boolean;
  fromHeaders: JwtHeaderLocation[];
  fromParams: string[];
  fromCookies: string[];
  /** Lower-cased; '' when none. */
  forwardPayloadHeader: string;
  padForwardPayloadHeader: boolean;
  payloadInMetadata: string;
  /** normalize_payload_in_metadata.space_delimited_claims: top-level claims put in the metadata as lists. */
  spaceDelimitedClaims: string[];
  headerInMetadata: string;
  clockSkewSeconds: number;
  /** jwt_cache_config's size; 0: no cache. */
  jwtCacheSize: number;
  /** claim_to_headers: header (lower-cased) and the claim's path (claim_name split at dots). */
  claimToHeaders: { header: string; claimPath: string[] }[];
  clearRouteCache: boolean;
}

/** A JwtRequirement, compiled. */
export type JwtRequirementConfig =
  | { kind: 'provider'; provider: string; audiences: string[] | null }
  | { kind: 'any' | 'all'; requirements: JwtRequirementConfig[] }
  | { kind: 'allow_missing' }
  | { kind: 'allow_missing_or_failed' }
  /** A requirement with nothing set: always satisfied. */
  | { kind: 'allow_all' };

export interface JwtRuleConfig {
  /** The RouteMatch as given (compiled where it is used). */
  match: Obj;
  /** The requirement; null when the rule requires nothing (requests it matches are not verified). */
  requirement: JwtRequirementConfig | null;
}

export interface JwtAuthnConfig {
  providers: Record<string, JwtProviderConfig>;
  rules: JwtRuleConfig[];
  requirementMap: Record<string, JwtRequirementConfig>;
  /** filter_state_rules: when no rule matches, the requirement named by this filter state object's value. */
  filterStateRules: { name: string; requires: Record<string, JwtRequirementConfig> } | null;
  bypassCorsPreflight: boolean;
  /** strip_failure_response: failures are answered without a body or www-authenticate. */
  stripFailureResponse: boolean;
}

/** A route's PerRouteConfig. */
export class JwtAuthnPerRoute {
  readonly disabled: boolean;
  readonly requirementName: string;
  constructor(disabled: boolean, requirementName: string) {
    this.disabled = disabled;
    this.requirementName = requirementName;
    Object.freeze(this);
  }
}

const LOCAL_JWKS_SOURCE: DataSourceRules = Object.freeze({ unreadable: 'cannot read local_jwks file' });

function compileRemote(name: string, r: Obj, path: string, problems: FilterConfigProblem[]): RemoteJwksConfig {
  const hu = obj(r['http_uri']);
  const uri = str(hu['uri'], '');
  const cluster = str(hu['cluster'], '');
  let target: URL | null = null;
  try {
    target = new URL(uri);
  } catch {
    problems.push({ path: `${path}.http_uri.uri`, message: `Provider '${name}' has an invalid URI: '${uri}'` });
  }
  if (cluster === '') problems.push({ code: 'missing_field', path: `${path}.http_uri.cluster`, message: 'remote_jwks needs the cluster to fetch from' });
  if (hu['timeout'] === undefined) problems.push({ code: 'missing_field', path: `${path}.http_uri.timeout`, message: 'http_uri needs a timeout' });
  const asyncFetch = r['async_fetch'] !== undefined && r['async_fetch'] !== null;
  return {
    cluster,
    path: target === null ? '/' : `${target.pathname}${target.search}`,
    authority: target === null ? '' : target.host,
    timeoutMs: num(hu['timeout'], 0),
    cacheDurationMs: num(r['cache_duration'], DEFAULT_CACHE_DURATION_MS),
    asyncFetch,
    failedRefetchMs: asyncFetch ? num(obj(r['async_fetch'])['failed_refetch_duration'], DEFAULT_FAILED_REFETCH_MS) : DEFAULT_FAILED_REFETCH_MS,
    retry: r['retry_policy'] === undefined || r['retry_policy'] === null ? null : compileRetryPolicy(obj(r['retry_policy']), `${path}.retry_policy`, problems),
  };
}

function headerName(v: unknown, path: string, problems: FilterConfigProblem[]): string {
  const s = str(v, '');
  if (!isHeaderName(s)) problems.push({ path, message: `'${s}' is not a valid header name` });
  return s.toLowerCase();
}

function compileProvider(name: string, p: Obj, path: string, problems: FilterConfigProblem[]): JwtProviderConfig {
  const which = oneofSet(p, ['remote_jwks', 'local_jwks'], path, true, problems);
  let localJwks: string | null = null;
  let remote: RemoteJwksConfig | null = null;
  if (which === 'local_jwks') {
    // A JWKS that does not parse is not refused, as Envoy does not: its requests fail with "Jwks doesn't have any
    // valid public key".
    localJwks = readDataSourceText(obj(p['local_jwks']), `${path}.local_jwks`, LOCAL_JWKS_SOURCE, problems);
  } else if (which === 'remote_jwks') {
    remote = compileRemote(name, obj(p['remote_jwks']), `${path}.remote_jwks`, problems);
  }
  const fromHeaders = list(p['from_headers']).map((h, i) => ({
    name: headerName(obj(h)['name'], `${path}.from_headers[${i}].name`, problems),
    prefix: str(obj(h)['value_prefix'], ''),
  }));
  const subjects = p['subjects'] === undefined || p['subjects'] === null ? undefined : obj(p['subjects']);
  if (subjects !== undefined) compileStringMatcher(subjects, `${path}.subjects`, problems);
  const cacheConfig = p['jwt_cache_config'];
  const forwardPayloadHeader = str(p['forward_payload_header'], '');
  return {
    name,
    issuer: str(p['issuer'], ''),
    audiences: list(p['audiences']).map((a) => str(a, '')),
    subjects: subjects ?? null,
    // As Envoy: max_lifetime takes precedence over require_expiration.
    maxLifetimeSeconds: p['max_lifetime'] !== undefined && p['max_lifetime'] !== null
      ? num(p['max_lifetime'], 0) / 1000
      : bool(p['require_expiration'], false) ? Infinity : -1,
    localJwks,
    remote,
    forward: bool(p['forward'], false),
    fromHeaders,
    fromParams: list(p['from_params']).map((a) => str(a, '')),
    fromCookies: list(p['from_cookies']).map((a) => str(a, '')),
    forwardPayloadHeader: forwardPayloadHeader === '' ? '' : headerName(forwardPayloadHeader, `${path}.forward_payload_header`, problems),
    padForwardPayloadHeader: bool(p['pad_forward_payload_header'], false),
    payloadInMetadata: str(p['payload_in_metadata'], ''),
    spaceDelimitedClaims: list(obj(p['normalize_payload_in_metadata'])['space_delimited_claims']).map((c) => str(c, '')),
    headerInMetadata: str(p['header_in_metadata'], ''),
    // As Envoy: 0 (unset) is the default.
    clockSkewSeconds: num(p['clock_skew_seconds'], 0) || DEFAULT_CLOCK_SKEW_SECONDS,
    jwtCacheSize: cacheConfig === undefined || cacheConfig === null ? 0 : num(obj(cacheConfig)['jwt_cache_size'], 0) || DEFAULT_JWT_CACHE_SIZE,
    claimToHeaders: list(p['claim_to_headers']).map((c, i) => ({
      header: headerName(obj(c)['header_name'], `${path}.claim_to_headers[${i}].header_name`, problems),
      claimPath: str(obj(c)['claim_name'], '').split('.'),
    })),
    clearRouteCache: bool(p['clear_route_cache'], false),
  };
}

const REQUIREMENT_KINDS = ['provider_name', 'provider_and_audiences', 'requires_any', 'requires_all', 'allow_missing_or_failed', 'allow_missing'] as const;

function compileRequirement(r: Obj, path: string, providers: Record<string, JwtProviderConfig>, problems: FilterConfigProblem[]): JwtRequirementConfig | null {
  const which = oneofSet(r, REQUIREMENT_KINDS, path, false, problems);
  const providerOf = (name: string, where: string): string => {
    // Envoy: "Required provider ['<name>'] is not configured."
    if (!Object.hasOwn(providers, name)) problems.push({ path: where, message: `Required provider ['${name}'] is not configured.` });
    return name;
  };
  switch (which) {
    case 'provider_name':
      return { kind: 'provider', provider: providerOf(str(r['provider_name'], ''), `${path}.provider_name`), audiences: null };
    case 'provider_and_audiences': {
      const pa = obj(r['provider_and_audiences']);
      return {
        kind: 'provider',
        provider: providerOf(str(pa['provider_name'], ''), `${path}.provider_and_audiences.provider_name`),
        audiences: list(pa['audiences']).map((a) => str(a, '')),
      };
    }
    case 'requires_any':
    case 'requires_all': {
      const items = list(obj(r[which])['requirements']);
      if (items.length < 2) problems.push({ path: `${path}.${which}.requirements`, message: 'needs at least 2 requirements' });
      const requirements: JwtRequirementConfig[] = [];
      items.forEach((x, i) => {
        const c = compileRequirement(obj(x), `${path}.${which}.requirements[${i}]`, providers, problems);
        // An empty requirement inside a list verifies nothing: Envoy's allow-all.
        requirements.push(c ?? { kind: 'allow_all' });
      });
      return { kind: which === 'requires_any' ? 'any' : 'all', requirements };
    }
    case 'allow_missing':
      return { kind: 'allow_missing' };
    case 'allow_missing_or_failed':
      return { kind: 'allow_missing_or_failed' };
    default:
      return null;
  }
}

/** Envoy's message for a requirement_name requirement_map lacks. */
export function wrongRequirementName(name: string, requirementMap: Readonly<Record<string, unknown>>): string {
  return `Wrong requirement_name: ${name}. It should be one of [${Object.keys(requirementMap).sort().join(',')}]`;
}

/** JwtAuthentication at `path`. */
export function compileJwtAuthn(o: Obj, path: string, problems: FilterConfigProblem[]): JwtAuthnConfig {
  const providers: Record<string, JwtProviderConfig> = {};
  const pm = obj(o['providers']);
  for (const name of Object.keys(pm)) {
    providers[name] = compileProvider(name, obj(pm[name]), `${path}.providers[${JSON.stringify(name)}]`, problems);
  }
  const requirementMap: Record<string, JwtRequirementConfig> = {};
  const rm = obj(o['requirement_map']);
  for (const name of Object.keys(rm)) {
    requirementMap[name] = compileRequirement(obj(rm[name]), `${path}.requirement_map[${JSON.stringify(name)}]`, providers, problems)
      ?? { kind: 'allow_all' };
  }
  const rules: JwtRuleConfig[] = [];
  list(o['rules']).forEach((raw, i) => {
    const r = obj(raw);
    const rp = `${path}.rules[${i}]`;
    if (r['match'] === undefined) problems.push({ code: 'missing_field', path: `${rp}.match`, message: 'a rule needs a match' });
    const match = obj(r['match']);
    compileRouteMatch(match, `${rp}.match`, problems);
    const which = oneofSet(r, ['requires', 'requirement_name'], rp, false, problems);
    let requirement: JwtRequirementConfig | null = null;
    if (which === 'requires') {
      requirement = compileRequirement(obj(r['requires']), `${rp}.requires`, providers, problems);
    } else if (which === 'requirement_name') {
      const name = str(r['requirement_name'], '');
      const named = Object.hasOwn(requirementMap, name) ? requirementMap[name] : undefined;
      if (named === undefined) problems.push({ path: `${rp}.requirement_name`, message: wrongRequirementName(name, requirementMap) });
      else requirement = named;
    }
    rules.push({ match, requirement });
  });
  let filterStateRules: JwtAuthnConfig['filterStateRules'] = null;
  if (o['filter_state_rules'] !== undefined && o['filter_state_rules'] !== null) {
    const fsr = obj(o['filter_state_rules']);
    const fp = `${path}.filter_state_rules`;
    const name = str(fsr['name'], '');
    if (name === '') problems.push({ code: 'missing_field', path: `${fp}.name`, message: 'filter_state_rules needs the name of a filter state object' });
    const requires: Record<string, JwtRequirementConfig> = {};
    const rq = obj(fsr['requires']);
    for (const key of Object.keys(rq)) {
      requires[key] = compileRequirement(obj(rq[key]), `${fp}.requires[${JSON.stringify(key)}]`, providers, problems) ?? { kind: 'allow_all' };
    }
    filterStateRules = { name, requires };
  }
  return {
    providers, rules, requirementMap, filterStateRules,
    bypassCorsPreflight: bool(o['bypass_cors_preflight'], false),
    stripFailureResponse: bool(o['strip_failure_response'], false),
  };
}

/** PerRouteConfig at `path`. */
export function compileJwtAuthnPerRoute(o: Obj, path: string, problems: FilterConfigProblem[]): JwtAuthnPerRoute {
  const which = oneofSet(o, ['disabled', 'requirement_name'], path, true, problems);
  if (which === 'disabled' && o['disabled'] !== true) problems.push({ path: `${path}.disabled`, message: 'disabled may only be true' });
  const name = str(o['requirement_name'], '');
  if (which === 'requirement_name' && name === '') problems.push({ path: `${path}.requirement_name`, message: 'must not be empty' });
  return new JwtAuthnPerRoute(which === 'disabled', name);
}

/** The filter: stats http.<stat_prefix>.jwt_authn.* (Envoy's). */
export const JWT_AUTHN_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.jwt_authn',
  compile(typedConfig, path, problems, hcmStatPrefix) {
    return {
      config: compileJwtAuthn(typedConfig, path, problems),
      stats: { prefix: `http.${hcmStatPrefix}.jwt_authn.`, definition: 'jwt_authn', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] },
    };
  },
};
