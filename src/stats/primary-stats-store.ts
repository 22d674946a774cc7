// Primary thread. The primary's own WorkerStatsStore: region 0 for counters and gauges (server.*, membership
// gauges), and histogram records straight into the cumulative histograms (no delta needed on this thread).

import type { WorkerStatsStore } from './definitions.ts';
import type { HistogramAccumulator } from './histogram-accumulator.ts';

export class PrimaryStatsStore implements WorkerStatsStore {
  readonly values: Float64Array;
  private readonly histograms: HistogramAccumulator;

  constructor(region: SharedArrayBuffer, histograms: HistogramAccumulator) {
    this.values = new Float64Array(region);
    this.histograms = histograms;
  }

  record(histogramSlot: number, value: number): void {
    this.histograms.record(histogramSlot, value);
  }
}
