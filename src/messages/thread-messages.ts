// Any thread. Every message between the primary and a worker: one discriminated union each way, one encoder.
// Messages are plain data (no functions, no class instances), encoded with msgpackr.

import { Packr } from 'msgpackr';
import type { HostSet } from '../upstream/cluster-membership.ts';
import type { TlsSpec } from '../tls/tls-spec.ts';
import type { LogSettings } from '../common/logger.ts';

/** workerData given to each worker thread at start. */
export interface WorkerInit {
  workerIndex: number;
  /** This worker's stats region (shared memory, written only by this worker). */
  statsRegion: SharedArrayBuffer;
  /** Slots of the worker_<index>.* scope. */
  workerSlots: Record<string, number>;
  /** The overload manager's shared memory (src/overload/overload-shared.ts), the same for every worker. */
  overloadRegion: SharedArrayBuffer;
  /** The application log's level, format and file, as the primary's (each thread opens the file itself). */
  log: LogSettings;
  /** --file-flush-interval-msec for access log writers; -1 keeps their default. */
  accessLogFlushIntervalMs: number;
  /** Test hook: allow the primary to ask this worker to crash (only set by tests). */
  allowTestCrash: boolean;
}

export type PrimaryToWorker =
  /** A config version plus the current host set of every cluster, applied together (clusters never start empty). */
  | { type: 'snapshot'; version: number; snapshot: Uint8Array; hostSets: HostSet[] }
  | { type: 'host_set'; update: HostSet }
  /**
   * A watched certificate file changed: the TLS spec with this id (from config `version`) was re-read and
   * checked by the primary. New handshakes use it; established connections keep theirs. Ignored by a worker
   * running another version (a reload compiles the files afresh).
   */
  | { type: 'tls_update'; version: number; spec: TlsSpec }
  | { type: 'collect_histograms'; requestId: number }
  | { type: 'drain'; drainTimeMs: number; exit: boolean }
  | { type: 'drain_listeners'; inboundOnly: boolean }
  /** envoy.overload_actions.stop_accepting_connections became saturated (listen sockets close) or cleared (they reopen). */
  | { type: 'overload_listeners'; stopAccepting: boolean }
  /** SIGUSR1: reopen the application log file and every access log file (log rotation). */
  | { type: 'reopen_logs' }
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

export type WorkerToPrimary =
  | { type: 'snapshot_applied'; version: number; problems: string[] }
  | { type: 'histograms'; requestId: number; delta: Uint8Array | null; hosts: HostStatsReport[] }
  | { type: 'drained' }
  | { type: 'fatal'; message: string };

const packr = new Packr({ structuredClone: false, useRecords: false, moreTypes: false });

export function encodeMessage(m: PrimaryToWorker | WorkerToPrimary | object): Uint8Array {
  return packr.pack(m);
}

export function decodeMessage<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
