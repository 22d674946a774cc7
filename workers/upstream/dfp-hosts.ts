// Worker thread. The hosts of a dynamic forward proxy cluster (envoy.clusters.dynamic_forward_proxy) on this
// worker: one UpstreamHost (with its pools) per resolved address:port, made when a request first needs it. The host
// for a request is the one its authority resolved to in the DNS cache the filter loaded (dns-cache.ts); none there
// (the filter is not configured, or the host was removed meanwhile) is no host: 503 no healthy upstream.

import type { DfpClusterSettings } from '../../src/upstream/aggregate-cluster-config.ts';
import type { PoolContext } from './connection-pool.ts';
import { dnsCacheFor, hostKeyOf, parseAuthority, type DnsCache } from './dns-cache.ts';
import { UpstreamHost, hostKey } from './upstream-host.ts';

export class DfpHosts {
  readonly cache: DnsCache;
  /** 80, or 443 for a cluster with a TLS transport socket (Envoy's default port for the request host). */
  readonly defaultPort: number;
  private readonly context: PoolContext;
  private readonly highContext: PoolContext;
  private readonly hosts: Map<string, UpstreamHost>;

  constructor(settings: DfpClusterSettings, defaultPort: number, context: PoolContext, highContext: PoolContext) {
    this.cache = dnsCacheFor(settings.cache, null, null);
    this.defaultPort = defaultPort;
    this.context = context;
    this.highContext = highContext;
    this.hosts = new Map();
  }

  /** The host for a request to `authority`; null when the cache has no address for it. */
  hostFor(authority: string): UpstreamHost | null {
    const { host, port } = parseAuthority(authority, this.defaultPort);
    const info = this.cache.find(hostKeyOf(host, port));
    if (info === undefined || info.address === null) return null;
    // Per address and request host: the same address under two names needs two TLS identities.
    const key = `${hostKey(info.address, port)}/${host}`;
    let upstream = this.hosts.get(key);
    if (upstream === undefined) {
      upstream = new UpstreamHost(
        { address: info.address, port, weight: 1, priority: 0, healthy: true, degraded: false, hostname: host },
        this.context,
        this.highContext,
      );
      upstream.dynamicTlsName = host;
      this.hosts.set(key, upstream);
    }
    return upstream;
  }

  all(): UpstreamHost[] {
    return [...this.hosts.values()];
  }
}
