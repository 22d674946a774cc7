// Any thread (pure; the primary runs it at compile time, inline or on a piscina thread).
// Normalized envoy.config.cluster.v3.Cluster -> CompiledCluster: plain msgpack-able data with Envoy's defaults
// applied. Every field Legate does not implement is reported as "not supported yet" rather than ignored.

import net from 'node:net';
import { compileHttp2Options, type Http2OptionsProblem } from '../snapshot/http2-options.ts';
import type { Http2Settings } from '../snapshot/snapshot-types.ts';
import { compileTransportSocket } from '../tls/compile-tls-context.ts';
import type { UpstreamTlsSpec } from '../tls/tls-spec.ts';
import type { CLUSTER_TLS_STATS, CLUSTER_HEALTH_CHECK_STATS, ScopeSlots } from '../stats/definitions.ts';
import type { CLUSTER_OUTLIER_DETECTION_STATS } from '../stats/definitions.ts';
import { compileOutlierDetection, type CompiledOutlierDetection, type OutlierProblem } from './outlier-config.ts';
import { compileHealthCheck, type CompiledHealthCheck } from './health-check-config.ts';
import { compileCircuitBreakers, type CircuitBreakerProblem, type CompiledCircuitBreakers } from './circuit-breakers.ts';
import { compileLbPolicy, type HashLbSettings } from './lb-policy-config.ts';
import { compileClusterType, type DfpClusterSettings } from './aggregate-cluster-config.ts';
import { compileOriginalDst, type OriginalDstProblem, type OriginalDstSettings } from './original-dst-config.ts';
import { compileSubsetConfig, endpointLbMetadata, type CompiledSubsetConfig, type SubsetProblem } from './subset-config.ts';

type Obj = Record<string, unknown>;

/** What protocol a cluster speaks to its hosts. */
export const UpstreamProtocol = { HTTP1: 0, HTTP2: 1, DOWNSTREAM: 2, AUTO: 3 } as const;

export type ClusterDiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
export type ClusterLbPolicy = 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'RING_HASH' | 'MAGLEV';
export type DnsLookupFamily = 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
/** envoy.config.core.v3.HealthStatus names. */
export type EndpointHealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

/** One lb_endpoint, flattened out of its locality. */
export interface CompiledEndpoint {
  /** An IP address (STATIC) or a DNS name (STRICT_DNS, LOGICAL_DNS). */
  address: string;
  port: number;
  /** load_balancing_weight, >= 1. */
  weight: number;
  /** The priority of its locality; 0 is the highest. */
  priority: number;
  healthStatus: EndpointHealthStatus;
  /** endpoint.hostname as configured ('' when absent). */
  hostname: string;
  /** endpoint.health_check_config.port_value (0 = the endpoint's port) and .hostname ('' = none): active checks only. */
  healthCheckPort: number;
  healthCheckHostname: string;
  /** health_check_config.disable_active_health_check: the host is never actively checked. */
  healthCheckDisabled: boolean;
  /** Index of its LocalityLbEndpoints in load_assignment.endpoints (its locality). */
  locality: number;
  /** That LocalityLbEndpoints' load_balancing_weight; 0 when absent (no share with locality weighting). */
  localityWeight: number;
  /** metadata.filter_metadata["envoy.lb"] (subset load balancing); null when absent. */
  lbMetadata: Record<string, unknown> | null;
}

/** slow_start_config of round_robin_lb_config / least_request_lb_config (workers/upstream/slow-start.ts). */
export interface SlowStartSettings {
  /** slow_start_window in ms (> 0). */
  windowMs: number;
  /** aggression.default_value (Envoy default 1.0; > 0). */
  aggression: number;
  /** min_weight_percent (Envoy default 10). */
  minWeightPercent: number;
}

export interface CompiledCluster {
  name: string;
  type: ClusterDiscoveryType;
  connectTimeoutMs: number;
  lbPolicy: ClusterLbPolicy;
  /** RING_HASH / MAGLEV: ring sizes and table size (src/upstream/lb-policy-config.ts); defaults otherwise. */
  hashLb: HashLbSettings;
  /** least_request_lb_config.choice_count (Envoy default 2). */
  leastRequestChoiceCount: number;
  /** least_request_lb_config.active_request_bias (Envoy default 1.0). */
  leastRequestActiveRequestBias: number;
  /** common_lb_config.healthy_panic_threshold in percent (Envoy default 50; 0 disables panic mode). */
  healthyPanicThresholdPercent: number;
  /** The slow_start_config of the policy's own config (ROUND_ROBIN, LEAST_REQUEST); null = none or a zero window. */
  slowStart: SlowStartSettings | null;
  /** common_lb_config.locality_weighted_lb_config: localities weighted within a priority (workers/upstream/locality-lb.ts). */
  localityWeightedLb: boolean;
  dnsLookupFamily: DnsLookupFamily;
  dnsRefreshRateMs: number;
  /** dns_failure_refresh_rate: first retry delay after a failed resolution, doubling up to the max. */
  dnsFailureRefreshBaseMs: number;
  dnsFailureRefreshMaxMs: number;
  /** Accepted; getaddrinfo gives no TTL, so refresh stays at dnsRefreshRateMs (see cluster-membership.ts). */
  respectDnsTtl: boolean;
  endpoints: CompiledEndpoint[];
  perConnectionBufferLimitBytes: number;
  /** Upstream connection idle timeout; 0 = disabled. Envoy default 1 h. */
  idleTimeoutMs: number;
  /** Envoy default 100. */
  maxHeadersCount: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /**
   * The upstream HTTP protocol: UpstreamProtocol.HTTP1, HTTP2, DOWNSTREAM (use_downstream_protocol_config) or AUTO
   * (auto_config: ALPN with the TLS upstream picks h2 or http/1.1 per host).
   */
  upstreamProtocol: number;
  /** http2_protocol_options for HTTP/2 upstream connections (defaults when not given). */
  http2: Http2Settings;
  /** Envoy's circuit-breaker defaults; the limits in force are circuitBreakers' (these only bound a pool built alone). */
  maxConnections: number;
  maxPendingRequests: number;
  /**
   * transport_socket: the compiled UpstreamTlsContext of envoy.transport_sockets.tls (the file contents read and
   * checked); null = raw_buffer (plaintext). Workers build one ClientTlsContext from it per cluster.
   */
  transportSocket: UpstreamTlsSpec | null;
  /** cluster.<name>.ssl.* when transportSocket is set; filled by the primary with the other slots. */
  tlsSlots: ScopeSlots<typeof CLUSTER_TLS_STATS> | null;
  /** health_checks (active health checking on the primary: src/upstream/health-checker.ts); [] = none. */
  healthChecks: CompiledHealthCheck[];
  /** cluster.<name>.health_check.* when healthChecks is not empty; filled by the primary with the other slots. */
  healthCheckSlots: ScopeSlots<typeof CLUSTER_HEALTH_CHECK_STATS> | null;
  /** ignore_health_on_host_removal: a removed host leaves at once, even while it passes its checks. */
  ignoreHealthOnHostRemoval: boolean;
  /** circuit_breakers: DEFAULT and HIGH limits over all workers (src/upstream/circuit-breakers.ts). */
  circuitBreakers: CompiledCircuitBreakers;
  /** outlier_detection, decided on the primary (src/upstream/outlier-detector.ts); null = none. */
  outlierDetection: CompiledOutlierDetection | null;
  /** cluster.<name>.outlier_detection.* when outlierDetection is set; filled by the primary with the other slots. */
  outlierSlots: ScopeSlots<typeof CLUSTER_OUTLIER_DETECTION_STATS> | null;
  /**
   * cluster_type envoy.clusters.aggregate: the member clusters in failover order (src/upstream/aggregate-cluster-config.ts);
   * null for every other cluster. An aggregate has no endpoints of its own.
   */
  aggregateClusters: readonly string[] | null;
  /**
   * cluster_type envoy.clusters.dynamic_forward_proxy: the DNS cache its hosts come from (each request's host,
   * resolved by the filter); null for every other cluster. Such a cluster has no endpoints of its own.
   */
  dynamicForwardProxy: DfpClusterSettings | null;
  /**
   * type ORIGINAL_DST: where a request's host comes from and how long an unused one lives
   * (src/upstream/original-dst-config.ts); null for every other cluster. Such a cluster has no endpoints of its own.
   */
  originalDst: OriginalDstSettings | null;
  /** lb_subset_config (src/upstream/subset-config.ts; workers/upstream/subset-lb.ts); null = none. */
  subset: CompiledSubsetConfig | null;
}

export type ClusterProblemCode = 'not_supported' | 'bad_value' | 'missing_field' | 'io';

export interface ClusterProblem {
  code: ClusterProblemCode;
  /** Field path as Envoy prints it, e.g. static_resources.clusters[0].load_assignment.endpoints[0]. */
  path: string;
  message: string;
}

export interface CompileClusterResult {
  /** null when there is any problem. */
  cluster: CompiledCluster | null;
  problems: ClusterProblem[];
}

export const CLUSTER_DEFAULTS = Object.freeze({
  connectTimeoutMs: 5000,
  dnsRefreshRateMs: 5000,
  perConnectionBufferLimitBytes: 1024 * 1024,
  idleTimeoutMs: 3600 * 1000,
  maxHeadersCount: 100,
  leastRequestChoiceCount: 2,
  leastRequestActiveRequestBias: 1,
  healthyPanicThresholdPercent: 50,
  maxConnections: 1024,
  maxPendingRequests: 1024,
});

const HTTP_PROTOCOL_OPTIONS_NAME = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HTTP_PROTOCOL_OPTIONS_TYPE = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

// Fields read below. Anything else present in the message is reported as not supported yet.
const CLUSTER_FIELDS = new Set([
  'name', 'type', 'cluster_type', 'connect_timeout', 'lb_policy', 'load_assignment', 'dns_lookup_family', 'dns_refresh_rate',
  'dns_failure_refresh_rate', 'respect_dns_ttl', 'per_connection_buffer_limit_bytes', 'common_http_protocol_options',
  'typed_extension_protocol_options', 'http_protocol_options', 'http2_protocol_options', 'max_requests_per_connection',
  'least_request_lb_config', 'round_robin_lb_config', 'common_lb_config', 'metadata', 'transport_socket',
  'ring_hash_lb_config', 'maglev_lb_config', 'load_balancing_policy',
  // Meaningful only with health checking / warming, which have nothing to change yet: accepted as no-ops.
  'wait_for_warm_on_init', 'ignore_health_on_host_removal', 'close_connections_on_host_health_failure',
  'health_checks',
  'circuit_breakers',
  // Decided on the primary for every worker (outlier-config.ts, outlier-detector.ts).
  'outlier_detection',
  // type ORIGINAL_DST (src/upstream/original-dst-config.ts).
  'original_dst_lb_config', 'cleanup_interval',
  // Subset load balancing (src/upstream/subset-config.ts, workers/upstream/subset-lb.ts).
  'lb_subset_config',
]);
const LOAD_ASSIGNMENT_FIELDS = new Set(['cluster_name', 'endpoints']);
// load_balancing_weight (locality weight) is read by locality weighted LB (common_lb_config); otherwise, like
// locality and proximity (zone-aware routing: not supported), accepted and unused, as Envoy does.
const LOCALITY_FIELDS = new Set(['locality', 'lb_endpoints', 'load_balancing_weight', 'priority', 'proximity', 'metadata']);
const LB_ENDPOINT_FIELDS = new Set(['endpoint', 'health_status', 'load_balancing_weight', 'metadata']);
// health_check_config: port_value, hostname and disable_active_health_check are used by active health checking.
const ENDPOINT_FIELDS = new Set(['address', 'hostname', 'health_check_config']);
const SOCKET_ADDRESS_FIELDS = new Set(['address', 'port_value', 'protocol', 'ipv4_compat']);
const COMMON_HTTP_OPTIONS_FIELDS = new Set(['idle_timeout', 'max_headers_count', 'max_requests_per_connection']);
const HTTP_PROTOCOL_OPTIONS_FIELDS = new Set(['@type', 'common_http_protocol_options', 'explicit_http_config', 'use_downstream_protocol_config', 'auto_config']);
// consistent_hashing_lb_config: compiled by lb-policy-config.ts.
// locality_weighted_lb_config: workers/upstream/locality-lb.ts.
const COMMON_LB_CONFIG_FIELDS = new Set(['healthy_panic_threshold', 'consistent_hashing_lb_config', 'locality_weighted_lb_config']);
const LEAST_REQUEST_FIELDS = new Set(['choice_count', 'active_request_bias', 'slow_start_config']);
const ROUND_ROBIN_FIELDS = new Set(['slow_start_config']);
const SLOW_START_FIELDS = new Set(['slow_start_window', 'aggression', 'min_weight_percent']);

const DNS_FAMILIES: readonly string[] = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'];
const HEALTH_STATUSES: readonly string[] = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];

class Problems {
  readonly list: ClusterProblem[] = [];
  notSupported(path: string, what: string): void {
    this.list.push({ code: 'not_supported', path, message: `${what} is not supported yet` });
  }
  bad(path: string, message: string): void {
    this.list.push({ code: 'bad_value', path, message });
  }
  missing(path: string, message: string): void {
    this.list.push({ code: 'missing_field', path, message });
  }
  /** Reports every present field outside `known` (an empty list counts as absent). */
  unknownFields(o: Obj, known: ReadonlySet<string>, path: string): void {
    for (const key of Object.keys(o)) {
      if (known.has(key)) continue;
      const v = o[key];
      if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      this.notSupported(`${path}.${key}`, `'${key}'`);
    }
  }
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function compileCluster(cluster: Readonly<Record<string, unknown>>, path: string): CompileClusterResult {
  const p = new Problems();
  const c = cluster as Obj;
  p.unknownFields(c, CLUSTER_FIELDS, path);
  let aggregateClusters: readonly string[] | null = null;
  let dynamicForwardProxy: DfpClusterSettings | null = null;
  if (c['cluster_type'] !== undefined) {
    const ct = compileClusterType(c, `${path}.cluster_type`);
    for (const problem of ct.problems) p.list.push(problem);
    aggregateClusters = ct.aggregateClusters;
    dynamicForwardProxy = ct.dynamicForwardProxy;
  }

  const name = typeof c['name'] === 'string' ? c['name'] : '';
  if (name === '') p.missing(`${path}.name`, 'a cluster needs a non-empty name');

  const type = c['type'] === undefined ? 'STATIC' : String(c['type']);
  if (type !== 'STATIC' && type !== 'STRICT_DNS' && type !== 'LOGICAL_DNS' && type !== 'ORIGINAL_DST') {
    p.notSupported(`${path}.type`, `cluster type ${type}`);
  }
  let originalDst: OriginalDstSettings | null = null;
  if (type === 'ORIGINAL_DST') {
    const odProblems: OriginalDstProblem[] = [];
    originalDst = compileOriginalDst(c, path, odProblems);
    for (const problem of odProblems) p.list.push(problem);
  }

  const connectTimeoutMs = positiveMs(c['connect_timeout'], CLUSTER_DEFAULTS.connectTimeoutMs, `${path}.connect_timeout`, p);

  // lb_policy (with ring_hash_lb_config, maglev_lb_config) or load_balancing_policy.
  // An aggregate balances with its own (cluster-provided) load balancer: CLUSTER_PROVIDED is its lb_policy.
  const customLb = aggregateClusters !== null || dynamicForwardProxy !== null;
  // ORIGINAL_DST: its own load balancer (the destination); lb_policy was checked by compileOriginalDst.
  const lb = compileLbPolicy((customLb && c['lb_policy'] === 'CLUSTER_PROVIDED') || originalDst !== null ? { ...c, lb_policy: undefined } : c, path, p.list);
  const lbPolicy = lb.policy;
  let choiceCount: number = CLUSTER_DEFAULTS.leastRequestChoiceCount;
  let activeRequestBias: number = CLUSTER_DEFAULTS.leastRequestActiveRequestBias;
  if (isObj(c['least_request_lb_config'])) {
    const lr = c['least_request_lb_config'];
    const lrPath = `${path}.least_request_lb_config`;
    p.unknownFields(lr, LEAST_REQUEST_FIELDS, lrPath);
    if (lr['choice_count'] !== undefined) {
      choiceCount = Number(lr['choice_count']);
      if (!Number.isInteger(choiceCount) || choiceCount < 2) p.bad(`${lrPath}.choice_count`, `choice_count must be an integer >= 2, got ${String(lr['choice_count'])}`);
    }
    const bias = obj(lr['active_request_bias'])['default_value'];
    if (bias !== undefined) {
      activeRequestBias = Number(bias);
      if (!(activeRequestBias >= 0)) p.bad(`${lrPath}.active_request_bias`, `active_request_bias must be >= 0, got ${String(bias)}`);
    }
  }
  if (lb.choiceCount !== null) choiceCount = lb.choiceCount;
  if (lb.activeRequestBias !== null) activeRequestBias = lb.activeRequestBias;
  let slowStart: SlowStartSettings | null = null;
  if (isObj(c['round_robin_lb_config'])) {
    // Its only field is slow_start_config.
    p.unknownFields(c['round_robin_lb_config'], ROUND_ROBIN_FIELDS, `${path}.round_robin_lb_config`);
    const ss = compileSlowStart(c['round_robin_lb_config']['slow_start_config'], `${path}.round_robin_lb_config.slow_start_config`, p);
    if (lbPolicy === 'ROUND_ROBIN') slowStart = ss;
  }
  if (isObj(c['least_request_lb_config']) && lbPolicy === 'LEAST_REQUEST') {
    slowStart = compileSlowStart(c['least_request_lb_config']['slow_start_config'], `${path}.least_request_lb_config.slow_start_config`, p);
  }
  let panicThreshold: number = CLUSTER_DEFAULTS.healthyPanicThresholdPercent;
  let localityWeightedLb = false;
  if (isObj(c['common_lb_config'])) {
    const cl = c['common_lb_config'];
    p.unknownFields(cl, COMMON_LB_CONFIG_FIELDS, `${path}.common_lb_config`);
    if (isObj(cl['locality_weighted_lb_config'])) {
      localityWeightedLb = true;
      p.unknownFields(cl['locality_weighted_lb_config'], new Set(), `${path}.common_lb_config.locality_weighted_lb_config`);
      if (lbPolicy === 'RING_HASH' || lbPolicy === 'MAGLEV') {
        p.notSupported(`${path}.common_lb_config.locality_weighted_lb_config`, `locality_weighted_lb_config with lb_policy ${lbPolicy}`);
      }
    }
    if (cl['healthy_panic_threshold'] !== undefined) {
      panicThreshold = Number(obj(cl['healthy_panic_threshold'])['value'] ?? 0);
      if (!(panicThreshold >= 0 && panicThreshold <= 100)) {
        p.bad(`${path}.common_lb_config.healthy_panic_threshold`, `a percentage must be within [0, 100], got ${panicThreshold}`);
      }
    }
  }

  const dnsLookupFamily = c['dns_lookup_family'] === undefined ? 'AUTO' : String(c['dns_lookup_family']);
  if (!DNS_FAMILIES.includes(dnsLookupFamily)) p.bad(`${path}.dns_lookup_family`, `unknown dns_lookup_family ${dnsLookupFamily}`);
  const dnsRefreshRateMs = positiveMs(c['dns_refresh_rate'], CLUSTER_DEFAULTS.dnsRefreshRateMs, `${path}.dns_refresh_rate`, p);
  if (dnsRefreshRateMs <= 1 && c['dns_refresh_rate'] !== undefined) p.bad(`${path}.dns_refresh_rate`, 'dns_refresh_rate must be greater than 1ms');
  let failureBaseMs = dnsRefreshRateMs;
  let failureMaxMs = dnsRefreshRateMs;
  if (isObj(c['dns_failure_refresh_rate'])) {
    const fr = c['dns_failure_refresh_rate'];
    const frPath = `${path}.dns_failure_refresh_rate`;
    failureBaseMs = positiveMs(fr['base_interval'], NaN, `${frPath}.base_interval`, p);
    if (Number.isNaN(failureBaseMs)) p.missing(`${frPath}.base_interval`, 'dns_failure_refresh_rate needs base_interval');
    failureMaxMs = fr['max_interval'] === undefined ? failureBaseMs * 10 : positiveMs(fr['max_interval'], NaN, `${frPath}.max_interval`, p);
    if (failureMaxMs < failureBaseMs) p.bad(`${frPath}.max_interval`, 'max_interval must be greater than or equal to base_interval');
  }
  const respectDnsTtl = c['respect_dns_ttl'] === true;

  const perConnectionBufferLimitBytes = c['per_connection_buffer_limit_bytes'] === undefined
    ? CLUSTER_DEFAULTS.perConnectionBufferLimitBytes
    : Number(c['per_connection_buffer_limit_bytes']);

  const http = compileHttpOptions(c, path, p);

  const endpoints = compileEndpoints(c, path, type, p);
  const subsetProblems: SubsetProblem[] = [];
  const subset = compileSubsetConfig(c, path, subsetProblems);
  for (const problem of subsetProblems) p.list.push(problem);
  // As Envoy: the original destination policy cannot be used with subsets (its hosts are not known in advance).
  if (subset !== null && (originalDst !== null || aggregateClusters !== null || dynamicForwardProxy !== null)) {
    p.bad(`${path}.lb_subset_config`, 'lb_subset_config needs a cluster with endpoints (not ORIGINAL_DST, an aggregate or a dynamic forward proxy cluster)');
  }

  const healthChecks: CompiledHealthCheck[] = [];
  const rawChecks = list(c['health_checks']);
  if (rawChecks.length > 1) p.notSupported(`${path}.health_checks[1]`, 'more than one health check per cluster');
  for (let i = 0; i < Math.min(1, rawChecks.length); i++) {
    const r = compileHealthCheck(rawChecks[i], `${path}.health_checks[${i}]`);
    for (const problem of r.problems) p.list.push(problem);
    if (r.check !== null) healthChecks.push(r.check);
  }

  let transportSocket: UpstreamTlsSpec | null = null;
  if (isObj(c['transport_socket'])) {
    const ts = compileTransportSocket(c['transport_socket'], `${path}.transport_socket`, 'upstream');
    for (const problem of ts.problems) p.list.push(problem);
    transportSocket = ts.spec as UpstreamTlsSpec | null;
  }

  const cbProblems: CircuitBreakerProblem[] = [];
  const circuitBreakers = compileCircuitBreakers(c['circuit_breakers'], `${path}.circuit_breakers`, cbProblems);
  for (const problem of cbProblems) p.list.push(problem);
  const odProblems: OutlierProblem[] = [];
  const outlierDetection = compileOutlierDetection(c['outlier_detection'], `${path}.outlier_detection`, odProblems);
  for (const problem of odProblems) p.list.push(problem);

  if (healthChecks.length > 0 && c['close_connections_on_host_health_failure'] === true) {
    // Envoy closes the host's tcp_proxy connections when it fails a check; the sessions are not tracked per host yet.
    p.notSupported(`${path}.close_connections_on_host_health_failure`, 'close_connections_on_host_health_failure with health_checks');
  }
  if (http.upstreamProtocol === UpstreamProtocol.AUTO && transportSocket === null) {
    p.bad(`${path}.typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_NAME}"].auto_config`, 'auto_config picks the protocol by ALPN, so the cluster needs a TLS transport_socket (envoy.transport_sockets.tls); use explicit_http_config for plaintext');
  }
  if (aggregateClusters !== null) {
    if (endpoints.length > 0) p.bad(`${path}.load_assignment`, 'an aggregate cluster (envoy.clusters.aggregate) has no endpoints of its own; list its clusters in cluster_type.typed_config.clusters');
    if (healthChecks.length > 0) p.bad(`${path}.health_checks`, 'an aggregate cluster (envoy.clusters.aggregate) has no hosts to check; its member clusters are checked');
    // Requests take the member's circuit breakers (its pools); the aggregate's own limits are not enforced yet.
    if (c['circuit_breakers'] !== undefined) p.notSupported(`${path}.circuit_breakers`, 'circuit_breakers on an aggregate cluster (the members\' apply)');
    if (aggregateClusters.includes(name)) p.bad(`${path}.cluster_type.typed_config.clusters`, `an aggregate cluster cannot list itself (${name})`);
  }
  if (dynamicForwardProxy !== null) {
    if (endpoints.length > 0) p.bad(`${path}.load_assignment`, 'a dynamic forward proxy cluster has no endpoints of its own: its hosts come from the requests');
    if (healthChecks.length > 0) p.notSupported(`${path}.health_checks`, 'health_checks on a dynamic forward proxy cluster');
  }
  if (p.list.length > 0) return { cluster: null, problems: p.list };
  return {
    cluster: {
      name,
      type: type as ClusterDiscoveryType,
      connectTimeoutMs,
      lbPolicy: lbPolicy as ClusterLbPolicy,
      hashLb: lb.hash,
      leastRequestChoiceCount: choiceCount,
      leastRequestActiveRequestBias: activeRequestBias,
      healthyPanicThresholdPercent: panicThreshold,
      localityWeightedLb,
      slowStart,
      dnsLookupFamily: dnsLookupFamily as DnsLookupFamily,
      dnsRefreshRateMs,
      dnsFailureRefreshBaseMs: failureBaseMs,
      dnsFailureRefreshMaxMs: failureMaxMs,
      respectDnsTtl,
      endpoints,
      perConnectionBufferLimitBytes,
      idleTimeoutMs: http.idleTimeoutMs,
      maxHeadersCount: http.maxHeadersCount,
      maxRequestsPerConnection: http.maxRequestsPerConnection,
      upstreamProtocol: http.upstreamProtocol,
      http2: http.http2,
      maxConnections: CLUSTER_DEFAULTS.maxConnections,
      maxPendingRequests: CLUSTER_DEFAULTS.maxPendingRequests,
      transportSocket,
      tlsSlots: null,
      healthChecks,
      healthCheckSlots: null,
      ignoreHealthOnHostRemoval: c['ignore_health_on_host_removal'] === true,
      circuitBreakers,
      outlierDetection,
      outlierSlots: null,
      aggregateClusters,
      dynamicForwardProxy,
      originalDst,
      subset,
    },
    problems: [],
  };
}

/** slow_start_config; null when absent or its window is 0 (Envoy: slow start off). */
function compileSlowStart(v: unknown, path: string, p: Problems): SlowStartSettings | null {
  if (!isObj(v)) return null;
  p.unknownFields(v, SLOW_START_FIELDS, path);
  const windowMs = v['slow_start_window'] === undefined ? 0 : Number(v['slow_start_window']);
  if (!(windowMs >= 0)) p.bad(`${path}.slow_start_window`, `expected a duration >= 0, got ${String(v['slow_start_window'])}`);
  const rawAggression = obj(v['aggression'])['default_value'];
  const aggression = rawAggression === undefined ? 1 : Number(rawAggression);
  if (!(aggression > 0)) p.bad(`${path}.aggression`, `aggression must be greater than 0, got ${String(rawAggression)}`);
  const rawMin = v['min_weight_percent'] === undefined ? undefined : obj(v['min_weight_percent'])['value'] ?? 0;
  const minWeightPercent = rawMin === undefined ? 10 : Number(rawMin);
  if (!(minWeightPercent >= 0 && minWeightPercent <= 100)) p.bad(`${path}.min_weight_percent`, `a percentage must be within [0, 100], got ${String(rawMin)}`);
  return windowMs > 0 ? { windowMs, aggression, minWeightPercent } : null;
}

/** A duration in ms that must be > 0; `dflt` when absent. */
function positiveMs(v: unknown, dflt: number, path: string, p: Problems): number {
  if (v === undefined) return dflt;
  const ms = Number(v);
  if (!(ms > 0)) p.bad(path, `expected a duration greater than 0, got ${String(v)}`);
  return ms;
}

interface HttpOptions {
  idleTimeoutMs: number;
  maxHeadersCount: number;
  maxRequestsPerConnection: number;
  upstreamProtocol: number;
  http2: Http2Settings;
}

/**
 * An HTTP/2 cluster's options. Its connections are node:http2 sessions, which answer invalid messaging from the
 * upstream with a stream error only: false (a connection error) is refused rather than silently ignored.
 */
function upstreamHttp2Options(o: Obj, at: string, problems: Http2OptionsProblem[]): Http2Settings {
  for (const key of ['stream_error_on_invalid_http_messaging', 'override_stream_error_on_invalid_http_message']) {
    if (o[key] === false) {
      problems.push({ code: 'not_supported', path: `${at}.${key}`, message: `not supported yet: ${at}.${key} false for an upstream (invalid HTTP/2 messaging from an upstream resets the stream only; set it to true)` });
    }
  }
  return compileHttp2Options(o, at, problems);
}

/**
 * Upstream HTTP options come from the deprecated cluster fields or from typed_extension_protocol_options
 * (envoy.extensions.upstreams.http.v3.HttpProtocolOptions), not both, as Envoy requires.
 */
function compileHttpOptions(c: Obj, path: string, p: Problems): HttpOptions {
  const out: HttpOptions = {
    idleTimeoutMs: CLUSTER_DEFAULTS.idleTimeoutMs,
    maxHeadersCount: CLUSTER_DEFAULTS.maxHeadersCount,
    maxRequestsPerConnection: 0,
    upstreamProtocol: UpstreamProtocol.HTTP1,
    http2: compileHttp2Options({}, path, []),
  };
  const h2Problems: Http2OptionsProblem[] = [];
  const http2At = (o: unknown, at: string): void => {
    out.upstreamProtocol = UpstreamProtocol.HTTP2;
    out.http2 = upstreamHttp2Options(obj(o), at, h2Problems);
  };
  const typed = obj(c['typed_extension_protocol_options']);
  let typedHttp: Obj | null = null;
  for (const key of Object.keys(typed)) {
    const keyPath = `${path}.typed_extension_protocol_options["${key}"]`;
    const v = obj(typed[key]);
    if (key !== HTTP_PROTOCOL_OPTIONS_NAME || v['@type'] !== HTTP_PROTOCOL_OPTIONS_TYPE) {
      p.notSupported(keyPath, `protocol options '${key}' (${String(v['@type'])})`);
      continue;
    }
    typedHttp = v;
    p.unknownFields(v, HTTP_PROTOCOL_OPTIONS_FIELDS, keyPath);
    if (v['explicit_http_config'] !== undefined) {
      const explicit = obj(v['explicit_http_config']);
      const ePath = `${keyPath}.explicit_http_config`;
      if (explicit['http_protocol_options'] !== undefined) {
        p.unknownFields(obj(explicit['http_protocol_options']), new Set(), `${ePath}.http_protocol_options`);
      } else if (explicit['http2_protocol_options'] !== undefined) {
        http2At(explicit['http2_protocol_options'], `${ePath}.http2_protocol_options`);
      } else {
        p.notSupported(ePath, 'this upstream protocol');
      }
    } else if (v['auto_config'] !== undefined) {
      // ALPN decides per host (h2 preferred); needs a TLS transport_socket, checked with the cluster.
      const a = obj(v['auto_config']);
      p.unknownFields(a, new Set(['http_protocol_options', 'http2_protocol_options']), `${keyPath}.auto_config`);
      out.upstreamProtocol = UpstreamProtocol.AUTO;
      out.http2 = upstreamHttp2Options(obj(a['http2_protocol_options']), `${keyPath}.auto_config.http2_protocol_options`, h2Problems);
    } else if (v['use_downstream_protocol_config'] !== undefined) {
      // The upstream speaks whatever the downstream request came in with (HTTP/1.1 or HTTP/2).
      const d = obj(v['use_downstream_protocol_config']);
      out.upstreamProtocol = UpstreamProtocol.DOWNSTREAM;
      if (d['http2_protocol_options'] !== undefined) {
        out.http2 = upstreamHttp2Options(obj(d['http2_protocol_options']), `${keyPath}.use_downstream_protocol_config.http2_protocol_options`, h2Problems);
      }
    }
  }
  if (c['http2_protocol_options'] !== undefined) {
    if (typedHttp !== null) {
      p.bad(`${path}.http2_protocol_options`, `set upstream HTTP options either in typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_NAME}"] or in the deprecated cluster fields, not both`);
    }
    http2At(c['http2_protocol_options'], `${path}.http2_protocol_options`);
  }
  for (const h2p of h2Problems) {
    if (h2p.code === 'not_supported') p.list.push({ code: 'not_supported', path: h2p.path, message: h2p.message });
    else p.bad(h2p.path, h2p.message);
  }
  const legacyPresent = c['common_http_protocol_options'] !== undefined || c['http_protocol_options'] !== undefined || c['max_requests_per_connection'] !== undefined;
  if (typedHttp !== null && legacyPresent) {
    p.bad(`${path}.typed_extension_protocol_options`, `set upstream HTTP options either in typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_NAME}"] or in the deprecated cluster fields, not both`);
  }
  if (c['http_protocol_options'] !== undefined) {
    p.unknownFields(obj(c['http_protocol_options']), new Set(), `${path}.http_protocol_options`);
  }
  if (c['max_requests_per_connection'] !== undefined) out.maxRequestsPerConnection = Number(c['max_requests_per_connection']);

  const common = typedHttp !== null ? typedHttp['common_http_protocol_options'] : c['common_http_protocol_options'];
  if (common !== undefined) {
    const commonPath = typedHttp !== null
      ? `${path}.typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_NAME}"].common_http_protocol_options`
      : `${path}.common_http_protocol_options`;
    const o = obj(common);
    p.unknownFields(o, COMMON_HTTP_OPTIONS_FIELDS, commonPath);
    if (o['idle_timeout'] !== undefined) {
      out.idleTimeoutMs = Number(o['idle_timeout']);
      if (!(out.idleTimeoutMs >= 0)) p.bad(`${commonPath}.idle_timeout`, `expected a duration >= 0, got ${String(o['idle_timeout'])}`);
    }
    if (o['max_headers_count'] !== undefined) {
      out.maxHeadersCount = Number(o['max_headers_count']);
      if (!(out.maxHeadersCount >= 1)) p.bad(`${commonPath}.max_headers_count`, `max_headers_count must be >= 1, got ${String(o['max_headers_count'])}`);
    }
    if (o['max_requests_per_connection'] !== undefined) out.maxRequestsPerConnection = Number(o['max_requests_per_connection']);
  }
  return out;
}

function compileEndpoints(c: Obj, path: string, type: string, p: Problems): CompiledEndpoint[] {
  const endpoints: CompiledEndpoint[] = [];
  const la = obj(c['load_assignment']);
  const laPath = `${path}.load_assignment`;
  p.unknownFields(la, LOAD_ASSIGNMENT_FIELDS, laPath);
  const localities = list(la['endpoints']);
  let lbEndpointCount = 0;
  for (let i = 0; i < localities.length; i++) {
    const locality = obj(localities[i]);
    const lPath = `${laPath}.endpoints[${i}]`;
    p.unknownFields(locality, LOCALITY_FIELDS, lPath);
    const priority = locality['priority'] === undefined ? 0 : Number(locality['priority']);
    const rawWeight = locality['load_balancing_weight'];
    const localityWeight = rawWeight === undefined ? 0 : Number(isObj(rawWeight) ? rawWeight['value'] : rawWeight);
    if (!(Number.isInteger(localityWeight) && (rawWeight === undefined || localityWeight >= 1))) p.bad(`${lPath}.load_balancing_weight`, `load_balancing_weight must be an integer >= 1, got ${String(rawWeight)}`);
    const lbEndpoints = list(locality['lb_endpoints']);
    lbEndpointCount += lbEndpoints.length;
    for (let j = 0; j < lbEndpoints.length; j++) {
      const e = compileLbEndpoint(obj(lbEndpoints[j]), `${lPath}.lb_endpoints[${j}]`, type, priority, p);
      if (e === null) continue;
      e.locality = i;
      e.localityWeight = localityWeight;
      endpoints.push(e);
    }
  }
  if (type === 'LOGICAL_DNS' && (localities.length !== 1 || lbEndpointCount !== 1)) {
    p.bad(laPath, `a LOGICAL_DNS cluster needs exactly one locality with exactly one lb_endpoint (found ${localities.length} localities, ${lbEndpointCount} lb_endpoints)`);
  }
  return endpoints;
}

function compileLbEndpoint(lbe: Obj, path: string, type: string, priority: number, p: Problems): CompiledEndpoint | null {
  p.unknownFields(lbe, LB_ENDPOINT_FIELDS, path);
  const endpoint = obj(lbe['endpoint']);
  const ePath = `${path}.endpoint`;
  p.unknownFields(endpoint, ENDPOINT_FIELDS, ePath);
  const address = obj(endpoint['address']);
  const aPath = `${ePath}.address`;
  if (address['socket_address'] === undefined) {
    if (Object.keys(address).length === 0) p.missing(aPath, 'an endpoint needs an address');
    else p.notSupported(aPath, `address kind '${Object.keys(address).join(', ')}' (only socket_address is)`);
    return null;
  }
  const sa = obj(address['socket_address']);
  const saPath = `${aPath}.socket_address`;
  p.unknownFields(sa, SOCKET_ADDRESS_FIELDS, saPath);
  if (sa['protocol'] !== undefined && sa['protocol'] !== 'TCP') p.notSupported(`${saPath}.protocol`, `protocol ${String(sa['protocol'])}`);
  const host = typeof sa['address'] === 'string' ? sa['address'] : '';
  if (host === '') {
    p.missing(`${saPath}.address`, 'an endpoint needs an address');
    return null;
  }
  if (type === 'STATIC' && net.isIP(host) === 0) {
    p.bad(`${saPath}.address`, `malformed IP address: ${host}. A STATIC cluster needs IP addresses; use type STRICT_DNS or LOGICAL_DNS for host names`);
  }
  const port = sa['port_value'] === undefined ? 0 : Number(sa['port_value']);
  if (!(port >= 1 && port <= 65535)) p.bad(`${saPath}.port_value`, `an upstream endpoint needs a port_value in [1, 65535], got ${String(sa['port_value'] ?? 'none')}`);
  if (obj(endpoint['health_check_config'])['address'] !== undefined) p.notSupported(`${ePath}.health_check_config.address`, `'address'`);
  const weight = lbe['load_balancing_weight'] === undefined ? 1 : Number(lbe['load_balancing_weight']);
  if (!(Number.isInteger(weight) && weight >= 1)) p.bad(`${path}.load_balancing_weight`, `load_balancing_weight must be an integer >= 1, got ${String(lbe['load_balancing_weight'])}`);
  const healthStatus = lbe['health_status'] === undefined ? 'UNKNOWN' : String(lbe['health_status']);
  if (!HEALTH_STATUSES.includes(healthStatus)) p.bad(`${path}.health_status`, `unknown health_status ${healthStatus}`);
  return {
    address: host,
    port,
    weight,
    priority,
    healthStatus: healthStatus as EndpointHealthStatus,
    hostname: typeof endpoint['hostname'] === 'string' ? endpoint['hostname'] : '',
    healthCheckPort: Number(obj(endpoint['health_check_config'])['port_value'] ?? 0),
    healthCheckHostname: String(obj(endpoint['health_check_config'])['hostname'] ?? ''),
    healthCheckDisabled: obj(endpoint['health_check_config'])['disable_active_health_check'] === true,
    locality: 0,
    localityWeight: 0,
    lbMetadata: endpointLbMetadata(lbe),
  };
}
