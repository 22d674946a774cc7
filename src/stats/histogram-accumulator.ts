// Primary thread. Histograms, one per histogram slot, fed by the workers' deltas (and by the primary's own
// records): cumulative since start, and, as Envoy's, the interval: what was recorded during the last complete
// stats_flush_interval (rotateInterval, at each flush).

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
  /** Values <= each bound of the stat's buckets (cumulative, as Prometheus wants). */
  readonly bucketCounts: readonly number[];
  /** The last complete flush interval's quantiles (NaN when nothing was recorded in it). */
  readonly intervalQuantiles: readonly number[];
  readonly intervalCount: number;
}

/** Values recorded in one interval, in the histogram's precision. */
class IntervalPart {
  readonly hist: JsHistogram = newCumulativeHistogram();
  count = 0;
  sum = 0;
  minUnits = Number.POSITIVE_INFINITY;
  maxUnits = 0;

  reset(): void {
    if (this.count > 0) this.hist.reset();
    this.count = 0;
    this.sum = 0;
    this.minUnits = Number.POSITIVE_INFINITY;
    this.maxUnits = 0;
  }
}

class CumulativeHistogram {
  readonly hist: JsHistogram = newCumulativeHistogram();
  count = 0;
  sum = 0;
  /** Exact extremes (the buckets only know them to 1%): P0 and P100 print these. */
  minUnits = Number.POSITIVE_INFINITY;
  maxUnits = 0;
  /** Recorded since the last rotation. */
  pending = new IntervalPart();
  /** The last complete interval. */
  interval = new IntervalPart();
}

const DEFAULT_BOUND_UNITS: readonly number[] = PROMETHEUS_BUCKET_BOUNDS.map((b) => b * UNITS_PER_VALUE);
const NO_QUANTILES: readonly number[] = Object.freeze(SUPPORTED_QUANTILES.map(() => Number.NaN));
const NO_BUCKETS: readonly number[] = Object.freeze(PROMETHEUS_BUCKET_BOUNDS.map(() => 0));
export const EMPTY_HISTOGRAM_SUMMARY: HistogramSummary = Object.freeze({
  count: 0,
  sum: 0,
  quantiles: NO_QUANTILES,
  bucketCounts: NO_BUCKETS,
  intervalQuantiles: NO_QUANTILES,
  intervalCount: 0,
});

export class HistogramAccumulator {
  private readonly slots: (CumulativeHistogram | undefined)[] = [];

  /** Folds a worker's delta (from WorkerStats.takeHistogramDelta) in. Throws StatsError if it does not decode. */
  mergeDelta(bytes: Uint8Array): void {
    const records = decodeHistogramDelta(bytes);
    for (const r of records) {
      const c = this.slot(r.slot);
      const pairs = r.pairs;
      const p = c.pending;
      for (let i = 0; i < pairs.length; i += 2) {
        c.hist.recordValueWithCount(pairs[i]!, pairs[i + 1]!);
        p.hist.recordValueWithCount(pairs[i]!, pairs[i + 1]!);
      }
      c.count += r.count;
      c.sum += r.sum;
      if (r.minUnits < c.minUnits) c.minUnits = r.minUnits;
      if (r.maxUnits > c.maxUnits) c.maxUnits = r.maxUnits;
      p.count += r.count;
      p.sum += r.sum;
      if (r.minUnits < p.minUnits) p.minUnits = r.minUnits;
      if (r.maxUnits > p.maxUnits) p.maxUnits = r.maxUnits;
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
    const p = c.pending;
    p.hist.recordValue(units);
    p.count++;
    if (value > 0) p.sum += value;
    if (units < p.minUnits) p.minUnits = units;
    if (units > p.maxUnits) p.maxUnits = units;
  }

  /** A flush: what was recorded since the previous one becomes the interval. */
  rotateInterval(): void {
    for (const c of this.slots) {
      if (c === undefined) continue;
      const done = c.pending;
      c.pending = c.interval;
      c.pending.reset();
      c.interval = done;
    }
  }

  /**
   * The last complete interval's values of `slot`, one call per distinct recorded value (in the stat's unit) with
   * how many times it was recorded: what a statsd sink sends as timers.
   */
  forEachIntervalValue(slot: number, fn: (value: number, count: number) => void): void {
    const c = this.slots[slot];
    if (c === undefined || c.interval.count === 0) return;
    const h = c.interval.hist;
    const last = Math.min(h.countsArrayIndex(c.interval.maxUnits), h.countsArrayLength - 1);
    for (let i = 0; i <= last; i++) {
      const n = h.getCountAtIndex(i);
      if (n === 0) continue;
      // The bucket's lowest value; the exact extremes for the first and last buckets (a lone value is sent as recorded).
      const units = i === last ? c.interval.maxUnits : Math.max(h.valueFromIndex(i), c.interval.minUnits);
      fn(fromHistogramUnits(units), n);
    }
  }

  /** `bounds`: the stat's Prometheus bucket bounds (StatInfo.buckets). */
  summary(slot: number, bounds: readonly number[] = PROMETHEUS_BUCKET_BOUNDS): HistogramSummary {
    const c = this.slots[slot];
    if (c === undefined || c.count === 0) {
      return bounds === PROMETHEUS_BUCKET_BOUNDS ? EMPTY_HISTOGRAM_SUMMARY : { ...EMPTY_HISTOGRAM_SUMMARY, bucketCounts: bounds.map(() => 0) };
    }
    const i = c.interval;
    return Object.freeze({
      count: c.count,
      sum: c.sum,
      quantiles: quantilesOf(c.hist, c.minUnits, c.maxUnits),
      bucketCounts: Object.freeze(bucketCounts(c.hist, c.maxUnits, bounds)),
      intervalQuantiles: i.count === 0 ? NO_QUANTILES : quantilesOf(i.hist, i.minUnits, i.maxUnits),
      intervalCount: i.count,
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

function quantilesOf(hist: JsHistogram, minUnits: number, maxUnits: number): readonly number[] {
  const quantiles: number[] = [];
  for (const q of SUPPORTED_QUANTILES) {
    let units: number;
    if (q === 0) units = minUnits;
    else if (q === 1) units = maxUnits;
    else units = Math.min(Math.max(hist.getValueAtPercentile(q * 100), minUnits), maxUnits);
    quantiles.push(fromHistogramUnits(units));
  }
  return Object.freeze(quantiles);
}

/** One walk over the recorded buckets; a bucket counts toward a bound when its lowest value is <= the bound. */
function bucketCounts(hist: JsHistogram, maxUnits: number, bounds: readonly number[]): number[] {
  const BOUND_UNITS = bounds === PROMETHEUS_BUCKET_BOUNDS ? DEFAULT_BOUND_UNITS : bounds.map((b) => b * UNITS_PER_VALUE);
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
