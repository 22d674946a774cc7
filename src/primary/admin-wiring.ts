// Primary thread. The AdminContext the admin server reads: the running config, server state, stats and
// cluster/host views, backed by the Primary; what the admin changes (log levels, counters, runtime's admin layer,
// profilers) in the primary and, by message, in every worker.

import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import v8 from 'node:v8';
import { startAdminServer } from '../admin/admin-server.ts';
import { AdminStats } from '../stats/admin-stats.ts';
import type { AccessLogConfig } from '../access-log/access-log-config.ts';
import { createAccessLogSink } from '../access-log/sink.ts';
import type { AdminContext, ClusterView, HostView, ListenerView, ServerStateName } from '../admin/admin-context.ts';
import type { MergedStats } from '../stats/merged-stats.ts';
import type { RecentLookups } from '../stats/recent-lookups.ts';
import type { Primary } from './primary.ts';
import { certificatesReport, type AdminCertificates } from '../tls/cert-expiry.ts';
import { ServerState } from './server-state.ts';
import { versionString } from './version-info.ts';
import { hasAdminLayer, mergeAdminValues, runtimeView } from '../admin/format-runtime.ts';
import type { ConfigDumpInput } from '../admin/config-dump.ts';
import type { MemorySample, ThreadMemory } from '../admin/format-memory.ts';
import { LoggerLevels } from '../admin/logging-levels.ts';
import { log, setLogLevel } from '../common/logger.ts';
import { profileFile, profilerRunning, setProfiler, type ProfilerKind } from '../common/v8-profiler.ts';
import type { HostStatsReport, ThreadHeapStats } from '../messages/thread-messages.ts';
import type { HostDescription } from '../upstream/cluster-membership.ts';

export interface AdminHandle {
  port: number;
  /** SIGUSR1: admin.access_log files reopen (log rotation). */
  reopenLogs(): void;
  close(): Promise<void>;
}

const STATE_NAMES: Record<number, ServerStateName> = {
  [ServerState.LIVE]: 'LIVE',
  [ServerState.DRAINING]: 'DRAINING',
  [ServerState.PRE_INITIALIZING]: 'PRE_INITIALIZING',
  [ServerState.INITIALIZING]: 'INITIALIZING',
};

/** Envoy's circuit-breaker defaults, shown by /clusters (circuit_breakers config is not supported yet). */
const DEFAULT_THRESHOLDS = Object.freeze({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });

function durationString(ms: number): string {
  return `${Math.floor(ms / 1000)}s`;
}

/** How long the admin waits for the workers' answers (a worker that does not answer in time is left out). */
const WORKER_ANSWER_TIMEOUT_MS = 2000;
/** Writing a profile can take a while for a long run. */
const PROFILE_WRITE_TIMEOUT_MS = 30_000;

/**
 * admin.profile_path when the bootstrap gives none (Envoy's is /var/log/envoy/envoy.prof, rarely writable): the
 * profiles of each thread go beside it as <path>.<thread>.cpuprofile / .heapprofile.
 */
export function defaultProfilePath(): string {
  return path.join(os.tmpdir(), 'legate.prof');
}

function heapStats(): ThreadHeapStats {
  const h = v8.getHeapStatistics();
  return { usedHeapSize: h.used_heap_size, totalHeapSize: h.total_heap_size, externalMemory: h.external_memory, mallocedMemory: h.malloced_memory };
}

class PrimaryAdminContext implements AdminContext {
  private readonly primary: Primary;
  readonly loggers: LoggerLevels;
  /** The values /runtime_modify put in the admin layer (kept across reloads, as the admin layer is Envoy's). */
  private readonly adminRuntime = new Map<string, string>();
  /** The profilers the admin started, with the base path their files go to. */
  private readonly profiling: Record<ProfilerKind, string | null> = { cpu: null, heap: null };

  constructor(primary: Primary) {
    this.primary = primary;
    this.loggers = new LoggerLevels(primary.options.logLevel, primary.options.componentLogLevels);
  }

  async stats(): Promise<MergedStats> {
    await this.primary.collectStats();
    return this.primary.stats.snapshot();
  }

  serverState(): ServerStateName {
    const p = this.primary;
    // Envoy's Utility::serverState: an initialized server failing health checks is DRAINING.
    if (p.state === ServerState.LIVE && p.healthCheckFailed) return 'DRAINING';
    return STATE_NAMES[p.state] ?? 'PRE_INITIALIZING';
  }

  serverInfo(): object {
    const p = this.primary;
    const o = p.options;
    const uptime = durationString(Date.now() - p.startedAtMs);
    const format = p.logSettings.format;
    return {
      version: versionString(),
      state: this.serverState(),
      hot_restart_version: 'disabled',
      // envoy.admin.v3.CommandLineOptions, as given (hot restart options included, though they do nothing).
      command_line_options: {
        base_id: o.baseId,
        use_dynamic_base_id: o.useDynamicBaseId,
        base_id_path: o.baseIdPath ?? '',
        concurrency: o.concurrency,
        config_path: o.configPath ?? '',
        config_yaml: o.configYaml ?? '',
        allow_unknown_static_fields: o.allowUnknownStaticFields,
        reject_unknown_dynamic_fields: o.rejectUnknownDynamicFields,
        ignore_unknown_dynamic_fields: o.ignoreUnknownDynamicFields,
        admin_address_path: o.adminAddressPath ?? '',
        local_address_ip_version: o.localAddressIpVersion,
        log_level: o.logLevel === 'warn' ? 'warning' : o.logLevel,
        component_log_level: o.componentLogLevels.map(([c, l]) => `${c}:${l}`).join(','),
        log_format: format.kind === 'text' ? format.pattern : JSON.stringify(format.struct),
        log_format_escaped: o.logFormatEscaped,
        log_path: o.logPath ?? '',
        service_cluster: o.serviceCluster ?? '',
        service_node: o.serviceNode ?? '',
        service_zone: o.serviceZone ?? '',
        mode: o.mode === 'validate' ? 'Validate' : o.mode === 'init_only' ? 'InitOnly' : 'Serve',
        disable_hot_restart: o.disableHotRestart,
        restart_epoch: o.restartEpoch,
        enable_core_dump: o.enableCoreDump,
        stats_tag: o.statsTags.map(([n, v]) => `${n}:${v}`),
        file_flush_interval: o.fileFlushIntervalMs === undefined ? '0.100s' : `${o.fileFlushIntervalMs / 1000}s`,
        drain_time: `${o.drainTimeS}s`,
        drain_strategy: o.drainStrategy === 'immediate' ? 'Immediate' : 'Gradual',
        parent_shutdown_time: `${o.parentShutdownTimeS}s`,
      },
      node: (p.current?.bootstrap['node'] as object | undefined) ?? {},
      uptime_current_epoch: uptime,
      uptime_all_epochs: uptime,
      health_check_failed: p.healthCheckFailed,
    };
  }

  runtime(): object {
    return runtimeView(this.primary.current?.bootstrap ?? {}, this.adminRuntime);
  }

  runtimeModify(changes: readonly [string, string][]): string | null {
    if (!hasAdminLayer(this.primary.current?.bootstrap ?? {})) return 'No admin layer specified';
    mergeAdminValues(this.adminRuntime, changes);
    this.primary.stats.onRuntimeLoaded(this.primary.current?.bootstrap ?? {}, this.adminRuntime);
    const set = changes.filter(([, v]) => v !== '').map(([k]) => k);
    if (set.length > 0) log.warn(`runtime: ${set.join(', ')} set in the admin layer: shown by /runtime, without effect (Legate reads no runtime key yet)`);
    return null;
  }

  loggingChanged(messages: readonly string[]): void {
    const level = this.loggers.effective;
    setLogLevel(level);
    // New and replacement workers start at it too.
    this.primary.logSettings = { ...this.primary.logSettings, level, componentLevels: [] };
    this.primary.supervisor.broadcast({ type: 'log_level', level });
    for (const m of messages) log.info(m);
  }

  reopenLogs(): void {
    this.primary.reopenLogs();
    log.info('/reopen_logs: reopened the application log and the access logs');
  }

  async resetCounters(): Promise<void> {
    const p = this.primary;
    const registry = p.stats.registry;
    const slots = registry.counterSlots();
    const running = new Set(p.supervisor.runningIndexes());
    // The primary's own region, and the regions of worker indexes with no worker now, have no other writer.
    p.stats.regions.zeroCounters(0, slots);
    for (let i = 0; i < p.stats.regions.workerRegionCount; i++) if (!running.has(i)) p.stats.regions.zeroCounters(i + 1, slots);
    await p.supervisor.askWorkers({ kind: 'reset_counters', slots: Array.from(slots) }, WORKER_ANSWER_TIMEOUT_MS);
    registry.recentLookups.clear();
  }

  async memory(): Promise<MemorySample> {
    const threads: ThreadMemory[] = [{ thread: 'main', heap: heapStats() }];
    const answers = await this.primary.supervisor.askWorkers({ kind: 'memory' }, WORKER_ANSWER_TIMEOUT_MS);
    answers.sort((a, b) => a.index - b.index);
    for (const a of answers) if (a.reply.kind === 'memory') threads.push({ thread: `worker_${a.index}`, heap: a.reply.heap });
    let rssBytes = 0;
    try {
      rssBytes = process.memoryUsage.rss();
    } catch {
      // EMFILE (the RSS is read from /proc): 0 rather than failing the request.
    }
    return { threads, rssBytes };
  }

  recentLookups(): RecentLookups {
    return this.primary.stats.registry.recentLookups;
  }

  heapSnapshot(worker: number | null): Promise<Readable> | null {
    if (worker === null) return Promise.resolve(v8.getHeapSnapshot());
    return this.primary.supervisor.heapSnapshot(worker);
  }

  profilerRunning(kind: ProfilerKind): boolean {
    // A thread's profiler stops itself after MAX_PROFILE_MS: the primary's tells whether the run is still on.
    if (this.profiling[kind] !== null && !profilerRunning(kind)) this.profiling[kind] = null;
    return this.profiling[kind] !== null;
  }

  async setProfiler(kind: ProfilerKind, enable: boolean): Promise<{ files: string[]; errors: string[] }> {
    const base = enable ? this.profilePath() : (this.profiling[kind] ?? this.profilePath());
    const files: string[] = [];
    const errors: string[] = [];
    const main = await setProfiler(kind, enable, profileFile(base, 'main', kind));
    if (main.file !== null) files.push(main.file);
    if (main.error !== null) errors.push(`main: ${main.error}`);
    const answers = await this.primary.supervisor.askWorkers(
      { kind: 'profiler', profiler: kind, enable, fileBase: base },
      enable ? WORKER_ANSWER_TIMEOUT_MS : PROFILE_WRITE_TIMEOUT_MS,
    );
    answers.sort((a, b) => a.index - b.index);
    for (const a of answers) {
      if (a.reply.kind !== 'profiler') continue;
      if (a.reply.file !== null) files.push(a.reply.file);
      if (a.reply.error !== null) errors.push(`worker_${a.index}: ${a.reply.error}`);
    }
    if (enable && errors.length > 0) {
      // All or nothing: the threads that did start stop again (their partial profiles are not kept).
      await setProfiler(kind, false, profileFile(base, 'main', kind));
      await this.primary.supervisor.askWorkers({ kind: 'profiler', profiler: kind, enable: false, fileBase: base }, PROFILE_WRITE_TIMEOUT_MS);
    }
    this.profiling[kind] = enable && errors.length === 0 ? base : null;
    if (enable && errors.length === 0) log.info(`${kind} profiler started in every thread; profiles go to ${profileFile(base, '<thread>', kind)}`);
    if (!enable && files.length > 0) log.info(`${kind} profiler stopped; profiles written to ${files.join(', ')}`);
    return { files, errors };
  }

  private profilePath(): string {
    const admin = this.primary.current?.bootstrap['admin'] as Record<string, unknown> | undefined;
    const p = admin?.['profile_path'];
    return typeof p === 'string' && p !== '' ? p : defaultProfilePath();
  }

  configDumpInput(): ConfigDumpInput | null {
    const cur = this.primary.current;
    if (cur === null) return null;
    return { bootstrap: cur.bootstrap, lastUpdatedMs: cur.loadedAtMs, clusters: this.clusters(), dynamic: this.primary.xdsDynamic, rejected: this.primary.xdsRejections() };
  }

  clusters(): readonly ClusterView[] {
    const cur = this.primary.current;
    if (cur === null) return [];
    const hostSets = new Map(this.primary.memberships.currentHostSets().map((h) => [h.cluster, h]));
    // Clusters from CDS (src/xds).
    const viaApi = new Set((this.primary.xdsDynamic?.clusters ?? []).map((r) => r.name));
    const hostStats = this.primary.hostStats;
    return cur.snapshot.clusters.map((c): ClusterView => {
      const set = hostSets.get(c.name);
      // ORIGINAL_DST: the hosts the workers made on demand (as of their last stats report), not a host set.
      const described = c.originalDst != null ? originalDstHosts(c.name, hostStats) : (set?.hosts ?? []);
      const hosts: HostView[] = described.map((h) => {
        const counters = hostStats.get(`${c.name}|${h.address}:${h.port}`);
        return {
          address: h.address,
          port: h.port,
          hostname: h.hostname,
          counters: {
            cx_total: counters?.cxTotal ?? 0,
            cx_connect_fail: counters?.cxConnectFail ?? 0,
            rq_total: counters?.rqTotal ?? 0,
            rq_error: counters?.rqError ?? 0,
            rq_success: counters?.rqSuccess ?? 0,
            rq_timeout: counters?.rqTimeout ?? 0,
          },
          gauges: { cx_active: counters?.cxActive ?? 0, rq_active: counters?.rqActive ?? 0 },
          // Active health checking sets the flags (src/upstream/health-checker.ts); else EDS health alone.
          healthFlags: h.healthFlags ?? (h.healthy ? 'healthy' : '/failed_eds_health'),
          weight: h.weight,
          region: '',
          zone: '',
          subZone: '',
          canary: false,
          priority: h.priority,
          // Outlier detection's last interval (src/upstream/outlier-detector.ts); -1 when it has no value.
          successRate: this.primary.memberships.outlier.get(c.name)?.hostInfo(h.address, h.port)?.successRate ?? -1,
          localOriginSuccessRate: this.primary.memberships.outlier.get(c.name)?.hostInfo(h.address, h.port)?.localOriginSuccessRate ?? -1,
        };
      });
      return { name: c.name, observabilityName: c.name, addedViaApi: viaApi.has(c.name), defaultPriority: c.circuitBreakers?.default ?? DEFAULT_THRESHOLDS, highPriority: c.circuitBreakers?.high ?? DEFAULT_THRESHOLDS, hosts };
    });
  }

  listeners(): readonly ListenerView[] {
    const cur = this.primary.current;
    if (cur === null) return [];
    return cur.snapshot.listeners.map((l) => ({ name: l.name, address: l.address, port: this.primary.listenerPort(l) }));
  }

  isLive(): boolean {
    return this.primary.state === ServerState.LIVE && !this.primary.healthCheckFailed;
  }

  setHealthCheckFailed(failed: boolean): void {
    this.primary.setHealthCheckFailed(failed);
  }

  quit(): void {
    this.primary.onQuit();
  }

  drainListeners(opts: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }): void {
    this.primary.drainListeners(opts.inboundOnly, opts.graceful, opts.skipExit);
  }

  certificates(): AdminCertificates {
    return certificatesReport(this.primary.certificates.currentSpecs());
  }
}

/** An ORIGINAL_DST cluster's current hosts: those the workers reported ("ip:port"), each once. */
function originalDstHosts(cluster: string, hostStats: ReadonlyMap<string, HostStatsReport>): HostDescription[] {
  const out: HostDescription[] = [];
  const prefix = `${cluster}|`;
  for (const [key, r] of hostStats) {
    if (!key.startsWith(prefix)) continue;
    const colon = r.host.lastIndexOf(':');
    out.push({ address: r.host.slice(0, colon), port: Number(r.host.slice(colon + 1)), weight: 1, priority: 0, healthy: true, degraded: false, hostname: '' });
  }
  return out;
}

/** `token`: --admin-token-path's, or null. */
export async function startAdmin(
  primary: Primary, address: string, port: number, token: string | null, accessLogs: readonly AccessLogConfig[],
): Promise<AdminHandle> {
  const sinks = accessLogs.map((c) => createAccessLogSink(c));
  const observer = new AdminStats(primary.stats.registry, primary.stats.primaryStore);
  const server = await startAdminServer({ address, port, context: new PrimaryAdminContext(primary), token, accessLogs: sinks, observer });
  return {
    port: server.port,
    reopenLogs: () => {
      for (const s of sinks) void s.reopen();
    },
    close: async () => {
      await server.close();
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}
