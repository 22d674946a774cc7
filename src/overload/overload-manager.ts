// Primary thread. Envoy's overload manager: every refresh_interval it reads each resource monitor's pressure,
// turns the triggers into action states (threshold: 0 or 1; scaled: linear between scaling and saturation) and
// writes them into the shared overload region, where workers read them per connection or request. Actions a
// worker must act on (stop_accepting_connections closes and reopens listen sockets, shrink_heap's periodic GC)
// also get a message. It sets the global downstream connection limit: the configured one, else one derived from
// the process's fd limit so that Legate refuses connections itself before accept() runs out of descriptors.

import fs from 'node:fs';
import v8 from 'node:v8';
import { log } from '../common/logger.ts';
import type { StatRegistry } from '../stats/stat-registry.ts';
import type { PrimaryToWorker } from '../messages/thread-messages.ts';
import { NO_OVERLOAD, SHRINK_COUNT_STAT, type OverloadConfig, type OverloadMonitorConfig } from './overload-config.ts';
import { MAX_WORKERS, OverloadAction, type OverloadShared } from './overload-shared.ts';
import { enableShrinkHeap, shrinkHeap } from './shrink-heap.ts';

/** Descriptors kept out of the connection budget: stdio, admin, epoll/eventfds and pipes of each thread, files. */
const FD_RESERVE_BASE = 64;
const FD_RESERVE_PER_WORKER = 16;
/**
 * shrink_heap runs every 10 s while saturated (Envoy's HeapShrinker interval; the bundled API has no
 * ShrinkHeapConfig). Tests only (LEGATE_TEST_HOOKS=1) may shorten it with LEGATE_TEST_SHRINK_HEAP_INTERVAL_MS.
 */
const SHRINK_HEAP_INTERVAL_MS = process.env['LEGATE_TEST_HOOKS'] === '1' && Number(process.env['LEGATE_TEST_SHRINK_HEAP_INTERVAL_MS']) > 0
  ? Number(process.env['LEGATE_TEST_SHRINK_HEAP_INTERVAL_MS'])
  : 10_000;

interface MonitorState {
  config: OverloadMonitorConfig;
  pressure: number;
  pressureSlot: number;
  failedSlot: number;
}

interface ActionState {
  id: number;
  activeSlot: number;
  scaleSlot: number;
  triggers: OverloadConfig['actions'][number]['triggers'];
}

/** The soft RLIMIT_NOFILE of this process (from /proc/self/limits); 0 when unknown or unlimited. */
export function openFilesLimit(): number {
  try {
    const text = fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    return m === null || m[1] === 'unlimited' ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** The downstream connection limit that keeps a proxy with `concurrency` workers under `fdLimit` descriptors (each connection may need an upstream one). */
export function connectionBudgetOf(fdLimit: number, concurrency: number): number {
  if (fdLimit <= 0) return 0;
  return Math.max(1, Math.floor((fdLimit - FD_RESERVE_BASE - FD_RESERVE_PER_WORKER * concurrency) / 2));
}

export class OverloadManager {
  private readonly shared: OverloadShared;
  private readonly registry: StatRegistry;
  private readonly values: Float64Array;
  private readonly concurrency: number;
  private readonly broadcast: (m: PrimaryToWorker) => void;
  private readonly fdBudget: number;
  private config: OverloadConfig = NO_OVERLOAD;
  private monitors: MonitorState[] = [];
  private actions: ActionState[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopAccepting = false;
  /** shrink_heap is configured: its 10 s timer and its shrink_count slot. */
  private shrinkTimer: NodeJS.Timeout | null = null;
  private shrinkCountSlot = -1;

  constructor(shared: OverloadShared, registry: StatRegistry, values: Float64Array, concurrency: number, broadcast: (m: PrimaryToWorker) => void) {
    this.shared = shared;
    this.registry = registry;
    this.values = values;
    this.concurrency = concurrency;
    this.broadcast = broadcast;
    if (concurrency > MAX_WORKERS) throw new RangeError(`at most ${MAX_WORKERS} workers (the overload region's size)`);
    this.fdBudget = connectionBudgetOf(openFilesLimit(), concurrency);
  }

  /** A config version's overload_manager (start-up and every reload). */
  apply(config: OverloadConfig): void {
    const first = this.config === NO_OVERLOAD && this.monitors.length === 0 && this.timer === null;
    this.config = config;
    const configured = config.maxActiveDownstreamConnections;
    if (configured > 0) {
      if (this.fdBudget > 0 && configured > this.fdBudget) {
        log.warn(`overload: max_active_downstream_connections ${configured} is above what the fd limit allows (about ${this.fdBudget}); past it accept() fails with EMFILE`);
      }
      this.shared.setMaxConnections(configured);
    } else {
      this.shared.setMaxConnections(this.fdBudget);
      if (first && this.fdBudget > 0) {
        log.info(`overload: no global_downstream_max_connections configured; downstream connections limited to ${this.fdBudget} (from the fd limit)`);
      }
    }
    const r = this.registry;
    this.monitors = config.monitors.map((m) => ({
      config: m,
      pressure: 0,
      pressureSlot: r.gauge(`overload.${m.name}.pressure`),
      failedSlot: r.counter(`overload.${m.name}.failed_updates`),
    }));
    // Actions no longer configured go back to inactive.
    for (const a of this.actions) {
      this.shared.actions[a.id] = 0;
      this.values[a.activeSlot] = 0;
      this.values[a.scaleSlot] = 0;
    }
    this.actions = config.actions.map((a) => ({
      id: a.id,
      triggers: a.triggers,
      activeSlot: r.gauge(`overload.${a.name}.active`),
      scaleSlot: r.gauge(`overload.${a.name}.scale_percent`),
    }));
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.monitors.length > 0) {
      this.timer = setInterval(this.refresh, config.refreshIntervalMs);
      this.timer.unref();
    }
    this.applyShrinkHeap(config);
    this.refresh();
  }

  /** envoy.overload_actions.shrink_heap: Envoy's HeapShrinker, one timer in the primary for every thread. */
  private applyShrinkHeap(config: OverloadConfig): void {
    const configured = config.actions.some((a) => a.id === OverloadAction.SHRINK_HEAP);
    if (!configured) {
      if (this.shrinkTimer !== null) clearInterval(this.shrinkTimer);
      this.shrinkTimer = null;
      return;
    }
    this.shrinkCountSlot = this.registry.counter(SHRINK_COUNT_STAT);
    if (this.shrinkTimer !== null) return;
    enableShrinkHeap();
    this.shrinkTimer = setInterval(this.shrinkTick, SHRINK_HEAP_INTERVAL_MS);
    this.shrinkTimer.unref();
  }

  /**
   * Every 10 s: while shrink_heap is saturated (Envoy's isSaturated()), a full memory-reducing GC here and, by
   * message, in every worker; counted once per tick as Envoy's shrink_count.
   */
  private readonly shrinkTick = (): void => {
    if (this.shared.actions[OverloadAction.SHRINK_HEAP]! < 1) return;
    this.values[this.shrinkCountSlot]++;
    this.broadcast({ type: 'shrink_heap' });
    shrinkHeap();
  };

  /** Messages that bring a fresh worker to the current action states. */
  replay(): PrimaryToWorker[] {
    return this.stopAccepting ? [{ type: 'overload_listeners', stopAccepting: true }] : [];
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.shrinkTimer !== null) clearInterval(this.shrinkTimer);
    this.shrinkTimer = null;
  }

  private readonly refresh = (): void => {
    const pressures = new Map<string, number>();
    for (const m of this.monitors) {
      try {
        m.pressure = this.pressureOf(m.config);
      } catch (err) {
        this.values[m.failedSlot]++;
        log.debug(`overload: monitor ${m.config.name} failed: ${(err as Error).message}`);
      }
      this.values[m.pressureSlot] = Math.round(m.pressure * 100);
      pressures.set(m.config.name, m.pressure);
    }
    for (const a of this.actions) {
      let state = 0;
      for (const t of a.triggers) {
        const p = pressures.get(t.monitor) ?? 0;
        let s: number;
        if (t.kind === 'threshold') s = p >= t.value ? 1 : 0;
        else if (p <= t.scalingThreshold) s = 0;
        else if (p >= t.saturationThreshold) s = 1;
        else s = (p - t.scalingThreshold) / (t.saturationThreshold - t.scalingThreshold);
        if (s > state) state = s;
      }
      this.shared.actions[a.id] = state;
      this.values[a.activeSlot] = state >= 1 ? 1 : 0;
      this.values[a.scaleSlot] = Math.round(state * 100);
    }
    const stop = this.shared.actions[OverloadAction.STOP_ACCEPTING_CONNECTIONS]! >= 1;
    if (stop !== this.stopAccepting) {
      this.stopAccepting = stop;
      log.warn(`overload: ${stop ? 'stop accepting connections' : 'accepting connections again'}`);
      this.broadcast({ type: 'overload_listeners', stopAccepting: stop });
    }
  };

  private pressureOf(m: OverloadMonitorConfig): number {
    if (m.kind === 'global_downstream_max_connections') return this.shared.activeConnections / m.maxConnections;
    // V8 heap in use plus external memory (Buffers: request and response bodies) of the primary and every worker.
    const h = v8.getHeapStatistics();
    let used = h.used_heap_size + h.external_memory;
    const heaps = this.shared.heapBytes;
    for (let i = 0; i < this.concurrency; i++) used += heaps[i]!;
    return used / m.maxHeapSizeBytes;
  }
}
