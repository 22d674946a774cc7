// Worker thread. An access log sink: formats a finished request's StreamInfo into one entry and hands it to a
// buffered writer. Built once per distinct AccessLogConfig per worker (see workers/listener/access-log-sink-cache).

import { log as processLog } from '../common/logger.ts';
import type { StreamInfo } from '../http/stream-info.ts';
import type { AccessLogConfig } from './access-log-config.ts';
import { compileJsonFormat, compileTextFormat, type Formatter } from './formatter.ts';
import { AccessLogFilter } from './access-log-filter.ts';
import { BufferedLogWriter, DEFAULT_LOG_WRITER_OPTIONS, type LogTarget, type LogWriterOptions } from './log-writer.ts';

export interface AccessLogSink {
  /**
   * Worker thread, when a stream completes. Formats and buffers one entry; never blocks and never throws (a
   * slow target makes the sink drop entries and count them instead).
   */
  log(info: StreamInfo): void;
  /** Resolves once every entry logged so far is written (or dropped because the target failed). */
  flush(): Promise<void>;
  /** Reopens a file target (log rotation); no-op for stdout/stderr. */
  reopen(): Promise<void>;
  /** Flushes and releases the target; later entries are dropped. */
  close(): Promise<void>;
  /** Entries dropped because the target could not keep up, failed, or the sink was closed. */
  readonly droppedLines: number;
}

class BufferedAccessLogSink implements AccessLogSink {
  private readonly formatter: Formatter;
  private readonly writer: BufferedLogWriter;
  /** AccessLog.filter; null: every request is logged. */
  private readonly filter: AccessLogFilter | null;
  private formatErrors: number;

  constructor(formatter: Formatter, writer: BufferedLogWriter, filter: AccessLogFilter | null) {
    this.formatter = formatter;
    this.writer = writer;
    this.filter = filter;
    this.formatErrors = 0;
  }

  get droppedLines(): number {
    return this.writer.droppedLines + this.formatErrors;
  }

  log(info: StreamInfo): void {
    if (this.filter !== null && !this.filter.evaluate(info, info.requestHeaders)) return;
    let line: string;
    try {
      line = this.formatter.format(info);
    } catch (err) {
      // A formatter bug must not break the stream that is finishing: count it, say it once.
      if (this.formatErrors++ === 0) processLog.error(`access log: formatting failed: ${(err as Error).stack ?? String(err)}`);
      return;
    }
    this.writer.append(line);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  reopen(): Promise<void> {
    return this.writer.reopen();
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

function targetOf(config: AccessLogConfig): LogTarget {
  switch (config.kind) {
    case 'stdout': return { kind: 'fd', fd: 1 };
    case 'stderr': return { kind: 'fd', fd: 2 };
    default: return { kind: 'file', path: config.path };
  }
}

function formatterOf(config: AccessLogConfig): Formatter {
  if (config.format === 'json') {
    return compileJsonFormat(config.json ?? {}, {
      omitEmptyValues: config.omitEmptyValues,
      typed: config.jsonTyped,
      sortProperties: config.sortProperties,
    });
  }
  return compileTextFormat(config.text, { omitEmptyValues: config.omitEmptyValues });
}

/**
 * Builds a sink from compiled config (the config was validated by compileAccessLogs, so formats compile).
 * `writerOptions` is for tests and benchmarks; production uses the defaults (100 ms / 64 KiB / 4 MiB).
 */
export function createAccessLogSink(config: AccessLogConfig, writerOptions: LogWriterOptions = DEFAULT_LOG_WRITER_OPTIONS): AccessLogSink {
  const filter = config.filter === undefined ? null : new AccessLogFilter(config.filter);
  return new BufferedAccessLogSink(formatterOf(config), new BufferedLogWriter(targetOf(config), writerOptions), filter);
}
