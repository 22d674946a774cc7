// Any thread (pure; config time). A cluster's `cluster_type` (a custom cluster extension by Envoy name):
// envoy.clusters.aggregate with its ClusterConfig{clusters} and envoy.clusters.dynamic_forward_proxy with its
// ClusterConfig{dns_cache_config, allow_insecure_cluster_options} are compiled here; every other type is refused as
// not supported yet, with its position.

import { compileDnsCacheConfig, type DnsCacheConfigProblem, type DnsCacheSettings } from '../common/dns-cache-config.ts';

type Obj = Record<string, unknown>;

export interface ClusterTypeProblem {
  code: 'not_supported' | 'bad_value' | 'missing_field';
  path: string;
  message: string;
}

export interface CompiledClusterType {
  /** envoy.clusters.aggregate: the member cluster names in priority (failover) order; null for no aggregate. */
  aggregateClusters: readonly string[] | null;
  /** envoy.clusters.dynamic_forward_proxy: its DNS cache (shared by name with the filter's); null otherwise. */
  dynamicForwardProxy: DfpClusterSettings | null;
  problems: ClusterTypeProblem[];
}

export interface DfpClusterSettings {
  cache: DnsCacheSettings;
  allowInsecureClusterOptions: boolean;
}

export const DFP_CLUSTER_NAME = 'envoy.clusters.dynamic_forward_proxy';
const DFP_CONFIG_TYPE = 'type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig';

export const AGGREGATE_CLUSTER_NAME = 'envoy.clusters.aggregate';
const AGGREGATE_CONFIG_TYPE = 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig';

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `c` is the cluster message; `path` points at its cluster_type. */
export function compileClusterType(c: Obj, path: string): CompiledClusterType {
  const problems: ClusterTypeProblem[] = [];
  const ct = c['cluster_type'];
  if (!isObj(ct)) {
    problems.push({ code: 'bad_value', path, message: 'cluster_type must be a message with name and typed_config' });
    return { aggregateClusters: null, dynamicForwardProxy: null, problems };
  }
  const name = typeof ct['name'] === 'string' ? ct['name'] : '';
  const typed = isObj(ct['typed_config']) ? ct['typed_config'] : {};
  const typeUrl = typeof typed['@type'] === 'string' ? typed['@type'] : '';
  if (name === DFP_CLUSTER_NAME || typeUrl === DFP_CONFIG_TYPE) {
    for (const key of Object.keys(typed)) {
      if (key !== '@type' && key !== 'dns_cache_config' && key !== 'allow_insecure_cluster_options') {
        problems.push({ code: 'not_supported', path: `${path}.typed_config.${key}`, message: `'${key}' is not supported yet` });
      }
    }
    const cacheProblems: DnsCacheConfigProblem[] = [];
    const cache = compileDnsCacheConfig(typed['dns_cache_config'], `${path}.typed_config.dns_cache_config`, cacheProblems);
    for (const cp of cacheProblems) problems.push({ code: cp.code ?? 'bad_value', path: cp.path, message: cp.message });
    const dfp: DfpClusterSettings = Object.freeze({ cache, allowInsecureClusterOptions: typed['allow_insecure_cluster_options'] === true });
    return { aggregateClusters: null, dynamicForwardProxy: dfp, problems };
  }
  if (name !== AGGREGATE_CLUSTER_NAME && typeUrl !== AGGREGATE_CONFIG_TYPE) {
    problems.push({ code: 'not_supported', path, message: `the cluster type ${name === '' ? typeUrl : name} is not supported yet (Legate has ${AGGREGATE_CLUSTER_NAME}, ${DFP_CLUSTER_NAME})` });
    return { aggregateClusters: null, dynamicForwardProxy: null, problems };
  }
  for (const key of Object.keys(typed)) {
    if (key !== '@type' && key !== 'clusters') problems.push({ code: 'not_supported', path: `${path}.typed_config.${key}`, message: `'${key}' is not supported yet` });
  }
  const raw = Array.isArray(typed['clusters']) ? typed['clusters'] : [];
  const clusters: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    if (typeof v !== 'string' || v === '') {
      problems.push({ code: 'bad_value', path: `${path}.typed_config.clusters[${i}]`, message: 'a cluster name must be a non-empty string' });
      continue;
    }
    if (clusters.includes(v)) {
      problems.push({ code: 'bad_value', path: `${path}.typed_config.clusters[${i}]`, message: `cluster ${v} is listed twice` });
      continue;
    }
    clusters.push(v);
  }
  // Envoy's ClusterConfig: clusters has min_items 1.
  if (raw.length === 0) problems.push({ code: 'missing_field', path: `${path}.typed_config.clusters`, message: 'an aggregate cluster needs at least one cluster' });
  return { aggregateClusters: Object.freeze(clusters), dynamicForwardProxy: null, problems };
}
