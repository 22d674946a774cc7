// Any thread (pure). The query parameters of /stats and /stats/prometheus, parsed once per request:
// filter=<regex> (searched in the full name), usedonly, type=All|Counters|Gauges|Histograms, format, pretty.

import { StatKind } from './stat-kind.ts';
import type { MergedHistogram, MergedStats, MergedValue } from './merged-stats.ts';

export const StatsFormat = { TEXT: 'text', JSON: 'json', PROMETHEUS: 'prometheus' } as const;
export type StatsFormat = (typeof StatsFormat)[keyof typeof StatsFormat];

export const StatsType = { ALL: 'All', COUNTERS: 'Counters', GAUGES: 'Gauges', HISTOGRAMS: 'Histograms' } as const;
export type StatsType = (typeof StatsType)[keyof typeof StatsType];

export interface StatsQuery {
  readonly filter: RegExp | null;
  readonly usedOnly: boolean;
  readonly type: StatsType;
  readonly format: StatsFormat;
  readonly pretty: boolean;
}

export class StatsQueryError extends Error {
  override name = 'StatsQueryError';
  readonly code = 'STATS_BAD_QUERY';
}

const TYPES: readonly string[] = Object.values(StatsType);
const FORMATS: readonly string[] = Object.values(StatsFormat);

/** Throws StatsQueryError (answer 400) for a bad regex, type or format. */
export function parseStatsQuery(params: URLSearchParams, defaultFormat: StatsFormat = StatsFormat.TEXT): StatsQuery {
  const filterSource = params.get('filter');
  let filter: RegExp | null = null;
  if (filterSource !== null && filterSource !== '') {
    try {
      filter = new RegExp(filterSource);
    } catch (err) {
      throw new StatsQueryError(`Invalid regex: ${(err as Error).message}`);
    }
  }
  const type = params.get('type') ?? StatsType.ALL;
  if (!TYPES.includes(type)) throw new StatsQueryError(`invalid type '${type}': one of ${TYPES.join(', ')}`);
  const format = params.get('format') ?? defaultFormat;
  if (!FORMATS.includes(format)) throw new StatsQueryError(`invalid format '${format}': one of ${FORMATS.join(', ')}`);
  return Object.freeze({
    filter,
    usedOnly: params.has('usedonly'),
    type: type as StatsType,
    format: format as StatsFormat,
    pretty: params.has('pretty'),
  });
}

export function selectValues(stats: MergedStats, query: StatsQuery): MergedValue[] {
  if (query.type === StatsType.HISTOGRAMS) return [];
  const out: MergedValue[] = [];
  for (const v of stats.values) {
    if (query.type === StatsType.COUNTERS && v.info.kind !== StatKind.COUNTER) continue;
    if (query.type === StatsType.GAUGES && v.info.kind !== StatKind.GAUGE) continue;
    if (query.usedOnly && !v.used) continue;
    if (query.filter !== null && !query.filter.test(v.info.name)) continue;
    out.push(v);
  }
  return out;
}

export function selectHistograms(stats: MergedStats, query: StatsQuery): MergedHistogram[] {
  if (query.type !== StatsType.ALL && query.type !== StatsType.HISTOGRAMS) return [];
  const out: MergedHistogram[] = [];
  for (const h of stats.histograms) {
    if (query.usedOnly && !h.used) continue;
    if (query.filter !== null && !query.filter.test(h.info.name)) continue;
    out.push(h);
  }
  return out;
}
