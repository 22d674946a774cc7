// The stat-name table: stable slots across re-allocation, shared counter/gauge numbering, separate histogram
// numbering, names and labels for Prometheus, and typed errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { CLUSTER_STATS, LISTENER_STATS, WORKER_STATS } from '../../src/stats/definitions.ts';
import { StatKind } from '../../src/stats/stat-kind.ts';
import { StatsError } from '../../src/stats/stats-error.ts';

const code = (c: string) => (err: unknown) => err instanceof StatsError && err.code === c;

describe('StatRegistry', () => {
  it('gives the same full name the same slot when a scope is allocated again (reload)', () => {
    const r = new StatRegistry();
    const first = r.allocateScope('cluster.backend.', CLUSTER_STATS, [['envoy_cluster_name', 'backend']]);
    const other = r.allocateScope('cluster.other.', CLUSTER_STATS, [['envoy_cluster_name', 'other']]);
    const again = r.allocateScope('cluster.backend.', CLUSTER_STATS, [['envoy_cluster_name', 'backend']]);
    assert.deepEqual(again, first);
    assert.notEqual(other.upstream_rq_total, first.upstream_rq_total);
    const count = r.valueSlotCount;
    r.allocateScope('cluster.other.', CLUSTER_STATS, [['envoy_cluster_name', 'other']]);
    assert.equal(r.valueSlotCount, count, 'no new slots for known names');
    assert.equal(r.counter('cluster.backend.upstream_rq_total'), first.upstream_rq_total);
  });

  it('numbers counters and gauges together and histograms apart', () => {
    const r = new StatRegistry();
    const s = r.allocateScope('listener.0.0.0.0_10000.', LISTENER_STATS, [['envoy_listener_address', '0.0.0.0_10000']]);
    const valueSlots = [
      s.downstream_cx_total, s.downstream_cx_destroy, s.downstream_cx_overflow, s.no_filter_chain_match,
      s.downstream_global_cx_overflow, s.downstream_cx_overload_reject, s.downstream_cx_active,
    ];
    assert.deepEqual([...valueSlots].sort(), [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(s.downstream_cx_length_ms, 0);
    assert.equal(r.histogramSlotCount, 1);
    assert.equal(r.valueInfo(s.downstream_cx_active).kind, StatKind.GAUGE);
    assert.equal(r.histogramInfo(s.downstream_cx_length_ms).name, 'listener.0.0.0.0_10000.downstream_cx_length_ms');
    assert.deepEqual([...r.gaugeSlots()], [s.downstream_cx_active]);
  });

  it('adds a dot to a prefix that lacks one and accepts ad-hoc stats', () => {
    const r = new StatRegistry();
    const w = r.allocateScope('worker_3', WORKER_STATS, [['envoy_worker_id', '3']]);
    assert.equal(r.valueInfo(w.downstream_rq_total).name, 'worker_3.downstream_rq_total');
    const rq200 = r.counter('http.ingress.downstream_rq_200');
    const info = r.valueInfo(rq200);
    assert.equal(info.prometheusName, 'envoy_http_downstream_rq');
    assert.equal(info.prometheusLabels, 'envoy_response_code="200",envoy_http_conn_manager_prefix="ingress"');
    assert.equal(r.lookup('http.ingress.downstream_rq_200'), info);
  });

  it('names each scope kind for Prometheus as Envoy does', () => {
    const r = new StatRegistry();
    const cases: [name: string, tags: [string, string][], metric: string, labels: string][] = [
      ['cluster.backend.upstream_rq_total', [['envoy_cluster_name', 'backend']], 'envoy_cluster_upstream_rq_total', 'envoy_cluster_name="backend"'],
      ['http.ingress_http.downstream_rq_total', [['envoy_http_conn_manager_prefix', 'ingress_http']], 'envoy_http_downstream_rq_total', 'envoy_http_conn_manager_prefix="ingress_http"'],
      ['listener.0.0.0.0_10000.downstream_cx_total', [['envoy_listener_address', '0.0.0.0_10000']], 'envoy_listener_downstream_cx_total', 'envoy_listener_address="0.0.0.0_10000"'],
      ['server.live', [], 'envoy_server_live', ''],
      ['worker_0.downstream_rq_total', [['envoy_worker_id', '0']], 'envoy_worker_downstream_rq_total', 'envoy_worker_id="0"'],
    ];
    for (const [name, tags, metric, labels] of cases) {
      const info = r.valueInfo(r.counter(name, tags));
      assert.equal(info.prometheusName, metric, name);
      assert.equal(info.prometheusLabels, labels, name);
    }
  });

  it('refuses one name as two kinds, bad names and more slots than the regions hold, with stable codes', () => {
    const r = new StatRegistry({ maxValueSlots: 2 });
    r.counter('a.b');
    assert.throws(() => r.gauge('a.b'), code('STATS_KIND_CONFLICT'));
    assert.throws(() => r.histogram('a.b'), code('STATS_KIND_CONFLICT'));
    assert.throws(() => r.counter('a..b'), code('STATS_INVALID_NAME'));
    assert.throws(() => r.counter(''), code('STATS_INVALID_NAME'));
    r.gauge('a.c');
    assert.throws(() => r.counter('a.d'), code('STATS_CAPACITY_EXCEEDED'));
    assert.equal(r.histogram('a.e'), 0, 'histograms are not limited by the regions');
  });

  it('orders slots by name for the formatters, refreshed after new allocations', () => {
    const r = new StatRegistry();
    r.counter('b.x');
    r.counter('a.x');
    assert.deepEqual([...r.valueSlotsInNameOrder()].map((s) => r.valueInfo(s).name), ['a.x', 'b.x']);
    r.gauge('a.a');
    assert.deepEqual([...r.valueSlotsInNameOrder()].map((s) => r.valueInfo(s).name), ['a.a', 'a.x', 'b.x']);
  });
});
