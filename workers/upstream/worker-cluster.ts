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
import { OriginalDstHosts } from './original-dst-hosts.ts';
import { LocalityWeightedLoadBalancer, type LocalityHosts } from './locality-lb.ts';
import { SlowStartLoadBalancer } from './slow-start.ts';
import { SubsetLoadBalancer, type SubsetPicker, type SubsetStats } from './subset-lb.ts';
import type { MetadataMatch } from '../../src/router/metadata-match.ts';

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

/** One subset's (or all hosts') priority levels, picked from as the cluster's own (subset-lb.ts). */
class LevelsPicker implements SubsetPicker<UpstreamHost> {
  private readonly cluster: WorkerCluster;
  private readonly levels: PriorityLevel[];

  constructor(cluster: WorkerCluster, levels: PriorityLevel[]) {
    this.cluster = cluster;
    this.levels = levels;
  }

  chooseHost(hash: Hash64 | null, attempt: number): UpstreamHost | null {
    return this.cluster.chooseFromLevels(this.levels, hash, attempt);
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

/** The cluster's lb_subsets_* slots, as the subset balancer takes them. */
function subsetSlotsOf(slots: ClusterSlots): Omit<SubsetStats, 'values'> {
  return {
    lb_subsets_active: slots.lb_subsets_active,
    lb_subsets_created: slots.lb_subsets_created,
    lb_subsets_removed: slots.lb_subsets_removed,
    lb_subsets_selected: slots.lb_subsets_selected,
    lb_subsets_fallback: slots.lb_subsets_fallback,
    lb_subsets_fallback_panic: slots.lb_subsets_fallback_panic,
    lb_subsets_single_host_per_subset_duplicate: slots.lb_subsets_single_host_per_subset_duplicate,
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
  /**
   * type ORIGINAL_DST: the hosts made per destination (original-dst-hosts.ts), which is also the cluster's one load
   * balancer; null for every other cluster. The router calls pick() before starting such a cluster's request.
   */
  originalDst: OriginalDstHosts | null;
  /**
   * lb_subset_config: the subsets of this worker's hosts (subset-lb.ts), rebuilt with the levels; null for every
   * other cluster. Such a cluster sets `hashing`, so only the router's hashing branch passes a route's metadata_match.
   */
  subset: SubsetLoadBalancer<UpstreamHost> | null;
  private readonly stats: WorkerStatsStore;
  private readonly random: () => number;
  private hosts: Map<string, UpstreamHost>;
  /** Levels with load > 0, highest priority first. */
  private levels: PriorityLevel[];
  /** Pools of removed hosts still finishing their requests. */
  private readonly drainingPools: Set<ConnectionPool>;
  /** locality_weighted_lb_config: each host's locality index and weight, from its HostDescription (else empty). */
  private localities: Map<UpstreamHost, { index: number; weight: number }>;
  /** slow_start_config: when each host still in its window began it (performance.now()); else empty. */
  private slowStartSince: Map<UpstreamHost, number>;
  /** lb_subset_config: each host's envoy.lb metadata, from its HostDescription (else empty). */
  private lbMetadata: Map<UpstreamHost, Record<string, unknown>>;

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
    this.originalDst = config.originalDst === null ? null : new OriginalDstHosts(config.originalDst, this.poolContext, this.highPoolContext, this.countOriginalDstInvalid);
    this.hostSetVersion = 0;
    this.activeHealthChecked = config.healthChecks.length > 0;
    this.hosts = new Map();
    this.levels = [];
    this.drainingPools = new Set();
    this.localities = new Map();
    this.slowStartSince = new Map();
    this.subset = null;
    this.lbMetadata = new Map();
    if (config.subset !== null) this.hashing = true;
    if (this.originalDst !== null) this.rebuildLoadBalancing();
  }

  private readonly countOriginalDstInvalid = (): void => {
    this.stats.values[this.slots.original_dst_host_invalid]++;
  };

  /**
   * The host for the next request, or null when no host can take it (no hosts, or none healthy with panic mode
   * off). Counts lb_healthy_panic when the pick ignored health. `match`: the route's metadata_match, read only by a
   * cluster with lb_subset_config (its subset, else its fallback policy).
   */
  chooseHost(hash: Hash64 | null = null, attempt = 0, match: MetadataMatch | null = null): UpstreamHost | null {
    if (this.subset !== null) return this.subset.chooseHost(match, hash, attempt);
    return this.chooseFromLevels(this.levels, hash, attempt);
  }

  /** A host from `levels` (the cluster's, or one subset's): the level by its load, then its balancer. */
  chooseFromLevels(levels: readonly PriorityLevel[], hash: Hash64 | null, attempt: number): UpstreamHost | null {
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
    if (this.originalDst !== null) return this.originalDst.all();
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
      // An ORIGINAL_DST cluster keeps its hosts (and their pools) across config changes.
      const od = config.originalDst;
      if (od === null) {
        this.originalDst?.drain();
        this.originalDst = null;
      } else if (this.originalDst === null) {
        this.originalDst = new OriginalDstHosts(od, this.poolContext, this.highPoolContext, this.countOriginalDstInvalid);
      } else {
        this.originalDst.update(od);
      }
    }
    this.hashing = HASHING_POLICIES.has(config.lbPolicy) || this.dynamicForwardProxy !== null || config.subset !== null;
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
    // Slow start: hosts of a cluster's first set do not ramp up (as Envoy's, created with the cluster).
    const slowStart = this.config.slowStart;
    const initialSet = this.hostSetVersion === 0 && this.hosts.size === 0;
    const now = slowStart === null ? 0 : performance.now();
    const since = new Map<UpstreamHost, number>();
    this.hostSetVersion = update.version;
    const next = new Map<string, UpstreamHost>();
    const localities = new Map<UpstreamHost, { index: number; weight: number }>();
    const lbMetadata = new Map<UpstreamHost, Record<string, unknown>>();
    const descriptions = update.hosts;
    for (let i = 0; i < descriptions.length; i++) {
      const d = descriptions[i]!;
      const key = hostKey(d.address, d.port);
      if (next.has(key)) continue;
      let host = this.hosts.get(key);
      const wasHealthy = host !== undefined && host.healthy;
      if (host === undefined) host = new UpstreamHost(d, this.poolContext, this.highPoolContext);
      else host.update(d);
      if (slowStart !== null && d.healthy) {
        // A host that joined, or became healthy again, starts its window now; one in its window keeps its start.
        const started = this.slowStartSince.get(host);
        if (!wasHealthy && !initialSet) since.set(host, now);
        else if (started !== undefined && now - started < slowStart.windowMs) since.set(host, started);
      }
      next.set(key, host);
      if (d.locality !== undefined) localities.set(host, { index: d.locality, weight: d.localityWeight ?? 0 });
      if (d.lbMetadata !== undefined) lbMetadata.set(host, d.lbMetadata);
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
    this.localities = localities;
    this.lbMetadata = lbMetadata;
    this.slowStartSince = since;
    this.rebuildLoadBalancing();
  }

  /** The cluster was removed from the config: requests in flight finish, then connections close. */
  drain(): void {
    this.originalDst?.drain();
    for (const host of this.hosts.values()) {
      host.pool.drain();
      host.http2PoolIfAny?.drain();
      for (const hp of host.highPoolsIfAny) hp.drain();
    }
    this.levels = [];
    this.retireSubsets();
  }

  /** Closes every connection now (worker shutdown). */
  close(): void {
    this.originalDst?.close();
    for (const host of this.hosts.values()) {
      host.pool.close();
      host.http2PoolIfAny?.close();
      for (const hp of host.highPoolsIfAny) hp.close();
    }
    for (const pool of this.drainingPools) pool.close();
    this.drainingPools.clear();
    this.levels = [];
    this.retireSubsets();
  }

  private retireSubsets(): void {
    this.subset?.retire();
    this.subset = null;
  }

  /** slow_start_config: a balancer ramping up the level's hosts in their window; null when none is in it. */
  private slowStartBalancer(hosts: readonly UpstreamHost[]): SlowStartLoadBalancer<UpstreamHost> | null {
    const settings = this.config.slowStart;
    if (settings === null || this.slowStartSince.size === 0) return null;
    const now = performance.now();
    const since: number[] = [];
    let any = false;
    for (const host of hosts) {
      const s = this.slowStartSince.get(host);
      if (s !== undefined && now - s < settings.windowMs) any = true;
      since.push(s ?? -Infinity);
    }
    if (!any) return null;
    const bias = this.config.leastRequestActiveRequestBias;
    // Envoy applies the factor on top of the policy's weight: least request's is weight / (active + 1) ^ bias.
    const baseWeight = this.config.lbPolicy === 'LEAST_REQUEST'
      ? (h: UpstreamHost): number => h.weight / Math.pow(h.activeRequests + 1, bias)
      : (h: UpstreamHost): number => h.weight;
    return new SlowStartLoadBalancer(hosts, since, settings, baseWeight, performance.now.bind(performance));
  }

  /** One level's hosts grouped by locality (locality_weighted_lb_config), in locality order. */
  private localitiesOf(hosts: readonly UpstreamHost[]): LocalityHosts<UpstreamHost>[] {
    const groups = new Map<number, { weight: number; hosts: UpstreamHost[]; healthy: UpstreamHost[] }>();
    for (const host of hosts) {
      const l = this.localities.get(host) ?? { index: -1, weight: 0 };
      let g = groups.get(l.index);
      if (g === undefined) {
        g = { weight: l.weight, hosts: [], healthy: [] };
        groups.set(l.index, g);
      }
      g.hosts.push(host);
      if (host.healthy) g.healthy.push(host);
    }
    return [...groups.keys()].sort((a, b) => a - b).map((k) => groups.get(k)!);
  }

  private rebuildLoadBalancing(): void {
    // ORIGINAL_DST: one level, its load balancer the destination (its host set from the primary is always empty).
    if (this.originalDst !== null) {
      this.levels = [new PriorityLevel(0, 100, false, this.originalDst)];
      return;
    }
    const all = [...this.hosts.values()];
    this.levels = this.buildLevels(all);
    const subset = this.config.subset;
    if (subset === null) {
      this.retireSubsets();
      return;
    }
    // lb_subset_config: each subset gets levels of its own over its hosts, with the cluster's policy and thresholds.
    const picker = (hosts: readonly UpstreamHost[]): SubsetPicker<UpstreamHost> => new LevelsPicker(this, this.buildLevels(hosts));
    const stats = { values: this.stats.values, ...subsetSlotsOf(this.slots) };
    this.subset = new SubsetLoadBalancer(subset, all, (h) => this.lbMetadata.get(h), picker, new LevelsPicker(this, this.levels), stats, this.subset);
  }

  /** Priority levels over `hosts` (the cluster's, or a subset's). */
  private buildLevels(hosts: readonly UpstreamHost[]): PriorityLevel[] {
    // Levels indexed by rank among the priorities present (a gap is an empty level: it never takes load).
    const priorities = [...new Set(hosts.map((h) => h.priority))].sort((a, b) => a - b);
    const byPriority: UpstreamHost[][] = priorities.map(() => []);
    for (const host of hosts) byPriority[priorities.indexOf(host.priority)]!.push(host);
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
      // Locality weighting applies to healthy hosts only: a level in panic balances over all its hosts, as Envoy.
      const byLocality = this.config.localityWeightedLb && !panic[p]! && this.localities.size > 0
        ? LocalityWeightedLoadBalancer.build(this.config.lbPolicy, this.localitiesOf(byPriority[p]!), options, (healthy) => this.slowStartBalancer(healthy) ?? createLoadBalancer(this.config.lbPolicy, healthy, options))
        : null;
      const lb = byLocality ?? this.slowStartBalancer(hosts) ?? createLoadBalancer(this.config.lbPolicy, hosts, options);
      levels.push(new PriorityLevel(priorities[p]!, cumulative, panic[p]!, lb));
    }
    return levels;
  }
}
