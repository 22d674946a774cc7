// Primary thread. The shared memory of the stats: region 0 is the primary's, region i + 1 belongs to worker
// index i and is handed to that worker in workerData. A region is a fixed-size SharedArrayBuffer sized for the
// registry's capacity: the OS commits pages only as slots are written, so reloads that add stats need no
// reallocation and no message. A worker index's region outlives the worker: its replacement gets the same
// region, so counters keep counting; the gauges of a worker that died are zeroed (its connections are gone).

import type { StatRegistry } from './stat-registry.ts';
import { HistogramAccumulator } from './histogram-accumulator.ts';
import { PrimaryStatsStore } from './primary-stats-store.ts';
import type { MergedHistogram, MergedStats, MergedValue } from './merged-stats.ts';

const PRIMARY_REGION = 0;

export class SharedRegions {
  readonly registry: StatRegistry;
  /** The primary's own store (region 0). */
  readonly primaryStore: PrimaryStatsStore;
  private readonly regions: SharedArrayBuffer[] = [];
  private readonly views: Float64Array[] = [];
  private readonly histograms = new HistogramAccumulator();
  /** Per value slot: seen non-zero at some read (sticky). */
  private used = new Uint8Array(0);

  constructor(registry: StatRegistry) {
    this.registry = registry;
    this.primaryStore = new PrimaryStatsStore(this.region(PRIMARY_REGION), this.histograms);
  }

  /** The region of worker index `workerIndex` (created on first use, the same one for every later worker). */
  workerRegion(workerIndex: number): SharedArrayBuffer {
    if (!Number.isInteger(workerIndex) || workerIndex < 0) throw new RangeError(`bad worker index ${workerIndex}`);
    return this.region(workerIndex + 1);
  }

  /** Worker regions created so far. */
  get workerRegionCount(): number {
    return Math.max(0, this.regions.length - 1);
  }

  /**
   * Call when a worker has exited (before a replacement starts on the same region): its gauges drop to zero,
   * its counters stay.
   */
  onWorkerExit(workerIndex: number): void {
    const view = this.views[workerIndex + 1];
    if (view === undefined) return;
    const gauges = this.registry.gaugeSlots();
    for (let i = 0; i < gauges.length; i++) view[gauges[i]!] = 0;
  }

  /**
   * /reset_counters for a region nobody else writes now: the primary's own, or that of a worker index with no
   * running worker (region 0 is the primary's, i + 1 worker i's). A running worker zeroes its own region (it is
   * its only writer).
   */
  zeroCounters(regionIndex: number, counterSlots: Int32Array): void {
    const view = this.views[regionIndex];
    if (view === undefined) return;
    for (let i = 0; i < counterSlots.length; i++) view[counterSlots[i]!] = 0;
  }

  /** Folds a worker's histogram delta (WorkerStats.takeHistogramDelta) into the cumulative histograms. */
  mergeHistogramDelta(workerIndex: number, bytes: Uint8Array): void {
    if (workerIndex < 0 || workerIndex + 1 >= this.regions.length) {
      throw new RangeError(`histogram delta from unknown worker index ${workerIndex}`);
    }
    this.histograms.mergeDelta(bytes);
  }

  /** One counter or gauge summed over all regions (active health checking asks whether a cluster had traffic). */
  sumSlot(slot: number): number {
    let total = 0;
    const views = this.views;
    for (let r = 0; r < views.length; r++) total += views[r]![slot]!;
    return total;
  }

  /** Every counter and gauge summed over all regions, indexed by value slot. Exact for integer counts < 2^53. */
  readAll(): Float64Array {
    const n = this.registry.valueSlotCount;
    const totals = new Float64Array(n);
    const views = this.views;
    for (let r = 0; r < views.length; r++) {
      const v = views[r]!;
      for (let s = 0; s < n; s++) totals[s]! += v[s]!;
    }
    this.markUsed(totals);
    return totals;
  }

  /**
   * A consistent read of everything, in name order, for the formatters and sinks: without the stats
   * stats_matcher rejects, and without lazily named counters never written (Envoy would not have created them).
   */
  snapshot(): MergedStats {
    const registry = this.registry;
    const totals = this.readAll();
    const used = this.used;
    const valueOrder = registry.valueSlotsInNameOrder();
    const values: MergedValue[] = [];
    for (let i = 0; i < valueOrder.length; i++) {
      const slot = valueOrder[i]!;
      const info = registry.valueInfo(slot);
      if (info.rejected || (info.hiddenUntilUsed && used[slot] !== 1)) continue;
      values.push({ info, value: totals[slot]!, used: used[slot] === 1 });
    }
    const histogramOrder = registry.histogramSlotsInNameOrder();
    const histograms: MergedHistogram[] = [];
    for (let i = 0; i < histogramOrder.length; i++) {
      const slot = histogramOrder[i]!;
      const info = registry.histogramInfo(slot);
      if (info.rejected) continue;
      const summary = this.histograms.summary(slot, info.buckets);
      histograms.push({ info, used: summary.count > 0, summary });
    }
    return { values, histograms };
  }

  /** A flush (every stats_flush_interval): what was recorded since the previous one becomes the interval. */
  rotateHistogramInterval(): void {
    this.histograms.rotateInterval();
  }

  /** The last complete interval's distinct values of histogram `slot` with their counts (statsd timers). */
  forEachIntervalValue(slot: number, fn: (value: number, count: number) => void): void {
    this.histograms.forEachIntervalValue(slot, fn);
  }

  private region(index: number): SharedArrayBuffer {
    while (this.regions.length <= index) {
      const sab = new SharedArrayBuffer(this.registry.maxValueSlots * Float64Array.BYTES_PER_ELEMENT);
      this.regions.push(sab);
      this.views.push(new Float64Array(sab));
    }
    return this.regions[index]!;
  }

  private markUsed(totals: Float64Array): void {
    if (this.used.length < totals.length) {
      const grown = new Uint8Array(Math.max(totals.length, this.used.length * 2));
      grown.set(this.used);
      this.used = grown;
    }
    const used = this.used;
    for (let s = 0; s < totals.length; s++) if (totals[s] !== 0) used[s] = 1;
  }
}
