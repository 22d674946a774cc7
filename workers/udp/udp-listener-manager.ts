// Worker thread. Applies each config version to this worker's UDP listeners (udp_proxy): a listener whose bind key
// stays keeps its socket and sessions and takes the new config for new sessions; a new one binds; one gone closes
// with its sessions (UDP has no connections to drain).

import { log } from '../../src/common/logger.ts';
import type { UdpListenerConfig } from '../../src/snapshot/udp-listener-config.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import type { WorkerClusterManager } from '../upstream/cluster-manager.ts';
import { UdpProxyListener } from './udp-proxy-listener.ts';

export class UdpListenerManager {
  private readonly listeners = new Map<string, UdpProxyListener>();
  private readonly stats: WorkerStatsStore;
  private readonly clusters: WorkerClusterManager;

  constructor(stats: WorkerStatsStore, clusters: WorkerClusterManager) {
    this.stats = stats;
    this.clusters = clusters;
  }

  /** Returns one message per listener that failed (could not bind, bad config); the others are applied. */
  async apply(configs: readonly UdpListenerConfig[]): Promise<string[]> {
    const problems: string[] = [];
    const keep = new Set<string>();
    const binds: Promise<void>[] = [];
    for (const config of configs) {
      keep.add(config.bindKey);
      const existing = this.listeners.get(config.bindKey);
      try {
        if (existing !== undefined) {
          existing.update(config);
          continue;
        }
        const l = new UdpProxyListener(config, this.stats, this.clusters);
        binds.push(l.listen().then(
          () => {
            this.listeners.set(config.bindKey, l);
          },
          (err: Error) => {
            problems.push(`listener '${config.name}' cannot bind UDP ${config.address}:${config.port}: ${err.message}`);
          },
        ));
      } catch (err) {
        problems.push(`listener '${config.name}': ${(err as Error).message}`);
      }
    }
    await Promise.all(binds);
    for (const [key, l] of this.listeners) {
      if (keep.has(key)) continue;
      this.listeners.delete(key);
      log.debug(`udp listener '${l.config.name}' removed: closed`);
      l.close();
    }
    return problems;
  }

  closeAll(): void {
    for (const l of this.listeners.values()) l.close();
    this.listeners.clear();
  }
}
