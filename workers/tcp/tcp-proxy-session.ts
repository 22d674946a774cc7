// Worker thread. One downstream connection served by envoy.filters.network.tcp_proxy: picks a cluster and a host,
// opens a fresh upstream connection (retrying up to max_connect_attempts), then copies bytes both ways with
// backpressure until both sides are closed. Follows Envoy's TcpProxy::Filter:
// - the downstream is not read until the upstream is connected;
// - a FIN from one side is forwarded as a FIN (half-close); the session ends when both connections are closed;
// - when one side closes, the other gets what is still buffered for it and is then closed (FlushWrite); an
//   upstream still flushing after the downstream went away counts upstream_flush_total (not after a reset: below);
// - connect failures and timeouts set UF and retry on a newly chosen host; running out of attempts sets URX
//   (Envoy logs "UF,URX" for a refused upstream with the default single attempt); no host UH, no cluster NC;
// - idle_timeout (no bytes either way, counted from the upstream connect) closes both without flushing;
// - a connection reset (RST) on one side is passed on as a RST to the other, not as a FIN (Envoy's
//   propagate_downstream_rst_to_upstream and its upstream counterpart), so a peer never takes a stream the other
//   side aborted for one that ended;
// - an exception in any handler (a bug) resets both connections of this session only (tcp.<prefix>.internal_error).
// No per-chunk allocation: handlers are bound once per session, counters are plain slot writes.

import net from 'node:net';
import { StreamInfo } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import type { ConnectionFacts } from '../../src/snapshot/filter-chain-matcher.ts';
import type { WorkerCluster } from '../upstream/worker-cluster.ts';
import { connectUpstream, resetSocket } from '../upstream/upstream-socket.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import type { UpstreamHost } from '../upstream/upstream-host.ts';
import type { TcpProxyRuntime } from './tcp-proxy-runtime.ts';
import { connectionHash } from './connection-hash.ts';
import { formatAddress, type ConnectionOwner, type ListenerConnection } from '../listener/filter-chain-runtime.ts';
import { nextConnectionId } from '../listener/connection-ids.ts';
import { restoresOriginalDst } from '../upstream/original-dst-hosts.ts';
import type { CircuitBreaker } from '../../src/upstream/circuit-breaker-shared.ts';

// Upstream connection states.
const NO_UPSTREAM = 0;
const CONNECTING = 1;
const CONNECTED = 2;
const UPSTREAM_CLOSED = 3;


export class TcpProxySession implements ListenerConnection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly runtime: TcpProxyRuntime;
  readonly info: StreamInfo;
  private readonly owner: ConnectionOwner;
  private cluster: WorkerCluster | null;
  private host: UpstreamHost | null;
  private upstream: net.Socket | null;
  /** The cluster's circuit breaker charged with the upstream connection (given back when it closes); null: none. */
  private upstreamBreaker: CircuitBreaker | null;
  private upstreamState: number;
  private upstreamClosedLocally: boolean;
  private connectTimedOut: boolean;
  private connectError: string;
  private connectAttempts: number;
  /** The client's IP (after PROXY protocol), for a source_ip hash_policy. */
  private readonly remoteIp: string;
  private connectStartMs: number;
  private connectedAtMs: number;
  private connectTimer: NodeJS.Timeout | null;
  private idleTimer: NodeJS.Timeout | null;
  /** max_downstream_connection_duration, from the downstream connection's start. */
  private durationTimer: NodeJS.Timeout | null;
  private lastActivityMs: number;
  private downstreamClosed: boolean;
  /** The client sent its FIN (forwarded, or to forward once the upstream is connected). */
  private downstreamEnded: boolean;
  private downstreamReadPaused: boolean;
  private upstreamReadPaused: boolean;
  /** The upstream is writing out what the downstream sent before closing (upstream_flush_active). */
  private flushing: boolean;
  private finished: boolean;
  /** The client reset its connection (ECONNRESET): the upstream is reset too. */
  private downstreamReset: boolean;
  /** The upstream reset its connection after connecting: the client is reset too. */
  private upstreamReset: boolean;
  private readonly onUpstreamConnectBound: () => void;
  private readonly onUpstreamDataBound: (chunk: Buffer) => void;
  private readonly onUpstreamEndBound: () => void;
  private readonly onUpstreamDrainBound: () => void;
  private readonly onUpstreamErrorBound: (err: NodeJS.ErrnoException) => void;
  private readonly onUpstreamCloseBound: () => void;

  constructor(socket: net.Socket, runtime: TcpProxyRuntime, owner: ConnectionOwner, facts: ConnectionFacts) {
    this.id = nextConnectionId();
    this.socket = socket;
    this.runtime = runtime;
    this.owner = owner;
    this.cluster = null;
    this.host = null;
    this.upstream = null;
    this.upstreamBreaker = null;
    this.upstreamState = NO_UPSTREAM;
    this.upstreamClosedLocally = false;
    this.connectTimedOut = false;
    this.connectError = '';
    this.connectAttempts = 0;
    this.remoteIp = facts.remoteIp;
    this.connectStartMs = 0;
    this.connectedAtMs = 0;
    this.connectTimer = null;
    this.idleTimer = null;
    const maxDurationMs = runtime.config.maxDownstreamConnectionDurationMs;
    this.durationTimer = maxDurationMs > 0 ? setTimeout(onMaxDuration, maxDurationMs, this) : null;
    this.lastActivityMs = 0;
    this.downstreamClosed = false;
    this.downstreamEnded = false;
    this.downstreamReadPaused = false;
    this.upstreamReadPaused = false;
    this.flushing = false;
    this.finished = false;
    this.downstreamReset = false;
    this.upstreamReset = false;
    // Every listener and timer callback is a boundary: an exception resets this session only (onInternalError).
    this.onUpstreamConnectBound = () => {
      try {
        this.onUpstreamConnect();
      } catch (err) {
        this.onInternalError(err);
      }
    };
    this.onUpstreamDataBound = (chunk: Buffer) => {
      try {
        this.onUpstreamData(chunk);
      } catch (err) {
        this.onInternalError(err);
      }
    };
    this.onUpstreamEndBound = () => {
      try {
        this.onUpstreamEnd();
      } catch (err) {
        this.onInternalError(err);
      }
    };
    this.onUpstreamDrainBound = () => {
      try {
        this.onUpstreamDrain();
      } catch (err) {
        this.onInternalError(err);
      }
    };
    this.onUpstreamErrorBound = this.onUpstreamError.bind(this);
    this.onUpstreamCloseBound = () => {
      try {
        this.onUpstreamClose();
      } catch (err) {
        this.onInternalError(err);
        this.forceFinish();
      }
    };

    const info = new StreamInfo();
    info.startTimeMs = Date.now();
    info.startMonoMs = performance.now();
    info.protocol = ''; // Envoy prints %PROTOCOL% as "-" for TCP
    info.scheme = '';
    info.connectionId = this.id;
    info.downstreamRemoteAddress = formatAddress(facts.remoteIp, facts.remotePort);
    info.downstreamDirectRemoteAddress = formatAddress(facts.directRemoteIp, facts.remotePort);
    info.downstreamLocalAddress = formatAddress(facts.localIp, facts.localPort);
    this.info = info;

    runtime.stats.values[runtime.slots.downstream_cx_total]++;
    // Half-close: a FIN from the client must not end our side too (the upstream may still answer).
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    // Not read until there is an upstream to write to (paused before 'data' is attached, so it stays paused).
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      try {
        this.onDownstreamData(chunk);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    socket.on('end', () => {
      try {
        this.onDownstreamEnd();
      } catch (err) {
        this.onInternalError(err);
      }
    });
    socket.on('drain', () => {
      try {
        this.onDownstreamDrain();
      } catch (err) {
        this.onInternalError(err);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // 'close' follows.
      if (err.code === 'ECONNRESET') this.downstreamReset = true;
    });
    socket.on('close', () => {
      try {
        this.onDownstreamClose();
      } catch (err) {
        this.onInternalError(err);
        this.forceFinish();
      }
    });
    try {
      this.connect();
    } catch (err) {
      this.onInternalError(err);
    }
  }

  /** Listener drain: Envoy does not end TCP sessions early; the listener closes what is left at its deadline. */
  drain(): void {}

  // ---- upstream connection ----

  private connect(): void {
    const rt = this.runtime;
    const info = this.info;
    const values = rt.stats.values;
    const name = rt.pickCluster();
    const routeCluster = rt.clusters.get(name);
    // envoy.clusters.aggregate: the member cluster by failover priority (none able to serve: the aggregate itself).
    const cluster = routeCluster === undefined || routeCluster.aggregate === null ? routeCluster : (routeCluster.aggregate.choose() ?? routeCluster);
    if (cluster === undefined) {
      values[rt.slots.downstream_cx_no_route]++;
      info.responseFlags |= ResponseFlag.NoClusterFound;
      this.socket.destroy();
      return;
    }
    this.cluster = cluster;
    info.upstreamCluster = name;
    // circuit_breakers max_connections (DEFAULT priority, all workers): over it the client's connection is closed,
    // flagged UO, as Envoy's tcp_proxy does.
    if (!cluster.breaker.canCreateConnection()) {
      values[cluster.slots.upstream_cx_overflow]++;
      info.responseFlags |= ResponseFlag.UpstreamOverflow;
      this.socket.destroy();
      return;
    }
    if (this.connectAttempts >= rt.config.maxConnectAttempts) {
      info.responseFlags |= ResponseFlag.UpstreamRetryLimitExceeded;
      values[cluster.slots.upstream_cx_connect_attempts_exceeded]++;
      this.socket.destroy();
      return;
    }
    const policy = rt.config.hashPolicy;
    // ORIGINAL_DST: the connection's (restored) local address; else the load balancer, hashing when asked.
    const host = cluster.originalDst !== null
      ? cluster.originalDst.hostForConnection(this.info.downstreamLocalAddress, restoresOriginalDst(rt.listener))
      : policy !== null && cluster.hashing
        ? cluster.chooseHost(connectionHash(policy, this.remoteIp, this.info), this.connectAttempts)
        : cluster.chooseHost();
    if (host === null) {
      values[cluster.slots.upstream_cx_none_healthy]++;
      info.responseFlags |= ResponseFlag.NoHealthyUpstream;
      this.socket.destroy();
      return;
    }
    this.connectAttempts++;
    info.upstreamAttemptCount = this.connectAttempts;
    this.host = host;
    info.upstreamHost = host.addressString;
    info.upstreamLocalAddress = null;
    // A TLS cluster (transport_socket) gets its TLS; half-close is then TLS's (close_notify ends both ways).
    const tlsContext = cluster.tls;
    const up = tlsContext === null
      ? net.connect({ host: host.address, port: host.port, noDelay: true, allowHalfOpen: true })
      : connectUpstream(host, tlsContext, null);
    this.upstream = up;
    cluster.breaker.addConnection();
    this.upstreamBreaker = cluster.breaker;
    this.upstreamState = CONNECTING;
    this.upstreamClosedLocally = false;
    this.connectTimedOut = false;
    this.connectError = '';
    this.connectStartMs = performance.now();
    const slots = cluster.slots;
    values[slots.upstream_cx_total]++;
    values[slots.upstream_cx_active]++;
    host.counters.cxTotal++;
    host.counters.cxActive++;
    this.connectTimer = setTimeout(onConnectTimeout, cluster.config.connectTimeoutMs, this);
    up.on(tlsContext === null ? 'connect' : 'secureConnect', this.onUpstreamConnectBound);
    up.on('data', this.onUpstreamDataBound);
    up.on('end', this.onUpstreamEndBound);
    up.on('drain', this.onUpstreamDrainBound);
    up.on('error', this.onUpstreamErrorBound);
    up.on('close', this.onUpstreamCloseBound);
  }

  private onUpstreamConnect(): void {
    const up = this.upstream!;
    if (up.destroyed) return; // a TLS peer refused by the cluster's validation ('close' follows)
    this.clearConnectTimer();
    this.upstreamState = CONNECTED;
    const now = performance.now();
    this.connectedAtMs = now;
    const cluster = this.cluster!;
    this.runtime.stats.record(cluster.slots.upstream_cx_connect_ms, now - this.connectStartMs);
    this.info.upstreamLocalAddress = formatAddress(up.localAddress ?? '', up.localPort ?? 0);
    this.lastActivityMs = now;
    const idleMs = this.runtime.config.idleTimeoutMs;
    if (idleMs > 0) this.idleTimer = setTimeout(onIdleTimer, idleMs, this);
    if (this.downstreamEnded) up.end();
    if (!this.downstreamReadPaused) this.socket.resume();
  }

  /** @internal */
  onConnectTimeout(): void {
    this.connectTimer = null;
    if (this.upstreamState !== CONNECTING) return;
    const cluster = this.cluster!;
    this.runtime.stats.values[cluster.slots.upstream_cx_connect_timeout]++;
    this.connectTimedOut = true;
    this.upstreamClosedLocally = true;
    this.upstream!.destroy();
  }

  private onUpstreamError(err: NodeJS.ErrnoException): void {
    // 'close' follows; keep why, for %UPSTREAM_TRANSPORT_FAILURE_REASON%.
    if (this.upstreamState === CONNECTING) this.connectError = err.code ?? err.message;
    else if (err.code === 'ECONNRESET') this.upstreamReset = true;
  }

  private onUpstreamClose(): void {
    const breaker = this.upstreamBreaker;
    if (breaker !== null) {
      this.upstreamBreaker = null;
      breaker.removeConnection();
    }
    const previous = this.upstreamState;
    const cluster = this.cluster!;
    const host = this.host!;
    const values = this.runtime.stats.values;
    const slots = cluster.slots;
    this.clearConnectTimer();
    values[slots.upstream_cx_destroy]++;
    values[this.upstreamClosedLocally ? slots.upstream_cx_destroy_local : slots.upstream_cx_destroy_remote]++;
    values[slots.upstream_cx_active]--;
    host.counters.cxActive--;
    this.upstreamState = UPSTREAM_CLOSED;
    if (previous === CONNECTING) {
      if (this.downstreamClosed && !this.connectTimedOut) {
        // The client left while we were connecting: nothing failed upstream.
        this.maybeFinish();
        return;
      }
      values[slots.upstream_cx_connect_fail]++;
      host.counters.cxConnectFail++;
      this.info.responseFlags |= ResponseFlag.UpstreamConnectionFailure;
      this.info.upstreamTransportFailureReason = this.connectTimedOut ? 'connect_timeout' : this.connectError || 'connection_failure';
      this.upstream = null;
      this.upstreamState = NO_UPSTREAM;
      if (this.downstreamClosed) this.maybeFinish();
      else this.connect();
      return;
    }
    this.runtime.stats.record(slots.upstream_cx_length_ms, performance.now() - this.connectedAtMs);
    if (this.flushing) {
      this.flushing = false;
      values[this.runtime.slots.upstream_flush_active]--;
    }
    if (!this.downstreamClosed) {
      // The upstream's RST goes on as a RST (what is buffered for the client is dropped, as Envoy's AbortReset);
      // otherwise FlushWrite: the client gets what is still buffered for it, then the connection closes.
      if (this.upstreamReset) resetSocket(this.socket);
      else closeAfterFlush(this.socket);
    }
    this.maybeFinish();
  }

  // ---- bytes ----

  private onDownstreamData(chunk: Buffer): void {
    const n = chunk.length;
    const rt = this.runtime;
    const values = rt.stats.values;
    this.info.bytesReceived += n;
    values[rt.slots.downstream_cx_rx_bytes_total] += n;
    this.lastActivityMs = performance.now();
    const up = this.upstream;
    // Reads only run while connected; bytes after the upstream closed have nowhere to go.
    if (up === null || this.upstreamState !== CONNECTED) return;
    values[this.cluster!.slots.upstream_cx_tx_bytes_total] += n;
    if (!up.write(chunk) && up.writableLength >= this.cluster!.config.perConnectionBufferLimitBytes && !this.downstreamReadPaused) {
      // The upstream takes less than the client sends: stop reading the client until the upstream drains.
      this.downstreamReadPaused = true;
      this.socket.pause();
      values[rt.slots.downstream_flow_control_paused_reading_total]++;
    }
  }

  private onUpstreamDrain(): void {
    if (!this.downstreamReadPaused) return;
    this.downstreamReadPaused = false;
    this.runtime.stats.values[this.runtime.slots.downstream_flow_control_resumed_reading_total]++;
    if (!this.downstreamClosed) this.socket.resume();
  }

  private onUpstreamData(chunk: Buffer): void {
    const n = chunk.length;
    const rt = this.runtime;
    const values = rt.stats.values;
    const cluster = this.cluster!;
    values[cluster.slots.upstream_cx_rx_bytes_total] += n;
    this.lastActivityMs = performance.now();
    if (this.downstreamClosed) {
      // As Envoy's drainer: the upstream answers a client that is gone; stop flushing and close it.
      this.upstreamClosedLocally = true;
      this.upstream!.destroy();
      return;
    }
    this.info.bytesSent += n;
    values[rt.slots.downstream_cx_tx_bytes_total] += n;
    const socket = this.socket;
    if (!socket.write(chunk) && socket.writableLength >= rt.listener.perConnectionBufferLimitBytes && !this.upstreamReadPaused) {
      this.upstreamReadPaused = true;
      this.upstream!.pause();
      values[cluster.slots.upstream_flow_control_paused_reading_total]++;
    }
  }

  private onDownstreamDrain(): void {
    if (!this.upstreamReadPaused) return;
    this.upstreamReadPaused = false;
    this.runtime.stats.values[this.cluster!.slots.upstream_flow_control_resumed_reading_total]++;
    if (this.upstreamState === CONNECTED) this.upstream!.resume();
  }

  // ---- half-close and close ----

  private onDownstreamEnd(): void {
    this.downstreamEnded = true;
    const up = this.upstream;
    if (up !== null && this.upstreamState === CONNECTED && !up.writableEnded) up.end();
  }

  private onUpstreamEnd(): void {
    if (!this.downstreamClosed && !this.socket.writableEnded) this.socket.end();
  }

  private onDownstreamClose(): void {
    this.downstreamClosed = true;
    const up = this.upstream;
    if (up !== null) {
      if (this.upstreamState === CONNECTING) {
        this.upstreamClosedLocally = true;
        up.destroy();
      } else if (this.upstreamState === CONNECTED && this.downstreamReset) {
        // The client's RST goes on as a RST: the upstream must not take an aborted stream for a finished one.
        this.upstreamClosedLocally = true;
        resetSocket(up);
      } else if (this.upstreamState === CONNECTED) {
        if (up.writableLength > 0) {
          const rt = this.runtime;
          this.flushing = true;
          rt.stats.values[rt.slots.upstream_flush_total]++;
          rt.stats.values[rt.slots.upstream_flush_active]++;
        }
        if (!up.writableFinished) this.upstreamClosedLocally = true;
        closeAfterFlush(up);
      }
    }
    this.maybeFinish();
  }

  /** @internal */
  onIdleTimer(): void {
    this.idleTimer = null;
    if (this.finished) return;
    const idleMs = this.runtime.config.idleTimeoutMs;
    const idleFor = performance.now() - this.lastActivityMs;
    if (idleFor < idleMs) {
      // Bytes moved since the timer was set: wait for the rest of the period (one timer, not one per chunk).
      this.idleTimer = setTimeout(onIdleTimer, idleMs - idleFor, this);
      return;
    }
    const rt = this.runtime;
    rt.stats.values[rt.slots.idle_timeout]++;
    // NoFlush: both sides close now.
    const up = this.upstream;
    if (up !== null && this.upstreamState !== UPSTREAM_CLOSED) {
      this.upstreamClosedLocally = true;
      up.destroy();
    }
    this.socket.destroy();
  }

  /** @internal max_downstream_connection_duration reached: both sides close now (Envoy's NoFlush). */
  onMaxDuration(): void {
    this.durationTimer = null;
    if (this.finished) return;
    const rt = this.runtime;
    rt.stats.values[rt.slots.max_downstream_connection_duration]++;
    const up = this.upstream;
    if (up !== null && this.upstreamState !== UPSTREAM_CLOSED) {
      this.upstreamClosedLocally = true;
      up.destroy();
    }
    this.socket.destroy();
  }

  private maybeFinish(): void {
    if (this.finished || !this.downstreamClosed) return;
    if (this.upstreamState === CONNECTING || this.upstreamState === CONNECTED) return;
    this.finished = true;
    this.clearConnectTimer();
    if (this.durationTimer !== null) {
      clearTimeout(this.durationTimer);
      this.durationTimer = null;
    }
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const info = this.info;
    info.lastDownstreamTxMonoMs = performance.now();
    const logs = this.runtime.accessLogs;
    for (let i = 0; i < logs.length; i++) logs[i]!.log(info);
    this.owner.onConnectionClosed(this);
  }

  /**
   * An exception reached one of this session's boundaries (a bug): counted, its stack logged once, and both
   * connections reset; their 'close' events end the session as usual. Never throws.
   */
  onInternalError(err: unknown): void {
    reportInternalError(`tcp_proxy session ${this.id}`, err);
    try {
      const rt = this.runtime;
      rt.stats.values[rt.slots.internal_error]++;
      const up = this.upstream;
      if (up !== null && !up.destroyed) {
        this.upstreamClosedLocally = true;
        resetSocket(up);
      }
      resetSocket(this.socket);
    } catch (err2) {
      reportInternalError(`tcp_proxy session ${this.id}`, err2);
      this.socket.destroy();
      if (this.upstream !== null) this.upstream.destroy();
    }
  }

  /** A close handler failed part of the way: the listener must still let go of this session. Never throws. */
  private forceFinish(): void {
    if (this.finished || !this.socket.destroyed) return;
    if (this.upstream !== null && !this.upstream.destroyed) return;
    this.finished = true;
    this.clearConnectTimer();
    this.durationTimer = cancel(this.durationTimer);
    this.idleTimer = cancel(this.idleTimer);
    try {
      this.owner.onConnectionClosed(this);
    } catch (err) {
      reportInternalError(`tcp_proxy session ${this.id} close`, err);
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }
}

function onConnectTimeout(session: TcpProxySession): void {
  try {
    session.onConnectTimeout();
  } catch (err) {
    session.onInternalError(err);
  }
}

function onIdleTimer(session: TcpProxySession): void {
  try {
    session.onIdleTimer();
  } catch (err) {
    session.onInternalError(err);
  }
}

function onMaxDuration(session: TcpProxySession): void {
  try {
    session.onMaxDuration();
  } catch (err) {
    session.onInternalError(err);
  }
}

function cancel(timer: NodeJS.Timeout | null): null {
  if (timer !== null) clearTimeout(timer);
  return null;
}

function destroyOnFinish(this: net.Socket): void {
  this.destroy();
}

/** Sends what is buffered and a FIN, then closes the socket completely (whatever its peer still sends is dropped). */
function closeAfterFlush(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (!socket.writableEnded) socket.end();
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', destroyOnFinish);
}
