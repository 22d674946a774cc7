// Worker thread. Buffered, asynchronous, line-preserving writes to a file (opened for append) or to fd 1/2.
//
// append() only pushes a string: the request path never waits on a disk or a pipe. Lines are written by one
// async fs.write at a time, each write made of whole lines, so:
// - several worker threads appending to one file each hold their own O_APPEND descriptor, and every write lands
//   whole at the end of the file;
// - on fd 1/2 (shared by every thread of the process) a write to a pipe or socket is kept within PIPE_BUF bytes,
//   which the kernel does not interleave with other writers (a single line longer than that is the exception).
// If the target cannot keep up, the buffer is bounded: past maxBufferedBytes new lines are dropped and counted.

import fs from 'node:fs';
import { log } from '../common/logger.ts';

/** POSIX PIPE_BUF on Linux: writes up to this size to a pipe are atomic. */
const PIPE_BUF = 4096;
/** Chunk size for regular files: large writes are fine (O_APPEND), bounded to keep each Buffer small. */
const FILE_CHUNK_BYTES = 1024 * 1024;
/** Back-off when a non-blocking pipe is full (EAGAIN) or a file could not be opened. */
const EAGAIN_RETRY_MS = 10;
const OPEN_RETRY_MS = 1000;
/** Compact the line queue once this many consumed entries sit at its head. */
const COMPACT_AT = 4096;

export interface LogWriterOptions {
  /** Longest time a line waits in memory while the writer is idle. */
  flushIntervalMs: number;
  /** Start writing at once when this many characters are pending. */
  flushBytes: number;
  /** Bound of pending + in-flight characters; new lines beyond it are dropped and counted. */
  maxBufferedBytes: number;
}

export const DEFAULT_LOG_WRITER_OPTIONS: Readonly<LogWriterOptions> = Object.freeze({
  flushIntervalMs: 100,
  flushBytes: 64 * 1024,
  maxBufferedBytes: 4 * 1024 * 1024,
});

/** Where lines go: an inherited descriptor (1 = stdout, 2 = stderr), or a path opened for append. */
export type LogTarget = { kind: 'fd'; fd: number } | { kind: 'file'; path: string };

export class BufferedLogWriter {
  /** Lines dropped: buffer full, write failed, target unavailable, or appended after close(). */
  droppedLines: number;
  /** Writes or opens that failed (EAGAIN retries are not failures). */
  writeErrors: number;
  /** Characters pending or in flight (an approximation of bytes: exact for ASCII). */
  bufferedChars: number;

  private readonly target: LogTarget;
  private readonly opts: LogWriterOptions;
  private readonly chunkLimit: number;
  private fd: number;
  private lines: string[];
  /** UTF-8 size of each entry of `lines`. */
  private lineBytes: number[];
  private head: number;
  /** Characters in lines[head..]. */
  private pendingChars: number;
  /** A write (or its EAGAIN retry) is under way. */
  private writing: boolean;
  private inflight: Buffer | null;
  private inflightOffset: number;
  private inflightLines: number;
  private inflightChars: number;
  private flushTimer: NodeJS.Timeout | null;
  private retryTimer: NodeJS.Timeout | null;
  private opening: boolean;
  private openFailed: boolean;
  private reopenRequested: boolean;
  private closed: boolean;
  private idleWaiters: (() => void)[];
  private reopenWaiters: (() => void)[];
  /** Logged once per failure streak, not per line. */
  private errorReported: boolean;

  private readonly onWrittenBound: (err: NodeJS.ErrnoException | null, written: number) => void;
  private readonly onFlushTimerBound: () => void;
  private readonly onRetryBound: () => void;

  constructor(target: LogTarget, opts: LogWriterOptions = DEFAULT_LOG_WRITER_OPTIONS) {
    this.droppedLines = 0;
    this.writeErrors = 0;
    this.bufferedChars = 0;
    this.target = target;
    this.opts = opts;
    this.fd = -1;
    this.lines = [];
    this.lineBytes = [];
    this.head = 0;
    this.pendingChars = 0;
    this.writing = false;
    this.inflight = null;
    this.inflightOffset = 0;
    this.inflightLines = 0;
    this.inflightChars = 0;
    this.flushTimer = null;
    this.retryTimer = null;
    this.opening = false;
    this.openFailed = false;
    this.reopenRequested = false;
    this.closed = false;
    this.idleWaiters = [];
    this.reopenWaiters = [];
    this.errorReported = false;
    this.onWrittenBound = this.onWritten.bind(this);
    this.onFlushTimerBound = this.onFlushTimer.bind(this);
    this.onRetryBound = this.onRetry.bind(this);
    if (target.kind === 'fd') {
      this.fd = target.fd;
      this.chunkLimit = isRegularFile(target.fd) ? FILE_CHUNK_BYTES : PIPE_BUF;
    } else {
      this.chunkLimit = FILE_CHUNK_BYTES;
      this.open();
    }
  }

  /** Request path: buffers one line (the caller includes its newline). Never blocks, never throws. */
  append(line: string): void {
    if (this.closed || this.bufferedChars + line.length > this.opts.maxBufferedBytes) {
      this.droppedLines++;
      return;
    }
    this.lines.push(line);
    // Measured now, while the line (a rope of its formatted pieces) is young: this flattens it at once instead
    // of after a 100 ms wait in the queue, when its pieces have been promoted (measured ~4% of a worker's CPU).
    this.lineBytes.push(Buffer.byteLength(line));
    this.bufferedChars += line.length;
    this.pendingChars += line.length;
    if (this.writing || this.fd < 0) return; // the running write, or the open, picks it up
    if (this.pendingChars >= this.opts.flushBytes) {
      this.writeNext();
    } else if (this.flushTimer === null) {
      this.flushTimer = setTimeout(this.onFlushTimerBound, this.opts.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  /** Resolves once everything appended so far is written (or dropped because the target failed). */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      if (this.openFailed) this.dropPending();
      else this.writeNext();
    });
  }

  /** Closes and reopens the file (log rotation); lines appended meanwhile are kept. No-op for fd 1/2. */
  reopen(): Promise<void> {
    if (this.target.kind === 'fd' || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.reopenWaiters.push(resolve);
      if (this.reopenRequested) return;
      this.reopenRequested = true;
      if (!this.writing && !this.opening) this.doReopen();
    });
  }

  /** Flushes, then closes the file. Lines appended after close() are dropped and counted. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.flushTimer = null;
    this.retryTimer = null;
    if (this.target.kind === 'file' && this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
  }

  private isIdle(): boolean {
    return !this.writing && this.head === this.lines.length;
  }

  private open(): void {
    if (this.target.kind !== 'file') return;
    const path = this.target.path;
    this.opening = true;
    fs.open(path, 'a', 0o644, (err, fd) => {
      this.opening = false;
      if (err !== null) {
        this.writeErrors++;
        this.openFailed = true;
        this.reportError(`access log: cannot open ${path}: ${err.message}; dropping lines and retrying`);
        this.dropPending();
        this.resolveReopenWaiters();
        this.scheduleRetry(OPEN_RETRY_MS);
        return;
      }
      this.openFailed = false;
      this.errorReported = false;
      if (this.closed && this.isIdle()) {
        // close() finished while this open was under way: nothing left to write.
        fs.close(fd, () => {});
        this.resolveReopenWaiters();
        return;
      }
      this.fd = fd;
      if (this.reopenRequested) {
        this.doReopen();
        return;
      }
      this.resolveReopenWaiters();
      this.writeNext();
    });
  }

  private doReopen(): void {
    this.reopenRequested = false;
    const old = this.fd;
    this.fd = -1;
    if (old < 0) {
      this.open();
      return;
    }
    this.opening = true;
    fs.close(old, () => this.open());
  }

  private writeNext(): void {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.writing || this.fd < 0) return;
    const lines = this.lines;
    if (this.head === lines.length) {
      lines.length = 0;
      this.lineBytes.length = 0;
      this.head = 0;
      this.resolveIdleWaiters();
      return;
    }
    // Whole lines only, up to chunkLimit bytes (at least one line).
    const lineBytes = this.lineBytes;
    const start = this.head;
    let bytes = lineBytes[start]!;
    let chars = lines[start]!.length;
    let i = start + 1;
    while (i < lines.length) {
      const nextBytes = lineBytes[i]!;
      if (bytes + nextBytes > this.chunkLimit) break;
      bytes += nextBytes;
      chars += lines[i]!.length;
      i++;
    }
    // Each line encoded straight into one buffer: concatenating thousands of lines into one string first made a
    // deep rope that cost more to flatten than the lines cost to format.
    const buf = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (let j = start; j < i; j++) {
      offset += buf.write(lines[j]!, offset, 'utf8');
      lines[j] = '';
    }
    this.head = i;
    if (this.head >= COMPACT_AT && this.head * 2 >= lines.length) {
      this.lines = lines.slice(this.head);
      this.lineBytes = lineBytes.slice(this.head);
      this.head = 0;
    }
    this.pendingChars -= chars;
    this.writing = true;
    this.inflight = buf;
    this.inflightOffset = 0;
    this.inflightLines = i - start;
    this.inflightChars = chars;
    this.writeInflight();
  }

  private writeInflight(): void {
    const buf = this.inflight!;
    fs.write(this.fd, buf, this.inflightOffset, buf.length - this.inflightOffset, null, this.onWrittenBound);
  }

  private onWritten(err: NodeJS.ErrnoException | null, written: number): void {
    if (err !== null) {
      if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') {
        // A non-blocking pipe is full: keep the chunk and try again shortly (lines pile up, bounded).
        this.scheduleRetry(EAGAIN_RETRY_MS);
        return;
      }
      this.writeErrors++;
      this.droppedLines += this.inflightLines;
      this.reportError(`access log: write failed: ${err.message}; dropping lines`);
    } else if (this.inflightOffset + written < this.inflight!.length) {
      this.inflightOffset += written;
      this.writeInflight();
      return;
    } else {
      this.errorReported = false;
    }
    this.bufferedChars -= this.inflightChars;
    this.inflight = null;
    this.inflightLines = 0;
    this.inflightChars = 0;
    this.writing = false;
    if (this.reopenRequested) this.doReopen();
    else this.afterWrite();
  }

  /**
   * The next write after one finished: at once when a full chunk is pending or someone waits (flush, close);
   * otherwise lines gather until the flush interval, as when the writer was idle. Writing again at once whatever
   * arrived meanwhile made one fs.write (a thread-pool round trip) per few lines under load: measured 25% more
   * CPU per request with a log on, against under 15% batched.
   */
  private afterWrite(): void {
    if (this.pendingChars >= this.opts.flushBytes || this.idleWaiters.length > 0 || this.closed || this.head === this.lines.length) {
      this.writeNext();
      return;
    }
    if (this.flushTimer === null) {
      this.flushTimer = setTimeout(this.onFlushTimerBound, this.opts.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(this.onRetryBound, ms);
    // A write waiting for a full pipe keeps the thread alive, as a pending fs.write would; a failed open holds
    // no lines (they were dropped), so its retry must not.
    if (!this.writing) this.retryTimer.unref();
  }

  private onRetry(): void {
    this.retryTimer = null;
    if (this.writing && this.inflight !== null) {
      this.writeInflight();
    } else if (this.openFailed && !this.opening && !this.closed) {
      this.open();
    }
  }

  private onFlushTimer(): void {
    this.flushTimer = null;
    this.writeNext();
  }

  /** The target is unavailable: count what is waiting as dropped so flush() and close() do not hang. */
  private dropPending(): void {
    const waiting = this.lines.length - this.head;
    this.droppedLines += waiting;
    this.bufferedChars -= this.pendingChars;
    this.pendingChars = 0;
    this.lines = [];
    this.lineBytes = [];
    this.head = 0;
    if (!this.writing) this.resolveIdleWaiters();
  }

  private resolveIdleWaiters(): void {
    if (this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (let i = 0; i < waiters.length; i++) waiters[i]!();
  }

  private resolveReopenWaiters(): void {
    if (this.reopenWaiters.length === 0) return;
    const waiters = this.reopenWaiters;
    this.reopenWaiters = [];
    for (let i = 0; i < waiters.length; i++) waiters[i]!();
  }

  private reportError(message: string): void {
    if (this.errorReported) return;
    this.errorReported = true;
    log.warn(message);
  }
}

function isRegularFile(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile();
  } catch {
    return false;
  }
}
