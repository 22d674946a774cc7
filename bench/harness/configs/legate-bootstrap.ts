// Any thread (pure). The Envoy v3 bootstrap Legate runs under in the benchmark, for each profile.

import { stringify } from 'yaml';
import { REALISTIC_ROUTES, REWRITES, hasTenFilters, isRealistic, logsAccess, type Profile } from './realistic-routes.ts';
import { TEN_FILTERS, tenFiltersVirtualHostConfig } from './ten-filters.ts';

export interface LegateBenchConfig {
  readonly port: number;
  readonly adminPort: number;
  readonly upstreamPort: number;
  readonly profile: Profile;
  /** File for the access log (realistic-log only). */
  readonly accessLogPath: string;
  /** TLS on the listener, ALPN h2 and http/1.1 (the h2-tls scenario); the HCM picks the codec (AUTO). */
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /** The cluster speaks HTTP/2 (prior knowledge) to the upstream: the gRPC server. */
  readonly upstreamHttp2?: boolean;
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const FILE_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function routeMatch(r: (typeof REALISTIC_ROUTES)[number]): Record<string, unknown> {
  switch (r.kind) {
    case 'prefix':
      return { prefix: r.value };
    case 'path':
      return { path: r.value };
    case 'regex':
      return { safe_regex: { regex: r.value } };
    case 'prefix-header':
      return { prefix: r.value, headers: [{ name: r.header!.name, string_match: { exact: r.header!.value } }] };
  }
}

export function legateBootstrap(c: LegateBenchConfig): Record<string, unknown> {
  const realistic = isRealistic(c.profile);
  const routes: Record<string, unknown>[] = [];
  if (realistic) {
    for (const r of REALISTIC_ROUTES) routes.push({ match: routeMatch(r), route: { cluster: 'upstream' } });
  }
  routes.push({ match: { prefix: '/' }, route: { cluster: 'upstream' } });

  const tenFilters = hasTenFilters(c.profile);
  const virtualHost: Record<string, unknown> = { name: 'all', domains: ['*'], routes };
  if (tenFilters) virtualHost['typed_per_filter_config'] = tenFiltersVirtualHostConfig();
  const routeConfig: Record<string, unknown> = { name: 'bench', virtual_hosts: [virtualHost] };
  const hcm: Record<string, unknown> = {
    '@type': HCM_TYPE,
    stat_prefix: 'bench',
    route_config: routeConfig,
    http_filters: [...(tenFilters ? TEN_FILTERS : []), { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
  };
  if (realistic) {
    hcm['use_remote_address'] = true;
    hcm['generate_request_id'] = true;
    routeConfig['request_headers_to_add'] = [
      { header: { key: REWRITES.requestSet.name, value: REWRITES.requestSet.value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ];
    routeConfig['request_headers_to_remove'] = [REWRITES.requestRemove];
    routeConfig['response_headers_to_add'] = [
      { header: { key: REWRITES.responseSet, value: 'legate' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ];
    routeConfig['response_headers_to_remove'] = [REWRITES.responseRemove];
  }
  // AUTO is the default; spelled out where the downstream speaks HTTP/2 (ALPN h2, or h2c prior knowledge for gRPC).
  if (c.tls !== undefined || c.upstreamHttp2 === true) hcm['codec_type'] = 'AUTO';
  if (logsAccess(c.profile)) {
    // Envoy's default format, to a file: the comparison with nginx's and HAProxy's file/stdout logs.
    hcm['access_log'] = [{ name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_LOG_TYPE, path: c.accessLogPath } }];
  }
  const filterChain: Record<string, unknown> = { filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] };
  if (c.tls !== undefined) {
    filterChain['transport_socket'] = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TLS_TYPE,
        common_tls_context: {
          alpn_protocols: ['h2', 'http/1.1'],
          tls_certificates: [{ certificate_chain: { filename: c.tls.certPath }, private_key: { filename: c.tls.keyPath } }],
        },
      },
    };
  }
  const cluster: Record<string, unknown> = {
    name: 'upstream',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: 'upstream',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: c.upstreamPort } } } }] }],
    },
  };
  if (c.upstreamHttp2 === true) {
    cluster['typed_extension_protocol_options'] = {
      [HTTP_OPTIONS]: { '@type': `type.googleapis.com/${HTTP_OPTIONS}`, explicit_http_config: { http2_protocol_options: {} } },
    };
  }
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: c.adminPort } } },
    static_resources: {
      listeners: [
        {
          name: 'bench',
          address: { socket_address: { address: '127.0.0.1', port_value: c.port } },
          filter_chains: [filterChain],
        },
      ],
      clusters: [cluster],
    },
  };
}

export function legateBootstrapYaml(c: LegateBenchConfig): string {
  const what = `${c.tls !== undefined ? ', TLS h2/http1.1' : ''}${c.upstreamHttp2 === true ? ', HTTP/2 upstream' : ''}`;
  return `# Generated by bench/run.ts (profile: ${c.profile}${what}).\n` + stringify(legateBootstrap(c), { lineWidth: 0 });
}
