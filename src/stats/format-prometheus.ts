// Any thread (pure). Envoy's /stats/prometheus: counters, then gauges, then histograms; within each, one group
// per metric name (tag-extracted name order) with a `# TYPE` line, its series in stat-name order, and a blank
// line. Histograms are Prometheus histograms over the stat's bucket bounds (histogram_bucket_settings, else
// Envoy's defaults): cumulative `_bucket{le=..}`, `+Inf`, `_sum`, `_count`.

import type { MergedHistogram, MergedStats, MergedValue } from './merged-stats.ts';
import { PROMETHEUS_BUCKET_BOUNDS } from './histogram-settings.ts';
import { StatKind } from './stat-kind.ts';
import { formatG32, formatStatValue } from './number-format.ts';
import { selectHistograms, selectValues, type StatsQuery } from './stats-query.ts';
import type { StatInfo } from './stat-registry.ts';

const DEFAULT_BOUND_TEXT: readonly string[] = PROMETHEUS_BUCKET_BOUNDS.map(formatG32);

export function formatStatsPrometheus(stats: MergedStats, query: StatsQuery): string {
  const values = selectValues(stats, query);
  let out = '';
  out += valueGroups(values.filter((v) => v.info.kind === StatKind.COUNTER), 'counter');
  out += valueGroups(values.filter((v) => v.info.kind === StatKind.GAUGE), 'gauge');
  out += histogramGroups(selectHistograms(stats, query));
  return out;
}

function valueGroups(values: MergedValue[], type: string): string {
  let out = '';
  for (const group of groupByMetric(values)) {
    out += `# TYPE ${group[0]!.info.prometheusName} ${type}\n`;
    for (const v of group) out += `${v.info.prometheusName}{${v.info.prometheusLabels}} ${formatStatValue(v.value)}\n`;
    out += '\n';
  }
  return out;
}

function histogramGroups(histograms: MergedHistogram[]): string {
  let out = '';
  for (const group of groupByMetric(histograms)) {
    const name = group[0]!.info.prometheusName;
    out += `# TYPE ${name} histogram\n`;
    for (const h of group) {
      const labels = h.info.prometheusLabels;
      const bucketLabels = labels === '' ? '' : `${labels},`;
      const s = h.summary;
      const BOUND_TEXT = h.info.buckets === PROMETHEUS_BUCKET_BOUNDS ? DEFAULT_BOUND_TEXT : h.info.buckets.map(formatG32);
      for (let i = 0; i < BOUND_TEXT.length; i++) {
        out += `${name}_bucket{${bucketLabels}le="${BOUND_TEXT[i]}"} ${s.bucketCounts[i]}\n`;
      }
      out += `${name}_bucket{${bucketLabels}le="+Inf"} ${s.count}\n`;
      out += `${name}_sum{${labels}} ${formatG32(s.sum)}\n`;
      out += `${name}_count{${labels}} ${s.count}\n`;
    }
    out += '\n';
  }
  return out;
}

/** Groups by tag-extracted name, groups and members in Envoy's stat-name order (segment by segment). */
function groupByMetric<T extends { readonly info: StatInfo }>(items: T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = item.info.tagExtractedName;
    let g = groups.get(key);
    if (g === undefined) {
      g = [];
      groups.set(key, g);
    }
    g.push(item);
  }
  const keys = [...groups.keys()].sort(compareStatNames);
  const out: T[][] = [];
  for (const k of keys) out.push(groups.get(k)!.sort((a, b) => compareStatNames(a.info.name, b.info.name)));
  return out;
}

/**
 * Envoy's StatName order: segment by segment, a shorter segment first when one is a prefix of the other. Same
 * as treating '.' as lower than every other character: `cluster.a.x` < `cluster.a-b.x`.
 */
export function compareStatNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 46) return -1;
    if (y === 46) return 1;
    return x - y;
  }
  return a.length - b.length;
}
