// Worker thread. The runtime of one tcp_proxy filter for one config version: its frozen config, slot table and
// access log sinks, built once per snapshot. Sessions capture it when they start, so a reload never changes a
// session in flight.

import type { ListenerConfig, TcpProxyConfig, TcpProxySlots } from '../../src/snapshot/snapshot-types.ts';
import type { AccessLogSink } from '../../src/access-log/sink.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { withFastProperties } from '../../src/common/fast-properties.ts';
import type { WorkerClusterManager } from '../upstream/cluster-manager.ts';

export class TcpProxyRuntime {
  readonly config: TcpProxyConfig;
  readonly slots: TcpProxySlots;
  readonly listener: ListenerConfig;
  readonly clusters: WorkerClusterManager;
  readonly stats: WorkerStatsStore;
  /** tcp_proxy access logs then listener access logs, written when a session ends. */
  readonly accessLogs: readonly AccessLogSink[];
  private readonly random: () => number;

  constructor(
    listener: ListenerConfig,
    config: TcpProxyConfig,
    clusters: WorkerClusterManager,
    stats: WorkerStatsStore,
    accessLogs: readonly AccessLogSink[],
    random: () => number = Math.random,
  ) {
    // The primary assigns slots to every tcp_proxy of a snapshot; a missing table is a bug upstream of here.
    if (config.slots === null) throw new Error(`tcp_proxy '${config.statPrefix}' has no stat slots`);
    this.listener = listener;
    this.config = config;
    this.slots = withFastProperties(config.slots);
    this.clusters = clusters;
    this.stats = stats;
    this.accessLogs = accessLogs;
    this.random = random;
  }

  /** The cluster for the next connection attempt: `cluster`, or a weighted pick among weighted_clusters. */
  pickCluster(): string {
    const clusters = this.config.clusters;
    if (clusters.length === 1) return clusters[0]!.name;
    let r = this.random() * this.config.totalWeight;
    for (let i = 0; i < clusters.length; i++) {
      const c = clusters[i]!;
      if (r < c.weight) return c.name;
      r -= c.weight;
    }
    return clusters[clusters.length - 1]!.name;
  }
}
