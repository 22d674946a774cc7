// Any thread (pure; compiled at config time, read per request on a worker). RouteAction.metadata_match (and a
// weighted cluster entry's): the `envoy.lb` criteria a subset load balancer (workers/upstream/subset-lb.ts) finds
// a subset of hosts by. Criteria and host metadata meet in one string encoding, so a request's subset is one map
// lookup of a key precomputed here.

import { isObj, obj, type RouteConfigProblem } from './config-values.ts';

/** The filter_metadata namespace subset load balancing reads, as Envoy's. */
export const LB_METADATA_NAMESPACE = 'envoy.lb';

const SEPARATOR = '\u0001';

/**
 * A metadata value as a comparable string: JSON with object keys sorted, so 1 and "1" differ (as protobuf Values
 * do) and equal structs are equal.
 */
export function lbValueKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(lbValueKey).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${lbValueKey(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** The subset key of name/value-key pairs sorted by name: the same string for the same criteria, wherever built. */
export function subsetKeyOf(names: readonly string[], valueKeys: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) out += (i === 0 ? '' : SEPARATOR) + names[i]! + '=' + valueKeys[i]!;
  return out;
}

/** The key of a set of metadata names (sorted): which subset selector criteria belong to. */
export function keySetOf(sortedNames: readonly string[]): string {
  return sortedNames.join(SEPARATOR);
}

/** Compiled criteria, sorted by name, frozen. */
export class MetadataMatch {
  readonly names: readonly string[];
  readonly valueKeys: readonly string[];
  /** subsetKeyOf(names, valueKeys): the subset's key. */
  readonly key: string;
  /** keySetOf(names): the selector these criteria address. */
  readonly keySet: string;

  constructor(entries: ReadonlyMap<string, string>) {
    const names = [...entries.keys()].sort();
    this.names = Object.freeze(names);
    this.valueKeys = Object.freeze(names.map((n) => entries.get(n)!));
    this.key = subsetKeyOf(this.names, this.valueKeys);
    this.keySet = keySetOf(this.names);
    Object.freeze(this);
  }

  /** Name -> value key (for merging). */
  entries(): Map<string, string> {
    const m = new Map<string, string>();
    for (let i = 0; i < this.names.length; i++) m.set(this.names[i]!, this.valueKeys[i]!);
    return m;
  }
}

/**
 * A Metadata message's `envoy.lb` criteria (`m` at `path`); null when it names none (other namespaces are not
 * read by the router, as Envoy).
 */
export function compileMetadataMatch(m: unknown, path: string, problems: RouteConfigProblem[]): MetadataMatch | null {
  if (m === undefined || m === null) return null;
  if (!isObj(m)) {
    problems.push({ path, message: 'metadata_match must be a Metadata message (filter_metadata)' });
    return null;
  }
  const ns = obj(m['filter_metadata'])[LB_METADATA_NAMESPACE];
  if (ns === undefined) return null;
  if (!isObj(ns)) {
    problems.push({ path: `${path}.filter_metadata["${LB_METADATA_NAMESPACE}"]`, message: 'must be a struct of metadata keys and values' });
    return null;
  }
  const entries = new Map<string, string>();
  for (const k of Object.keys(ns)) entries.set(k, lbValueKey(ns[k]));
  return entries.size === 0 ? null : new MetadataMatch(entries);
}

/** Envoy's mergeMatchCriteria: a weighted cluster entry's criteria over its route's (the entry's value wins per name). */
export function mergeMetadataMatch(route: MetadataMatch | null, entry: MetadataMatch | null): MetadataMatch | null {
  if (entry === null) return route;
  if (route === null) return entry;
  const merged = route.entries();
  for (const [k, v] of entry.entries()) merged.set(k, v);
  return new MetadataMatch(merged);
}
