// Primary thread. One ClusterMembership per cluster of the current config: started for new clusters, restarted
// when a cluster's config changed, stopped for removed ones. Keeps the latest host set of each cluster so a
// fresh worker can be brought up to date.

import { ClusterMembership, type HostSet } from '../upstream/cluster-membership.ts';
import type { CompiledCluster } from '../upstream/cluster-config.ts';
import type { ClusterSlots } from '../snapshot/snapshot-types.ts';
import type { StatsHub } from './stats-hub.ts';
import { log } from '../common/logger.ts';

/** How long start-up and reloads wait for a new cluster's first resolution (Envoy's init manager waits too). */
const INITIAL_RESOLUTION_WAIT_MS = 5000;

interface Entry {
  key: string;
  membership: ClusterMembership;
}

export class MembershipManager {
  private readonly entries = new Map<string, Entry>();
  private readonly hostSets = new Map<string, HostSet>();
  private readonly stats: StatsHub;
  private readonly onHostSet: (update: HostSet) => void;

  constructor(stats: StatsHub, onHostSet: (update: HostSet) => void) {
    this.stats = stats;
    this.onHostSet = onHostSet;
  }

  async apply(clusters: readonly CompiledCluster[], slots: Readonly<Record<string, ClusterSlots>>): Promise<void> {
    const started: Promise<void>[] = [];
    const names = new Set<string>();
    for (const c of clusters) {
      names.add(c.name);
      const key = JSON.stringify(c);
      const existing = this.entries.get(c.name);
      if (existing !== undefined && existing.key === key) continue;
      existing?.membership.stop();
      const membership = new ClusterMembership(c, this.stats.primaryStore, slots[c.name]!, (update) => {
        this.hostSets.set(update.cluster, update);
        this.onHostSet(update);
      });
      this.entries.set(c.name, { key, membership });
      started.push(membership.start());
    }
    for (const [name, e] of this.entries) {
      if (names.has(name)) continue;
      e.membership.stop();
      this.entries.delete(name);
      this.hostSets.delete(name);
    }
    if (started.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        log.warn(`some clusters have not resolved after ${INITIAL_RESOLUTION_WAIT_MS} ms; starting without them`);
        resolve();
      }, INITIAL_RESOLUTION_WAIT_MS);
    });
    await Promise.race([Promise.all(started).then(() => undefined), timeout]);
    clearTimeout(timer);
  }

  currentHostSets(): HostSet[] {
    return [...this.hostSets.values()];
  }

  stopAll(): void {
    for (const e of this.entries.values()) e.membership.stop();
    this.entries.clear();
  }
}
