// Any thread (pure). Each component declares its stats in one list, with Envoy's names, so Envoy's docs and
// dashboards carry over. The registry (primary) turns a scope of a definition into slot numbers; workers write
// `store.values[slots.name]` for counters and gauges and `store.record(slots.name, value)` for histograms.

export interface StatScopeDefinition {
  readonly counters: readonly string[];
  readonly gauges: readonly string[];
  /** Histograms of milliseconds unless named otherwise. */
  readonly histograms: readonly string[];
  /** Counters shown only once non-zero: names Envoy creates at first use (upstream_rq_<code>). */
  readonly hiddenUntilUsed?: readonly string[];
}

/** Slot numbers of one allocated scope, by stat name (counters, gauges and histograms). */
export type ScopeSlots<D extends StatScopeDefinition> = {
  readonly [K in D['counters'][number] | D['gauges'][number] | D['histograms'][number] | HiddenNames<D>]: number;
};
type HiddenNames<D extends StatScopeDefinition> = D['hiddenUntilUsed'] extends readonly string[] ? D['hiddenUntilUsed'][number] : never;

/**
 * What a worker writes into. `values` is this worker's region of shared memory (counters and gauges, one
 * Float64 per slot, single writer). Histogram slots are a separate numbering.
 */
export interface WorkerStatsStore {
  readonly values: Float64Array;
  record(histogramSlot: number, value: number): void;
}

/** server.* (the primary writes these into its own region). */
export const SERVER_STATS = {
  // static_unknown_fields: unknown bootstrap fields let through by --allow-unknown-static-fields (each load).
  counters: ['reload_success', 'reload_failed', 'worker_restarts', 'dropped_stat_flushes', 'static_unknown_fields'],
  // memory_*: V8 onto tcmalloc's terms, summed over every thread (as /memory): allocated = used heap + external,
  // heap_size = heap taken from the OS + external, physical_size = the process's RSS. version: Envoy's, the first
  // six hex digits of the commit as a number.
  gauges: [
    'live', 'concurrency', 'uptime', 'memory_allocated', 'memory_heap_size', 'memory_physical_size', 'total_connections',
    'state', 'hot_restart_epoch', 'days_until_first_cert_expiring', 'version',
  ],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** listener.<address>.* e.g. listener.0.0.0.0_10000.downstream_cx_total */
export const LISTENER_STATS = {
  counters: [
    'downstream_cx_total', 'downstream_cx_destroy', 'downstream_cx_overflow', 'no_filter_chain_match',
    // Refused at accept by the overload manager: over the global connection limit; reject_incoming_connections.
    'downstream_global_cx_overflow', 'downstream_cx_overload_reject',
  ],
  gauges: ['downstream_cx_active'],
  histograms: ['downstream_cx_length_ms'],
} as const satisfies StatScopeDefinition;

/**
 * tls_inspector.* : the envoy.filters.listener.tls_inspector listener filter, rooted at tls_inspector for the whole
 * server as in Envoy (every listener with the filter writes the same counters).
 */
export const TLS_INSPECTOR_STATS = {
  counters: ['client_hello_too_large', 'tls_found', 'tls_not_found', 'alpn_found', 'alpn_not_found', 'sni_found', 'sni_not_found'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/**
 * ssl.versions.<v>, ssl.ciphers.<name>, ssl.curves.<name> as Envoy counts them at each handshake, for the versions,
 * cipher suites (OpenSSL names, as Node's getCipher() gives them) and key exchange groups Node negotiates; each
 * shown once counted (Envoy creates them at first use). The curve is known on the client side only (upstream).
 */
const TLS_VERSION_STATS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'].map((v) => `ssl.versions.${v}` as const);
const TLS_CIPHER_STATS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'AES256-SHA',
].map((c) => `ssl.ciphers.${c}` as const);
const TLS_CURVE_STATS = ['X25519', 'P-256', 'P-384', 'P-521', 'X448'].map((c) => `ssl.curves.${c}` as const);
type TlsDetailStat = `ssl.${'versions' | 'ciphers' | 'curves'}.${string}`;
const LISTENER_TLS_DETAIL_STATS: readonly TlsDetailStat[] = [...TLS_VERSION_STATS, ...TLS_CIPHER_STATS];
const CLUSTER_TLS_DETAIL_STATS: readonly TlsDetailStat[] = [...TLS_VERSION_STATS, ...TLS_CIPHER_STATS, ...TLS_CURVE_STATS];

/**
 * listener.<address>.* written by listener filters and the filter chains' TLS transport sockets (Envoy's listener
 * stats and its ssl.* tree for a listener): allocated only for listeners with the tls_inspector or a TLS chain.
 */
export const LISTENER_TLS_STATS = {
  counters: [
    'downstream_pre_cx_timeout', 'downstream_cx_transport_socket_connect_timeout',
    'ssl.handshake', 'ssl.connection_error', 'ssl.no_certificate', 'ssl.session_reused', 'ssl.fail_verify_no_cert',
    'ssl.fail_verify_error', 'ssl.fail_verify_san', 'ssl.fail_verify_cert_hash',
  ],
  gauges: ['downstream_pre_cx_active'],
  histograms: [],
  hiddenUntilUsed: LISTENER_TLS_DETAIL_STATS,
} as const satisfies StatScopeDefinition;

/**
 * cluster.<name>.circuit_breakers.<default|high>.*: whether each limit is reached, and with track_remaining what is
 * left; written by the primary from the shared counters when stats are read (src/primary/circuit-breaker-gauges.ts).
 */
export const CIRCUIT_BREAKER_STATS = {
  counters: [],
  gauges: ['cx_open', 'cx_pool_open', 'rq_pending_open', 'rq_open', 'rq_retry_open'],
  histograms: [],
} as const satisfies StatScopeDefinition;
export const CIRCUIT_BREAKER_REMAINING_STATS = {
  counters: [],
  gauges: ['remaining_cx', 'remaining_pending', 'remaining_rq', 'remaining_retries', 'remaining_cx_pools'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** cluster.<name>.ssl.* : the upstream TLS transport socket of a cluster with one. */
export const CLUSTER_TLS_STATS = {
  counters: [
    'ssl.handshake', 'ssl.connection_error', 'ssl.session_reused', 'ssl.fail_verify_no_cert', 'ssl.fail_verify_error',
    'ssl.fail_verify_san', 'ssl.fail_verify_cert_hash',
  ],
  gauges: [],
  histograms: [],
  hiddenUntilUsed: CLUSTER_TLS_DETAIL_STATS,
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.* (the HTTP connection manager). */
export const HTTP_CONN_MANAGER_STATS = {
  counters: [
    'downstream_cx_total', 'downstream_cx_http1_total', 'downstream_cx_destroy', 'downstream_cx_destroy_remote',
    'downstream_cx_destroy_local', 'downstream_cx_destroy_active_rq', 'downstream_cx_destroy_local_active_rq',
    'downstream_cx_destroy_remote_active_rq', 'downstream_cx_protocol_error', 'downstream_cx_idle_timeout',
    'downstream_cx_rx_bytes_total', 'downstream_cx_tx_bytes_total',
    'downstream_rq_total', 'downstream_rq_http1_total', 'downstream_rq_1xx', 'downstream_rq_2xx',
    'downstream_rq_3xx', 'downstream_rq_4xx', 'downstream_rq_5xx', 'downstream_rq_completed',
    'downstream_rq_timeout', 'downstream_rq_idle_timeout', 'downstream_rq_rx_reset', 'downstream_rq_tx_reset',
    'downstream_rq_non_relative_path', 'downstream_rq_too_large', 'downstream_rq_ws_on_non_ws_route',
    'downstream_cx_upgrades_total', 'dropped_headers_with_underscores', 'requests_rejected_with_underscores_in_headers',
    'downstream_rq_response_before_rq_complete', 'no_route', 'no_cluster', 'rq_redirect', 'rq_direct_response',
    'downstream_cx_http2_total', 'downstream_rq_http2_total', 'downstream_rq_max_duration_reached',
    'downstream_rq_too_many_premature_resets', 'downstream_cx_max_duration_reached', 'downstream_cx_max_requests_reached',
    'downstream_rq_header_timeout', 'downstream_rq_failed_path_normalization', 'downstream_rq_invalid_host',
    'downstream_rq_redirected_with_normalized_path',
    // An exception caught at one of this connection manager's boundaries (a bug): that connection or stream was reset.
    'internal_error',
    // Overload manager: stop_accepting_requests (503), disable_http_keepalive.
    'downstream_rq_overload_close', 'downstream_cx_overload_disable_keepalive',
    // A response an HTTP filter buffered past the connection's buffer limit (500, or a reset once under way).
    'rs_too_large',
  ],
  gauges: [
    'downstream_cx_upgrades_active', 'downstream_cx_active', 'downstream_cx_http1_active', 'downstream_cx_http2_active',
    'downstream_rq_active',
  ],
  histograms: ['downstream_rq_time', 'downstream_cx_length_ms'],
} as const satisfies StatScopeDefinition;

/**
 * listener.<address>.http.<stat_prefix>.* : a connection manager's per-listener counts (Envoy's
 * ConnectionManagerListenerStats), for dashboards that split by listener.
 */
export const HTTP_CONN_MANAGER_LISTENER_STATS = {
  counters: ['downstream_rq_1xx', 'downstream_rq_2xx', 'downstream_rq_3xx', 'downstream_rq_4xx', 'downstream_rq_5xx', 'downstream_rq_completed'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** tcp.<stat_prefix>.* (the tcp_proxy network filter). */
export const TCP_PROXY_STATS = {
  counters: [
    'downstream_cx_total', 'downstream_cx_no_route', 'downstream_cx_tx_bytes_total', 'downstream_cx_rx_bytes_total',
    'downstream_flow_control_paused_reading_total', 'downstream_flow_control_resumed_reading_total', 'idle_timeout',
    'upstream_flush_total', 'max_downstream_connection_duration',
    // An exception caught at a session's boundary (a bug): both of its connections were reset.
    'internal_error',
  ],
  gauges: ['upstream_flush_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** udp.<stat_prefix>.* (the envoy.filters.udp_listener.udp_proxy listener filter, workers/udp). */
export const UDP_PROXY_STATS = {
  counters: [
    'downstream_sess_total', 'downstream_sess_no_route', 'downstream_sess_rx_datagrams', 'downstream_sess_rx_bytes',
    'downstream_sess_rx_errors', 'downstream_sess_tx_datagrams', 'downstream_sess_tx_bytes', 'downstream_sess_tx_errors',
    'idle_timeout',
  ],
  gauges: ['downstream_sess_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** cluster.<name>.udp.* : a cluster's datagrams to and from UDP proxy sessions. */
export const CLUSTER_UDP_STATS = {
  counters: ['sess_rx_datagrams', 'sess_rx_datagrams_dropped', 'sess_rx_errors', 'sess_tx_datagrams', 'sess_tx_errors'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** listener.<address>.udp.* : datagrams a UDP listener dropped before any session (above max_rx_datagram_size). */
export const LISTENER_UDP_STATS = {
  counters: ['downstream_rx_datagram_dropped'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** connection_limit.<stat_prefix>.* (the envoy.filters.network.connection_limit network filter). */
export const CONNECTION_LIMIT_STATS = {
  counters: ['limited_connections'],
  gauges: ['active_connections'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/**
 * http.<stat_prefix>.compressor.<library name>.<library stat prefix>.* (envoy.filters.http.compressor): the response
 * stats at the scope's root (Envoy's legacy tree, COMPRESSOR_STATS) or, with response_direction_config, under
 * "response." (COMPRESSOR_DIRECTIONAL_STATS); the request stats under "request.".
 */
const COMPRESSOR_RESPONSE_COUNTERS = [
  'compressed', 'not_compressed', 'no_accept_header', 'header_identity', 'header_compressor_used',
  'header_compressor_overshadowed', 'header_wildcard', 'header_not_valid', 'total_uncompressed_bytes',
  'total_compressed_bytes', 'content_length_too_small', 'not_compressed_etag',
] as const;
const COMPRESSOR_REQUEST_COUNTERS = [
  'request.compressed', 'request.not_compressed', 'request.total_uncompressed_bytes', 'request.total_compressed_bytes',
  'request.content_length_too_small',
] as const;
export const COMPRESSOR_STATS = {
  counters: [...COMPRESSOR_RESPONSE_COUNTERS, ...COMPRESSOR_REQUEST_COUNTERS],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;
export const COMPRESSOR_DIRECTIONAL_STATS = {
  counters: [...COMPRESSOR_RESPONSE_COUNTERS.map((n) => `response.${n}` as const), ...COMPRESSOR_REQUEST_COUNTERS],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.decompressor.<library name>.<library stat prefix>.* (envoy.filters.http.decompressor), per library. */
const DECOMPRESSOR_DIRECTION_STATS = [
  'request.decompressed', 'request.not_decompressed', 'request.total_uncompressed_bytes', 'request.total_compressed_bytes',
  'response.decompressed', 'response.not_decompressed', 'response.total_uncompressed_bytes', 'response.total_compressed_bytes',
] as const;
export const DECOMPRESSOR_GZIP_STATS = {
  counters: [
    ...DECOMPRESSOR_DIRECTION_STATS, 'decompressor_library.zlib_errno', 'decompressor_library.zlib_stream_error',
    'decompressor_library.zlib_data_error', 'decompressor_library.zlib_mem_error', 'decompressor_library.zlib_buf_error',
    'decompressor_library.zlib_version_error',
  ],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;
export const DECOMPRESSOR_BROTLI_STATS = {
  counters: [...DECOMPRESSOR_DIRECTION_STATS, 'decompressor_library.brotli_error', 'decompressor_library.brotli_redundant_input'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;
export const DECOMPRESSOR_ZSTD_STATS = {
  counters: [
    ...DECOMPRESSOR_DIRECTION_STATS, 'decompressor_library.zstd_generic_error', 'decompressor_library.zstd_dictionary_error',
    'decompressor_library.zstd_checksum_wrong_error', 'decompressor_library.zstd_memory_error',
  ],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.cors.* (envoy.filters.http.cors; requests without Origin are not counted). */
export const CORS_STATS = {
  counters: ['origin_valid', 'origin_invalid'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** <stat_prefix>.http_local_rate_limit.* (envoy.filters.http.local_ratelimit). */
export const HTTP_LOCAL_RATE_LIMIT_STATS = {
  counters: ['enabled', 'enforced', 'rate_limited', 'ok'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.basic_auth.* (envoy.filters.http.basic_auth). */
export const BASIC_AUTH_STATS = {
  counters: ['allowed', 'denied'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.jwt_authn.* (envoy.filters.http.jwt_authn). */
export const JWT_AUTHN_STATS = {
  counters: ['allowed', 'cors_preflight_bypassed', 'denied', 'jwks_fetch_success', 'jwks_fetch_failed', 'jwt_cache_hit', 'jwt_cache_miss'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.rbac.<rules_stat_prefix>* (envoy.filters.http.rbac). */
export const RBAC_STATS = {
  counters: ['allowed', 'denied', 'shadow_allowed', 'shadow_denied'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** <stat_prefix>.rbac.{allowed,denied} (envoy.filters.network.rbac). */
export const NETWORK_RBAC_STATS = {
  counters: ['allowed', 'denied'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** local_ratelimit.<stat_prefix>.* : envoy.filters.network.local_ratelimit (workers/listener/network-local-ratelimit.ts). */
export const NETWORK_LOCAL_RATELIMIT_STATS = {
  counters: ['rate_limited'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** <stat_prefix>.rbac.<shadow_rules_stat_prefix>{shadow_allowed,shadow_denied} (envoy.filters.network.rbac). */
export const NETWORK_RBAC_SHADOW_STATS = {
  counters: ['shadow_allowed', 'shadow_denied'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.csrf.* (envoy.filters.http.csrf). */
export const CSRF_STATS = {
  counters: ['missing_source_origin', 'request_invalid', 'request_valid'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.ext_authz.[<filter stat_prefix>.]* (envoy.filters.http.ext_authz). */
export const EXT_AUTHZ_STATS = {
  counters: ['ok', 'denied', 'error', 'disabled', 'failure_mode_allowed'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.ext_proc.[<filter stat_prefix>.]* (envoy.filters.http.ext_proc). */
export const EXT_PROC_STATS = {
  counters: [
    'streams_started', 'stream_msgs_sent', 'stream_msgs_received', 'spurious_msgs_received', 'streams_closed',
    'streams_failed', 'failure_mode_allowed', 'message_timeouts',
  ],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.fault.* (envoy.filters.http.fault); active_faults is this worker's share, summed. */
export const FAULT_STATS = {
  counters: ['delays_injected', 'aborts_injected', 'faults_overflow', 'response_rl_injected'],
  gauges: ['active_faults'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** http.<stat_prefix>.health_check.* (envoy.filters.http.health_check; the checks answered by the filter). */
export const HEALTH_CHECK_STATS = {
  counters: [
    'request_total', 'failed', 'ok', 'cached_response', 'failed_cluster_not_found', 'failed_cluster_empty',
    'failed_cluster_unhealthy', 'degraded',
  ],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** The stats of HTTP filters, by the name their compiled config gives (HttpFilterConfig.stats.definition). */
/** http.<stat_prefix>.lua.[<lua stat_prefix>.]* : envoy.filters.http.lua (workers/http/filters/lua-filter.ts). */
export const LUA_STATS = {
  counters: ['errors'],
  gauges: [],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** dns_cache.<name>.* (the dynamic forward proxy's DNS cache; each worker keeps its own, the counts add up). */
export const DNS_CACHE_STATS = {
  counters: ['dns_query_attempt', 'dns_query_success', 'dns_query_failure', 'host_added', 'host_removed', 'host_overflow', 'dns_rq_pending_overflow'],
  gauges: ['num_hosts'],
  histograms: [],
} as const satisfies StatScopeDefinition;

export const HTTP_FILTER_STATS: Readonly<Record<string, StatScopeDefinition>> = {
  fault: FAULT_STATS,
  health_check: HEALTH_CHECK_STATS,
  compressor: COMPRESSOR_STATS,
  compressor_directional: COMPRESSOR_DIRECTIONAL_STATS,
  decompressor_gzip: DECOMPRESSOR_GZIP_STATS,
  decompressor_brotli: DECOMPRESSOR_BROTLI_STATS,
  decompressor_zstd: DECOMPRESSOR_ZSTD_STATS,
  cors: CORS_STATS,
  http_local_rate_limit: HTTP_LOCAL_RATE_LIMIT_STATS,
  basic_auth: BASIC_AUTH_STATS,
  dns_cache: DNS_CACHE_STATS,
  jwt_authn: JWT_AUTHN_STATS,
  rbac: RBAC_STATS,
  csrf: CSRF_STATS,
  ext_authz: EXT_AUTHZ_STATS,
  ext_proc: EXT_PROC_STATS,
  lua: LUA_STATS,
};

/** cluster.<name>.health_check.* (only for clusters with health_checks; written by the primary's health checker). */
export const CLUSTER_HEALTH_CHECK_STATS = {
  counters: [
    'health_check.attempt', 'health_check.success', 'health_check.failure', 'health_check.network_failure',
    'health_check.passive_failure', 'health_check.verify_cluster',
  ],
  gauges: ['health_check.healthy', 'health_check.degraded'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** cluster.<name>.outlier_detection.* (only for clusters with outlier_detection; written by the primary's detector). */
export const CLUSTER_OUTLIER_DETECTION_STATS = {
  counters: [
    'outlier_detection.ejections_enforced_total', 'outlier_detection.ejections_overflow',
    'outlier_detection.ejections_enforced_consecutive_5xx', 'outlier_detection.ejections_detected_consecutive_5xx',
    'outlier_detection.ejections_enforced_consecutive_gateway_failure', 'outlier_detection.ejections_detected_consecutive_gateway_failure',
    'outlier_detection.ejections_enforced_success_rate', 'outlier_detection.ejections_detected_success_rate',
    'outlier_detection.ejections_enforced_failure_percentage', 'outlier_detection.ejections_detected_failure_percentage',
    'outlier_detection.ejections_enforced_consecutive_local_origin_failure', 'outlier_detection.ejections_detected_consecutive_local_origin_failure',
    'outlier_detection.ejections_enforced_local_origin_success_rate', 'outlier_detection.ejections_detected_local_origin_success_rate',
    'outlier_detection.ejections_enforced_local_origin_failure_percentage', 'outlier_detection.ejections_detected_local_origin_failure_percentage',
  ],
  gauges: ['outlier_detection.ejections_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** The status codes whose cluster.<name>.upstream_rq_<code> is counted (Envoy counts any; these are the ones seen). */
const COUNTED_STATUS_CODES: readonly number[] = [
  ...range(100, 103), ...range(200, 208), 226, ...range(300, 308), ...range(400, 431), 451, ...range(500, 511),
];
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
/**
 * cluster.<name>.upstream_rq_<code>, in COUNTED_STATUS_CODES order: allocated as one run of slots per cluster
 * (ClusterSlots.upstream_rq_code_base is the first), kept out of ClusterSlots itself so that object stays small
 * (fast property access on the request path).
 */
export const UPSTREAM_RQ_CODE_NAMES: readonly string[] = COUNTED_STATUS_CODES.map((c) => `upstream_rq_${c}`);
/** Status code -> its offset from upstream_rq_code_base, or -1 for a code not counted one by one. */
export const UPSTREAM_RQ_CODE_INDEX: Int16Array = (() => {
  const t = new Int16Array(600).fill(-1);
  COUNTED_STATUS_CODES.forEach((c, i) => {
    t[c] = i;
  });
  return t;
})();

/** cluster.<name>.* */
export const CLUSTER_STATS = {
  counters: [
    'upstream_cx_total', 'upstream_cx_http1_total', 'upstream_cx_connect_fail', 'upstream_cx_connect_timeout',
    'upstream_cx_destroy', 'upstream_cx_destroy_local', 'upstream_cx_destroy_remote', 'upstream_cx_idle_timeout',
    'upstream_cx_protocol_error', 'upstream_cx_none_healthy', 'upstream_cx_rx_bytes_total',
    'upstream_cx_tx_bytes_total',
    'upstream_rq_total', 'upstream_rq_completed', 'upstream_rq_1xx', 'upstream_rq_2xx', 'upstream_rq_3xx',
    'upstream_rq_4xx', 'upstream_rq_5xx', 'upstream_rq_timeout', 'upstream_rq_per_try_timeout',
    'upstream_rq_rx_reset', 'upstream_rq_tx_reset', 'upstream_rq_pending_total', 'upstream_rq_pending_failure_eject',
    'upstream_rq_cancelled', 'upstream_rq_pending_overflow', 'upstream_cx_overflow', 'update_attempt', 'update_success', 'update_failure', 'update_empty',
    // Circuit breakers (src/upstream/circuit-breaker-shared.ts): a retry refused by max_retries.
    'upstream_rq_retry_overflow',
    // Retries in the router (workers/router/retry-state.ts).
    'upstream_rq_retry', 'upstream_rq_retry_success', 'upstream_rq_retry_limit_exceeded',
    'upstream_rq_retry_backoff_exponential', 'upstream_rq_retry_backoff_ratelimited', 'upstream_rq_per_try_idle_timeout',
    'lb_healthy_panic',
    // ORIGINAL_DST: a metadata_key or use_http_header value that is not ip:port (workers/upstream/original-dst-hosts.ts).
    'original_dst_host_invalid',
    // Subset load balancing (workers/upstream/subset-lb.ts), per worker as Envoy's per-worker subset balancers.
    'lb_subsets_created', 'lb_subsets_removed', 'lb_subsets_selected', 'lb_subsets_fallback', 'lb_subsets_fallback_panic',
    // Written by the tcp_proxy filter.
    'upstream_cx_connect_attempts_exceeded', 'upstream_flow_control_paused_reading_total',
    'upstream_flow_control_resumed_reading_total',
    // HTTP/2 upstreams (cluster.<name>.http2.* as Envoy's upstream codec stats).
    'upstream_cx_http2_total', 'upstream_cx_close_notify', 'http2.rx_reset', 'http2.tx_reset', 'http2.keepalive_timeout',
    // An exception caught in a pool's handling of a connection outside any request (a bug): that connection was reset.
    'internal_error',
  ],
  gauges: [
    'upstream_cx_active', 'upstream_rq_active', 'upstream_rq_pending_active', 'membership_healthy',
    'membership_degraded', 'membership_excluded', 'membership_total', 'version',
    'lb_subsets_active', 'lb_subsets_single_host_per_subset_duplicate',
  ],
  histograms: ['upstream_rq_time', 'upstream_cx_connect_ms', 'upstream_cx_length_ms'],
} as const satisfies StatScopeDefinition;

/**
 * http2.* at the root: Envoy's downstream HTTP/2 codec stats (every connection manager's HTTP/2 connections).
 * The floods are the connections closed by the abuse limits of http2_protocol_options.
 */
export const HTTP2_CODEC_STATS = {
  counters: [
    'rx_reset', 'tx_reset', 'goaway_sent', 'outbound_flood', 'outbound_control_flood', 'inbound_empty_frames_flood',
    'keepalive_timeout', 'inbound_priority_frames_flood', 'inbound_window_update_frames_flood',
    'rx_messaging_error', 'stream_refused_errors', 'header_overflow', 'trailers',
  ],
  gauges: ['streams_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** cluster_manager.* */
export const CLUSTER_MANAGER_STATS = {
  counters: ['cluster_added', 'cluster_modified', 'cluster_removed', 'cluster_updated'],
  gauges: ['active_clusters', 'warming_clusters'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/**
 * runtime.* : each load of layered_runtime's layers (start-up, reload, /runtime_modify) as Envoy's runtime loader
 * counts it; num_keys the distinct keys over the layers, admin_overrides_active 1 while the admin layer holds any.
 */
export const RUNTIME_STATS = {
  counters: ['load_success', 'load_error'],
  gauges: ['num_keys', 'num_layers', 'admin_overrides_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** listener_manager.* */
export const LISTENER_MANAGER_STATS = {
  counters: ['listener_added', 'listener_modified', 'listener_removed', 'listener_create_success', 'listener_create_failure', 'listener_in_place_updated'],
  gauges: ['total_listeners_active', 'total_listeners_draining', 'total_listeners_warming'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** control_plane.* : the ADS stream to the xDS control plane (src/xds, written by the primary). */
export const CONTROL_PLANE_STATS = {
  counters: ['rate_limit_enforced'],
  gauges: ['connected_state', 'pending_requests'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/**
 * One xDS subscription (src/xds, written by the primary), under Envoy's scopes: listener_manager.lds.*,
 * cluster_manager.cds.*, http.<stat_prefix>.rds.<route_config_name>.*, cluster.<name>.* (EDS). version: a hash of
 * the last accepted version_info; update_time: when it was accepted (ms since the epoch).
 */
export const XDS_SUBSCRIPTION_STATS = {
  counters: ['update_attempt', 'update_success', 'update_rejected', 'update_failure', 'update_empty', 'init_fetch_timeout'],
  gauges: ['version', 'update_time'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** listener.<address>.worker_<index>.* : each worker's connections on one listener (Envoy's per-worker listener stats). */
export const LISTENER_WORKER_STATS = {
  counters: ['downstream_cx_total'],
  gauges: ['downstream_cx_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;

/** worker_<index>.* : per-worker totals so imbalance between workers shows (Envoy has listener.<addr>.worker_<n>.*). */
export const WORKER_STATS = {
  counters: ['downstream_cx_total', 'downstream_rq_total'],
  gauges: ['downstream_cx_active', 'downstream_rq_active'],
  histograms: [],
} as const satisfies StatScopeDefinition;
