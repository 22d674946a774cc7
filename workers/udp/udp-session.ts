// Worker thread. One UDP proxy session: a downstream (address, port) and the upstream UDP socket (node:dgram,
// connected to the chosen host) its datagrams go out of. Datagrams from the host go back to the client through the
// listener's socket. The session ends at its idle timeout (no datagram either way), when the listener closes, or
// when its host turns unhealthy and another one is chosen (the next datagram opens a new session, as Envoy does).
// With use_per_packet_load_balancing every datagram picks a host: the session keeps one socket per host it used.

import dgram from 'node:dgram';
import { reportInternalError } from '../../src/common/internal-error.ts';
import type { CircuitBreaker } from '../../src/upstream/circuit-breaker-shared.ts';
import type { UpstreamHost } from '../upstream/upstream-host.ts';
import type { WorkerCluster } from '../upstream/worker-cluster.ts';
import type { UdpProxyRuntime } from './udp-proxy-runtime.ts';

/** Datagrams held while an upstream socket connects; more are dropped (counted as sess_tx_errors). */
const MAX_PENDING = 64;

/** One connected upstream socket of a session. */
class UpstreamSocket {
  readonly host: UpstreamHost;
  readonly socket: dgram.Socket;
  /** Datagrams sent before the socket connected; null once connected. */
  pending: Buffer[] | null;

  constructor(host: UpstreamHost, socket: dgram.Socket) {
    this.host = host;
    this.socket = socket;
    this.pending = [];
  }
}

export class UdpSession {
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly runtime: UdpProxyRuntime;
  readonly cluster: WorkerCluster;
  private readonly breaker: CircuitBreaker;
  private readonly upstreams: UpstreamSocket[];
  private lastActivityMs: number;
  private idleTimer: NodeJS.Timeout | null;
  closed: boolean;
  private readonly onClose: (s: UdpSession) => void;

  constructor(
    key: string, clientAddress: string, clientPort: number, runtime: UdpProxyRuntime, cluster: WorkerCluster,
    host: UpstreamHost, onClose: (s: UdpSession) => void,
  ) {
    this.key = key;
    this.clientAddress = clientAddress;
    this.clientPort = clientPort;
    this.runtime = runtime;
    this.cluster = cluster;
    this.breaker = cluster.breaker;
    this.upstreams = [];
    this.lastActivityMs = performance.now();
    this.idleTimer = null;
    this.closed = false;
    this.onClose = onClose;
    this.breaker.addConnection();
    const values = runtime.stats.values;
    values[runtime.slots.downstream_sess_total]++;
    values[runtime.slots.downstream_sess_active]++;
    this.open(host);
    const idle = runtime.config.idleTimeoutMs;
    if (idle > 0) this.idleTimer = setTimeout(onIdleTimer, idle, this);
  }

  /** The host of the session (its first, with per-packet load balancing). */
  get host(): UpstreamHost {
    return this.upstreams[0]!.host;
  }

  /** A datagram from the client, to `host` (the session's, or the per-packet pick). */
  send(msg: Buffer, host: UpstreamHost): void {
    this.lastActivityMs = performance.now();
    let up = this.upstreams[0]!;
    if (up.host !== host) {
      let found: UpstreamSocket | null = null;
      for (let i = 1; i < this.upstreams.length; i++) if (this.upstreams[i]!.host === host) found = this.upstreams[i]!;
      up = found ?? this.open(host);
    }
    if (up.pending !== null) {
      if (up.pending.length < MAX_PENDING) up.pending.push(msg);
      else this.runtime.stats.values[this.runtime.clusterSlots.sess_tx_errors]++;
      return;
    }
    this.write(up, msg);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    for (const up of this.upstreams) up.socket.close();
    this.upstreams.length = 0;
    this.breaker.removeConnection();
    this.runtime.stats.values[this.runtime.slots.downstream_sess_active]--;
    this.onClose(this);
  }

  private open(host: UpstreamHost): UpstreamSocket {
    const rt = this.runtime;
    const socket = dgram.createSocket(host.address.includes(':') ? 'udp6' : 'udp4');
    const up = new UpstreamSocket(host, socket);
    this.upstreams.push(up);
    socket.on('message', (msg: Buffer) => {
      try {
        this.onUpstreamDatagram(msg);
      } catch (err) {
        // A bug: the datagram is dropped (counted as an rx error), the session goes on.
        reportInternalError(`udp_proxy '${rt.config.statPrefix}' session`, err);
        rt.stats.values[rt.clusterSlots.sess_rx_errors]++;
      }
    });
    socket.on('error', () => {
      // ICMP errors (port unreachable) surface here on a connected socket.
      if (!this.closed) rt.stats.values[rt.clusterSlots.sess_rx_errors]++;
    });
    socket.connect(host.port, host.address, () => {
      const pending = up.pending;
      up.pending = null;
      if (pending === null || this.closed) return;
      for (let i = 0; i < pending.length; i++) this.write(up, pending[i]!);
    });
    return up;
  }

  private write(up: UpstreamSocket, msg: Buffer): void {
    const rt = this.runtime;
    const values = rt.stats.values;
    values[rt.clusterSlots.sess_tx_datagrams]++;
    values[this.cluster.slots.upstream_cx_tx_bytes_total] += msg.length;
    up.socket.send(msg, (err) => {
      if (err !== null && err !== undefined) values[rt.clusterSlots.sess_tx_errors]++;
    });
  }

  private onUpstreamDatagram(msg: Buffer): void {
    if (this.closed) return;
    const rt = this.runtime;
    const values = rt.stats.values;
    if (msg.length > rt.config.upstreamMaxRxDatagramSize) {
      values[rt.clusterSlots.sess_rx_datagrams_dropped]++;
      return;
    }
    this.lastActivityMs = performance.now();
    values[rt.clusterSlots.sess_rx_datagrams]++;
    values[this.cluster.slots.upstream_cx_rx_bytes_total] += msg.length;
    rt.sendDownstream(msg, this.clientPort, this.clientAddress);
  }

  /** The idle timer fired: end the session, or wait for the rest of the timeout after the last datagram. */
  onIdleTimer(): void {
    this.idleTimer = null;
    if (this.closed) return;
    const idle = this.runtime.config.idleTimeoutMs;
    const left = this.lastActivityMs + idle - performance.now();
    if (left > 1) {
      this.idleTimer = setTimeout(onIdleTimer, left, this);
      return;
    }
    this.runtime.stats.values[this.runtime.slots.idle_timeout]++;
    this.close();
  }
}

function onIdleTimer(s: UdpSession): void {
  s.onIdleTimer();
}
