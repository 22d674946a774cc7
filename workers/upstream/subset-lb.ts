// Worker thread. Subset load balancing (Cluster.lb_subset_config), as Envoy's: each subset selector's keys divide
// the hosts that carry all of them (LbEndpoint metadata envoy.lb) into subsets by their values; a request whose
// route has metadata_match criteria for a selector's keys is balanced over that subset (with the cluster's
// lb_policy, priorities and panic threshold), else the selector's or the cluster's fallback policy applies.
// Built once per host-set change; chooseHost() is one map lookup of the route's precomputed key.

import type { Hash64 } from '../../src/common/xxhash64.ts';
import { lbValueKey, MetadataMatch, subsetKeyOf } from '../../src/router/metadata-match.ts';
import type { CompiledSubsetConfig, CompiledSubsetSelector } from '../../src/upstream/subset-config.ts';

/** What picks a host among one subset's hosts (the worker cluster's priority levels over them). */
export interface SubsetPicker<H> {
  chooseHost(hash: Hash64 | null, attempt: number): H | null;
}

/** cluster.<name>.lb_subsets_* slots and the worker's stats values they index. */
export interface SubsetStats {
  readonly values: { [slot: number]: number };
  readonly lb_subsets_active: number;
  readonly lb_subsets_created: number;
  readonly lb_subsets_removed: number;
  readonly lb_subsets_selected: number;
  readonly lb_subsets_fallback: number;
  readonly lb_subsets_fallback_panic: number;
  readonly lb_subsets_single_host_per_subset_duplicate: number;
}

/** The value keys a host has for `name`: one, or with list_as_any one per list element. */
function valueKeysOf(value: unknown, listAsAny: boolean): string[] {
  if (listAsAny && Array.isArray(value)) return value.map(lbValueKey);
  return [lbValueKey(value)];
}

/** Every subset key of `selector` a host with metadata `md` belongs to ([] when it lacks one of the keys). */
function subsetKeysOf(selector: CompiledSubsetSelector, md: Readonly<Record<string, unknown>>, listAsAny: boolean): string[] {
  let combos: string[][] = [[]];
  for (const key of selector.keys) {
    if (!Object.hasOwn(md, key)) return [];
    const values = valueKeysOf(md[key], listAsAny);
    const next: string[][] = [];
    for (const c of combos) for (const v of values) next.push([...c, v]);
    combos = next;
  }
  return combos.map((values) => subsetKeyOf(selector.keys, values));
}

/** Whether a host's metadata has every name/value of default_subset (list_as_any: a list containing it). */
function inDefaultSubset(config: CompiledSubsetConfig, md: Readonly<Record<string, unknown>> | undefined, listAsAny: boolean): boolean {
  const names = config.defaultSubsetNames;
  for (let i = 0; i < names.length; i++) {
    if (md === undefined || !Object.hasOwn(md, names[i]!)) return false;
    if (!valueKeysOf(md[names[i]!], listAsAny).includes(config.defaultSubsetValues[i]!)) return false;
  }
  return true;
}

export class SubsetLoadBalancer<H> {
  private readonly config: CompiledSubsetConfig;
  private readonly stats: SubsetStats;
  /** Subset key -> its picker; only subsets with hosts (Envoy's active subsets). */
  private readonly subsets: Map<string, SubsetPicker<H>>;
  /** A selector's key set -> the selector (the first one with those keys), for its fallback policy. */
  private readonly selectors: Map<string, CompiledSubsetSelector>;
  /** The cluster-level fallback: all hosts, the default subset, or none. */
  private readonly fallback: SubsetPicker<H> | null;
  private readonly anyEndpoint: SubsetPicker<H>;
  private readonly defaultSubset: SubsetPicker<H> | null;
  /** KEYS_SUBSET: a route's criteria -> the criteria cut to the selector's fallback keys (made on first miss). */
  private readonly reduced: Map<string, MetadataMatch>;
  /** Hosts left out by single_host_per_subset (the lb_subsets_single_host_per_subset_duplicate gauge). */
  private readonly duplicates: number;

  /**
   * `hosts`: the cluster's hosts; `metadataOf` a host's envoy.lb metadata; `picker` builds the balancer of a list of
   * hosts; `all` balances over every host (ANY_ENDPOINT); `previous`: the balancer this one replaces (subsets
   * created and removed are counted against it).
   */
  constructor(
    config: CompiledSubsetConfig, hosts: readonly H[], metadataOf: (host: H) => Readonly<Record<string, unknown>> | undefined,
    picker: (hosts: readonly H[]) => SubsetPicker<H>, all: SubsetPicker<H>, stats: SubsetStats, previous: SubsetLoadBalancer<H> | null,
  ) {
    this.config = config;
    this.stats = stats;
    this.selectors = new Map();
    this.reduced = new Map();
    this.anyEndpoint = all;
    const listAsAny = config.listAsAny;
    const members = new Map<string, H[]>();
    let duplicates = 0;
    for (const selector of config.selectors) {
      if (!this.selectors.has(selector.keySet)) this.selectors.set(selector.keySet, selector);
      const single = new Set<string>();
      for (const host of hosts) {
        const md = metadataOf(host);
        if (md === undefined) continue;
        for (const key of subsetKeysOf(selector, md, listAsAny)) {
          let list = members.get(key);
          if (list === undefined) {
            list = [];
            members.set(key, list);
          }
          if (selector.singleHostPerSubset) {
            // One host per subset: the first; the others are counted as unused duplicates.
            if (single.has(key)) {
              duplicates++;
              continue;
            }
            single.add(key);
          }
          if (!list.includes(host)) list.push(host);
        }
      }
    }
    this.subsets = new Map();
    for (const [key, list] of members) if (list.length > 0) this.subsets.set(key, picker(list));
    const defaults = hosts.filter((h) => inDefaultSubset(config, metadataOf(h), listAsAny));
    this.defaultSubset = defaults.length === 0 ? null : defaults.length === hosts.length ? all : picker(defaults);
    this.fallback = config.fallbackPolicy === 'ANY_ENDPOINT' ? all : config.fallbackPolicy === 'DEFAULT_SUBSET' ? this.defaultSubset : null;

    const values = stats.values;
    let created = 0;
    let removed = 0;
    for (const key of this.subsets.keys()) if (previous === null || !previous.subsets.has(key)) created++;
    if (previous !== null) for (const key of previous.subsets.keys()) if (!this.subsets.has(key)) removed++;
    values[stats.lb_subsets_created] += created;
    values[stats.lb_subsets_removed] += removed;
    values[stats.lb_subsets_active] += this.subsets.size - (previous === null ? 0 : previous.subsets.size);
    values[stats.lb_subsets_single_host_per_subset_duplicate] += duplicates - (previous === null ? 0 : previous.duplicates);
    this.duplicates = duplicates;
  }

  /** The balancer is going away for good (cluster removed or lb_subset_config dropped): its gauges go with it. */
  retire(): void {
    const values = this.stats.values;
    values[this.stats.lb_subsets_active] -= this.subsets.size;
    values[this.stats.lb_subsets_single_host_per_subset_duplicate] -= this.duplicates;
    values[this.stats.lb_subsets_removed] += this.subsets.size;
  }

  /**
   * The host for a request whose route has criteria `match` (null: none), or null (the request fails as if the
   * cluster had no host). Per request: one map lookup while the subset exists.
   */
  chooseHost(match: MetadataMatch | null, hash: Hash64 | null, attempt: number): H | null {
    if (match !== null) {
      const subset = this.subsets.get(match.key);
      if (subset !== undefined) {
        this.stats.values[this.stats.lb_subsets_selected]++;
        return subset.chooseHost(hash, attempt);
      }
      const selector = this.selectors.get(match.keySet);
      if (selector !== undefined && selector.fallbackPolicy !== 'NOT_DEFINED') return this.selectorFallback(selector, match, hash, attempt);
    }
    return this.clusterFallback(hash, attempt);
  }

  /** A selector's own fallback_policy (Envoy's selector fallback). */
  private selectorFallback(selector: CompiledSubsetSelector, match: MetadataMatch, hash: Hash64 | null, attempt: number): H | null {
    const values = this.stats.values;
    switch (selector.fallbackPolicy) {
      case 'NO_FALLBACK':
        return null;
      case 'ANY_ENDPOINT':
        values[this.stats.lb_subsets_fallback]++;
        return this.anyEndpoint.chooseHost(hash, attempt);
      case 'DEFAULT_SUBSET':
        values[this.stats.lb_subsets_fallback]++;
        return this.defaultSubset === null ? null : this.defaultSubset.chooseHost(hash, attempt);
      default:
        // KEYS_SUBSET: the same criteria cut to fallback_keys_subset, with that key set's own fallback.
        return this.chooseHost(this.reducedMatch(selector, match), hash, attempt);
    }
  }

  private reducedMatch(selector: CompiledSubsetSelector, match: MetadataMatch): MetadataMatch {
    let reduced = this.reduced.get(match.key);
    if (reduced === undefined) {
      const entries = new Map<string, string>();
      for (let i = 0; i < match.names.length; i++) {
        if (selector.fallbackKeysSubset.includes(match.names[i]!)) entries.set(match.names[i]!, match.valueKeys[i]!);
      }
      reduced = new MetadataMatch(entries);
      this.reduced.set(match.key, reduced);
    }
    return reduced;
  }

  private clusterFallback(hash: Hash64 | null, attempt: number): H | null {
    if (this.config.fallbackPolicy === 'NO_FALLBACK') return null;
    const values = this.stats.values;
    const host = this.fallback === null ? null : this.fallback.chooseHost(hash, attempt);
    if (host !== null) {
      values[this.stats.lb_subsets_fallback]++;
      return host;
    }
    if (!this.config.panicModeAny) return null;
    // panic_mode_any: the fallback had no host (an empty default subset): any host of the cluster.
    const any = this.anyEndpoint.chooseHost(hash, attempt);
    if (any !== null) values[this.stats.lb_subsets_fallback_panic]++;
    return any;
  }

  /** The number of subsets with hosts (tests). */
  get activeSubsets(): number {
    return this.subsets.size;
  }
}
