// Any thread (pure). One read of every stat, summed over regions and merged over workers: what /stats,
// /stats?format=json and /stats/prometheus print. Built by SharedRegions.snapshot() on the primary.

import type { StatInfo } from './stat-registry.ts';
import type { HistogramSummary } from './histogram-accumulator.ts';

export interface MergedValue {
  readonly info: StatInfo;
  readonly value: number;
  /** Ever seen non-zero (Envoy's `used`, for ?usedonly). */
  readonly used: boolean;
}

export interface MergedHistogram {
  readonly info: StatInfo;
  readonly used: boolean;
  readonly summary: HistogramSummary;
}

export interface MergedStats {
  /** Counters and gauges, in name order. */
  readonly values: readonly MergedValue[];
  /** In name order. */
  readonly histograms: readonly MergedHistogram[];
}
