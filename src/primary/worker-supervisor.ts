// Primary thread. Starts the worker threads, sends them config versions and host sets, collects their replies,
// and replaces a worker that dies (same index, same stats region, current config), as Envoy's main thread would.

import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import {
  decodeMessage, encodeMessage, type PrimaryToWorker, type WorkerAdminReply, type WorkerAdminRequest, type WorkerInit, type WorkerToPrimary,
} from '../messages/thread-messages.ts';
import { log, type LogSettings } from '../common/logger.ts';
import type { HostSet } from '../upstream/cluster-membership.ts';
import type { HostResults } from '../upstream/outlier-detector.ts';
import type { HostStatsReport } from '../messages/thread-messages.ts';

const WORKER_ENTRY = new URL('../../workers/worker-main.ts', import.meta.url);

/** Restart back-off: the first replacement starts at once, then 100 ms doubling up to 10 s while they keep dying. */
const RESTART_FIRST_DELAY_MS = 100;
const RESTART_MAX_DELAY_MS = 10_000;
/** A worker that stayed up this long is healthy: its next death restarts at once again. */
const RESTART_STABLE_MS = 10_000;

/** The delay before the replacement of a worker that died after `failures` deaths in a row (0 = the first). */
export function restartDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(RESTART_MAX_DELAY_MS, RESTART_FIRST_DELAY_MS * 2 ** Math.min(failures - 1, 20));
}

export interface WorkerStatsReply {
  index: number;
  delta: Uint8Array | null;
  hosts: HostStatsReport[];
}

export interface WorkerSpawnSpec {
  index: number;
  statsRegion: SharedArrayBuffer;
  workerSlots: Record<string, number>;
  overloadRegion: SharedArrayBuffer;
  circuitBreakerRegion: SharedArrayBuffer;
}

export interface SupervisorEvents {
  /** A worker ended without being asked to: the supervisor restarts it after this returns. */
  onWorkerDied(index: number, code: number): void;
  /** Messages to replay to a fresh worker so it serves the current config (snapshot first, then host sets). */
  replayFor(index: number): PrimaryToWorker[];
  /** A worker reported the real ports of its port_value 0 listeners (before its version's waiters resolve). */
  onListenerPorts(ports: Readonly<Record<string, number>>): void;
  /** A worker saw x-envoy-immediate-health-check-fail from a host (active health checking decides). */
  onHostHealthFailure?(cluster: string, address: string, port: number): void;
  /** A worker's batch of upstream results for a cluster with outlier_detection. */
  onOutlierResults?(cluster: string, results: HostResults[]): void;
}

class WorkerHandle {
  readonly spec: WorkerSpawnSpec;
  worker: Worker;
  appliedVersion: number;
  exited: boolean;
  readonly startedAtMs: number;

  constructor(spec: WorkerSpawnSpec, worker: Worker) {
    this.spec = spec;
    this.worker = worker;
    this.appliedVersion = 0;
    this.exited = false;
    this.startedAtMs = performance.now();
  }
}

export interface WorkerAdminAnswer {
  index: number;
  reply: WorkerAdminReply;
}

type AdminWaiter = { remaining: Set<number>; answers: WorkerAdminAnswer[]; resolve: (a: WorkerAdminAnswer[]) => void };

type Waiter = { version: number; remaining: Set<number>; problems: string[]; resolve: (problems: string[]) => void };

export class WorkerSupervisor {
  private readonly handles: WorkerHandle[] = [];
  private readonly events: SupervisorEvents;
  /** The application log settings a worker starts with (read at each spawn: start-up may change them). */
  private readonly logSettings: () => LogSettings;
  private readonly accessLogFlushIntervalMs: number;
  private readonly allowTestCrash: boolean;
  /** --drain-time-s in ms, handed to each worker at start (listener updates drain for it). */
  drainTimeMs: number | undefined;
  private stopping = false;
  private waiters: Waiter[] = [];
  private nextRequestId = 1;
  private readonly histogramWaiters = new Map<number, { remaining: number; replies: WorkerStatsReply[]; resolve: (d: WorkerStatsReply[]) => void }>();
  private drainedWaiters: (() => void)[] = [];
  private readonly adminWaiters = new Map<number, AdminWaiter>();
  /** Per worker index: deaths in a row without staying up RESTART_STABLE_MS, and a pending delayed restart. */
  private readonly restartFailures: number[] = [];
  private readonly restartTimers: (NodeJS.Timeout | null)[] = [];

  constructor(events: SupervisorEvents, logSettings: () => LogSettings, accessLogFlushIntervalMs: number, allowTestCrash: boolean) {
    this.events = events;
    this.logSettings = logSettings;
    this.accessLogFlushIntervalMs = accessLogFlushIntervalMs;
    this.allowTestCrash = allowTestCrash;
  }

  get count(): number {
    return this.handles.length;
  }

  start(specs: WorkerSpawnSpec[]): void {
    for (const spec of specs) this.handles[spec.index] = this.spawn(spec);
  }

  private spawn(spec: WorkerSpawnSpec): WorkerHandle {
    const init: WorkerInit = {
      workerIndex: spec.index,
      statsRegion: spec.statsRegion,
      workerSlots: spec.workerSlots,
      overloadRegion: spec.overloadRegion,
      circuitBreakerRegion: spec.circuitBreakerRegion,
      log: this.logSettings(),
      accessLogFlushIntervalMs: this.accessLogFlushIntervalMs,
      allowTestCrash: this.allowTestCrash,
      drainTimeMs: this.drainTimeMs,
    };
    const worker = new Worker(WORKER_ENTRY, { workerData: init, name: `legate-worker-${spec.index}` });
    const handle = new WorkerHandle(spec, worker);
    worker.on('message', (bytes: Uint8Array) => this.onMessage(handle, decodeMessage<WorkerToPrimary>(bytes)));
    worker.on('error', (err) => log.error(`worker ${spec.index} failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => this.onExit(handle, code));
    for (const m of this.events.replayFor(spec.index)) worker.postMessage(encodeMessage(m));
    return handle;
  }

  private onExit(handle: WorkerHandle, code: number): void {
    handle.exited = true;
    this.settleWaitersFor(handle.spec.index);
    if (this.stopping) {
      this.checkAllDrained();
      return;
    }
    const index = handle.spec.index;
    const upMs = performance.now() - handle.startedAtMs;
    if (upMs >= RESTART_STABLE_MS) this.restartFailures[index] = 0;
    const failures = this.restartFailures[index] ?? 0;
    this.restartFailures[index] = failures + 1;
    const delay = restartDelayMs(failures);
    const when = handle.appliedVersion === 0 ? 'it died during start-up' : `it ran ${Math.round(upMs)} ms`;
    log.error(`worker ${index} exited (code ${code}); starting a replacement in ${delay} ms (${when})`);
    this.events.onWorkerDied(index, code);
    if (delay === 0) {
      this.handles[index] = this.spawn(handle.spec);
      return;
    }
    // Back off: a worker that keeps dying (at start-up above all) must not make the primary spin.
    this.restartTimers[index] = setTimeout(() => {
      this.restartTimers[index] = null;
      if (!this.stopping) this.handles[index] = this.spawn(handle.spec);
    }, delay);
  }

  private onMessage(handle: WorkerHandle, m: WorkerToPrimary): void {
    switch (m.type) {
      case 'snapshot_applied': {
        if (handle.appliedVersion === 0 && (this.restartFailures[handle.spec.index] ?? 0) > 0) {
          log.info(`worker ${handle.spec.index}: replacement serving config version ${m.version}`);
        }
        handle.appliedVersion = m.version;
        if (m.listenerPorts !== undefined) this.events.onListenerPorts(m.listenerPorts);
        for (const w of this.waiters) {
          if (w.version === m.version && w.remaining.delete(handle.spec.index)) {
            for (const p of m.problems) w.problems.push(`worker ${handle.spec.index}: ${p}`);
          }
        }
        this.flushWaiters();
        break;
      }
      case 'histograms': {
        const w = this.histogramWaiters.get(m.requestId);
        if (w !== undefined) {
          w.replies.push({ index: handle.spec.index, delta: m.delta, hosts: m.hosts });
          if (--w.remaining === 0) {
            this.histogramWaiters.delete(m.requestId);
            w.resolve(w.replies);
          }
        }
        break;
      }
      case 'admin_reply': {
        const w = this.adminWaiters.get(m.requestId);
        if (w !== undefined && w.remaining.delete(handle.spec.index)) {
          w.answers.push({ index: handle.spec.index, reply: m.reply });
          if (w.remaining.size === 0) {
            this.adminWaiters.delete(m.requestId);
            w.resolve(w.answers);
          }
        }
        break;
      }
      case 'drained':
        break;
      case 'host_health_fail':
        this.events.onHostHealthFailure?.(m.cluster, m.address, m.port);
        break;
      case 'outlier_results':
        this.events.onOutlierResults?.(m.cluster, m.results);
        break;
      case 'fatal':
        log.critical(`worker ${handle.spec.index}: ${m.message}`);
        break;
    }
  }

  private flushWaiters(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.remaining.size > 0) return true;
      w.resolve(w.problems);
      return false;
    });
  }

  private settleWaitersFor(index: number): void {
    for (const w of this.waiters) w.remaining.delete(index);
    this.flushWaiters();
    for (const [id, w] of this.histogramWaiters) {
      if (--w.remaining === 0) {
        this.histogramWaiters.delete(id);
        w.resolve(w.replies);
      }
    }
    for (const [id, w] of this.adminWaiters) {
      if (w.remaining.delete(index) && w.remaining.size === 0) {
        this.adminWaiters.delete(id);
        w.resolve(w.answers);
      }
    }
  }

  broadcast(m: PrimaryToWorker): void {
    const bytes = encodeMessage(m);
    for (const h of this.handles) if (!h.exited) h.worker.postMessage(bytes);
  }

  /**
   * Sends a config version to every worker (or to the workers `targets` lists); resolves with the problems they
   * reported once all applied it. listenerPorts: the known ports of port_value 0 listeners, by bind key.
   */
  applySnapshot(
    version: number, snapshot: Uint8Array, hostSets: HostSet[], listenerPorts: Record<string, number> = {},
    targets: readonly number[] | null = null,
  ): Promise<string[]> {
    const live = this.handles.filter((h) => !h.exited && (targets === null || targets.includes(h.spec.index)));
    const remaining = new Set(live.map((h) => h.spec.index));
    const p = new Promise<string[]>((resolve) => this.waiters.push({ version, remaining, problems: [], resolve }));
    const bytes = encodeMessage({ type: 'snapshot', version, snapshot, hostSets, listenerPorts } satisfies PrimaryToWorker);
    for (const h of live) h.worker.postMessage(bytes);
    this.flushWaiters();
    return p;
  }

  /** Messages to one running worker (e.g. the replay held back while a port_value 0 listener got its port). */
  sendTo(index: number, messages: readonly PrimaryToWorker[]): void {
    const h = this.handles[index];
    if (h === undefined || h.exited) return;
    for (const m of messages) h.worker.postMessage(encodeMessage(m));
  }

  /** Resolves when every live worker (or each of `targets`) has applied `version` (sent already, e.g. by the spawn replay). */
  waitForVersion(version: number, targets: readonly number[] | null = null): Promise<string[]> {
    const remaining = new Set(this.handles
      .filter((h) => !h.exited && h.appliedVersion < version && (targets === null || targets.includes(h.spec.index)))
      .map((h) => h.spec.index));
    const p = new Promise<string[]>((resolve) => this.waiters.push({ version, remaining, problems: [], resolve }));
    this.flushWaiters();
    return p;
  }

  /** Fresh histogram deltas and host counts from every live worker (bounded: a stuck worker does not stall the admin). */
  collectStats(timeoutMs: number): Promise<WorkerStatsReply[]> {
    const live = this.handles.filter((h) => !h.exited);
    if (live.length === 0) return Promise.resolve([]);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const entry = { remaining: live.length, replies: [] as WorkerStatsReply[], resolve };
      this.histogramWaiters.set(requestId, entry);
      const bytes = encodeMessage({ type: 'collect_histograms', requestId } satisfies PrimaryToWorker);
      for (const h of live) h.worker.postMessage(bytes);
      setTimeout(() => {
        if (this.histogramWaiters.delete(requestId)) resolve(entry.replies);
      }, timeoutMs).unref();
    });
  }

  /** Indexes of the workers running now (not exited, not waiting for a restart). */
  runningIndexes(): number[] {
    return this.handles.filter((h) => !h.exited).map((h) => h.spec.index);
  }

  /**
   * An admin request to every running worker; resolves with the answers (bounded: a worker that has not answered
   * within timeoutMs, or that exits, is left out).
   */
  askWorkers(request: WorkerAdminRequest, timeoutMs: number): Promise<WorkerAdminAnswer[]> {
    const live = this.handles.filter((h) => !h.exited);
    if (live.length === 0) return Promise.resolve([]);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const w: AdminWaiter = { remaining: new Set(live.map((h) => h.spec.index)), answers: [], resolve };
      this.adminWaiters.set(requestId, w);
      const bytes = encodeMessage({ type: 'admin_request', requestId, request } satisfies PrimaryToWorker);
      for (const h of live) h.worker.postMessage(bytes);
      setTimeout(() => {
        if (this.adminWaiters.delete(requestId)) resolve(w.answers);
      }, timeoutMs).unref();
    });
  }

  /** /heap_dump?worker=<index>: V8's heap snapshot of that worker, streamed; null when it is not running. */
  heapSnapshot(index: number): Promise<Readable> | null {
    const h = this.handles[index];
    if (h === undefined || h.exited) return null;
    return h.worker.getHeapSnapshot();
  }

  /** Test hook: make one worker throw (only when started with test hooks). */
  crashWorker(index: number): void {
    const h = this.handles[index];
    if (h !== undefined && !h.exited) h.worker.postMessage(encodeMessage({ type: 'test_crash' } satisfies PrimaryToWorker));
  }

  /** Graceful stop: every worker drains its listeners and exits; resolves when all are gone or after maxMs. */
  drainAndStop(maxMs: number): Promise<void> {
    this.stopping = true;
    for (let i = 0; i < this.restartTimers.length; i++) {
      const t = this.restartTimers[i];
      if (t !== undefined && t !== null) clearTimeout(t);
      this.restartTimers[i] = null;
    }
    this.broadcast({ type: 'drain', drainTimeMs: maxMs, exit: true });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const h of this.handles) if (!h.exited) void h.worker.terminate();
        resolve();
      }, maxMs + 2000);
      timer.unref();
      this.drainedWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.checkAllDrained();
    });
  }

  private checkAllDrained(): void {
    if (this.handles.every((h) => h.exited)) {
      const ws = this.drainedWaiters;
      this.drainedWaiters = [];
      for (const w of ws) w();
    }
  }
}
