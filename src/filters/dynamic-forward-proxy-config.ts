// Any thread (pure; config time). envoy.filters.http.dynamic_forward_proxy: its FilterConfig (the DNS cache it
// shares by name with the envoy.clusters.dynamic_forward_proxy cluster) and PerRouteConfig (host rewrite before the
// lookup), compiled to plain data. The DnsCacheConfig compiler (src/common/dns-cache-config.ts) is also the cluster's.
// Stats dns_cache.<name>.* (DNS_CACHE_STATS).

import { str, type Obj } from '../router/config-values.ts';
import { compileDnsCacheConfig, type DnsCacheSettings } from '../common/dns-cache-config.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const DFP_TYPE = 'envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig';
export const DFP_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.dynamic_forward_proxy.v3.PerRouteConfig';

export interface DfpFilterConfig {
  cache: DnsCacheSettings;
}

/** PerRouteConfig: the host the request is sent to (and looked up), instead of its own. */
export interface DfpPerRoute {
  /** host_rewrite_literal ('' = none). */
  hostRewriteLiteral: string;
  /** host_rewrite_header, lower-cased ('' = none): the first value of that request header. */
  hostRewriteHeader: string;
}

/** dns_cache.<name>.* (Envoy's names, no tag). */
export function dnsCacheStats(name: string): HttpFilterStats {
  return { prefix: `dns_cache.${name}.`, definition: 'dns_cache', tags: [] };
}

export const DFP_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.dynamic_forward_proxy',
  compile(typedConfig, path, problems) {
    const cache = compileDnsCacheConfig(typedConfig['dns_cache_config'], `${path}.dns_cache_config`, problems);
    const config: DfpFilterConfig = Object.freeze({ cache });
    return { config, stats: dnsCacheStats(cache.name) };
  },
};

export function compileDfpPerRoute(typedConfig: Obj, path: string, problems: FilterConfigProblem[]): DfpPerRoute {
  const literal = str(typedConfig['host_rewrite_literal'], '');
  const header = str(typedConfig['host_rewrite_header'], '').toLowerCase();
  if (literal !== '' && header !== '') {
    problems.push({ code: 'bad_value', path, message: 'only one of host_rewrite_literal and host_rewrite_header may be set' });
  }
  return Object.freeze({ hostRewriteLiteral: literal, hostRewriteHeader: header });
}
