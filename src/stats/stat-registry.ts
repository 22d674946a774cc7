// Primary thread. The stat-name table: full name -> slot, kind, tag-extracted name and tags. Workers only ever
// see slot numbers (carried in the snapshot); the primary uses this table to name what it reads.

import type { ScopeSlots, StatScopeDefinition } from './definitions.ts';
import { GaugeImportMode, StatKind, statKindName } from './stat-kind.ts';
import { StatsError, StatsErrorCode } from './stats-error.ts';
import { extractTags, type ExplicitTags, type StatTag } from './tag-extractor.ts';
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

  constructor(options: StatRegistryOptions = {}) {
    this.maxValueSlots = options.maxValueSlots ?? DEFAULT_MAX_VALUE_SLOTS;
    this.fixedTags = (options.fixedTags ?? []).map(([name, value]) => Object.freeze({ name, value }));
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

  private allocate(name: string, kind: StatKind, tags: ExplicitTags, importMode: GaugeImportMode): number {
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
    const extracted = extractTags(name, tags);
    const allTags = this.fixedTags.length === 0 ? extracted.tags : Object.freeze([...extracted.tags, ...this.fixedTags]);
    const info: StatInfo = Object.freeze({
      name,
      kind,
      slot: table.length,
      importMode,
      tagExtractedName: extracted.tagExtractedName,
      tags: allTags,
      prometheusName: prometheusMetricName(extracted.tagExtractedName),
      prometheusLabels: prometheusLabels(allTags),
    });
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
