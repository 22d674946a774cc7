// Primary thread. Cumulative histograms, one per histogram slot, fed by the workers' deltas (and by the
// primary's own records). Cumulative only: Envoy prints interval and cumulative, the formatters print this value
// in both places.

import type { JsHistogram } from 'hdr-histogram-js';
import { decodeHistogramDelta } from './histogram-delta.ts';
import {
  PROMETHEUS_BUCKET_BOUNDS,
  SUPPORTED_QUANTILES,
  UNITS_PER_VALUE,
  fromHistogramUnits,
  newCumulativeHistogram,
  toHistogramUnits,
} from './histogram-settings.ts';

/** A histogram's state as the formatters print it (values in the stat's unit). */
export interface HistogramSummary {
  readonly count: number;
  readonly sum: number;
  /** One value per SUPPORTED_QUANTILES entry; NaN when nothing was recorded. */
  readonly quantiles: readonly number[];
  /** Values <= each PROMETHEUS_BUCKET_BOUNDS entry (cumulative, as Prometheus wants). */
  readonly bucketCounts: readonly number[];
}

class CumulativeHistogram {
  readonly hist: JsHistogram = newCumulativeHistogram();
  count = 0;
  sum = 0;
  /** Exact extremes (the buckets only know them to 1%): P0 and P100 print these. */
  minUnits = Number.POSITIVE_INFINITY;
  maxUnits = 0;
}

const BOUND_UNITS: readonly number[] = PROMETHEUS_BUCKET_BOUNDS.map((b) => b * UNITS_PER_VALUE);
const NO_QUANTILES: readonly number[] = Object.freeze(SUPPORTED_QUANTILES.map(() => Number.NaN));
const NO_BUCKETS: readonly number[] = Object.freeze(PROMETHEUS_BUCKET_BOUNDS.map(() => 0));
export const EMPTY_HISTOGRAM_SUMMARY: HistogramSummary = Object.freeze({
  count: 0,
  sum: 0,
  quantiles: NO_QUANTILES,
  bucketCounts: NO_BUCKETS,
});

export class HistogramAccumulator {
  private readonly slots: (CumulativeHistogram | undefined)[] = [];

  /** Folds a worker's delta (from WorkerStats.takeHistogramDelta) in. Throws StatsError if it does not decode. */
  mergeDelta(bytes: Uint8Array): void {
    const records = decodeHistogramDelta(bytes);
    for (const r of records) {
      const c = this.slot(r.slot);
      const pairs = r.pairs;
      for (let i = 0; i < pairs.length; i += 2) c.hist.recordValueWithCount(pairs[i]!, pairs[i + 1]!);
      c.count += r.count;
      c.sum += r.sum;
      if (r.minUnits < c.minUnits) c.minUnits = r.minUnits;
      if (r.maxUnits > c.maxUnits) c.maxUnits = r.maxUnits;
    }
  }

  /** A value recorded by the primary itself. */
  record(slot: number, value: number): void {
    const c = this.slot(slot);
    const units = toHistogramUnits(value);
    c.hist.recordValue(units);
    c.count++;
    if (value > 0) c.sum += value;
    if (units < c.minUnits) c.minUnits = units;
    if (units > c.maxUnits) c.maxUnits = units;
  }

  summary(slot: number): HistogramSummary {
    const c = this.slots[slot];
    if (c === undefined || c.count === 0) return EMPTY_HISTOGRAM_SUMMARY;
    const quantiles: number[] = [];
    for (const q of SUPPORTED_QUANTILES) {
      let units: number;
      if (q === 0) units = c.minUnits;
      else if (q === 1) units = c.maxUnits;
      else units = Math.min(Math.max(c.hist.getValueAtPercentile(q * 100), c.minUnits), c.maxUnits);
      quantiles.push(fromHistogramUnits(units));
    }
    return Object.freeze({
      count: c.count,
      sum: c.sum,
      quantiles: Object.freeze(quantiles),
      bucketCounts: Object.freeze(bucketCounts(c.hist, c.maxUnits)),
    });
  }

  private slot(slot: number): CumulativeHistogram {
    let c = this.slots[slot];
    if (c === undefined) {
      c = new CumulativeHistogram();
      this.slots[slot] = c;
    }
    return c;
  }
}

/** One walk over the recorded buckets; a bucket counts toward a bound when its lowest value is <= the bound. */
function bucketCounts(hist: JsHistogram, maxUnits: number): number[] {
  const perBound = new Array<number>(BOUND_UNITS.length).fill(0);
  const last = Math.min(hist.countsArrayIndex(maxUnits), hist.countsArrayLength - 1);
  let b = 0;
  for (let i = 0; i <= last; i++) {
    const c = hist.getCountAtIndex(i);
    if (c === 0) continue;
    const v = hist.valueFromIndex(i);
    while (b < BOUND_UNITS.length && v > BOUND_UNITS[b]!) b++;
    if (b === BOUND_UNITS.length) break;
    perBound[b]! += c;
  }
  for (let i = 1; i < perBound.length; i++) perBound[i]! += perBound[i - 1]!;
  return perBound;
}
