// Primary thread. Active health checking of every cluster that configures it: one ClusterHealthChecker per such
// cluster (src/upstream/health-checker.ts), fed each host set membership emits; it answers with the set the
// workers get (verdicts folded into each host's health). Passive failures reported by workers
// (x-envoy-immediate-health-check-fail) land here too.

import { ClusterHealthChecker } from '../upstream/health-checker.ts';
import type { HostSet } from '../upstream/cluster-membership.ts';
import type { CompiledCluster } from '../upstream/cluster-config.ts';
import type { ClusterSlots } from '../snapshot/snapshot-types.ts';
import type { StatsHub } from './stats-hub.ts';
import type { TlsSpec } from '../tls/tls-spec.ts';

export class HealthCheckManager {
  private readonly checkers = new Map<string, ClusterHealthChecker>();
  private readonly stats: StatsHub;

  constructor(stats: StatsHub) {
    this.stats = stats;
  }

  /**
   * Starts checking `cluster` (stopping a previous checker of that name). Host sets given to the returned checker
   * come back through `emit` with active health folded in, once its first round is done.
   */
  start(cluster: CompiledCluster, slots: ClusterSlots, emit: (set: HostSet) => void): ClusterHealthChecker {
    const existing = this.checkers.get(cluster.name);
    if (existing !== undefined && JSON.stringify(existing.check) === JSON.stringify(cluster.healthChecks[0])) {
      // Same health check, other cluster settings or hosts: hosts that remain keep their health.
      existing.updateCluster(cluster, slots);
      return existing;
    }
    this.stop(cluster.name);
    const regions = this.stats.regions;
    const trafficSlot = slots.upstream_cx_total;
    let traffic = false;
    const checker = new ClusterHealthChecker(cluster, {
      store: this.stats.primaryStore,
      slots,
      // Envoy checks at no_traffic_interval until the cluster has made a connection; summing one slot over the
      // regions is cheap, and once true it stays true.
      hasTraffic: () => traffic || (traffic = regions.sumSlot(trafficSlot) > 0),
      emit,
      random: Math.random,
    });
    this.checkers.set(cluster.name, checker);
    return checker;
  }

  stop(name: string): void {
    const existing = this.checkers.get(name);
    if (existing === undefined) return;
    existing.stop();
    this.checkers.delete(name);
  }

  stopAll(): void {
    for (const c of this.checkers.values()) c.stop();
    this.checkers.clear();
  }

  get(name: string): ClusterHealthChecker | undefined {
    return this.checkers.get(name);
  }

  /** A watched certificate changed: checkers of clusters using that spec connect with the new one from now on. */
  onTlsUpdate(spec: TlsSpec): void {
    for (const c of this.checkers.values()) c.onTlsUpdate(spec);
  }

  /** A worker saw x-envoy-immediate-health-check-fail from this host ("address:port" form split by the caller). */
  passiveFailure(cluster: string, address: string, port: number): void {
    this.checkers.get(cluster)?.passiveFailure(address, port);
  }
}
