// Primary thread. Outlier detection of every cluster that configures it: one OutlierDetector per such cluster
// (src/upstream/outlier-detector.ts), sitting between membership (or active health checking) and the workers.
// Workers' result batches land here; ejections go out to every worker in the host sets.

import { OutlierDetector, type HostResults } from '../upstream/outlier-detector.ts';
import type { HostSet } from '../upstream/cluster-membership.ts';
import type { CompiledCluster } from '../upstream/cluster-config.ts';
import type { StatsHub } from './stats-hub.ts';
import { OutlierEventLog } from '../upstream/outlier-event-log.ts';

export class OutlierManager {
  private readonly detectors = new Map<string, { detector: OutlierDetector; cluster: CompiledCluster }>();
  private readonly stats: StatsHub;
  private eventLog: OutlierEventLog | null = null;

  constructor(stats: StatsHub) {
    this.stats = stats;
  }

  /** cluster_manager.outlier_detection.event_log_path ('' = no log). */
  setEventLogPath(path: string): void {
    if (this.eventLog?.path === path) return;
    this.eventLog?.close();
    this.eventLog = path === '' ? null : new OutlierEventLog(path);
  }

  /**
   * Starts (or keeps, with its ejections) the detector of `cluster`; host sets given to it come back through
   * `emit` with the ejected hosts unhealthy.
   */
  start(cluster: CompiledCluster, emit: (set: HostSet) => void): OutlierDetector {
    const existing = this.detectors.get(cluster.name);
    const config = cluster.outlierDetection!;
    if (existing !== undefined) {
      existing.detector.updateConfig(config);
      existing.detector.setEmit(emit);
      existing.cluster = cluster;
      return existing.detector;
    }
    const entry = { detector: null as unknown as OutlierDetector, cluster };
    const store = this.stats.primaryStore;
    const detector = new OutlierDetector(cluster.name, config, {
      now: Date.now,
      random: Math.random,
      emit,
      stats: {
        inc: (name) => {
          const slots = entry.cluster.outlierSlots;
          if (slots !== null) store.values[slots[`outlier_detection.${name}` as keyof typeof slots]]++;
        },
        setActive: (n) => {
          const slots = entry.cluster.outlierSlots;
          if (slots !== null) store.values[slots['outlier_detection.ejections_active']] = n;
        },
      },
      event: (e) => this.eventLog?.write(e),
    });
    entry.detector = detector;
    this.detectors.set(cluster.name, entry);
    return detector;
  }

  stop(name: string): void {
    const e = this.detectors.get(name);
    if (e === undefined) return;
    e.detector.stop();
    this.detectors.delete(name);
  }

  stopAll(): void {
    for (const e of this.detectors.values()) e.detector.stop();
    this.detectors.clear();
    this.eventLog?.close();
    this.eventLog = null;
  }

  get(name: string): OutlierDetector | undefined {
    return this.detectors.get(name)?.detector;
  }

  /** A worker's batch. */
  report(cluster: string, results: HostResults[]): void {
    this.detectors.get(cluster)?.detector.report(results);
  }
}
