// Test support: Envoy v3 bootstrap YAML for tests, built from small parts so each test states what it varies.

export interface RouteSpec {
  match: string; // YAML flow mapping for `match`, e.g. '{ prefix: "/" }'
  action: string; // YAML flow mapping for the action key/value, e.g. 'route: { cluster: backend }'
}

export interface ClusterSpec {
  name: string;
  endpoints: { address: string; port: number }[];
  type?: string;
  extra?: string; // extra YAML lines (indented 4 spaces)
}

export function hcmListener(opts: {
  name: string;
  /** Default 0: the kernel picks the port; read it with LegateProcess.listenerPort(name). */
  port?: number;
  /** The listener's stat_prefix (listener.<it>.* instead of listener.127.0.0.1_<port>.*): tells port-0 listeners apart. */
  listenerStatPrefix?: string;
  statPrefix?: string;
  domains?: string[];
  routes: RouteSpec[];
  hcmExtra?: string; // extra YAML lines for the HCM typed_config (indented 10 spaces)
  vhostExtra?: string;
  /** http_filters entries put before the router (YAML list items indented 10 spaces; see filter()). */
  httpFilters?: string;
}): string {
  const routes = opts.routes
    .map((r) => `              - match: ${r.match}\n                ${r.action}`)
    .join('\n');
  return `  - name: ${opts.name}
${opts.listenerStatPrefix === undefined ? '' : `    stat_prefix: ${opts.listenerStatPrefix}\n`}    address:
      socket_address: { address: 127.0.0.1, port_value: ${opts.port ?? 0} }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${opts.statPrefix ?? opts.name}
${opts.hcmExtra ?? ''}          route_config:
            name: ${opts.name}_routes
            virtual_hosts:
            - name: ${opts.name}_vhost
              domains: ${JSON.stringify(opts.domains ?? ['*'])}
${opts.vhostExtra ?? ''}              routes:
${routes}
          http_filters:
${opts.httpFilters ?? ''}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`;
}

/**
 * One http_filters entry for hcmListener's httpFilters: `typeUrl` is the "@type" (type.googleapis.com/ is added when
 * missing), `yamlBody` the typed_config's other fields (lines indented 14 spaces, each ending in a newline).
 */
export function filter(name: string, typeUrl: string, yamlBody = ''): string {
  const type = typeUrl.includes('/') ? typeUrl : `type.googleapis.com/${typeUrl}`;
  return `          - name: ${name}\n            typed_config:\n              "@type": ${type}\n${yamlBody}`;
}

export function cluster(c: ClusterSpec): string {
  const eps = c.endpoints
    .map((e) => `        - endpoint:\n            address:\n              socket_address: { address: ${e.address}, port_value: ${e.port} }`)
    .join('\n');
  return `  - name: ${c.name}
    type: ${c.type ?? 'STATIC'}
    connect_timeout: 1s
${c.extra ?? ''}    load_assignment:
      cluster_name: ${c.name}
      endpoints:
      - lb_endpoints:
${eps}
`;
}

/** A bootstrap of `listeners` and one STATIC cluster, `backend`, at 127.0.0.1:`backendPort`. */
export function backendBootstrap(listeners: string[], backendPort: number): string {
  return bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: backendPort }] })]);
}

/** A cluster's extra lines (ClusterSpec.extra) making its upstream connections HTTP/2 (explicit_http_config). */
export const HTTP2_UPSTREAM = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
`;

/** hcmListener's hcmExtra for one stdout access log writing `textFormat` (a YAML double-quoted string's content). */
export function stdoutAccessLog(textFormat: string): string {
  return `          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format: { text_format: "${textFormat}" }
`;
}

export function bootstrap(listeners: string[], clusters: string[], adminPort = 0): string {
  return `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: ${adminPort} }
static_resources:
  listeners:
${listeners.join('')}${clusters.length > 0 ? `  clusters:\n${clusters.join('')}` : ''}`;
}

/**
 * A filter-list entry (6-space indent): a connection manager sending every request to one route `action`, through
 * `httpFilters` (see filter()) before the router.
 */
function catchAllHcm(statPrefix: string, action: string, httpFilters = ''): string {
  return `      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${statPrefix}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                ${action}
          http_filters:
${httpFilters}          - name: envoy.filters.http.router
`;
}

/** A connection manager answering every request 200 with `body`. */
export function directResponseHcm(statPrefix: string, body: string): string {
  return catchAllHcm(statPrefix, `direct_response: { status: 200, body: { inline_string: "${body}" } }`);
}

/** A connection manager routing every request to `clusterName`, through `httpFilters` (see filter()) first. */
export function routeAllHcm(statPrefix: string, clusterName: string, httpFilters = ''): string {
  return catchAllHcm(statPrefix, `route: { cluster: ${clusterName} }`, httpFilters);
}

/**
 * A listener with one filter chain terminating TLS (DownstreamTlsContext with one certificate, and ALPN when
 * given) in front of `filters`: a filter-list entry at 6-space indent, e.g. directResponseHcm(). With clientCaPath,
 * mutual TLS: a client certificate is required and verified against that CA.
 */
export function tlsListener(opts: { name: string; port?: number; listenerStatPrefix?: string; certPath: string; keyPath: string; alpn?: string[]; clientCaPath?: string; filters: string }): string {
  const alpn = opts.alpn === undefined ? '' : `            alpn_protocols: [${opts.alpn.join(', ')}]\n`;
  const requireClient = opts.clientCaPath === undefined ? '' : '          require_client_certificate: true\n';
  const clientCa = opts.clientCaPath === undefined ? '' : `            validation_context:\n              trusted_ca: { filename: ${opts.clientCaPath} }\n`;
  return `  - name: ${opts.name}
${opts.listenerStatPrefix === undefined ? '' : `    stat_prefix: ${opts.listenerStatPrefix}\n`}    address:
      socket_address: { address: 127.0.0.1, port_value: ${opts.port ?? 0} }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
${requireClient}          common_tls_context:
${alpn}            tls_certificates:
            - certificate_chain: { filename: ${opts.certPath} }
              private_key: { filename: ${opts.keyPath} }
${clientCa}      filters:
${opts.filters}`;
}
