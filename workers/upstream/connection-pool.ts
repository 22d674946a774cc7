// Worker thread. A per-host pool of raw TCP connections for HTTP/1.1-style use: one request at a time per
// connection, idle connections reused most-recently-used first so the rest age out. The pool knows nothing of
// HTTP: the caller writes and parses; it only hands out sockets, routes their events to whoever uses them now,
// and keeps Envoy's upstream_cx_* stats. Owned by one worker; never touched from another thread.

import type net from 'node:net';
import type tls from 'node:tls';
import type { ClusterSlots } from '../../src/snapshot/snapshot-types.ts';
import type { CLUSTER_TLS_STATS, ScopeSlots, WorkerStatsStore } from '../../src/stats/definitions.ts';
import { tlsFailureReasonOf, tlsTransportFailureReason, type ClientTlsContext } from '../../src/tls/client-tls-context.ts';
import type { UpstreamHost } from './upstream-host.ts';
import { admitWaiter, type PendingAcquire } from './pending-acquire.ts';
import { connectUpstream, resetSocket } from './upstream-socket.ts';
import { readIntoSharedBuffer } from '../../src/common/shared-read-buffer.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import type { Http2Keepalive, Http2Settings } from '../../src/snapshot/snapshot-types.ts';
import { UpstreamProtocol } from '../../src/upstream/cluster-config.ts';
import { CircuitBreaker, circuitBreakerShared } from '../../src/upstream/circuit-breaker-shared.ts';
import { BREAKER_DEFAULTS } from '../../src/upstream/circuit-breakers.ts';
import { countHandshakeDetails } from '../../src/stats/tls-handshake-stats.ts';
import { componentLogger } from '../../src/common/logger.ts';
import { nextConnectionId } from '../listener/connection-ids.ts';

/** Envoy's connection and pool debug lines (guarded by their plain `debug` fields: nothing is built when off). */
const connectionLog = componentLogger('connection');
const poolLog = componentLogger('pool');

/**
 * Why a pool could not provide a connection:
 * - connect_timeout: no connection within the cluster's connect_timeout;
 * - connection_failure: the connection was refused/reset while connecting, or the pool is closed;
 * - overflow: too many requests already waiting (max pending requests);
 * - remote_reset: reserved for a connection reset after connecting but before use (not produced by this pool,
 *   which hands a connection out as soon as it connects);
 * - http1_negotiated: (HTTP/2 pool of an auto_config cluster) ALPN chose http/1.1: use the host's HTTP/1.1 pool.
 */
export type PoolFailureReason = 'connect_timeout' | 'connection_failure' | 'overflow' | 'remote_reset' | 'http1_negotiated';

/** Whoever asked for a connection. Called on the worker thread, at most once, and never after cancel(). */
export interface PoolRequester {
  /**
   * The connection is this requester's until it calls pool.release(conn, reusable). Called synchronously inside
   * acquire() when an idle connection was available, otherwise later from socket events. Set conn.handler here.
   */
  onPoolReady(conn: UpstreamConnection): void;
  /**
   * No connection: the request must fail. Called synchronously inside acquire() for overflow.
   * `transportFailureReason` says why a TLS connection attempt failed (handshake, verification), for
   * %UPSTREAM_TRANSPORT_FAILURE_REASON%; null otherwise.
   */
  onPoolFailure(reason: PoolFailureReason, transportFailureReason?: string | null): void;
  /**
   * An exception escaped onPoolReady or onPoolFailure (a bug): fail the request as after a reset, count it and log
   * it. The pool resets the connection itself. Must not throw.
   */
  onInternalError(err: unknown): void;
}

/** A pending acquire(). */
export interface PoolHandle {
  /** Gives up waiting; neither callback will be called. A no-op once the requester has been answered. */
  cancel(): void;
}

/**
 * Socket events of a connection while it is handed out (between onPoolReady and release). The listeners are bound
 * once per connection and dispatch to the current handler. Do not call release() from onUpstreamClose: the
 * connection is already gone from the pool when it fires (release of a closed connection is a no-op anyway).
 */
export interface UpstreamConnectionHandler {
  onUpstreamData(chunk: Buffer): void;
  /** The peer ended its side (FIN). The socket closes right after (no half-open upstreams). */
  onUpstreamEnd(): void;
  onUpstreamClose(hadError: boolean): void;
  /** The socket's write buffer drained (after a write() that returned false). */
  onUpstreamDrain(): void;
  /**
   * An exception escaped one of the callbacks above (a bug): reset the request using the connection, count it and
   * log it. The pool resets the connection itself afterwards. Must not throw.
   */
  onInternalError(err: unknown): void;
}

/** The cluster-wide part of every pool of one cluster; updated in place when the cluster's config changes. */
export class PoolContext {
  readonly stats: WorkerStatsStore;
  slots: ClusterSlots;
  connectTimeoutMs: number;
  /** 0 = never. */
  idleTimeoutMs: number;
  /** Limits of the private breaker of a pool built without one (unit tests); otherwise `breaker` has them. */
  maxConnections: number;
  maxPendingRequests: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** HTTP/2 pools (http2-pool.ts): the cluster's http2_protocol_options. */
  http2MaxConcurrentStreams: number;
  http2InitialStreamWindowSize: number;
  http2InitialConnectionWindowSize: number;
  /** auto_config: ALPN picks the protocol (HTTP/1.1 connections offer only http/1.1, HTTP/2 ones h2 then http/1.1). */
  autoProtocol: boolean;
  /** http2_protocol_options.connection_keepalive; null = none. */
  http2Keepalive: Http2Keepalive | null;
  /** The cluster's upstream TLS (transport_socket), set by WorkerCluster with its `tls`; null = plaintext. */
  tls: ClientTlsContext | null;
  /** cluster.<name>.ssl.*; set with tls. */
  tlsSlots: ScopeSlots<typeof CLUSTER_TLS_STATS> | null;
  /**
   * The cluster's DEFAULT-priority circuit breaker (over all workers): max_connections when a pool opens a
   * connection, max_pending_requests when a request waits, max_requests when a request gets its connection or
   * stream. The same object for the cluster's life in this worker (WorkerCluster updates its thresholds).
   */
  readonly breaker: CircuitBreaker;

  /** Without `breaker` (pools built alone, as in unit tests): one of its own with the settings' limits. */
  constructor(stats: WorkerStatsStore, slots: ClusterSlots, settings: PoolSettings, breaker: CircuitBreaker | null = null) {
    this.breaker = breaker ?? new CircuitBreaker(circuitBreakerShared, -1, {
      ...BREAKER_DEFAULTS, maxConnections: settings.maxConnections, maxPendingRequests: settings.maxPendingRequests,
    });
    this.stats = stats;
    this.slots = slots;
    this.connectTimeoutMs = 0;
    this.idleTimeoutMs = 0;
    this.maxConnections = 0;
    this.maxPendingRequests = 0;
    this.maxRequestsPerConnection = 0;
    this.http2MaxConcurrentStreams = 0;
    this.http2InitialStreamWindowSize = 0;
    this.http2InitialConnectionWindowSize = 0;
    this.autoProtocol = false;
    this.http2Keepalive = null;
    this.tls = null;
    this.tlsSlots = null;
    this.update(slots, settings);
  }

  update(slots: ClusterSlots, settings: PoolSettings): void {
    this.slots = slots;
    this.connectTimeoutMs = settings.connectTimeoutMs;
    this.idleTimeoutMs = settings.idleTimeoutMs;
    this.maxConnections = settings.maxConnections;
    this.maxPendingRequests = settings.maxPendingRequests;
    this.maxRequestsPerConnection = settings.maxRequestsPerConnection;
    this.http2MaxConcurrentStreams = settings.http2.maxConcurrentStreams;
    this.http2InitialStreamWindowSize = settings.http2.initialStreamWindowSize;
    this.http2InitialConnectionWindowSize = settings.http2.initialConnectionWindowSize;
    this.autoProtocol = settings.upstreamProtocol === UpstreamProtocol.AUTO;
    this.http2Keepalive = settings.http2.keepalive;
  }
}

/** The pool fields of a CompiledCluster. */
export interface PoolSettings {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequestsPerConnection: number;
  readonly http2: Http2Settings;
  /** An UpstreamProtocol (src/upstream/cluster-config.ts). */
  readonly upstreamProtocol: number;
}

const CONNECTING = 0;
const BUSY = 1;
const IDLE = 2;
/** Destroyed by us, waiting for its close event. */
const CLOSING = 3;
const CLOSED = 4;


const HTTP1_ALPN: readonly string[] = Object.freeze(['http/1.1']);

export class UpstreamConnection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly host: UpstreamHost;
  readonly pool: ConnectionPool;
  /** Free slot for the caller's per-connection protocol state (e.g. its response parser). */
  codec: unknown;
  /** Receives socket events while the connection is handed out; null otherwise. */
  handler: UpstreamConnectionHandler | null;
  /** CONNECTING | BUSY | IDLE | CLOSING | CLOSED */
  state: number;
  /** Requests this connection has been handed out for. */
  requestCount: number;
  createdMs: number;
  idleSinceMs: number;
  connectTimer: NodeJS.Timeout | null;
  /** We destroyed it (as opposed to the peer closing it). */
  closedLocally: boolean;
  /** Bytes already added to upstream_cx_rx/tx_bytes_total (counted as they flow, the rest at close). */
  rxCounted: number;
  txCounted: number;
  timedOut: boolean;
  /** A TLS connection (ready on 'secureConnect', not 'connect'). */
  readonly secure: boolean;
  /** TCP is connected (for TLS: the handshake is under way or done). */
  tcpConnected: boolean;
  /** The last socket error, kept for why a connect failed. */
  lastError: Error | null;
  /** Handed out with one unit of the circuit breaker's max_requests, given back when the exchange ends. */
  holdsRequest: boolean;
  /** Reads are views of the worker's shared read buffer, valid only during the read callback. */
  readonly sharedReads: boolean;

  constructor(pool: ConnectionPool, host: UpstreamHost, socket: net.Socket, secure: boolean) {
    // One sequence with the downstream connections, as Envoy's: [C..] in the debug log names one connection.
    this.id = nextConnectionId();
    this.socket = socket;
    this.host = host;
    this.pool = pool;
    this.codec = null;
    this.handler = null;
    this.state = CONNECTING;
    this.requestCount = 0;
    this.createdMs = performance.now();
    this.idleSinceMs = 0;
    this.connectTimer = null;
    this.closedLocally = false;
    this.rxCounted = 0;
    this.txCounted = 0;
    this.timedOut = false;
    this.secure = secure;
    this.tcpConnected = false;
    this.lastError = null;
    this.holdsRequest = false;
    // Bound once per connection, not per request. A TLS connection is ready once its handshake is done and the
    // peer checks passed (connectUpstream's own 'secureConnect' listener runs first and may destroy it). Each is a
    // boundary: an exception resets this connection (and the request on it) only (ConnectionPool.onInternalError).
    socket.on('connect', () => {
      this.tcpConnected = true;
      if (!secure) guarded(pool.onConnect, pool, this);
    });
    if (secure) socket.on('secureConnect', () => guarded(pool.onConnect, pool, this));
    const onRead = (chunk: Buffer): void => {
      try {
        pool.onData(this, chunk);
      } catch (err) {
        pool.onInternalError(this, err);
      }
    };
    // Plain TCP reads go into the worker's shared read buffer (the response parser copies what it keeps: see
    // UpstreamCodec); TLS stays on 'data'.
    this.sharedReads = readIntoSharedBuffer(socket, onRead);
    if (!this.sharedReads) socket.on('data', onRead);
    socket.on('end', () => guarded(pool.onEnd, pool, this));
    socket.on('drain', () => guarded(pool.onDrain, pool, this));
    // 'close' follows with hadError = true.
    socket.on('error', (err: Error) => {
      this.lastError = err;
    });
    socket.on('close', (hadError: boolean) => {
      try {
        pool.onClose(this, hadError);
      } catch (err) {
        pool.onInternalError(this, err);
      }
    });
  }
}

/** net.Socket's count of bytes handed to its handle (not yet including what waits in its write queue). */
interface DispatchedBytes {
  readonly _bytesDispatched: number;
}

/** Runs one of the pool's per-connection event handlers as a boundary. */
function guarded(handler: (conn: UpstreamConnection) => void, pool: ConnectionPool, conn: UpstreamConnection): void {
  try {
    handler.call(pool, conn);
  } catch (err) {
    pool.onInternalError(conn, err);
  }
}

/** A queued acquire(). */
type PendingRequest = PendingAcquire<PoolRequester>;

export class ConnectionPool {
  readonly host: UpstreamHost;
  readonly context: PoolContext;
  /** Idle connections; the most recently used on top, the oldest at idleHead. */
  private readonly idle: UpstreamConnection[];
  private idleHead: number;
  private idleTimer: NodeJS.Timeout | null;
  /** Waiting acquires in arrival order, from pendingHead; cancelled ones are skipped. */
  private readonly pending: PendingRequest[];
  private pendingHead: number;
  /** Live (not cancelled) waiting acquires. */
  private pendingCount: number;
  private handoffScheduled: boolean;
  /** Every connection not yet closed, whatever its state. */
  private readonly connections: Set<UpstreamConnection>;
  private connectingCount: number;
  private busyCount: number;
  private draining: boolean;
  private closed: boolean;
  /** Called once when a draining pool has no connections and no waiters left. */
  onDrained: ((pool: ConnectionPool) => void) | null;

  constructor(host: UpstreamHost, context: PoolContext) {
    this.host = host;
    this.context = context;
    this.idle = [];
    this.idleHead = 0;
    this.idleTimer = null;
    this.pending = [];
    this.pendingHead = 0;
    this.pendingCount = 0;
    this.handoffScheduled = false;
    this.connections = new Set();
    this.connectingCount = 0;
    this.busyCount = 0;
    this.draining = false;
    this.closed = false;
    this.onDrained = null;
  }

  get idleCount(): number {
    return this.idle.length - this.idleHead;
  }
  get busyConnections(): number {
    return this.busyCount;
  }
  get connectingConnections(): number {
    return this.connectingCount;
  }
  get pendingRequests(): number {
    return this.pendingCount;
  }
  get totalConnections(): number {
    return this.connections.size;
  }

  /**
   * Asks for a connection. An idle one is handed over at once (onPoolReady runs before this returns, and the
   * result is null); overflow fails at once (onPoolFailure, null); otherwise the request waits for a new or
   * released connection and the handle can cancel it.
   */
  acquire(requester: PoolRequester): PoolHandle | null {
    if (this.draining) {
      requester.onPoolFailure('connection_failure');
      return null;
    }
    const conn = this.popIdle();
    if (conn !== null) {
      if (!this.takeRequest(conn, requester)) {
        this.pushIdle(conn);
        return null;
      }
      if (poolLog.debug) poolLog.log('debug', `[C${conn.id}] using existing fully connected connection`);
      this.host.activeRequests++;
      this.handOut(conn, requester);
      return null;
    }
    const ctx = this.context;
    const waiter = admitWaiter(this, ctx, this.host, this.pendingCount, requester);
    if (waiter === null) return null;
    this.pending.push(waiter);
    this.pendingCount++;
    const values = ctx.stats.values;
    if (this.connectingCount < this.pendingCount) {
      // Over max_connections (all workers) no connection opens, unless this pool has none at all: its waiters
      // would otherwise wait for connections of other workers' pools (Envoy opens one then too).
      if (ctx.breaker.canCreateConnection() || this.connections.size === 0) this.connect();
      else values[ctx.slots.upstream_cx_overflow]++;
    }
    return waiter;
  }

  /**
   * Gives back a connection handed out by onPoolReady. `reusable`: the exchange ended cleanly and the connection
   * may carry another request; otherwise it is closed. Releasing a connection that already closed is a no-op.
   */
  release(conn: UpstreamConnection, reusable: boolean): void {
    if (conn.state !== BUSY) return;
    conn.handler = null;
    this.busyCount--;
    this.host.activeRequests--;
    this.endRequest(conn);
    const ctx = this.context;
    const socket = conn.socket;
    if (
      !reusable || this.draining || socket.destroyed || !socket.writable ||
      (ctx.maxRequestsPerConnection > 0 && conn.requestCount >= ctx.maxRequestsPerConnection)
    ) {
      conn.state = CLOSING;
      this.destroyLocally(conn);
      return;
    }
    this.pushIdle(conn);
    // Waiters get it on the next tick, not inside the caller's stack (it may be mid-parse of the last response).
    if (this.pendingCount > 0 && !this.handoffScheduled) {
      this.handoffScheduled = true;
      process.nextTick(handOffIdle, this);
    }
  }

  /**
   * Gives back a connection whose exchange was abandoned before both messages ended (the client left or sent a
   * broken body, a local reply, a timeout, a response that came before the request was all sent): it is closed
   * with a TCP RST, never a FIN, so the upstream cannot take a request cut short for a complete one. It never
   * returns to the pool. A no-op once the connection is no longer handed out.
   */
  reset(conn: UpstreamConnection): void {
    if (conn.state !== BUSY) return;
    conn.handler = null;
    this.busyCount--;
    this.host.activeRequests--;
    this.endRequest(conn);
    conn.state = CLOSING;
    conn.closedLocally = true;
    resetSocket(conn.socket);
  }

  /**
   * The host left the cluster: idle connections close now, busy ones when released; waiters still get served.
   * `onDrained` fires when nothing is left.
   */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.closeIdle();
    this.checkDrained();
  }

  /** Closes everything now: waiters fail with connection_failure, busy connections' handlers see a close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.failPending('connection_failure');
    this.closeIdle();
    for (const conn of this.connections) this.destroyLocally(conn);
  }

  // ---- internals (called from socket events and timers) ----

  private connect(): void {
    const ctx = this.context;
    const values = ctx.stats.values;
    const host = this.host;
    if (poolLog.debug) poolLog.log('debug', `creating a new connection (connecting=${this.connectingCount})`);
    const socket = connectUpstream(host, ctx.tls, ctx.autoProtocol ? HTTP1_ALPN : null);
    const conn = new UpstreamConnection(this, host, socket, ctx.tls !== null);
    if (connectionLog.debug) connectionLog.log('debug', `[C${conn.id}] connecting to ${host.addressString}`);
    this.connections.add(conn);
    this.connectingCount++;
    ctx.breaker.addConnection();
    values[ctx.slots.upstream_cx_total]++;
    values[ctx.slots.upstream_cx_http1_total]++;
    values[ctx.slots.upstream_cx_active]++;
    host.counters.cxTotal++;
    host.counters.cxActive++;
    conn.connectTimer = setTimeout(onConnectTimeout, ctx.connectTimeoutMs, conn);
  }

  /** @internal */
  onConnect(conn: UpstreamConnection): void {
    // Destroyed already: a TLS peer refused after its handshake ('close' does the accounting).
    if (conn.state !== CONNECTING || conn.socket.destroyed) return;
    if (connectionLog.debug) connectionLog.log('debug', `[C${conn.id}] connected`);
    this.connectingCount--;
    if (conn.connectTimer !== null) {
      clearTimeout(conn.connectTimer);
      conn.connectTimer = null;
    }
    const ctx = this.context;
    if (conn.secure && ctx.tlsSlots !== null) {
      const values = ctx.stats.values;
      values[ctx.tlsSlots['ssl.handshake']]++;
      countHandshakeDetails(values, ctx.tlsSlots, conn.socket as tls.TLSSocket, true);
      if ((conn.socket as tls.TLSSocket).isSessionReused()) values[ctx.tlsSlots['ssl.session_reused']]++;
    }
    ctx.stats.record(ctx.slots.upstream_cx_connect_ms, performance.now() - conn.createdMs);
    for (;;) {
      const waiter = this.nextWaiter();
      if (waiter !== null && !this.takeRequest(conn, waiter.requester)) {
        this.host.activeRequests--;
        continue;
      }
      if (waiter !== null) {
        if (poolLog.debug) poolLog.log('debug', `[C${conn.id}] attaching to next stream`);
        this.handOut(conn, waiter.requester);
      } else if (this.draining) this.destroyLocally(conn);
      else this.pushIdle(conn);
      return;
    }
  }

  /** @internal */
  onConnectTimeout(conn: UpstreamConnection): void {
    conn.connectTimer = null;
    if (conn.state !== CONNECTING) return;
    conn.timedOut = true;
    const ctx = this.context;
    ctx.stats.values[ctx.slots.upstream_cx_connect_timeout]++;
    this.destroyLocally(conn);
  }

  /** @internal */
  onData(conn: UpstreamConnection, chunk: Buffer): void {
    // upstream_cx_rx/tx_bytes_total as bytes flow: per read, with what was written up to it (not per write call).
    const values = this.context.stats.values;
    const slots = this.context.slots;
    values[slots.upstream_cx_rx_bytes_total] += chunk.length;
    conn.rxCounted += chunk.length;
    // What was handed to the kernel so far (socket.bytesWritten would also count queued bytes, copying the
    // socket's write queue on every call).
    const written = (conn.socket as unknown as DispatchedBytes)._bytesDispatched;
    if (written > conn.txCounted) {
      values[slots.upstream_cx_tx_bytes_total] += written - conn.txCounted;
      conn.txCounted = written;
    }
    const handler = conn.handler;
    if (conn.state === BUSY && handler !== null) {
      handler.onUpstreamData(chunk);
      return;
    }
    // Bytes nobody asked for (e.g. on an idle connection): the connection cannot be trusted any more.
    this.destroyAsRemote(conn);
  }

  /** @internal */
  onEnd(conn: UpstreamConnection): void {
    const handler = conn.handler;
    if (conn.state === BUSY && handler !== null) handler.onUpstreamEnd();
    else this.destroyAsRemote(conn);
  }

  /** @internal */
  onDrain(conn: UpstreamConnection): void {
    const handler = conn.handler;
    if (conn.state === BUSY && handler !== null) handler.onUpstreamDrain();
  }

  /** @internal */
  onClose(conn: UpstreamConnection, hadError: boolean): void {
    const previous = conn.state;
    if (previous === CLOSED) return;
    conn.state = CLOSED;
    if (connectionLog.debug) {
      if (!conn.closedLocally) connectionLog.log('debug', `[C${conn.id}] remote close`);
      connectionLog.log('debug', `[C${conn.id}] closing socket: ${conn.closedLocally ? 1 : 0}`);
    }
    this.connections.delete(conn);
    if (conn.connectTimer !== null) {
      clearTimeout(conn.connectTimer);
      conn.connectTimer = null;
    }
    const ctx = this.context;
    const values = ctx.stats.values;
    const slots = ctx.slots;
    ctx.breaker.removeConnection();
    values[slots.upstream_cx_destroy]++;
    values[conn.closedLocally ? slots.upstream_cx_destroy_local : slots.upstream_cx_destroy_remote]++;
    values[slots.upstream_cx_active]--;
    this.host.counters.cxActive--;
    // What the reads and writes did not count yet.
    const read = conn.socket.bytesRead - conn.rxCounted;
    const written = conn.socket.bytesWritten - conn.txCounted;
    if (read > 0) values[slots.upstream_cx_rx_bytes_total] += read;
    if (written > 0) values[slots.upstream_cx_tx_bytes_total] += written;
    ctx.stats.record(slots.upstream_cx_length_ms, performance.now() - conn.createdMs);

    if (previous === CONNECTING) {
      this.connectingCount--;
      if (!conn.closedLocally || conn.timedOut) {
        values[slots.upstream_cx_connect_fail]++;
        this.host.counters.cxConnectFail++;
        // A TLS handshake that failed or a peer refused after it: ssl.<reason>, and why, for the access log.
        let transportFailure: string | null = null;
        if (conn.secure && conn.tcpConnected && !conn.timedOut && conn.lastError !== null) {
          if (ctx.tlsSlots !== null) values[ctx.tlsSlots[`ssl.${tlsFailureReasonOf(conn.lastError)}`]]++;
          transportFailure = tlsTransportFailureReason(conn.lastError);
        }
        // As Envoy: a failed connect fails every waiter, so callers decide (retry, 503) instead of waiting on
        // an upstream that is not answering.
        this.failPending(conn.timedOut ? 'connect_timeout' : 'connection_failure', transportFailure);
      }
    } else if (previous === BUSY) {
      this.busyCount--;
      this.host.activeRequests--;
      this.endRequest(conn);
      const handler = conn.handler;
      conn.handler = null;
      if (handler !== null) {
        try {
          handler.onUpstreamClose(hadError);
        } catch (err) {
          // The request's bug: it is reset; the pool's bookkeeping below still runs.
          handlerFailed(handler, err, this);
        }
      }
    } else if (previous === IDLE) {
      this.removeIdle(conn);
    }
    this.connectForWaiters();
    this.checkDrained();
  }

  /** @internal */
  onCancel(): void {
    this.pendingCount--;
    this.host.activeRequests--;
    const ctx = this.context;
    ctx.breaker.endPending();
    ctx.stats.values[ctx.slots.upstream_rq_pending_active]--;
    this.checkDrained();
  }

  /**
   * @internal An exception escaped the handling of one of this connection's events or timers (a bug): the request
   * using it (if any) is reset and counts it (http.<prefix>.internal_error), otherwise the cluster counts it
   * (internal_error); the connection is reset. Never throws.
   */
  onInternalError(conn: UpstreamConnection, err: unknown): void {
    const handler = conn.state === BUSY ? conn.handler : null;
    if (handler !== null) handlerFailed(handler, err, this);
    else this.countInternalError(err);
    try {
      switch (conn.state) {
        case BUSY:
          this.reset(conn);
          break;
        case IDLE:
          this.removeIdle(conn);
          conn.state = CLOSING;
          conn.closedLocally = true;
          resetSocket(conn.socket);
          break;
        case CONNECTING:
          this.destroyLocally(conn);
          break;
        default:
          if (!conn.socket.destroyed) resetSocket(conn.socket);
      }
    } catch (err2) {
      // The pool's own state is what failed: at least the socket goes.
      this.countInternalError(err2);
      conn.socket.destroy();
    }
  }

  /** @internal A bug outside any request (or in a request's failure handling): counted and logged. */
  countInternalError(err: unknown): void {
    reportInternalError(`connection pool of ${this.host.addressString}`, err);
    const ctx = this.context;
    ctx.stats.values[ctx.slots.internal_error]++;
  }

  /** @internal Idle connections go to waiters (deferred from release()). */
  handOffIdle(): void {
    this.handoffScheduled = false;
    while (this.pendingCount > 0) {
      const conn = this.popIdle();
      if (conn === null) return;
      const requester = this.nextWaiter()!.requester;
      if (!this.takeRequest(conn, requester)) {
        this.host.activeRequests--;
        this.pushIdle(conn);
        continue;
      }
      this.handOut(conn, requester);
    }
  }

  /** @internal Oldest idle connections past the idle timeout close; the timer re-arms for the next one. */
  onIdleTimer(): void {
    this.idleTimer = null;
    const timeoutMs = this.context.idleTimeoutMs;
    if (timeoutMs <= 0) return;
    const now = performance.now();
    const ctx = this.context;
    let remaining = 0;
    while (this.idleHead < this.idle.length) {
      const oldest = this.idle[this.idleHead]!;
      remaining = oldest.idleSinceMs + timeoutMs - now;
      // Timers run on the loop's cached clock: allow a millisecond of skew instead of re-arming for 0 ms.
      if (remaining > 1) break;
      this.idleHead++;
      ctx.stats.values[ctx.slots.upstream_cx_idle_timeout]++;
      oldest.state = CLOSING;
      this.destroyLocally(oldest);
    }
    this.compactIdle();
    if (this.idle.length > 0) this.armIdleTimer(remaining);
  }

  /**
   * max_requests (the circuit breaker, all workers) before `conn` goes to `requester`: false when full, and the
   * requester has had its overflow failure (the caller keeps the connection). Counted as Envoy does, in
   * upstream_rq_pending_overflow.
   */
  private takeRequest(conn: UpstreamConnection, requester: PoolRequester): boolean {
    const ctx = this.context;
    if (ctx.breaker.tryStartRequest()) {
      conn.holdsRequest = true;
      return true;
    }
    ctx.stats.values[ctx.slots.upstream_rq_pending_overflow]++;
    try {
      requester.onPoolFailure('overflow');
    } catch (err) {
      requesterFailed(requester, err, this);
    }
    return false;
  }

  /** The exchange on `conn` is over: its max_requests unit goes back (once). */
  private endRequest(conn: UpstreamConnection): void {
    if (!conn.holdsRequest) return;
    conn.holdsRequest = false;
    this.context.breaker.endRequest();
  }

  private handOut(conn: UpstreamConnection, requester: PoolRequester): void {
    conn.state = BUSY;
    conn.requestCount++;
    this.busyCount++;
    try {
      requester.onPoolReady(conn);
    } catch (err) {
      // A boundary whatever called this (acquire, a connect, a deferred handoff): only this request and this
      // connection are reset.
      requesterFailed(requester, err, this);
      this.reset(conn);
    }
  }

  /** Removes and returns the first live waiter, keeping its count on host.activeRequests. */
  private nextWaiter(): PendingRequest | null {
    const pending = this.pending;
    while (this.pendingHead < pending.length) {
      const waiter = pending[this.pendingHead]!;
      pending[this.pendingHead] = undefined as unknown as PendingRequest;
      this.pendingHead++;
      if (!waiter.waiting) continue;
      waiter.waiting = false;
      this.pendingCount--;
      const ctx = this.context;
      ctx.breaker.endPending();
      ctx.stats.values[ctx.slots.upstream_rq_pending_active]--;
      this.compactPending();
      return waiter;
    }
    this.compactPending();
    return null;
  }

  private compactPending(): void {
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    } else if (this.pendingHead > 64 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private failPending(reason: PoolFailureReason, transportFailure: string | null = null): void {
    if (this.pendingCount === 0) return;
    // Taken out first: a requester that acquires again from its failure callback must not be failed too.
    const failed: PendingRequest[] = [];
    for (let w = this.nextWaiter(); w !== null; w = this.nextWaiter()) {
      this.host.activeRequests--;
      failed.push(w);
    }
    for (let i = 0; i < failed.length; i++) {
      const requester = failed[i]!.requester;
      try {
        requester.onPoolFailure(reason, transportFailure);
      } catch (err) {
        requesterFailed(requester, err, this);
      }
    }
  }

  /** Opens connections while waiters outnumber connections being opened, within max connections. */
  private connectForWaiters(): void {
    if (this.closed) return;
    const breaker = this.context.breaker;
    while (this.connectingCount < this.pendingCount && (breaker.canCreateConnection() || this.connections.size === 0)) this.connect();
  }

  private pushIdle(conn: UpstreamConnection): void {
    conn.state = IDLE;
    conn.idleSinceMs = performance.now();
    this.idle.push(conn);
    if (this.idleTimer === null && this.context.idleTimeoutMs > 0) this.armIdleTimer(this.context.idleTimeoutMs);
  }

  private popIdle(): UpstreamConnection | null {
    while (this.idle.length > this.idleHead) {
      // Most recently used first (the top), so the oldest age out through the idle timeout.
      const conn = this.idle.pop()!;
      if (this.idle.length === this.idleHead) this.compactIdle();
      if (conn.state === IDLE && !conn.socket.destroyed) return conn;
    }
    return null;
  }

  private removeIdle(conn: UpstreamConnection): void {
    const i = this.idle.indexOf(conn, this.idleHead);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.idle.length === this.idleHead) this.compactIdle();
  }

  private compactIdle(): void {
    if (this.idleHead === 0) return;
    this.idle.splice(0, this.idleHead);
    this.idleHead = 0;
    if (this.idle.length === 0) this.clearIdleTimer();
  }

  private closeIdle(): void {
    for (let i = this.idleHead; i < this.idle.length; i++) {
      const conn = this.idle[i]!;
      conn.state = CLOSING;
      this.destroyLocally(conn);
    }
    this.idle.length = 0;
    this.idleHead = 0;
    this.clearIdleTimer();
  }

  private armIdleTimer(ms: number): void {
    this.idleTimer = setTimeout(onIdleTimer, ms, this);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  private destroyLocally(conn: UpstreamConnection): void {
    if (conn.socket.destroyed) return;
    conn.closedLocally = true;
    conn.socket.destroy();
  }

  /** The peer sent bytes or closed while nobody was using the connection. */
  private destroyAsRemote(conn: UpstreamConnection): void {
    if (conn.state === IDLE) this.removeIdle(conn);
    if (conn.state !== BUSY && conn.state !== CONNECTING) conn.state = CLOSING;
    conn.socket.destroy();
  }

  private checkDrained(): void {
    if (!this.draining || this.connections.size > 0 || this.pendingCount > 0) return;
    const cb = this.onDrained;
    this.onDrained = null;
    if (cb !== null) cb(this);
  }
}

function onConnectTimeout(conn: UpstreamConnection): void {
  try {
    conn.pool.onConnectTimeout(conn);
  } catch (err) {
    conn.pool.onInternalError(conn, err);
  }
}

function onIdleTimer(pool: ConnectionPool): void {
  try {
    pool.onIdleTimer();
  } catch (err) {
    pool.countInternalError(err);
  }
}

function handOffIdle(pool: ConnectionPool): void {
  try {
    pool.handOffIdle();
  } catch (err) {
    pool.countInternalError(err);
  }
}

/** A handler's callback threw: it resets its request (and counts it); if that throws too, the cluster counts it. */
function handlerFailed(handler: UpstreamConnectionHandler, err: unknown, pool: ConnectionPool): void {
  try {
    handler.onInternalError(err);
  } catch (err2) {
    pool.countInternalError(err2);
  }
}

function requesterFailed(requester: PoolRequester, err: unknown, pool: ConnectionPool): void {
  try {
    requester.onInternalError(err);
  } catch (err2) {
    pool.countInternalError(err2);
  }
}
