// Worker thread. One cluster as this worker runs it: its hosts (each with a connection pool), the split of
// traffic across priority levels, and a load balancer per level. Rebuilt only when the config or the host set
// changes; chooseHost() is the per-request part.

import type { CompiledCluster } from '../../src/upstream/cluster-config.ts';
import type { HostSet } from '../../src/upstream/cluster-membership.ts';
import type { ClusterSlots } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { PoolContext, type ConnectionPool, type PoolSettings } from './connection-pool.ts';
import { createLoadBalancer, HASHING_POLICIES, type LbOptions, type LoadBalancer } from './load-balancers.ts';
import type { Hash64 } from '../../src/common/xxhash64.ts';
import { mod64 } from './maglev-lb.ts';
import { computePriorityLoad } from './priority-load.ts';
import { UpstreamHost, hostKey } from './upstream-host.ts';
import { ClientTlsContext } from '../../src/tls/client-tls-context.ts';
import type { UpstreamTlsSpec } from '../../src/tls/tls-spec.ts';
import { CircuitBreaker, circuitBreakerShared } from '../../src/upstream/circuit-breaker-shared.ts';
import { AggregateSelector } from './aggregate-cluster.ts';
import { DfpHosts } from './dfp-hosts.ts';

/** A cluster's transport socket as this worker runs it: the same context kept while the spec is unchanged. */
function tlsContextOf(spec: UpstreamTlsSpec | null, current: ClientTlsContext | null): ClientTlsContext | null {
  if (spec === null) return null;
  if (current !== null && JSON.stringify(current.currentSpec) === JSON.stringify(spec)) return current;
  return new ClientTlsContext(spec);
}

/** A priority level that takes load: its share and the balancer over the hosts it uses. */
class PriorityLevel {
  readonly priority: number;
  /** Upper bound (exclusive, percent) of this level's slice of [0, 100). */
  readonly cumulativeLoad: number;
  /** Balancing over all hosts of the level because too few are healthy. */
  readonly panic: boolean;
  readonly lb: LoadBalancer<UpstreamHost>;

  constructor(priority: number, cumulativeLoad: number, panic: boolean, lb: LoadBalancer<UpstreamHost>) {
    this.priority = priority;
    this.cumulativeLoad = cumulativeLoad;
    this.panic = panic;
    this.lb = lb;
  }
}

function aggregateOf(c: CompiledCluster, random: () => number): AggregateSelector | null {
  return c.aggregateClusters === null ? null : new AggregateSelector(c.aggregateClusters, c.healthyPanicThresholdPercent, random);
}

function poolSettingsOf(c: CompiledCluster): PoolSettings {
  return {
    connectTimeoutMs: c.connectTimeoutMs,
    idleTimeoutMs: c.idleTimeoutMs,
    maxConnections: c.maxConnections,
    maxPendingRequests: c.maxPendingRequests,
    maxRequestsPerConnection: c.maxRequestsPerConnection,
    http2: c.http2,
    upstreamProtocol: c.upstreamProtocol,
  };
}

export class WorkerCluster {
  readonly name: string;
  config: CompiledCluster;
  slots: ClusterSlots;
  /** Shared by the pools of every host of this cluster. */
  readonly poolContext: PoolContext;
  /** The same for the pools of routes with priority HIGH (the HIGH circuit breaker). */
  readonly highPoolContext: PoolContext;
  /** Version of the last host set applied (0 = none yet). */
  hostSetVersion: number;
  /** health_checks configured: responses are looked at for x-envoy-immediate-health-check-fail (health-reports.ts). */
  activeHealthChecked: boolean;
  /**
   * The cluster's upstream TLS (transport_socket envoy.transport_sockets.tls), built once per worker from the
   * compiled UpstreamTlsContext; null = plaintext. Every pool of the cluster connects with it (connectUpstream);
   * a certificate reload updates it in place (ClientTlsContext.update).
   */
  tls: ClientTlsContext | null;
  /**
   * circuit_breakers: the DEFAULT and HIGH priorities' breakers, counting over all workers in shared memory (the
   * pools use the DEFAULT one, poolContext.breaker). The retry policy takes a retry with tryStartRetry().
   */
  readonly breaker: CircuitBreaker;
  readonly highBreaker: CircuitBreaker;
  /** The load balancer reads a request hash (RING_HASH, MAGLEV): only then does the router compute one. */
  hashing: boolean;
  /**
   * envoy.clusters.aggregate: picks the member cluster a request goes to (aggregate-cluster.ts; the cluster manager
   * rebuilds it when a member's hosts change); null for every other cluster.
   */
  aggregate: AggregateSelector | null;
  /**
   * envoy.clusters.dynamic_forward_proxy: the hosts requests resolved to (dfp-hosts.ts); null for every other
   * cluster. Such a cluster sets `hashing`, so only the router's hashing branch looks at it (no cost elsewhere).
   */
  dynamicForwardProxy: DfpHosts | null;
  private readonly stats: WorkerStatsStore;
  private readonly random: () => number;
  private hosts: Map<string, UpstreamHost>;
  /** Levels with load > 0, highest priority first. */
  private levels: PriorityLevel[];
  /** Pools of removed hosts still finishing their requests. */
  private readonly drainingPools: Set<ConnectionPool>;

  constructor(config: CompiledCluster, slots: ClusterSlots, stats: WorkerStatsStore, random: () => number) {
    this.name = config.name;
    this.config = config;
    this.slots = slots;
    this.stats = stats;
    this.random = random;
    this.hashing = HASHING_POLICIES.has(config.lbPolicy);
    this.aggregate = aggregateOf(config, random);
    const cb = config.circuitBreakers;
    this.breaker = new CircuitBreaker(circuitBreakerShared, cb.slot, cb.default);
    this.highBreaker = new CircuitBreaker(circuitBreakerShared, cb.slot < 0 ? -1 : cb.slot + 1, cb.high);
    this.poolContext = new PoolContext(stats, slots, poolSettingsOf(config), this.breaker);
    this.tls = tlsContextOf(config.transportSocket, null);
    this.poolContext.tls = this.tls;
    this.poolContext.tlsSlots = config.tlsSlots;
    this.highPoolContext = new PoolContext(stats, slots, poolSettingsOf(config), this.highBreaker);
    this.highPoolContext.tls = this.tls;
    this.highPoolContext.tlsSlots = config.tlsSlots;
    this.dynamicForwardProxy = config.dynamicForwardProxy === null ? null : new DfpHosts(config.dynamicForwardProxy, config.transportSocket === null ? 80 : 443, this.poolContext, this.highPoolContext);
    if (this.dynamicForwardProxy !== null) this.hashing = true;
    this.hostSetVersion = 0;
    this.activeHealthChecked = config.healthChecks.length > 0;
    this.hosts = new Map();
    this.levels = [];
    this.drainingPools = new Set();
  }

  /**
   * The host for the next request, or null when no host can take it (no hosts, or none healthy with panic mode
   * off). Counts lb_healthy_panic when the pick ignored health.
   */
  chooseHost(hash: Hash64 | null = null, attempt = 0): UpstreamHost | null {
    const levels = this.levels;
    if (levels.length === 0) return null;
    let level = levels[0]!;
    if (levels.length > 1) {
      // A hashing LB picks the level by the hash too (Envoy's ThreadAwareLoadBalancer), so a key keeps its level.
      const r = hash === null ? this.random() * 100 : mod64(hash.hi, hash.lo, 100);
      for (let i = 0; i < levels.length; i++) {
        level = levels[i]!;
        if (r < level.cumulativeLoad) break;
      }
    }
    if (level.panic) this.stats.values[this.slots.lb_healthy_panic]++;
    return level.lb.chooseHost(hash, attempt);
  }

  /**
   * A retry may start (circuit_breakers max_retries, all workers; `high`: the route's priority is HIGH); false
   * counts upstream_rq_retry_overflow and the retry must not happen. Each true is matched by one endRetry() once
   * that retry's attempt is over.
   */
  tryStartRetry(high = false): boolean {
    if ((high ? this.highBreaker : this.breaker).tryStartRetry()) return true;
    this.stats.values[this.slots.upstream_rq_retry_overflow]++;
    return false;
  }

  endRetry(high = false): void {
    (high ? this.highBreaker : this.breaker).endRetry();
  }

  /** Current hosts (all priorities, healthy or not), in host-set order. */
  allHosts(): UpstreamHost[] {
    if (this.dynamicForwardProxy !== null) return this.dynamicForwardProxy.all();
    return [...this.hosts.values()];
  }

  getHost(address: string, port: number): UpstreamHost | undefined {
    return this.hosts.get(hostKey(address, port));
  }

  /** A new config for the same cluster name: pools keep their connections and take the new settings. */
  updateConfig(config: CompiledCluster, slots: ClusterSlots): void {
    const same = JSON.stringify(config) === JSON.stringify(this.config) && JSON.stringify(slots) === JSON.stringify(this.slots);
    this.config = config;
    this.activeHealthChecked = config.healthChecks.length > 0;
    if (!same) {
      this.aggregate = aggregateOf(config, this.random);
      // A dynamic forward proxy cluster keeps its hosts (and their pools) while its cache stays the same.
      const dfp = config.dynamicForwardProxy;
      if (dfp === null) this.dynamicForwardProxy = null;
      else if (this.dynamicForwardProxy === null || this.dynamicForwardProxy.cache.settings.name !== dfp.cache.name) {
        this.dynamicForwardProxy = new DfpHosts(dfp, config.transportSocket === null ? 80 : 443, this.poolContext, this.highPoolContext);
      }
    }
    this.hashing = HASHING_POLICIES.has(config.lbPolicy) || this.dynamicForwardProxy !== null;
    if (same) return;
    this.slots = slots;
    this.poolContext.update(slots, poolSettingsOf(config));
    // Same cluster name, same shared slot: only the limits change.
    this.breaker.thresholds = config.circuitBreakers.default;
    this.highBreaker.thresholds = config.circuitBreakers.high;
    this.tls = tlsContextOf(config.transportSocket, this.tls);
    this.poolContext.tls = this.tls;
    this.poolContext.tlsSlots = config.tlsSlots;
    this.highPoolContext.update(slots, poolSettingsOf(config));
    this.highPoolContext.tls = this.tls;
    this.highPoolContext.tlsSlots = config.tlsSlots;
    this.rebuildLoadBalancing();
  }

  /** Replaces the host list. Hosts that remain keep their pools; removed hosts' pools drain. */
  applyHostSet(update: HostSet): void {
    // Versions only grow in the primary; an older one arriving late (e.g. inside a snapshot) is stale.
    if (update.version <= this.hostSetVersion) return;
    this.hostSetVersion = update.version;
    const next = new Map<string, UpstreamHost>();
    const descriptions = update.hosts;
    for (let i = 0; i < descriptions.length; i++) {
      const d = descriptions[i]!;
      const key = hostKey(d.address, d.port);
      if (next.has(key)) continue;
      let host = this.hosts.get(key);
      if (host === undefined) host = new UpstreamHost(d, this.poolContext, this.highPoolContext);
      else host.update(d);
      next.set(key, host);
    }
    for (const [key, host] of this.hosts) {
      if (next.has(key)) continue;
      const pool = host.pool;
      this.drainingPools.add(pool);
      pool.onDrained = (p) => this.drainingPools.delete(p);
      pool.drain();
      host.http2PoolIfAny?.drain();
      for (const hp of host.highPoolsIfAny) hp.drain();
    }
    this.hosts = next;
    this.rebuildLoadBalancing();
  }

  /** The cluster was removed from the config: requests in flight finish, then connections close. */
  drain(): void {
    for (const host of this.hosts.values()) {
      host.pool.drain();
      host.http2PoolIfAny?.drain();
      for (const hp of host.highPoolsIfAny) hp.drain();
    }
    this.levels = [];
  }

  /** Closes every connection now (worker shutdown). */
  close(): void {
    for (const host of this.hosts.values()) {
      host.pool.close();
      host.http2PoolIfAny?.close();
      for (const hp of host.highPoolsIfAny) hp.close();
    }
    for (const pool of this.drainingPools) pool.close();
    this.drainingPools.clear();
    this.levels = [];
  }

  private rebuildLoadBalancing(): void {
    // Levels indexed by rank among the priorities present (a gap is an empty level: it never takes load).
    const priorities = [...new Set([...this.hosts.values()].map((h) => h.priority))].sort((a, b) => a - b);
    const byPriority: UpstreamHost[][] = priorities.map(() => []);
    for (const host of this.hosts.values()) byPriority[priorities.indexOf(host.priority)]!.push(host);
    const healthyByPriority: UpstreamHost[][] = [];
    const healthyCounts: number[] = [];
    const totalCounts: number[] = [];
    for (let p = 0; p < byPriority.length; p++) {
      const healthy = byPriority[p]!.filter((h) => h.healthy);
      healthyByPriority.push(healthy);
      healthyCounts.push(healthy.length);
      totalCounts.push(byPriority[p]!.length);
    }
    const { loads, panic } = computePriorityLoad(healthyCounts, totalCounts, this.config.healthyPanicThresholdPercent);
    const options: LbOptions = {
      random: this.random,
      choiceCount: this.config.leastRequestChoiceCount,
      activeRequestBias: this.config.leastRequestActiveRequestBias,
      ringHash: this.config.hashLb,
      maglevTableSize: this.config.hashLb.maglevTableSize,
    };
    const levels: PriorityLevel[] = [];
    let cumulative = 0;
    for (let p = 0; p < loads.length; p++) {
      if (loads[p]! === 0) continue;
      cumulative += loads[p]!;
      const hosts = panic[p]! ? byPriority[p]! : healthyByPriority[p]!;
      levels.push(new PriorityLevel(priorities[p]!, cumulative, panic[p]!, createLoadBalancer(this.config.lbPolicy, hosts, options)));
    }
    this.levels = levels;
  }
}
