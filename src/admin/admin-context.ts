// Primary thread. What the admin server needs from the running server. The primary implements it; the admin
// server only calls it from its HTTP handlers on the primary's event loop (never from a worker). Methods must
// not block: stats() is async because fresh histogram deltas come from the workers first.

import type { MergedStats } from '../stats/merged-stats.ts';
import type { AdminCertificates } from '../tls/cert-expiry.ts';

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
  /** envoy.admin.v3.ConfigDump as JSON-ready data ({ configs: [...] }). */
  configDump(): object;
  /** /runtime: layered_runtime's layers and values (src/admin/format-runtime.ts). Optional: absent is none. */
  runtime?(): object;
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
  /** /drain_listeners[?inboundonly][&graceful]. */
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean }): void;
  /**
   * /certs: every TLS context's certificates as in use now (rotations included), envoy.admin.v3.Certificates.
   * Optional so contexts without TLS (tests) need not implement it: absent is no certificates.
   */
  certificates?(): AdminCertificates;
}
