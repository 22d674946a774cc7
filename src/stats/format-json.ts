// Any thread (pure). Envoy's /stats?format=json:
//   {"stats":[{"name":..,"value":..}, …, {"histograms":{"supported_quantiles":[0,25,…,100],
//     "computed_quantiles":[{"name":..,"values":[{"interval":..,"cumulative":..}, …]}]}}]}
// The histograms entry is present only when some histogram is selected; a quantile with nothing recorded is
// null. Interval: the last complete stats_flush_interval.

import type { MergedStats } from './merged-stats.ts';
import { SUPPORTED_QUANTILES } from './histogram-settings.ts';
import { selectHistograms, selectValues, type StatsQuery } from './stats-query.ts';

interface JsonQuantileValue {
  interval: number | null;
  cumulative: number | null;
}

const SUPPORTED_PERCENTS: readonly number[] = SUPPORTED_QUANTILES.map((q) => Math.round(q * 100 * 1000) / 1000);

export function formatStatsJson(stats: MergedStats, query: StatsQuery): string {
  const entries: object[] = [];
  for (const v of selectValues(stats, query)) entries.push({ name: v.info.name, value: v.value });
  const histograms = selectHistograms(stats, query);
  if (histograms.length > 0) {
    const computed: object[] = [];
    for (const h of histograms) {
      const values: JsonQuantileValue[] = [];
      const s = h.summary;
      for (let i = 0; i < s.quantiles.length; i++) {
        const q = s.quantiles[i]!;
        const iq = s.intervalQuantiles[i]!;
        values.push({ interval: Number.isNaN(iq) ? null : iq, cumulative: Number.isNaN(q) ? null : q });
      }
      computed.push({ name: h.info.name, values });
    }
    entries.push({ histograms: { supported_quantiles: SUPPORTED_PERCENTS, computed_quantiles: computed } });
  }
  return JSON.stringify({ stats: entries }, null, query.pretty ? 2 : undefined);
}
