// Primary thread. The primary's view of stats: the stat-name table, the shared-memory regions of every worker,
// the server.* scope it writes itself, and slot assignment for each compiled config version.

import { StatRegistry } from '../stats/stat-registry.ts';
import { SharedRegions } from '../stats/shared-regions.ts';
import type { MergedStats } from '../stats/merged-stats.ts';
import {
  CLUSTER_STATS, CLUSTER_TLS_STATS, HTTP_FILTER_STATS, CONNECTION_LIMIT_STATS, LISTENER_TLS_STATS, TLS_INSPECTOR_STATS, HTTP2_CODEC_STATS, HTTP_CONN_MANAGER_STATS, LISTENER_STATS, SERVER_STATS, TCP_PROXY_STATS, WORKER_STATS,
  NETWORK_RBAC_STATS, NETWORK_RBAC_SHADOW_STATS,
  type ScopeSlots, type WorkerStatsStore,
} from '../stats/definitions.ts';
import type { Snapshot } from '../snapshot/snapshot-types.ts';
import { CONNECTION_LIMIT_BASE, MAX_CONNECTION_LIMIT_COUNTERS } from '../overload/overload-shared.ts';
import { RESET_HIGH_MEMORY_STREAM, RESET_STREAMS_COUNT_STAT } from '../overload/overload-config.ts';

type ServerSlots = ScopeSlots<typeof SERVER_STATS>;

export class StatsHub {
  readonly registry: StatRegistry;
  readonly regions: SharedRegions;
  private readonly server: ServerSlots;
  private readonly workerScopes: Record<string, number>[] = [];
  private readonly connectionLimitCounters = new Map<string, number>();

  /** `fixedTags`: --stats-tag, on every stat. */
  constructor(concurrency: number, fixedTags: readonly (readonly [string, string])[] = []) {
    this.registry = new StatRegistry({ fixedTags });
    this.regions = new SharedRegions(this.registry);
    this.server = this.registry.allocateScope('server.', SERVER_STATS);
    // Root scopes every worker writes whatever the config: handed to workers with their worker_<i>.* slots,
    // under their full names ("http2.rx_reset").
    const http2 = this.registry.allocateScope('http2.', HTTP2_CODEC_STATS) as Record<string, number>;
    const rootSlots: Record<string, number> = {};
    for (const name of Object.keys(http2)) rootSlots[`http2.${name}`] = http2[name]!;
    for (let i = 0; i < concurrency; i++) {
      this.workerScopes[i] = { ...this.registry.allocateScope(`worker_${i}.`, WORKER_STATS, [['envoy_worker_id', String(i)]]), ...rootSlots };
    }
  }

  /** The primary's own region (server.*, membership gauges, DNS update counters). */
  get primaryStore(): WorkerStatsStore {
    return this.regions.primaryStore;
  }

  regionFor(workerIndex: number): SharedArrayBuffer {
    return this.regions.workerRegion(workerIndex);
  }

  workerSlots(workerIndex: number): Record<string, number> {
    return this.workerScopes[workerIndex]!;
  }

  /** Gives every listener, connection manager and cluster of a version its slots (same names, same slots). */
  assignSlots(snapshot: Snapshot): void {
    const r = this.registry;
    for (const l of snapshot.listeners) {
      l.slots = r.allocateScope(`listener.${l.statAddress}.`, LISTENER_STATS, [['envoy_listener_address', l.statAddress]]);
      const chains = l.defaultFilterChain === null ? l.filterChains : [...l.filterChains, l.defaultFilterChain];
      // TLS stats only where something writes them: the inspector, a chain with a TLS transport socket.
      if (l.tls.tlsInspector) l.tls.inspectorSlots = r.allocateScope('tls_inspector.', TLS_INSPECTOR_STATS);
      if (l.tls.tlsInspector || chains.some((c) => c.transportSocket !== null)) {
        l.tls.slots = r.allocateScope(`listener.${l.statAddress}.`, LISTENER_TLS_STATS, [['envoy_listener_address', l.statAddress]]);
      }
      for (const chain of chains) {
        // envoy.filters.network.rbac: <stat_prefix>.rbac.* and <stat_prefix>.rbac.<shadow_rules_stat_prefix>shadow_*.
        for (const rb of chain.networkRbac ?? []) {
          rb.slots = {
            ...r.allocateScope(`${rb.statPrefix}.rbac.`, NETWORK_RBAC_STATS),
            ...r.allocateScope(`${rb.statPrefix}.rbac.${rb.shadowStatPrefix}`, NETWORK_RBAC_SHADOW_STATS),
          };
        }
        const cl = chain.connectionLimit;
        if (cl === null) continue;
        cl.slots = r.allocateScope(`connection_limit.${cl.statPrefix}.`, CONNECTION_LIMIT_STATS, [['envoy_connection_limit_prefix', cl.statPrefix]]);
        cl.counterIndex = this.connectionLimitCounter(`${l.bindKey}|${chain.key}|${cl.statPrefix}`);
      }
      for (const { filter } of chains) {
        if (filter.kind === 'http_connection_manager') {
          const prefix = filter.hcm.statPrefix;
          filter.hcm.slots = r.allocateScope(`http.${prefix}.`, HTTP_CONN_MANAGER_STATS, [['envoy_http_conn_manager_prefix', prefix]]);
          // Each HTTP filter's own stats (cors.*, http_local_rate_limit.*), as its compiler named them.
          for (const hf of filter.hcm.httpFilters) {
            if (hf.stats !== null) hf.slots = r.allocateScope(hf.stats.prefix, hf.stats.scope ?? HTTP_FILTER_STATS[hf.stats.definition]!, hf.stats.tags);
          }
          for (const rf of filter.hcm.routeFilterStats) rf.slots = r.allocateScope(rf.stats.prefix, HTTP_FILTER_STATS[rf.stats.definition]!, rf.stats.tags);
        } else {
          const prefix = filter.tcpProxy.statPrefix;
          filter.tcpProxy.slots = r.allocateScope(`tcp.${prefix}.`, TCP_PROXY_STATS, [['envoy_tcp_prefix', prefix]]);
        }
      }
    }
    const clusterSlots: Snapshot['clusterSlots'] = {};
    for (const c of snapshot.clusters) {
      const statName = c.name;
      clusterSlots[c.name] = r.allocateScope(`cluster.${statName}.`, CLUSTER_STATS, [['envoy_cluster_name', statName]]);
      if (c.transportSocket !== null) c.tlsSlots = r.allocateScope(`cluster.${statName}.`, CLUSTER_TLS_STATS, [['envoy_cluster_name', statName]]);
    }
    snapshot.clusterSlots = clusterSlots;
    // Workers count the streams reset_high_memory_stream resets in a root counter (Envoy makes it with the action).
    const overload = snapshot.overload;
    if (overload.actions.some((a) => a.name === RESET_HIGH_MEMORY_STREAM)) {
      overload.resetStreamsCountSlot = r.counter(RESET_STREAMS_COUNT_STAT);
    }
  }

  /**
   * The overload-region counter of a connection_limit filter: one per listener, chain and stat prefix, the same
   * across reloads (connections of the old version give back what they took).
   */
  private connectionLimitCounter(key: string): number {
    let index = this.connectionLimitCounters.get(key);
    if (index === undefined) {
      if (this.connectionLimitCounters.size >= MAX_CONNECTION_LIMIT_COUNTERS) throw new RangeError('too many connection_limit filters');
      index = CONNECTION_LIMIT_BASE + this.connectionLimitCounters.size;
      this.connectionLimitCounters.set(key, index);
    }
    return index;
  }

  onWorkerDied(workerIndex: number): void {
    this.regions.onWorkerExit(workerIndex);
    this.primaryStore.values[this.server.worker_restarts]++;
  }

  setServerGauge(name: (typeof SERVER_STATS.gauges)[number], value: number): void {
    this.primaryStore.values[this.server[name]] = value;
  }

  incServerCounter(name: (typeof SERVER_STATS.counters)[number], by = 1): void {
    this.primaryStore.values[this.server[name]] += by;
  }

  mergeHistogramDelta(workerIndex: number, delta: Uint8Array): void {
    this.regions.mergeHistogramDelta(workerIndex, delta);
  }

  snapshot(): MergedStats {
    return this.regions.snapshot();
  }
}
