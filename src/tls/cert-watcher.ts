// Primary thread. Watches the files behind the TLS specs of the current snapshot and reloads a spec when they
// change, so new connections get a rotated certificate without a config reload. The primary owns this (as Envoy's
// main thread owns config): it reads and checks the files once and sends the reloaded spec to every worker
// (ServerTlsContext.update / ClientTlsContext.update there); /certs and the expiry gauge read current().
//
// What is watched: the directory of each file (a change to a file, or a Kubernetes-style swap of the `..data`
// symlink next to it, is an event in that directory), the directory above it when that directory is itself a
// symlink, and every watched_directory. Events are debounced; then each affected spec is re-read
// (reloadTlsSpec). A reload that fails (a half-written file, a key that does not match its certificate yet)
// keeps the old spec, counts a failure and is retried a few times; identical contents are not an update.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { log } from '../common/logger.ts';
import { filesOfTlsSpec, reloadTlsSpec } from './compile-tls-context.ts';
import type { TlsConfigProblem, TlsSpec } from './tls-spec.ts';

export interface CertificateWatcherOptions {
  /** Quiet time after the last event before reloading. Default 100 ms. */
  debounceMs?: number;
  /** After a failed reload, try again this much later (a file may be written without further events). Default 1 s. */
  retryMs?: number;
  /** Retries after a failure, until the next event. Default 5. */
  maxRetries?: number;
  /** A spec reloaded with new contents. Called on the primary's event loop; post it to the workers. */
  onUpdate(spec: TlsSpec): void;
  /** A reload that failed; the previous spec stays in use. */
  onFailure?(id: string, problems: readonly TlsConfigProblem[]): void;
}

/** Counts since start(), for stats and tests. */
export interface CertificateWatcherStats {
  /** Specs reloaded with new contents (each was passed to onUpdate). */
  reloads: number;
  /** Reloads that failed (the old spec kept). */
  failures: number;
  /** Reloads after an event that found the same contents. */
  unchanged: number;
  /** Directories that could not be watched, or whose watch failed. */
  watchErrors: number;
}

interface Entry {
  spec: TlsSpec;
  fingerprint: string;
  retries: number;
}

/** A digest of all the key material of a spec: equal digests mean nothing to update. */
function fingerprintOf(spec: TlsSpec): string {
  const h = crypto.createHash('sha256');
  for (const c of spec.common.certificates) {
    h.update(c.certificateChain.text).update('\0').update(c.privateKey.text).update('\0').update(c.password?.text ?? '').update('\0');
  }
  const v = spec.common.validation;
  if (v !== null) h.update(v.trustedCa?.text ?? '').update('\0').update(v.crl?.text ?? '');
  return h.digest('hex');
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export class CertificateWatcher {
  readonly stats: CertificateWatcherStats = { reloads: 0, failures: 0, unchanged: 0, watchErrors: 0 };
  private readonly entries = new Map<string, Entry>();
  /** Directory -> ids of the specs with a file there. */
  private readonly idsByDir = new Map<string, Set<string>>();
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly dirty = new Set<string>();
  private readonly debounceMs: number;
  private readonly retryMs: number;
  private readonly maxRetries: number;
  private readonly options: CertificateWatcherOptions;
  private debounceTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(specs: readonly TlsSpec[], options: CertificateWatcherOptions) {
    this.options = options;
    this.debounceMs = options.debounceMs ?? 100;
    this.retryMs = options.retryMs ?? 1000;
    this.maxRetries = options.maxRetries ?? 5;
    for (const spec of specs) {
      this.entries.set(spec.id, { spec, fingerprint: fingerprintOf(spec), retries: 0 });
      const { files, directories } = filesOfTlsSpec(spec);
      const dirs = new Set(directories.map((d) => path.resolve(d)));
      for (const f of files) {
        const dir = path.dirname(path.resolve(f));
        dirs.add(dir);
        // A file under a symlinked directory (/secret/..data/tls.crt): the swap happens one level up.
        if (isSymlink(dir)) dirs.add(path.dirname(dir));
      }
      for (const d of dirs) {
        let ids = this.idsByDir.get(d);
        if (ids === undefined) this.idsByDir.set(d, (ids = new Set()));
        ids.add(spec.id);
      }
    }
  }

  /** Starts watching; also checks every spec once, so a change since it was compiled is not missed. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const dir of this.idsByDir.keys()) this.watchDir(dir);
    for (const id of this.entries.keys()) this.dirty.add(id);
    this.schedule();
  }

  /** Stops watching; no callback runs after this returns. */
  stop(): void {
    this.running = false;
    this.stopped = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.debounceTimer = null;
    this.retryTimer = null;
    this.dirty.clear();
  }

  /** The spec in use for `id` (the compiled one, or the last successful reload). */
  current(id: string): TlsSpec | undefined {
    return this.entries.get(id)?.spec;
  }

  /** Every spec in use, in the order given to the constructor (for /certs and the expiry gauge). */
  currentSpecs(): TlsSpec[] {
    return [...this.entries.values()].map((e) => e.spec);
  }

  /** Re-reads every spec now (synchronously), as if all their files had changed; callbacks run before it returns. */
  checkNow(): void {
    for (const id of this.entries.keys()) this.dirty.add(id);
    this.flush();
  }

  private watchDir(dir: string): void {
    if (this.watchers.has(dir)) return;
    try {
      const w = fs.watch(dir, { persistent: false }, () => this.onEvent(dir));
      w.on('error', (err) => {
        this.stats.watchErrors++;
        log.warn(`tls: watching ${dir} failed: ${err.message}; retrying on the next reload`);
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
    } catch (err) {
      this.stats.watchErrors++;
      log.warn(`tls: cannot watch ${dir}: ${(err as Error).message}`);
    }
  }

  private onEvent(dir: string): void {
    if (!this.running) return;
    const ids = this.idsByDir.get(dir);
    if (ids === undefined) return;
    for (const id of ids) {
      this.dirty.add(id);
      const e = this.entries.get(id);
      if (e !== undefined) e.retries = 0;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.flush();
    }, this.debounceMs);
    this.debounceTimer.unref();
  }

  private flush(): void {
    // Re-arm watches that failed (a watched directory that was replaced, say).
    if (this.running) for (const dir of this.idsByDir.keys()) this.watchDir(dir);
    const ids = [...this.dirty];
    this.dirty.clear();
    let retry = false;
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry === undefined) continue;
      if (this.reload(id, entry)) continue;
      entry.retries++;
      if (entry.retries <= this.maxRetries) retry = true;
    }
    if (retry && this.running) this.scheduleRetry(ids);
  }

  /** False when the reload failed. Never throws. */
  private reload(id: string, entry: Entry): boolean {
    let result: ReturnType<typeof reloadTlsSpec>;
    try {
      result = reloadTlsSpec(entry.spec);
    } catch (err) {
      result = { spec: null, problems: [{ code: 'io', path: id, message: `reload failed: ${(err as Error).message}` }] };
    }
    if (result.spec === null) {
      this.stats.failures++;
      log.error(`tls: ${id}: certificate reload failed, keeping the current certificates: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
      this.notify(() => this.options.onFailure?.(id, result.problems));
      return false;
    }
    entry.retries = 0;
    const fingerprint = fingerprintOf(result.spec);
    if (fingerprint === entry.fingerprint) {
      this.stats.unchanged++;
      return true;
    }
    entry.spec = result.spec;
    entry.fingerprint = fingerprint;
    this.stats.reloads++;
    log.info(`tls: ${id}: certificates reloaded`);
    const spec = result.spec;
    this.notify(() => this.options.onUpdate(spec));
    return true;
  }

  private scheduleRetry(ids: readonly string[]): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.running) return;
      for (const id of ids) {
        const e = this.entries.get(id);
        if (e !== undefined && e.retries > 0 && e.retries <= this.maxRetries) this.dirty.add(id);
      }
      this.flush();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private notify(fn: () => void): void {
    if (this.stopped) return;
    try {
      fn();
    } catch (err) {
      log.error(`tls: bug: certificate watcher callback threw: ${(err as Error).stack ?? String(err)}`);
    }
  }
}
