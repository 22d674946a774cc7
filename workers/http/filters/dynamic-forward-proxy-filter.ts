// Worker thread. envoy.filters.http.dynamic_forward_proxy, as Envoy's: for a request whose route's cluster is an
// envoy.clusters.dynamic_forward_proxy cluster, the request host (after the route's PerRouteConfig host rewrite) is
// loaded into the DNS cache (workers/upstream/dns-cache.ts) before the router runs; the stream waits while it
// resolves. A host that does not resolve: 503 "DNS resolution failure", details dns_resolution_failure{<why>},
// flag DF. Over max_hosts: 503 dns_cache_overflow; over the pending-request circuit breaker: 503
// dynamic_forward_proxy_pending_request_overflow. Requests to other clusters pass untouched.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { setHeader } from '../../../src/http/header-list.ts';
import { H } from '../../../src/http/header-names.ts';
import { ResponseFlag } from '../../../src/http/response-flags.ts';
import type { DfpFilterConfig, DfpPerRoute } from '../../../src/filters/dynamic-forward-proxy-config.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerClusterManager } from '../../upstream/cluster-manager.ts';
import { LoadDnsCacheEntryStatus, dnsCacheFor, parseAuthority, type DnsCache, type DnsHostInfo } from '../../upstream/dns-cache.ts';

class DfpShared {
  readonly cache: DnsCache;
  readonly clusters: WorkerClusterManager;
  constructor(config: DfpFilterConfig, context: HttpFilterFactoryContext) {
    this.cache = dnsCacheFor(config.cache, context.stats, context.slots);
    this.clusters = context.clusters;
  }
}

class DfpFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: DfpShared;
  /** Waiting for a resolution; false once done or destroyed (the waiter then does nothing). */
  private waiting: boolean;

  constructor(cb: FilterCallbacks, shared: DfpShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.waiting = false;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const route = this.cb.route();
    if (route === null) return FilterHeadersStatus.Continue;
    const cluster = this.shared.clusters.get(route.clusterName);
    if (cluster === undefined || cluster.dynamicForwardProxy === null) return FilterHeadersStatus.Continue;

    const info = this.cb.streamInfo;
    const perRoute = this.cb.mostSpecificPerFilterConfig() as DfpPerRoute | null;
    if (perRoute !== null && perRoute !== undefined) {
      let rewrite = perRoute.hostRewriteLiteral;
      if (perRoute.hostRewriteHeader !== '') rewrite = getHeader(headers, perRoute.hostRewriteHeader) ?? '';
      if (rewrite !== '') {
        setHeader(headers, H.host, rewrite);
        info.authority = rewrite;
      }
    }
    const authority = getHeader(headers, H.host) ?? info.authority;
    if (authority === '') {
      this.cb.sendLocalReply(400, 'Empty host header', null, -1, 'empty_host_header');
      return FilterHeadersStatus.StopIteration;
    }
    info.authority = authority;

    const cache = this.shared.cache;
    if (!cache.canCreateDnsRequest()) {
      this.cb.sendLocalReply(503, 'Dynamic forward proxy pending request overflow', null, -1, 'dynamic_forward_proxy_pending_request_overflow');
      return FilterHeadersStatus.StopIteration;
    }
    const { host, port } = parseAuthority(authority, cluster.dynamicForwardProxy.defaultPort);
    const result = cache.load(host, port, () => this.onLoaded(result.info!));
    if (result.status === LoadDnsCacheEntryStatus.Overflow) {
      this.cb.sendLocalReply(503, 'DNS cache overflow', null, -1, 'dns_cache_overflow');
      return FilterHeadersStatus.StopIteration;
    }
    if (result.status === LoadDnsCacheEntryStatus.Loading) {
      this.waiting = true;
      return FilterHeadersStatus.StopAllIterationAndWatermark;
    }
    if (result.info!.address === null) {
      this.fail(result.info!);
      return FilterHeadersStatus.StopIteration;
    }
    return FilterHeadersStatus.Continue;
  }

  override onDestroy(): void {
    this.waiting = false;
  }

  private onLoaded(host: DnsHostInfo): void {
    if (!this.waiting) return;
    this.waiting = false;
    if (host.address === null) this.fail(host);
    else this.cb.continueDecoding();
  }

  private fail(host: DnsHostInfo): void {
    this.cb.streamInfo.responseFlags |= ResponseFlag.DnsResolutionFailed;
    this.cb.sendLocalReply(503, 'DNS resolution failure', null, -1, `dns_resolution_failure{${host.details === '' ? 'no_address' : host.details}}`);
  }
}

export function dynamicForwardProxyFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new DfpShared(config as DfpFilterConfig, context);
  return { createFilter: (cb) => new DfpFilter(cb, shared) };
}
