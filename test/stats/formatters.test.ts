// Golden tests of /stats text, ?format=json and /stats/prometheus for a small hand-built state, plus the
// query options (filter, usedonly, type) and number formats.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { SharedRegions } from '../../src/stats/shared-regions.ts';
import type { MergedStats } from '../../src/stats/merged-stats.ts';
import { formatStatsText } from '../../src/stats/format-text.ts';
import { formatStatsJson } from '../../src/stats/format-json.ts';
import { compareStatNames, formatStatsPrometheus } from '../../src/stats/format-prometheus.ts';
import { parseStatsQuery, StatsQueryError } from '../../src/stats/stats-query.ts';
import { formatG32 } from '../../src/stats/number-format.ts';

function state(): MergedStats {
  const r = new StatRegistry({ maxValueSlots: 64 });
  const regions = new SharedRegions(r);
  const values = regions.primaryStore.values;
  // Two regions add up: the primary's and one worker's.
  const worker = new Float64Array(regions.workerRegion(0));
  values[r.counter('cluster.backend.upstream_rq_total', [['envoy_cluster_name', 'backend']])] = 2;
  worker[r.counter('cluster.backend.upstream_rq_total')] = 3;
  worker[r.counter('cluster.backend.upstream_rq_2xx', [['envoy_cluster_name', 'backend']])] = 4;
  values[r.counter('cluster.a-b.upstream_rq_total', [['envoy_cluster_name', 'a-b']])] = 1;
  values[r.counter('cluster.a.upstream_rq_total', [['envoy_cluster_name', 'a']])] = 2;
  values[r.counter('http.ingress.downstream_rq_2xx', [['envoy_http_conn_manager_prefix', 'ingress']])] = 3;
  r.gauge('cluster.backend.upstream_cx_active', [['envoy_cluster_name', 'backend']]);
  values[r.gauge('server.live')] = 1;
  const rqTime = r.histogram('cluster.backend.upstream_rq_time', [['envoy_cluster_name', 'backend']]);
  r.histogram('http.ingress.downstream_rq_time', [['envoy_http_conn_manager_prefix', 'ingress']]);
  for (const v of [1, 2, 3, 4, 10.5]) regions.primaryStore.record(rqTime, v);
  // A stats flush: what was recorded before it is the interval (and, here, the whole cumulative).
  regions.rotateHistogramInterval();
  return regions.snapshot();
}

const q = (s: string) => parseStatsQuery(new URLSearchParams(s));
const RQ_TIME_TEXT =
  'P0(1,1) P25(2.007,2.007) P50(3.007,3.007) P75(4.015,4.015) P90(10.5,10.5) P95(10.5,10.5) P99(10.5,10.5) ' +
  'P99.5(10.5,10.5) P99.9(10.5,10.5) P100(10.5,10.5)';

describe('/stats text', () => {
  it('prints counters and gauges in name order, then histograms', () => {
    assert.equal(
      formatStatsText(state(), q('')),
      [
        'cluster.a-b.upstream_rq_total: 1',
        'cluster.a.upstream_rq_total: 2',
        'cluster.backend.upstream_cx_active: 0',
        'cluster.backend.upstream_rq_2xx: 4',
        'cluster.backend.upstream_rq_total: 5',
        'http.ingress.downstream_rq_2xx: 3',
        'server.live: 1',
        `cluster.backend.upstream_rq_time: ${RQ_TIME_TEXT}`,
        'http.ingress.downstream_rq_time: No recorded values',
        '',
      ].join('\n'),
    );
  });

  it('filters by regex on the full name, hides unused stats with usedonly, selects by type', () => {
    assert.equal(formatStatsText(state(), q('filter=^cluster\\.backend\\.upstream_rq_total$')), 'cluster.backend.upstream_rq_total: 5\n');
    assert.equal(formatStatsText(state(), q('filter=rq_time')), `cluster.backend.upstream_rq_time: ${RQ_TIME_TEXT}\nhttp.ingress.downstream_rq_time: No recorded values\n`);
    const used = formatStatsText(state(), q('usedonly&filter=backend'));
    assert.equal(used, `cluster.backend.upstream_rq_2xx: 4\ncluster.backend.upstream_rq_total: 5\ncluster.backend.upstream_rq_time: ${RQ_TIME_TEXT}\n`);
    assert.equal(formatStatsText(state(), q('type=Gauges')), 'cluster.backend.upstream_cx_active: 0\nserver.live: 1\n');
    assert.equal(formatStatsText(state(), q('type=Histograms&usedonly')), `cluster.backend.upstream_rq_time: ${RQ_TIME_TEXT}\n`);
    assert.equal(formatStatsText(state(), q('filter=nothing-matches')), '');
  });

  it('rejects a bad regex, type or format with a typed error', () => {
    assert.throws(() => q('filter=('), StatsQueryError);
    assert.throws(() => q('type=Bogus'), StatsQueryError);
    assert.throws(() => q('format=xml'), StatsQueryError);
  });

  it('takes the filter as RE2 (as Envoy): no backreferences, and a catastrophic pattern stays linear', () => {
    // A backreference is not RE2; a backtracking RegExp would accept it.
    assert.throws(() => q(String.raw`filter=(backend)\1`), StatsQueryError);
    // An unbalanced pattern must not close the partial-match wrapper's group.
    assert.throws(() => q('filter=a)|(b'), StatsQueryError);
    // (a|a)*$ against 'aaaa…b' backtracks exponentially in a backtracking engine.
    const query = q(`filter=${encodeURIComponent('^(a|a)*$')}`);
    assert.equal(query.filter!.fullMatch('a'.repeat(40) + 'b'), false);
    assert.equal(query.filter!.fullMatch('a'.repeat(40)), true);
  });
});

describe('/stats?format=json', () => {
  it('has Envoy\'s shape: stats entries, then one histograms entry with quantiles', () => {
    const doc = JSON.parse(formatStatsJson(state(), q('format=json&filter=backend'))) as { stats: unknown[] };
    assert.deepEqual(doc.stats.slice(0, 3), [
      { name: 'cluster.backend.upstream_cx_active', value: 0 },
      { name: 'cluster.backend.upstream_rq_2xx', value: 4 },
      { name: 'cluster.backend.upstream_rq_total', value: 5 },
    ]);
    const last = doc.stats[3] as { histograms: { supported_quantiles: number[]; computed_quantiles: { name: string; values: unknown[] }[] } };
    assert.deepEqual(last.histograms.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    assert.equal(last.histograms.computed_quantiles.length, 1);
    assert.equal(last.histograms.computed_quantiles[0]!.name, 'cluster.backend.upstream_rq_time');
    assert.deepEqual(last.histograms.computed_quantiles[0]!.values[0], { interval: 1, cumulative: 1 });
    assert.deepEqual(last.histograms.computed_quantiles[0]!.values[9], { interval: 10.5, cumulative: 10.5 });
    assert.equal(doc.stats.length, 4);
  });

  it('prints null quantiles for an empty histogram and no histograms entry when none is selected', () => {
    const doc = JSON.parse(formatStatsJson(state(), q('filter=downstream_rq_time'))) as { stats: { histograms: { computed_quantiles: { values: unknown[] }[] } }[] };
    assert.deepEqual(doc.stats[0]!.histograms.computed_quantiles[0]!.values[4], { interval: null, cumulative: null });
    assert.deepEqual(JSON.parse(formatStatsJson(state(), q('filter=server'))), { stats: [{ name: 'server.live', value: 1 }] });
  });
});

describe('/stats/prometheus', () => {
  it('groups by metric with # TYPE lines, labels, and Envoy\'s histogram buckets', () => {
    const bounds = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000'];
    const counts = [0, 1, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5];
    const rqTime = bounds.map((b, i) => `envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="${b}"} ${counts[i]}`);
    const emptyTime = bounds.map((b) => `envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix="ingress",le="${b}"} 0`);
    const expected = [
      '# TYPE envoy_cluster_upstream_rq_total counter',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="a"} 2',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="a-b"} 1',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"} 5',
      '',
      '# TYPE envoy_cluster_upstream_rq_xx counter',
      'envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="backend"} 4',
      '',
      '# TYPE envoy_http_downstream_rq_xx counter',
      'envoy_http_downstream_rq_xx{envoy_response_code_class="2",envoy_http_conn_manager_prefix="ingress"} 3',
      '',
      '# TYPE envoy_cluster_upstream_cx_active gauge',
      'envoy_cluster_upstream_cx_active{envoy_cluster_name="backend"} 0',
      '',
      '# TYPE envoy_server_live gauge',
      'envoy_server_live{} 1',
      '',
      '# TYPE envoy_cluster_upstream_rq_time histogram',
      ...rqTime,
      'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="backend",le="+Inf"} 5',
      'envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="backend"} 20.5',
      'envoy_cluster_upstream_rq_time_count{envoy_cluster_name="backend"} 5',
      '',
      '# TYPE envoy_http_downstream_rq_time histogram',
      ...emptyTime,
      'envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix="ingress",le="+Inf"} 0',
      'envoy_http_downstream_rq_time_sum{envoy_http_conn_manager_prefix="ingress"} 0',
      'envoy_http_downstream_rq_time_count{envoy_http_conn_manager_prefix="ingress"} 0',
      '',
      '',
    ].join('\n');
    assert.equal(formatStatsPrometheus(state(), q('')), expected);
  });

  it('honours usedonly and filter', () => {
    const out = formatStatsPrometheus(state(), q('usedonly&filter=^(server|http)\\.'));
    assert.equal(
      out,
      '# TYPE envoy_http_downstream_rq_xx counter\n' +
        'envoy_http_downstream_rq_xx{envoy_response_code_class="2",envoy_http_conn_manager_prefix="ingress"} 3\n\n' +
        '# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n\n',
    );
  });

  it('escapes label values', () => {
    const r = new StatRegistry({ maxValueSlots: 4 });
    const regions = new SharedRegions(r);
    r.counter('custom.x', [['team', 'a"b\\c\nd']]);
    assert.match(formatStatsPrometheus(regions.snapshot(), q('')), /envoy_custom_x\{team="a\\"b\\\\c\\nd"\} 0/);
  });

  it('orders names segment by segment, as Envoy\'s StatName order', () => {
    assert.ok(compareStatNames('cluster.a.x', 'cluster.a-b.x') < 0);
    assert.ok(compareStatNames('a.b', 'a.b.c') < 0);
    assert.ok(compareStatNames('b', 'a.z') > 0);
    assert.equal(compareStatNames('x.y', 'x.y'), 0);
  });

  it('formats numbers as C\'s %.32g', () => {
    assert.equal(formatG32(0.5), '0.5');
    assert.equal(formatG32(3600000), '3600000');
    assert.equal(formatG32(0.1), '0.10000000000000000555111512312578');
    assert.equal(formatG32(1e-5), '1.0000000000000000818030539140313e-05');
    assert.equal(formatG32(1e40), '1.0000000000000000303786028427004e+40');
    assert.equal(formatG32(0), '0');
    assert.equal(formatG32(123456789.125), '123456789.125');
  });
});
