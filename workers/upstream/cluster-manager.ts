// Worker thread. This worker's clusters by name: built from each config snapshot, fed host sets from the
// primary, looked up by the router per request. Nothing here is shared with other threads.

import type { CompiledCluster } from '../../src/upstream/cluster-config.ts';
import type { HostSet } from '../../src/upstream/cluster-membership.ts';
import type { ClusterSlots } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import type { HostStatsReport } from '../../src/messages/thread-messages.ts';
import { withFastProperties } from '../../src/common/fast-properties.ts';
import { WorkerCluster } from './worker-cluster.ts';

export class WorkerClusterManager {
  private readonly stats: WorkerStatsStore;
  private readonly random: () => number;
  private clusters: Map<string, WorkerCluster>;

  /** `random` (uniform in [0, 1)) drives random picks and start offsets; injected by tests. */
  constructor(stats: WorkerStatsStore, random: () => number = Math.random) {
    this.stats = stats;
    this.random = random;
    this.clusters = new Map();
  }

  /**
   * Makes the cluster list match a snapshot: new names are added (with no hosts until their host set arrives),
   * existing ones take the new config and keep the pools of their hosts, missing ones drain.
   */
  applyClusters(compiled: readonly CompiledCluster[], slotsByCluster: Readonly<Record<string, ClusterSlots>>): void {
    const next = new Map<string, WorkerCluster>();
    for (let i = 0; i < compiled.length; i++) {
      const config = compiled[i]!;
      const decoded = slotsByCluster[config.name];
      // The primary assigns slots to every cluster of a snapshot; a missing one is a bug upstream of here.
      if (decoded === undefined) throw new Error(`snapshot has no stat slots for cluster '${config.name}'`);
      // Read per request by the router and the pools.
      const slots = withFastProperties(decoded);
      let cluster = this.clusters.get(config.name);
      if (cluster === undefined) cluster = new WorkerCluster(config, slots, this.stats, this.random);
      else cluster.updateConfig(config, slots);
      next.set(config.name, cluster);
    }
    for (const [name, cluster] of this.clusters) if (!next.has(name)) cluster.drain();
    this.clusters = next;
    this.rebuildAggregates(null);
  }

  /** A host set for a cluster this worker does not have (removed meanwhile) is ignored. */
  applyHostSet(update: HostSet): void {
    const cluster = this.clusters.get(update.cluster);
    if (cluster !== undefined) cluster.applyHostSet(update);
    this.rebuildAggregates(update.cluster);
  }

  /** Aggregate clusters listing `member` (null: every aggregate) take their members' current hosts. */
  private rebuildAggregates(member: string | null): void {
    for (const cluster of this.clusters.values()) {
      const aggregate = cluster.aggregate;
      if (aggregate === null || (member !== null && !aggregate.memberNames.includes(member))) continue;
      aggregate.rebuild(this.lookup);
    }
  }

  private readonly lookup = (name: string): WorkerCluster | undefined => this.clusters.get(name);

  get(name: string): WorkerCluster | undefined {
    return this.clusters.get(name);
  }

  names(): string[] {
    return [...this.clusters.keys()];
  }

  /** This worker's per-host counts, for the primary's /clusters (built only when the admin asks). */
  hostReports(): HostStatsReport[] {
    const out: HostStatsReport[] = [];
    for (const cluster of this.clusters.values()) {
      for (const host of cluster.allHosts()) {
        const c = host.counters;
        out.push({
          cluster: cluster.config.name,
          host: `${host.address}:${host.port}`,
          cxTotal: c.cxTotal,
          cxActive: c.cxActive,
          cxConnectFail: c.cxConnectFail,
          rqTotal: c.rqTotal,
          rqActive: c.rqActive,
          rqSuccess: c.rqSuccess,
          rqError: c.rqError,
          rqTimeout: c.rqTimeout,
        });
      }
    }
    return out;
  }

  /** Closes every connection of every cluster now (worker shutdown). */
  close(): void {
    for (const cluster of this.clusters.values()) cluster.close();
    this.clusters.clear();
  }
}
