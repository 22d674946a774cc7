// Any thread (pure; runs in the config compile). The connection manager's `tracing` (Envoy's
// HttpConnectionManager.Tracing with an envoy.tracers.opentelemetry or envoy.tracers.zipkin provider), compiled once
// into plain data the workers build their tracer from (workers/tracing). Sampling percentages become numerators out
// of 10000 (Envoy's rounding), environment custom tags are read here, once, as Envoy reads them at load, and the
// collector cluster is resolved to its first endpoint's address so the exporters connect straight to it.

type Obj = Record<string, unknown>;

export const OPENTELEMETRY_TRACER = 'envoy.tracers.opentelemetry';
export const ZIPKIN_TRACER = 'envoy.tracers.zipkin';
const OTEL_TYPE = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const ZIPKIN_TYPE = 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const ENV_DETECTOR_TYPE = 'type.googleapis.com/envoy.extensions.tracers.opentelemetry.resource_detectors.v3.EnvironmentResourceDetectorConfig';
const STATIC_DETECTOR_TYPE = 'type.googleapis.com/envoy.extensions.tracers.opentelemetry.resource_detectors.v3.StaticConfigResourceDetectorConfig';
const ALWAYS_ON_SAMPLER_TYPE = 'type.googleapis.com/envoy.extensions.tracers.opentelemetry.samplers.v3.AlwaysOnSamplerConfig';

/** How spans leave the worker: OTLP/gRPC, OTLP/HTTP (protobuf, as Envoy's http_service), Zipkin v2 JSON. */
export type TraceExporterKind = 'otlp_grpc' | 'otlp_http' | 'zipkin_json';

export interface TracingProviderConfig {
  /** envoy.tracers.opentelemetry or envoy.tracers.zipkin. */
  name: string;
  exporter: TraceExporterKind;
  /** Headers the context travels in: W3C traceparent/tracestate (OpenTelemetry) or B3 (Zipkin). */
  propagation: 'w3c' | 'b3';
  collectorCluster: string;
  /** The collector cluster's first endpoint (a DNS name is resolved by the exporter when it connects). */
  collectorHost: string;
  collectorPort: number;
  /** HTTP exporters: the request path (collector_endpoint, or http_uri's path). */
  path: string;
  /** OTLP/HTTP request_headers_to_add, as pairs. */
  headers: [string, string][];
  /** Export deadline in ms (grpc_service.timeout / http_uri.timeout; 10 s when unset). */
  timeoutMs: number;
  /** The resource's service.name (OpenTelemetry service_name; Zipkin: the node's cluster, as Envoy). */
  serviceName: string;
  /** OpenTelemetry resource_detectors' attributes (environment: OTEL_RESOURCE_ATTRIBUTES read at load; static_config). */
  resourceAttributes: [string, string][];
  /** OpenTelemetry sampler envoy.tracers.opentelemetry.samplers.always_on: every request sampled, whatever Envoy's decision. */
  alwaysOn: boolean;
  /** Zipkin: 128-bit trace ids for new traces (else 64-bit). OpenTelemetry: always 128-bit. */
  traceId128bit: boolean;
  /** Zipkin: the server span takes the client's span id (one span shared by client and server). */
  sharedSpanContext: boolean;
  /** Batch export: every flushIntervalMs, or at once when minFlushSpans are waiting (Envoy's 5 s / 5). */
  flushIntervalMs: number;
  minFlushSpans: number;
}

export interface CustomTagConfig {
  tag: string;
  /** A literal (literal, or environment read at load) or a request header with its default. */
  literal: string | null;
  header: string | null;
  defaultValue: string;
}

export interface TracingConfig {
  provider: TracingProviderConfig;
  /** Numerators out of 10000. */
  randomSampling: number;
  clientSampling: number;
  overallSampling: number;
  verbose: boolean;
  maxPathTagLength: number;
  customTags: CustomTagConfig[];
  spawnUpstreamSpan: boolean;
  /** The span's kind and name: ingress (SERVER, "ingress") or egress (CLIENT, "egress <host>"), from the listener's traffic_direction. */
  egress: boolean;
  /** node.id, the `node_id` tag. */
  nodeId: string;
}

export interface TracingProblem {
  path: string;
  message: string;
  code?: 'bad_value' | 'missing_field' | 'not_supported';
}

export interface TracingCompileContext {
  /** The normalized bootstrap: node, clusters (the collector's endpoint), the listener's traffic_direction. */
  bootstrap: Obj;
  /** The field path of the connection manager's `tracing`: its listener is found from it. */
  path: string;
  /** The connection manager's http_filters (the router's start_child_span). */
  httpFilters: unknown[];
}

/** Envoy's runtime keys the tracers read from the bootstrap's static layers (flush interval and batch size). */
export const TRACING_RUNTIME_KEYS: readonly string[] = Object.freeze([
  'tracing.opentelemetry.flush_interval_ms', 'tracing.opentelemetry.min_flush_spans',
  'tracing.zipkin.flush_interval_ms', 'tracing.zipkin.min_flush_spans',
]);

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_FLUSH_INTERVAL_MS = 5000;
const DEFAULT_MIN_FLUSH_SPANS = 5;

/** Compiles HttpConnectionManager.tracing; null (with problems) when it cannot run. */
export function compileTracing(t: Obj, ctx: TracingCompileContext, problems: TracingProblem[]): TracingConfig | null {
  const path = ctx.path;
  const bootstrap = ctx.bootstrap;
  const node = obj(bootstrap['node']);
  const providerNode = t['provider'];
  if (providerNode === undefined) {
    // Envoy's tracing without a provider traces nothing (no driver): refused, so nobody thinks it runs.
    problems.push({ code: 'not_supported', path: `${path}.provider`, message: `not supported yet: ${path} without a provider (envoy.tracers.opentelemetry or envoy.tracers.zipkin)` });
    return null;
  }
  const p = obj(providerNode);
  const tc = obj(p['typed_config']);
  const type = tc['@type'];
  const ppath = `${path}.provider.typed_config`;
  const runtime = runtimeOf(bootstrap);
  let provider: TracingProviderConfig | null;
  if (type === OTEL_TYPE) provider = compileOpenTelemetry(tc, ppath, bootstrap, runtime, problems);
  else if (type === ZIPKIN_TYPE) provider = compileZipkin(tc, ppath, bootstrap, str(node['cluster'], ''), runtime, problems);
  else {
    problems.push({ code: 'not_supported', path: ppath, message: `not supported yet: tracer ${String(p['name'] ?? type)} (envoy.tracers.opentelemetry and envoy.tracers.zipkin are)` });
    return null;
  }
  if (provider === null) return null;

  const customTags: CustomTagConfig[] = [];
  list(t['custom_tags']).forEach((c, i) => {
    const ct = obj(c);
    const tag = str(ct['tag'], '');
    const cpath = `${path}.custom_tags[${i}]`;
    if (ct['literal'] !== undefined) customTags.push({ tag, literal: str(obj(ct['literal'])['value'], ''), header: null, defaultValue: '' });
    else if (ct['environment'] !== undefined) {
      const e = obj(ct['environment']);
      const v = process.env[str(e['name'], '')];
      // Envoy: an unset variable with no default_value adds no tag.
      const value = v !== undefined ? v : str(e['default_value'], '');
      if (value !== '') customTags.push({ tag, literal: value, header: null, defaultValue: '' });
    } else if (ct['request_header'] !== undefined) {
      const h = obj(ct['request_header']);
      customTags.push({ tag, literal: null, header: str(h['name'], '').toLowerCase(), defaultValue: str(h['default_value'], '') });
    } else problems.push({ code: 'not_supported', path: cpath, message: `not supported yet: ${cpath} (literal, environment and request_header custom tags are)` });
  });

  return {
    provider,
    randomSampling: percentOf(t['random_sampling']),
    clientSampling: percentOf(t['client_sampling']),
    overallSampling: percentOf(t['overall_sampling']),
    verbose: t['verbose'] === true,
    maxPathTagLength: num(t['max_path_tag_length'], 256),
    customTags,
    // spawn_upstream_span, else the router's (deprecated) start_child_span, as Envoy.
    spawnUpstreamSpan: typeof t['spawn_upstream_span'] === 'boolean' ? t['spawn_upstream_span'] : routerStartsChildSpan(ctx.httpFilters),
    egress: trafficDirectionOf(bootstrap, path) === 'OUTBOUND',
    nodeId: str(node['id'], ''),
  };
}

function compileOpenTelemetry(tc: Obj, path: string, bootstrap: Obj, runtime: Map<string, unknown>, problems: TracingProblem[]): TracingProviderConfig | null {
  const grpc = tc['grpc_service'];
  const http = tc['http_service'];
  if ((grpc === undefined) === (http === undefined)) {
    problems.push({ code: 'missing_field', path, message: 'OpenTelemetryConfig needs exactly one of grpc_service (envoy_grpc) or http_service' });
    return null;
  }
  const resourceAttributes: [string, string][] = [];
  let detected = '';
  let failed = false;
  list(tc['resource_detectors']).forEach((d, i) => {
    const dtc = obj(obj(d)['typed_config']);
    const type = dtc['@type'];
    if (type === ENV_DETECTOR_TYPE) resourceAttributes.push(...parseResourceAttributes(process.env['OTEL_RESOURCE_ATTRIBUTES'] ?? ''));
    else if (type === STATIC_DETECTOR_TYPE) {
      for (const [k, v] of Object.entries(obj(dtc['attributes']))) resourceAttributes.push([k, String(v)]);
    } else {
      failed = true;
      problems.push({ code: 'not_supported', path: `${path}.resource_detectors[${i}]`, message: `not supported yet: resource detector ${String(type)} (environment and static_config are)` });
    }
  });
  for (const [k, v] of resourceAttributes) if (k === 'service.name') detected = v;
  let alwaysOn = false;
  if (tc['sampler'] !== undefined) {
    const stype = obj(obj(tc['sampler'])['typed_config'])['@type'];
    if (stype === ALWAYS_ON_SAMPLER_TYPE) alwaysOn = true;
    else {
      failed = true;
      problems.push({ code: 'not_supported', path: `${path}.sampler`, message: `not supported yet: sampler ${String(stype)} (always_on is)` });
    }
  }
  if (failed) return null;
  const base = {
    name: OPENTELEMETRY_TRACER,
    propagation: 'w3c' as const,
    serviceName: str(tc['service_name'], '') || detected || 'unknown_service:envoy',
    resourceAttributes,
    alwaysOn,
    traceId128bit: true,
    sharedSpanContext: false,
    flushIntervalMs: runtimeNum(runtime, 'tracing.opentelemetry.flush_interval_ms', DEFAULT_FLUSH_INTERVAL_MS),
    minFlushSpans: runtimeNum(runtime, 'tracing.opentelemetry.min_flush_spans', DEFAULT_MIN_FLUSH_SPANS),
  };
  if (grpc !== undefined) {
    const g = obj(grpc);
    const cluster = str(obj(g['envoy_grpc'])['cluster_name'], '');
    if (cluster === '') {
      problems.push({ code: 'not_supported', path: `${path}.grpc_service`, message: `not supported yet: ${path}.grpc_service without envoy_grpc.cluster_name (google_grpc)` });
      return null;
    }
    const ep = collectorEndpoint(bootstrap, cluster, `${path}.grpc_service.envoy_grpc.cluster_name`, problems);
    if (ep === null) return null;
    return { ...base, exporter: 'otlp_grpc', collectorCluster: cluster, collectorHost: ep.host, collectorPort: ep.port, path: '', headers: [], timeoutMs: num(g['timeout'], DEFAULT_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS };
  }
  const h = obj(http);
  const uri = obj(h['http_uri']);
  const cluster = str(uri['cluster'], '');
  const ep = collectorEndpoint(bootstrap, cluster, `${path}.http_service.http_uri.cluster`, problems);
  if (ep === null) return null;
  let urlPath = '/v1/traces';
  try {
    urlPath = new URL(str(uri['uri'], '')).pathname || '/';
  } catch {
    problems.push({ code: 'bad_value', path: `${path}.http_service.http_uri.uri`, message: 'http_uri.uri must be an absolute URL (http://collector:4318/v1/traces)' });
    return null;
  }
  const headers: [string, string][] = [];
  for (const o of list(h['request_headers_to_add'])) {
    const hv = obj(obj(o)['header']);
    headers.push([str(hv['key'], '').toLowerCase(), str(hv['value'], '')]);
  }
  return { ...base, exporter: 'otlp_http', collectorCluster: cluster, collectorHost: ep.host, collectorPort: ep.port, path: urlPath, headers, timeoutMs: num(uri['timeout'], DEFAULT_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS };
}

function compileZipkin(tc: Obj, path: string, bootstrap: Obj, nodeCluster: string, runtime: Map<string, unknown>, problems: TracingProblem[]): TracingProviderConfig | null {
  const version = str(tc['collector_endpoint_version'], 'HTTP_JSON');
  if (version !== 'HTTP_JSON') {
    problems.push({ code: 'not_supported', path: `${path}.collector_endpoint_version`, message: `not supported yet: ${path}.collector_endpoint_version ${version} (HTTP_JSON is)` });
    return null;
  }
  const cluster = str(tc['collector_cluster'], '');
  const ep = collectorEndpoint(bootstrap, cluster, `${path}.collector_cluster`, problems);
  if (ep === null) return null;
  return {
    name: ZIPKIN_TRACER,
    exporter: 'zipkin_json',
    propagation: 'b3',
    collectorCluster: cluster,
    collectorHost: ep.host,
    collectorPort: ep.port,
    path: str(tc['collector_endpoint'], '/api/v2/spans'),
    headers: [],
    timeoutMs: DEFAULT_TIMEOUT_MS,
    // Envoy's Zipkin spans carry the node's cluster as their service name.
    serviceName: nodeCluster,
    resourceAttributes: [],
    alwaysOn: false,
    traceId128bit: tc['trace_id_128bit'] === true,
    sharedSpanContext: tc['shared_span_context'] !== false,
    flushIntervalMs: runtimeNum(runtime, 'tracing.zipkin.flush_interval_ms', DEFAULT_FLUSH_INTERVAL_MS),
    minFlushSpans: runtimeNum(runtime, 'tracing.zipkin.min_flush_spans', DEFAULT_MIN_FLUSH_SPANS),
  };
}

/** The collector cluster's first endpoint, read from the cluster's config (static_resources, xDS merged in). */
function collectorEndpoint(bootstrap: Obj, cluster: string, path: string, problems: TracingProblem[]): { host: string; port: number } | null {
  if (cluster === '') {
    problems.push({ code: 'missing_field', path, message: 'the collector cluster is required' });
    return null;
  }
  const c = list(obj(bootstrap['static_resources'])['clusters']).map(obj).find((x) => x['name'] === cluster);
  if (c === undefined) {
    problems.push({ code: 'bad_value', path, message: `collector cluster '${cluster}' is not defined in static_resources.clusters` });
    return null;
  }
  for (const e of list(obj(c['load_assignment'])['endpoints'])) {
    for (const lb of list(obj(e)['lb_endpoints'])) {
      const sa = obj(obj(obj(obj(lb)['endpoint'])['address'])['socket_address']);
      const host = str(sa['address'], '');
      const port = num(sa['port_value'], 0);
      if (host !== '' && port > 0) return { host, port };
    }
  }
  problems.push({ code: 'bad_value', path, message: `collector cluster '${cluster}' has no endpoint with a socket address` });
  return null;
}

function routerStartsChildSpan(filters: unknown[]): boolean {
  return filters.some((f) => obj(obj(f)['typed_config'])['@type'] === ROUTER_TYPE && obj(obj(f)['typed_config'])['start_child_span'] === true);
}

/** OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs separated by commas, values percent-encoded (W3C baggage style). */
function parseResourceAttributes(v: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of v.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // kept as written
    }
    out.push([part.slice(0, eq).trim(), value]);
  }
  return out;
}

/** The listener's traffic_direction, found from the field path (`static_resources.listeners[N]...`). */
function trafficDirectionOf(bootstrap: Obj, path: string): string {
  const m = /^static_resources\.listeners\[(\d+)\]/.exec(path);
  if (m === null) return '';
  const l = obj(list(obj(bootstrap['static_resources'])['listeners'])[Number(m[1])]);
  return str(l['traffic_direction'], '');
}

/** Keys of the bootstrap's static runtime layers (the last layer that sets a key wins). */
function runtimeOf(bootstrap: Obj): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const layer of list(obj(bootstrap['layered_runtime'])['layers'])) flatten(obj(layer)['static_layer'], '', out);
  return out;
}

function flatten(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Obj)) flatten(x, prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (prefix !== '') out.set(prefix, v);
}

function runtimeNum(runtime: Map<string, unknown>, key: string, fallback: number): number {
  const v = Number(runtime.get(key));
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

/** envoy.type.v3.Percent -> numerator of 10000 (Envoy's PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT); unset = 100%. */
function percentOf(v: unknown): number {
  if (v === undefined || v === null) return 10000;
  const value = typeof v === 'object' ? Number((v as Obj)['value'] ?? 0) : Number(v);
  if (!Number.isFinite(value)) return 10000;
  return Math.max(0, Math.min(10000, Math.round(value * 100)));
}

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;
}
