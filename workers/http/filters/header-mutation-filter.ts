// Worker thread. envoy.filters.http.header_mutation, as Envoy's: the filter's request_mutations on the request
// headers, then those of every HeaderMutationPerRoute of the route's levels (route, then virtual host; reversed with
// most_specific_header_mutations_wins); the response_mutations the same way on the response headers (local replies
// included). Each list runs in config order. No stats (Envoy's filter has none).

import type { HeaderList } from '../../../src/http/stream-info.ts';
import {
  compileHeaderMutation, HeaderMutationPerRoute, type HeaderMutationConfig, type HeaderMutationList,
} from '../../../src/filters/header-mutation-config.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

const NO_ROUTE_CONFIGS: readonly HeaderMutationPerRoute[] = Object.freeze([]);

class HeaderMutationFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly config: HeaderMutationConfig;
  /** The route's per-route configs in the order they apply, found once in decodeHeaders. */
  private routeConfigs: readonly HeaderMutationPerRoute[];

  constructor(cb: FilterCallbacks, config: HeaderMutationConfig) {
    super();
    this.cb = cb;
    this.config = config;
    this.routeConfigs = NO_ROUTE_CONFIGS;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const info = this.cb.streamInfo;
    const own = this.config.mutations.request;
    if (own !== null) own.apply(headers, info);
    this.routeConfigs = this.perRouteConfigs();
    const rc = this.routeConfigs;
    for (let i = 0; i < rc.length; i++) {
      const m = rc[i]!.mutations.request;
      if (m !== null) m.apply(headers, info);
    }
    return FilterHeadersStatus.Continue;
  }

  override encodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const info = this.cb.streamInfo;
    const own = this.config.mutations.response;
    if (own !== null) own.apply(headers, info);
    const rc = this.routeConfigs;
    for (let i = 0; i < rc.length; i++) {
      const m: HeaderMutationList | null = rc[i]!.mutations.response;
      if (m !== null) m.apply(headers, info);
    }
    return FilterHeadersStatus.Continue;
  }

  /** Every level's HeaderMutationPerRoute: most specific first (Envoy's default), or last when it should win. */
  private perRouteConfigs(): readonly HeaderMutationPerRoute[] {
    const route = this.cb.route();
    if (route === null || route.perFilterConfigs === null) return NO_ROUTE_CONFIGS;
    const entry = route.perFilterConfigs[this.cb.filterConfigName];
    if (entry === undefined || entry.allConfigs.length === 0) return NO_ROUTE_CONFIGS;
    const out: HeaderMutationPerRoute[] = [];
    const all = entry.allConfigs;
    for (let i = 0; i < all.length; i++) {
      const c = all[i];
      if (c instanceof HeaderMutationPerRoute) out.push(c);
    }
    if (this.config.mostSpecificWins) out.reverse();
    return out;
  }
}

export function headerMutationFilterFactory(config: unknown, _context: HttpFilterFactoryContext): HttpFilterFactory {
  // Checked by the primary already (src/filters/header-mutation-config.ts); compiled here for this worker.
  const compiled = compileHeaderMutation(config as Obj, 'header_mutation', []);
  return { createFilter: (cb) => new HeaderMutationFilter(cb, compiled) };
}
