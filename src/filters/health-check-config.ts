// Any thread (pure; config time). envoy.filters.http.health_check's HealthCheck, compiled to HealthCheckSettings:
// which requests are health checks (`headers`, every one of which must match; none: every request), pass-through
// mode, cache_time and cluster_min_healthy_percentages. The filter's config crosses to the workers as the loader's
// plain data and is compiled there again (header matchers never cross threads). No per-route config (Envoy has none).

import { compileHeaderMatcher, type HeaderMatcher } from '../router/request-matchers.ts';
import { durationMs, list, num, obj, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const HEALTH_CHECK_TYPE = 'envoy.extensions.filters.http.health_check.v3.HealthCheck';

/** A cluster whose health the health check answers with, and the least share of its hosts that must be healthy. */
export interface ClusterMinHealthy {
  readonly cluster: string;
  /** Whole percent (Envoy truncates the Percent to an integer). */
  readonly minHealthyPercent: number;
}

export class HealthCheckSettings {
  readonly passThroughMode: boolean;
  readonly headers: readonly HeaderMatcher[];
  /** cache_time in ms; 0: no caching. */
  readonly cacheTimeMs: number;
  readonly clusterMinHealthy: readonly ClusterMinHealthy[];

  constructor(passThroughMode: boolean, headers: readonly HeaderMatcher[], cacheTimeMs: number, clusterMinHealthy: readonly ClusterMinHealthy[]) {
    this.passThroughMode = passThroughMode;
    this.headers = headers;
    this.cacheTimeMs = cacheTimeMs;
    this.clusterMinHealthy = clusterMinHealthy;
    Object.freeze(this);
  }
}

/** http.<stat_prefix>.health_check.* (Envoy's names and tag). */
export function healthCheckStats(hcmStatPrefix: string): HttpFilterStats {
  return { prefix: `http.${hcmStatPrefix}.health_check.`, definition: 'health_check', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] };
}

/** HealthCheck at `path`. */
export function compileHealthCheck(o: Obj, path: string, problems: FilterConfigProblem[]): HealthCheckSettings {
  if (typeof o['pass_through_mode'] !== 'boolean') {
    problems.push({ code: 'missing_field', path: `${path}.pass_through_mode`, message: 'pass_through_mode is required' });
  }
  const passThrough = o['pass_through_mode'] === true;
  const cacheTimeMs = durationMs(o, 'cache_time', 0, path, problems);
  // Envoy refuses a cache without pass-through mode (there is no upstream response to cache).
  if (cacheTimeMs > 0 && !passThrough) problems.push({ path: `${path}.cache_time`, message: 'cache_time is only valid in pass_through_mode' });
  const headers: HeaderMatcher[] = [];
  list(o['headers']).forEach((h, i) => {
    const m = compileHeaderMatcher(obj(h), `${path}.headers[${i}]`, problems);
    if (m !== null) headers.push(m);
  });
  const mins: ClusterMinHealthy[] = [];
  const map = obj(o['cluster_min_healthy_percentages']);
  // In name order, as Envoy's std::map.
  for (const cluster of Object.keys(map).sort()) {
    const value = num(obj(map[cluster])['value'], 0);
    if (!(value >= 0 && value <= 100)) {
      problems.push({ path: `${path}.cluster_min_healthy_percentages[${JSON.stringify(cluster)}].value`, message: 'must be in [0, 100]' });
      continue;
    }
    mins.push(Object.freeze({ cluster, minHealthyPercent: Math.trunc(value) }));
  }
  return new HealthCheckSettings(passThrough, Object.freeze(headers), cacheTimeMs, Object.freeze(mins));
}

/** The filter: its config is checked here and sent as given (plain data); the worker compiles it again. */
export const HEALTH_CHECK_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.health_check',
  compile(typedConfig, path, problems, hcmStatPrefix) {
    compileHealthCheck(typedConfig, path, problems);
    return { config: typedConfig, stats: healthCheckStats(hcmStatPrefix) };
  },
};
