// Primary thread. One ClusterMembership per cluster of the current config: started for new clusters, restarted
// when a cluster's config changed, stopped for removed ones. Keeps the latest host set of each cluster so a
// fresh worker can be brought up to date.

import { ClusterMembership, type HostSet } from '../upstream/cluster-membership.ts';
import type { CompiledCluster } from '../upstream/cluster-config.ts';
import type { ClusterSlots } from '../snapshot/snapshot-types.ts';
import type { StatsHub } from './stats-hub.ts';
import { log } from '../common/logger.ts';
import { HealthCheckManager } from './health-check-manager.ts';
import { OutlierManager } from './outlier-manager.ts';

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
  /** Active health checks: their verdicts are folded into the host sets workers get. */
  readonly health: HealthCheckManager;
  /** Outlier detection: its ejections are folded in after active health, before the workers. */
  readonly outlier: OutlierManager;

  constructor(stats: StatsHub, onHostSet: (update: HostSet) => void) {
    this.stats = stats;
    this.onHostSet = onHostSet;
    this.health = new HealthCheckManager(stats);
    this.outlier = new OutlierManager(stats);
  }

  async apply(clusters: readonly CompiledCluster[], slots: Readonly<Record<string, ClusterSlots>>): Promise<void> {
    const started: Promise<void>[] = [];
    let waitMs = INITIAL_RESOLUTION_WAIT_MS;
    const names = new Set<string>();
    for (const c of clusters) {
      names.add(c.name);
      const key = JSON.stringify(c);
      const existing = this.entries.get(c.name);
      if (existing !== undefined && existing.key === key) continue;
      existing?.membership.stop();
      const toWorkers = (update: HostSet): void => {
        this.hostSets.set(update.cluster, update);
        this.onHostSet(update);
      };
      // With outlier_detection the detector is the last stage: it marks ejected hosts in every set it passes on.
      const detector = c.outlierDetection !== null ? this.outlier.start(c, toWorkers) : null;
      if (detector === null) this.outlier.stop(c.name);
      const publish = detector === null ? toWorkers : (update: HostSet): void => detector.setBase(update);
      // With health_checks the checker sits between membership and the workers; it publishes once its first
      // round is done (Envoy's cluster warming), so a cluster never starts with unchecked hosts.
      const checker = c.healthChecks.length > 0 ? this.health.start(c, slots[c.name]!, publish) : null;
      // The first round of checks can take a check's timeout after the resolution (and the initial jitter before).
      if (checker !== null) waitMs = Math.max(waitMs, INITIAL_RESOLUTION_WAIT_MS + checker.check.initialJitterMs + checker.check.timeoutMs);
      if (checker === null) this.health.stop(c.name);
      const membership = new ClusterMembership(c, this.stats.primaryStore, slots[c.name]!, checker === null ? publish : (update) => checker.setBase(update));
      this.entries.set(c.name, { key, membership });
      started.push(checker === null ? membership.start() : membership.start().then(() => checker.whenWarmed()));
    }
    for (const [name, e] of this.entries) {
      if (names.has(name)) continue;
      e.membership.stop();
      this.health.stop(name);
      this.outlier.stop(name);
      this.entries.delete(name);
      this.hostSets.delete(name);
    }
    if (started.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        log.warn(`some clusters have not resolved (or finished their first health checks) after ${waitMs} ms; starting without them`);
        resolve();
      }, waitMs);
    });
    await Promise.race([Promise.all(started).then(() => undefined), timeout]);
    clearTimeout(timer);
  }

  currentHostSets(): HostSet[] {
    return [...this.hostSets.values()];
  }

  stopAll(): void {
    for (const e of this.entries.values()) e.membership.stop();
    this.health.stopAll();
    this.outlier.stopAll();
    this.entries.clear();
  }
}
