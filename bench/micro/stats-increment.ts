// Micro bench: ns per counter increment in a worker's shared region, per gauge inc/dec pair, per histogram
// record, and the cost of one histogram delta + merge. Run: node_modules/.bin/node bench/micro/stats-increment.ts

import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { SharedRegions } from '../../src/stats/shared-regions.ts';
import { WorkerStats } from '../../src/stats/worker-stats.ts';
import { CLUSTER_STATS, HTTP_CONN_MANAGER_STATS } from '../../src/stats/definitions.ts';

const registry = new StatRegistry();
const regions = new SharedRegions(registry);
// A realistic table: 200 clusters, so slots are spread over a few pages.
for (let i = 0; i < 200; i++) registry.allocateScope(`cluster.c${i}.`, CLUSTER_STATS, [['envoy_cluster_name', `c${i}`]]);
const hcm = registry.allocateScope('http.ingress.', HTTP_CONN_MANAGER_STATS, [['envoy_http_conn_manager_prefix', 'ingress']]);
const cluster = registry.allocateScope('cluster.backend.', CLUSTER_STATS, [['envoy_cluster_name', 'backend']]);
const stats = new WorkerStats(regions.workerRegion(0));

function bench(name: string, iterations: number, fn: (i: number) => void): void {
  for (let i = 0; i < 1_000_000; i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(48)} ${ns.toFixed(2).padStart(8)} ns/op`);
}

const rqTotal = hcm.downstream_rq_total;
const rqActive = hcm.downstream_rq_active;
const rqTime = hcm.downstream_rq_time;
const upstreamTime = cluster.upstream_rq_time;

bench('counter increment (values[slot]++)', 50_000_000, () => {
  stats.values[rqTotal]!++;
});
bench('gauge inc + dec', 50_000_000, () => {
  const v = stats.values;
  v[rqActive]!++;
  v[rqActive]!--;
});
bench('histogram record, integer ms (1..200)', 10_000_000, (i) => {
  stats.record(rqTime, (i % 200) + 1);
});
bench('histogram record, fractional ms', 10_000_000, (i) => {
  stats.record(upstreamTime, ((i * 7919) % 100_000) / 1000);
});

// The periodic cost: encode two busy histograms, reset them, merge on the primary.
bench('takeHistogramDelta + mergeHistogramDelta', 2_000, (i) => {
  for (let k = 0; k < 1000; k++) stats.record(rqTime, ((k + i) % 500) + 1);
  const bytes = stats.takeHistogramDelta();
  if (bytes !== null) regions.mergeHistogramDelta(0, bytes);
});
bench('snapshot() (readAll over 1 region + summaries)', 200, () => {
  regions.snapshot();
});
console.log(`${registry.valueSlotCount} counter/gauge slots, ${registry.histogramSlotCount} histogram slots`);
