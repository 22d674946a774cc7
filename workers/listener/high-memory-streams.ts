// Worker thread. envoy.overload_actions.reset_high_memory_stream in one worker: while the action is active (the
// primary writes its state into the shared overload region), once per refresh_interval, every HTTP stream of this
// worker's listeners is measured by the bytes held for it and the largest are reset by Envoy's rule
// (src/overload/high-memory-streams.ts), counted in envoy.overload_actions.reset_high_memory_stream.count. While the
// action is inactive a run reads one number; nothing is added to the request path.

import { log } from '../../src/common/logger.ts';
import { HighMemorySweep } from '../../src/overload/high-memory-streams.ts';
import { OverloadAction, overloadShared } from '../../src/overload/overload-shared.ts';
import type { OverloadConfig } from '../../src/overload/overload-config.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import type { ListenerManager } from './listener-manager.ts';

export class HighMemoryStreamReset {
  private readonly listeners: ListenerManager;
  private readonly stats: WorkerStatsStore;
  private readonly sweep = new HighMemorySweep<ActiveStream>();
  private timer: NodeJS.Timeout | null = null;
  private minimumPowerOfTwo = 0;
  private countSlot = -1;

  constructor(listeners: ListenerManager, stats: WorkerStatsStore) {
    this.listeners = listeners;
    this.stats = stats;
  }

  /** A config version: runs every refresh_interval when it configures the action, not at all otherwise. */
  apply(o: OverloadConfig): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (o.resetStreamsCountSlot < 0 || o.minimumAccountToTrackPowerOfTwo <= 0) return;
    this.minimumPowerOfTwo = o.minimumAccountToTrackPowerOfTwo;
    this.countSlot = o.resetStreamsCountSlot;
    this.timer = setInterval(runHighMemoryStreamReset, o.refreshIntervalMs, this);
    this.timer.unref();
  }

  /** One run: nothing while the action is inactive; else resets the chosen streams and returns how many. */
  run(): number {
    const state = overloadShared.actions[OverloadAction.RESET_HIGH_MEMORY_STREAM]!;
    if (!(state > 0)) return 0;
    const sweep = this.sweep;
    sweep.begin(state > 1 ? 1 : state, this.minimumPowerOfTwo);
    this.listeners.offerHighMemoryStreams(sweep);
    const n = sweep.finish();
    if (sweep.bucketsReset > 0) {
      this.stats.values[this.countSlot] += n;
      log.warn(`overload: reset_high_memory_stream: resetting ${n} streams in ${sweep.bucketsReset} buckets, ${sweep.bucketsCleared - sweep.bucketsReset} empty buckets`);
    }
    return n;
  }
}

/** The timer is a boundary: a bug in one run is logged and the next run tries again. */
function runHighMemoryStreamReset(r: HighMemoryStreamReset): void {
  try {
    r.run();
  } catch (err) {
    log.error(`overload: reset_high_memory_stream failed: ${(err as Error).stack ?? String(err)}`);
  }
}
