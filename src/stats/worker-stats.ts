// Worker thread. What a worker writes its stats into: counters and gauges straight into its own region of
// shared memory (single writer, no locks, no messages), histograms into local HdrHistograms that the primary
// collects as deltas (takeHistogramDelta, on the primary's request).

import type { JsHistogram } from 'hdr-histogram-js';
import type { WorkerStatsStore } from './definitions.ts';
import { newWorkerHistogram, toHistogramUnits } from './histogram-settings.ts';
import { HistogramDeltaWriter } from './histogram-delta.ts';

export class WorkerStats implements WorkerStatsStore {
  /** This worker's region: one Float64 per counter/gauge slot. */
  readonly values: Float64Array;
  private readonly histograms: (JsHistogram | undefined)[] = [];
  private sums: Float64Array = new Float64Array(16);
  /** Histogram slots created so far (the only ones a delta looks at). */
  private readonly createdSlots: number[] = [];
  private readonly writer = new HistogramDeltaWriter();

  constructor(region: SharedArrayBuffer) {
    // A fixed-length view: a length-tracking view over a growable buffer costs about 13x per increment.
    this.values = new Float64Array(region);
  }

  /** Records one value (milliseconds for latencies) into histogram `histogramSlot`. */
  record(histogramSlot: number, value: number): void {
    let h = this.histograms[histogramSlot];
    if (h === undefined) h = this.create(histogramSlot);
    h.recordValue(toHistogramUnits(value));
    if (value > 0) this.sums[histogramSlot]! += value;
  }

  /** What was recorded since the previous call, encoded for the primary; null when nothing was. */
  takeHistogramDelta(): Uint8Array | null {
    const slots = this.createdSlots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const h = this.histograms[slot]!;
      if (h.totalCount === 0) continue;
      this.writer.add(slot, h, this.sums[slot]!);
      h.reset();
      this.sums[slot] = 0;
    }
    return this.writer.finish();
  }

  private create(slot: number): JsHistogram {
    const h = newWorkerHistogram();
    this.histograms[slot] = h;
    this.createdSlots.push(slot);
    if (slot >= this.sums.length) {
      const grown = new Float64Array(Math.max(slot + 1, this.sums.length * 2));
      grown.set(this.sums);
      this.sums = grown;
    }
    return h;
  }
}

