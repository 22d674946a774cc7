// Stats in shared memory across real worker threads: exact sums, merged histograms, a dead worker's gauges
// zeroed while its counters stay, a replacement on the same region, and stats added after the workers started.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { SharedRegions } from '../../src/stats/shared-regions.ts';
import { CLUSTER_STATS, type ScopeSlots } from '../../src/stats/definitions.ts';
import { StatsError } from '../../src/stats/stats-error.ts';
import type { StatsWorkerReply, StatsWorkerRequest } from './fixtures/stats-worker.ts';

const FIXTURE = new URL('./fixtures/stats-worker.ts', import.meta.url);

class TestWorker {
  readonly worker: Worker;
  constructor(region: SharedArrayBuffer) {
    this.worker = new Worker(FIXTURE, { workerData: { region } });
  }
  async ask(m: StatsWorkerRequest): Promise<StatsWorkerReply> {
    const reply = once(this.worker, 'message');
    this.worker.postMessage(m);
    return (await reply)[0] as StatsWorkerReply;
  }
  async delta(): Promise<Uint8Array | null> {
    const r = await this.ask({ type: 'delta' });
    assert.equal(r.type, 'delta');
    return r.type === 'delta' ? r.bytes : null;
  }
}

/** Values worker i records: i*100+1 … i*100+100 (ms). */
function valuesOf(i: number): number[] {
  return Array.from({ length: 100 }, (_, k) => i * 100 + k + 1);
}

describe('shared regions across worker threads', () => {
  const registry = new StatRegistry({ maxValueSlots: 8192 });
  const regions = new SharedRegions(registry);
  let slots: ScopeSlots<typeof CLUSTER_STATS>;
  const workers: TestWorker[] = [];

  before(async () => {
    slots = registry.allocateScope('cluster.backend.', CLUSTER_STATS, [['envoy_cluster_name', 'backend']]);
    for (let i = 0; i < 3; i++) workers.push(new TestWorker(regions.workerRegion(i)));
    await Promise.all(
      workers.map((w, i) =>
        w.ask({
          type: 'write',
          counterSlot: slots.upstream_rq_total,
          increments: (i + 1) * 1000,
          gaugeSlot: slots.upstream_cx_active,
          gaugeDelta: i + 1,
          histogramSlot: slots.upstream_rq_time,
          values: valuesOf(i),
        }),
      ),
    );
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.worker.terminate()));
  });

  it('sums counters and gauges of every region exactly', () => {
    const totals = regions.readAll();
    assert.equal(totals[slots.upstream_rq_total], 6000);
    assert.equal(totals[slots.upstream_cx_active], 6);
    assert.equal(totals[slots.upstream_rq_2xx], 0);
  });

  it('merges histogram deltas: count exact, quantiles within HdrHistogram precision', async () => {
    for (let i = 0; i < workers.length; i++) {
      const bytes = await workers[i]!.delta();
      assert.ok(bytes !== null, `worker ${i} recorded values`);
      regions.mergeHistogramDelta(i, bytes);
    }
    const h = regions.snapshot().histograms.find((x) => x.info.name === 'cluster.backend.upstream_rq_time')!;
    assert.equal(h.used, true);
    assert.equal(h.summary.count, 300);
    assert.equal(h.summary.sum, (300 * 301) / 2);
    const [p0, p25, p50, p75, p90, , p99, , , p100] = h.summary.quantiles as number[];
    assert.equal(p0, 1); // exact extremes
    assert.equal(p100, 300);
    const near = (actual: number, expected: number): void =>
      assert.ok(Math.abs(actual - expected) <= expected * 0.01 + 1e-9, `${actual} within 1% of ${expected}`);
    near(p25!, 75);
    near(p50!, 150);
    near(p75!, 225);
    near(p90!, 270);
    near(p99!, 297);
    // Prometheus buckets: values <= 100 are the first worker's 100; <= 250 are 250.
    const bounds = [0.5, 1, 5, 10, 25, 50, 100, 250, 500];
    const counts = h.summary.bucketCounts.slice(0, bounds.length);
    assert.deepEqual(counts, [0, 1, 5, 10, 25, 50, 100, 250, 300]);
  });

  it('a delta covers only what was recorded since the previous one', async () => {
    assert.equal(await workers[0]!.delta(), null);
    await workers[0]!.ask({
      type: 'write', counterSlot: slots.upstream_rq_total, increments: 0, gaugeSlot: slots.upstream_cx_active,
      gaugeDelta: 0, histogramSlot: slots.upstream_rq_time, values: [1000],
    });
    regions.mergeHistogramDelta(0, (await workers[0]!.delta())!);
    const h = regions.snapshot().histograms.find((x) => x.info.name === 'cluster.backend.upstream_rq_time')!;
    assert.equal(h.summary.count, 301);
    assert.equal(h.summary.quantiles[9], 1000);
  });

  it('zeroes a terminated worker\'s gauges, keeps its counters, and its replacement keeps counting', async () => {
    await workers[1]!.worker.terminate();
    regions.onWorkerExit(1);
    let totals = regions.readAll();
    assert.equal(totals[slots.upstream_cx_active], 1 + 3);
    assert.equal(totals[slots.upstream_rq_total], 6000);

    workers[1] = new TestWorker(regions.workerRegion(1));
    await workers[1].ask({
      type: 'write', counterSlot: slots.upstream_rq_total, increments: 5, gaugeSlot: slots.upstream_cx_active,
      gaugeDelta: 1, histogramSlot: slots.upstream_rq_time, values: [],
    });
    totals = regions.readAll();
    assert.equal(totals[slots.upstream_rq_total], 6005);
    assert.equal(totals[slots.upstream_cx_active], 5);
    // ?usedonly remembers what was ever non-zero.
    const snap = regions.snapshot();
    assert.equal(snap.values.find((v) => v.info.name === 'cluster.backend.upstream_rq_total')!.used, true);
    assert.equal(snap.values.find((v) => v.info.name === 'cluster.backend.upstream_rq_5xx')!.used, false);
  });

  it('stats allocated after the workers started are written with no new region', async () => {
    const later = registry.allocateScope('cluster.added_by_reload.', CLUSTER_STATS, [['envoy_cluster_name', 'added_by_reload']]);
    await Promise.all(
      workers.map((w) =>
        w.ask({
          type: 'write', counterSlot: later.upstream_rq_total, increments: 7, gaugeSlot: later.upstream_rq_active,
          gaugeDelta: 2, histogramSlot: later.upstream_rq_time, values: [3],
        }),
      ),
    );
    const totals = regions.readAll();
    assert.equal(totals[later.upstream_rq_total], 21);
    assert.equal(totals[later.upstream_rq_active], 6);
    for (let i = 0; i < workers.length; i++) regions.mergeHistogramDelta(i, (await workers[i]!.delta())!);
    const h = regions.snapshot().histograms.find((x) => x.info.name === 'cluster.added_by_reload.upstream_rq_time')!;
    assert.equal(h.summary.count, 3);
  });

  it('rejects a delta that does not decode, with a stable code', () => {
    assert.throws(
      () => regions.mergeHistogramDelta(0, new Uint8Array([1, 2, 3])),
      (err: unknown) => err instanceof StatsError && err.code === 'STATS_BAD_HISTOGRAM_DELTA',
    );
  });
});

describe('primary store (region 0)', () => {
  it('counts into the same sums and records histograms directly', () => {
    const registry = new StatRegistry({ maxValueSlots: 64 });
    const regions = new SharedRegions(registry);
    const live = registry.gauge('server.live');
    const h = registry.histogram('server.initialization_time_ms');
    regions.primaryStore.values[live] = 1;
    regions.primaryStore.record(h, 12);
    assert.equal(regions.readAll()[live], 1);
    const snap = regions.snapshot();
    assert.equal(snap.histograms[0]!.summary.count, 1);
    assert.equal(snap.histograms[0]!.summary.quantiles[0], 12);
  });
});
