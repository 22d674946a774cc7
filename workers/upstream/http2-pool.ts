// Worker thread. A per-host pool of HTTP/2 connections (Legate's client codec, workers/http2/client-codec.ts) for a cluster whose upstream
// protocol is HTTP/2: streams are multiplexed over few connections, up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS
// (and the cluster's own http2 max_concurrent_streams); another connection opens when all are full, up to the
// cluster's max connections. A GOAWAY drains its connection (no new streams; streams the peer did not take are
// refused, and the router retries them on another connection). Owned by one worker.

import type net from 'node:net';
import { Http2ClientCodec, type Http2ClientConnectionCallbacks, type Http2ClientStream } from '../http2/client-codec.ts';
import { connectUpstream } from './upstream-socket.ts';
import { admitWaiter, type PendingAcquire } from './pending-acquire.ts';
import { Http2KeepaliveTimer } from '../http2/keepalive.ts';
import type { UpstreamHost } from './upstream-host.ts';
import type { PoolContext, PoolFailureReason, PoolHandle } from './connection-pool.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';

/** Whoever asked for a stream. Called at most once, and never after cancel(). */
export interface Http2StreamRequester {
  /**
   * A connection with room for one more stream: open it now with conn.codec.request() (the pool releases the slot
   * when that stream closes); if request() returns null, give the slot back with pool.release(conn).
   */
  onHttp2Ready(conn: Http2PoolConnection): void;
  onPoolFailure(reason: PoolFailureReason): void;
  /** An exception escaped onHttp2Ready or onPoolFailure (a bug): fail the request, count it, log it. Must not throw. */
  onInternalError(err: unknown): void;
}

const CONNECTING = 0;
const READY = 1;
/** GOAWAY received or sent: no new streams. */
const DRAINING = 2;
const CLOSED = 3;

/** Response head limits of upstream HTTP/2 (Envoy's defaults: max_response_headers_kb 60, max_headers_count 100). */
const MAX_RESPONSE_HEADER_LIST_BYTES = 60 * 1024;
const MAX_RESPONSE_HEADERS = 100;
/** Request bytes buffered per connection above which a stream's writeData says "full" (Envoy's default 1 MiB). */
const CONNECTION_BUFFER_LIMIT_BYTES = 1024 * 1024;

/** One connection of the pool; it hears its codec's connection events (no closures per connection or stream). */
export class Http2PoolConnection implements Http2ClientConnectionCallbacks {
  readonly pool: Http2Pool;
  readonly codec: Http2ClientCodec;
  state: number;
  activeStreams: number;
  /** Streams ever opened on it (max_requests_per_connection). */
  streamsOpened: number;
  connectTimer: NodeJS.Timeout | null;
  idleTimer: NodeJS.Timeout | null;
  keepalive: Http2KeepaliveTimer | null;
  readonly createdMonoMs: number;
  /** The connection's socket and what of its bytes upstream_cx_rx/tx_bytes_total already has. */
  readonly socket: net.Socket;
  rxCounted: number;
  txCounted: number;

  constructor(pool: Http2Pool, socket: net.Socket, createdMonoMs: number) {
    const ctx = pool.context;
    this.pool = pool;
    this.codec = new Http2ClientCodec(socket, {
      initialStreamWindowSize: ctx.http2InitialStreamWindowSize,
      initialConnectionWindowSize: ctx.http2InitialConnectionWindowSize,
      maxConcurrentStreams: ctx.http2MaxConcurrentStreams,
      maxHeaderListBytes: MAX_RESPONSE_HEADER_LIST_BYTES,
      maxHeaders: MAX_RESPONSE_HEADERS,
      bufferLimitBytes: CONNECTION_BUFFER_LIMIT_BYTES,
    }, this);
    this.codec.user = this;
    this.state = CONNECTING;
    this.activeStreams = 0;
    this.streamsOpened = 0;
    this.connectTimer = null;
    this.idleTimer = null;
    this.keepalive = null;
    this.createdMonoMs = createdMonoMs;
    this.socket = socket;
    this.rxCounted = 0;
    this.txCounted = 0;
  }

  /** Streams this connection may still open: the peer's limit and the cluster's, less those open (and handed out). */
  capacity(localMax: number): number {
    const codec = this.codec;
    const remote = codec.peerMaxConcurrentStreams;
    if (codec.goawayReceived || codec.closed) return 0;
    return Math.min(remote, localMax) - this.activeStreams;
  }

  // ---- Http2ClientConnectionCallbacks: each a boundary (an exception ends this connection only) ----

  onRemoteSettings(): void {
    try {
      if (this.state === CONNECTING) this.pool.onConnected(this);
      else if (this.state === READY) this.pool.servePending(this);
    } catch (err) {
      this.pool.onSessionError(this, err);
    }
  }

  onGoaway(): void {
    try {
      this.pool.onGoaway(this);
    } catch (err) {
      this.pool.onSessionError(this, err);
    }
  }

  onStreamClose(_codec: Http2ClientCodec, _stream: Http2ClientStream): void {
    try {
      this.pool.release(this);
    } catch (err) {
      this.pool.onSessionError(this, err);
    }
  }

  onConnectionError(): void {
    const ctx = this.pool.context;
    ctx.stats.values[ctx.slots.upstream_cx_protocol_error]++;
  }

  count(_stat: string): void {
    // The requesters count http2.rx_reset / tx_reset themselves (as with node:http2); the cluster has no other http2.* slots.
  }

  onClose(): void {
    try {
      this.pool.onClosed(this);
    } catch (err) {
      this.pool.countInternalError(err);
    }
  }

  onStreamInternalError(_stream: Http2ClientStream, err: unknown): void {
    this.pool.countInternalError(err);
  }

  onInternalError(_codec: Http2ClientCodec, err: unknown): void {
    this.pool.countInternalError(err);
  }
}

type PendingStream = PendingAcquire<Http2StreamRequester>;

export class Http2Pool {
  readonly host: UpstreamHost;
  readonly context: PoolContext;
  private readonly connections: Set<Http2PoolConnection>;
  private pending: PendingStream[];
  private pendingCount: number;
  private draining: boolean;
  /** auto_config: TLS connections still negotiating ALPN (no session yet); they count as connecting. */
  private readonly probes: Set<net.Socket>;

  constructor(host: UpstreamHost, context: PoolContext) {
    this.host = host;
    this.context = context;
    this.connections = new Set();
    this.pending = [];
    this.pendingCount = 0;
    this.draining = false;
    this.probes = new Set();
  }

  get totalConnections(): number {
    return this.connections.size;
  }

  /** A stream slot: handed over at once when a ready connection has room (null returned), else queued. */
  acquire(requester: Http2StreamRequester): PoolHandle | null {
    if (this.draining) {
      requester.onPoolFailure('connection_failure');
      return null;
    }
    const ctx = this.context;
    const conn = this.readyConnection();
    if (conn !== null) {
      this.hand(conn, requester);
      return null;
    }
    const waiter = admitWaiter(this, ctx, this.host, this.pendingCount, requester);
    if (waiter === null) return null;
    this.pending.push(waiter);
    this.pendingCount++;
    const values = ctx.stats.values;
    // A connection still connecting will take up to its expected capacity; open another beyond that.
    let connectingRoom = this.probes.size * Math.min(100, ctx.http2MaxConcurrentStreams);
    for (const c of this.connections) if (c.state === CONNECTING) connectingRoom += c.capacity(ctx.http2MaxConcurrentStreams);
    if (connectingRoom < this.pendingCount) {
      // max_connections over all workers; a pool with no connection at all opens one anyway (as Envoy's).
      if (ctx.breaker.canCreateConnection() || this.connections.size + this.probes.size === 0) this.connect();
      else values[ctx.slots.upstream_cx_overflow]++;
    }
    return waiter;
  }

  /** The stream opened on `conn` ended (whatever way). */
  release(conn: Http2PoolConnection): void {
    conn.activeStreams--;
    this.countBytes(conn);
    this.host.activeRequests--;
    this.context.breaker.endRequest();
    if (conn.state === DRAINING && conn.activeStreams === 0) {
      this.closeConnection(conn);
      return;
    }
    if (conn.state === READY) {
      this.servePending(conn);
      if (conn.activeStreams === 0) this.armIdle(conn);
    }
  }

  /** The host left the cluster: no new streams; connections close once their streams end. */
  drain(): void {
    this.draining = true;
    for (const conn of this.connections) {
      if (conn.activeStreams === 0) this.closeConnection(conn);
      else conn.state = DRAINING;
    }
  }

  close(): void {
    this.draining = true;
    for (const socket of this.probes) {
      this.context.breaker.removeConnection();
      socket.destroy();
    }
    this.probes.clear();
    this.failPending('connection_failure');
    for (const conn of this.connections) conn.codec.destroy();
  }

  /** @internal */
  onCancel(): void {
    this.pendingCount--;
    this.host.activeRequests--;
    this.context.breaker.endPending();
    this.context.stats.values[this.context.slots.upstream_rq_pending_active]--;
  }

  private readyConnection(): Http2PoolConnection | null {
    const max = this.context.http2MaxConcurrentStreams;
    for (const conn of this.connections) {
      if (conn.state === READY && conn.capacity(max) > 0) return conn;
    }
    return null;
  }

  /**
   * A stream of `conn` for `requester`, within max_requests (the circuit breaker, all workers; given back by
   * release()); over it the requester fails with overflow (upstream_rq_pending_overflow, as Envoy counts it).
   */
  private hand(conn: Http2PoolConnection, requester: Http2StreamRequester): void {
    const ctx0 = this.context;
    if (!ctx0.breaker.tryStartRequest()) {
      ctx0.stats.values[ctx0.slots.upstream_rq_pending_overflow]++;
      try {
        requester.onPoolFailure('overflow');
      } catch (err) {
        this.requesterFailed(requester, err);
      }
      return;
    }
    conn.activeStreams++;
    conn.streamsOpened++;
    // max_requests_per_connection counts streams on HTTP/2: the last one allowed drains the connection.
    const max = this.context.maxRequestsPerConnection;
    if (max > 0 && conn.streamsOpened >= max && conn.state === READY) conn.state = DRAINING;
    this.host.activeRequests++;
    if (conn.idleTimer !== null) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = null;
    }
    try {
      requester.onHttp2Ready(conn);
    } catch (err) {
      // Only this request fails (a stream it opened is cancelled by its reset and released on close).
      this.requesterFailed(requester, err);
    }
  }

  private requesterFailed(requester: Http2StreamRequester, err: unknown): void {
    try {
      requester.onInternalError(err);
    } catch (err2) {
      this.countInternalError(err2);
    }
  }

  /** @internal A bug in the pool's own handling of a connection (not a request's): counted and logged. */
  countInternalError(err: unknown): void {
    reportInternalError(`HTTP/2 connection pool of ${this.host.addressString}`, err);
    const ctx = this.context;
    ctx.stats.values[ctx.slots.internal_error]++;
  }

  /** @internal An exception escaped one of a session's event handlers: counted, and that session is destroyed. */
  onSessionError(conn: Http2PoolConnection, err: unknown): void {
    this.countInternalError(err);
    try {
      conn.codec.destroy();
    } catch (err2) {
      reportInternalError(`HTTP/2 connection pool of ${this.host.addressString}`, err2);
    }
  }

  /** @internal */
  servePending(conn: Http2PoolConnection): void {
    const max = this.context.http2MaxConcurrentStreams;
    while (this.pendingCount > 0 && conn.state === READY && conn.capacity(max) > 0) {
      const waiter = this.pending.shift()!;
      if (!waiter.waiting) continue;
      waiter.waiting = false;
      this.pendingCount--;
      this.host.activeRequests--;
      this.context.breaker.endPending();
      this.context.stats.values[this.context.slots.upstream_rq_pending_active]--;
      this.hand(conn, waiter.requester);
    }
    if (this.pendingCount === 0) this.pending = [];
  }

  private connect(): void {
    const ctx = this.context;
    if (ctx.autoProtocol) return this.probe();
    // The cluster's TLS with ALPN h2, or plaintext (h2c prior knowledge).
    this.openSession(connectUpstream(this.host, ctx.tls, H2_ALPN), performance.now());
  }

  /**
   * auto_config: a TLS connection offering h2 then http/1.1. h2 → it becomes an HTTP/2 session; http/1.1 → the
   * host is marked and the waiting requests go to its HTTP/1.1 pool (this connection closes: one handshake per
   * host and worker is the cost of learning it).
   */
  private probe(): void {
    const ctx = this.context;
    const host = this.host;
    const startedMs = performance.now();
    const socket = connectUpstream(host, ctx.tls, AUTO_ALPN);
    this.probes.add(socket);
    ctx.breaker.addConnection();
    const timer = setTimeout(() => {
      if (!this.probes.delete(socket)) return;
      ctx.breaker.removeConnection();
      ctx.stats.values[ctx.slots.upstream_cx_connect_timeout]++;
      ctx.stats.values[ctx.slots.upstream_cx_connect_fail]++;
      host.counters.cxConnectFail++;
      socket.destroy();
      if (!this.anyConnecting()) this.failPending('connect_timeout');
    }, ctx.connectTimeoutMs);
    socket.on('error', ignoreError);
    socket.once('secureConnect', () => {
      if (socket.destroyed || !this.probes.delete(socket)) return;
      ctx.breaker.removeConnection();
      clearTimeout(timer);
      if ((socket as unknown as { alpnProtocol?: string | false }).alpnProtocol === 'h2') {
        try {
          this.openSession(socket, startedMs);
        } catch (err) {
          this.countInternalError(err);
          socket.destroy();
        }
        return;
      }
      host.negotiatedHttp1 = true;
      socket.destroy();
      this.failPending('http1_negotiated');
    });
    socket.once('close', () => {
      if (!this.probes.delete(socket)) return;
      ctx.breaker.removeConnection();
      clearTimeout(timer);
      ctx.stats.values[ctx.slots.upstream_cx_connect_fail]++;
      host.counters.cxConnectFail++;
      if (!this.anyConnecting()) this.failPending('connection_failure');
    });
  }

  private openSession(socket: net.Socket, startedMs: number): void {
    const ctx = this.context;
    const values = ctx.stats.values;
    const host = this.host;
    const conn = new Http2PoolConnection(this, socket, startedMs);
    this.connections.add(conn);
    ctx.breaker.addConnection();
    values[ctx.slots.upstream_cx_total]++;
    values[ctx.slots.upstream_cx_http2_total]++;
    values[ctx.slots.upstream_cx_active]++;
    host.counters.cxTotal++;
    host.counters.cxActive++;
    conn.connectTimer = setTimeout(onConnectTimeout, Math.max(1, ctx.connectTimeoutMs - (performance.now() - startedMs)), conn);
    // The connection is up when the peer's SETTINGS arrive (its preface: it speaks HTTP/2).
    conn.codec.start();
  }

  /** @internal The peer's first SETTINGS. */
  onConnected(conn: Http2PoolConnection): void {
    if (conn.state !== CONNECTING) return;
    if (conn.connectTimer !== null) clearTimeout(conn.connectTimer);
    conn.connectTimer = null;
    conn.state = this.draining ? DRAINING : READY;
    const ctx = this.context;
    const connectMs = performance.now() - conn.createdMonoMs;
    ctx.stats.record(ctx.slots.upstream_cx_connect_ms, connectMs);
    const keepalive = ctx.http2Keepalive;
    if (keepalive !== null) {
      conn.keepalive = new Http2KeepaliveTimer(conn.codec, keepalive, () => {
        ctx.stats.values[ctx.slots['http2.keepalive_timeout']]++;
        conn.codec.destroy();
      }, (err) => this.onSessionError(conn, err));
    }
    if (conn.state === READY) {
      this.servePending(conn);
      if (conn.activeStreams === 0) this.armIdle(conn);
    }
  }

  /** @internal A connection that did not connect in connect_timeout. */
  onConnectTimeout(conn: Http2PoolConnection): void {
    conn.connectTimer = null;
    if (conn.state !== CONNECTING) return;
    const ctx = this.context;
    ctx.stats.values[ctx.slots.upstream_cx_connect_timeout]++;
    ctx.stats.values[ctx.slots.upstream_cx_connect_fail]++;
    this.host.counters.cxConnectFail++;
    conn.state = CLOSED;
    this.forget(conn);
    conn.codec.destroy();
    if (!this.anyConnecting()) this.failPending('connect_timeout');
  }

  /** @internal */
  onGoaway(conn: Http2PoolConnection): void {
    if (conn.state === CLOSED) return;
    this.context.stats.values[this.context.slots.upstream_cx_close_notify]++;
    conn.state = DRAINING;
    // Waiting requests go to another connection.
    if (this.pendingCount > 0) {
      const ready = this.readyConnection();
      if (ready !== null) this.servePending(ready);
      else if (this.context.breaker.canCreateConnection() && !this.anyConnecting()) this.connect();
    }
  }

  /** @internal */
  onClosed(conn: Http2PoolConnection): void {
    const wasConnecting = conn.state === CONNECTING;
    if (conn.connectTimer !== null) clearTimeout(conn.connectTimer);
    conn.connectTimer = null;
    if (conn.idleTimer !== null) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
    if (conn.keepalive !== null) conn.keepalive.stop();
    if (conn.state !== CLOSED) {
      conn.state = CLOSED;
      if (wasConnecting) {
        const ctx = this.context;
        ctx.stats.values[ctx.slots.upstream_cx_connect_fail]++;
        this.host.counters.cxConnectFail++;
      }
      this.forget(conn);
    }
    if (wasConnecting && !this.anyConnecting()) this.failPending('connection_failure');
    else if (this.pendingCount > 0 && !this.draining && this.readyConnection() === null && !this.anyConnecting()) this.connect();
  }

  /** Gauges and per-host counts for a connection leaving the pool. */
  private forget(conn: Http2PoolConnection): void {
    if (!this.connections.delete(conn)) return;
    const ctx = this.context;
    ctx.breaker.removeConnection();
    const values = ctx.stats.values;
    values[ctx.slots.upstream_cx_active]--;
    values[ctx.slots.upstream_cx_destroy]++;
    this.countBytes(conn);
    this.host.counters.cxActive--;
    ctx.stats.record(ctx.slots.upstream_cx_length_ms, performance.now() - conn.createdMonoMs);
  }

  /** upstream_cx_rx/tx_bytes_total as bytes flow: what the session's socket moved since the last count (per stream end). */
  private countBytes(conn: Http2PoolConnection): void {
    const socket = conn.socket;
    const values = this.context.stats.values;
    const slots = this.context.slots;
    const read = socket.bytesRead - conn.rxCounted;
    const written = socket.bytesWritten - conn.txCounted;
    if (read > 0) {
      values[slots.upstream_cx_rx_bytes_total] += read;
      conn.rxCounted += read;
    }
    if (written > 0) {
      values[slots.upstream_cx_tx_bytes_total] += written;
      conn.txCounted += written;
    }
  }

  private closeConnection(conn: Http2PoolConnection): void {
    if (conn.state === CLOSED) return;
    const values = this.context.stats.values;
    values[this.context.slots.upstream_cx_destroy_local]++;
    conn.state = DRAINING;
    conn.codec.close();
  }

  private armIdle(conn: Http2PoolConnection): void {
    const ms = this.context.idleTimeoutMs;
    if (ms <= 0) return;
    if (conn.idleTimer !== null) conn.idleTimer.refresh();
    else conn.idleTimer = setTimeout(onIdleTimeout, ms, conn);
  }

  /** @internal */
  onIdleTimeout(conn: Http2PoolConnection): void {
    conn.idleTimer = null;
    if (conn.activeStreams > 0 || conn.state !== READY) return;
    this.context.stats.values[this.context.slots.upstream_cx_idle_timeout]++;
    this.closeConnection(conn);
  }

  private anyConnecting(): boolean {
    if (this.probes.size > 0) return true;
    for (const c of this.connections) if (c.state === CONNECTING) return true;
    return false;
  }

  private failPending(reason: PoolFailureReason): void {
    const waiters = this.pending;
    this.pending = [];
    const values = this.context.stats.values;
    for (const w of waiters) {
      if (!w.waiting) continue;
      w.waiting = false;
      this.pendingCount--;
      this.host.activeRequests--;
      this.context.breaker.endPending();
      values[this.context.slots.upstream_rq_pending_active]--;
      values[this.context.slots.upstream_rq_pending_failure_eject]++;
      try {
        w.requester.onPoolFailure(reason);
      } catch (err) {
        this.requesterFailed(w.requester, err);
      }
    }
  }
}

const H2_ALPN: readonly string[] = Object.freeze(['h2']);
const AUTO_ALPN: readonly string[] = Object.freeze(['h2', 'http/1.1']);

function onConnectTimeout(conn: Http2PoolConnection): void {
  try {
    conn.pool.onConnectTimeout(conn);
  } catch (err) {
    conn.pool.onSessionError(conn, err);
  }
}

function onIdleTimeout(conn: Http2PoolConnection): void {
  try {
    conn.pool.onIdleTimeout(conn);
  } catch (err) {
    conn.pool.onSessionError(conn, err);
  }
}

function ignoreError(): void {}
