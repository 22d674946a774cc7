// Primary thread. The membership of one cluster: which hosts it has, resolved from its compiled endpoints
// (STATIC: as configured; STRICT_DNS: every address of every endpoint's name, re-resolved on a timer;
// LOGICAL_DNS: the first address of its one name). Each change is pushed as a HostSet through a callback; the
// primary forwards it to every worker, which owns its own load-balancer state and pools.

import dns from 'node:dns';
import type { CompiledCluster, CompiledEndpoint, DnsLookupFamily, EndpointHealthStatus } from './cluster-config.ts';
import type { WorkerStatsStore } from '../stats/definitions.ts';
import type { ClusterSlots } from '../snapshot/snapshot-types.ts';
import { log } from '../common/logger.ts';

/** One upstream host as the primary describes it to workers (plain data). */
export interface HostDescription {
  /** An IP address. */
  address: string;
  port: number;
  weight: number;
  priority: number;
  /** false for UNHEALTHY, DRAINING and TIMEOUT endpoints (health checking will drive this later). */
  healthy: boolean;
  /** health_status DEGRADED: still healthy (serves traffic), counted apart in membership_degraded. */
  degraded: boolean;
  /** endpoint.hostname, or the DNS name for STRICT_DNS/LOGICAL_DNS (what auto_host_rewrite uses); may be ''. */
  hostname: string;
  /**
   * Envoy's /clusters health flags ("healthy", "/failed_active_hc", ...), set by active health checking
   * (src/upstream/health-checker.ts, which also folds its verdict into `healthy`); absent without it.
   */
  healthFlags?: string;
  /** endpoint.health_check_config port_value / hostname / disable_active_health_check, when given. */
  healthCheckPort?: number;
  healthCheckHostname?: string;
  healthCheckDisabled?: boolean;
  /**
   * With locality_weighted_lb_config only: the index of the host's LocalityLbEndpoints and its load_balancing_weight
   * (0 = none), which workers weight localities by (workers/upstream/locality-lb.ts).
   */
  locality?: number;
  localityWeight?: number;
  /** The endpoint's metadata.filter_metadata["envoy.lb"] when its cluster has lb_subset_config (workers/upstream/subset-lb.ts). */
  lbMetadata?: Record<string, unknown>;
}

/** The complete host list of a cluster at one moment (not a delta). */
export interface HostSet {
  cluster: string;
  /** Increases with every update this process emits, across clusters and membership restarts. */
  version: number;
  hosts: HostDescription[];
}

/** Resolves a name to IP addresses of one family (0 = any), in resolver order. Rejects when it cannot. */
export type LookupFunction = (hostname: string, family: 0 | 4 | 6) => Promise<string[]>;

/** getaddrinfo through libuv's threadpool: honours /etc/hosts like the rest of the system. */
export const systemLookup: LookupFunction = async (hostname, family) => {
  const results = await dns.promises.lookup(hostname, { all: true, family });
  const out: string[] = [];
  for (let i = 0; i < results.length; i++) out.push(results[i]!.address);
  return out;
};

/**
 * Envoy's lookup families: AUTO is v6 falling back to v4 (when the v6 lookup fails or is empty),
 * V4_PREFERRED the reverse, ALL both families together.
 */
export async function resolveForFamily(lookup: LookupFunction, hostname: string, family: DnsLookupFamily): Promise<string[]> {
  switch (family) {
    case 'V4_ONLY':
      return lookup(hostname, 4);
    case 'V6_ONLY':
      return lookup(hostname, 6);
    case 'ALL':
      return lookup(hostname, 0);
    case 'AUTO':
      return withFallback(lookup, hostname, 6, 4);
    case 'V4_PREFERRED':
      return withFallback(lookup, hostname, 4, 6);
  }
}

async function withFallback(lookup: LookupFunction, hostname: string, first: 4 | 6, second: 4 | 6): Promise<string[]> {
  try {
    const addresses = await lookup(hostname, first);
    if (addresses.length > 0) return addresses;
  } catch {
    // fall through to the other family
  }
  return lookup(hostname, second);
}

function isHealthy(status: EndpointHealthStatus): boolean {
  // DEGRADED hosts still serve (Envoy only deprioritizes them); degraded-aware balancing is not implemented.
  return status === 'UNKNOWN' || status === 'HEALTHY' || status === 'DEGRADED';
}

let nextVersion = 1;

/** A fresh host-set version (versions only grow, across clusters; active health checking emits sets too). */
export function nextHostSetVersion(): number {
  return nextVersion++;
}

/** One endpoint of a DNS cluster: its own refresh timer and its last good addresses. */
class ResolveTarget {
  readonly endpoint: CompiledEndpoint;
  /** Last good resolution, in resolver order. */
  addresses: string[];
  resolvedOnce: boolean;
  consecutiveFailures: number;
  timer: NodeJS.Timeout | null;

  constructor(endpoint: CompiledEndpoint) {
    this.endpoint = endpoint;
    this.addresses = [];
    this.resolvedOnce = false;
    this.consecutiveFailures = 0;
    this.timer = null;
  }
}

export class ClusterMembership {
  readonly cluster: CompiledCluster;
  private readonly store: WorkerStatsStore;
  private readonly slots: ClusterSlots;
  private readonly onUpdate: (update: HostSet) => void;
  private readonly lookup: LookupFunction;
  private readonly targets: ResolveTarget[];
  private lastKey: string | null;
  private lastSet: HostSet | null;
  private stopped: boolean;
  private started: Promise<void> | null;
  private resolveStarted: (() => void) | null;

  /**
   * `store` is the primary's own stats region (membership gauges, update_* counters); `onUpdate` is called on the
   * primary thread with each new host set, synchronously from start() for STATIC clusters.
   */
  constructor(
    cluster: CompiledCluster,
    store: WorkerStatsStore,
    slots: ClusterSlots,
    onUpdate: (update: HostSet) => void,
    lookup: LookupFunction = systemLookup,
  ) {
    this.cluster = cluster;
    this.store = store;
    this.slots = slots;
    this.onUpdate = onUpdate;
    this.lookup = lookup;
    this.targets = [];
    if (cluster.type !== 'STATIC') {
      for (let i = 0; i < cluster.endpoints.length; i++) this.targets.push(new ResolveTarget(cluster.endpoints[i]!));
    }
    this.lastKey = null;
    this.lastSet = null;
    this.stopped = false;
    this.started = null;
    this.resolveStarted = null;
  }

  /**
   * Starts resolving. The promise settles (never rejects) once the cluster is initialized: every endpoint tried
   * once, the first host set emitted (possibly empty). Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.started !== null) return this.started;
    this.started = new Promise<void>((resolve) => {
      this.resolveStarted = resolve;
    });
    if (this.cluster.type === 'STATIC' || this.targets.length === 0) {
      this.emitIfChanged();
      this.markInitialized();
    } else {
      for (let i = 0; i < this.targets.length; i++) void this.resolveTarget(this.targets[i]!);
    }
    return this.started;
  }

  /** True once the first host set has been emitted. */
  get initialized(): boolean {
    return this.lastSet !== null;
  }

  /** The last host set emitted, or null before initialization. */
  get current(): HostSet | null {
    return this.lastSet;
  }

  /** Stops timers; results of lookups still in flight are dropped. The membership gauges go back to 0. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (let i = 0; i < this.targets.length; i++) {
      const t = this.targets[i]!;
      if (t.timer !== null) clearTimeout(t.timer);
      t.timer = null;
    }
    const values = this.store.values;
    values[this.slots.membership_total] = 0;
    values[this.slots.membership_healthy] = 0;
    values[this.slots.membership_degraded] = 0;
    this.markInitialized();
  }

  private async resolveTarget(target: ResolveTarget): Promise<void> {
    target.timer = null;
    const values = this.store.values;
    values[this.slots.update_attempt]++;
    let addresses: string[] | null = null;
    let failure: Error | null = null;
    try {
      addresses = await resolveForFamily(this.lookup, target.endpoint.address, this.cluster.dnsLookupFamily);
    } catch (err) {
      failure = err as Error;
    }
    if (this.stopped) return;
    let delayMs = this.cluster.dnsRefreshRateMs;
    if (addresses !== null) {
      values[this.slots.update_success]++;
      target.consecutiveFailures = 0;
      // LOGICAL_DNS connects to the first address only, as Envoy does.
      target.addresses = this.cluster.type === 'LOGICAL_DNS' ? addresses.slice(0, 1) : addresses;
    } else {
      // Keep the last good addresses of this target; retry sooner, backing off up to the max.
      values[this.slots.update_failure]++;
      target.consecutiveFailures++;
      const base = this.cluster.dnsFailureRefreshBaseMs;
      delayMs = Math.min(base * 2 ** (target.consecutiveFailures - 1), this.cluster.dnsFailureRefreshMaxMs);
      log.debug(`cluster '${this.cluster.name}': resolving ${target.endpoint.address} failed: ${failure?.message ?? ''}`);
    }
    target.resolvedOnce = true;
    target.timer = setTimeout(onRefreshTimer, delayMs, this, target);
    target.timer.unref();
    if (this.allTargetsResolvedOnce()) {
      this.emitIfChanged();
      this.markInitialized();
    }
  }

  /** @internal Timer entry point. */
  refresh(target: ResolveTarget): void {
    if (!this.stopped) void this.resolveTarget(target);
  }

  private allTargetsResolvedOnce(): boolean {
    for (let i = 0; i < this.targets.length; i++) if (!this.targets[i]!.resolvedOnce) return false;
    return true;
  }

  private markInitialized(): void {
    const resolve = this.resolveStarted;
    this.resolveStarted = null;
    if (resolve !== null) resolve();
  }

  private currentHosts(): HostDescription[] {
    const hosts: HostDescription[] = [];
    const seen = new Set<string>();
    if (this.cluster.type === 'STATIC') {
      const endpoints = this.cluster.endpoints;
      for (let i = 0; i < endpoints.length; i++) addHost(hosts, seen, endpoints[i]!, endpoints[i]!.address, endpoints[i]!.hostname, this.cluster.localityWeightedLb, this.cluster.subset !== null);
    } else {
      for (let i = 0; i < this.targets.length; i++) {
        const t = this.targets[i]!;
        const hostname = t.endpoint.hostname !== '' ? t.endpoint.hostname : t.endpoint.address;
        for (let j = 0; j < t.addresses.length; j++) addHost(hosts, seen, t.endpoint, t.addresses[j]!, hostname, this.cluster.localityWeightedLb, this.cluster.subset !== null);
      }
    }
    return hosts;
  }

  private emitIfChanged(): void {
    const hosts = this.currentHosts();
    // Order-insensitive: a resolver rotating its answers is not a membership change.
    const key = hosts.map((h) => `${h.address}|${h.port}|${h.weight}|${h.priority}|${h.healthy}|${h.degraded}|${h.hostname}|${h.healthCheckPort ?? 0}|${h.healthCheckHostname ?? ''}|${h.healthCheckDisabled === true}|${h.locality ?? -1}|${h.localityWeight ?? 0}|${h.lbMetadata === undefined ? '' : JSON.stringify(h.lbMetadata)}`).sort().join('\n');
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.writeGauges(hosts);
    const update: HostSet = { cluster: this.cluster.name, version: nextHostSetVersion(), hosts };
    this.lastSet = update;
    this.onUpdate(update);
  }

  private writeGauges(hosts: readonly HostDescription[]): void {
    let healthy = 0;
    let degraded = 0;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      // Envoy counts degraded hosts apart from healthy ones.
      if (h.degraded) degraded++;
      else if (h.healthy) healthy++;
    }
    const values = this.store.values;
    values[this.slots.membership_total] = hosts.length;
    values[this.slots.membership_healthy] = healthy;
    values[this.slots.membership_degraded] = degraded;
  }
}

/** Appends one host per address:port (workers key pools by it); the first endpoint naming it wins. */
function addHost(hosts: HostDescription[], seen: Set<string>, e: CompiledEndpoint, address: string, hostname: string, withLocality = false, withLbMetadata = false): void {
  const key = `${address}|${e.port}`;
  if (seen.has(key)) return;
  seen.add(key);
  const host: HostDescription = {
    address,
    port: e.port,
    weight: e.weight,
    priority: e.priority,
    healthy: isHealthy(e.healthStatus),
    degraded: e.healthStatus === 'DEGRADED',
    hostname,
  };
  if (e.healthCheckPort > 0) host.healthCheckPort = e.healthCheckPort;
  if (e.healthCheckHostname !== '') host.healthCheckHostname = e.healthCheckHostname;
  if (e.healthCheckDisabled) host.healthCheckDisabled = true;
  if (withLocality) {
    host.locality = e.locality;
    host.localityWeight = e.localityWeight;
  }
  if (withLbMetadata && e.lbMetadata !== null) host.lbMetadata = e.lbMetadata;
  hosts.push(host);
}

function onRefreshTimer(membership: ClusterMembership, target: ResolveTarget): void {
  membership.refresh(target);
}
