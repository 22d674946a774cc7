// Any thread (pure). The query parameters of /stats and /stats/prometheus, parsed once per request:
// filter=<regex> (searched in the full name), usedonly, type=All|Counters|Gauges|Histograms, format, pretty.
// The filter is RE2, as Envoy's, and runs in time linear in each name (src/router/re2.ts): an operator's pattern
// cannot stall the primary with backtracking.

import { StatKind } from './stat-kind.ts';
import { compileRe2, type Re2Limit, type Re2Regex } from '../router/re2.ts';
import type { MergedHistogram, MergedStats, MergedValue } from './merged-stats.ts';

export const StatsFormat = { TEXT: 'text', JSON: 'json', PROMETHEUS: 'prometheus' } as const;
export type StatsFormat = (typeof StatsFormat)[keyof typeof StatsFormat];

export const StatsType = { ALL: 'All', COUNTERS: 'Counters', GAUGES: 'Gauges', HISTOGRAMS: 'Histograms' } as const;
export type StatsType = (typeof StatsType)[keyof typeof StatsType];

export interface StatsQuery {
  /** A partial match of the pattern (RE2 semantics), as a whole-name match of `.*(?:pattern).*`. */
  readonly filter: Re2Regex | null;
  readonly usedOnly: boolean;
  readonly type: StatsType;
  readonly format: StatsFormat;
  readonly pretty: boolean;
}

export class StatsQueryError extends Error {
  override name = 'StatsQueryError';
  readonly code = 'STATS_BAD_QUERY';
}

/** An admin's filter is not a per-request pattern: allow far bigger programs than a route's default of 100. */
const FILTER_LIMIT: Re2Limit = Object.freeze({ maxProgramSize: 10_000, configured: true });

const TYPES: readonly string[] = Object.values(StatsType);
const FORMATS: readonly string[] = Object.values(StatsFormat);

/** Throws StatsQueryError (answer 400) for a bad regex, type or format. */
export function parseStatsQuery(params: URLSearchParams, defaultFormat: StatsFormat = StatsFormat.TEXT): StatsQuery {
  const filterSource = params.get('filter');
  let filter: Re2Regex | null = null;
  if (filterSource !== null && filterSource !== '') {
    // Checked on its own first, so an unbalanced pattern cannot close the wrapper's group.
    const alone = compileRe2(filterSource, FILTER_LIMIT);
    if (typeof alone === 'string') throw new StatsQueryError(`Invalid regex: ${alone}`);
    const compiled = compileRe2(`.*(?:${filterSource}).*`, FILTER_LIMIT);
    if (typeof compiled === 'string') throw new StatsQueryError(`Invalid regex: ${compiled}`);
    filter = compiled;
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
    if (query.filter !== null && !query.filter.fullMatch(v.info.name)) continue;
    out.push(v);
  }
  return out;
}

export function selectHistograms(stats: MergedStats, query: StatsQuery): MergedHistogram[] {
  if (query.type !== StatsType.ALL && query.type !== StatsType.HISTOGRAMS) return [];
  const out: MergedHistogram[] = [];
  for (const h of stats.histograms) {
    if (query.usedOnly && !h.used) continue;
    if (query.filter !== null && !query.filter.fullMatch(h.info.name)) continue;
    out.push(h);
  }
  return out;
}
