// Worker thread entry. Receives config snapshots and host sets from the primary, runs the listeners and
// upstream pools of this worker, and reports histograms on request. Nothing here waits on the primary to serve.

import v8 from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeMessage, encodeMessage, type PrimaryToWorker, type WorkerInit, type WorkerToPrimary } from '../src/messages/thread-messages.ts';
import type { Snapshot } from '../src/snapshot/snapshot-types.ts';
import type { HostSet } from '../src/upstream/cluster-membership.ts';
import { deepFreeze } from '../src/common/deep-freeze.ts';
import { configureLogger, log, reopenLogFile, setLogLevel } from '../src/common/logger.ts';
import { WorkerStats } from '../src/stats/worker-stats.ts';
import { WorkerClusterManager } from './upstream/cluster-manager.ts';
import { ListenerManager } from './listener/listener-manager.ts';
import { AccessLogSinkCache } from './listener/access-log-sink-cache.ts';
import { installTestThrowHooks } from './test-hooks.ts';
import { OverloadAction, attachOverloadShared, overloadShared } from '../src/overload/overload-shared.ts';
import type { OverloadConfig } from '../src/overload/overload-config.ts';
import { answerAdminRequest } from './admin-requests.ts';
import { enableShrinkHeap, shrinkHeap } from '../src/overload/shrink-heap.ts';
import { attachCircuitBreakerShared } from '../src/upstream/circuit-breaker-shared.ts';
import { HighMemoryStreamReset } from './listener/high-memory-streams.ts';
import { preloadTypeScriptFilters } from './http/filters/typescript-filter-loader.ts';
import { setHealthReportSink } from './upstream/health-reports.ts';
import { setOutlierReportSink } from './upstream/outlier-reports.ts';
import { flushAllTracers } from './tracing/tracer-provider.ts';

const init = workerData as WorkerInit;
try {
  configureLogger(init.log);
} catch (err) {
  // The primary opened the same file a moment ago: log to stderr rather than not at all.
  configureLogger({ ...init.log, path: undefined });
  log.error(`worker ${init.workerIndex}: cannot open the log file ${init.log.path}: ${(err as Error).message}`);
}
// Tests only (same gate as test_crash): handlers that throw on demand, to prove the exception guards.
if (init.allowTestCrash && process.env['LEGATE_TEST_THROW'] === '1') installTestThrowHooks();
attachOverloadShared(init.overloadRegion, init.workerIndex);
attachCircuitBreakerShared(init.circuitBreakerRegion, init.workerIndex);
// Test hook: a worker that dies while starting, every time (the primary must back off, not loop).
if (init.allowTestCrash && process.env['LEGATE_TEST_CRASH_WORKER_AT_START'] === '1') process.exit(70);
const port = parentPort!;
const stats = new WorkerStats(init.statsRegion);
const clusters = new WorkerClusterManager(stats);
const sinks = new AccessLogSinkCache(init.accessLogFlushIntervalMs);
const listeners = new ListenerManager(stats, init.workerSlots, clusters, sinks);
const highMemoryStreams = new HighMemoryStreamReset(listeners, stats);
let drainTimeMs = init.drainTimeMs ?? 5000;
let heapTimer: NodeJS.Timeout | null = null;

/**
 * This worker's part of the overload config: reduce_timeouts factors, reset_high_memory_stream's runs, shrink_heap's
 * gc(), and its heap use for fixed_heap.
 */
function applyOverload(o: OverloadConfig): void {
  const shared = overloadShared;
  shared.connectionIdleMinMs = o.connectionIdle?.minTimeoutMs ?? -1;
  shared.connectionIdleMinScale = o.connectionIdle?.minScale ?? -1;
  shared.streamIdleMinMs = o.streamIdle?.minTimeoutMs ?? -1;
  shared.streamIdleMinScale = o.streamIdle?.minScale ?? -1;
  highMemoryStreams.apply(o);
  if (o.actions.some((a) => a.id === OverloadAction.SHRINK_HEAP)) enableShrinkHeap();
  if (heapTimer !== null) clearInterval(heapTimer);
  heapTimer = null;
  shared.heapBytes[init.workerIndex] = 0;
  if (!o.monitors.some((m) => m.kind === 'fixed_heap')) return;
  const report = (): void => {
    const h = v8.getHeapStatistics();
    shared.heapBytes[init.workerIndex] = h.used_heap_size + h.external_memory;
  };
  report();
  heapTimer = setInterval(report, o.refreshIntervalMs);
  heapTimer.unref();
}

/** Snapshots are applied one at a time, in order. */
let applying: Promise<void> = Promise.resolve();

function send(m: WorkerToPrimary): void {
  port.postMessage(encodeMessage(m));
}
setHealthReportSink(send);
setOutlierReportSink(send);

async function applySnapshot(version: number, bytes: Uint8Array, hostSets: HostSet[], listenerPorts: Record<string, number> | undefined): Promise<void> {
  const snapshot = deepFreeze(decodeMessage<Snapshot>(bytes));
  applyOverload(snapshot.overload);
  clusters.applyClusters(snapshot.clusters, snapshot.clusterSlots);
  for (const h of hostSets) clusters.applyHostSet(h);
  // User filter modules load before the version goes live: its factories are then built from loaded modules.
  const filterProblems = await preloadTypeScriptFilters(snapshot);
  const problems = await listeners.apply(snapshot, drainTimeMs, listenerPorts);
  send({
    type: 'snapshot_applied', version, problems: filterProblems.length === 0 ? problems : [...filterProblems, ...problems],
    listenerPorts: listeners.boundPorts(),
  });
}

async function drain(ms: number, exit: boolean): Promise<void> {
  await listeners.drainAll(ms);
  clusters.close();
  // Bounded: a stdout nobody reads must not keep the worker from exiting.
  // Queued trace spans go out too (nothing to do when no tracing is configured).
  await Promise.race([Promise.all([sinks.flushAll(), flushAllTracers()]), new Promise((r) => setTimeout(r, 2000).unref())]);
  send({ type: 'drained' });
  if (exit) process.exit(0);
}

port.on('message', (bytes: Uint8Array) => {
  const m = decodeMessage<PrimaryToWorker>(bytes);
  switch (m.type) {
    case 'snapshot':
      applying = applying.then(() => applySnapshot(m.version, m.snapshot, m.hostSets, m.listenerPorts)).catch((err: Error) => {
        log.error(`worker ${init.workerIndex}: applying config ${m.version} failed: ${err.stack ?? err.message}`);
        send({ type: 'snapshot_applied', version: m.version, problems: [err.message] });
      });
      break;
    case 'host_set':
      // In order with snapshots: a host set never lands before the snapshot that created its cluster.
      applying = applying.then(() => clusters.applyHostSet(m.update));
      break;
    case 'tls_update':
      // In order with snapshots: it applies to the version it names.
      applying = applying.then(() => listeners.applyTlsUpdate(m.version, m.spec));
      break;
    case 'collect_histograms':
      send({ type: 'histograms', requestId: m.requestId, delta: stats.takeHistogramDelta(), hosts: clusters.hostReports() });
      break;
    case 'drain':
      drainTimeMs = m.drainTimeMs;
      void applying.then(() => drain(m.drainTimeMs, m.exit));
      break;
    case 'drain_listeners':
      // In order with snapshots: listeners bound by a snapshot still being applied are drained too.
      applying = applying.then(() => listeners.drainListeners(m.bindKeys, m.graceful, m.skipExit, m.drainTimeMs));
      break;
    case 'overload_listeners':
      // In order with snapshots: listeners bound by a snapshot still being applied are covered too.
      applying = applying.then(() => listeners.setOverloadStopAccepting(m.stopAccepting));
      break;
    case 'shrink_heap':
      shrinkHeap();
      break;
    case 'reopen_logs':
      reopenLogFile();
      sinks.reopenAll();
      break;
    case 'log_level':
      setLogLevel(m.level);
      break;
    case 'admin_request':
      void answerAdminRequest(m.request, stats.values, init.workerIndex).then(
        (reply) => send({ type: 'admin_reply', requestId: m.requestId, reply }),
        (err: Error) => log.error(`worker ${init.workerIndex}: admin request ${m.request.kind} failed: ${err.stack ?? err.message}`),
      );
      break;
    case 'test_crash':
      if (init.allowTestCrash) throw new Error('test hook: worker crash requested');
      break;
  }
});

process.on('uncaughtException', (err) => {
  // An exception that escapes a connection boundary is a bug: log it and let the primary replace this worker.
  log.critical(`worker ${init.workerIndex}: uncaught exception: ${err.stack ?? err.message}`);
  process.exit(70);
});
