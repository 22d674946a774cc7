// Any thread (pure). Envoy's default tag extraction rules, as data: which part of a stat name is a tag value,
// and which characters leave the name when the tag is taken out. Prometheus names and labels come from this
// (`cluster.backend.upstream_rq_2xx` -> `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",
// envoy_cluster_name="backend"}`), so the rules and their order follow Envoy's defaults: dashboards written
// for Envoy must keep working.

export interface TagRule {
  /** Prometheus label name (Envoy's tag name with '.' as '_'). */
  readonly tagName: string;
  /**
   * Regular expression source with `{V}` where the tag value goes. Group 1 is what is removed from the name,
   * group 2 is the value.
   */
  readonly pattern: string;
  /** What a value looks like when the name alone is known. */
  readonly valuePattern: string;
  /** Cheap pre-check: a name without this substring cannot match. Empty: always try. */
  readonly substring: string;
  /** A value that does not make a tag (Envoy keeps `listener.admin.` in names). */
  readonly excludedValue: string;
}

/** A segment of a name: anything but a dot. */
const SEGMENT = '[^.]+';
/** Envoy's stat form of a socket address: 0.0.0.0_10000 or [__1]_10000. */
const ADDRESS = '(?:(?:\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|\\[[a-fA-F_\\d]+\\])_\\d+)';
const CIPHER = '[\\w-]+';

function rule(tagName: string, pattern: string, valuePattern = SEGMENT, substring = '', excludedValue = ''): TagRule {
  return Object.freeze({ tagName, pattern, valuePattern, substring, excludedValue });
}

/** In Envoy's order: it decides the order of labels in the Prometheus output. */
export const DEFAULT_TAG_RULES: readonly TagRule[] = Object.freeze([
  // *_rq_<code>: cluster.x.upstream_rq_200 -> upstream_rq{envoy_response_code="200"}
  rule('envoy_response_code', '_rq(_({V}))$', '\\d{3}', '_rq_'),
  // *_rq_<class>xx: downstream_rq_2xx -> downstream_rq_xx{envoy_response_code_class="2"}
  rule('envoy_response_code_class', '_rq_(({V}))xx$', '\\d', '_rq_'),
  rule('envoy_grpc_bridge_method', `^cluster\\.${SEGMENT}\\.grpc\\.${SEGMENT}\\.(({V})\\.)`, SEGMENT, '.grpc.'),
  rule('envoy_http_user_agent', `^http\\.${SEGMENT}\\.user_agent\\.(({V})\\.)`, SEGMENT, '.user_agent.'),
  rule('envoy_virtual_cluster', `^vhost\\.${SEGMENT}\\.vcluster\\.(({V})\\.)`, SEGMENT, '.vcluster.'),
  rule('envoy_fault_downstream_cluster', `^http\\.${SEGMENT}\\.fault\\.(({V})\\.)`, SEGMENT, '.fault.'),
  rule('envoy_ssl_cipher', '^listener\\..*?\\.ssl\\.ciphers(\\.({V}))$', CIPHER, '.ssl.ciphers.'),
  rule('envoy_ssl_curve', '^(?:listener|cluster)\\..*?\\.ssl\\.curves(\\.({V}))$', CIPHER, '.ssl.curves.'),
  rule('envoy_ssl_sigalg', '^(?:listener|cluster)\\..*?\\.ssl\\.sigalgs(\\.({V}))$', CIPHER, '.ssl.sigalgs.'),
  rule('envoy_ssl_version', '^(?:listener|cluster)\\..*?\\.ssl\\.versions(\\.({V}))$', 'TLSv\\d\\.\\d', '.ssl.versions.'),
  rule('envoy_ssl_cipher_suite', `^cluster\\.${SEGMENT}\\.ssl\\.ciphers(\\.({V}))$`, CIPHER, '.ssl.ciphers.'),
  rule('envoy_grpc_bridge_service', `^cluster\\.${SEGMENT}\\.grpc\\.(({V})\\.)`, SEGMENT, '.grpc.'),
  rule('envoy_tcp_prefix', '^tcp\\.(({V})\\.)'),
  rule('envoy_udp_prefix', '^udp\\.(({V})\\.)'),
  rule('envoy_clientssl_prefix', '^auth\\.clientssl\\.(({V})\\.)'),
  rule('envoy_ratelimit_prefix', '^ratelimit\\.(({V})\\.)'),
  rule('envoy_cluster_name', '^cluster\\.(({V})\\.)'),
  rule('envoy_http_conn_manager_prefix', '^listener\\..*?\\.http\\.(({V})\\.)', SEGMENT, '.http.'),
  rule('envoy_ext_authz_prefix', `^(?:cluster|http)\\.${SEGMENT}\\.ext_authz\\.(({V})\\.)`, SEGMENT, '.ext_authz.'),
  rule('envoy_http_conn_manager_prefix', '^http\\.(({V})\\.)'),
  // listener.<address>.worker_<n>., server.worker_<n>., listener_manager.worker_<n>. as in Envoy, and Legate's
  // own per-worker scope worker_<n>.: the digits leave the name, `worker_` stays.
  rule('envoy_worker_id', `^(?:listener\\.(?:${ADDRESS}|${SEGMENT})\\.|server\\.|listener_manager\\.)?worker_(({V})\\.)`, '\\d+', 'worker_'),
  rule('envoy_listener_address', '^listener\\.(({V})\\.)', `${ADDRESS}|${SEGMENT}`, '', 'admin'),
  rule('envoy_virtual_host', '^vhost\\.(({V})\\.)'),
  rule('envoy_mongo_prefix', '^mongo\\.(({V})\\.)'),
  rule('envoy_rds_route_config', `^http\\.${SEGMENT}\\.rds\\.(({V})\\.)\\w+?$`, '[\\w\\-.]+', '.rds.'),
  rule('envoy_route', `^vhost\\.${SEGMENT}\\.route\\.(({V})\\.)`, SEGMENT, '.route.'),
  rule('envoy_thrift_prefix', '^thrift\\.(({V})\\.)'),
  rule('envoy_redis_prefix', '^redis\\.(({V})\\.)'),
  rule('envoy_local_http_ratelimit_prefix', '^(({V})\\.)http_local_rate_limit\\.', SEGMENT, '.http_local_rate_limit.'),
  rule('envoy_local_network_ratelimit_prefix', '^local_rate_limit\\.(({V})\\.)'),
  rule('envoy_local_listener_ratelimit_prefix', '^listener_local_ratelimit\\.(({V})\\.)'),
  rule('envoy_dns_filter_prefix', '^dns_filter\\.(({V})\\.)'),
]);
