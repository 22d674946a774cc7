// Any thread (pure; config time). envoy.filters.http.rbac (envoy.extensions.filters.http.rbac.v3.RBAC and its per-route
// RBACPerRoute) and envoy.filters.network.rbac (envoy.extensions.filters.network.rbac.v3.RBAC): checked here on the
// primary, sent to the workers as the loader's plain data, compiled there again into RbacDeciders (src/filters/
// rbac-policy.ts), which hold matchers and so never cross threads.

import { obj, str, type Obj } from '../router/config-values.ts';
import { compileRbac, type RbacDecider } from './rbac-policy.ts';
import { compileRbacMatcher } from './rbac-matcher.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const HTTP_RBAC_TYPE = 'envoy.extensions.filters.http.rbac.v3.RBAC';
export const HTTP_RBAC_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.rbac.v3.RBACPerRoute';
export const NETWORK_RBAC_TYPE = 'envoy.extensions.filters.network.rbac.v3.RBAC';

/** The two engines of one RBAC config (either may be absent: that side does nothing). */
export class RbacRules {
  readonly rules: RbacDecider | null;
  readonly shadowRules: RbacDecider | null;
  /** shadow_rules_stat_prefix: the dynamic metadata keys of the shadow result are prefixed with it (Envoy's). */
  readonly shadowPrefix: string;

  constructor(rules: RbacDecider | null, shadowRules: RbacDecider | null, shadowPrefix: string) {
    this.rules = rules;
    this.shadowRules = shadowRules;
    this.shadowPrefix = shadowPrefix;
    Object.freeze(this);
  }
}

/** A route's RBACPerRoute: `rules` null when it has no `rbac` (the filter is then off for that route, as Envoy's). */
export class RbacPerRoute {
  readonly rules: RbacRules | null;
  constructor(rules: RbacRules | null) {
    this.rules = rules;
    Object.freeze(this);
  }
}

function unsupported(o: Obj, fields: readonly string[], path: string, problems: FilterConfigProblem[]): void {
  for (const f of fields) {
    const v = o[f];
    if (v !== undefined && v !== null && v !== false) problems.push({ code: 'not_supported', path: `${path}.${f}`, message: `not supported yet: ${path}.${f}` });
  }
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** One side (enforced or shadow): `rules` (policies) or `matcher` (the unified matcher API), at most one of them. */
function compileSide(o: Obj, rulesField: string, matcherField: string, path: string, problems: FilterConfigProblem[], http: boolean): RbacDecider | null {
  if (present(o[rulesField]) && present(o[matcherField])) {
    problems.push({ path: `${path}.${matcherField}`, message: `${rulesField} and ${matcherField} cannot both be set` });
    return null;
  }
  if (present(o[rulesField])) return compileRbac(obj(o[rulesField]), `${path}.${rulesField}`, problems);
  if (present(o[matcherField])) return compileRbacMatcher(obj(o[matcherField]), `${path}.${matcherField}`, problems, http);
  return null;
}

/** rules / matcher and shadow_rules / shadow_matcher of an HTTP (`http`) or network RBAC message at `path`. */
export function compileRbacRules(o: Obj, path: string, problems: FilterConfigProblem[], http = true): RbacRules {
  // Per-policy stats need policy names Legate does not track yet.
  unsupported(o, ['track_per_rule_stats'], path, problems);
  const rules = compileSide(o, 'rules', 'matcher', path, problems, http);
  const shadow = compileSide(o, 'shadow_rules', 'shadow_matcher', path, problems, http);
  return new RbacRules(rules, shadow, str(o['shadow_rules_stat_prefix'], ''));
}

/**
 * Stats of the HTTP filter: http.<hcm stat_prefix>.rbac.<rules_stat_prefix>{allowed,denied} and
 * ...rbac.<shadow_rules_stat_prefix>{shadow_allowed,shadow_denied}. Both go in one scope, so the two prefixes must be
 * the same when both rule sets are given.
 */
function httpRbacStats(o: Obj, path: string, problems: FilterConfigProblem[], hcmStatPrefix: string): HttpFilterStats {
  const rulesPrefix = str(o['rules_stat_prefix'], '');
  const shadowPrefix = str(o['shadow_rules_stat_prefix'], '');
  const hasRules = present(o['rules']) || present(o['matcher']);
  const hasShadow = present(o['shadow_rules']) || present(o['shadow_matcher']);
  if (hasRules && hasShadow && rulesPrefix !== shadowPrefix) {
    problems.push({ code: 'not_supported', path: `${path}.shadow_rules_stat_prefix`, message: `not supported yet: ${path}.shadow_rules_stat_prefix different from rules_stat_prefix` });
  }
  const extra = hasRules ? rulesPrefix : shadowPrefix;
  return { prefix: `http.${hcmStatPrefix}.rbac.${extra}`, definition: 'rbac', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] };
}

/** The HTTP filter: checked here, sent as given; the worker compiles it (workers/http/filters/rbac-filter.ts). */
export const HTTP_RBAC_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.rbac',
  compile(typedConfig, path, problems, hcmStatPrefix) {
    compileRbacRules(typedConfig, path, problems);
    return { config: typedConfig, stats: httpRbacStats(typedConfig, path, problems, hcmStatPrefix) };
  },
};

/** RBACPerRoute in a typed_per_filter_config (compiled with the worker's route table). */
export function compileRbacPerRoute(typedConfig: Obj, path: string, problems: FilterConfigProblem[]): RbacPerRoute {
  const rbac = typedConfig['rbac'];
  if (rbac === undefined || rbac === null) return new RbacPerRoute(null);
  const o = obj(rbac);
  unsupported(o, ['rules_stat_prefix', 'shadow_rules_stat_prefix'], `${path}.rbac`, problems);
  return new RbacPerRoute(compileRbacRules(o, `${path}.rbac`, problems));
}

/** envoy.filters.network.rbac, compiled for the snapshot (plain data: the worker compiles `config` again). */
export interface NetworkRbacConfig {
  statPrefix: string;
  /** shadow_rules_stat_prefix: the shadow counters are <stat_prefix>.rbac.<this>shadow_*. */
  shadowStatPrefix: string;
  /** The loader's plain data of the filter's config. */
  config: Obj;
  /** <stat_prefix>.rbac.*; set by the primary. */
  slots: Record<string, number> | null;
}

/** A network RBAC filter's typed_config at `path`; null with problems when it cannot run. */
export function compileNetworkRbac(o: Obj, path: string, problems: FilterConfigProblem[]): NetworkRbacConfig | null {
  const before = problems.length;
  const statPrefix = str(o['stat_prefix'], '');
  if (statPrefix === '') problems.push({ code: 'missing_field', path: `${path}.stat_prefix`, message: 'stat_prefix is required' });
  const enforcement = o['enforcement_type'] ?? 'ONE_TIME_ON_FIRST_BYTE';
  if (enforcement !== 'ONE_TIME_ON_FIRST_BYTE' && enforcement !== 'CONTINUOUS' && enforcement !== 0 && enforcement !== 1) {
    problems.push({ path: `${path}.enforcement_type`, message: `unknown enforcement_type ${String(enforcement)}` });
  }
  compileRbacRules(o, path, problems, false);
  if (problems.length > before) return null;
  return { statPrefix, shadowStatPrefix: str(o['shadow_rules_stat_prefix'], ''), config: o, slots: null };
}
