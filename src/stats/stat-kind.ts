// Any thread (pure). The kinds of stat and how a gauge combines across regions.

/** Counters and gauges share one slot numbering (one Float64 per slot per region); histograms have their own. */
export const StatKind = { COUNTER: 0, GAUGE: 1, HISTOGRAM: 2 } as const;
export type StatKind = (typeof StatKind)[keyof typeof StatKind];

/**
 * How the primary combines a gauge's regions. Envoy's default, Accumulate, is a sum: each worker adds its own
 * share (its connections, its requests). No other mode is needed yet.
 */
export const GaugeImportMode = { ACCUMULATE: 0 } as const;
export type GaugeImportMode = (typeof GaugeImportMode)[keyof typeof GaugeImportMode];

export function statKindName(kind: StatKind): 'counter' | 'gauge' | 'histogram' {
  return kind === StatKind.COUNTER ? 'counter' : kind === StatKind.GAUGE ? 'gauge' : 'histogram';
}
