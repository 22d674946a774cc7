// Any thread (pure; config time only). The bootstrap's stats_config, stats_sinks and stats_flush_interval, checked
// and compiled once into plain data. Envoy reads them once at start-up (a reload does not change them), and so does
// the primary (StatsHub.configure); compile-snapshot runs the same checks so `--mode validate` reports problems.

import { compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';
import { bool, list, num, obj, str, type Obj, type RouteConfigProblem } from '../router/config-values.ts';
import { DEFAULT_TAG_RULES } from './tag-rules.ts';

/** A stats_tags entry: a regex rule of its own, a default rule by name, or a fixed value on every stat. */
export type TagSpecifier =
  | { readonly kind: 'regex'; readonly tagName: string; readonly regex: string }
  | { readonly kind: 'default'; readonly tagName: string }
  | { readonly kind: 'fixed'; readonly tagName: string; readonly value: string };

/** stats_matcher: which stats exist (a rejected stat is not reported anywhere, as Envoy's null stats). */
export type StatsMatcherSettings =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'inclusion'; readonly patterns: readonly StringMatcher[] }
  | { readonly kind: 'exclusion'; readonly patterns: readonly StringMatcher[] };

export interface HistogramBucketRule {
  readonly match: StringMatcher;
  /** Ascending, unique. */
  readonly buckets: readonly number[];
}

export const StatsSinkKind = { STATSD: 'envoy.stat_sinks.statsd', DOG_STATSD: 'envoy.stat_sinks.dog_statsd' } as const;

export interface StatsSinkSettings {
  readonly kind: (typeof StatsSinkKind)[keyof typeof StatsSinkKind];
  readonly address: string;
  readonly port: number;
  /** Envoy's default: "envoy". */
  readonly prefix: string;
  /** DogStatsD: metrics packed per datagram up to this size; 0 = one metric per datagram (StatsD always). */
  readonly maxBytesPerDatagram: number;
}

export interface StatsSettings {
  /** stats_flush_interval: how often histograms are merged (interval values) and sinks are written. */
  readonly flushIntervalMs: number;
  readonly tagSpecifiers: readonly TagSpecifier[];
  readonly useAllDefaultTags: boolean;
  readonly matcher: StatsMatcherSettings;
  readonly histogramBuckets: readonly HistogramBucketRule[];
  readonly sinks: readonly StatsSinkSettings[];
  /** stats_server_version_override: server.version's value instead of the revision's; null when not set. */
  readonly serverVersionOverride: number | null;
  /** The bootstrap fields these came from, as text: a reload that changes them is told it has no effect. */
  readonly source: string;
}

/** Envoy's default stats_flush_interval. */
export const DEFAULT_FLUSH_INTERVAL_MS = 5000;

export const DEFAULT_STATS_SETTINGS: StatsSettings = Object.freeze<StatsSettings>({
  flushIntervalMs: DEFAULT_FLUSH_INTERVAL_MS,
  tagSpecifiers: [],
  useAllDefaultTags: true,
  matcher: { kind: 'all' },
  histogramBuckets: [],
  sinks: [],
  serverVersionOverride: null,
  source: sourceOf({}),
});

/** The bootstrap fields stats settings are read from, as text (Envoy reads them once; a reload cannot change them). */
export function sourceOf(bootstrap: Obj): string {
  return JSON.stringify([bootstrap['stats_config'], bootstrap['stats_sinks'], bootstrap['stats_flush_interval'], bootstrap['stats_server_version_override']]);
}

const STATSD_TYPE = 'type.googleapis.com/envoy.config.metrics.v3.StatsdSink';
const DOG_STATSD_TYPE = 'type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink';
const DEFAULT_TAG_NAMES: ReadonlySet<string> = new Set(DEFAULT_TAG_RULES.map((r) => r.tagName));

/** Envoy's tag name (`envoy.cluster_name`) as the label name Legate's rules use (`envoy_cluster_name`). */
export function labelNameOf(tagName: string): string {
  return tagName.replace(/[^A-Za-z0-9_]/g, '_');
}

export function compileStatsSettings(bootstrap: Obj): { settings: StatsSettings; problems: RouteConfigProblem[] } {
  const problems: RouteConfigProblem[] = [];
  const flush = bootstrap['stats_flush_interval'];
  let flushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS;
  if (flush !== undefined) {
    flushIntervalMs = num(flush, DEFAULT_FLUSH_INTERVAL_MS);
    // Envoy's PGV rule: at least 1 ms, under 300 s.
    if (flushIntervalMs < 1 || flushIntervalMs >= 300_000) {
      problems.push({ path: 'stats_flush_interval', message: 'must be at least 1ms and less than 300s' });
      flushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS;
    }
  }
  const sc = obj(bootstrap['stats_config']);
  const tagSpecifiers = compileTags(list(sc['stats_tags']), problems);
  const useAllDefaultTags = bool(sc['use_all_default_tags'], true);
  const matcher = compileMatcher(sc['stats_matcher'], problems);
  const histogramBuckets = compileBuckets(list(sc['histogram_bucket_settings']), problems);
  const sinks = compileSinks(list(bootstrap['stats_sinks']), problems);
  const override = bootstrap['stats_server_version_override'];
  const serverVersionOverride = override === undefined || override === null ? null : Number(override);
  const settings: StatsSettings = Object.freeze({
    flushIntervalMs, tagSpecifiers, useAllDefaultTags, matcher, histogramBuckets, sinks, serverVersionOverride, source: sourceOf(bootstrap),
  });
  return { settings, problems };
}

function compileTags(tags: unknown[], problems: RouteConfigProblem[]): TagSpecifier[] {
  const out: TagSpecifier[] = [];
  const seen = new Set<string>();
  tags.forEach((t, i) => {
    const path = `stats_config.stats_tags[${i}]`;
    const o = obj(t);
    const tagName = str(o['tag_name'], '');
    if (tagName === '') return problems.push({ path: `${path}.tag_name`, message: 'tag_name is required' });
    if (seen.has(tagName)) return problems.push({ path: `${path}.tag_name`, message: `tag '${tagName}' is given twice` });
    seen.add(tagName);
    if (o['fixed_value'] !== undefined) {
      out.push(Object.freeze({ kind: 'fixed', tagName, value: str(o['fixed_value'], '') }));
      return;
    }
    const regex = str(o['regex'], '');
    if (regex === '') {
      // A default tag by name keeps its default rule (e.g. with use_all_default_tags: false).
      if (!DEFAULT_TAG_NAMES.has(labelNameOf(tagName))) {
        return problems.push({ path: `${path}.regex`, message: `'${tagName}' is not one of Envoy's default tags: give a regex or a fixed_value` });
      }
      out.push(Object.freeze({ kind: 'default', tagName }));
      return;
    }
    try {
      new RegExp(regex, 'd');
    } catch (err) {
      return problems.push({ path: `${path}.regex`, message: `invalid regex: ${(err as Error).message}` });
    }
    if (!/\((?!\?)/.test(regex)) return problems.push({ path: `${path}.regex`, message: 'the regex needs a capture group (the part of the name the tag takes out)' });
    out.push(Object.freeze({ kind: 'regex', tagName, regex }));
    return;
  });
  return out;
}

function compileMatcher(m: unknown, problems: RouteConfigProblem[]): StatsMatcherSettings {
  if (m === undefined) return { kind: 'all' };
  const o = obj(m);
  const path = 'stats_config.stats_matcher';
  if (o['reject_all'] !== undefined) return o['reject_all'] === true ? { kind: 'none' } : { kind: 'all' };
  for (const which of ['inclusion_list', 'exclusion_list'] as const) {
    if (o[which] === undefined) continue;
    const patterns: StringMatcher[] = [];
    list(obj(o[which])['patterns']).forEach((p, i) => {
      const sm = compileStringMatcher(obj(p), `${path}.${which}.patterns[${i}]`, problems);
      if (sm !== null) patterns.push(sm);
    });
    return Object.freeze({ kind: which === 'inclusion_list' ? 'inclusion' : 'exclusion', patterns: Object.freeze(patterns) });
  }
  return { kind: 'all' };
}

function compileBuckets(settings: unknown[], problems: RouteConfigProblem[]): HistogramBucketRule[] {
  const out: HistogramBucketRule[] = [];
  settings.forEach((s, i) => {
    const path = `stats_config.histogram_bucket_settings[${i}]`;
    const o = obj(s);
    const match = compileStringMatcher(obj(o['match']), `${path}.match`, problems);
    const buckets = list(o['buckets']).map((b) => num(b, Number.NaN));
    if (buckets.length === 0) return problems.push({ path: `${path}.buckets`, message: 'at least one bucket is required' });
    for (let b = 0; b < buckets.length; b++) {
      if (!(buckets[b]! > 0)) return problems.push({ path: `${path}.buckets[${b}]`, message: 'a bucket bound must be greater than 0' });
    }
    const sorted = [...new Set(buckets)].sort((a, b) => a - b);
    if (match !== null) out.push(Object.freeze({ match, buckets: Object.freeze(sorted) }));
    return;
  });
  return out;
}

function compileSinks(sinks: unknown[], problems: RouteConfigProblem[]): StatsSinkSettings[] {
  const out: StatsSinkSettings[] = [];
  sinks.forEach((s, i) => {
    const path = `stats_sinks[${i}]`;
    const o = obj(s);
    const tc = obj(o['typed_config']);
    const type = str(tc['@type'], '');
    const kind = type === STATSD_TYPE ? StatsSinkKind.STATSD : type === DOG_STATSD_TYPE ? StatsSinkKind.DOG_STATSD : null;
    if (kind === null) return problems.push({ path: `${path}.typed_config`, message: `not supported yet: stats sink @type ${type === '' ? '(none)' : type}` });
    if (tc['tcp_cluster_name'] !== undefined) return problems.push({ path: `${path}.typed_config.tcp_cluster_name`, message: 'not supported yet: a statsd sink over TCP to a cluster' });
    const sa = obj(obj(tc['address'])['socket_address']);
    const address = str(sa['address'], '');
    const port = num(sa['port_value'], -1);
    if (address === '' || port < 1 || port > 65535) {
      return problems.push({ path: `${path}.typed_config.address`, message: 'a statsd sink needs address.socket_address with address and port_value' });
    }
    const prefix = str(tc['prefix'], '') === '' ? 'envoy' : str(tc['prefix'], '');
    const maxBytes = kind === StatsSinkKind.DOG_STATSD ? num(tc['max_bytes_per_datagram'], 0) : 0;
    out.push(Object.freeze({ kind, address, port, prefix, maxBytesPerDatagram: maxBytes }));
    return;
  });
  return out;
}
