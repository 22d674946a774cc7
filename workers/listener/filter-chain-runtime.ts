// Worker thread. A listener's filter chains as this worker runs them for one config version: the frozen matcher,
// each chain's terminal network filter built once (connection manager or tcp_proxy), and the listener-level access
// logs. ListenerRuntime asks it which chain an accepted connection belongs to and has that chain serve it.

import type net from 'node:net';
import type { FilterChainConfig, ListenerConfig } from '../../src/snapshot/snapshot-types.ts';
import { buildFilterChainMatcher, isAnyMatch, type ConnectionFacts, type FilterChainMatcher } from '../../src/snapshot/filter-chain-matcher.ts';
import type { AccessLogSink } from '../../src/access-log/sink.ts';
import type { HcmRuntime } from '../http/hcm-runtime.ts';
import type { TcpProxyRuntime } from '../tcp/tcp-proxy-runtime.ts';
import { IdTable } from '../../src/common/id-table.ts';
import type { HighMemorySweep } from '../../src/overload/high-memory-streams.ts';
import type { ActiveStream } from '../http/active-stream.ts';

/** A live connection a listener tracks, whatever network filter serves it. */
export interface ListenerConnection {
  /** The connection id (nextConnectionId()): what the listener tracks it by. */
  readonly id: number;
  readonly socket: net.Socket;
  /** The listener drains: finish what is in flight, then close (a no-op where Envoy does not end early). */
  drain(): void;
  /**
   * A listener update drains it: like drain(), but an idle HTTP/1.1 connection stays open until its next response
   * (which says `connection: close`). Absent: drain().
   */
  drainOnNextResponse?(): void;
  /**
   * reset_high_memory_stream: offers each HTTP stream in flight with the bytes held for it. HTTP connections only
   * (tcp_proxy sessions have no stream, as in Envoy, whose buffer accounts are per HTTP stream).
   */
  offerHighMemoryStreams?(sweep: HighMemorySweep<ActiveStream>): void;
}

/** Who a connection tells when it is gone. */
export interface ConnectionOwner {
  /** Worker thread, once per connection, from its downstream socket's 'close' (or later, once both sides are). */
  onConnectionClosed(conn: ListenerConnection): void;
}

/**
 * What an HTTP connection (workers/http/downstream-connection.ts) sees of the filter chain it was accepted on.
 * Read on the worker thread only.
 */
export interface HcmConnectionOwner {
  /**
   * The chain's current connection manager. Each new request on the connection reads it, so after a reload that
   * keeps the chain (same match) new requests use the new routes; a request in flight keeps the one it started on.
   */
  readonly hcm: HcmRuntime;
  /** Called once, from the connection's 'close' handler. */
  onConnectionClosed(conn: ListenerConnection): void;
}

/**
 * The owner of HTTP connections accepted on one filter chain (identified by FilterChainConfig.key), kept by the
 * listener across reloads: a reload that keeps the key swaps `hcm`; one that drops it drains the connections.
 */
export class HcmChainSlot implements HcmConnectionOwner {
  readonly key: string;
  /** FilterChainConfig.identity of the chain: a later version whose chain under `key` differs drains this slot. */
  readonly identity: string;
  hcm: HcmRuntime;
  /** The HTTP connections (HTTP/1.1, HTTP/2, or a stand-in still detecting which). */
  readonly connections: IdTable<ListenerConnection>;
  private readonly owner: ConnectionOwner;

  constructor(key: string, hcm: HcmRuntime, owner: ConnectionOwner, identity = '') {
    this.key = key;
    this.identity = identity;
    this.hcm = hcm;
    this.connections = new IdTable<ListenerConnection>();
    this.owner = owner;
  }

  onConnectionClosed(conn: ListenerConnection): void {
    if (!this.connections.delete(conn.id)) return;
    this.owner.onConnectionClosed(conn);
  }
}

/** One filter chain of one config version: its config and its terminal filter's runtime (exactly one is set). */
export class FilterChainRuntime {
  readonly config: FilterChainConfig;
  readonly hcm: HcmRuntime | null;
  readonly tcpProxy: TcpProxyRuntime | null;

  constructor(config: FilterChainConfig, hcm: HcmRuntime | null, tcpProxy: TcpProxyRuntime | null) {
    this.config = config;
    this.hcm = hcm;
    this.tcpProxy = tcpProxy;
  }
}

/** Everything a listener needs per config version to place connections on chains. */
export class ListenerChains {
  readonly chains: readonly FilterChainRuntime[];
  readonly defaultChain: FilterChainRuntime | null;
  readonly matcher: FilterChainMatcher;
  /**
   * The chain every connection gets when there is nothing to match on (one chain with an empty match, or only a
   * default chain): the listener then skips collecting facts and matching. null when the match decides.
   */
  readonly fixed: FilterChainRuntime | null;
  /** Listener access logs, written on their own for a connection no chain takes (flag NR). */
  readonly listenerAccessLogs: readonly AccessLogSink[];

  constructor(config: ListenerConfig, chains: FilterChainRuntime[], defaultChain: FilterChainRuntime | null, listenerAccessLogs: readonly AccessLogSink[]) {
    this.chains = chains;
    this.defaultChain = defaultChain;
    // Validated by the primary (duplicates are config errors), so the build cannot report anything here.
    this.matcher = buildFilterChainMatcher(config.filterChains.map((c) => c.match)).matcher;
    const only = chains.length === 1 && isAnyMatch(chains[0]!.config.match);
    this.fixed = only ? chains[0]! : chains.length === 0 ? defaultChain : null;
    this.listenerAccessLogs = listenerAccessLogs;
  }

  /** The chain for a new connection: the matching filter chain, else the default chain, else null (close it). */
  select(facts: ConnectionFacts): FilterChainRuntime | null {
    const i = this.matcher.match(facts);
    return i >= 0 ? this.chains[i]! : this.defaultChain;
  }

  /** Every chain of this version, the default last. */
  all(): FilterChainRuntime[] {
    return this.defaultChain === null ? [...this.chains] : [...this.chains, this.defaultChain];
  }
}

const NO_PROTOCOLS: readonly string[] = Object.freeze([]);

/**
 * What the filter chain match sees of an accepted socket. Listener filters add to it: the tls_inspector (with
 * TLS) will set serverName, transportProtocol "tls" and applicationProtocols from the ClientHello.
 */
export function connectionFactsOf(socket: net.Socket): ConnectionFacts {
  const remoteIp = socket.remoteAddress ?? '';
  return {
    localIp: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    remoteIp,
    remotePort: socket.remotePort ?? 0,
    directRemoteIp: remoteIp,
    serverName: '',
    transportProtocol: 'raw_buffer',
    applicationProtocols: NO_PROTOCOLS,
  };
}

/** "1.2.3.4:80" / "[::1]:80", as Envoy prints addresses. */
export function formatAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Per listening server: its bound address when it is one address ("" for a wildcard 0.0.0.0 / ::). */
const boundAddresses = new WeakMap<net.Server, string>();

/**
 * An accepted connection's local address, "ip:port": the listener's own when it is bound to one address (Legate
 * refuses `transparent`, so the connection's local address is then exactly that: no getsockname per connection),
 * else the socket's.
 */
export function localAddressOf(socket: net.Socket): string {
  const server = (socket as { server?: net.Server | null }).server;
  if (server !== undefined && server !== null) {
    let bound = boundAddresses.get(server);
    if (bound === undefined) {
      const a = server.address();
      bound = a !== null && typeof a === 'object' && a.address !== '0.0.0.0' && a.address !== '::' ? formatAddress(a.address, a.port) : '';
      boundAddresses.set(server, bound);
    }
    if (bound !== '') return bound;
  }
  return formatAddress(socket.localAddress ?? '', socket.localPort ?? 0);
}
