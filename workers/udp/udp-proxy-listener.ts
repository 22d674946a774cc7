// Worker thread. A UDP listener with the udp_proxy listener filter in this worker: a node:dgram socket bound with
// SO_REUSEPORT (every worker binds the same address; the kernel hashes a client's 4-tuple to one socket, so a
// session stays on the worker that got its first datagram) and the sessions by client (address, port).

import dgram from 'node:dgram';
import { log } from '../../src/common/logger.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import type { UdpListenerConfig } from '../../src/snapshot/udp-listener-config.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import type { WorkerClusterManager } from '../upstream/cluster-manager.ts';
import { UdpProxyRuntime } from './udp-proxy-runtime.ts';
import { UdpSession } from './udp-session.ts';

export class UdpProxyListener {
  config: UdpListenerConfig;
  private runtime: UdpProxyRuntime;
  private readonly socket: dgram.Socket;
  private readonly stats: WorkerStatsStore;
  private readonly clusters: WorkerClusterManager;
  private readonly sessions = new Map<string, UdpSession>();
  private readonly onSessionClosed = (s: UdpSession): void => {
    if (this.sessions.get(s.key) === s) this.sessions.delete(s.key);
  };

  constructor(config: UdpListenerConfig, stats: WorkerStatsStore, clusters: WorkerClusterManager) {
    this.config = config;
    this.stats = stats;
    this.clusters = clusters;
    this.socket = dgram.createSocket({ type: config.family === 6 ? 'udp6' : 'udp4', reusePort: true });
    this.runtime = new UdpProxyRuntime(config.proxy, clusters, stats, this.socket);
    this.socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      try {
        this.onDatagram(msg, rinfo);
      } catch (err) {
        // A bug: the datagram is dropped (counted as an rx error), the listener goes on.
        reportInternalError(`udp_proxy '${this.config.proxy.statPrefix}'`, err);
        this.stats.values[this.runtime.slots.downstream_sess_rx_errors]++;
      }
    });
    this.socket.on('error', (err) => {
      log.warn(`udp listener '${this.config.name}': ${err.message}`);
      this.stats.values[this.runtime.slots.downstream_sess_rx_errors]++;
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ port: this.config.port, address: this.config.address }, () => {
        this.socket.off('error', onError);
        resolve();
      });
    });
  }

  /** A new config version: sessions that start from now on take it; those in flight keep theirs. */
  update(config: UdpListenerConfig): void {
    this.config = config;
    this.runtime = new UdpProxyRuntime(config.proxy, this.clusters, this.stats, this.socket);
  }

  /** Ends every session and closes the socket. */
  close(): void {
    for (const s of [...this.sessions.values()]) s.close();
    this.socket.close();
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const rt = this.runtime;
    const values = this.stats.values;
    if (msg.length > this.config.downstreamMaxRxDatagramSize) {
      values[this.config.slots!.downstream_rx_datagram_dropped]++;
      return;
    }
    values[rt.slots.downstream_sess_rx_datagrams]++;
    values[rt.slots.downstream_sess_rx_bytes] += msg.length;
    const key = `${rinfo.address} ${rinfo.port}`;
    const session = this.sessions.get(key);
    if (session !== undefined) {
      const s = session.runtime;
      if (s.config.perPacketLoadBalancing) {
        const host = s.chooseHost(session.cluster, rinfo.address);
        if (host === null) values[session.cluster.slots.upstream_cx_none_healthy]++;
        else session.send(msg, host);
        return;
      }
      const host = session.host;
      if (host.healthy) {
        session.send(msg, host);
        return;
      }
      // Its host turned unhealthy: another host, if the balancer picks one, gets a new session.
      const other = s.chooseHost(session.cluster, rinfo.address);
      if (other === null || other === host) {
        session.send(msg, host);
        return;
      }
      session.close();
    }
    const cluster = rt.cluster();
    if (cluster === undefined) {
      values[rt.slots.downstream_sess_no_route]++;
      return;
    }
    // circuit_breakers max_connections bounds the sessions of a cluster (over every worker).
    if (!cluster.breaker.canCreateConnection()) {
      values[cluster.slots.upstream_cx_overflow]++;
      return;
    }
    const host = rt.chooseHost(cluster, rinfo.address);
    if (host === null) {
      values[cluster.slots.upstream_cx_none_healthy]++;
      return;
    }
    const created = new UdpSession(key, rinfo.address, rinfo.port, rt, cluster, host, this.onSessionClosed);
    this.sessions.set(key, created);
    created.send(msg, host);
  }
}
