// Primary thread. The primary's view of stats: the stat-name table, the shared-memory regions of every worker,
// the server.* scope it writes itself, and slot assignment for each compiled config version.

import { StatRegistry } from '../stats/stat-registry.ts';
import { SharedRegions } from '../stats/shared-regions.ts';
import type { MergedStats } from '../stats/merged-stats.ts';
import {
  CLUSTER_STATS, CLUSTER_TLS_STATS, CLUSTER_HEALTH_CHECK_STATS, CLUSTER_OUTLIER_DETECTION_STATS, HTTP_FILTER_STATS, CONNECTION_LIMIT_STATS, NETWORK_LOCAL_RATELIMIT_STATS, LISTENER_TLS_STATS, TLS_INSPECTOR_STATS, HTTP2_CODEC_STATS, HTTP_CONN_MANAGER_STATS, LISTENER_STATS, SERVER_STATS, TCP_PROXY_STATS, WORKER_STATS,
  NETWORK_RBAC_STATS, NETWORK_RBAC_SHADOW_STATS,
  UDP_PROXY_STATS, CLUSTER_UDP_STATS, LISTENER_UDP_STATS,
  type ScopeSlots, type WorkerStatsStore,
} from '../stats/definitions.ts';
import type { ListenerConfig, Snapshot } from '../snapshot/snapshot-types.ts';
import { CONNECTION_LIMIT_BASE, MAX_CONNECTION_LIMIT_COUNTERS } from '../overload/overload-shared.ts';
import { RESET_HIGH_MEMORY_STREAM, RESET_STREAMS_COUNT_STAT } from '../overload/overload-config.ts';
import { DEFAULT_STATS_SETTINGS, sourceOf, type StatsSettings } from '../stats/stats-config.ts';
import { StatsFlusher, type FlushHooks } from '../stats/stats-flusher.ts';
import { ManagerStats, type NamedSignature } from '../stats/manager-stats.ts';
import { HTTP_CONN_MANAGER_LISTENER_STATS, LISTENER_WORKER_STATS, RUNTIME_STATS, UPSTREAM_RQ_CODE_NAMES } from '../stats/definitions.ts';
import { runtimeView } from '../admin/format-runtime.ts';
import type { ThreadHeapStats } from '../messages/thread-messages.ts';
import { versionString } from './version-info.ts';

type ServerSlots = ScopeSlots<typeof SERVER_STATS>;

export class StatsHub {
  readonly registry: StatRegistry;
  readonly regions: SharedRegions;
  private readonly server: ServerSlots;
  private readonly workerScopes: Record<string, number>[] = [];
  private readonly connectionLimitCounters = new Map<string, number>();
  /** stats_config, stats_sinks, stats_flush_interval: read once at start-up (configure). */
  settings: StatsSettings = DEFAULT_STATS_SETTINGS;
  private flusher: StatsFlusher | null = null;
  private readonly managers: ManagerStats;
  private readonly concurrency: number;
  private readonly runtime: ScopeSlots<typeof RUNTIME_STATS>;
  /** What /runtime_modify put in the admin layer (runtime.num_keys counts its keys too). */
  private runtimeAdminValues: ReadonlyMap<string, string> = new Map();
  /** listener.<addr>.downstream_cx_active of the current version: server.total_connections is their sum. */
  private listenerActiveSlots: readonly number[] = [];

  /** `fixedTags`: --stats-tag, on every stat. */
  constructor(concurrency: number, fixedTags: readonly (readonly [string, string])[] = []) {
    this.registry = new StatRegistry({ fixedTags });
    this.regions = new SharedRegions(this.registry);
    this.server = this.registry.allocateScope('server.', SERVER_STATS);
    this.concurrency = concurrency;
    this.managers = new ManagerStats(this.registry, this.regions.primaryStore.values);
    this.runtime = this.registry.allocateScope('runtime.', RUNTIME_STATS);
    // Envoy's server.version: the first six hex digits of the revision, as a number.
    this.setServerGauge('version', Number.parseInt(versionString().slice(0, 6), 16) || 0);
    // Root scopes every worker writes whatever the config: handed to workers with their worker_<i>.* slots,
    // under their full names ("http2.rx_reset").
    const http2 = this.registry.allocateScope('http2.', HTTP2_CODEC_STATS) as Record<string, number>;
    const rootSlots: Record<string, number> = {};
    for (const name of Object.keys(http2)) rootSlots[`http2.${name}`] = http2[name]!;
    for (let i = 0; i < concurrency; i++) {
      // worker_index: not a slot, the worker's own index (listener.<address>.worker_<n>.* are picked by it).
      this.workerScopes[i] = { ...this.registry.allocateScope(`worker_${i}.`, WORKER_STATS, [['envoy_worker_id', String(i)]]), ...rootSlots, worker_index: i };
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

  /**
   * The bootstrap's stats_config, stats_sinks and stats_flush_interval (compileStatsSettings), once at start-up
   * before the first version's slots: tags, matcher and buckets apply to every stat, those named so far included.
   */
  configure(settings: StatsSettings): void {
    this.settings = settings;
    this.registry.configure(settings);
    if (settings.serverVersionOverride !== null) this.setServerGauge('version', settings.serverVersionOverride);
  }

  /** A reload's bootstrap: a warning when it changes what configure() read once (as Envoy, it has no effect). */
  reloadWarning(bootstrap: Record<string, unknown>): string | null {
    if (sourceOf(bootstrap) === this.settings.source) return null;
    return 'stats_config, stats_sinks, stats_flush_interval and stats_server_version_override are read at start-up only: the change takes effect at the next start';
  }

  /** Starts the periodic flush (histogram intervals, sinks); `collect` brings the numbers up to date. */
  startFlushing(hooks: Omit<FlushHooks, 'onDropped'>): void {
    this.flusher ??= new StatsFlusher(this.regions, this.settings, {
      collect: hooks.collect,
      onError: hooks.onError,
      onDropped: () => this.incServerCounter('dropped_stat_flushes'),
    });
    this.flusher.start();
  }

  stopFlushing(): void {
    this.flusher?.stop();
  }

  /**
   * server.memory_allocated and memory_heap_size from every thread's V8 heap (the primary's and `workers'`), as
   * /memory sums them; memory_physical_size is the process's RSS (kept when /proc cannot be read: EMFILE).
   */
  setMemory(heaps: readonly ThreadHeapStats[]): void {
    let allocated = 0;
    let heapSize = 0;
    for (const h of heaps) {
      allocated += h.usedHeapSize + h.externalMemory;
      heapSize += h.totalHeapSize + h.externalMemory;
    }
    this.setServerGauge('memory_allocated', allocated);
    this.setServerGauge('memory_heap_size', heapSize);
    this.refreshPhysicalMemory();
  }

  refreshPhysicalMemory(): void {
    try {
      this.setServerGauge('memory_physical_size', process.memoryUsage.rss());
    } catch {
      // EMFILE/ENFILE: keep the last value.
    }
  }

  /**
   * runtime.* : layered_runtime was (re)loaded, from a config version (`adminValues` omitted: the admin layer keeps
   * what it held) or by /runtime_modify.
   */
  onRuntimeLoaded(bootstrap: Record<string, unknown>, adminValues?: ReadonlyMap<string, string>): void {
    if (adminValues !== undefined) this.runtimeAdminValues = adminValues;
    const view = runtimeView(bootstrap, this.runtimeAdminValues);
    const v = this.primaryStore.values;
    v[this.runtime.load_success]++;
    v[this.runtime.num_keys] = Object.keys(view.entries).length;
    v[this.runtime.num_layers] = view.layers.length;
    v[this.runtime.admin_overrides_active] = this.runtimeAdminValues.size > 0 ? 1 : 0;
  }

  /** Gauges the primary derives from what the workers write (server.total_connections). */
  refreshDerived(): void {
    let connections = 0;
    for (const slot of this.listenerActiveSlots) connections += this.regions.sumSlot(slot);
    this.setServerGauge('total_connections', connections);
  }

  /** --drain-time-s: how long a modified or removed listener counts as draining (listener_manager.*). */
  setListenerDrainTimeMs(ms: number): void {
    this.managers.drainTimeMs = ms;
  }

  /** Gives every listener, connection manager and cluster of a version its slots (same names, same slots). */
  assignSlots(snapshot: Snapshot): void {
    const r = this.registry;
    // Before any slot is set on it: a version's resources compared with the previous version's (cluster_manager.*).
    this.managers.onVersion(snapshot.clusters.map(signatureOf), snapshot.listeners.map(listenerSignatureOf), this.concurrency);
    for (const l of snapshot.listeners) {
      l.slots = r.allocateScope(`listener.${l.statAddress}.`, LISTENER_STATS, [['envoy_listener_address', l.statAddress]]);
      const workerCx: number[] = [];
      for (let i = 0; i < this.concurrency; i++) {
        const w = r.allocateScope(`listener.${l.statAddress}.worker_${i}.`, LISTENER_WORKER_STATS, [['envoy_listener_address', l.statAddress], ['envoy_worker_id', String(i)]]);
        workerCx.push(w.downstream_cx_total, w.downstream_cx_active);
      }
      l.workerCxSlots = workerCx;
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
        for (const lr of chain.networkLocalRateLimits ?? []) {
          lr.slots = r.allocateScope(`local_ratelimit.${lr.statPrefix}.`, NETWORK_LOCAL_RATELIMIT_STATS);
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
          filter.hcm.listenerSlots = r.allocateScope(`listener.${l.statAddress}.http.${prefix}.`, HTTP_CONN_MANAGER_LISTENER_STATS,
            [['envoy_listener_address', l.statAddress], ['envoy_http_conn_manager_prefix', prefix]]);
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
      const tags: [string, string][] = [['envoy_cluster_name', statName]];
      clusterSlots[c.name] = {
        ...r.allocateScope(`cluster.${statName}.`, CLUSTER_STATS, tags),
        upstream_rq_code_base: r.lazyCounterRun(`cluster.${statName}.`, UPSTREAM_RQ_CODE_NAMES, tags),
      };
      if (c.transportSocket !== null) c.tlsSlots = r.allocateScope(`cluster.${statName}.`, CLUSTER_TLS_STATS, [['envoy_cluster_name', statName]]);
      if (c.healthChecks.length > 0) c.healthCheckSlots = r.allocateScope(`cluster.${statName}.`, CLUSTER_HEALTH_CHECK_STATS, [['envoy_cluster_name', statName]]);
      if (c.outlierDetection !== null) c.outlierSlots = r.allocateScope(`cluster.${statName}.`, CLUSTER_OUTLIER_DETECTION_STATS, [['envoy_cluster_name', statName]]);
    }
    snapshot.clusterSlots = clusterSlots;
    // UDP listeners (udp_proxy): udp.<stat_prefix>.*, cluster.<name>.udp.*, listener.<address>.udp.*.
    for (const u of snapshot.udpListeners ?? []) {
      u.slots = r.allocateScope(`listener.${u.statAddress}.udp.`, LISTENER_UDP_STATS, [['envoy_listener_address', u.statAddress]]);
      u.proxy.slots = r.allocateScope(`udp.${u.proxy.statPrefix}.`, UDP_PROXY_STATS);
      u.proxy.clusterSlots = r.allocateScope(`cluster.${u.proxy.cluster}.udp.`, CLUSTER_UDP_STATS, [['envoy_cluster_name', u.proxy.cluster]]);
    }
    this.listenerActiveSlots = snapshot.listeners.map((l) => l.slots!.downstream_cx_active);
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
    this.refreshDerived();
    return this.regions.snapshot();
  }
}

/**
 * A listener as Envoy's listener manager compares it: its identity (config as written or sent, before RDS route
 * tables and SDS secrets are put inline: those do not modify a listener) and its filter chains' identities.
 */
function listenerSignatureOf(l: ListenerConfig): NamedSignature {
  const chains = l.filterChains.map((c) => c.identity).join(',');
  const own = `${l.bindKey}|${l.identity}`;
  return { name: l.name, own, signature: `${own}|${chains}|${l.defaultFilterChain?.identity ?? ''}` };
}

/** A resource's name and its compiled config as text: two versions of it differ when their texts do. */
function signatureOf(resource: { readonly name: string }): NamedSignature {
  let signature: string;
  try {
    signature = JSON.stringify(resource);
  } catch {
    signature = `unserializable:${Math.random()}`;
  }
  return { name: resource.name, signature };
}
