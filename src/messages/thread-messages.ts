// Any thread. Every message between the primary and a worker: one discriminated union each way, one encoder.
// Messages are plain data (no functions, no class instances), encoded with msgpackr.

import { Packr } from 'msgpackr';
import type { HostSet } from '../upstream/cluster-membership.ts';
import type { TlsSpec } from '../tls/tls-spec.ts';
import type { HostResults } from '../upstream/outlier-detector.ts';
import type { Level, LogSettings } from '../common/logger.ts';

/** workerData given to each worker thread at start. */
export interface WorkerInit {
  workerIndex: number;
  /** This worker's stats region (shared memory, written only by this worker). */
  statsRegion: SharedArrayBuffer;
  /** Slots of the worker_<index>.* scope. */
  workerSlots: Record<string, number>;
  /** The overload manager's shared memory (src/overload/overload-shared.ts), the same for every worker. */
  overloadRegion: SharedArrayBuffer;
  /** Circuit-breaker counters of every cluster (src/upstream/circuit-breaker-shared.ts), the same for every worker. */
  circuitBreakerRegion: SharedArrayBuffer;
  /** The application log's level, format and file, as the primary's (each thread opens the file itself). */
  log: LogSettings;
  /** --file-flush-interval-msec for access log writers; -1 keeps their default. */
  accessLogFlushIntervalMs: number;
  /** Test hook: allow the primary to ask this worker to crash (only set by tests). */
  allowTestCrash: boolean;
  /** --drain-time-s in ms: how long connections of a modified, changed or removed listener may drain. */
  drainTimeMs?: number;
}

export type PrimaryToWorker =
  /** A config version plus the current host set of every cluster, applied together (clusters never start empty). */
  | {
    type: 'snapshot'; version: number; snapshot: Uint8Array; hostSets: HostSet[];
    /** The real ports of listeners configured with port_value 0, by bind key (one port shared by every worker). */
    listenerPorts?: Record<string, number>;
  }
  | { type: 'host_set'; update: HostSet }
  /**
   * A watched certificate file changed: the TLS spec with this id (from config `version`) was re-read and
   * checked by the primary. New handshakes use it; established connections keep theirs. Ignored by a worker
   * running another version (a reload compiles the files afresh).
   */
  | { type: 'tls_update'; version: number; spec: TlsSpec }
  | { type: 'collect_histograms'; requestId: number }
  | { type: 'drain'; drainTimeMs: number; exit: boolean }
  /**
   * /drain_listeners: the listeners whose bind keys are listed (null: all) stop accepting. Graceful: they first
   * keep accepting for drainTimeMs while their connections are asked to close (Envoy's drain sequence); with
   * skipExit they are left accepting after it.
   */
  | { type: 'drain_listeners'; bindKeys: string[] | null; graceful: boolean; skipExit: boolean; drainTimeMs: number }
  /** envoy.overload_actions.stop_accepting_connections became saturated (listen sockets close) or cleared (they reopen). */
  | { type: 'overload_listeners'; stopAccepting: boolean }
  /** envoy.overload_actions.shrink_heap is saturated: a full memory-reducing GC of this worker's heap (every 10 s). */
  | { type: 'shrink_heap' }
  /** SIGUSR1: reopen the application log file and every access log file (log rotation). */
  | { type: 'reopen_logs' }
  /** /logging: this thread's application log level from now on. */
  | { type: 'log_level'; level: Level }
  /** An admin request a worker answers with admin_reply (same requestId). */
  | { type: 'admin_request'; requestId: number; request: WorkerAdminRequest }
  | { type: 'test_crash' };

/** One worker's counts for one upstream host (summed over workers by the primary for /clusters). */
export interface HostStatsReport {
  cluster: string;
  /** "address:port" as in HostDescription. */
  host: string;
  cxTotal: number;
  cxActive: number;
  cxConnectFail: number;
  rqTotal: number;
  rqActive: number;
  rqSuccess: number;
  rqError: number;
  rqTimeout: number;
}

/** What the admin asks of every worker (src/primary/admin-wiring.ts; answered in workers/admin-requests.ts). */
export type WorkerAdminRequest =
  /** /memory: this worker's V8 heap statistics. */
  | { kind: 'memory' }
  /** /reset_counters: zero these value slots (every counter) in this worker's stats region (it is their only writer). */
  | { kind: 'reset_counters'; slots: number[] }
  /** /cpuprofiler, /heapprofiler: start, or stop and write the profile beside `fileBase` (v8-profiler.ts profileFile). */
  | { kind: 'profiler'; profiler: 'cpu' | 'heap'; enable: boolean; fileBase: string };

/** A worker's V8 heap statistics (v8.getHeapStatistics(), the fields /memory maps). */
export interface ThreadHeapStats {
  usedHeapSize: number;
  totalHeapSize: number;
  externalMemory: number;
  mallocedMemory: number;
}

export type WorkerAdminReply =
  | { kind: 'memory'; heap: ThreadHeapStats }
  | { kind: 'reset_counters' }
  /** `file` is set when a profile was written; `error` when starting or writing failed. */
  | { kind: 'profiler'; file: string | null; error: string | null };

export type WorkerToPrimary =
  | {
    type: 'snapshot_applied'; version: number; problems: string[];
    /** The ports this worker's port_value 0 listeners are bound to, by bind key. */
    listenerPorts?: Record<string, number>;
  }
  | { type: 'admin_reply'; requestId: number; reply: WorkerAdminReply }
  | { type: 'histograms'; requestId: number; delta: Uint8Array | null; hosts: HostStatsReport[] }
  | { type: 'drained' }
  /** An upstream answered x-envoy-immediate-health-check-fail: the primary's health checker fails the host (passive). */
  | { type: 'host_health_fail'; cluster: string; address: string; port: number }
  /** Per-host upstream results of a cluster with outlier_detection since the worker's last batch (the primary decides). */
  | { type: 'outlier_results'; cluster: string; results: HostResults[] }
  | { type: 'fatal'; message: string };

const packr = new Packr({ structuredClone: false, useRecords: false, moreTypes: false });

export function encodeMessage(m: PrimaryToWorker | WorkerToPrimary | object): Uint8Array {
  return packr.pack(m);
}

export function decodeMessage<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
