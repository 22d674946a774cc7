// Worker thread. Access log sinks shared across listeners and config versions: one open file (or stdout
// writer) per distinct logger config, so a reload does not reopen files; sinks no version uses any more are
// closed after a grace period (streams of the old version may still log).

import type { AccessLogConfig } from '../../src/access-log/access-log-config.ts';
import { createAccessLogSink, type AccessLogSink } from '../../src/access-log/sink.ts';
import { DEFAULT_LOG_WRITER_OPTIONS, type LogWriterOptions } from '../../src/access-log/log-writer.ts';
import type { Snapshot } from '../../src/snapshot/snapshot-types.ts';

const CLOSE_GRACE_MS = 30_000;

export class AccessLogSinkCache {
  private readonly sinks = new Map<string, AccessLogSink>();
  private readonly writerOptions: LogWriterOptions;

  /** `flushIntervalMs`: --file-flush-interval-msec (how long a line may wait in memory); -1 keeps the default. */
  constructor(flushIntervalMs = -1) {
    this.writerOptions = flushIntervalMs < 0 ? DEFAULT_LOG_WRITER_OPTIONS : Object.freeze({ ...DEFAULT_LOG_WRITER_OPTIONS, flushIntervalMs });
  }

  get(config: AccessLogConfig): AccessLogSink {
    const key = JSON.stringify(config);
    let sink = this.sinks.get(key);
    if (sink === undefined) {
      sink = createAccessLogSink(config, this.writerOptions);
      this.sinks.set(key, sink);
    }
    return sink;
  }

  retainOnly(snapshot: Snapshot): void {
    const used = new Set<string>();
    for (const l of snapshot.listeners) {
      for (const c of l.accessLogs) used.add(JSON.stringify(c));
      for (const { filter } of l.defaultFilterChain === null ? l.filterChains : [...l.filterChains, l.defaultFilterChain]) {
        const logs = filter.kind === 'http_connection_manager' ? filter.hcm.accessLogs : filter.tcpProxy.accessLogs;
        for (const c of logs) used.add(JSON.stringify(c));
      }
    }
    for (const [key, sink] of this.sinks) {
      if (used.has(key)) continue;
      this.sinks.delete(key);
      setTimeout(() => void sink.close(), CLOSE_GRACE_MS).unref();
    }
  }

  /** SIGUSR1 (log rotation): every file sink closes its file and opens the path again; lines are kept. */
  reopenAll(): void {
    for (const sink of this.sinks.values()) void sink.reopen();
  }

  async flushAll(): Promise<void> {
    await Promise.all([...this.sinks.values()].map((s) => s.flush()));
  }
}
