// Worker thread. Applies each config version to this worker's listeners: listeners whose bind key stays keep
// their socket and place new connections on the new filter chains (HTTP connections of a chain that stays take
// its new connection manager for their next request); new ones bind; removed ones stop accepting and drain.

import type { FilterChainConfig, ListenerConfig, Snapshot } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { log } from '../../src/common/logger.ts';
import { HcmRuntime } from '../http/hcm-runtime.ts';
import { TcpProxyRuntime } from '../tcp/tcp-proxy-runtime.ts';
import type { AccessLogSink } from '../../src/access-log/sink.ts';
import { ListenerRuntime } from './listener-runtime.ts';
import { FilterChainRuntime, ListenerChains } from './filter-chain-runtime.ts';
import type { WorkerClusterManager } from '../upstream/cluster-manager.ts';
import type { AccessLogSinkCache } from './access-log-sink-cache.ts';
import type { TlsSpec } from '../../src/tls/tls-spec.ts';
import type { HighMemorySweep } from '../../src/overload/high-memory-streams.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import { UdpListenerManager } from '../udp/udp-listener-manager.ts';

export class ListenerManager {
  private readonly listeners = new Map<string, ListenerRuntime>();
  private readonly stats: WorkerStatsStore;
  private readonly workerSlots: Readonly<Record<string, number>>;
  private readonly clusters: WorkerClusterManager;
  private readonly sinks: AccessLogSinkCache;
  /** The config version applied last (tls_update messages of another version are stale). */
  private version = 0;
  /** envoy.overload_actions.stop_accepting_connections is saturated: listen sockets stay closed. */
  private overloadStopAccepting = false;
  /** UDP listeners (udp_proxy), kept apart: they have no filter chains and no connections. */
  private readonly udp: UdpListenerManager;

  constructor(stats: WorkerStatsStore, workerSlots: Readonly<Record<string, number>>, clusters: WorkerClusterManager, sinks: AccessLogSinkCache) {
    this.stats = stats;
    this.workerSlots = workerSlots;
    this.clusters = clusters;
    this.sinks = sinks;
    this.udp = new UdpListenerManager(stats, clusters);
  }

  /**
   * Returns one message per listener that failed (e.g. could not bind); the others are applied. A new listener
   * configured with port 0 binds listenerPorts[bindKey], the port the primary learnt from the first worker to bind
   * it (this worker, when absent: the kernel picks a port no other socket holds, see boundPorts()).
   */
  async apply(snapshot: Snapshot, drainTimeMs: number, listenerPorts: Readonly<Record<string, number>> = {}): Promise<string[]> {
    const problems: string[] = [];
    this.version = snapshot.version;
    const keep = new Set<string>();
    const binds: Promise<void>[] = [];
    for (const config of snapshot.listeners) {
      keep.add(config.bindKey);
      let chains: ListenerChains;
      try {
        chains = this.buildChains(config);
      } catch (err) {
        problems.push(`listener '${config.name}': ${(err as Error).message}`);
        continue;
      }
      const existing = this.listeners.get(config.bindKey);
      if (existing !== undefined && !existing.draining) {
        existing.update(config, chains, drainTimeMs);
        continue;
      }
      const runtime = new ListenerRuntime(config, chains, this.stats, this.workerSlots);
      const port = config.port === 0 ? (listenerPorts[config.bindKey] ?? 0) : config.port;
      binds.push(
        runtime.listen(port).then(
          () => {
            this.listeners.set(config.bindKey, runtime);
            if (this.overloadStopAccepting) runtime.setOverloadStopAccepting(true);
          },
          (err: Error) => {
            problems.push(`listener '${config.name}' cannot bind ${config.address}:${config.port}: ${err.message}`);
          },
        ),
      );
    }
    await Promise.all(binds);
    if (snapshot.udpListeners !== undefined) problems.push(...(await this.udp.apply(snapshot.udpListeners)));
    for (const [key, runtime] of this.listeners) {
      if (keep.has(key)) continue;
      this.listeners.delete(key);
      log.debug(`listener '${runtime.config.name}' removed: draining`);
      void runtime.drain(drainTimeMs);
    }
    this.sinks.retainOnly(snapshot);
    return problems;
  }

  /** The real port of every listener configured with port 0, by bind key (reported to the primary). */
  boundPorts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, l] of this.listeners) if (l.config.port === 0 && !l.draining) out[key] = l.boundPort;
    return out;
  }

  /** The port listener `name` is bound to in this worker (its real port with port_value 0); null when not bound. */
  portOf(name: string): number | null {
    for (const l of this.listeners.values()) if (l.config.name === name && !l.draining) return l.boundPort;
    return null;
  }

  /** Each chain's network filter, built once for this version: the filter's access logs run before the listener's. */
  private buildChains(config: ListenerConfig): ListenerChains {
    const listenerLogs = config.accessLogs.map((c) => this.sinks.get(c));
    const build = (chain: FilterChainConfig): FilterChainRuntime => {
      const f = chain.filter;
      if (f.kind === 'http_connection_manager') {
        const logs: AccessLogSink[] = [...f.hcm.accessLogs.map((c) => this.sinks.get(c)), ...listenerLogs];
        return new FilterChainRuntime(chain, new HcmRuntime(config, f.hcm, this.clusters, this.stats, this.workerSlots, logs), null);
      }
      const logs: AccessLogSink[] = [...f.tcpProxy.accessLogs.map((c) => this.sinks.get(c)), ...listenerLogs];
      return new FilterChainRuntime(chain, null, new TcpProxyRuntime(config, f.tcpProxy, this.clusters, this.stats, logs));
    };
    const defaultChain = config.defaultFilterChain === null ? null : build(config.defaultFilterChain);
    return new ListenerChains(config, config.filterChains.map(build), defaultChain, listenerLogs);
  }

  /**
   * A rotated certificate (the primary's tls_update): the listener contexts and the cluster context compiled from
   * spec.id take the new key material for new connections. Established connections keep theirs.
   */
  applyTlsUpdate(version: number, spec: TlsSpec): void {
    if (version !== this.version) return;
    let n = 0;
    if (spec.kind === 'downstream') {
      for (const l of this.listeners.values()) n += l.applyTlsUpdate(spec);
    } else {
      for (const name of this.clusters.names()) {
        const tls = this.clusters.get(name)?.tls ?? null;
        if (tls !== null && tls.currentSpec.id === spec.id && tls.update(spec)) n++;
      }
    }
    log.debug(`tls: ${spec.id}: new certificates in ${n} context(s)`);
  }

  /** The primary's overload_listeners: close (or reopen) every listen socket of this worker. */
  setOverloadStopAccepting(stop: boolean): void {
    this.overloadStopAccepting = stop;
    for (const l of this.listeners.values()) l.setOverloadStopAccepting(stop);
  }

  /** reset_high_memory_stream: every HTTP stream of this worker's listeners, with what it holds. */
  offerHighMemoryStreams(sweep: HighMemorySweep<ActiveStream>): void {
    for (const l of this.listeners.values()) l.offerHighMemoryStreams(sweep);
  }

  /**
   * /drain_listeners: the listeners with these bind keys (null: every one) stop accepting; their connections go
   * on. Graceful, as Envoy's drain sequence: for drainTimeMs they keep accepting while their connections are asked
   * to close (at once: Legate's drain strategy is immediate), then they stop accepting (unless skipExit) and the
   * connections taken meanwhile are asked to close too.
   */
  drainListeners(bindKeys: readonly string[] | null, graceful: boolean, skipExit: boolean, drainTimeMs: number): void {
    const selected: ListenerRuntime[] = [];
    for (const [key, l] of this.listeners) if (bindKeys === null || bindKeys.includes(key)) selected.push(l);
    if (!graceful) {
      for (const l of selected) l.stopAccepting();
      return;
    }
    for (const l of selected) l.drainConnections();
    const timer = setTimeout(() => {
      for (const l of selected) {
        if (l.draining) continue;
        if (!skipExit) l.stopAccepting();
        l.drainConnections();
      }
    }, drainTimeMs);
    timer.unref();
  }

  /** Graceful shutdown: every listener stops accepting and its connections finish (bounded by maxMs). */
  async drainAll(maxMs: number): Promise<void> {
    this.udp.closeAll();
    await Promise.all([...this.listeners.values()].map((l) => l.drain(maxMs)));
    this.listeners.clear();
  }
}
