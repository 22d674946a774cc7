// Primary thread (bench harness). Child processes of a benchmark run: pinned with taskset, with a raised fd limit,
// output to a log file in the run's temp dir, and always killed when the harness ends (even on Ctrl-C).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { probeTcp } from '../../src/bench-tools/tcp-probe.ts';

export interface SpawnSpec {
  /** Short name, also the log file name. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** taskset CPU list ("0", "1", "0-1"); undefined = not pinned. */
  readonly cpus: string | undefined;
  /** Directory for `<name>.log` (stdout and stderr). */
  readonly logDir: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Where stdout goes instead of the log (HAProxy's access log on stdout). */
  readonly stdoutFile?: string;
}

export class BenchProcessError extends Error {
  override name = 'BenchProcessError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const live = new Set<BenchProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: whatever is still running when the harness exits is killed, so no proxy outlives a run.
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping child processes\n`);
      process.exit(130);
    });
  }
}

/**
 * The shell raises the fd soft limit (to 65536, or to the hard limit when that is lower) and then execs taskset,
 * which execs the program: the pid we hold is the program's own pid, so /proc/<pid> is the program.
 */
const LAUNCH_SCRIPT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

export class BenchProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly child: ChildProcess;
  exitCode: number | null = null;
  private readonly exited: Promise<void>;

  constructor(spec: SpawnSpec) {
    installExitHook();
    this.name = spec.name;
    this.logPath = path.join(spec.logDir, `${spec.name}.log`);
    const logFd = fs.openSync(this.logPath, 'a');
    const outFd = spec.stdoutFile !== undefined ? fs.openSync(spec.stdoutFile, 'a') : logFd;
    const argv = spec.cpus !== undefined ? ['taskset', '-c', spec.cpus, spec.command, ...spec.args] : [spec.command, ...spec.args];
    this.child = spawn('sh', ['-c', LAUNCH_SCRIPT, 'sh', ...argv], {
      stdio: ['ignore', outFd, logFd],
      env: { ...process.env, ...spec.env },
    });
    fs.closeSync(logFd);
    if (outFd !== logFd) fs.closeSync(outFd);
    if (this.child.pid === undefined) throw new BenchProcessError('BENCH_SPAWN_FAILED', `cannot start ${spec.command}`);
    this.pid = this.child.pid;
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal !== null ? 128 : 1);
        live.delete(this);
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  /** The last lines of the process's log, for error messages. */
  logTail(lines = 15): string {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8').trimEnd();
      return text.split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout') {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await this.exited;
    }
  }

  waitExit(): Promise<void> {
    return this.exited;
  }
}

export interface RunSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cpus: string | undefined;
  /** Killed (SIGKILL) after this long; the result then has code 124. */
  readonly timeoutMs: number;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short-lived tool (wrk, the autocannon child) pinned, with the raised fd limit, and collects its output. */
export function runToCompletion(spec: RunSpec): Promise<RunResult> {
  const argv = spec.cpus !== undefined ? ['taskset', '-c', spec.cpus, spec.command, ...spec.args] : [spec.command, ...spec.args];
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', LAUNCH_SCRIPT, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, spec.timeoutMs);
    const onExit = (): void => {
      child.kill('SIGKILL');
    };
    process.on('exit', onExit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', onExit);
      resolve({ code: timedOut ? 124 : (code ?? (signal !== null ? 128 : 1)), stdout, stderr });
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects if `proc` exits first or after `timeoutMs`. */
export async function waitForPort(port: number, proc: BenchProcess | undefined, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc !== undefined && !proc.running) {
      throw new BenchProcessError(
        'BENCH_PROCESS_EXITED',
        `${proc.name} exited (code ${proc.exitCode}) before listening on port ${port}:\n${proc.logTail()}`,
      );
    }
    if ((await probeTcp('127.0.0.1', port, 1000)).ok) return;
    if (Date.now() > deadline) {
      throw new BenchProcessError(
        'BENCH_PORT_TIMEOUT',
        `${proc?.name ?? 'server'} did not listen on port ${port} within ${timeoutMs} ms${proc !== undefined ? ':\n' + proc.logTail() : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port that was free a moment ago (proxies under test need a fixed port; port 0 cannot be configured). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
