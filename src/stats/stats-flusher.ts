// Primary thread. Envoy's stats flush, every stats_flush_interval: fresh numbers are gathered (the workers'
// histogram deltas merged, derived gauges refreshed), what the histograms recorded since the previous flush
// becomes their interval (what /stats prints first in `P50(interval,cumulative)`), and every sink is written.
// One flush at a time: a tick that finds the previous flush still running is dropped (server.dropped_stat_flushes).

import type { SharedRegions } from './shared-regions.ts';
import { StatKind } from './stat-kind.ts';
import type { StatInfo } from './stat-registry.ts';
import type { StatsSettings } from './stats-config.ts';
import { StatsdSink } from './statsd-sink.ts';

export interface FlushHooks {
  /** Brings the shared numbers up to date (histogram deltas from the workers, server gauges). */
  collect(): Promise<void>;
  /** A tick came while the previous flush was still running. */
  onDropped(): void;
  /** A flush failed (logged by the caller). */
  onError(err: Error): void;
}

export class StatsFlusher {
  private readonly regions: SharedRegions;
  private readonly settings: StatsSettings;
  private readonly hooks: FlushHooks;
  private readonly sinks: StatsdSink[];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Each counter's value at the previous flush, by value slot (the sinks send changes). */
  private lastCounters = new Float64Array(0);

  constructor(regions: SharedRegions, settings: StatsSettings, hooks: FlushHooks) {
    this.regions = regions;
    this.settings = settings;
    this.hooks = hooks;
    this.sinks = settings.sinks.map((s) => new StatsdSink(s));
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      if (this.running) {
        this.hooks.onDropped();
        return;
      }
      void this.flushNow();
    }, this.settings.flushIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.sinks) s.close();
  }

  async flushNow(): Promise<void> {
    this.running = true;
    try {
      await this.hooks.collect();
      this.regions.rotateHistogramInterval();
      if (this.sinks.length > 0) this.writeSinks();
    } catch (err) {
      this.hooks.onError(err as Error);
    } finally {
      this.running = false;
    }
  }

  private writeSinks(): void {
    const stats = this.regions.snapshot();
    const values: { info: StatInfo; value: number }[] = [];
    let last = this.lastCounters;
    if (last.length < this.regions.registry.valueSlotCount) {
      const grown = new Float64Array(this.regions.registry.valueSlotCount);
      grown.set(last);
      this.lastCounters = last = grown;
    }
    for (const v of stats.values) {
      if (!v.used) continue;
      if (v.info.kind === StatKind.COUNTER) {
        const slot = v.info.slot;
        // After /reset_counters a counter is below its last flush: the change is what it counted since.
        const delta = v.value >= last[slot]! ? v.value - last[slot]! : v.value;
        last[slot] = v.value;
        values.push({ info: v.info, value: delta });
      } else {
        values.push({ info: v.info, value: v.value });
      }
    }
    const histograms: StatInfo[] = [];
    for (const h of stats.histograms) if (h.summary.intervalCount > 0) histograms.push(h.info);
    const regions = this.regions;
    const flush = {
      values,
      histograms,
      forEachIntervalValue: (slot: number, fn: (value: number, count: number) => void) => regions.forEachIntervalValue(slot, fn),
    };
    for (const sink of this.sinks) sink.flush(flush);
  }
}
