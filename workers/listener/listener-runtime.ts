// Worker thread. One bound listener in this worker: its server socket (bound with reusePort, so every worker
// accepts on the same port), its current filter chains, and its live connections. Each accepted connection is
// matched to a filter chain (Envoy's filter_chain_match, see src/snapshot/filter-chain-matcher.ts) and handed to
// that chain's network filter: an HTTP connection manager connection or a tcp_proxy session.

import net from 'node:net';
import type { ConnectionLimitConfig, ListenerConfig } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import type { ConnectionFacts } from '../../src/snapshot/filter-chain-matcher.ts';
import { StreamInfo } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import { componentLogger, log } from '../../src/common/logger.ts';
import { IdTable } from '../../src/common/id-table.ts';
import { startHttpConnection } from '../http/http-connection-factory.ts';
import { TcpProxySession } from '../tcp/tcp-proxy-session.ts';
import { ServerTlsContext } from '../../src/tls/server-tls-context.ts';
import type { DownstreamTlsSpec, TlsFailureReason } from '../../src/tls/tls-spec.ts';
import type tls from 'node:tls';
import { TlsInspection, type ListenerFilterOwner } from './tls-inspector.ts';
import { networkRbacAllows } from './rbac-network-filter.ts';
import { networkLocalRateLimitAllows } from './network-local-ratelimit.ts';
import { OverloadAction, overloadShared, releaseGlobalConnectionOnClose } from '../../src/overload/overload-shared.ts';
import type { HighMemorySweep } from '../../src/overload/high-memory-streams.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import { countHandshakeDetails } from '../../src/stats/tls-handshake-stats.ts';
import {
  HcmChainSlot, connectionFactsOf, formatAddress, type ConnectionOwner, type FilterChainRuntime, type ListenerChains,
  type ListenerConnection,
} from './filter-chain-runtime.ts';

/** Envoy's conn_handler and connection debug lines (guarded by the plain `debug` field: nothing built when off). */
const connHandlerLog = componentLogger('conn_handler');
const connectionLog = componentLogger('connection');

export class ListenerRuntime implements ConnectionOwner, ListenerFilterOwner {
  config: ListenerConfig;
  /** Current filter chains; new connections are placed with them, live ones keep the chain they were given. */
  chains: ListenerChains;
  /** The listen socket; replaced when stop_accepting_connections clears (the old one was closed). */
  server: net.Server;
  readonly connections: IdTable<ListenerConnection>;
  readonly stats: WorkerStatsStore;
  readonly workerSlots: Readonly<Record<string, number>>;
  draining: boolean;
  /** The port the listen socket is bound to: config.port, or the kernel's choice for port 0 once listening. */
  boundPort: number;
  /** envoy.overload_actions.stop_accepting_connections: the listen socket is closed until the action clears. */
  private overloadPaused = false;
  /** Owners of HTTP connections, by FilterChainConfig.key, carried across reloads. */
  private hcmSlots: Map<string, HcmChainSlot>;
  /** The TLS server context of each chain with a TLS transport socket (this config version's chains). */
  private tlsContexts: Map<FilterChainRuntime, ServerTlsContext>;
  /** Connections still in the listener filters (tls_inspector): not yet counted as downstream_cx_*. */
  private readonly inspections: Set<TlsInspection>;
  private onAllClosed: (() => void) | null;
  private lastAcceptErrorLogMs = -Infinity;
  /** This worker's index (StatsHub puts it in the worker scope); -1 if unknown. */
  private readonly workerIndex: number;

  constructor(config: ListenerConfig, chains: ListenerChains, stats: WorkerStatsStore, workerSlots: Readonly<Record<string, number>>) {
    this.config = config;
    this.chains = chains;
    this.stats = stats;
    this.workerSlots = workerSlots;
    this.workerIndex = workerSlots['worker_index'] ?? -1;
    this.connections = new IdTable<ListenerConnection>();
    this.draining = false;
    this.boundPort = config.port;
    this.hcmSlots = new Map();
    this.tlsContexts = new Map();
    this.inspections = new Set();
    this.onAllClosed = null;
    this.installChains(chains);
    this.server = this.createServer();
  }

  private createServer(): net.Server {
    return net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onAccept(socket));
  }

  /**
   * stop_accepting_connections (Envoy disables the listen socket's events; Node cannot stop accepting on a
   * listening socket, so it is closed and bound again when the action clears: meanwhile this worker's share of
   * new connections goes to no one and is refused by the kernel). Live connections go on.
   */
  setOverloadStopAccepting(stop: boolean): void {
    if (stop === this.overloadPaused || this.draining) return;
    this.overloadPaused = stop;
    if (stop) {
      this.server.close();
      return;
    }
    this.server = this.createServer();
    this.listen().catch((err: Error) => {
      log.error(`listener '${this.config.name}': cannot listen again after overload: ${err.message}`);
    });
  }

  /**
   * Binds the port (reusePort: each worker binds its own socket and the kernel spreads connections). A listener
   * configured with port 0 binds `port` (the one the first worker was given by the kernel, see ListenerManager),
   * or 0 when this worker is the first; boundPort then holds the real port, kept for a rebind after overload.
   */
  listen(port: number = this.boundPort): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.config.address, port, reusePort: true, backlog: 1024 }, () => {
        this.server.off('error', onError);
        this.boundPort = (this.server.address() as net.AddressInfo).port;
        this.server.on('error', this.onAcceptError);
        resolve();
      });
    });
  }

  /**
   * accept() failed. With EMFILE/ENFILE (out of file descriptors) libuv has already accepted and closed every
   * connection pending on the socket (its reserve-descriptor trick), so it does not spin: each refused connection
   * costs one accept and one close, and the listener keeps listening. Counted as downstream_cx_overflow (the
   * connection was refused for a limit); logged at most every 10 s per listener.
   */
  private readonly onAcceptError = (err: NodeJS.ErrnoException): void => {
    this.stats.values[this.config.slots!.downstream_cx_overflow]++;
    const now = performance.now();
    if (now - this.lastAcceptErrorLogMs < 10_000) return;
    this.lastAcceptErrorLogMs = now;
    log.warn(`listener '${this.config.name}': accept failed (${err.code ?? err.message}); refusing connections until descriptors free up`);
  };

  /**
   * A new config version for the same address: the socket stays, new connections use the new chains. As Envoy's
   * listener manager: a listener whose own config changed (identity) is modified and every connection it has drains;
   * otherwise the update is in place, and only connections on chains whose identity is gone drain (HTTP/1.1
   * `connection: close`, HTTP/2 GOAWAY); drained connections still open after drainTimeMs (tcp_proxy sessions are
   * left alone until then) are closed. Connections on unchanged chains stay (HTTP ones take the new connection
   * manager, with its new route table, for their next request).
   */
  update(config: ListenerConfig, chains: ListenerChains, drainTimeMs = 0): void {
    const modified = config.identity !== this.config.identity;
    this.config = config;
    this.chains = chains;
    this.installChains(chains, modified, drainTimeMs);
  }

  private installChains(chains: ListenerChains, drainAll = false, drainTimeMs = 0): void {
    const next = new Map<string, HcmChainSlot>();
    // Handshakes already under way finish on the context they started with; new connections use these.
    const tls = new Map<FilterChainRuntime, ServerTlsContext>();
    for (const chain of chains.all()) {
      const spec = chain.config.transportSocket;
      if (spec !== null) {
        tls.set(chain, new ServerTlsContext(spec, {
          onSecureConnection: (secured) => this.onSecured(secured, chain),
          onTlsFailure: (reason, err) => this.onTlsFailure(chain, reason, err),
        }, { handshakeTimeoutMs: chain.config.transportSocketConnectTimeoutMs }));
      }
    }
    this.tlsContexts = tls;
    const kept = new Set<string>();
    for (const chain of chains.all()) {
      if (chain.tcpProxy !== null) tcpChainIdentity.set(chain.tcpProxy, chain.config.identity);
      if (!drainAll) kept.add(chain.config.identity);
      if (chain.hcm === null) continue;
      const key = chain.config.key;
      const slot = this.hcmSlots.get(key);
      if (slot === undefined || drainAll || slot.identity !== chain.config.identity) {
        next.set(key, new HcmChainSlot(key, chain.hcm, this, chain.config.identity));
      } else {
        slot.hcm = chain.hcm;
        next.set(key, slot);
      }
    }
    // A chain that changed or went away: its HTTP connections finish what they are doing and close (they keep the
    // connection manager they had); what is still open at the drain time closes.
    const drained: ListenerConnection[] = [];
    for (const [key, slot] of this.hcmSlots) {
      if (next.get(key) === slot) continue;
      for (const conn of slot.connections.values()) {
        if (conn.drainOnNextResponse !== undefined) conn.drainOnNextResponse();
        else conn.drain();
        drained.push(conn);
      }
    }
    this.hcmSlots = next;
    const conns = this.connections.values();
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i]!;
      const identity = c instanceof TcpProxySession ? tcpChainIdentity.get(c.runtime) : undefined;
      if (identity !== undefined && !kept.has(identity)) drained.push(c);
    }
    if (drained.length > 0) this.closeAfter(drained, drainTimeMs);
  }

  /** Drained connections (of a modified listener or a changed chain) still open after ms are closed. */
  private closeAfter(conns: ListenerConnection[], ms: number): void {
    const timer = setTimeout(() => {
      for (const c of conns) if (this.connections.get(c.id) === c) c.socket.destroy();
    }, ms);
    timer.unref();
  }

  /**
   * A watched certificate changed (the primary's tls_update): every TLS context of this listener compiled from
   * that spec takes the new key material for its next handshakes. Returns how many contexts took it.
   */
  applyTlsUpdate(spec: DownstreamTlsSpec): number {
    let n = 0;
    for (const ctx of this.tlsContexts.values()) {
      if (ctx.currentSpec.id === spec.id && ctx.update(spec)) n++;
    }
    return n;
  }

  private onAccept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    // Overload manager, before anything is spent on the connection: reject_incoming_connections (a reset, as
    // Envoy), then the global connection limit, which every worker counts in shared memory.
    const overload = overloadShared;
    if (overload.fires(OverloadAction.REJECT_INCOMING_CONNECTIONS)) {
      this.stats.values[this.config.slots!.downstream_cx_overload_reject]++;
      socket.resetAndDestroy();
      return;
    }
    if (!overload.tryAcquireConnection()) {
      this.stats.values[this.config.slots!.downstream_global_cx_overflow]++;
      socket.destroy();
      return;
    }
    socket.on('close', releaseGlobalConnectionOnClose);
    // Listener filters run first; the filter chain is chosen once they are done.
    const tlsConfig = this.config.tls;
    if (tlsConfig.tlsInspector) {
      const inspection = new TlsInspection(socket, connectionFactsOf(socket), tlsConfig, this.stats, this);
      this.inspections.add(inspection);
      if (tlsConfig.slots !== null) this.stats.values[tlsConfig.slots.downstream_pre_cx_active]++;
      inspection.start();
      return;
    }
    this.placeConnection(socket, null);
  }

  onListenerFiltersDone(inspection: TlsInspection): void {
    this.endInspection(inspection);
    if (this.draining) {
      inspection.socket.destroy();
      return;
    }
    this.placeConnection(inspection.socket, inspection.facts);
  }

  onListenerFiltersFailed(inspection: TlsInspection): void {
    this.endInspection(inspection);
  }

  private endInspection(inspection: TlsInspection): void {
    if (!this.inspections.delete(inspection)) return;
    const slots = this.config.tls.slots;
    if (slots !== null) this.stats.values[slots.downstream_pre_cx_active]--;
  }

  /** After the listener filters: the filter chain match, then the chain's transport socket or network filter. */
  private placeConnection(socket: net.Socket, inspected: ConnectionFacts | null): void {
    const chains = this.chains;
    let facts: ConnectionFacts | null = inspected;
    let chain = chains.fixed;
    if (chain === null) {
      facts ??= connectionFactsOf(socket);
      chain = chains.select(facts);
    }
    const values = this.stats.values;
    const slots = this.config.slots!;
    if (chain === null) {
      values[slots.no_filter_chain_match]++;
      if (connHandlerLog.debug) connHandlerLog.log('debug', `closing connection from ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0)}: no matching filter chain found`);
      this.logNoFilterChain(facts!);
      socket.destroy();
      return;
    }
    if (connHandlerLog.debug) connHandlerLog.log('debug', `listener '${this.config.name}': filter chain '${chain.config.name}' for the connection from ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0)}`);
    const limit = chain.config.connectionLimit;
    if (limit !== null && !this.takeConnectionLimit(socket, limit)) return;
    values[slots.downstream_cx_total]++;
    values[slots.downstream_cx_active]++;
    values[this.workerSlots['downstream_cx_total']!]++;
    values[this.workerSlots['downstream_cx_active']!]++;
    this.countListenerWorkerCx(1);
    const tls = this.tlsContexts.get(chain);
    if (tls !== undefined) {
      // The chain's transport socket: the network filter starts once the handshake is done (onSecured).
      tls.accept(socket);
      return;
    }
    const lrl = chain.config.networkLocalRateLimits;
    if (lrl !== null && !networkLocalRateLimitAllows(lrl, this.stats)) return this.closeDenied(socket);
    const rbac = chain.config.networkRbac;
    if (rbac !== null && !networkRbacAllows(rbac, socket, facts, this.stats)) return this.closeDenied(socket);
    let conn: ListenerConnection;
    try {
      conn = this.startOnChain(socket, chain, facts);
    } catch (err) {
      // A bug at a connection boundary: reset this connection only.
      log.error(`listener '${this.config.name}': starting a connection on filter chain '${chain.config.name}' failed: ${(err as Error).stack ?? String(err)}`);
      values[slots.downstream_cx_active]--;
      values[this.workerSlots['downstream_cx_active']!]--;
      this.countListenerWorkerCx(-1);
      socket.destroy();
      return;
    }
    this.connections.set(conn.id, conn);
  }

  /**
   * envoy.filters.network.connection_limit, first of the chain's network filters: takes one of the chain's
   * connections (counted over every worker). Over the limit the connection is counted as limited_connections and
   * closed, after `delay` when set (read paused meanwhile), and false is returned.
   */
  private takeConnectionLimit(socket: net.Socket, limit: ConnectionLimitConfig): boolean {
    const values = this.stats.values;
    const slots = limit.slots!;
    const index = limit.counterIndex;
    if (!overloadShared.tryAcquireAt(index, limit.maxConnections)) {
      values[slots.limited_connections]++;
      if (limit.delayMs > 0) {
        socket.pause();
        setTimeout(destroySocket, limit.delayMs, socket).unref();
      } else {
        socket.destroy();
      }
      return false;
    }
    values[slots.active_connections]++;
    // Per connection on a limited chain only.
    socket.on('close', () => {
      overloadShared.releaseAt(index);
      values[slots.active_connections]--;
    });
    return true;
  }

  /** envoy.filters.network.rbac denied a connection counted as active (the filter counted the deny): it closes. */
  private closeDenied(socket: net.Socket): void {
    const values = this.stats.values;
    values[this.config.slots!.downstream_cx_active]--;
    values[this.workerSlots['downstream_cx_active']!]--;
    this.countListenerWorkerCx(-1);
    values[this.config.slots!.downstream_cx_destroy]++;
    socket.destroy();
  }

  /**
   * Hands an accepted socket to the chain's network filter. Where a chain's transport socket applies: with TLS,
   * `socket` is wrapped here (tls.TLSSocket with the chain's secure context and handshake timeout) and the wrapped
   * socket is what the connection manager or tcp_proxy sees.
   */
  private startOnChain(socket: net.Socket, chain: FilterChainRuntime, facts: ConnectionFacts | null): ListenerConnection {
    if (chain.hcm !== null) {
      const slot = this.hcmSlots.get(chain.config.key)!;
      const conn = startHttpConnection(socket, slot);
      slot.connections.set(conn.id, conn);
      return conn;
    }
    return new TcpProxySession(socket, chain.tcpProxy!, this, facts ?? connectionFactsOf(socket));
  }

  /** listener.<address>.worker_<n>.downstream_cx_{total,active} (ListenerConfig.workerCxSlots): a connection in (1) or out (-1). */
  private countListenerWorkerCx(delta: number): void {
    const ws = this.config.workerCxSlots;
    const i = this.workerIndex;
    if (ws == null || i < 0 || 2 * i + 1 >= ws.length) return;
    const values = this.stats.values;
    if (delta > 0) values[ws[2 * i]!]++;
    values[ws[2 * i + 1]!] += delta;
  }

  private onSecured(socket: tls.TLSSocket, chain: FilterChainRuntime): void {
    const slots = this.config.tls.slots;
    if (slots !== null) {
      const values = this.stats.values;
      values[slots['ssl.handshake']]++;
      countHandshakeDetails(values, slots, socket, false);
      if (socket.getPeerX509Certificate() === undefined) values[slots['ssl.no_certificate']]++;
      if (socket.isSessionReused()) values[slots['ssl.session_reused']]++;
    }
    if (this.draining) {
      this.onTlsFailure(chain, 'connection_error', null);
      socket.destroy();
      return;
    }
    const lrl = chain.config.networkLocalRateLimits;
    if (lrl !== null && !networkLocalRateLimitAllows(lrl, this.stats)) return this.closeDenied(socket);
    const rbac = chain.config.networkRbac;
    if (rbac !== null && !networkRbacAllows(rbac, socket, null, this.stats)) return this.closeDenied(socket);
    try {
      const conn = this.startOnChain(socket, chain, null);
      if (connectionLog.debug) connectionLog.log('debug', `[C${conn.id}] handshake complete: ${socket.getProtocol() ?? ''} ${socket.getCipher().name}${socket.isSessionReused() ? ' (resumed)' : ''}`);
      this.connections.set(conn.id, conn);
    } catch (err) {
      log.error(`listener '${this.config.name}': starting a TLS connection on filter chain '${chain.config.name}' failed: ${(err as Error).stack ?? String(err)}`);
      this.onTlsFailure(chain, 'connection_error', null);
      socket.destroy();
    }
  }

  /**
   * A handshake that failed or was refused (the socket is already destroyed): it was counted as active at accept.
   * Counted as Envoy does: listener.<address>.ssl.<reason>, or downstream_cx_transport_socket_connect_timeout for
   * a handshake still unfinished at transport_socket_connect_timeout.
   */
  private onTlsFailure(chain: FilterChainRuntime, reason: TlsFailureReason, err: Error | null): void {
    const values = this.stats.values;
    values[this.config.slots!.downstream_cx_active]--;
    values[this.workerSlots['downstream_cx_active']!]--;
    this.countListenerWorkerCx(-1);
    values[this.config.slots!.downstream_cx_destroy]++;
    const slots = this.config.tls.slots;
    if (slots !== null) {
      const timedOut = (err as NodeJS.ErrnoException | null)?.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
      values[timedOut ? slots.downstream_cx_transport_socket_connect_timeout : slots[`ssl.${reason}`]]++;
    }
    log.debug(`listener '${this.config.name}' chain '${chain.config.name}': TLS handshake failed (${reason})${err === null ? '' : `: ${err.message}`}`);
  }

  /** Envoy logs a connection no filter chain takes with the listener's access logs: flag NR. */
  private logNoFilterChain(facts: ConnectionFacts): void {
    const logs = this.chains.listenerAccessLogs;
    if (logs.length === 0) return;
    const info = new StreamInfo();
    info.startTimeMs = Date.now();
    info.startMonoMs = performance.now();
    info.lastDownstreamTxMonoMs = info.startMonoMs;
    info.protocol = '';
    info.scheme = '';
    info.responseFlags = ResponseFlag.NoRouteFound;
    info.responseCodeDetails = 'filter_chain_not_found';
    info.downstreamRemoteAddress = formatAddress(facts.remoteIp, facts.remotePort);
    info.downstreamDirectRemoteAddress = info.downstreamRemoteAddress;
    info.downstreamLocalAddress = formatAddress(facts.localIp, facts.localPort);
    for (let i = 0; i < logs.length; i++) logs[i]!.log(info);
  }

  onConnectionClosed(conn: ListenerConnection): void {
    if (!this.connections.delete(conn.id)) return;
    const values = this.stats.values;
    const slots = this.config.slots!;
    values[slots.downstream_cx_active]--;
    values[slots.downstream_cx_destroy]++;
    values[this.workerSlots['downstream_cx_active']!]--;
    this.countListenerWorkerCx(-1);
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
    this.abortInspections();
    for (const c of this.connections.values()) c.drain();
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const c of this.connections.values()) c.socket.destroy();
        resolve();
      }, maxMs);
      timer.unref();
      this.onAllClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** reset_high_memory_stream: every HTTP stream of this listener's connections, with what it holds. */
  offerHighMemoryStreams(sweep: HighMemorySweep<ActiveStream>): void {
    const conns = this.connections.values();
    for (let i = 0; i < conns.length; i++) conns[i]!.offerHighMemoryStreams?.(sweep);
  }

  /**
   * drain_listeners?graceful: every connection of this listener is asked to finish (HTTP/1.1 `connection: close`
   * on the response in flight, or closed when idle; HTTP/2 GOAWAY); the listener keeps accepting.
   */
  drainConnections(): void {
    // drain_type MODIFY_ONLY: only a modification or removal of the listener drains its connections.
    if (this.config.drainType === 'MODIFY_ONLY') return;
    for (const c of this.connections.values()) c.drain();
  }

  /** Stops accepting only (drain_listeners); existing connections go on. */
  stopAccepting(): void {
    this.draining = true;
    this.server.close();
    this.abortInspections();
  }

  /** Connections still in the listener filters were never placed on a chain: they close. */
  private abortInspections(): void {
    for (const i of [...this.inspections]) i.abort();
  }
}

/** The FilterChainConfig.identity of each tcp_proxy chain's runtime, for sessions started on older versions. */
const tcpChainIdentity = new WeakMap<object, string>();

function destroySocket(socket: net.Socket): void {
  socket.destroy();
}
