// envoy.filters.http.health_check's config, in process (pure): what Envoy requires of a HealthCheck.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHealthCheck } from '../../src/filters/health-check-config.ts';
import type { FilterConfigProblem } from '../../src/filters/http-filter-config.ts';

describe('health_check config', () => {
  it('pass_through_mode is required; cache_time only in pass-through mode; percentages truncated, clusters in name order', () => {
    const problems: FilterConfigProblem[] = [];
    const s = compileHealthCheck({
      pass_through_mode: true, cache_time: 2000,
      cluster_min_healthy_percentages: { zeta: { value: 50.9 }, alpha: { value: 10 } },
      headers: [{ name: ':path', string_match: { exact: '/healthz' } }],
    }, 'hc', problems);
    assert.equal(problems.length, 0, JSON.stringify(problems));
    assert.equal(s.cacheTimeMs, 2000);
    assert.deepEqual(s.clusterMinHealthy, [{ cluster: 'alpha', minHealthyPercent: 10 }, { cluster: 'zeta', minHealthyPercent: 50 }]);
    assert.equal(s.headers[0]!.matches([], '', 'GET', '/healthz'), true);
    compileHealthCheck({}, 'hc', problems);
    compileHealthCheck({ pass_through_mode: false, cache_time: 1000 }, 'hc', problems);
    assert.deepEqual(problems.map((p) => p.path), ['hc.pass_through_mode', 'hc.cache_time']);
  });
});
