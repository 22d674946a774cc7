// Main thread of `legate bench -c CONFIG`. Legate run as a child process on the same Node, for the length of a
// benchmark: started, waited for, and stopped (never left running, even on Ctrl-C).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { probeTcp } from './tcp-probe.ts';

const MAIN_TS = path.resolve(import.meta.dirname, '../cli/main.ts');
const STDERR_KEEP = 16 * 1024;
/** Without the "legate started" line, a listening port counts as ready after this long (workers bind in turn). */
const READY_GRACE_MS = 1000;

export interface LegateChildSpec {
  readonly configPath: string;
  readonly concurrency: number | undefined;
  /** Appends the child's stdout and stderr here; undefined = stdout discarded, stderr kept in memory. */
  readonly logPath: string | undefined;
}

export class LegateStartError extends Error {
  override name = 'LegateStartError';
  readonly code = 'BENCH_LEGATE_START';
}

export class LegateChild {
  readonly child: ChildProcess;
  private stderrTail = '';
  private started = false;
  private exitCode: number | null = null;
  private readonly exited: Promise<void>;

  constructor(spec: LegateChildSpec) {
    const args = [MAIN_TS, '-c', spec.configPath, '--drain-time-s', '1'];
    if (spec.concurrency !== undefined) args.push('--concurrency', String(spec.concurrency));
    const logFd = spec.logPath !== undefined ? fs.openSync(spec.logPath, 'a') : undefined;
    this.child = spawn(process.execPath, args, { stdio: ['ignore', logFd ?? 'ignore', 'pipe'] });
    if (logFd !== undefined) fs.closeSync(logFd);
    const logStream = spec.logPath !== undefined ? fs.createWriteStream(spec.logPath, { flags: 'a' }) : undefined;
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => {
      logStream?.write(d);
      this.stderrTail = (this.stderrTail + d).slice(-STDERR_KEEP);
      if (!this.started && /legate started/.test(this.stderrTail)) this.started = true;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal !== null ? 128 : 1);
        logStream?.end();
        resolve();
      });
    });
    // If this process dies first, its child must not outlive it.
    process.on('exit', this.killNow);
  }

  private readonly killNow = (): void => {
    if (this.exitCode === null) this.child.kill('SIGKILL');
  };

  /** The last lines of Legate's stderr, for error messages. */
  tail(lines = 12): string {
    return this.stderrTail.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Resolves when Legate listens on host:port (and has said it started); rejects if it exits or takes too long. */
  async waitReady(host: string, port: number, timeoutS: number): Promise<void> {
    const deadline = Date.now() + timeoutS * 1000;
    let listeningSince = 0;
    for (;;) {
      if (this.exitCode !== null) {
        throw new LegateStartError(`legate exited with status ${this.exitCode} before it was ready:\n${this.tail()}`);
      }
      if ((await probeTcp(host, port, 500)).ok) {
        if (listeningSince === 0) listeningSince = Date.now();
        if (this.started || Date.now() - listeningSince >= READY_GRACE_MS) return;
      }
      if (Date.now() > deadline) {
        throw new LegateStartError(`legate did not listen on ${host}:${port} within ${timeoutS} s:\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    process.off('exit', this.killNow);
    if (this.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
