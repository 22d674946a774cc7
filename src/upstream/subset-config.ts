// Any thread (pure; the primary runs it at compile time). Cluster.lb_subset_config -> plain data the workers build
// their subset load balancers from (workers/upstream/subset-lb.ts). Fields Legate does not implement are refused
// as "not supported yet" with their position.

import { keySetOf, lbValueKey, LB_METADATA_NAMESPACE } from '../router/metadata-match.ts';

type Obj = Record<string, unknown>;

/** Cluster-level LbSubsetFallbackPolicy. */
export type SubsetFallbackPolicy = 'NO_FALLBACK' | 'ANY_ENDPOINT' | 'DEFAULT_SUBSET';
/** LbSubsetSelector.LbSubsetSelectorFallbackPolicy. */
export type SelectorFallbackPolicy = 'NOT_DEFINED' | 'NO_FALLBACK' | 'ANY_ENDPOINT' | 'DEFAULT_SUBSET' | 'KEYS_SUBSET';

export interface CompiledSubsetSelector {
  /** keys, sorted and unique. */
  keys: string[];
  /** keySetOf(keys): what a route's criteria are matched to a selector by. */
  keySet: string;
  fallbackPolicy: SelectorFallbackPolicy;
  /** KEYS_SUBSET: fallback_keys_subset, sorted (a proper subset of keys). */
  fallbackKeysSubset: string[];
  singleHostPerSubset: boolean;
}

export interface CompiledSubsetConfig {
  fallbackPolicy: SubsetFallbackPolicy;
  /** default_subset as names (sorted) and value keys (lbValueKey): a host is in it when all match. */
  defaultSubsetNames: string[];
  defaultSubsetValues: string[];
  selectors: CompiledSubsetSelector[];
  panicModeAny: boolean;
  listAsAny: boolean;
}

export interface SubsetProblem {
  code: 'not_supported' | 'bad_value';
  path: string;
  message: string;
}

const SUBSET_FIELDS = new Set([
  'fallback_policy', 'default_subset', 'subset_selectors', 'panic_mode_any', 'list_as_any',
  'locality_weight_aware', 'scale_locality_weight', 'metadata_fallback_policy',
]);
const SELECTOR_FIELDS = new Set(['keys', 'single_host_per_subset', 'fallback_policy', 'fallback_keys_subset']);
const FALLBACKS: readonly string[] = ['NO_FALLBACK', 'ANY_ENDPOINT', 'DEFAULT_SUBSET'];
const SELECTOR_FALLBACKS: readonly string[] = ['NOT_DEFINED', 'NO_FALLBACK', 'ANY_ENDPOINT', 'DEFAULT_SUBSET', 'KEYS_SUBSET'];

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => String(x)) : [];
}

/** lb_subset_config of cluster `c` (at `path`); null when absent. `lbPolicy` is the cluster's compiled policy. */
export function compileSubsetConfig(c: Obj, path: string, problems: SubsetProblem[]): CompiledSubsetConfig | null {
  const v = c['lb_subset_config'];
  if (v === undefined || v === null) return null;
  const at = `${path}.lb_subset_config`;
  if (!isObj(v)) {
    problems.push({ code: 'bad_value', path: at, message: 'lb_subset_config must be a message' });
    return null;
  }
  for (const key of Object.keys(v)) {
    if (!SUBSET_FIELDS.has(key)) problems.push({ code: 'not_supported', path: `${at}.${key}`, message: `'${key}' is not supported yet` });
  }
  // Locality-aware subsets need per-subset locality weighting: refused rather than ignored.
  for (const key of ['locality_weight_aware', 'scale_locality_weight']) {
    if (v[key] === true) problems.push({ code: 'not_supported', path: `${at}.${key}`, message: `'${key}' is not supported yet` });
  }
  if (v['metadata_fallback_policy'] !== undefined && v['metadata_fallback_policy'] !== 'METADATA_NO_FALLBACK') {
    problems.push({ code: 'not_supported', path: `${at}.metadata_fallback_policy`, message: `metadata_fallback_policy ${String(v['metadata_fallback_policy'])} is not supported yet (only METADATA_NO_FALLBACK)` });
  }
  const fallbackPolicy = v['fallback_policy'] === undefined ? 'NO_FALLBACK' : String(v['fallback_policy']);
  if (!FALLBACKS.includes(fallbackPolicy)) problems.push({ code: 'bad_value', path: `${at}.fallback_policy`, message: `unknown fallback_policy ${fallbackPolicy}` });
  const defaults = v['default_subset'] === undefined ? {} : v['default_subset'];
  if (!isObj(defaults)) problems.push({ code: 'bad_value', path: `${at}.default_subset`, message: 'default_subset must be a struct' });
  const defaultSubsetNames = isObj(defaults) ? Object.keys(defaults).sort() : [];
  const defaultSubsetValues = defaultSubsetNames.map((n) => lbValueKey((defaults as Obj)[n]));
  const selectors: CompiledSubsetSelector[] = [];
  const rawSelectors = Array.isArray(v['subset_selectors']) ? v['subset_selectors'] : [];
  rawSelectors.forEach((raw, i) => {
    const sp = `${at}.subset_selectors[${i}]`;
    const s = isObj(raw) ? raw : {};
    for (const key of Object.keys(s)) {
      if (!SELECTOR_FIELDS.has(key)) problems.push({ code: 'not_supported', path: `${sp}.${key}`, message: `'${key}' is not supported yet` });
    }
    const keys = [...new Set(strings(s['keys']))].sort();
    if (keys.length === 0) problems.push({ code: 'bad_value', path: `${sp}.keys`, message: 'a subset selector needs at least one key' });
    const policy = s['fallback_policy'] === undefined ? 'NOT_DEFINED' : String(s['fallback_policy']);
    if (!SELECTOR_FALLBACKS.includes(policy)) problems.push({ code: 'bad_value', path: `${sp}.fallback_policy`, message: `unknown fallback_policy ${policy}` });
    const fallbackKeysSubset = [...new Set(strings(s['fallback_keys_subset']))].sort();
    if (policy === 'KEYS_SUBSET') {
      // As Envoy: a non-empty proper subset of the selector's keys.
      if (fallbackKeysSubset.length === 0) problems.push({ code: 'bad_value', path: `${sp}.fallback_keys_subset`, message: 'fallback_keys_subset must not be empty with fallback_policy KEYS_SUBSET' });
      else if (fallbackKeysSubset.some((k) => !keys.includes(k))) problems.push({ code: 'bad_value', path: `${sp}.fallback_keys_subset`, message: 'fallback_keys_subset must be a subset of the selector keys' });
      else if (fallbackKeysSubset.length === keys.length) problems.push({ code: 'bad_value', path: `${sp}.fallback_keys_subset`, message: 'fallback_keys_subset cannot be equal to the selector keys' });
    }
    selectors.push({ keys, keySet: keySetOf(keys), fallbackPolicy: policy as SelectorFallbackPolicy, fallbackKeysSubset, singleHostPerSubset: s['single_host_per_subset'] === true });
  });
  return {
    fallbackPolicy: fallbackPolicy as SubsetFallbackPolicy,
    defaultSubsetNames,
    defaultSubsetValues,
    selectors,
    panicModeAny: v['panic_mode_any'] === true,
    listAsAny: v['list_as_any'] === true,
  };
}

/** An LbEndpoint's metadata.filter_metadata["envoy.lb"], as given (plain JSON); null when it has none. */
export function endpointLbMetadata(lbe: Obj): Record<string, unknown> | null {
  const md = lbe['metadata'];
  if (!isObj(md)) return null;
  const fm = md['filter_metadata'];
  if (!isObj(fm)) return null;
  const ns = fm[LB_METADATA_NAMESPACE];
  return isObj(ns) && Object.keys(ns).length > 0 ? ns : null;
}
