// Primary thread. The stat-name table: full name -> slot, kind, tag-extracted name and tags. Workers only ever
// see slot numbers (carried in the snapshot); the primary uses this table to name what it reads.

import type { ScopeSlots, StatScopeDefinition } from './definitions.ts';
import { GaugeImportMode, StatKind, statKindName } from './stat-kind.ts';
import { StatsError, StatsErrorCode } from './stats-error.ts';
import { TagProducer, type ExplicitTags, type StatTag } from './tag-extractor.ts';
import { DEFAULT_STATS_SETTINGS, labelNameOf, type StatsSettings } from './stats-config.ts';
import { PROMETHEUS_BUCKET_BOUNDS } from './histogram-settings.ts';
import { prometheusLabels, prometheusMetricName } from './prometheus-naming.ts';
import { RecentLookups } from './recent-lookups.ts';

/** Everything the formatters need to name one stat, computed once at allocation. */
export interface StatInfo {
  readonly name: string;
  readonly kind: StatKind;
  /** Value slot for counters and gauges, histogram slot for histograms. */
  readonly slot: number;
  readonly importMode: GaugeImportMode;
  readonly tagExtractedName: string;
  readonly tags: readonly StatTag[];
  readonly prometheusName: string;
  /** `a="1",b="2"` without braces; empty when there are no tags. */
  readonly prometheusLabels: string;
  /** stats_config.stats_matcher rejected it: it is never reported (Envoy's null stat). */
  readonly rejected: boolean;
  /** Shown only once non-zero (Envoy creates these lazily: upstream_rq_<code>, ssl.ciphers.<name>). */
  readonly hiddenUntilUsed: boolean;
  /** Histograms: the Prometheus bucket bounds (histogram_bucket_settings, else Envoy's defaults). */
  readonly buckets: readonly number[];
}

/** One Float64 per slot: 1 Mi slots is 8 MiB of address space per region, paid for only as slots are used. */
export const DEFAULT_MAX_VALUE_SLOTS = 1 << 20;

export interface StatRegistryOptions {
  /** How many counters and gauges the shared regions hold. Default DEFAULT_MAX_VALUE_SLOTS. */
  readonly maxValueSlots?: number;
  /** Envoy's --stats-tag: [name, value] tags every stat carries after its own (Prometheus labels). */
  readonly fixedTags?: readonly (readonly [string, string])[];
}

export class StatRegistry {
  readonly maxValueSlots: number;
  private readonly fixedTags: readonly StatTag[];
  private readonly byName = new Map<string, StatInfo>();
  private readonly valueInfos: StatInfo[] = [];
  private readonly histogramInfos: StatInfo[] = [];
  /** /stats/recentlookups: every name allocation is a lookup. */
  readonly recentLookups = new RecentLookups();
  private gaugeSlotsCache: Int32Array | null = null;
  private counterSlotsCache: Int32Array | null = null;
  private valueOrderCache: Int32Array | null = null;
  private histogramOrderCache: Int32Array | null = null;
  private producer: TagProducer;
  private settings: StatsSettings = DEFAULT_STATS_SETTINGS;
  /** What each name was allocated with, to derive its tags again when stats_config arrives. */
  private readonly explicitTags = new Map<string, ExplicitTags>();
  private readonly lazyNames = new Set<string>();

  constructor(options: StatRegistryOptions = {}) {
    this.maxValueSlots = options.maxValueSlots ?? DEFAULT_MAX_VALUE_SLOTS;
    this.fixedTags = (options.fixedTags ?? []).map(([name, value]) => Object.freeze({ name, value }));
    this.producer = new TagProducer();
  }

  /**
   * stats_config, read once at start-up (before any stat is written, after the server's own scopes exist): every
   * name allocated so far gets its tags, matcher verdict and buckets again; later names get them at allocation.
   */
  configure(settings: StatsSettings): void {
    this.settings = settings;
    const specs = settings.tagSpecifiers;
    this.producer = new TagProducer({
      regexRules: specs.flatMap((t) => (t.kind === 'regex' ? [[labelNameOf(t.tagName), t.regex] as const] : [])),
      useAllDefaultTags: settings.useAllDefaultTags,
      defaultTags: specs.flatMap((t) => (t.kind === 'default' ? [labelNameOf(t.tagName)] : [])),
      fixedTags: specs.flatMap((t) => (t.kind === 'fixed' ? [[labelNameOf(t.tagName), t.value] as const] : [])),
    });
    for (const table of [this.valueInfos, this.histogramInfos]) {
      for (let i = 0; i < table.length; i++) {
        const old = table[i]!;
        const info = this.describe(old.name, old.kind, old.slot, old.importMode);
        table[i] = info;
        this.byName.set(old.name, info);
      }
    }
  }

  /**
   * Slots for every stat of `def` under `prefix` (e.g. 'cluster.backend.'). The same full name always gets the
   * same slot, so a reload that allocates the same scope again gets the same numbers; new names get new slots.
   * `tags` are the values the caller knows (e.g. [['envoy_cluster_name', 'backend']]).
   */
  allocateScope<D extends StatScopeDefinition>(prefix: string, def: D, tags: ExplicitTags = []): ScopeSlots<D> {
    const p = prefix === '' || prefix.endsWith('.') ? prefix : `${prefix}.`;
    const slots: Record<string, number> = {};
    for (const n of def.counters) slots[n] = this.allocate(p + n, StatKind.COUNTER, tags, GaugeImportMode.ACCUMULATE);
    for (const n of def.gauges) slots[n] = this.allocate(p + n, StatKind.GAUGE, tags, GaugeImportMode.ACCUMULATE);
    for (const n of def.histograms) slots[n] = this.allocate(p + n, StatKind.HISTOGRAM, tags, GaugeImportMode.ACCUMULATE);
    if (def.hiddenUntilUsed !== undefined) {
      for (const n of def.hiddenUntilUsed) slots[n] = this.allocate(p + n, StatKind.COUNTER, tags, GaugeImportMode.ACCUMULATE, true);
    }
    return Object.freeze(slots) as ScopeSlots<D>;
  }

  /** A single counter by full name, e.g. 'http.ingress.downstream_rq_200'. Returns its value slot. */
  counter(name: string, tags: ExplicitTags = []): number {
    return this.allocate(name, StatKind.COUNTER, tags, GaugeImportMode.ACCUMULATE);
  }

  /** A single gauge by full name. Returns its value slot. */
  gauge(name: string, tags: ExplicitTags = [], importMode: GaugeImportMode = GaugeImportMode.ACCUMULATE): number {
    return this.allocate(name, StatKind.GAUGE, tags, importMode);
  }

  /** A single histogram by full name. Returns its histogram slot. */
  histogram(name: string, tags: ExplicitTags = []): number {
    return this.allocate(name, StatKind.HISTOGRAM, tags, GaugeImportMode.ACCUMULATE);
  }

  get valueSlotCount(): number {
    return this.valueInfos.length;
  }

  get histogramSlotCount(): number {
    return this.histogramInfos.length;
  }

  valueInfo(slot: number): StatInfo {
    return this.valueInfos[slot]!;
  }

  histogramInfo(slot: number): StatInfo {
    return this.histogramInfos[slot]!;
  }

  lookup(name: string): StatInfo | undefined {
    return this.byName.get(name);
  }

  /** Value slots that are gauges (zeroed in a dead worker's region). */
  gaugeSlots(): Int32Array {
    this.gaugeSlotsCache ??= this.valueSlotsOfKind(StatKind.GAUGE);
    return this.gaugeSlotsCache;
  }

  /** Value slots that are counters (zeroed by /reset_counters). */
  counterSlots(): Int32Array {
    this.counterSlotsCache ??= this.valueSlotsOfKind(StatKind.COUNTER);
    return this.counterSlotsCache;
  }

  private valueSlotsOfKind(kind: StatKind): Int32Array {
    const out: number[] = [];
    for (const info of this.valueInfos) if (info.kind === kind) out.push(info.slot);
    return Int32Array.from(out);
  }

  /** Counter and gauge slots in name order (byte order, as Envoy's /stats). */
  valueSlotsInNameOrder(): Int32Array {
    this.valueOrderCache ??= slotsByName(this.valueInfos);
    return this.valueOrderCache;
  }

  /** Histogram slots in name order. */
  histogramSlotsInNameOrder(): Int32Array {
    this.histogramOrderCache ??= slotsByName(this.histogramInfos);
    return this.histogramOrderCache;
  }

  /**
   * Lazily shown counters `prefix + name` for every name, as one run of consecutive slots: returns the first slot,
   * or -1 when some of the names already had slots elsewhere (then none is counted through the run).
   */
  lazyCounterRun(prefix: string, names: readonly string[], tags: ExplicitTags = []): number {
    let base = -1;
    for (let i = 0; i < names.length; i++) {
      const slot = this.allocate(prefix + names[i]!, StatKind.COUNTER, tags, GaugeImportMode.ACCUMULATE, true);
      if (i === 0) base = slot;
      else if (base !== -1 && slot !== base + i) base = -1;
    }
    return base;
  }

  /** A counter shown only once non-zero (a dynamic name Envoy would create at first use). */
  lazyCounter(name: string, tags: ExplicitTags = []): number {
    return this.allocate(name, StatKind.COUNTER, tags, GaugeImportMode.ACCUMULATE, true);
  }

  private allocate(name: string, kind: StatKind, tags: ExplicitTags, importMode: GaugeImportMode, lazy = false): number {
    this.recentLookups.lookup(name);
    const existing = this.byName.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind) {
        throw new StatsError(
          StatsErrorCode.KIND_CONFLICT,
          `stat '${name}' is already a ${statKindName(existing.kind)}, cannot also be a ${statKindName(kind)}`,
        );
      }
      return existing.slot;
    }
    validateName(name);
    const isHistogram = kind === StatKind.HISTOGRAM;
    const table = isHistogram ? this.histogramInfos : this.valueInfos;
    if (!isHistogram && table.length >= this.maxValueSlots) {
      throw new StatsError(
        StatsErrorCode.CAPACITY_EXCEEDED,
        `cannot add stat '${name}': all ${this.maxValueSlots} counter/gauge slots are in use (raise maxValueSlots)`,
      );
    }
    this.explicitTags.set(name, tags);
    if (lazy) this.lazyNames.add(name);
    const info = this.describe(name, kind, table.length, importMode);
    table.push(info);
    this.byName.set(name, info);
    if (isHistogram) {
      this.histogramOrderCache = null;
    } else {
      this.valueOrderCache = null;
      if (kind === StatKind.GAUGE) this.gaugeSlotsCache = null;
      else this.counterSlotsCache = null;
    }
    return info.slot;
  }

  private describe(name: string, kind: StatKind, slot: number, importMode: GaugeImportMode): StatInfo {
    const extracted = this.producer.extract(name, this.explicitTags.get(name) ?? []);
    const allTags = this.fixedTags.length === 0 ? extracted.tags : Object.freeze([...extracted.tags, ...this.fixedTags]);
    let buckets = PROMETHEUS_BUCKET_BOUNDS;
    if (kind === StatKind.HISTOGRAM) {
      const rule = this.settings.histogramBuckets.find((r) => r.match.match(name));
      if (rule !== undefined) buckets = rule.buckets;
    }
    return Object.freeze({
      name,
      kind,
      slot,
      importMode,
      tagExtractedName: extracted.tagExtractedName,
      tags: allTags,
      prometheusName: prometheusMetricName(extracted.tagExtractedName),
      prometheusLabels: prometheusLabels(allTags),
      rejected: isRejected(this.settings, name),
      hiddenUntilUsed: this.lazyNames.has(name),
      buckets,
    });
  }
}

function isRejected(settings: StatsSettings, name: string): boolean {
  const m = settings.matcher;
  switch (m.kind) {
    case 'none':
      return true;
    case 'inclusion':
      return !m.patterns.some((p) => p.match(name));
    case 'exclusion':
      return m.patterns.some((p) => p.match(name));
    default:
      return false;
  }
}

function validateName(name: string): void {
  if (name === '' || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    throw new StatsError(StatsErrorCode.INVALID_NAME, `'${name}' is not a stat name (empty, or an empty segment)`);
  }
}

function slotsByName(infos: readonly StatInfo[]): Int32Array {
  const order = Int32Array.from(infos, (i) => i.slot);
  order.sort((a, b) => {
    const x = infos[a]!.name;
    const y = infos[b]!.name;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return order;
}
