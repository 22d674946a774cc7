// Worker thread. One upstream host of a cluster as this worker sees it: what the primary described (address,
// weight, priority, health), this worker's outstanding requests on it, and its connection pool.

import type { HostDescription } from '../../src/upstream/cluster-membership.ts';
import { ConnectionPool, type PoolContext } from './connection-pool.ts';
import { Http2Pool } from './http2-pool.ts';
import type { LbHost } from './load-balancers.ts';

const NO_POOLS: readonly (ConnectionPool | Http2Pool)[] = Object.freeze([]);

/** Pools are keyed by this: a host whose address and port remain keeps its pool across updates. */
export function hostKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/** This worker's counts for one host, as Envoy's per-host stats in /clusters (summed over workers by the primary). */
export class HostCounters {
  cxTotal = 0;
  cxActive = 0;
  cxConnectFail = 0;
  rqTotal = 0;
  rqActive = 0;
  rqSuccess = 0;
  /** 5xx responses, resets and protocol errors. */
  rqError = 0;
  rqTimeout = 0;
}

export class UpstreamHost implements LbHost {
  readonly address: string;
  readonly port: number;
  /** "10.0.0.1:80" / "[::1]:80", as Envoy prints upstream hosts (%UPSTREAM_HOST%). */
  readonly addressString: string;
  hostname: string;
  /**
   * A dynamic forward proxy host (workers/upstream/dfp-hosts.ts): the request host its TLS connections name (SNI,
   * unless an IP) and whose name the certificate must match, as Envoy's DFP cluster; '' for every other host.
   */
  dynamicTlsName: string;
  weight: number;
  priority: number;
  healthy: boolean;
  degraded: boolean;
  /** Requests of this worker waiting for or using a connection to this host (kept by the pool). */
  activeRequests: number;
  readonly counters: HostCounters;
  readonly pool: ConnectionPool;
  /** auto_config: ALPN with this host chose http/1.1, so its requests use `pool` (until then they try HTTP/2). */
  negotiatedHttp1: boolean;
  /** HTTP/2 streams to this host (clusters speaking HTTP/2), made on first use. */
  private h2: Http2Pool | null;
  private readonly poolContext: PoolContext;
  /**
   * Requests of routes with priority HIGH use pools of their own, as Envoy keeps a pool per priority: their
   * context carries the cluster's HIGH circuit breaker. Made on first use; null context: HIGH uses the DEFAULT pools.
   */
  private readonly highContext: PoolContext | null;
  private highH1: ConnectionPool | null;
  private highH2: Http2Pool | null;

  constructor(description: HostDescription, context: PoolContext, highContext: PoolContext | null = null) {
    this.address = description.address;
    this.port = description.port;
    this.addressString = description.address.includes(':')
      ? `[${description.address}]:${description.port}`
      : `${description.address}:${description.port}`;
    this.hostname = description.hostname;
    this.dynamicTlsName = '';
    this.weight = description.weight;
    this.priority = description.priority;
    this.healthy = description.healthy;
    this.degraded = description.degraded;
    this.activeRequests = 0;
    this.counters = new HostCounters();
    this.pool = new ConnectionPool(this, context);
    this.h2 = null;
    this.poolContext = context;
    this.highContext = highContext;
    this.highH1 = null;
    this.highH2 = null;
    this.negotiatedHttp1 = false;
  }

  get http2Pool(): Http2Pool {
    if (this.h2 === null) this.h2 = new Http2Pool(this, this.poolContext);
    return this.h2;
  }

  /** The HTTP/1.1 pool for a request of `high` priority (RouteAction.priority HIGH). */
  poolFor(high: boolean): ConnectionPool {
    if (!high || this.highContext === null) return this.pool;
    if (this.highH1 === null) this.highH1 = new ConnectionPool(this, this.highContext);
    return this.highH1;
  }

  /** The HTTP/2 pool for a request of `high` priority. */
  http2PoolFor(high: boolean): Http2Pool {
    if (!high || this.highContext === null) return this.http2Pool;
    if (this.highH2 === null) this.highH2 = new Http2Pool(this, this.highContext);
    return this.highH2;
  }

  /** The HIGH priority pools made so far (drain and close reach them with the others). */
  get highPoolsIfAny(): readonly (ConnectionPool | Http2Pool)[] {
    if (this.highH1 === null && this.highH2 === null) return NO_POOLS;
    const out: (ConnectionPool | Http2Pool)[] = [];
    if (this.highH1 !== null) out.push(this.highH1);
    if (this.highH2 !== null) out.push(this.highH2);
    return out;
  }

  /** The HTTP/2 pool if one was made (drain and close reach it too). */
  get http2PoolIfAny(): Http2Pool | null {
    return this.h2;
  }

  /** Takes the new weight, priority, health and hostname of the same address. */
  update(description: HostDescription): void {
    this.hostname = description.hostname;
    this.weight = description.weight;
    this.priority = description.priority;
    this.healthy = description.healthy;
    this.degraded = description.degraded;
  }
}
