// Any thread (pure; runs inside the cluster compile). A cluster's `health_checks` entry
// (envoy.config.core.v3.HealthCheck) -> CompiledHealthCheck: plain data with Envoy's defaults, read by the
// primary's health checker (src/upstream/health-checker.ts). Fields Legate does not implement are reported.

import { compileStringMatcher } from '../router/string-matcher.ts';
import type { RouteConfigProblem } from '../router/config-values.ts';

type Obj = Record<string, unknown>;

export type HealthCheckerKind = 'HTTP' | 'TCP' | 'GRPC';

/** A [start, end) status range (envoy.type.v3.Int64Range). */
export interface StatusRange {
  start: number;
  end: number;
}

export interface CompiledHttpHealthCheck {
  /** '' = the cluster's name (or the endpoint's health_check_config.hostname), as Envoy. */
  host: string;
  path: string;
  /** GET unless configured. */
  method: string;
  expectedStatuses: StatusRange[];
  retriableStatuses: StatusRange[];
  /** HTTP1 or HTTP2. */
  codec: 'HTTP1' | 'HTTP2';
  /** Lower-cased names with literal values, in order; `append` false replaces a header of the same name. */
  headersToAdd: { name: string; value: string; append: boolean }[];
  headersToRemove: string[];
  /**
   * service_name_matcher (envoy.type.matcher.v3.StringMatcher) as configured, checked here and compiled by the
   * checker; the response's x-envoy-upstream-healthchecked-cluster must match it. null = not checked.
   */
  serviceNameMatcher: Record<string, unknown> | null;
  /** receive: hex payloads the response body must hold, in order, within the first responseBufferSize bytes. */
  receiveHex: string[];
  /** response_buffer_size (default 1024; 0 = the whole body). */
  responseBufferSize: number;
}

export interface CompiledTcpHealthCheck {
  /** Hex of the bytes to send ('' = connect only). */
  sendHex: string;
  /** Each payload's hex; the response must hold all of them, in order (Envoy's fuzzy match). */
  receiveHex: string[];
}

export interface CompiledGrpcHealthCheck {
  serviceName: string;
  /** '' = the cluster's name. */
  authority: string;
  initialMetadata: { name: string; value: string }[];
}

export interface CompiledHealthCheck {
  kind: HealthCheckerKind;
  timeoutMs: number;
  intervalMs: number;
  initialJitterMs: number;
  intervalJitterMs: number;
  intervalJitterPercent: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  reuseConnection: boolean;
  noTrafficIntervalMs: number;
  /** Defaults to noTrafficIntervalMs. */
  noTrafficHealthyIntervalMs: number;
  unhealthyIntervalMs: number;
  unhealthyEdgeIntervalMs: number;
  healthyEdgeIntervalMs: number;
  eventLogPath: string;
  /** event_logger entries of envoy.health_check.event_sink.file: more files receiving the same events. */
  eventSinkPaths: string[];
  alwaysLogHealthCheckFailures: boolean;
  alwaysLogHealthCheckSuccess: boolean;
  http: CompiledHttpHealthCheck | null;
  tcp: CompiledTcpHealthCheck | null;
  grpc: CompiledGrpcHealthCheck | null;
}

export interface HealthCheckProblem {
  code: 'not_supported' | 'bad_value' | 'missing_field';
  path: string;
  message: string;
}

/** Envoy's default no_traffic_interval. */
export const DEFAULT_NO_TRAFFIC_INTERVAL_MS = 60_000;

const HEALTH_CHECK_FIELDS = new Set([
  'timeout', 'interval', 'initial_jitter', 'interval_jitter', 'interval_jitter_percent', 'unhealthy_threshold',
  'healthy_threshold', 'reuse_connection', 'http_health_check', 'tcp_health_check', 'grpc_health_check',
  'no_traffic_interval', 'no_traffic_healthy_interval', 'unhealthy_interval', 'unhealthy_edge_interval',
  'healthy_edge_interval', 'event_log_path', 'always_log_health_check_failures', 'always_log_health_check_success',
  'event_logger',
]);
const HTTP_FIELDS = new Set([
  'host', 'path', 'request_headers_to_add', 'request_headers_to_remove', 'expected_statuses', 'retriable_statuses',
  'codec_client_type', 'method', 'service_name_matcher', 'receive', 'response_buffer_size',
]);
const FILE_SINK_TYPE = 'type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink';
const TCP_FIELDS = new Set(['send', 'receive']);
const GRPC_FIELDS = new Set(['service_name', 'authority', 'initial_metadata']);

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

class Problems {
  readonly list: HealthCheckProblem[] = [];
  notSupported(path: string, what: string): void {
    this.list.push({ code: 'not_supported', path, message: `${what} is not supported yet` });
  }
  bad(path: string, message: string): void {
    this.list.push({ code: 'bad_value', path, message });
  }
  unknownFields(o: Obj, known: ReadonlySet<string>, path: string): void {
    for (const key of Object.keys(o)) {
      if (known.has(key)) continue;
      const v = o[key];
      if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      this.notSupported(`${path}.${key}`, `'${key}'`);
    }
  }
}

function ms(v: unknown, dflt: number, path: string, p: Problems, allowZero: boolean): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!(allowZero ? n >= 0 : n > 0)) p.bad(path, `expected a duration ${allowZero ? '>= 0' : 'greater than 0'}, got ${String(v)}`);
  return n;
}

function payloadHex(v: unknown, path: string, p: Problems): string {
  if (!isObj(v)) return '';
  if (typeof v['text'] === 'string') {
    const text = v['text'].replace(/\s/g, '');
    if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) p.bad(`${path}.text`, `expected hex bytes, got '${v['text']}'`);
    return text.toLowerCase();
  }
  if (typeof v['binary'] === 'string') return Buffer.from(v['binary'], 'base64').toString('hex');
  return '';
}

function ranges(v: unknown, path: string, p: Problems): StatusRange[] {
  const out: StatusRange[] = [];
  const items = list(v);
  for (let i = 0; i < items.length; i++) {
    const r = isObj(items[i]) ? (items[i] as Obj) : {};
    const start = Number(r['start'] ?? 0);
    const end = Number(r['end'] ?? 0);
    // Envoy: each range within [100, 600), start < end.
    if (!(start >= 100 && end <= 600 && start < end)) p.bad(`${path}[${i}]`, `a status range must be within [100, 600) with start < end, got [${start}, ${end})`);
    out.push({ start, end });
  }
  return out;
}

function headerOptions(v: unknown, path: string, p: Problems): { name: string; value: string; append: boolean }[] {
  const out: { name: string; value: string; append: boolean }[] = [];
  const items = list(v);
  for (let i = 0; i < items.length; i++) {
    const o = isObj(items[i]) ? (items[i] as Obj) : {};
    const h = isObj(o['header']) ? (o['header'] as Obj) : {};
    const name = String(h['key'] ?? '').toLowerCase();
    const value = String(h['value'] ?? '');
    if (name === '') p.bad(`${path}[${i}].header.key`, 'a header needs a name');
    if (value.includes('%')) p.notSupported(`${path}[${i}].header.value`, 'a header value with %COMMAND% operators in a health check');
    if (o['keep_empty_value'] !== undefined) p.notSupported(`${path}[${i}].keep_empty_value`, `'keep_empty_value'`);
    // Envoy: append defaults to true; append_action APPEND_IF_EXISTS_OR_ADD is the same, OVERWRITE_* replace.
    let append = o['append'] === undefined ? true : o['append'] === true;
    const action = o['append_action'];
    if (action !== undefined) {
      if (action === 'OVERWRITE_IF_EXISTS_OR_ADD') append = false;
      else if (action !== 'APPEND_IF_EXISTS_OR_ADD') p.notSupported(`${path}[${i}].append_action`, `append_action ${String(action)} in a health check`);
    }
    out.push({ name, value, append });
  }
  return out;
}

/** Compiles one entry of `health_checks`; `path` is its field path. */
export function compileHealthCheck(raw: unknown, path: string): { check: CompiledHealthCheck | null; problems: HealthCheckProblem[] } {
  const p = new Problems();
  const hc = isObj(raw) ? raw : {};
  p.unknownFields(hc, HEALTH_CHECK_FIELDS, path);
  const timeoutMs = ms(hc['timeout'], NaN, `${path}.timeout`, p, false);
  if (hc['timeout'] === undefined) p.list.push({ code: 'missing_field', path: `${path}.timeout`, message: 'a health check needs a timeout' });
  const intervalMs = ms(hc['interval'], NaN, `${path}.interval`, p, false);
  if (hc['interval'] === undefined) p.list.push({ code: 'missing_field', path: `${path}.interval`, message: 'a health check needs an interval' });
  if (hc['unhealthy_threshold'] === undefined) p.list.push({ code: 'missing_field', path: `${path}.unhealthy_threshold`, message: 'a health check needs unhealthy_threshold' });
  if (hc['healthy_threshold'] === undefined) p.list.push({ code: 'missing_field', path: `${path}.healthy_threshold`, message: 'a health check needs healthy_threshold' });
  // Envoy treats a threshold of 0 as 1.
  const unhealthyThreshold = Math.max(1, Number(hc['unhealthy_threshold'] ?? 1));
  const healthyThreshold = Math.max(1, Number(hc['healthy_threshold'] ?? 1));
  const noTrafficIntervalMs = ms(hc['no_traffic_interval'], DEFAULT_NO_TRAFFIC_INTERVAL_MS, `${path}.no_traffic_interval`, p, false);
  const unhealthyIntervalMs = ms(hc['unhealthy_interval'], intervalMs, `${path}.unhealthy_interval`, p, false);

  let kind: HealthCheckerKind = 'HTTP';
  let http: CompiledHttpHealthCheck | null = null;
  let tcp: CompiledTcpHealthCheck | null = null;
  let grpc: CompiledGrpcHealthCheck | null = null;
  if (isObj(hc['http_health_check'])) {
    const h = hc['http_health_check'];
    const hp = `${path}.http_health_check`;
    p.unknownFields(h, HTTP_FIELDS, hp);
    const codec = h['codec_client_type'] === undefined ? 'HTTP1' : String(h['codec_client_type']);
    if (codec !== 'HTTP1' && codec !== 'HTTP2') p.notSupported(`${hp}.codec_client_type`, `codec_client_type ${codec}`);
    const method = h['method'] === undefined || h['method'] === 'METHOD_UNSPECIFIED' ? 'GET' : String(h['method']);
    const expected = ranges(h['expected_statuses'], `${hp}.expected_statuses`, p);
    let serviceNameMatcher: Record<string, unknown> | null = null;
    if (isObj(h['service_name_matcher'])) {
      const mp = `${hp}.service_name_matcher`;
      const matcherProblems: RouteConfigProblem[] = [];
      compileStringMatcher(h['service_name_matcher'], mp, matcherProblems);
      for (const mpb of matcherProblems) p.bad(mpb.path, mpb.message);
      serviceNameMatcher = h['service_name_matcher'];
    }
    http = {
      host: typeof h['host'] === 'string' ? h['host'] : '',
      path: typeof h['path'] === 'string' ? h['path'] : '',
      method,
      expectedStatuses: expected.length > 0 ? expected : [{ start: 200, end: 201 }],
      retriableStatuses: ranges(h['retriable_statuses'], `${hp}.retriable_statuses`, p),
      codec: codec === 'HTTP2' ? 'HTTP2' : 'HTTP1',
      headersToAdd: headerOptions(h['request_headers_to_add'], `${hp}.request_headers_to_add`, p),
      headersToRemove: list(h['request_headers_to_remove']).map((n) => String(n).toLowerCase()),
      serviceNameMatcher,
      receiveHex: list(h['receive']).map((r, i) => payloadHex(r, `${hp}.receive[${i}]`, p)).filter((r) => r !== ''),
      responseBufferSize: h['response_buffer_size'] === undefined ? 1024 : Number(h['response_buffer_size']),
    };
    if (http.path === '') p.list.push({ code: 'missing_field', path: `${hp}.path`, message: 'an HTTP health check needs a path' });
  } else if (isObj(hc['tcp_health_check'])) {
    kind = 'TCP';
    const t = hc['tcp_health_check'];
    const tp = `${path}.tcp_health_check`;
    p.unknownFields(t, TCP_FIELDS, tp);
    const receive = list(t['receive']).map((r, i) => payloadHex(r, `${tp}.receive[${i}]`, p));
    tcp = { sendHex: payloadHex(t['send'], `${tp}.send`, p), receiveHex: receive.filter((r) => r !== '') };
  } else if (isObj(hc['grpc_health_check'])) {
    kind = 'GRPC';
    const g = hc['grpc_health_check'];
    const gp = `${path}.grpc_health_check`;
    p.unknownFields(g, GRPC_FIELDS, gp);
    grpc = {
      serviceName: typeof g['service_name'] === 'string' ? g['service_name'] : '',
      authority: typeof g['authority'] === 'string' ? g['authority'] : '',
      initialMetadata: headerOptions(g['initial_metadata'], `${gp}.initial_metadata`, p).map((h) => ({ name: h.name, value: h.value })),
    };
  } else {
    p.list.push({ code: 'missing_field', path, message: 'a health check needs http_health_check, tcp_health_check or grpc_health_check' });
  }

  const eventSinkPaths: string[] = [];
  const loggers = list(hc['event_logger']);
  for (let i = 0; i < loggers.length; i++) {
    const lp = `${path}.event_logger[${i}]`;
    const tc = isObj(loggers[i]) && isObj((loggers[i] as Obj)['typed_config']) ? ((loggers[i] as Obj)['typed_config'] as Obj) : {};
    if (tc['@type'] !== FILE_SINK_TYPE) {
      p.notSupported(`${lp}.typed_config`, `health check event sink ${String(tc['@type'] ?? '(none)')} (only envoy.health_check.event_sink.file is)`);
      continue;
    }
    if (typeof tc['event_log_path'] === 'string' && tc['event_log_path'] !== '') eventSinkPaths.push(tc['event_log_path']);
  }
  const initialJitterMs = ms(hc['initial_jitter'], 0, `${path}.initial_jitter`, p, true);
  const intervalJitterMs = ms(hc['interval_jitter'], 0, `${path}.interval_jitter`, p, true);
  const noTrafficHealthyIntervalMs = ms(hc['no_traffic_healthy_interval'], noTrafficIntervalMs, `${path}.no_traffic_healthy_interval`, p, false);
  const unhealthyEdgeIntervalMs = ms(hc['unhealthy_edge_interval'], unhealthyIntervalMs, `${path}.unhealthy_edge_interval`, p, false);
  const healthyEdgeIntervalMs = ms(hc['healthy_edge_interval'], intervalMs, `${path}.healthy_edge_interval`, p, false);
  if (p.list.length > 0) return { check: null, problems: p.list };
  return {
    check: {
      kind,
      timeoutMs,
      intervalMs,
      initialJitterMs,
      intervalJitterMs,
      intervalJitterPercent: Number(hc['interval_jitter_percent'] ?? 0),
      unhealthyThreshold,
      healthyThreshold,
      reuseConnection: hc['reuse_connection'] === undefined ? true : hc['reuse_connection'] === true,
      noTrafficIntervalMs,
      noTrafficHealthyIntervalMs,
      unhealthyIntervalMs,
      unhealthyEdgeIntervalMs,
      healthyEdgeIntervalMs,
      eventLogPath: typeof hc['event_log_path'] === 'string' ? hc['event_log_path'] : '',
      eventSinkPaths,
      alwaysLogHealthCheckFailures: hc['always_log_health_check_failures'] === true,
      alwaysLogHealthCheckSuccess: hc['always_log_health_check_success'] === true,
      http,
      tcp,
      grpc,
    },
    problems: [],
  };
}
