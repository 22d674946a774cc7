// Primary thread. http.admin.* : the admin's own connection manager stats, as Envoy's admin keeps them under the
// stat prefix "admin" (connections, requests by status class, request time, connection length). Written by the
// admin server's observer hooks (src/admin/admin-server.ts) into the primary's region; the admin is never hot.

import type net from 'node:net';
import type http from 'node:http';
import { HTTP_CONN_MANAGER_STATS, type ScopeSlots, type WorkerStatsStore } from './definitions.ts';
import type { StatRegistry } from './stat-registry.ts';

/** What the admin server tells about its traffic (each hook is called once per connection or request). */
export interface AdminTrafficObserver {
  onConnection(socket: net.Socket): void;
  onRequest(req: http.IncomingMessage, res: http.ServerResponse): void;
}

export class AdminStats implements AdminTrafficObserver {
  private readonly store: WorkerStatsStore;
  private readonly slots: ScopeSlots<typeof HTTP_CONN_MANAGER_STATS>;

  constructor(registry: StatRegistry, store: WorkerStatsStore) {
    this.store = store;
    this.slots = registry.allocateScope('http.admin.', HTTP_CONN_MANAGER_STATS, [['envoy_http_conn_manager_prefix', 'admin']]);
  }

  onConnection(socket: net.Socket): void {
    const v = this.store.values;
    const s = this.slots;
    const startMs = performance.now();
    let remote = false;
    v[s.downstream_cx_total]++;
    v[s.downstream_cx_http1_total]++;
    v[s.downstream_cx_active]++;
    v[s.downstream_cx_http1_active]++;
    socket.once('end', () => {
      remote = true;
    });
    socket.once('close', (hadError: boolean) => {
      v[s.downstream_cx_active]--;
      v[s.downstream_cx_http1_active]--;
      v[s.downstream_cx_destroy]++;
      v[remote || hadError ? s.downstream_cx_destroy_remote : s.downstream_cx_destroy_local]++;
      v[s.downstream_cx_rx_bytes_total] += socket.bytesRead;
      v[s.downstream_cx_tx_bytes_total] += socket.bytesWritten;
      this.store.record(s.downstream_cx_length_ms, performance.now() - startMs);
    });
  }

  onRequest(_req: http.IncomingMessage, res: http.ServerResponse): void {
    const v = this.store.values;
    const s = this.slots;
    const startMs = performance.now();
    v[s.downstream_rq_total]++;
    v[s.downstream_rq_http1_total]++;
    v[s.downstream_rq_active]++;
    let done = false;
    const end = (completed: boolean): void => {
      if (done) return;
      done = true;
      v[s.downstream_rq_active]--;
      if (!completed) {
        v[s.downstream_rq_rx_reset]++;
        return;
      }
      v[s.downstream_rq_completed]++;
      const status = res.statusCode;
      v[status >= 500 ? s.downstream_rq_5xx : status >= 400 ? s.downstream_rq_4xx : status >= 300 ? s.downstream_rq_3xx : status >= 200 ? s.downstream_rq_2xx : s.downstream_rq_1xx]++;
      this.store.record(s.downstream_rq_time, performance.now() - startMs);
    };
    res.once('finish', () => end(true));
    res.once('close', () => end(res.writableFinished));
  }
}
