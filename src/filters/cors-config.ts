// Any thread (pure; config time). envoy.filters.http.cors: its filter config (empty: the policy is per route) and
// its policy (envoy.extensions.filters.http.cors.v3.CorsPolicy in typed_per_filter_config, or the deprecated
// envoy.config.route.v3.CorsPolicy on a virtual host or route action), compiled once per route table. The policy
// holds compiled StringMatchers, so it is built where it is used (the worker's route table), never sent across.

import { compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';
import { list, num, obj, str, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem, HttpFilterType } from './http-filter-config.ts';

export const CORS_CONFIG_TYPE = 'envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE = 'envoy.extensions.filters.http.cors.v3.CorsPolicy';

/** The filter: no settings of its own; its stats are http.<stat_prefix>.cors.* (Envoy's). */
export const CORS_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.cors',
  compile(_typedConfig, _path, _problems, hcmStatPrefix) {
    return {
      config: null,
      stats: { prefix: `http.${hcmStatPrefix}.cors.`, definition: 'cors', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] },
    };
  },
};

/**
 * One CORS policy. Unset settings are '' / null, so a route's policy can fall back to its virtual host's setting by
 * setting (the CORS filter takes each from the most specific policy that has it, as Envoy's).
 */
export class CorsPolicy {
  /** allow_origin_string_match; null when none is given. */
  readonly allowOrigins: readonly StringMatcher[] | null;
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly maxAge: string;
  readonly allowCredentials: boolean | null;
  readonly allowPrivateNetworkAccess: boolean | null;
  readonly forwardNotMatchingPreflights: boolean | null;
  /** filter_enabled as a fraction of requests (1 when absent). */
  readonly enabledFraction: number;
  /** shadow_enabled as a fraction of requests (0 when absent). */
  readonly shadowFraction: number;

  constructor(o: Omit<CorsPolicy, 'enabled' | 'shadowEnabled'>) {
    this.allowOrigins = o.allowOrigins;
    this.allowMethods = o.allowMethods;
    this.allowHeaders = o.allowHeaders;
    this.exposeHeaders = o.exposeHeaders;
    this.maxAge = o.maxAge;
    this.allowCredentials = o.allowCredentials;
    this.allowPrivateNetworkAccess = o.allowPrivateNetworkAccess;
    this.forwardNotMatchingPreflights = o.forwardNotMatchingPreflights;
    this.enabledFraction = o.enabledFraction;
    this.shadowFraction = o.shadowFraction;
    Object.freeze(this);
  }

  /** Whether the filter enforces this policy for one request (filter_enabled, sampled per request as Envoy's). */
  enabled(): boolean {
    const f = this.enabledFraction;
    return f >= 1 || (f > 0 && Math.random() < f);
  }

  /** Whether origins are checked and counted without being enforced (shadow_enabled). */
  shadowEnabled(): boolean {
    const f = this.shadowFraction;
    return f >= 1 || (f > 0 && Math.random() < f);
  }
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/**
 * A RuntimeFractionalPercent as a fraction of requests: its default_value (Legate reads no runtime, so a
 * runtime_key never overrides it, as in an Envoy whose runtime has no such key).
 */
export function fractionOf(rfp: unknown, whenAbsent: number): number {
  if (rfp === undefined || rfp === null) return whenAbsent;
  const dv = obj(obj(rfp)['default_value']);
  const denominator = DENOMINATORS[str(dv['denominator'], 'HUNDRED')] ?? 100;
  return Math.min(1, Math.max(0, num(dv['numerator'], 0) / denominator));
}

function optionalBool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

/** A CorsPolicy (either message: their fields are the same) at `path`. */
export function compileCorsPolicy(o: Obj, path: string, problems: FilterConfigProblem[]): CorsPolicy {
  const matchers: StringMatcher[] = [];
  list(o['allow_origin_string_match']).forEach((m, i) => {
    const sm = compileStringMatcher(obj(m), `${path}.allow_origin_string_match[${i}]`, problems);
    if (sm !== null) matchers.push(sm);
  });
  return new CorsPolicy({
    allowOrigins: matchers.length === 0 ? null : Object.freeze(matchers),
    allowMethods: str(o['allow_methods'], ''),
    allowHeaders: str(o['allow_headers'], ''),
    exposeHeaders: str(o['expose_headers'], ''),
    maxAge: str(o['max_age'], ''),
    allowCredentials: optionalBool(o['allow_credentials']),
    allowPrivateNetworkAccess: optionalBool(o['allow_private_network_access']),
    forwardNotMatchingPreflights: optionalBool(o['forward_not_matching_preflights']),
    enabledFraction: fractionOf(o['filter_enabled'], 1),
    shadowFraction: fractionOf(o['shadow_enabled'], 0),
  });
}

/** The deprecated `cors` field of a virtual host or route action, when given (the CORS filter's fallback). */
export function compileLegacyCorsPolicy(owner: Obj, path: string, problems: FilterConfigProblem[]): CorsPolicy | null {
  const c = owner['cors'];
  if (c === undefined || c === null) return null;
  return compileCorsPolicy(obj(c), `${path}.cors`, problems);
}
