// Any thread (pure; config time). A DnsCacheConfig (envoy.extensions.common.dynamic_forward_proxy.v3), the DNS
// cache the dynamic forward proxy filter and cluster share by name, compiled to frozen plain data. Here in common
// because both src/filters (the filter) and src/upstream (the cluster) compile it.

type Obj = Record<string, unknown>;

export interface DnsCacheConfigProblem {
  code?: 'bad_value' | 'missing_field' | 'not_supported';
  path: string;
  message: string;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function str(v: unknown, dflt: string): string {
  return typeof v === 'string' ? v : dflt;
}

export type DnsCacheLookupFamily = 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';

/** A DnsCacheConfig as the workers use it (one cache per name per worker). */
export interface DnsCacheSettings {
  name: string;
  lookupFamily: DnsCacheLookupFamily;
  /** dns_refresh_rate (Envoy default 60 s): a host in use is resolved again this often. */
  refreshRateMs: number;
  /** host_ttl (Envoy default 5 min): a host not used for this long leaves the cache. */
  hostTtlMs: number;
  /** max_hosts (Envoy default 1024): a new host over it is refused (dns_cache_overflow). */
  maxHosts: number;
  /** dns_cache_circuit_breaker.max_pending_requests (Envoy default 1024): requests waiting on resolutions. */
  maxPendingRequests: number;
}

const FAMILIES: readonly string[] = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'];
// DnsCacheConfig fields compiled below; the rest are refused as not supported yet (dns_resolution_config,
// typed_dns_resolver_config, preresolve_hostnames, dns_failure_refresh_rate, dns_min_refresh_rate,
// dns_query_timeout, key_value_config, use_tcp_for_dns_lookups, disable_dns_refresh_on_failure).
const CACHE_FIELDS = new Set(['name', 'dns_lookup_family', 'dns_refresh_rate', 'host_ttl', 'max_hosts', 'dns_cache_circuit_breaker']);

function ms(o: Obj, field: string, dflt: number, path: string, problems: DnsCacheConfigProblem[], min: number): number {
  const v = o[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    problems.push({ code: 'bad_value', path: `${path}.${field}`, message: `must be a duration of at least ${min}ms` });
    return dflt;
  }
  return Math.trunc(v);
}

function count(o: Obj, field: string, dflt: number, path: string, problems: DnsCacheConfigProblem[]): number {
  let v = o[field];
  if (isObj(v)) v = v['value'];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    problems.push({ code: 'bad_value', path: `${path}.${field}`, message: `must be an integer greater than 0, got ${String(v)}` });
    return dflt;
  }
  return n;
}

/** A DnsCacheConfig at `path` (the filter's or the cluster's dns_cache_config). */
export function compileDnsCacheConfig(v: unknown, path: string, problems: DnsCacheConfigProblem[]): DnsCacheSettings {
  const o = isObj(v) ? v : {};
  if (!isObj(v)) problems.push({ code: 'missing_field', path, message: 'dns_cache_config is required' });
  for (const key of Object.keys(o)) {
    if (!CACHE_FIELDS.has(key)) problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `'${key}' is not supported yet` });
  }
  const name = str(o['name'], '');
  if (name === '') problems.push({ code: 'missing_field', path: `${path}.name`, message: 'a DNS cache needs a name' });
  const family = str(o['dns_lookup_family'], 'AUTO');
  if (!FAMILIES.includes(family)) problems.push({ code: 'bad_value', path: `${path}.dns_lookup_family`, message: `unknown dns_lookup_family ${family}` });
  const breaker = isObj(o['dns_cache_circuit_breaker']) ? o['dns_cache_circuit_breaker'] : {};
  for (const key of Object.keys(breaker)) {
    if (key !== 'max_pending_requests') problems.push({ code: 'not_supported', path: `${path}.dns_cache_circuit_breaker.${key}`, message: `'${key}' is not supported yet` });
  }
  return Object.freeze({
    name,
    lookupFamily: (FAMILIES.includes(family) ? family : 'AUTO') as DnsCacheLookupFamily,
    // Envoy: dns_refresh_rate greater than 1 ms, host_ttl greater than 0.
    refreshRateMs: ms(o, 'dns_refresh_rate', 60_000, path, problems, 1),
    hostTtlMs: ms(o, 'host_ttl', 300_000, path, problems, 1),
    maxHosts: count(o, 'max_hosts', 1024, path, problems),
    maxPendingRequests: count(breaker, 'max_pending_requests', 1024, `${path}.dns_cache_circuit_breaker`, problems),
  });
}

