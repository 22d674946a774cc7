// Any thread. Latency recording for load benchmarks: an HdrHistogram in whole microseconds (autocannon's own
// histogram holds whole milliseconds, too coarse for a proxy that adds tens of microseconds).

import { Int32Histogram, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { curvePercentiles } from './percentile-plot.ts';

/** 3 significant digits: 0.1% resolution, the HdrHistogram default for latency reports. */
const SIGNIFICANT_DIGITS = 3;

export interface LatencySummary {
  /** Number of recorded values. */
  readonly count: number;
  readonly minUs: number;
  readonly meanUs: number;
  readonly stdevUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** [percentile 0..100, latency µs] pairs for a percentile plot. */
export type PercentileCurve = (readonly [number, number])[];

export class LatencyRecorder {
  readonly histogram: Histogram;
  /**
   * Expected µs between two requests of one connection when the load is rate-limited (0 = closed loop). Values
   * longer than that are back-filled (HdrHistogram's coordinated-omission correction), as autocannon does.
   */
  private readonly expectedIntervalUs: number;

  constructor(expectedIntervalUs = 0) {
    this.histogram = new Int32Histogram(1, 2, SIGNIFICANT_DIGITS);
    this.histogram.autoResize = true;
    this.expectedIntervalUs = expectedIntervalUs;
  }

  /** Records one latency given in (fractional) milliseconds, as autocannon's `response` event reports it. */
  recordMs(ms: number): void {
    const us = ms > 0 ? Math.max(1, Math.round(ms * 1000)) : 1;
    if (this.expectedIntervalUs > 0) this.histogram.recordValueWithExpectedInterval(us, this.expectedIntervalUs);
    else this.histogram.recordValue(us);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    return summarizeHistogram(this.histogram);
  }

  curve(): PercentileCurve {
    return histogramCurve(this.histogram);
  }

  /** The whole histogram, HdrHistogram's compressed base64 form (decode with decodeFromCompressedBase64). */
  encoded(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }
}

export function summarizeHistogram(h: Histogram): LatencySummary {
  if (h.totalCount === 0) {
    return { count: 0, minUs: NaN, meanUs: NaN, stdevUs: NaN, p50Us: NaN, p90Us: NaN, p99Us: NaN, p999Us: NaN, maxUs: NaN };
  }
  // A percentile is its bucket's highest equivalent value, which can lie above the largest value recorded: never
  // report a p99.9 above the max.
  const max = h.maxValue;
  return {
    count: h.totalCount,
    minUs: h.minNonZeroValue,
    meanUs: round1(h.mean),
    stdevUs: round1(h.stdDeviation),
    p50Us: Math.min(h.getValueAtPercentile(50), max),
    p90Us: Math.min(h.getValueAtPercentile(90), max),
    p99Us: Math.min(h.getValueAtPercentile(99), max),
    p999Us: Math.min(h.getValueAtPercentile(99.9), max),
    maxUs: max,
  };
}

/** Curve points from p0 to the last percentile the sample size resolves (see curvePercentiles). */
export function histogramCurve(h: Histogram): PercentileCurve {
  if (h.totalCount === 0) return [];
  const out: PercentileCurve = [];
  for (const p of curvePercentiles(h.totalCount)) out.push([p, h.getValueAtPercentile(p)]);
  return out;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
