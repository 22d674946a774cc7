// Any thread (pure; config time). envoy.filters.http.csrf: its CsrfPolicy, as the filter's config and per route
// (typed_per_filter_config, which replaces the filter's policy for that route). additional_origins hold compiled
// StringMatchers, so a policy is built where it is used (the worker) and never sent across threads: the filter-level
// config crosses as the loader's plain data.

import { compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';
import { list, obj, type Obj } from '../router/config-values.ts';
import { fractionOf } from './cors-config.ts';
import type { FilterConfigProblem, HttpFilterType } from './http-filter-config.ts';

export const CSRF_POLICY_TYPE = 'envoy.extensions.filters.http.csrf.v3.CsrfPolicy';

export class CsrfPolicy {
  /** filter_enabled's default_value as a fraction of requests (Legate reads no runtime). */
  readonly enabledFraction: number;
  /** shadow_enabled's default_value (0 when absent). */
  readonly shadowFraction: number;
  readonly additionalOrigins: readonly StringMatcher[];

  constructor(enabledFraction: number, shadowFraction: number, additionalOrigins: readonly StringMatcher[]) {
    this.enabledFraction = enabledFraction;
    this.shadowFraction = shadowFraction;
    this.additionalOrigins = additionalOrigins;
    Object.freeze(this);
  }
}

/** A CsrfPolicy at `path`. */
export function compileCsrfPolicy(o: Obj, path: string, problems: FilterConfigProblem[]): CsrfPolicy {
  if (o['filter_enabled'] === undefined || o['filter_enabled'] === null) {
    problems.push({ code: 'missing_field', path: `${path}.filter_enabled`, message: 'filter_enabled is required' });
  }
  const origins: StringMatcher[] = [];
  list(o['additional_origins']).forEach((m, i) => {
    const sm = compileStringMatcher(obj(m), `${path}.additional_origins[${i}]`, problems);
    if (sm !== null) origins.push(sm);
  });
  return new CsrfPolicy(fractionOf(o['filter_enabled'], 0), fractionOf(o['shadow_enabled'], 0), Object.freeze(origins));
}

/** The filter: stats http.<stat_prefix>.csrf.* (Envoy's). Checked here, compiled again in the worker. */
export const CSRF_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.csrf',
  compile(typedConfig, path, problems, hcmStatPrefix) {
    compileCsrfPolicy(typedConfig, path, problems);
    return {
      config: typedConfig,
      stats: { prefix: `http.${hcmStatPrefix}.csrf.`, definition: 'csrf', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] },
    };
  },
};
