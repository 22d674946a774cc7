// Primary thread. Certificate rotation without a reload: watches the files behind every TLS context of the
// current config version (CertificateWatcher: file changes, Kubernetes `..data` symlink swaps, watched_directory)
// and sends each re-read, checked spec to every worker as a tls_update; workers swap the key material of the
// matching contexts so new connections get the new certificate. A file that does not load keeps the old one.
// Also the source of /certs and server.days_until_first_cert_expiring (the specs in use, rotations included).

import { log } from '../common/logger.ts';
import type { PrimaryToWorker } from '../messages/thread-messages.ts';
import type { Snapshot } from '../snapshot/snapshot-types.ts';
import { CertificateWatcher } from '../tls/cert-watcher.ts';
import type { TlsSpec } from '../tls/tls-spec.ts';

/** Every TLS context of a config version: listeners' filter chains (the default chain last), then clusters. */
export function tlsSpecsOf(snapshot: Snapshot): TlsSpec[] {
  const out: TlsSpec[] = [];
  for (const l of snapshot.listeners) {
    for (const c of l.filterChains) if (c.transportSocket !== null) out.push(c.transportSocket);
    if (l.defaultFilterChain !== null && l.defaultFilterChain.transportSocket !== null) out.push(l.defaultFilterChain.transportSocket);
  }
  for (const c of snapshot.clusters) if (c.transportSocket !== null) out.push(c.transportSocket);
  return out;
}

export class CertificateRotation {
  private readonly broadcast: (m: PrimaryToWorker) => void;
  private watcher: CertificateWatcher | null;
  private version: number;
  private specs: TlsSpec[];
  /** Specs rotated since the snapshot was sent, by id: replayed to a replacement worker after the snapshot. */
  private readonly rotated: Map<string, TlsSpec>;

  constructor(broadcast: (m: PrimaryToWorker) => void) {
    this.broadcast = broadcast;
    this.watcher = null;
    this.version = 0;
    this.specs = [];
    this.rotated = new Map();
  }

  /** A new config version is about to go out: the old version's files are no longer watched. */
  stop(): void {
    this.watcher?.stop();
    this.watcher = null;
    this.rotated.clear();
  }

  /** Call right after the snapshot of this version was sent to the workers (updates must come after it). */
  start(snapshot: Snapshot): void {
    this.stop();
    this.version = snapshot.version;
    this.specs = tlsSpecsOf(snapshot);
    if (this.specs.length === 0) return;
    const version = snapshot.version;
    const watcher = new CertificateWatcher(this.specs, {
      onUpdate: (spec) => {
        this.rotated.set(spec.id, spec);
        this.broadcast({ type: 'tls_update', version, spec });
      },
    });
    this.watcher = watcher;
    watcher.start();
    log.debug(`tls: watching the files of ${this.specs.length} TLS context(s) of config version ${version}`);
  }

  /** For a fresh worker, after its snapshot: the rotations it would otherwise miss. */
  replay(): PrimaryToWorker[] {
    const out: PrimaryToWorker[] = [];
    for (const spec of this.rotated.values()) out.push({ type: 'tls_update', version: this.version, spec });
    return out;
  }

  /** The specs in use (rotated ones as rotated), in config order. */
  currentSpecs(): TlsSpec[] {
    const w = this.watcher;
    return w === null ? this.specs : w.currentSpecs();
  }
}
