// Any thread (pure). Envoy's /stats text: `name: value` for counters and gauges in name order, then each
// histogram as `name: P0(i,c) P25(i,c) … P100(i,c)` (interval: the last complete stats_flush_interval, printed
// `nan` when nothing was recorded in it; cumulative) or `name: No recorded values`.

import type { MergedStats } from './merged-stats.ts';
import type { HistogramSummary } from './histogram-accumulator.ts';
import { SUPPORTED_QUANTILES } from './histogram-settings.ts';
import { formatQuantile, formatStatValue, quantileLabel } from './number-format.ts';
import { selectHistograms, selectValues, type StatsQuery } from './stats-query.ts';

const LABELS: readonly string[] = SUPPORTED_QUANTILES.map(quantileLabel);

export function formatStatsText(stats: MergedStats, query: StatsQuery): string {
  const lines: string[] = [];
  for (const v of selectValues(stats, query)) lines.push(`${v.info.name}: ${formatStatValue(v.value)}`);
  for (const h of selectHistograms(stats, query)) lines.push(`${h.info.name}: ${histogramText(h.used, h.summary)}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export function histogramText(used: boolean, summary: HistogramSummary): string {
  if (!used) return 'No recorded values';
  const parts: string[] = [];
  for (let i = 0; i < LABELS.length; i++) {
    const iq = formatQuantile(summary.intervalQuantiles[i]!);
    const q = formatQuantile(summary.quantiles[i]!);
    parts.push(`P${LABELS[i]}(${iq},${q})`);
  }
  return parts.join(' ');
}
