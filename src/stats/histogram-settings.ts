// Any thread (pure). One histogram configuration for workers and primary: a worker's delta must land in the same
// buckets on the primary, and the quantiles and Prometheus buckets printed are Envoy's.

import { Float64Histogram, Int32Histogram, type JsHistogram } from 'hdr-histogram-js';

/**
 * Values are recorded as integers in thousandths of the stat's unit (a latency of 0.25 ms is 250), so sub-unit
 * latencies are kept; outputs divide back.
 */
export const UNITS_PER_VALUE = 1000;

/**
 * Two significant digits (1% resolution, close to Envoy's circllhist) keeps one histogram near 15 KB even at
 * hour-long values; three digits would be about 100 KB per histogram per worker.
 */
export const SIGNIFICANT_DIGITS = 2;

/** Envoy's supported quantiles, printed as P0 … P100. */
export const SUPPORTED_QUANTILES: readonly number[] = Object.freeze([0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1]);

/** Envoy's default Prometheus bucket bounds (in the stat's unit). */
export const PROMETHEUS_BUCKET_BOUNDS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
]);

export function toHistogramUnits(value: number): number {
  // Negative and NaN values are impossible for durations and sizes: they count as zero rather than throw.
  return value > 0 ? Math.round(value * UNITS_PER_VALUE) : 0;
}

export function fromHistogramUnits(units: number): number {
  return units / UNITS_PER_VALUE;
}

/** A worker's interval histogram: Int32 counts (reset at every delta). */
export function newWorkerHistogram(): JsHistogram {
  const h = new Int32Histogram(1, 2, SIGNIFICANT_DIGITS);
  h.autoResize = true;
  return h;
}

/** The primary's cumulative histogram: Float64 counts never overflow over a long uptime. */
export function newCumulativeHistogram(): JsHistogram {
  const h = new Float64Histogram(1, 2, SIGNIFICANT_DIGITS);
  h.autoResize = true;
  return h;
}
