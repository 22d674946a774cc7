// Worker thread. One bound listener in this worker: its server socket (bound with reusePort, so every worker
// accepts on the same port), its current connection-manager runtime, and its live connections.

import net from 'node:net';
import type { ListenerConfig } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { DownstreamConnection } from '../http/downstream-connection.ts';
import type { HcmRuntime } from '../http/hcm-runtime.ts';

export class ListenerRuntime {
  config: ListenerConfig;
  /** Current connection-manager runtime; new requests use it, streams in flight keep theirs. */
  hcm: HcmRuntime;
  readonly server: net.Server;
  readonly connections: Set<DownstreamConnection>;
  readonly stats: WorkerStatsStore;
  readonly workerSlots: Readonly<Record<string, number>>;
  draining: boolean;
  private onAllClosed: (() => void) | null;

  constructor(config: ListenerConfig, hcm: HcmRuntime, stats: WorkerStatsStore, workerSlots: Readonly<Record<string, number>>) {
    this.config = config;
    this.hcm = hcm;
    this.stats = stats;
    this.workerSlots = workerSlots;
    this.connections = new Set();
    this.draining = false;
    this.onAllClosed = null;
    this.server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onAccept(socket));
  }

  /** Binds the port (reusePort: each worker binds its own socket and the kernel spreads connections). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.config.address, port: this.config.port, reusePort: true, backlog: 1024 }, () => {
        this.server.off('error', onError);
        this.server.on('error', () => {
          // Accept errors (EMFILE) are transient; the server keeps listening.
        });
        resolve();
      });
    });
  }

  update(config: ListenerConfig, hcm: HcmRuntime): void {
    this.config = config;
    this.hcm = hcm;
  }

  private onAccept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const values = this.stats.values;
    const slots = this.config.slots!;
    values[slots.downstream_cx_total]++;
    values[slots.downstream_cx_active]++;
    values[this.workerSlots['downstream_cx_total']!]++;
    values[this.workerSlots['downstream_cx_active']!]++;
    const conn = new DownstreamConnection(socket, this);
    this.connections.add(conn);
  }

  onConnectionClosed(conn: DownstreamConnection): void {
    if (!this.connections.delete(conn)) return;
    const values = this.stats.values;
    const slots = this.config.slots!;
    values[slots.downstream_cx_active]--;
    values[slots.downstream_cx_destroy]++;
    values[this.workerSlots['downstream_cx_active']!]--;
    if (this.connections.size === 0 && this.onAllClosed !== null) {
      const cb = this.onAllClosed;
      this.onAllClosed = null;
      cb();
    }
  }

  /** Stops accepting, asks every connection to finish, resolves when all are closed or after maxMs. */
  drain(maxMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const c of this.connections) c.drain();
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const c of this.connections) c.socket.destroy();
        resolve();
      }, maxMs);
      timer.unref();
      this.onAllClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stops accepting only (drain_listeners); existing connections go on. */
  stopAccepting(): void {
    this.draining = true;
    this.server.close();
  }
}
