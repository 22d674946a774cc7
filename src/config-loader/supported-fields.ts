// Any thread (pure). What Legate implements, per Envoy v3 message: a field present in a config but absent here is
// reported as "not supported yet" (never silently ignored). To support a feature, add its field names (snake_case)
// here and the message types they lead to; a message absent from SUPPORTED_FIELDS is unsupported as a whole.

import { TLS_SUPPORTED_ENUM_VALUES, TLS_SUPPORTED_FIELDS } from '../tls/tls-supported-fields.ts';

/** Message full name -> fields Legate implements. */
export const SUPPORTED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  // Bootstrap. Beside what is implemented, the fields every generated bootstrap carries are looked at one by one:
  // - cluster_manager, layered_runtime, default_regex_engine, application_log_config, bootstrap_extensions: below.
  // - stats_config, stats_sinks: src/stats/stats-config.ts (read once at start-up, as Envoy).
  // - header_prefix: not supported yet (the x-envoy- headers are built into the data path).
  // - use_tcp_for_dns_lookups: not supported yet when true (Node's resolvers offer no TCP-only mode); false is the
  //   default and accepted. typed_dns_resolver_config and dns_resolution_config: not supported yet (cluster DNS
  //   goes through the system resolver, getaddrinfo).
  'envoy.config.bootstrap.v3.Bootstrap': [
    'node', 'admin', 'static_resources', 'stats_flush_interval', 'overload_manager', 'cluster_manager', 'layered_runtime',
    'default_regex_engine', 'application_log_config',
    // src/stats/stats-config.ts: tags, matcher, histogram buckets; StatsD and DogStatsD sinks over UDP.
    'stats_config', 'stats_sinks', 'stats_server_version_override',
    // Each extension is checked by its @type: none is supported yet, so any given is "not supported yet: extension …".
    'bootstrap_extensions',
    // xDS over ADS (src/xds): LDS/CDS from a control plane, RDS/EDS as they reference.
    'dynamic_resources',
  ],
  // xDS (src/xds, docs/XDS.md): ADS over gRPC (GRPC and DELTA_GRPC), or LDS/CDS from files (path_config_source); a
  // per-type api_config_source and REST are not supported yet.
  'envoy.config.bootstrap.v3.Bootstrap.DynamicResources': ['lds_config', 'cds_config', 'ads_config'],
  // `path` (deprecated in Envoy, still read): a file as path_config_source without watched_directory (SDS files, src/xds/sds-file.ts).
  'envoy.config.core.v3.ConfigSource': ['ads', 'initial_fetch_timeout', 'resource_api_version', 'path_config_source', 'path'],
  // File-based LDS/CDS (src/xds/file-subscription.ts); not beside an ADS stream, not for RDS/EDS yet.
  'envoy.config.core.v3.PathConfigSource': ['path', 'watched_directory'],
  'envoy.config.core.v3.WatchedDirectory': ['path'],
  'envoy.config.core.v3.AggregatedConfigSource': [],
  // SDS over ADS (src/xds): the secret configs a CommonTlsContext names, and the Secret resources themselves.
  'envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig': ['name', 'sds_config'],
  'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext': ['tls_certificate_sds_secret_configs', 'validation_context_sds_secret_config'],
  'envoy.extensions.transport_sockets.tls.v3.Secret': ['name', 'tls_certificate', 'validation_context'],
  'envoy.config.core.v3.ApiConfigSource': ['api_type', 'transport_api_version', 'grpc_services', 'set_node_on_first_message_only'],
  'envoy.config.core.v3.GrpcService.EnvoyGrpc': ['cluster_name'],
  'envoy.extensions.filters.network.http_connection_manager.v3.Rds': ['config_source', 'route_config_name'],
  'envoy.config.cluster.v3.Cluster.EdsClusterConfig': ['eds_config', 'service_name'],
  // local_cluster_name: checked to name a static cluster, as Envoy does; no other effect (no zone-aware routing).
  // outlier_detection.event_log_path: ejections and un-ejections as JSON lines (src/upstream/outlier-event-log.ts).
  // enable_deferred_cluster_creation: accepted; no effect: a memory optimisation Envoy makes, Legate does not need.
  // Stats (src/stats/stats-config.ts). StatsdSink.tcp_cluster_name (statsd over TCP): not supported yet.
  'envoy.config.metrics.v3.StatsConfig': ['stats_tags', 'use_all_default_tags', 'stats_matcher', 'histogram_bucket_settings'],
  'envoy.config.metrics.v3.TagSpecifier': ['tag_name', 'regex', 'fixed_value'],
  'envoy.config.metrics.v3.StatsMatcher': ['reject_all', 'exclusion_list', 'inclusion_list'],
  'envoy.config.metrics.v3.HistogramBucketSettings': ['match', 'buckets'],
  'envoy.config.metrics.v3.StatsSink': ['name', 'typed_config'],
  'envoy.config.metrics.v3.StatsdSink': ['address', 'prefix'],
  'envoy.config.metrics.v3.DogStatsdSink': ['address', 'prefix', 'max_bytes_per_datagram'],
  'envoy.config.bootstrap.v3.ClusterManager': ['local_cluster_name', 'outlier_detection', 'enable_deferred_cluster_creation'],
  'envoy.config.bootstrap.v3.ClusterManager.OutlierDetection': ['event_log_path'],
  // Static and admin layers are read and shown by /runtime (Envoy's shape); Legate reads no runtime key yet, so a
  // value there changes nothing (the loader warns which). Disk and RTDS layers: not supported yet.
  'envoy.config.bootstrap.v3.LayeredRuntime': ['layers'],
  'envoy.config.bootstrap.v3.RuntimeLayer': ['name', 'static_layer', 'admin_layer'],
  'envoy.config.bootstrap.v3.RuntimeLayer.AdminLayer': [],
  // The application log's format (src/common/logger.ts), as --log-format gives it; read at start-up.
  'envoy.config.bootstrap.v3.Bootstrap.ApplicationLogConfig': ['log_format'],
  'envoy.config.bootstrap.v3.Bootstrap.ApplicationLogConfig.LogFormat': ['json_format', 'text_format'],
  // default_regex_engine: RE2 is what Legate runs every regex as (src/router/re2.ts), so google_re2 is accepted.
  'envoy.config.core.v3.TypedExtensionConfig': ['name', 'typed_config'],
  'envoy.extensions.regex_engines.v3.GoogleRE2': [],
  // Overload manager (src/overload): the fixed_heap and global_downstream_max_connections monitors and the actions
  // of src/overload/overload-shared.ts; buffer_factory_config serves reset_high_memory_stream (streams measured by
  // what they hold when the action runs, not by Envoy's per-slice accounts); no loadshed_points.
  'envoy.config.overload.v3.OverloadManager': ['refresh_interval', 'resource_monitors', 'actions', 'buffer_factory_config'],
  'envoy.config.overload.v3.BufferFactoryConfig': ['minimum_account_to_track_power_of_two'],
  'envoy.config.overload.v3.ResourceMonitor': ['name', 'typed_config'],
  'envoy.config.overload.v3.OverloadAction': ['name', 'triggers', 'typed_config'],
  'envoy.config.overload.v3.Trigger': ['name', 'threshold', 'scaled'],
  'envoy.config.overload.v3.ThresholdTrigger': ['value'],
  'envoy.config.overload.v3.ScaledTrigger': ['scaling_threshold', 'saturation_threshold'],
  'envoy.config.overload.v3.ScaleTimersOverloadActionConfig': ['timer_scale_factors'],
  'envoy.config.overload.v3.ScaleTimersOverloadActionConfig.ScaleTimer': ['timer', 'min_timeout', 'min_scale'],
  'envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig': ['max_heap_size_bytes'],
  'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig': ['max_active_downstream_connections'],
  // Before a chain's terminal filter (no runtime_enabled: Legate has no runtime layer).
  'envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit': ['stat_prefix', 'max_connections', 'delay'],
  'envoy.config.bootstrap.v3.Bootstrap.StaticResources': ['listeners', 'clusters'],
  'envoy.config.bootstrap.v3.Admin': ['address', 'access_log', 'access_log_path', 'profile_path'],
  // user_agent_version / user_agent_build_version: accepted; what a node reports to an xDS management server
  // (Legate sends its own user agent, as Envoy does).
  'envoy.config.core.v3.Node': ['id', 'cluster', 'metadata', 'locality', 'user_agent_name', 'user_agent_version', 'user_agent_build_version'],
  'envoy.config.core.v3.BuildVersion': ['version', 'metadata'],
  'envoy.type.v3.SemanticVersion': ['major_number', 'minor_number', 'patch'],
  'envoy.config.core.v3.Locality': ['region', 'zone', 'sub_zone'],
  'envoy.config.core.v3.Metadata': ['filter_metadata'],

  // Addresses
  'envoy.config.core.v3.Address': ['socket_address'],
  'envoy.config.core.v3.SocketAddress': ['address', 'port_value', 'protocol', 'ipv4_compat'],

  // Listeners
  'envoy.config.listener.v3.Listener': [
    'name', 'address', 'filter_chains', 'per_connection_buffer_limit_bytes', 'stat_prefix', 'traffic_direction',
    'drain_type', 'listener_filters_timeout', 'enable_reuse_port', 'access_log', 'listener_filters',
    'default_filter_chain',
    // The tls_inspector's deadline (src/tls/listener-tls-config.ts).
    'continue_on_listener_filters_timeout',
    // A UDP listener (protocol: UDP) with envoy.filters.udp_listener.udp_proxy (src/snapshot/udp-listener-config.ts).
    'udp_listener_config',
  ],
  'envoy.config.listener.v3.UdpListenerConfig': ['downstream_socket_config'],
  // Datagrams above max_rx_datagram_size are dropped (Envoy's behaviour); prefer_gro: not supported yet.
  'envoy.config.core.v3.UdpSocketConfig': ['max_rx_datagram_size'],
  // UDP proxy (workers/udp): use_original_src_ip, access logs, session filters, tunneling: not supported yet. A
  // matcher only as on_no_match naming a cluster (the compiler refuses matcher_list).
  'envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig': [
    'stat_prefix', 'cluster', 'matcher', 'idle_timeout', 'hash_policies', 'upstream_socket_config', 'use_per_packet_load_balancing',
  ],
  'envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig.HashPolicy': ['source_ip', 'key'],
  'envoy.extensions.filters.udp.udp_proxy.v3.Route': ['cluster'],
  // transport_socket: raw_buffer or envoy.transport_sockets.tls (DownstreamTlsContext, src/tls).
  'envoy.config.listener.v3.FilterChain': ['filters', 'name', 'filter_chain_match', 'transport_socket', 'transport_socket_connect_timeout'],
  'envoy.config.listener.v3.FilterChainMatch': [
    'destination_port', 'prefix_ranges', 'direct_source_prefix_ranges', 'source_type', 'source_prefix_ranges',
    'source_ports', 'server_names', 'transport_protocol', 'application_protocols',
  ],
  'envoy.config.core.v3.CidrRange': ['address_prefix', 'prefix_len'],
  'envoy.config.listener.v3.Filter': ['name', 'typed_config'],
  'envoy.config.listener.v3.ListenerFilter': ['name', 'typed_config'],
  // SNI, ALPN and "tls" for the filter chain match (workers/listener/tls-inspector.ts); no JA3/JA4 fingerprints.
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': [],
  // Marks the connection's local address as its original destination for ORIGINAL_DST clusters (Node cannot read
  // SO_ORIGINAL_DST: right for TPROXY and direct connections, not after an iptables REDIRECT; docs/ARCHITECTURE.md).
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst': [],

  // TCP proxy
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': [
    'stat_prefix', 'cluster', 'weighted_clusters', 'idle_timeout', 'max_connect_attempts', 'access_log',
    'max_downstream_connection_duration',
    // For RING_HASH / MAGLEV clusters (workers/tcp/connection-hash.ts).
    'hash_policy',
  ],
  'envoy.type.v3.HashPolicy': ['source_ip', 'filter_state'],
  'envoy.type.v3.HashPolicy.SourceIp': [],
  'envoy.type.v3.HashPolicy.FilterState': ['key'],
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster': ['clusters'],
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight': ['name', 'weight'],

  // HTTP connection manager
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': [
    'codec_type', 'stat_prefix', 'route_config', 'http_filters', 'access_log', 'use_remote_address',
    'xff_num_trusted_hops', 'skip_xff_append', 'via', 'generate_request_id', 'preserve_external_request_id',
    'server_name', 'server_header_transformation', 'request_timeout', 'stream_idle_timeout', 'request_headers_timeout',
    // delayed_close_timeout: HTTP/1.1 connections only (workers/http/downstream-connection.ts, closeGracefully).
    'delayed_close_timeout', 'common_http_protocol_options', 'http_protocol_options', 'max_request_headers_kb',
    'upgrade_configs', 'normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action', 'always_set_request_id_in_response',
    'http2_protocol_options', 'stream_error_on_invalid_http_message',
    // Expect: 100-continue answered by Legate (default) or relayed with the upstream's 100 (ActiveStream).
    'proxy_100_continue',
    // Mappers and body_format applied to every local reply (workers/http/local-reply-rewriter.ts).
    'local_reply_config',
    // RDS over ADS (src/xds/merge-resources.ts turns it into the route_config the control plane sent).
    'rds',
    // OpenTelemetry and Zipkin tracing (src/tracing, workers/tracing).
    'tracing',
    // What counts as internal for x-envoy-internal and header sanitizing (src/snapshot/internal-address.ts).
    'internal_address_config',
  ],
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.InternalAddressConfig': ['unix_sockets', 'cidr_ranges'],
  'envoy.config.core.v3.Http2ProtocolOptions': [
    'max_concurrent_streams', 'initial_stream_window_size', 'initial_connection_window_size', 'hpack_table_size',
    'max_outbound_frames', 'max_outbound_control_frames', 'max_consecutive_inbound_frames_with_empty_payload',
    'stream_error_on_invalid_http_messaging', 'override_stream_error_on_invalid_http_message', 'connection_keepalive',
    'max_inbound_priority_frames_per_stream', 'max_inbound_window_update_frames_per_data_frame_sent',
  ],
  'envoy.config.core.v3.KeepaliveSettings': ['interval', 'timeout', 'interval_jitter', 'connection_idle_interval'],
  // is_optional: a filter Legate does not run is skipped (a warning), as Envoy skips one it has no factory for;
  // disabled: the filter runs only where a route's typed_per_filter_config enables it (src/filters).
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter': ['name', 'typed_config', 'is_optional', 'disabled'],
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.UpgradeConfig': ['upgrade_type', 'enabled'],
  'envoy.config.core.v3.HttpProtocolOptions': [
    'idle_timeout', 'max_headers_count', 'headers_with_underscores_action', 'max_connection_duration',
    'max_requests_per_connection', 'max_stream_duration',
  ],
  'envoy.config.core.v3.Http1ProtocolOptions': ['accept_http_10', 'default_host_for_http_10'],
  'envoy.config.core.v3.SchemeHeaderTransformation': ['scheme_to_overwrite', 'match_upstream'],
  'envoy.extensions.filters.http.router.v3.Router': ['dynamic_stats', 'suppress_envoy_headers', 'start_child_span'],
  // Tracing (src/tracing/tracing-config.ts, workers/tracing): OTLP over gRPC or HTTP, Zipkin v2 JSON. verbose is
  // accepted without effect (no per-event annotations). Not supported yet: metadata custom tags, resource detectors
  // other than environment / static_config, samplers other than always_on, Zipkin HTTP_PROTO / GRPC,
  // split_spans_for_request.
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Tracing': [
    'provider', 'random_sampling', 'client_sampling', 'overall_sampling', 'verbose', 'max_path_tag_length', 'custom_tags',
    'spawn_upstream_span',
  ],
  'envoy.config.trace.v3.Tracing.Http': ['name', 'typed_config'],
  // Route.decorator: the operation names the request's span (propagate / x-envoy-decorator-operation: not yet).
  'envoy.config.route.v3.Decorator': ['operation'],
  'envoy.config.trace.v3.OpenTelemetryConfig': ['grpc_service', 'http_service', 'service_name', 'resource_detectors', 'sampler'],
  // OpenTelemetry resource detectors (environment: OTEL_RESOURCE_ATTRIBUTES read at load) and the always_on sampler.
  'envoy.extensions.tracers.opentelemetry.resource_detectors.v3.EnvironmentResourceDetectorConfig': [],
  'envoy.extensions.tracers.opentelemetry.resource_detectors.v3.StaticConfigResourceDetectorConfig': ['attributes'],
  'envoy.extensions.tracers.opentelemetry.samplers.v3.AlwaysOnSamplerConfig': [],
  'envoy.config.trace.v3.ZipkinConfig': [
    'collector_cluster', 'collector_endpoint', 'collector_endpoint_version', 'trace_id_128bit', 'shared_span_context',
    'collector_hostname',
  ],
  'envoy.config.core.v3.HttpService': ['http_uri', 'request_headers_to_add'],
  'envoy.type.tracing.v3.CustomTag': ['tag', 'literal', 'environment', 'request_header'],
  'envoy.type.tracing.v3.CustomTag.Literal': ['value'],
  'envoy.type.tracing.v3.CustomTag.Environment': ['name', 'default_value'],
  'envoy.type.tracing.v3.CustomTag.Header': ['name', 'default_value'],

  // Routes
  'envoy.config.route.v3.RouteConfiguration': [
    'name', 'virtual_hosts', 'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add',
    'response_headers_to_remove', 'internal_only_headers', 'validate_clusters', 'most_specific_header_mutations_wins',
  ],
  // typed_per_filter_config: per-route config of the HTTP filters Legate runs (the route's entry wins over the
  // virtual host's), or FilterConfig (disabled, is_optional). Each value is checked by its @type like any extension.
  // cors (deprecated, on a virtual host or route action): the CORS filter's fallback policy (src/filters/cors-config.ts).
  'envoy.config.route.v3.VirtualHost': [
    'name', 'domains', 'routes', 'require_tls', 'request_headers_to_add', 'request_headers_to_remove',
    'response_headers_to_add', 'response_headers_to_remove', 'typed_per_filter_config', 'cors',
    // Request mirroring (src/router/mirror-policy.ts): the default for routes that have none.
    'request_mirror_policies',
    // Retries (src/router/retry-policy.ts, workers/router/retry-state.ts).
    'retry_policy', 'include_request_attempt_count', 'include_attempt_count_in_response', 'hedge_policy',
  ],
  'envoy.config.route.v3.Route': [
    'name', 'match', 'route', 'redirect', 'direct_response', 'request_headers_to_add', 'request_headers_to_remove',
    'response_headers_to_add', 'response_headers_to_remove', 'typed_per_filter_config',
    // The span name when tracing (src/tracing).
    'decorator',
  ],
  'envoy.config.route.v3.FilterConfig': ['config', 'is_optional', 'disabled'],
  // envoy.filters.http.cors (src/filters/cors-config.ts, workers/http/filters/cors-filter.ts). filter_enabled and
  // shadow_enabled are their default_value: Legate reads no runtime, so a runtime_key overrides nothing.
  'envoy.extensions.filters.http.cors.v3.Cors': [],
  'envoy.extensions.filters.http.cors.v3.CorsPolicy': [
    'allow_origin_string_match', 'allow_methods', 'allow_headers', 'expose_headers', 'max_age', 'allow_credentials',
    'filter_enabled', 'shadow_enabled', 'allow_private_network_access', 'forward_not_matching_preflights',
  ],
  'envoy.config.route.v3.CorsPolicy': [
    'allow_origin_string_match', 'allow_methods', 'allow_headers', 'expose_headers', 'max_age', 'allow_credentials',
    'filter_enabled', 'shadow_enabled', 'allow_private_network_access', 'forward_not_matching_preflights',
  ],
  // envoy.filters.http.local_ratelimit (src/filters/local-ratelimit-config.ts, workers/http/filters/
  // local-ratelimit-filter.ts), as the filter's config and per route; one token bucket per worker. descriptors
  // (with stage and vh_rate_limits) need route rate_limits actions, per-connection and cluster-wide buckets other
  // sharing: not supported yet. always_consume_default_token_bucket only matters with descriptors: accepted.
  'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit': [
    'stat_prefix', 'status', 'token_bucket', 'filter_enabled', 'filter_enforced', 'request_headers_to_add_when_not_enforced',
    'response_headers_to_add', 'enable_x_ratelimit_headers', 'always_consume_default_token_bucket', 'rate_limited_as_resource_exhausted',
  ],
  'envoy.type.v3.TokenBucket': ['max_tokens', 'tokens_per_fill', 'fill_interval'],
  // envoy.filters.http.ext_authz (src/filters/ext-authz-config.ts, workers/http/filters/ext-authz-filter.ts): http_service
  // or grpc_service (envoy_grpc) through the worker's async client. Not supported yet: metadata context namespaces,
  // filter_enabled_metadata, deny_at_disable, peer certificate / TLS session, mutation rules and validation, dynamic
  // metadata, encode_raw_headers, charge_cluster_response_stats, a per-route with_request_body.
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz': [
    'grpc_service', 'http_service', 'transport_api_version', 'failure_mode_allow', 'failure_mode_allow_header_add',
    'with_request_body', 'clear_route_cache', 'status_on_error', 'stat_prefix', 'filter_enabled', 'allowed_headers',
    'disallowed_headers',
  ],
  'envoy.extensions.filters.http.ext_authz.v3.BufferSettings': ['max_request_bytes', 'allow_partial_message', 'pack_as_bytes'],
  'envoy.extensions.filters.http.ext_authz.v3.HttpService': ['server_uri', 'path_prefix', 'authorization_request', 'authorization_response'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationRequest': ['allowed_headers', 'headers_to_add'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse': [
    'allowed_upstream_headers', 'allowed_upstream_headers_to_append', 'allowed_client_headers', 'allowed_client_headers_on_success',
  ],
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute': ['disabled', 'check_settings'],
  'envoy.extensions.filters.http.ext_authz.v3.CheckSettings': ['context_extensions', 'disable_request_body_buffering'],
  // envoy.filters.http.ext_proc (src/filters/ext-proc-config.ts, workers/http/filters/ext-proc-filter.ts): headers,
  // BUFFERED bodies both ways, response trailers, over envoy_grpc; STREAMED / BUFFERED_PARTIAL bodies and sending
  // request trailers are refused (SUPPORTED_ENUM_VALUES), as are attributes, metadata options, mutation rules, forward_rules, mode overrides from
  // the processor, observability mode and the per-route overrides other than processing_mode.
  'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor': [
    'grpc_service', 'failure_mode_allow', 'processing_mode', 'message_timeout', 'stat_prefix',
  ],
  'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode': [
    'request_header_mode', 'response_header_mode', 'request_body_mode', 'response_body_mode', 'request_trailer_mode',
    'response_trailer_mode',
  ],
  'envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute': ['disabled', 'overrides'],
  'envoy.extensions.filters.http.ext_proc.v3.ExtProcOverrides': ['processing_mode'],
  // envoy.filters.http.fault (src/filters/fault-config.ts, workers/http/filters/fault-filter.ts), as the filter's
  // config and per route. max_active_faults counts per worker. The *_runtime keys: accepted; Legate reads no
  // runtime, so they act as in an Envoy whose runtime lacks them. disable_downstream_cluster_stats: accepted; no
  // effect (Legate writes no per-downstream-cluster fault stats). response_rate_limit and filter_metadata: not
  // supported yet.
  'envoy.extensions.filters.http.fault.v3.HTTPFault': [
    'delay', 'abort', 'upstream_cluster', 'headers', 'downstream_nodes', 'max_active_faults', 'delay_percent_runtime',
    'abort_percent_runtime', 'delay_duration_runtime', 'abort_http_status_runtime', 'max_active_faults_runtime',
    'abort_grpc_status_runtime', 'disable_downstream_cluster_stats', 'response_rate_limit_percent_runtime',
  ],
  'envoy.extensions.filters.common.fault.v3.FaultDelay': ['fixed_delay', 'header_delay', 'percentage'],
  'envoy.extensions.filters.common.fault.v3.FaultDelay.HeaderDelay': [],
  'envoy.extensions.filters.http.fault.v3.FaultAbort': ['http_status', 'grpc_status', 'header_abort', 'percentage'],
  'envoy.extensions.filters.http.fault.v3.FaultAbort.HeaderAbort': [],
  // envoy.filters.http.buffer (src/filters/buffer-config.ts, workers/http/filters/buffer-filter.ts).
  'envoy.extensions.filters.http.buffer.v3.Buffer': ['max_request_bytes'],
  // envoy.filters.http.lua (src/filters/lua-config.ts, workers/http/filters/lua-filter.ts): scripts on a Lua 5.4 VM.
  'envoy.extensions.filters.http.lua.v3.Lua': ['inline_code', 'default_source_code', 'source_codes', 'stat_prefix'],
  'envoy.extensions.filters.http.lua.v3.LuaPerRoute': ['disabled', 'name', 'source_code'],
  'envoy.extensions.filters.http.buffer.v3.BufferPerRoute': ['disabled', 'buffer'],
  // envoy.filters.http.health_check (src/filters/health-check-config.ts, workers/http/filters/health-check-filter.ts):
  // the cache is per worker.
  'envoy.extensions.filters.http.health_check.v3.HealthCheck': ['pass_through_mode', 'cache_time', 'cluster_min_healthy_percentages', 'headers'],
  // envoy.filters.http.header_mutation (src/filters/header-mutation-config.ts, workers/http/filters/
  // header-mutation-filter.ts), as the filter's config and per route.
  'envoy.extensions.filters.http.header_mutation.v3.HeaderMutation': ['mutations', 'most_specific_header_mutations_wins'],
  'envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute': ['mutations'],
  'envoy.extensions.filters.http.header_mutation.v3.Mutations': ['request_mutations', 'response_mutations'],
  'envoy.config.common.mutation_rules.v3.HeaderMutation': ['remove', 'append'],
  // envoy.filters.http.compressor (src/filters/compressor-config.ts, workers/http/filters/compressor-filter.ts):
  // both directions; `enabled` is its default_value (no runtime).
  'envoy.extensions.filters.http.compressor.v3.Compressor': [
    'compressor_library', 'response_direction_config', 'request_direction_config', 'choose_first', 'content_length',
    'content_type', 'disable_on_etag_header', 'remove_accept_encoding_header', 'runtime_enabled',
  ],
  'envoy.extensions.filters.http.compressor.v3.Compressor.RequestDirectionConfig': ['common_config'],
  'envoy.extensions.filters.http.compressor.v3.Compressor.ResponseDirectionConfig': ['common_config', 'disable_on_etag_header', 'remove_accept_encoding_header'],
  'envoy.extensions.filters.http.compressor.v3.Compressor.CommonDirectionConfig': ['enabled', 'min_content_length', 'content_type'],
  'envoy.config.core.v3.RuntimeFeatureFlag': ['default_value', 'runtime_key'],
  'envoy.extensions.filters.http.compressor.v3.CompressorPerRoute': ['disabled', 'overrides'],
  'envoy.extensions.filters.http.compressor.v3.CompressorOverrides': ['response_direction_config'],
  'envoy.extensions.filters.http.compressor.v3.ResponseDirectionOverrides': ['remove_accept_encoding_header'],
  'envoy.extensions.compression.gzip.compressor.v3.Gzip': ['memory_level', 'compression_level', 'compression_strategy', 'window_bits', 'chunk_size'],
  'envoy.extensions.compression.brotli.compressor.v3.Brotli': [
    'quality', 'encoder_mode', 'window_bits', 'input_block_bits', 'chunk_size', 'disable_literal_context_modeling',
  ],
  // zstd: no dictionary, the DEFAULT strategy only (the compiler refuses others).
  'envoy.extensions.compression.zstd.compressor.v3.Zstd': ['compression_level', 'enable_checksum', 'strategy', 'chunk_size'],
  // envoy.filters.http.decompressor (src/filters/decompressor-config.ts, workers/http/filters/decompressor-filter.ts).
  // brotli's disable_ring_buffer_reallocation is a memory hint to the library, which Node's brotli does not take:
  // accepted without effect. zstd dictionaries: not supported yet.
  'envoy.extensions.filters.http.decompressor.v3.Decompressor': ['decompressor_library', 'request_direction_config', 'response_direction_config'],
  'envoy.extensions.filters.http.decompressor.v3.Decompressor.RequestDirectionConfig': ['common_config', 'advertise_accept_encoding'],
  'envoy.extensions.filters.http.decompressor.v3.Decompressor.ResponseDirectionConfig': ['common_config'],
  'envoy.extensions.filters.http.decompressor.v3.Decompressor.CommonDirectionConfig': ['enabled', 'ignore_no_transform_header'],
  'envoy.extensions.compression.gzip.decompressor.v3.Gzip': ['window_bits', 'chunk_size', 'max_inflate_ratio'],
  'envoy.extensions.compression.brotli.decompressor.v3.Brotli': ['disable_ring_buffer_reallocation', 'chunk_size'],
  'envoy.extensions.compression.zstd.decompressor.v3.Zstd': ['chunk_size'],
  // envoy.filters.http.grpc_web (src/filters/grpc-web-config.ts, workers/http/filters/grpc-web-filter.ts): no settings.
  'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb': [],
  // envoy.filters.http.grpc_http1_bridge (src/filters/grpc-http1-bridge-config.ts, workers/http/filters/
  // grpc-http1-bridge-filter.ts): upgrade_protobuf_to_grpc and ignore_query_parameters are not supported yet.
  'envoy.extensions.filters.http.grpc_http1_bridge.v3.Config': [],
  // envoy.filters.http.basic_auth (src/filters/basic-auth-config.ts, workers/http/filters/basic-auth-filter.ts):
  // htpasswd users with {SHA} only (other schemes are refused, as Envoy's), per route users.
  'envoy.extensions.filters.http.basic_auth.v3.BasicAuth': ['users', 'forward_username_header'],
  'envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute': ['users'],
  // envoy.filters.http.dynamic_forward_proxy + envoy.clusters.dynamic_forward_proxy (src/filters/dynamic-forward-proxy-config.ts,
  // workers/http/filters/dynamic-forward-proxy-filter.ts, workers/upstream/dns-cache.ts). DnsCacheConfig's other
  // fields (preresolve_hostnames, dns_failure_refresh_rate, resolvers...) and sub_clusters_config: not supported yet.
  'envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig': ['dns_cache_config'],
  'envoy.extensions.filters.http.dynamic_forward_proxy.v3.PerRouteConfig': ['host_rewrite_literal', 'host_rewrite_header'],
  'envoy.extensions.common.dynamic_forward_proxy.v3.DnsCacheConfig': ['name', 'dns_lookup_family', 'dns_refresh_rate', 'host_ttl', 'max_hosts', 'dns_cache_circuit_breaker'],
  'envoy.extensions.common.dynamic_forward_proxy.v3.DnsCacheCircuitBreakers': ['max_pending_requests'],
  'envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig': ['dns_cache_config', 'allow_insecure_cluster_options'],
  // envoy.filters.http.jwt_authn (src/filters/jwt-authn/, workers/http/filters/jwt-authn/). Not supported yet: a
  // provider's failed_status_in_metadata (its codes are jwt_verify_lib's enum numbers, which differ between
  // versions), a remote_jwks retry_policy's retry_priority / retry_host_predicate / host_selection_retry_max_attempts
  // (its retries are below, in SUPPORTED_FIELDS_IN_CONTEXT).
  'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication': [
    'providers', 'rules', 'bypass_cors_preflight', 'requirement_map', 'filter_state_rules', 'strip_failure_response',
  ],
  'envoy.extensions.filters.http.jwt_authn.v3.FilterStateRule': ['name', 'requires'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtProvider.NormalizePayload': ['space_delimited_claims'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtProvider': [
    'issuer', 'audiences', 'subjects', 'require_expiration', 'max_lifetime', 'remote_jwks', 'local_jwks', 'forward',
    'from_headers', 'from_params', 'from_cookies',
    'forward_payload_header', 'pad_forward_payload_header', 'payload_in_metadata', 'normalize_payload_in_metadata',
    'header_in_metadata',
    'clock_skew_seconds', 'jwt_cache_config', 'claim_to_headers', 'clear_route_cache',
  ],
  'envoy.extensions.filters.http.jwt_authn.v3.RemoteJwks': ['http_uri', 'cache_duration', 'async_fetch', 'retry_policy'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwksAsyncFetch': ['fast_listener', 'failed_refetch_duration'],
  'envoy.config.core.v3.HttpUri': ['uri', 'cluster', 'timeout'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtHeader': ['name', 'value_prefix'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtCacheConfig': ['jwt_cache_size'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtClaimToHeader': ['header_name', 'claim_name'],
  'envoy.extensions.filters.http.jwt_authn.v3.ProviderWithAudiences': ['provider_name', 'audiences'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement': [
    'provider_name', 'provider_and_audiences', 'requires_any', 'requires_all', 'allow_missing_or_failed', 'allow_missing',
  ],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtRequirementOrList': ['requirements'],
  'envoy.extensions.filters.http.jwt_authn.v3.JwtRequirementAndList': ['requirements'],
  'envoy.extensions.filters.http.jwt_authn.v3.RequirementRule': ['match', 'requires', 'requirement_name'],
  'envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig': ['disabled', 'requirement_name'],
  'google.protobuf.Empty': [],
  // Legate's TypeScript filter (src/filters/typescript-filter-config.ts, workers/http/filters/typescript-filter*.ts,
  // its message in src/config-loader/protos/): a user's filter module, its config and CPU budget; per route, a config.
  'legate.filters.http.typescript.v1.TypeScriptFilter': ['filter_path', 'config', 'cpu_budget_ms'],
  'legate.filters.http.typescript.v1.TypeScriptFilterPerRoute': ['config'],
  // envoy.filters.http.rbac and envoy.filters.network.rbac (src/filters/rbac-*.ts, workers/http/filters/rbac-filter.ts,
  // workers/listener/rbac-network-filter.ts): rules and shadow_rules; the unified matcher API (matcher,
  // shadow_matcher), CEL conditions, metadata/filter_state matchers and audit logging are not supported yet. The
  // network filter decides once, when the connection is placed on its chain (both enforcement types).
  'envoy.extensions.filters.http.rbac.v3.RBAC': [
    'rules', 'shadow_rules', 'rules_stat_prefix', 'shadow_rules_stat_prefix', 'matcher', 'shadow_matcher',
  ],
  'envoy.extensions.filters.http.rbac.v3.RBACPerRoute': ['rbac'],
  // envoy.filters.network.local_ratelimit (src/filters/network-local-ratelimit-config.ts): share_key not supported yet.
  'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit': ['stat_prefix', 'token_bucket', 'runtime_enabled'],
  'envoy.extensions.filters.network.rbac.v3.RBAC': [
    'rules', 'shadow_rules', 'shadow_rules_stat_prefix', 'stat_prefix', 'enforcement_type', 'matcher', 'shadow_matcher',
  ],
  // The RBAC filters' matcher / shadow_matcher (src/filters/rbac-matcher.ts): a matcher_list of single predicates on
  // the inputs below, and/or/not, with envoy.config.rbac.v3.Action actions. No matcher_tree, nested matchers,
  // keep_matching or custom_match yet.
  'xds.type.matcher.v3.Matcher': ['matcher_list', 'on_no_match'],
  'xds.type.matcher.v3.Matcher.OnMatch': ['action'],
  'xds.type.matcher.v3.Matcher.MatcherList': ['matchers'],
  'xds.type.matcher.v3.Matcher.MatcherList.FieldMatcher': ['predicate', 'on_match'],
  'xds.type.matcher.v3.Matcher.MatcherList.Predicate': ['single_predicate', 'or_matcher', 'and_matcher', 'not_matcher'],
  'xds.type.matcher.v3.Matcher.MatcherList.Predicate.SinglePredicate': ['input', 'value_match'],
  'xds.type.matcher.v3.Matcher.MatcherList.Predicate.PredicateList': ['predicate'],
  'xds.type.matcher.v3.StringMatcher': ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'],
  'xds.type.matcher.v3.RegexMatcher': ['google_re2', 'regex'],
  'xds.type.matcher.v3.RegexMatcher.GoogleRE2': [],
  'xds.core.v3.TypedExtensionConfig': ['name', 'typed_config'],
  'envoy.config.rbac.v3.Action': ['name', 'action'],
  'envoy.type.matcher.v3.HttpRequestHeaderMatchInput': ['header_name'],
  'envoy.extensions.matching.common_inputs.network.v3.DestinationIPInput': [],
  'envoy.extensions.matching.common_inputs.network.v3.DestinationPortInput': [],
  'envoy.extensions.matching.common_inputs.network.v3.SourceIPInput': [],
  'envoy.extensions.matching.common_inputs.network.v3.DirectSourceIPInput': [],
  'envoy.extensions.matching.common_inputs.network.v3.ServerNameInput': [],
  'envoy.extensions.matching.common_inputs.ssl.v3.UriSanInput': [],
  'envoy.extensions.matching.common_inputs.ssl.v3.DnsSanInput': [],
  'envoy.extensions.matching.common_inputs.ssl.v3.SubjectInput': [],
  'envoy.config.rbac.v3.RBAC': ['action', 'policies'],
  'envoy.config.rbac.v3.Policy': ['permissions', 'principals'],
  'envoy.config.rbac.v3.Permission': [
    'and_rules', 'or_rules', 'any', 'header', 'url_path', 'destination_ip', 'destination_port', 'destination_port_range',
    'not_rule', 'requested_server_name',
  ],
  'envoy.config.rbac.v3.Permission.Set': ['rules'],
  'envoy.config.rbac.v3.Principal': [
    'and_ids', 'or_ids', 'any', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip', 'header', 'url_path', 'not_id',
  ],
  'envoy.config.rbac.v3.Principal.Set': ['ids'],
  'envoy.config.rbac.v3.Principal.Authenticated': ['principal_name'],
  'envoy.type.matcher.v3.PathMatcher': ['path'],
  'envoy.type.v3.Int32Range': ['start', 'end'],
  // envoy.filters.http.csrf (src/filters/csrf-config.ts, workers/http/filters/csrf-filter.ts): filter_enabled and
  // shadow_enabled are their default_value (Legate reads no runtime).
  'envoy.extensions.filters.http.csrf.v3.CsrfPolicy': ['filter_enabled', 'shadow_enabled', 'additional_origins'],
  'envoy.type.v3.HttpStatus': ['code'],
  'envoy.config.core.v3.RuntimeFractionalPercent': ['default_value', 'runtime_key'],
  'envoy.type.v3.FractionalPercent': ['numerator', 'denominator'],
  'envoy.config.route.v3.RouteMatch': [
    'prefix', 'path', 'safe_regex', 'path_separated_prefix', 'case_sensitive', 'headers', 'query_parameters', 'grpc',
  ],
  'envoy.config.route.v3.RouteMatch.GrpcRouteMatchOptions': [],
  'envoy.config.route.v3.HeaderMatcher': [
    'name', 'exact_match', 'safe_regex_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match',
    'string_match', 'invert_match', 'treat_missing_header_as_empty',
  ],
  'envoy.config.route.v3.QueryParameterMatcher': ['name', 'string_match', 'present_match'],
  'envoy.type.matcher.v3.StringMatcher': ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'],
  'envoy.type.matcher.v3.RegexMatcher': ['regex', 'google_re2'],
  'envoy.type.matcher.v3.RegexMatcher.GoogleRE2': ['max_program_size'],
  'envoy.type.matcher.v3.RegexMatchAndSubstitute': ['pattern', 'substitution'],
  'envoy.config.route.v3.RouteAction': [
    'cluster', 'prefix_rewrite', 'regex_rewrite', 'host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header',
    'timeout', 'idle_timeout', 'upgrade_configs', 'max_stream_duration', 'cors',
    // cluster_specifier and request mirroring (src/router/weighted-clusters.ts, mirror-policy.ts, workers/router/mirror.ts).
    'cluster_header', 'weighted_clusters', 'request_mirror_policies',
    'retry_policy', 'hedge_policy',
    // Consistent hashing (src/router/hash-policy.ts), read by RING_HASH and MAGLEV clusters.
    'hash_policy',
    // DEFAULT or HIGH: which circuit breakers (and pools) of the cluster (src/upstream/circuit-breaker-shared.ts).
    'priority',
    // Subset load balancing: the envoy.lb criteria (src/router/metadata-match.ts, workers/upstream/subset-lb.ts).
    'metadata_match',
  ],
  // cookie.attributes (extra Set-Cookie attributes): not supported yet.
  'envoy.config.route.v3.RouteAction.HashPolicy': ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state', 'terminal'],
  'envoy.config.route.v3.RouteAction.HashPolicy.Header': ['header_name', 'regex_rewrite'],
  'envoy.config.route.v3.RouteAction.HashPolicy.Cookie': ['name', 'ttl', 'path'],
  'envoy.config.route.v3.RouteAction.HashPolicy.ConnectionProperties': ['source_ip'],
  'envoy.config.route.v3.RouteAction.HashPolicy.QueryParameter': ['name'],
  'envoy.config.route.v3.RouteAction.HashPolicy.FilterState': ['key'],
  // Retries in the router (src/router/retry-policy.ts): retry_priority and retry_options_predicates are not
  // supported yet; of the host predicates only previous_hosts (checked by name at compile).
  'envoy.config.route.v3.RetryPolicy': [
    'retry_on', 'num_retries', 'per_try_timeout', 'per_try_idle_timeout', 'retry_host_predicate',
    'host_selection_retry_max_attempts', 'retriable_status_codes', 'retry_back_off', 'rate_limited_retry_back_off',
    'retriable_headers', 'retriable_request_headers',
  ],
  'envoy.config.route.v3.RetryPolicy.RetryHostPredicate': ['name', 'typed_config'],
  // hedge_on_per_try_timeout; initial_requests other than 1 and additional_request_chance are refused at compile.
  'envoy.config.route.v3.HedgePolicy': ['hedge_on_per_try_timeout', 'initial_requests', 'additional_request_chance'],
  'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate': [],
  'envoy.config.route.v3.RetryPolicy.RetryBackOff': ['base_interval', 'max_interval'],
  'envoy.config.route.v3.RetryPolicy.RateLimitedRetryBackOff': ['reset_headers', 'max_interval'],
  'envoy.config.route.v3.RetryPolicy.ResetHeader': ['name', 'format'],
  'envoy.config.route.v3.RouteAction.MaxStreamDuration': ['max_stream_duration', 'grpc_timeout_header_max', 'grpc_timeout_header_offset'],
  'envoy.config.route.v3.RouteAction.UpgradeConfig': ['upgrade_type', 'enabled'],
  // weighted_clusters: total_weight is deprecated and, as in Envoy, not read (the sum of the weights is the total);
  // runtime_key_prefix names runtime keys and Legate reads no runtime: the configured weights apply. metadata_match
  // is merged over the route's (src/router/metadata-match.ts).
  'envoy.config.route.v3.WeightedCluster': ['clusters', 'total_weight', 'runtime_key_prefix', 'header_name'],
  'envoy.config.route.v3.WeightedCluster.ClusterWeight': [
    'name', 'cluster_header', 'weight', 'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add',
    'response_headers_to_remove', 'typed_per_filter_config', 'host_rewrite_literal', 'metadata_match',
  ],
  // runtime_fraction: its default_value decides (no runtime). Not supported yet: trace_sampled.
  'envoy.config.route.v3.RouteAction.RequestMirrorPolicy': ['cluster', 'cluster_header', 'runtime_fraction', 'disable_shadow_host_suffix_append'],
  'envoy.config.route.v3.RedirectAction': [
    'scheme_redirect', 'https_redirect', 'host_redirect', 'port_redirect', 'path_redirect', 'prefix_rewrite',
    'regex_rewrite', 'response_code', 'strip_query',
  ],
  'envoy.config.route.v3.DirectResponseAction': ['status', 'body'],
  'envoy.config.core.v3.DataSource': ['inline_string', 'inline_bytes', 'filename'],
  'envoy.config.core.v3.HeaderValueOption': ['header', 'append', 'append_action', 'keep_empty_value'],
  'envoy.config.core.v3.HeaderValue': ['key', 'value'],

  // Clusters
  'envoy.config.cluster.v3.Cluster': [
    'name', 'type', 'connect_timeout', 'lb_policy', 'load_assignment', 'dns_lookup_family', 'dns_refresh_rate',
    'respect_dns_ttl', 'per_connection_buffer_limit_bytes', 'common_http_protocol_options', 'http_protocol_options',
    'http2_protocol_options', 'alt_stat_name', 'ignore_health_on_host_removal', 'close_connections_on_host_health_failure',
    // Active health checking on the primary (src/upstream/health-check-config.ts, health-checker.ts); one per cluster.
    'health_checks',
    // What upstream/cluster-config.ts compiles besides the above.
    'dns_failure_refresh_rate', 'typed_extension_protocol_options', 'max_requests_per_connection',
    'least_request_lb_config', 'round_robin_lb_config', 'common_lb_config', 'metadata', 'wait_for_warm_on_init',
    // envoy.transport_sockets.tls with an UpstreamTlsContext (src/tls), or raw_buffer.
    'transport_socket',
    // type EDS over ADS (src/xds/merge-resources.ts gives it the ClusterLoadAssignment the control plane sent).
    'eds_cluster_config',
    'circuit_breakers',
    // Consistent hashing and the typed-extension policies (src/upstream/lb-policy-config.ts).
    'ring_hash_lb_config', 'maglev_lb_config', 'load_balancing_policy',
    // Outlier detection decided on the primary for all workers (src/upstream/outlier-config.ts, outlier-detector.ts).
    'outlier_detection',
    // cluster_type: envoy.clusters.aggregate only (src/upstream/aggregate-cluster-config.ts; others refused there).
    'cluster_type',
    // type ORIGINAL_DST (src/upstream/original-dst-config.ts, workers/upstream/original-dst-hosts.ts).
    'original_dst_lb_config', 'cleanup_interval',
    // Subset load balancing (src/upstream/subset-config.ts, workers/upstream/subset-lb.ts).
    'lb_subset_config',
  ],
  // locality_weight_aware / scale_locality_weight true and metadata_fallback_policy FALLBACK_LIST are refused by
  // src/upstream/subset-config.ts as not supported yet.
  'envoy.config.cluster.v3.Cluster.LbSubsetConfig': [
    'fallback_policy', 'default_subset', 'subset_selectors', 'panic_mode_any', 'list_as_any', 'locality_weight_aware',
    'scale_locality_weight', 'metadata_fallback_policy',
  ],
  'envoy.config.cluster.v3.Cluster.LbSubsetConfig.LbSubsetSelector': ['keys', 'single_host_per_subset', 'fallback_policy', 'fallback_keys_subset'],
  'envoy.config.cluster.v3.Cluster.OriginalDstLbConfig': ['use_http_header', 'http_header_name', 'upstream_port_override', 'metadata_key'],
  'envoy.type.metadata.v3.MetadataKey': ['key', 'path'],
  'envoy.type.metadata.v3.MetadataKey.PathSegment': ['key'],
  'envoy.config.cluster.v3.Cluster.CustomClusterType': ['name', 'typed_config'],
  'envoy.config.cluster.v3.OutlierDetection': [
    'consecutive_5xx', 'consecutive_gateway_failure', 'interval', 'base_ejection_time', 'max_ejection_time',
    'max_ejection_time_jitter', 'max_ejection_percent', 'enforcing_consecutive_5xx',
    'enforcing_consecutive_gateway_failure', 'enforcing_success_rate', 'success_rate_minimum_hosts',
    'success_rate_request_volume', 'success_rate_stdev_factor', 'failure_percentage_threshold',
    'enforcing_failure_percentage', 'failure_percentage_minimum_hosts', 'failure_percentage_request_volume',
    'split_external_local_origin_errors', 'consecutive_local_origin_failure', 'enforcing_consecutive_local_origin_failure',
    'enforcing_local_origin_success_rate', 'enforcing_failure_percentage_local_origin',
  ],
  'envoy.extensions.clusters.aggregate.v3.ClusterConfig': ['clusters'],
  // circuit_breakers (src/upstream/circuit-breakers.ts): counters over all workers in shared memory.
  'envoy.config.cluster.v3.CircuitBreakers': ['thresholds'],
  'envoy.config.cluster.v3.CircuitBreakers.Thresholds': ['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'track_remaining', 'retry_budget'],
  // retry_budget replaces max_retries: a share of the active + pending requests, over all workers.
  'envoy.config.cluster.v3.CircuitBreakers.Thresholds.RetryBudget': ['budget_percent', 'min_retry_concurrency'],
  'envoy.config.cluster.v3.Cluster.RefreshRate': ['base_interval', 'max_interval'],
  'envoy.config.cluster.v3.Cluster.LeastRequestLbConfig': ['choice_count', 'active_request_bias', 'slow_start_config'],
  'envoy.config.cluster.v3.Cluster.RoundRobinLbConfig': ['slow_start_config'],
  // Slow start (workers/upstream/slow-start.ts), on the cluster's round_robin/least_request_lb_config.
  'envoy.config.cluster.v3.Cluster.SlowStartConfig': ['slow_start_window', 'aggression', 'min_weight_percent'],
  // Consistent hashing (workers/upstream/ring-hash-lb.ts, maglev-lb.ts; src/upstream/lb-policy-config.ts):
  // hash_function MURMUR_HASH_2 is refused by the compiler.
  'envoy.config.cluster.v3.Cluster.RingHashLbConfig': ['minimum_ring_size', 'maximum_ring_size', 'hash_function'],
  'envoy.config.cluster.v3.Cluster.MaglevLbConfig': ['table_size'],
  // load_balancing_policy, the typed-extension form, onto the same load balancers.
  'envoy.config.cluster.v3.LoadBalancingPolicy': ['policies'],
  'envoy.config.cluster.v3.LoadBalancingPolicy.Policy': ['typed_extension_config'],
  'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin': [],
  'envoy.extensions.load_balancing_policies.random.v3.Random': [],
  'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest': ['choice_count', 'active_request_bias'],
  'envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash': [
    'minimum_ring_size', 'maximum_ring_size', 'hash_function', 'use_hostname_for_hashing', 'consistent_hashing_lb_config',
  ],
  'envoy.extensions.load_balancing_policies.maglev.v3.Maglev': ['table_size', 'consistent_hashing_lb_config'],
  'envoy.config.cluster.v3.Cluster.CommonLbConfig': ['healthy_panic_threshold', 'consistent_hashing_lb_config', 'locality_weighted_lb_config'],
  // Locality weighted LB (workers/upstream/locality-lb.ts); zone_aware_lb_config is not supported yet.
  'envoy.config.cluster.v3.Cluster.CommonLbConfig.LocalityWeightedLbConfig': [],
  // hash_balance_factor (bounded loads): not supported yet.
  'envoy.config.cluster.v3.Cluster.CommonLbConfig.ConsistentHashingLbConfig': ['use_hostname_for_hashing'],
  'envoy.extensions.load_balancing_policies.common.v3.ConsistentHashingLbConfig': ['use_hostname_for_hashing'],
  'envoy.config.core.v3.RuntimeDouble': ['default_value', 'runtime_key'],
  'envoy.type.v3.Percent': ['value'],
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': ['common_http_protocol_options', 'explicit_http_config', 'use_downstream_protocol_config', 'auto_config'],
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.AutoHttpConfig': ['http_protocol_options', 'http2_protocol_options'],
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig': ['http_protocol_options', 'http2_protocol_options'],
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.UseDownstreamHttpConfig': ['http_protocol_options', 'http2_protocol_options'],
  'envoy.config.endpoint.v3.ClusterLoadAssignment': ['cluster_name', 'endpoints'],
  'envoy.config.endpoint.v3.LocalityLbEndpoints': [
    'lb_endpoints', 'locality', 'load_balancing_weight', 'priority', 'proximity', 'metadata',
  ],
  'envoy.config.endpoint.v3.LbEndpoint': ['endpoint', 'load_balancing_weight', 'health_status', 'metadata'],
  // health_check_config: the port and hostname active health checks use (src/upstream/health-check-config.ts).
  'envoy.config.endpoint.v3.Endpoint': ['address', 'hostname', 'health_check_config'],
  'envoy.config.endpoint.v3.Endpoint.HealthCheckConfig': ['port_value', 'hostname', 'disable_active_health_check'],
  // Active health checks (src/upstream/health-check-config.ts). Fields absent from these lists are refused at load
  // as "not supported yet" with their position: custom and redis checkers, event_service, event_logger sinks other
  // than the file sink, tls_options, transport_socket_match_criteria, alt_port, HttpHealthCheck.send (Envoy refuses
  // it too) and TcpHealthCheck.proxy_protocol_config.
  'envoy.config.core.v3.HealthCheck': [
    'timeout', 'interval', 'initial_jitter', 'interval_jitter', 'interval_jitter_percent', 'unhealthy_threshold',
    'healthy_threshold', 'reuse_connection', 'http_health_check', 'tcp_health_check', 'grpc_health_check',
    'no_traffic_interval', 'no_traffic_healthy_interval', 'unhealthy_interval', 'unhealthy_edge_interval',
    'healthy_edge_interval', 'event_log_path', 'always_log_health_check_failures', 'always_log_health_check_success',
    'event_logger',
  ],
  'envoy.config.core.v3.HealthCheck.HttpHealthCheck': [
    'host', 'path', 'request_headers_to_add', 'request_headers_to_remove', 'expected_statuses', 'retriable_statuses',
    'codec_client_type', 'method', 'service_name_matcher', 'receive', 'response_buffer_size',
  ],
  'envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink': ['event_log_path'],
  'envoy.config.core.v3.HealthCheck.TcpHealthCheck': ['send', 'receive'],
  'envoy.config.core.v3.HealthCheck.GrpcHealthCheck': ['service_name', 'authority', 'initial_metadata'],
  'envoy.config.core.v3.HealthCheck.Payload': ['text', 'binary'],
  'envoy.type.v3.Int64Range': ['start', 'end'],

  // Access logs
  'envoy.config.accesslog.v3.AccessLog': ['name', 'typed_config', 'filter'],
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog': ['log_format'],
  'envoy.extensions.access_loggers.stream.v3.StderrAccessLog': ['log_format'],
  'envoy.extensions.access_loggers.file.v3.FileAccessLog': ['path', 'format', 'json_format', 'typed_json_format', 'log_format'],
  'envoy.config.core.v3.SubstitutionFormatString': [
    'text_format', 'text_format_source', 'json_format', 'omit_empty_values', 'content_type', 'json_format_options',
  ],
  'envoy.config.core.v3.JsonFormatOptions': ['sort_properties'],
  // local_reply_config (src/snapshot/local-reply-config.ts). AccessLogFilter (src/access-log/access-log-filter.ts)
  // serves its mappers and AccessLog.filter; RuntimeUInt32's runtime_key is read by nobody (no runtime keys yet):
  // default_value applies.
  'envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig': ['mappers', 'body_format'],
  'envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper': [
    'filter', 'status_code', 'body', 'body_format_override', 'headers_to_add',
  ],
  'envoy.config.accesslog.v3.AccessLogFilter': [
    'status_code_filter', 'duration_filter', 'header_filter', 'response_flag_filter', 'and_filter', 'or_filter',
    'not_health_check_filter',
  ],
  'envoy.config.accesslog.v3.StatusCodeFilter': ['comparison'],
  'envoy.config.accesslog.v3.DurationFilter': ['comparison'],
  'envoy.config.accesslog.v3.ComparisonFilter': ['op', 'value'],
  'envoy.config.core.v3.RuntimeUInt32': ['default_value', 'runtime_key'],
  'envoy.config.accesslog.v3.HeaderFilter': ['header'],
  'envoy.config.accesslog.v3.ResponseFlagFilter': ['flags'],
  'envoy.config.accesslog.v3.AndFilter': ['filters'],
  'envoy.config.accesslog.v3.OrFilter': ['filters'],
  'envoy.config.accesslog.v3.NotHealthCheckFilter': [],
};

/**
 * Narrower sets where one message type is reached through a particular field: key is
 * `<parent message full name>.<field>`. Wins over SUPPORTED_FIELDS for that message in that place.
 */
export const SUPPORTED_FIELDS_IN_CONTEXT: Readonly<Record<string, readonly string[]>> = {
  'envoy.config.cluster.v3.Cluster.common_http_protocol_options': ['idle_timeout', 'max_headers_count', 'max_requests_per_connection'],
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.common_http_protocol_options': [
    'idle_timeout', 'max_headers_count', 'max_requests_per_connection',
  ],
  // HTTP/1.1 upstream with Envoy's defaults: none of Http1ProtocolOptions' knobs are implemented yet.
  'envoy.config.cluster.v3.Cluster.http_protocol_options': [],
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig.http_protocol_options': [],
  // jwt_authn's remote JWKS fetch retries (workers/http/filters/jwt-authn/jwks.ts).
  'envoy.extensions.filters.http.jwt_authn.v3.RemoteJwks.retry_policy': ['retry_back_off', 'num_retries', 'retry_on'],
  'envoy.config.core.v3.RetryPolicy.retry_back_off': ['base_interval', 'max_interval'],
  // What access-log/log-format-config.ts reads without file I/O.
  'envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper.body': [
    'inline_string', 'inline_bytes', 'filename', 'environment_variable',
  ],
  'envoy.config.core.v3.SubstitutionFormatString.text_format_source': ['inline_string', 'inline_bytes', 'environment_variable'],
  // ext_authz (src/filters/ext-authz-config.ts): its gRPC service's timeout and initial_metadata; header-name lists.
  // The ADS stream's gRPC service (src/xds/ads-settings.ts): a static cluster by name.
  'envoy.config.core.v3.ApiConfigSource.grpc_services': ['envoy_grpc'],
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.grpc_service': ['envoy_grpc', 'timeout', 'initial_metadata'],
  'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor.grpc_service': ['envoy_grpc', 'initial_metadata'],
  // The OpenTelemetry tracer's OTLP/gRPC collector (src/tracing/tracing-config.ts).
  'envoy.config.trace.v3.OpenTelemetryConfig.grpc_service': ['envoy_grpc', 'timeout'],
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.allowed_headers': ['patterns'],
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.disallowed_headers': ['patterns'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationRequest.allowed_headers': ['patterns'],
  // stats_config.stats_matcher (src/stats/stats-config.ts).
  'envoy.config.metrics.v3.StatsMatcher.inclusion_list': ['patterns'],
  'envoy.config.metrics.v3.StatsMatcher.exclusion_list': ['patterns'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse.allowed_upstream_headers': ['patterns'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse.allowed_upstream_headers_to_append': ['patterns'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse.allowed_client_headers': ['patterns'],
  'envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse.allowed_client_headers_on_success': ['patterns'],
};

/** `<message full name>.<enum field>` -> the enum values Legate implements (others are not supported yet). */
export const SUPPORTED_ENUM_VALUES: Readonly<Record<string, readonly string[]>> = {
  'envoy.config.overload.v3.ScaleTimersOverloadActionConfig.ScaleTimer.timer': ['HTTP_DOWNSTREAM_CONNECTION_IDLE', 'HTTP_DOWNSTREAM_STREAM_IDLE'],
  'envoy.config.core.v3.SocketAddress.protocol': ['TCP'],
  // xDS (src/xds): ADS over gRPC, v3 only.
  'envoy.config.core.v3.ApiConfigSource.api_type': ['GRPC', 'DELTA_GRPC'],
  'envoy.config.core.v3.ApiConfigSource.transport_api_version': ['V3'],
  'envoy.config.core.v3.ConfigSource.resource_api_version': ['V3'],
  // X-RateLimit headers: not supported yet.
  'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit.enable_x_ratelimit_headers': ['OFF'],
  // ext_authz speaks envoy.service.auth.v3 only.
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.transport_api_version': ['V3'],
  // Zipkin v2 JSON only (the OpenTelemetry Zipkin exporter's); HTTP_PROTO and GRPC: not supported yet.
  'envoy.config.trace.v3.ZipkinConfig.collector_endpoint_version': ['HTTP_JSON'],
  // ext_proc: bodies NONE or BUFFERED (not STREAMED, BUFFERED_PARTIAL); request trailers not sent.
  'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.request_body_mode': ['NONE', 'BUFFERED'],
  'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.response_body_mode': ['NONE', 'BUFFERED'],
  'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.request_trailer_mode': ['DEFAULT', 'SKIP'],
};

function toSets(...tables: Readonly<Record<string, readonly string[]>>[]): ReadonlyMap<string, ReadonlySet<string>> {
  const out = new Map<string, Set<string>>();
  for (const table of tables) {
    for (const key of Object.keys(table)) {
      const set = out.get(key) ?? new Set<string>();
      for (const f of table[key]!) set.add(f);
      out.set(key, set);
    }
  }
  return out;
}

// The TLS messages are listed beside their compiler (src/tls); a message in both tables gets both sets of fields.
const BY_MESSAGE = toSets(SUPPORTED_FIELDS, TLS_SUPPORTED_FIELDS);
const BY_CONTEXT = toSets(SUPPORTED_FIELDS_IN_CONTEXT);
const ENUM_VALUES = toSets(SUPPORTED_ENUM_VALUES, TLS_SUPPORTED_ENUM_VALUES);

/**
 * The fields Legate implements for `messageFullName` when reached through `contextKey`
 * (`<parent>.<field>`, may be undefined), or undefined when the message is not supported at all.
 */
export function supportedFieldsOf(messageFullName: string, contextKey: string | undefined): ReadonlySet<string> | undefined {
  if (contextKey !== undefined) {
    const narrowed = BY_CONTEXT.get(contextKey);
    if (narrowed !== undefined) return narrowed;
  }
  return BY_MESSAGE.get(messageFullName);
}

/**
 * Enum values implemented only under a part of the config (a field path prefix): a statsd sink's address is UDP
 * (src/stats/stats-config.ts), where a listener's or cluster's is not.
 */
const ENUM_VALUES_UNDER: readonly { readonly pathPrefix: string; readonly key: string; readonly values: ReadonlySet<string> }[] = [
  { pathPrefix: 'stats_sinks[', key: 'envoy.config.core.v3.SocketAddress.protocol', values: new Set(['TCP', 'UDP']) },
  // A UDP listener (src/snapshot/udp-listener-config.ts): the compiler refuses UDP without the udp_proxy filter.
  { pathPrefix: 'static_resources.listeners[', key: 'envoy.config.core.v3.SocketAddress.protocol', values: new Set(['TCP', 'UDP']) },
];

/** Enum values Legate implements for field `<message>.<field>` (at `path`, when given), or undefined when all are. */
export function supportedEnumValuesOf(messageFullName: string, field: string, path?: string): ReadonlySet<string> | undefined {
  const key = `${messageFullName}.${field}`;
  if (path !== undefined) for (const u of ENUM_VALUES_UNDER) if (u.key === key && path.startsWith(u.pathPrefix)) return u.values;
  return ENUM_VALUES.get(key);
}
