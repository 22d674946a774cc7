// Primary thread. What the admin server needs from the running server. The primary implements it; the admin
// server only calls it from its HTTP handlers on the primary's event loop (never from a worker). Methods must
// not block: stats() is async because fresh histogram deltas come from the workers first.

import type { Readable } from 'node:stream';
import type { MergedStats } from '../stats/merged-stats.ts';
import type { RecentLookups } from '../stats/recent-lookups.ts';
import type { AdminCertificates } from '../tls/cert-expiry.ts';
import type { ConfigDumpInput } from './config-dump.ts';
import type { MemorySample } from './format-memory.ts';
import type { LoggerLevels } from './logging-levels.ts';

/** Envoy's server states (envoy.admin.v3.ServerInfo.State). */
export type ServerStateName = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface CircuitBreakerThresholds {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

export interface HostView {
  /** IP or name, without the port. */
  readonly address: string;
  readonly port: number;
  readonly hostname: string;
  /**
   * Per-host counters and gauges under Envoy's names: cx_active, cx_connect_fail, cx_total, rq_active,
   * rq_error, rq_success, rq_timeout, rq_total.
   */
  readonly counters: Readonly<Record<string, number>>;
  readonly gauges: Readonly<Record<string, number>>;
  /** Envoy's text form: "healthy", or flags like "/failed_active_hc/failed_outlier_check". */
  readonly healthFlags: string;
  readonly weight: number;
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
  readonly canary: boolean;
  readonly priority: number;
  /** -1 when outlier detection has no value. */
  readonly successRate: number;
  readonly localOriginSuccessRate: number;
}

export interface ClusterView {
  readonly name: string;
  /** alt_stat_name when set, else the name. */
  readonly observabilityName: string;
  readonly addedViaApi: boolean;
  readonly defaultPriority: CircuitBreakerThresholds;
  readonly highPriority: CircuitBreakerThresholds;
  readonly hosts: readonly HostView[];
}

export interface ListenerView {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface AdminContext {
  /** Every stat, with worker histograms collected and merged first. */
  stats(): Promise<MergedStats>;
  /** envoy.admin.v3.ServerInfo as JSON-ready data (state, uptime, command_line_options, ...). */
  serverInfo(): object;
  /** /config_dump: the running bootstrap and host sets it is made of (config-dump.ts); null before the first config. */
  configDumpInput(): ConfigDumpInput | null;
  /** /runtime: layered_runtime's layers and values (src/admin/format-runtime.ts). Optional: absent is none. */
  runtime?(): object;
  /**
   * /runtime_modify: each key set in the admin layer (an empty value removes it). Returns an error text when the
   * bootstrap has no admin layer.
   */
  runtimeModify(changes: readonly [string, string][]): string | null;
  /** /logging's level table; call loggingChanged() after changing it, so every thread logs at the new level. */
  readonly loggers: LoggerLevels;
  loggingChanged(messages: readonly string[]): void;
  /** /reopen_logs: the application log and every access log file reopen (as SIGUSR1). */
  reopenLogs(): void;
  /** /reset_counters: every counter of every thread to zero (gauges and histograms stay); recent lookups cleared. */
  resetCounters(): Promise<void>;
  /** /memory: the V8 heap numbers of the primary and every worker, and the process's RSS. */
  memory(): Promise<MemorySample>;
  /** /stats/recentlookups*: the stat-name lookups record. */
  recentLookups(): RecentLookups;
  /**
   * /heap_dump: V8's heap snapshot of the primary (worker null) or of a worker, streamed; null when that worker is
   * not running.
   */
  heapSnapshot(worker: number | null): Promise<Readable> | null;
  /** /cpuprofiler, /heapprofiler: whether it runs (started by the admin and not stopped yet). */
  profilerRunning(kind: 'cpu' | 'heap'): boolean;
  /**
   * Starts or stops the profiler of `kind` in the primary and every worker; a stop writes one file per thread
   * under admin.profile_path. Returns the files written and any failures.
   */
  setProfiler(kind: 'cpu' | 'heap', enable: boolean): Promise<{ files: string[]; errors: string[] }>;
  clusters(): readonly ClusterView[];
  listeners(): readonly ListenerView[];
  /** /ready answers 200 only when this is true. */
  isLive(): boolean;
  /** The state /ready prints (LIVE, or why not: PRE_INITIALIZING, INITIALIZING, DRAINING). */
  serverState(): ServerStateName;
  /** /healthcheck/fail (true) and /healthcheck/ok (false). */
  setHealthCheckFailed(failed: boolean): void;
  /** /quitquitquit: called after the response is sent. */
  quit(): void;
  /** /drain_listeners[?inboundonly][&graceful][&skip_exit] (skip_exit only with graceful). */
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }): void;
  /**
   * /certs: every TLS context's certificates as in use now (rotations included), envoy.admin.v3.Certificates.
   * Optional so contexts without TLS (tests) need not implement it: absent is no certificates.
   */
  certificates?(): AdminCertificates;
}
