// Test support: runs bin/legate as a real child process on a config written to a temp file.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const LEGATE_BIN = path.join(ROOT, 'bin/legate');

/**
 * A free TCP port on 127.0.0.1, closed again before the caller uses it.
 * @deprecated Racy: Legate's listeners bind with SO_REUSEPORT, so another test's Legate handed the same number in
 * the meantime shares the port silently. Give Legate's listeners `port_value: 0` and read the real port with
 * LegateProcess.listenerPort(name); upstream servers in tests listen on 0 themselves.
 */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * A port on 127.0.0.1 nothing listens on, for a cluster whose connections must be refused (something may listen on
 * it later: use it only where that would not pass a test by mistake). Not for Legate's listeners: see freePort().
 */
export async function unusedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Starts `server` (an upstream of a test) listening on a port the kernel picks on `host`; returns the port. */
export function listenOnPortZero(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function tempDir(prefix = 'legate-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface StartOptions {
  config: string;
  concurrency?: number;
  args?: string[];
  env?: Record<string, string>;
  /** Wait for the "legate started" line (default true). */
  waitReady?: boolean;
  /** Run under `ulimit -n fdLimit` (a real file descriptor limit on the child). */
  fdLimit?: number;
}

export class LegateProcess {
  readonly proc: ChildProcess;
  readonly configPath: string;
  stdout = '';
  stderr = '';
  adminPort = 0;
  exitCode: number | null = null;
  private readonly exited: Promise<number>;
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(proc: ChildProcess, configPath: string) {
    this.proc = proc;
    this.configPath = configPath;
    proc.stdout!.setEncoding('utf8');
    proc.stderr!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      this.stdout += d;
    });
    proc.stderr!.on('data', (d: string) => {
      this.stderr += d;
      const m = /admin listening on [^:]+:(\d+)/.exec(this.stderr);
      if (m !== null) this.adminPort = Number(m[1]);
      this.checkWaiters();
    });
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal !== null ? 128 : 1);
        resolve(this.exitCode);
        this.checkWaiters();
      });
    });
  }

  private checkWaiters(): void {
    this.waiters = this.waiters.filter((w) => {
      const m = w.re.exec(this.stderr.slice(w.from));
      if (m === null) return true;
      w.resolve(m);
      return false;
    });
  }

  /** Resolves when stderr (after offset `from`) matches; rejects after timeoutMs or if the process exits. */
  waitForLog(re: RegExp, timeoutMs = 20_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const m = re.exec(this.stderr.slice(from));
      if (m !== null) return resolve(m);
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in legate's log:\n${this.stderr}`)), timeoutMs);
      this.waiters.push({
        re,
        from,
        resolve: (mm) => {
          clearTimeout(timer);
          resolve(mm);
        },
      });
      void this.exited.then((code) => {
        if (this.waiters.some((w) => w.re === re)) {
          clearTimeout(timer);
          reject(new Error(`legate exited (${code}) before ${re}:\n${this.stderr}`));
        }
      });
    });
  }

  /** SIGHUP, then wait for the reload outcome; returns true when it was applied. */
  async reload(): Promise<boolean> {
    const from = this.stderr.length;
    this.proc.kill('SIGHUP');
    const m = await this.waitForLog(/(reloaded: config version|reload rejected|applied with problems)/, 30_000, from);
    return m[1]!.startsWith('reloaded');
  }

  writeConfig(text: string): void {
    fs.writeFileSync(this.configPath, text);
  }

  async admin(pathAndQuery: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers }> {
    const res = await fetch(`http://127.0.0.1:${this.adminPort}${pathAndQuery}`, init);
    return { status: res.status, body: await res.text(), headers: res.headers };
  }

  /**
   * The port listener `name` really listens on (from /listeners?format=json): with `port_value: 0` in the
   * config, the one the kernel gave it, shared by every worker. Throws when there is no such listener.
   */
  async listenerPort(name: string): Promise<number> {
    return (await this.listenerPorts())[name] ?? (() => {
      throw new Error(`no listener '${name}' in /listeners`);
    })();
  }

  /** Every listener's real port, by name (from /listeners?format=json). */
  async listenerPorts(): Promise<Record<string, number>> {
    const { status, body } = await this.admin('/listeners?format=json');
    if (status !== 200) throw new Error(`/listeners answered ${status}: ${body}`);
    const parsed = JSON.parse(body) as { listener_statuses?: { name: string; local_address: { socket_address: { port_value: number } } }[] };
    const out: Record<string, number> = {};
    for (const l of parsed.listener_statuses ?? []) out[l.name] = l.local_address.socket_address.port_value;
    return out;
  }

  /** Summed stats from /stats?format=json as a name -> value map (counters and gauges). */
  async statsMap(): Promise<Map<string, number>> {
    const { body } = await this.admin('/stats?format=json');
    const parsed = JSON.parse(body) as { stats: { name?: string; value?: number }[] };
    const out = new Map<string, number>();
    for (const s of parsed.stats) if (s.name !== undefined && typeof s.value === 'number') out.set(s.name, s.value);
    return out;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.exitCode !== null) return this.exitCode;
    this.proc.kill(signal);
    return this.exited;
  }

  waitExit(): Promise<number> {
    return this.exited;
  }
}

export async function startLegate(opts: StartOptions): Promise<LegateProcess> {
  const dir = tempDir();
  const configPath = path.join(dir, 'legate.yaml');
  fs.writeFileSync(configPath, opts.config);
  const args = ['-c', configPath, '--concurrency', String(opts.concurrency ?? 2), '--drain-time-s', '5', ...(opts.args ?? [])];
  // With an fd limit, a shell sets it and execs Legate in its place (same pid, so signals reach Legate).
  const [file, argv] = opts.fdLimit === undefined
    ? [LEGATE_BIN, args]
    : ['/bin/sh', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, LEGATE_BIN, ...args]];
  const proc = spawn(file, argv, {
    cwd: dir,
    env: { ...process.env, LEGATE_TEST_HOOKS: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lp = new LegateProcess(proc, configPath);
  if (opts.waitReady !== false) await lp.waitForLog(/legate started/);
  return lp;
}
