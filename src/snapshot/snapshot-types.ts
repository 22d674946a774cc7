// Any thread (pure). The compiled configuration a worker receives: plain data, defaults applied, references
// resolved, stat slots assigned. Built once per config version by the primary (compile-snapshot.ts), encoded with
// msgpackr, and frozen by each worker, which builds its runtime objects (route tables, pools, loggers) from it.

import type { InternalAddressConfig } from './internal-address.ts';
import type { TracingConfig } from '../tracing/tracing-config.ts';
import type { OverloadConfig } from '../overload/overload-config.ts';
import type { CompiledCluster } from '../upstream/cluster-config.ts';
import type { AccessLogConfig } from '../access-log/access-log-config.ts';
import type { ScopeSlots } from '../stats/definitions.ts';
import type { DownstreamTlsSpec } from '../tls/tls-spec.ts';
import type { ListenerTlsConfig } from '../tls/listener-tls-config.ts';
import type { HttpFilterConfig, HttpFilterStats } from '../filters/http-filter-config.ts';
import type { NetworkRbacConfig } from '../filters/rbac-config.ts';
import type { NetworkLocalRateLimitConfig } from '../filters/network-local-ratelimit-config.ts';
import type { LocalReplyConfigData } from './local-reply-config.ts';
import type { UdpListenerConfig } from './udp-listener-config.ts';
import type { HTTP_CONN_MANAGER_STATS, LISTENER_STATS, CLUSTER_STATS, TCP_PROXY_STATS, CONNECTION_LIMIT_STATS } from '../stats/definitions.ts';
import type { HTTP_CONN_MANAGER_LISTENER_STATS } from '../stats/definitions.ts';

export type ListenerSlots = ScopeSlots<typeof LISTENER_STATS>;
export type HcmSlots = ScopeSlots<typeof HTTP_CONN_MANAGER_STATS>;
export type TcpProxySlots = ScopeSlots<typeof TCP_PROXY_STATS>;
export type ClusterSlots = ScopeSlots<typeof CLUSTER_STATS> & {
  /** First slot of cluster.<name>.upstream_rq_<code> (UPSTREAM_RQ_CODE_INDEX gives each code's offset); -1: none. */
  readonly upstream_rq_code_base: number;
};

export interface Snapshot {
  version: number;
  /** Listeners, in config order. */
  listeners: ListenerConfig[];
  clusters: CompiledCluster[];
  /** Cluster name -> slots of cluster.<name>.*; filled by the primary (assign-stat-slots.ts). */
  clusterSlots: Record<string, ClusterSlots>;
  /** The bootstrap's overload_manager (NO_OVERLOAD when absent). */
  overload: OverloadConfig;
  /**
   * admin.access_log (and the deprecated admin.access_log_path, a file log in Envoy's default format): one entry per
   * admin request, written by the primary. Read at start only: the admin, like Envoy's, is not reconfigured by a reload.
   */
  adminAccessLogs: AccessLogConfig[];
  /** Listeners with a UDP address and the udp_proxy listener filter (src/snapshot/udp-listener-config.ts). */
  udpListeners?: UdpListenerConfig[];
}

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  /** The address as Envoy writes it in stat names: 0.0.0.0_10000. */
  statAddress: string;
  /**
   * Identity for reload diffs: listeners with the same key keep their sockets across a reload; a new key
   * binds, a key gone drains.
   */
  bindKey: string;
  perConnectionBufferLimitBytes: number;
  /** Envoy names of listener_filters, in order (tls_inspector; original_dst, read by ORIGINAL_DST clusters). */
  listenerFilters: string[];
  /** The tls_inspector, listener_filters_timeout and the TLS stat slots (src/tls/listener-tls-config.ts). */
  tls: ListenerTlsConfig;
  /** filter_chains, in config order; their matches are unique (compile-snapshot rejects duplicates). */
  filterChains: FilterChainConfig[];
  /** default_filter_chain: serves connections no filter_chain_match selects; null = such connections close. */
  defaultFilterChain: FilterChainConfig | null;
  /** Listener access logs: after each HCM request, at the end of each TCP session, for a no-match close. */
  accessLogs: AccessLogConfig[];
  slots: ListenerSlots | null;
  /**
   * listener.<address>.worker_<n>.downstream_cx_{total,active}: [total, active] of worker 0, of worker 1, ...
   * (src/primary/stats-hub.ts; absent until then).
   */
  workerCxSlots?: number[] | null;
  /**
   * The listener's own config (all but its filter chains) as hashed before RDS/SDS are put inline
   * (src/config-loader/listener-identity.ts): a listener whose identity changes is modified, its connections drain.
   */
  identity: string;
  /** drain_type: MODIFY_ONLY listeners drain only when modified or removed, not for /drain_listeners. */
  drainType: 'DEFAULT' | 'MODIFY_ONLY';
}

/** envoy.config.listener.v3.FilterChain, compiled. */
export interface FilterChainConfig {
  /** FilterChain.name, or the field path's tail ("filter_chains[2]", "default_filter_chain") when unnamed. */
  name: string;
  /**
   * Identity across reloads: the match and the kind of terminal filter. HCM connections accepted on a chain whose
   * key is still there take the new chain's connection manager for their next request; a key gone drains them.
   */
  key: string;
  match: FilterChainMatchSpec;
  /**
   * The chain's transport socket. null = raw_buffer (plaintext). This is where TLS plugs in: the TLS compiler
   * (src/tls) fills it with the chain's compiled DownstreamTlsContext, and the worker wraps accepted sockets of
   * this chain before the network filter sees them (workers/listener/filter-chain-runtime.ts).
   */
  transportSocket: DownstreamTlsSpec | null;
  /** transport_socket_connect_timeout: the TLS handshake deadline in ms; 0 = Node's default (120 s). */
  transportSocketConnectTimeoutMs: number;
  /** envoy.filters.network.connection_limit before the terminal filter; null when the chain has none. */
  connectionLimit: ConnectionLimitConfig | null;
  /** envoy.filters.network.rbac filters before the terminal filter, in order; null when the chain has none. */
  networkRbac: NetworkRbacConfig[] | null;
  /** envoy.filters.network.local_ratelimit filters before the terminal filter, in order; null when none. */
  networkLocalRateLimits: NetworkLocalRateLimitConfig[] | null;
  /** The terminal network filter. */
  filter: NetworkFilterConfig;
  /**
   * The chain as hashed before RDS/SDS are put inline (src/config-loader/listener-identity.ts). An update that keeps the
   * listener's identity changes it in place: connections of a chain whose identity is gone drain, the others stay.
   */
  identity: string;
}

/**
 * envoy.filters.network.connection_limit: at most maxConnections connections on this chain at once, counted over
 * every worker in the overload region (counterIndex, assigned by the primary with the stat slots); a connection
 * over the limit is counted (limited_connections) and closed, after delayMs when set.
 */
export interface ConnectionLimitConfig {
  statPrefix: string;
  maxConnections: number;
  delayMs: number;
  /** Index of its counter in the overload region (src/overload/overload-shared.ts); set by the primary. */
  counterIndex: number;
  /** connection_limit.<stat_prefix>.*; set by the primary. */
  slots: ScopeSlots<typeof CONNECTION_LIMIT_STATS> | null;
}

export type NetworkFilterConfig =
  | { kind: 'http_connection_manager'; hcm: HcmConfig }
  | { kind: 'tcp_proxy'; tcpProxy: TcpProxyConfig };

/** Source types of FilterChainMatch.source_type. */
export type ConnectionSourceType = 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';

/** A CIDR range with the host bits cleared: 10.1.0.0/16, 2001:db8::/32. */
export interface CidrSpec {
  /** Canonical text of the network address (host bits zero). */
  address: string;
  prefixLen: number;
  v6: boolean;
}

/** envoy.config.listener.v3.FilterChainMatch, normalized: an absent criterion is its "any" value. */
export interface FilterChainMatchSpec {
  /** 0 = any port. */
  destinationPort: number;
  /** Destination IP ranges; [] = any. */
  prefixRanges: CidrSpec[];
  /** Lower-case; "*.example.com" wildcards as written; [] = any. */
  serverNames: string[];
  /** '' = any; "raw_buffer" or "tls" in practice. */
  transportProtocol: string;
  /** [] = any. */
  applicationProtocols: string[];
  /** Ranges of the directly connected peer (the same as the source until PROXY protocol exists); [] = any. */
  directSourcePrefixRanges: CidrSpec[];
  sourceType: ConnectionSourceType;
  sourcePrefixRanges: CidrSpec[];
  /** [] = any. */
  sourcePorts: number[];
}

/** envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, compiled. */
export interface TcpProxyConfig {
  statPrefix: string;
  /** `cluster` is one entry of weight 1; weighted_clusters.clusters in config order otherwise. */
  clusters: { name: string; weight: number }[];
  totalWeight: number;
  /** 0 = disabled. Envoy's default is 1 h. */
  idleTimeoutMs: number;
  /** max_downstream_connection_duration; 0 = none. */
  maxDownstreamConnectionDurationMs: number;
  /** Envoy's default is 1. */
  maxConnectAttempts: number;
  accessLogs: AccessLogConfig[];
  /** hash_policy (one entry, as Envoy allows) for RING_HASH / MAGLEV clusters; null: none. */
  hashPolicy: TcpHashPolicy | null;
  slots: TcpProxySlots | null;
}

/** type.v3.HashPolicy, compiled: the client's IP, or a filter state object's value. */
export type TcpHashPolicy = { kind: 'source_ip' } | { kind: 'filter_state'; key: string };

/** HttpConnectionManager.codec_type: AUTO detects HTTP/2 from ALPN h2 or the client preface. */
export const CodecType = { AUTO: 0, HTTP1: 1, HTTP2: 2 } as const;

/** Http2ProtocolOptions.connection_keepalive: PING every interval, close without an ACK within timeout. */
export interface Http2Keepalive {
  intervalMs: number;
  timeoutMs: number;
  intervalJitterPercent: number;
}

/** Http2ProtocolOptions as compiled (src/snapshot/http2-options.ts). */
export interface Http2Settings {
  /** null: no keepalive PINGs. */
  keepalive: Http2Keepalive | null;
  maxConcurrentStreams: number;
  initialStreamWindowSize: number;
  initialConnectionWindowSize: number;
  hpackTableSize: number;
  maxOutboundFrames: number;
  maxOutboundControlFrames: number;
  maxConsecutiveInboundFramesWithEmptyPayload: number;
  maxInboundPriorityFramesPerStream: number;
  maxInboundWindowUpdateFramesPerDataFrameSent: number;
  /** Invalid HTTP messaging resets the stream (true) or closes the connection with GOAWAY (false, Envoy's default). */
  streamErrorOnInvalidHttpMessaging: boolean;
}

export interface HcmConfig {
  statPrefix: string;
  codecType: number;
  /** Normalized envoy.config.route.v3.RouteConfiguration (the worker builds its RouteTable from it). */
  routeConfig: Record<string, unknown>;
  /** http_filters before the router, compiled (src/filters); [] when the router is the only one. */
  httpFilters: HttpFilterConfig[];
  /**
   * The stats of the route configuration's per-filter configs (a per-route local rate limit's stat_prefix), with
   * the slots the primary gives them; workers find them by prefix when those configs are first used.
   */
  routeFilterStats: { stats: HttpFilterStats; slots: Record<string, number> | null }[];
  accessLogs: AccessLogConfig[];
  useRemoteAddress: boolean;
  /** internal_address_config (src/snapshot/internal-address.ts); null when absent: no address is internal. */
  internalAddressConfig: InternalAddressConfig | null;
  xffNumTrustedHops: number;
  skipXffAppend: boolean;
  via: string;
  generateRequestId: boolean;
  preserveExternalRequestId: boolean;
  alwaysSetRequestIdInResponse: boolean;
  serverName: string;
  /** OVERWRITE (default), APPEND_IF_ABSENT, PASS_THROUGH. */
  serverHeaderTransformation: string;
  /** 0 = disabled. */
  requestTimeoutMs: number;
  /** request_headers_timeout: from a head's first byte to its last (HTTP/1.1); 0 = disabled. */
  requestHeadersTimeoutMs: number;
  streamIdleTimeoutMs: number;
  /**
   * delayed_close_timeout (HTTP/1.1): after Legate closes its side, how long what the client still sends is read and
   * dropped before the socket is closed, counted from the last write progress; 0 = close once flushed.
   */
  delayedCloseTimeoutMs: number;
  idleTimeoutMs: number;
  /** common_http_protocol_options: a connection drains after this long (0 = never). */
  maxConnectionDurationMs: number;
  /** common_http_protocol_options: a connection drains after this many requests (0 = unlimited). */
  maxRequestsPerConnection: number;
  /** common_http_protocol_options: a stream is ended after this long unless its route sets its own (0 = never). */
  maxStreamDurationMs: number;
  maxRequestHeadersKb: number;
  maxHeadersCount: number;
  /** normalize_path, then merge_slashes, applied to :path before routing (and sent upstream). */
  normalizePath: boolean;
  mergeSlashes: boolean;
  /** path_with_escaped_slashes_action: KEEP_UNCHANGED, REJECT_REQUEST, UNESCAPE_AND_REDIRECT, UNESCAPE_AND_FORWARD. */
  pathWithEscapedSlashesAction: string;
  /** common_http_protocol_options.headers_with_underscores_action: ALLOW, REJECT_REQUEST or DROP_HEADER. */
  headersWithUnderscoresAction: string;
  acceptHttp10: boolean;
  defaultHostForHttp10: string;
  suppressEnvoyHeaders: boolean;
  /**
   * upgrade_configs: lower-case upgrade type ("websocket") -> enabled. A route's own upgrade_configs may turn a
   * listed type on or off; a type not listed here is never allowed. CONNECT is not supported yet.
   */
  upgradeConfigs: Record<string, boolean>;
  /**
   * proxy_100_continue: Expect: 100-continue goes upstream and the upstream's 100 comes back; false (Envoy's
   * default): Legate strips Expect and answers 100 itself once the request is on its way to an upstream.
   */
  proxy100Continue: boolean;
  /** http2_protocol_options (defaults when absent); used for HTTP/2 connections. */
  http2: Http2Settings;
  /** local_reply_config as plain data (src/snapshot/local-reply-config.ts); null when not configured. */
  localReplyConfig: LocalReplyConfigData | null;
  /** tracing (src/tracing/tracing-config.ts); null when not configured (a stream then pays one null check). */
  tracing: TracingConfig | null;
  slots: HcmSlots | null;
  /** listener.<address>.http.<stat_prefix>.* (src/primary/stats-hub.ts); set with `slots`. */
  listenerSlots?: ScopeSlots<typeof HTTP_CONN_MANAGER_LISTENER_STATS> | null;
}
