// Any thread (built at config time; route() runs once per request on a worker). The RouteTable implementation:
// pick the virtual host, answer require_tls, then the first route whose match holds.

import type { HeaderList } from '../http/stream-info.ts';
import { getHeader } from '../http/stream-info.ts';
import { removeHeader } from '../http/header-list.ts';
import type { Route, RouteTable } from './route-types.ts';
import { pathEndOf, SSL_REDIRECT_ROUTE } from './compiled-route.ts';
import type { RouteEntry } from './route-match.ts';
import type { DomainTable } from './domain-table.ts';

/** VirtualHost.TlsRequirementType. */
export const TlsRequirement = { NONE: 0, EXTERNAL_ONLY: 1, ALL: 2 } as const;

export class VirtualHost {
  readonly name: string;
  readonly tls: number;
  readonly routes: readonly RouteEntry[];

  constructor(name: string, tls: number, routes: RouteEntry[]) {
    this.name = name;
    this.tls = tls;
    this.routes = Object.freeze(routes);
    Object.freeze(this);
  }
}

export class CompiledRouteTable implements RouteTable {
  readonly domains: DomainTable<VirtualHost>;
  readonly internalOnlyHeaders: readonly string[];

  constructor(domains: DomainTable<VirtualHost>, internalOnlyHeaders: string[]) {
    this.domains = domains;
    this.internalOnlyHeaders = Object.freeze(internalOnlyHeaders);
    Object.freeze(this);
  }

  route(authority: string, method: string, path: string, headers: HeaderList, previous: Route | null = null): Route | null {
    const vh = this.domains.find(authority);
    if (vh === null) return null;
    if (vh.tls !== 0 && requiresTlsRedirect(vh.tls, headers)) return SSL_REDIRECT_ROUTE;
    const routes = vh.routes;
    const pathEnd = pathEndOf(path);
    let queryStart = -2; // -2: not looked for yet
    for (let i = 0; i < routes.length; i++) {
      const e = routes[i]!;
      if (!e.matchesPath(path, pathEnd)) continue;
      if (e.headers !== null || e.queryParameters !== null) {
        if (queryStart === -2) {
          const q = path.indexOf('?');
          queryStart = q === -1 ? -1 : q + 1;
        }
        if (!e.matchesRest(headers, authority, method, path, queryStart)) continue;
      }
      const r = e.route;
      // weighted_clusters: the chosen cluster's route (one draw per match).
      return r.weightedClusters === null ? r : r.weightedClusters.pick(headers, previous);
    }
    return null;
  }

  removeInternalOnlyHeaders(headers: HeaderList): void {
    const names = this.internalOnlyHeaders;
    for (let i = 0; i < names.length; i++) removeHeader(headers, names[i]!);
  }
}

/**
 * Envoy's VirtualHostImpl::getRouteFromEntries: x-forwarded-proto (which the connection manager always sets)
 * other than https gets the TLS redirect; EXTERNAL_ONLY spares requests marked x-envoy-internal: true.
 */
function requiresTlsRedirect(tls: number, headers: HeaderList): boolean {
  if (getHeader(headers, 'x-forwarded-proto') === 'https') return false;
  return tls === TlsRequirement.ALL || getHeader(headers, 'x-envoy-internal') !== 'true';
}
