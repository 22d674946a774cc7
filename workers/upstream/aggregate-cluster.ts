// Worker thread. An aggregate cluster (envoy.clusters.aggregate) as this worker runs it: the priority levels of
// its member clusters, concatenated in the order the config lists them, share the load as one cluster's levels
// would (priority-load.ts: overprovisioning factor, panic threshold), so the first member with healthy hosts takes
// the traffic and the next ones take what its health gives up. Rebuilt when a member's host set (with its health
// verdicts) or the cluster list changes; choose() is the per-request part: it picks the member cluster whose pools,
// circuit breakers, load balancer and stats the request then uses.

import type { WorkerCluster } from './worker-cluster.ts';
import { computePriorityLoad } from './priority-load.ts';

export class AggregateSelector {
  /** Member cluster names, in failover order. */
  readonly memberNames: readonly string[];
  private readonly panicThresholdPercent: number;
  private readonly random: () => number;
  /** Per level that takes load: its member cluster and the upper bound (exclusive, percent) of its slice. */
  private levelClusters: WorkerCluster[];
  private cumulative: number[];

  constructor(memberNames: readonly string[], panicThresholdPercent: number, random: () => number) {
    this.memberNames = memberNames;
    this.panicThresholdPercent = panicThresholdPercent;
    this.random = random;
    this.levelClusters = [];
    this.cumulative = [];
  }

  /** The member for the next request; null when no member has a host that can take it. */
  choose(): WorkerCluster | null {
    const levels = this.levelClusters;
    const n = levels.length;
    if (n === 0) return null;
    if (n === 1) return levels[0]!;
    const r = this.random() * 100;
    const cumulative = this.cumulative;
    for (let i = 0; i < n - 1; i++) if (r < cumulative[i]!) return levels[i]!;
    return levels[n - 1]!;
  }

  /** Recomputes the split from the members' current hosts; a member not (yet) known to this worker has no levels. */
  rebuild(lookup: (name: string) => WorkerCluster | undefined): void {
    const owners: WorkerCluster[] = [];
    const healthy: number[] = [];
    const total: number[] = [];
    for (const name of this.memberNames) {
      const member = lookup(name);
      // An aggregate inside an aggregate is not expanded (Envoy refuses loops; nesting is rare): it is skipped.
      if (member === undefined || member.aggregate !== null) continue;
      const byPriority = new Map<number, [number, number]>();
      for (const host of member.allHosts()) {
        let counts = byPriority.get(host.priority);
        if (counts === undefined) byPriority.set(host.priority, (counts = [0, 0]));
        if (host.healthy) counts[0]++;
        counts[1]++;
      }
      for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
        const counts = byPriority.get(p)!;
        owners.push(member);
        healthy.push(counts[0]);
        total.push(counts[1]);
      }
    }
    const { loads } = computePriorityLoad(healthy, total, this.panicThresholdPercent);
    const levelClusters: WorkerCluster[] = [];
    const cumulative: number[] = [];
    let sum = 0;
    for (let i = 0; i < loads.length; i++) {
      if (loads[i]! === 0) continue;
      sum += loads[i]!;
      levelClusters.push(owners[i]!);
      cumulative.push(sum);
    }
    this.levelClusters = levelClusters;
    this.cumulative = cumulative;
  }
}
