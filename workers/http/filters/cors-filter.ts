// Worker thread. envoy.filters.http.cors, as Envoy's: for requests to a cluster route whose policy (the filter's
// typed_per_filter_config of route and virtual host, else their deprecated `cors`) is enabled, a browser's preflight
// (OPTIONS with Origin and Access-Control-Request-Method) is answered here with the allowed origin, methods,
// headers, max-age and credentials; an actual request from an allowed origin gets access-control-allow-origin (and
// credentials, expose-headers) on its response. Origins are counted in http.<stat_prefix>.cors.origin_valid/invalid
// (also in shadow mode, which checks without enforcing). Each setting comes from the most specific policy that has it.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { setHeader } from '../../../src/http/header-list.ts';
import { RouteKind, type Route } from '../../../src/router/route-table.ts';
import { CorsPolicy } from '../../../src/filters/cors-config.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';

const NO_POLICIES: readonly CorsPolicy[] = Object.freeze([]);

/** What every stream's filter shares: the stats. */
class CorsShared {
  readonly stats: WorkerStatsStore;
  readonly validSlot: number;
  readonly invalidSlot: number;
  constructor(context: HttpFilterFactoryContext) {
    this.stats = context.stats;
    this.validSlot = context.slots === null ? -1 : context.slots['origin_valid']!;
    this.invalidSlot = context.slots === null ? -1 : context.slots['origin_invalid']!;
  }
}

class CorsFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: CorsShared;
  private policies: readonly CorsPolicy[];
  private isCorsRequest: boolean;
  /** The request's Origin when allowed ('' otherwise): echoed in access-control-allow-origin. */
  private latchedOrigin: string;

  constructor(cb: FilterCallbacks, shared: CorsShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.policies = NO_POLICIES;
    this.isCorsRequest = false;
    this.latchedOrigin = '';
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const route = this.cb.route();
    // As Envoy: only routes to a cluster (a direct response or redirect has no route entry).
    if (route === null || route.kind !== RouteKind.CLUSTER) return FilterHeadersStatus.Continue;
    const policies = this.policiesOf(route);
    this.policies = policies;
    if (policies.length === 0) return FilterHeadersStatus.Continue;
    const enabled = policies[0]!.enabled();
    if (!enabled && !policies[0]!.shadowEnabled()) return FilterHeadersStatus.Continue;
    const origin = getHeader(headers, 'origin');
    if (origin === undefined || origin === '') return FilterHeadersStatus.Continue;
    const allowed = this.isOriginAllowed(origin);
    const shared = this.shared;
    if (shared.validSlot >= 0) shared.stats.values[allowed ? shared.validSlot : shared.invalidSlot]++;
    if (allowed) this.latchedOrigin = origin;
    if (!enabled) return FilterHeadersStatus.Continue; // shadow mode: counted, not enforced
    this.isCorsRequest = true;
    if (this.cb.streamInfo.method !== 'OPTIONS') return FilterHeadersStatus.Continue;
    const requestMethod = getHeader(headers, 'access-control-request-method');
    if (requestMethod === undefined || requestMethod === '') return FilterHeadersStatus.Continue;
    // A preflight. From an origin not allowed it goes upstream unless forward_not_matching_preflights is false.
    if (!allowed && this.forwardNotMatchingPreflights()) return FilterHeadersStatus.Continue;
    const reply: HeaderList = [];
    if (allowed) reply.push('access-control-allow-origin', origin);
    if (this.allowCredentials()) reply.push('access-control-allow-credentials', 'true');
    const methods = this.setting(ALLOW_METHODS);
    if (methods !== '') reply.push('access-control-allow-methods', methods === '*' ? requestMethod : methods);
    const allowHeaders = this.setting(ALLOW_HEADERS);
    if (allowHeaders !== '') {
      reply.push('access-control-allow-headers', allowHeaders === '*' ? (getHeader(headers, 'access-control-request-headers') ?? '') : allowHeaders);
    }
    const maxAge = this.setting(MAX_AGE);
    if (maxAge !== '') reply.push('access-control-max-age', maxAge);
    if (this.allowPrivateNetworkAccess() && getHeader(headers, 'access-control-request-private-network') === 'true') {
      reply.push('access-control-allow-private-network', 'true');
    }
    this.cb.sendLocalReply(200, '', reply, -1, 'cors_response');
    return FilterHeadersStatus.StopIteration;
  }

  override encodeHeaders(headers: HeaderList, _endStream: boolean): number {
    if (!this.isCorsRequest || this.latchedOrigin === '') return FilterHeadersStatus.Continue;
    setHeader(headers, 'access-control-allow-origin', this.latchedOrigin);
    if (this.allowCredentials()) setHeader(headers, 'access-control-allow-credentials', 'true');
    const expose = this.setting(EXPOSE_HEADERS);
    if (expose !== '') setHeader(headers, 'access-control-expose-headers', expose);
    return FilterHeadersStatus.Continue;
  }

  /**
   * The filter's typed_per_filter_config of every level (most specific first), else the routes' `cors`. A config of
   * another filter's type under this filter's name is ignored, as Envoy ignores a per-route config of the wrong type.
   */
  private policiesOf(route: Route): readonly CorsPolicy[] {
    const pf = route.perFilterConfigs;
    if (pf !== null) {
      const entry = pf[this.cb.filterConfigName];
      if (entry !== undefined && entry.allConfigs.length > 0) {
        const all = entry.allConfigs;
        let ok = true;
        for (let i = 0; i < all.length; i++) if (!(all[i] instanceof CorsPolicy)) ok = false;
        if (ok) return all as readonly CorsPolicy[];
      }
    }
    return route.corsPolicies;
  }

  private isOriginAllowed(origin: string): boolean {
    const policies = this.policies;
    for (let p = 0; p < policies.length; p++) {
      const matchers = policies[p]!.allowOrigins;
      if (matchers === null) continue;
      for (let i = 0; i < matchers.length; i++) {
        const m = matchers[i]!;
        if (m.match('*') || m.match(origin)) return true;
      }
      return false;
    }
    return false;
  }

  private setting(which: number): string {
    const policies = this.policies;
    for (let p = 0; p < policies.length; p++) {
      const c = policies[p]!;
      const v = which === ALLOW_METHODS ? c.allowMethods : which === ALLOW_HEADERS ? c.allowHeaders : which === EXPOSE_HEADERS ? c.exposeHeaders : c.maxAge;
      if (v !== '') return v;
    }
    return '';
  }

  private allowCredentials(): boolean {
    const policies = this.policies;
    for (let p = 0; p < policies.length; p++) {
      const v = policies[p]!.allowCredentials;
      if (v !== null) return v;
    }
    return false;
  }

  private allowPrivateNetworkAccess(): boolean {
    const policies = this.policies;
    for (let p = 0; p < policies.length; p++) {
      const v = policies[p]!.allowPrivateNetworkAccess;
      if (v !== null) return v;
    }
    return false;
  }

  private forwardNotMatchingPreflights(): boolean {
    const policies = this.policies;
    for (let p = 0; p < policies.length; p++) {
      const v = policies[p]!.forwardNotMatchingPreflights;
      if (v !== null) return v;
    }
    return true;
  }
}

const ALLOW_METHODS = 0;
const ALLOW_HEADERS = 1;
const EXPOSE_HEADERS = 2;
const MAX_AGE = 3;

export function corsFilterFactory(_config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new CorsShared(context);
  return { createFilter: (cb) => new CorsFilter(cb, shared) };
}
