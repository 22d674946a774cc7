// Any thread (pure). The "realistic-filters" profile's HTTP filter chain: ten of Legate's built-in HTTP filters
// configured as a production chain would be, but so that none of them acts on the benchmark's requests (a GET
// without Origin, Accept-Encoding, gRPC-web content type or body, on a path that is not the health check's). Issue
// 14 asks the CPU targets to hold with this chain as well as with the router alone: the row measures what a
// configured filter costs per request when it has nothing to do.

const T = 'type.googleapis.com/envoy.extensions.filters.http';
const ALWAYS = { default_value: { numerator: 100, denominator: 'HUNDRED' } };
/** A header no benchmark request or upstream response carries. */
export const ABSENT_HEADER = 'x-bench-absent';
/** The health check filter's path; the benchmark requests other paths. */
export const HEALTH_CHECK_PATH = '/healthz';
/** The only origin the CORS policy allows; the benchmark requests carry no Origin. */
export const CORS_ORIGIN = 'https://app.example';

/** The ten filters, in chain order, each an HttpFilter entry (the router is appended by the bootstrap). */
export const TEN_FILTERS: readonly Record<string, unknown>[] = Object.freeze([
  {
    name: 'envoy.filters.http.health_check',
    typed_config: {
      '@type': `${T}.health_check.v3.HealthCheck`,
      pass_through_mode: false,
      headers: [{ name: ':path', string_match: { exact: HEALTH_CHECK_PATH } }],
    },
  },
  { name: 'envoy.filters.http.cors', typed_config: { '@type': `${T}.cors.v3.Cors` } },
  {
    name: 'envoy.filters.http.csrf',
    typed_config: { '@type': `${T}.csrf.v3.CsrfPolicy`, filter_enabled: ALWAYS, additional_origins: [{ exact: 'app.example' }] },
  },
  {
    name: 'envoy.filters.http.rbac',
    typed_config: {
      '@type': `${T}.rbac.v3.RBAC`,
      rules: { action: 'ALLOW', policies: { 'allow-all': { permissions: [{ any: true }], principals: [{ any: true }] } } },
    },
  },
  {
    name: 'envoy.filters.http.local_ratelimit',
    typed_config: {
      '@type': `${T}.local_ratelimit.v3.LocalRateLimit`,
      stat_prefix: 'bench_ratelimit',
      token_bucket: { max_tokens: 1_000_000_000, tokens_per_fill: 1_000_000_000, fill_interval: '1s' },
      filter_enabled: ALWAYS,
      filter_enforced: ALWAYS,
    },
  },
  {
    name: 'envoy.filters.http.fault',
    typed_config: {
      '@type': `${T}.fault.v3.HTTPFault`,
      abort: { http_status: 503, percentage: { numerator: 0, denominator: 'HUNDRED' } },
      delay: { fixed_delay: '1s', percentage: { numerator: 0, denominator: 'HUNDRED' } },
    },
  },
  {
    name: 'envoy.filters.http.header_mutation',
    typed_config: {
      '@type': `${T}.header_mutation.v3.HeaderMutation`,
      mutations: { request_mutations: [{ remove: ABSENT_HEADER }], response_mutations: [{ remove: ABSENT_HEADER }] },
    },
  },
  { name: 'envoy.filters.http.buffer', typed_config: { '@type': `${T}.buffer.v3.Buffer`, max_request_bytes: 1_048_576 } },
  { name: 'envoy.filters.http.grpc_web', typed_config: { '@type': `${T}.grpc_web.v3.GrpcWeb` } },
  {
    name: 'envoy.filters.http.compressor',
    typed_config: {
      '@type': `${T}.compressor.v3.Compressor`,
      // Above both bodies (5 bytes, 16 KiB); the requests send no Accept-Encoding either.
      response_direction_config: { common_config: { min_content_length: 65_536 } },
      compressor_library: {
        name: 'gzip',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip' },
      },
    },
  },
]);

/** The virtual host's typed_per_filter_config: the CORS policy (one allowed origin, which no request sends). */
export function tenFiltersVirtualHostConfig(): Record<string, unknown> {
  return {
    'envoy.filters.http.cors': {
      '@type': `${T}.cors.v3.CorsPolicy`,
      allow_origin_string_match: [{ exact: CORS_ORIGIN }],
      allow_methods: 'GET, POST',
    },
  };
}
