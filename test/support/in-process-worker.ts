// Test support: one worker's data path run inside the test process, on real sockets. The config goes through the
// same pipeline as bin/legate (load, validate, compile, stat slots, msgpackr, deep-freeze); then a ListenerManager
// binds its listeners here. Used where a test needs to plug something in that a child process cannot take (HTTP
// filters registered under test names) and by micro benches that time the whole request path in one process.

import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';
import { StatsHub } from '../../src/primary/stats-hub.ts';
import { decodeMessage, encodeMessage } from '../../src/messages/thread-messages.ts';
import { deepFreeze } from '../../src/common/deep-freeze.ts';
import type { Snapshot } from '../../src/snapshot/snapshot-types.ts';
import { ClusterMembership } from '../../src/upstream/cluster-membership.ts';
import { WorkerStats } from '../../src/stats/worker-stats.ts';
import { WorkerClusterManager } from '../../workers/upstream/cluster-manager.ts';
import { AccessLogSinkCache } from '../../workers/listener/access-log-sink-cache.ts';
import { ListenerManager } from '../../workers/listener/listener-manager.ts';

export interface InProcessOptions {
  /** The bootstrap, YAML or JSON. */
  config: string;
  /** Changes the compiled snapshot before it is encoded for the worker (as the primary's output would be). */
  mutate?: (snapshot: Snapshot) => void;
  /** The ports of port_value 0 listeners another worker bound, by bind key (what the primary sends a worker). */
  listenerPorts?: Record<string, number>;
}

export class InProcessWorker {
  private readonly hub: StatsHub;
  private readonly clusters: WorkerClusterManager;
  private readonly listeners: ListenerManager;
  private readonly sinks: AccessLogSinkCache;
  private readonly memberships: ClusterMembership[];

  private constructor(hub: StatsHub, clusters: WorkerClusterManager, listeners: ListenerManager, sinks: AccessLogSinkCache, memberships: ClusterMembership[]) {
    this.hub = hub;
    this.clusters = clusters;
    this.listeners = listeners;
    this.sinks = sinks;
    this.memberships = memberships;
  }

  /** Compiles `config` (throws with the problems when it does not validate) and binds its listeners. */
  static async start(options: InProcessOptions): Promise<InProcessWorker> {
    const result = runConfigPipeline({ configPath: undefined, configYaml: options.config }, 1);
    if (!result.ok) throw new Error(`config does not validate:\n${result.message}`);
    const compiled = result.snapshot;
    options.mutate?.(compiled);
    const hub = new StatsHub(1);
    hub.assignSlots(compiled);
    const snapshot = deepFreeze(decodeMessage<Snapshot>(encodeMessage(compiled)));
    const stats = new WorkerStats(hub.regionFor(0));
    const clusters = new WorkerClusterManager(stats);
    clusters.applyClusters(snapshot.clusters, snapshot.clusterSlots);
    const memberships = snapshot.clusters.map((c) => new ClusterMembership(c, hub.primaryStore, snapshot.clusterSlots[c.name]!, (u) => clusters.applyHostSet(u)));
    await Promise.all(memberships.map((m) => m.start()));
    const sinks = new AccessLogSinkCache();
    const listeners = new ListenerManager(stats, hub.workerSlots(0), clusters, sinks);
    const problems = await listeners.apply(snapshot, 0, options.listenerPorts);
    if (problems.length > 0) throw new Error(`listeners failed: ${problems.join('; ')}`);
    return new InProcessWorker(hub, clusters, listeners, sinks, memberships);
  }

  /** The port listener `name` listens on (with port_value 0, the one the kernel picked). */
  listenerPort(name: string): number {
    const port = this.listeners.portOf(name);
    if (port === null) throw new Error(`no listener '${name}'`);
    return port;
  }

  /** What this worker reports to the primary: the real port of each port_value 0 listener, by bind key. */
  boundPorts(): Record<string, number> {
    return this.listeners.boundPorts();
  }

  /** envoy.overload_actions.stop_accepting_connections as the primary sends it: close (true) or reopen the sockets. */
  setOverloadStopAccepting(stop: boolean): void {
    this.listeners.setOverloadStopAccepting(stop);
  }

  /** A counter or gauge by its full name (e.g. "http.ingress.downstream_rq_2xx"); 0 when it does not exist. */
  stat(name: string): number {
    const v = this.hub.snapshot().values.find((x) => x.info.name === name);
    return v === undefined ? 0 : v.value;
  }

  async stop(): Promise<void> {
    await this.listeners.drainAll(0);
    for (const m of this.memberships) m.stop();
    this.clusters.close();
    await this.sinks.flushAll();
  }
}
