// compileCluster: Envoy's defaults, the supported subset, and a problem (with its field path) for everything else.

import test from 'node:test';
import assert from 'node:assert/strict';
import { HTTP2_DEFAULTS } from '../../src/snapshot/http2-options.ts';
import { UpstreamProtocol, compileCluster, type CompiledCluster } from '../../src/upstream/cluster-config.ts';
import { BREAKER_DEFAULTS } from '../../src/upstream/circuit-breakers.ts';

const P = 'static_resources.clusters[0]';

function endpoint(address: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra };
}

function ok(cluster: Record<string, unknown>): CompiledCluster {
  const r = compileCluster(cluster, P);
  assert.deepEqual(r.problems, []);
  assert.ok(r.cluster);
  return r.cluster;
}

function problems(cluster: Record<string, unknown>): { code: string; path: string; message: string }[] {
  const r = compileCluster(cluster, P);
  assert.equal(r.cluster, null, 'a cluster with problems must not compile');
  assert.ok(r.problems.length > 0);
  return r.problems;
}

test('a minimal cluster gets every Envoy default', () => {
  const c = ok({ name: 'backend', load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [endpoint('127.0.0.1', 8080)] }] } });
  assert.deepEqual(c, {
    name: 'backend',
    type: 'STATIC',
    connectTimeoutMs: 5000,
    lbPolicy: 'ROUND_ROBIN',
    hashLb: { minimumRingSize: 1024, maximumRingSize: 8388608, maglevTableSize: 65537, useHostnameForHashing: false },
    leastRequestChoiceCount: 2,
    leastRequestActiveRequestBias: 1,
    healthyPanicThresholdPercent: 50,
    slowStart: null,
    localityWeightedLb: false,
    dnsLookupFamily: 'AUTO',
    dnsRefreshRateMs: 5000,
    dnsFailureRefreshBaseMs: 5000,
    dnsFailureRefreshMaxMs: 5000,
    respectDnsTtl: false,
    endpoints: [{ address: '127.0.0.1', port: 8080, weight: 1, priority: 0, healthStatus: 'UNKNOWN', hostname: '', healthCheckPort: 0, healthCheckHostname: '', healthCheckDisabled: false, locality: 0, localityWeight: 0, lbMetadata: null }],
    perConnectionBufferLimitBytes: 1048576,
    idleTimeoutMs: 3600000,
    maxHeadersCount: 100,
    maxRequestsPerConnection: 0,
    upstreamProtocol: UpstreamProtocol.HTTP1,
    http2: HTTP2_DEFAULTS,
    maxConnections: 1024,
    maxPendingRequests: 1024,
    transportSocket: null,
    tlsSlots: null,
    healthChecks: [],
    healthCheckSlots: null,
    ignoreHealthOnHostRemoval: false,
    circuitBreakers: { slot: -1, default: BREAKER_DEFAULTS, high: BREAKER_DEFAULTS },
    outlierDetection: null,
    outlierSlots: null,
    aggregateClusters: null,
    dynamicForwardProxy: null,
    originalDst: null,
    subset: null,
  });
  // Plain data: survives structured cloning unchanged (it crosses threads).
  assert.deepEqual(structuredClone(c), c);
});

test('a cluster with no load_assignment is an empty STATIC cluster', () => {
  assert.deepEqual(ok({ name: 'empty' }).endpoints, []);
});

test('endpoints are flattened out of localities with weight, priority, health and hostname', () => {
  const c = ok({
    name: 'b',
    type: 'STRICT_DNS',
    lb_policy: 'LEAST_REQUEST',
    least_request_lb_config: { choice_count: 3, active_request_bias: { default_value: 0.5, runtime_key: 'x' } },
    connect_timeout: 250,
    dns_lookup_family: 'V4_ONLY',
    dns_refresh_rate: 10000,
    dns_failure_refresh_rate: { base_interval: 500, max_interval: 4000 },
    respect_dns_ttl: true,
    per_connection_buffer_limit_bytes: 32768,
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    load_assignment: {
      cluster_name: 'b',
      endpoints: [
        { lb_endpoints: [endpoint('a.example', 80, { load_balancing_weight: 3 }), endpoint('b.example', 81, { health_status: 'UNHEALTHY' })] },
        { priority: 1, locality: { zone: 'z1' }, lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'c.example', port_value: 82 } }, hostname: 'c.internal' } }] },
      ],
    },
  });
  assert.equal(c.type, 'STRICT_DNS');
  assert.equal(c.lbPolicy, 'LEAST_REQUEST');
  assert.equal(c.leastRequestChoiceCount, 3);
  assert.equal(c.leastRequestActiveRequestBias, 0.5);
  assert.equal(c.connectTimeoutMs, 250);
  assert.equal(c.dnsLookupFamily, 'V4_ONLY');
  assert.equal(c.dnsRefreshRateMs, 10000);
  assert.equal(c.dnsFailureRefreshBaseMs, 500);
  assert.equal(c.dnsFailureRefreshMaxMs, 4000);
  assert.equal(c.respectDnsTtl, true);
  assert.equal(c.perConnectionBufferLimitBytes, 32768);
  assert.equal(c.healthyPanicThresholdPercent, 0);
  assert.deepEqual(c.endpoints, [
    { address: 'a.example', port: 80, weight: 3, priority: 0, healthStatus: 'UNKNOWN', hostname: '', healthCheckPort: 0, healthCheckHostname: '', healthCheckDisabled: false, locality: 0, localityWeight: 0, lbMetadata: null },
    { address: 'b.example', port: 81, weight: 1, priority: 0, healthStatus: 'UNHEALTHY', hostname: '', healthCheckPort: 0, healthCheckHostname: '', healthCheckDisabled: false, locality: 0, localityWeight: 0, lbMetadata: null },
    { address: 'c.example', port: 82, weight: 1, priority: 1, healthStatus: 'UNKNOWN', hostname: 'c.internal', healthCheckPort: 0, healthCheckHostname: '', healthCheckDisabled: false, locality: 1, localityWeight: 0, lbMetadata: null },
  ]);
});

test('upstream HTTP options: deprecated cluster field or typed_extension_protocol_options', () => {
  const legacy = ok({ name: 'a', common_http_protocol_options: { idle_timeout: 30000, max_headers_count: 50, max_requests_per_connection: 7 } });
  assert.equal(legacy.idleTimeoutMs, 30000);
  assert.equal(legacy.maxHeadersCount, 50);
  assert.equal(legacy.maxRequestsPerConnection, 7);

  const typed = ok({
    name: 'a',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        common_http_protocol_options: { idle_timeout: 0 },
        explicit_http_config: { http_protocol_options: {} },
      },
    },
  });
  assert.equal(typed.idleTimeoutMs, 0, 'idle_timeout 0 disables the timeout');
  assert.equal(typed.maxHeadersCount, 100);
});

test('HTTP/2 upstreams: explicit, legacy field, downstream protocol; both option forms at once are problems', () => {
  const typed = (config: Record<string, unknown>) => ({
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      ...config,
    },
  });
  const h2 = ok({ name: 'a', typed_extension_protocol_options: typed({ explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 7 } } }) });
  assert.equal(h2.upstreamProtocol, UpstreamProtocol.HTTP2);
  assert.equal(h2.http2.maxConcurrentStreams, 7);
  assert.equal(h2.http2.initialStreamWindowSize, HTTP2_DEFAULTS.initialStreamWindowSize);

  const legacyH2 = ok({ name: 'a', http2_protocol_options: { initial_stream_window_size: 1048576 } });
  assert.equal(legacyH2.upstreamProtocol, UpstreamProtocol.HTTP2);
  assert.equal(legacyH2.http2.initialStreamWindowSize, 1048576);

  const downstream = ok({ name: 'a', typed_extension_protocol_options: typed({ use_downstream_protocol_config: { http2_protocol_options: {} } }) });
  assert.equal(downstream.upstreamProtocol, UpstreamProtocol.DOWNSTREAM);

  // auto_config picks by ALPN: without a TLS transport socket it cannot work.
  const autoPlain = problems({ name: 'a', typed_extension_protocol_options: typed({ auto_config: {} }) });
  assert.deepEqual(autoPlain.map((x) => x.code), ['bad_value']);
  assert.match(autoPlain[0]!.path, /auto_config$/);
  assert.match(autoPlain[0]!.message, /TLS transport_socket/);

  const keepalive = ok({ name: 'a', http2_protocol_options: { connection_keepalive: { interval: 200, timeout: 300, interval_jitter: { value: 5 } } } });
  assert.deepEqual(keepalive.http2.keepalive, { intervalMs: 200, timeoutMs: 300, intervalJitterPercent: 5 });
  const idleOnly = problems({ name: 'a', http2_protocol_options: { connection_keepalive: { timeout: 300, connection_idle_interval: 1000 } } });
  assert.deepEqual(idleOnly.map((x) => x.code), ['not_supported', 'not_supported']);

  const notYet = problems({ name: 'a', http2_protocol_options: { stream_error_on_invalid_http_messaging: false } });
  assert.deepEqual(notYet.map((x) => [x.code, x.path]), [['not_supported', `${P}.http2_protocol_options.stream_error_on_invalid_http_messaging`]]);

  const twice = problems({ name: 'a', http2_protocol_options: {}, typed_extension_protocol_options: typed({ explicit_http_config: { http2_protocol_options: {} } }) });
  assert.equal(twice[0]!.code, 'bad_value');

  const both = problems({
    name: 'a',
    common_http_protocol_options: { idle_timeout: 1000 },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions' },
    },
  });
  assert.equal(both[0]!.code, 'bad_value');
});

test('unsupported cluster types and lb policies are named', () => {
  // ORIGINAL_DST is implemented (test/e2e/original-dst.test.ts).
  for (const type of ['EDS']) {
    const p = problems({ name: 'a', type });
    assert.deepEqual(p, [{ code: 'not_supported', path: `${P}.type`, message: `cluster type ${type} is not supported yet` }]);
  }
  // RING_HASH and MAGLEV are implemented (test/upstream/hash-policy.test.ts).
  for (const lb of ['CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG']) {
    const p = problems({ name: 'a', lb_policy: lb });
    assert.deepEqual(p, [{ code: 'not_supported', path: `${P}.lb_policy`, message: `lb_policy ${lb} is not supported yet` }]);
  }
  assert.equal(problems({ name: 'a', cluster_type: { name: 'envoy.clusters.redis' } })[0]!.path, `${P}.cluster_type`);
});

test('fields Legate does not implement are problems, never silently ignored', () => {
  const p = problems({
    name: 'a',
    // A health check field not implemented yet (health_checks itself is: test/upstream/health-check-config.test.ts).
    health_checks: [{ timeout: 1000, interval: 1000, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {}, tls_options: { alpn_protocols: ['h2'] } }],
    // outlier_detection is implemented (test/e2e/outlier-detection.test.ts); un-ejecting on a passed health check is not yet.
    outlier_detection: { successful_active_health_check_uneject_host: true },
    // circuit_breakers is implemented (test/e2e/circuit-breakers.test.ts, retry-budget.test.ts); max_connection_pools is not yet.
    circuit_breakers: { thresholds: [{ max_connections: 10, max_connection_pools: 5 }] },
    // slow_start_config and locality_weighted_lb_config are implemented (test/upstream/slow-start.test.ts,
    // test/e2e/locality-lb.test.ts); zone-aware routing is not yet.
    common_lb_config: { zone_aware_lb_config: { min_cluster_size: 6 } },
  });
  assert.deepEqual(p.map((x) => x.path).sort(), [
    `${P}.circuit_breakers.thresholds[0].max_connection_pools`, `${P}.common_lb_config.zone_aware_lb_config`, `${P}.health_checks[0].tls_options`, `${P}.outlier_detection.successful_active_health_check_uneject_host`,
  ]);
  assert.ok(p.every((x) => x.code === 'not_supported'));
  // Empty repeated fields are the same as absent.
  ok({ name: 'a', health_checks: [] });
});

test('a STATIC cluster needs IP addresses, as Envoy says', () => {
  const p = problems({ name: 'a', type: 'STATIC', load_assignment: { endpoints: [{ lb_endpoints: [endpoint('localhost', 80)] }] } });
  assert.equal(p.length, 1);
  assert.equal(p[0]!.code, 'bad_value');
  assert.equal(p[0]!.path, `${P}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address`);
  assert.match(p[0]!.message, /malformed IP address: localhost/);
  assert.match(p[0]!.message, /STRICT_DNS/);
  ok({ name: 'a', load_assignment: { endpoints: [{ lb_endpoints: [endpoint('::1', 80), endpoint('10.1.2.3', 80)] }] } });
  ok({ name: 'a', type: 'STRICT_DNS', load_assignment: { endpoints: [{ lb_endpoints: [endpoint('localhost', 80)] }] } });
});

test('LOGICAL_DNS needs exactly one endpoint', () => {
  ok({ name: 'a', type: 'LOGICAL_DNS', load_assignment: { endpoints: [{ lb_endpoints: [endpoint('localhost', 80)] }] } });
  for (const endpoints of [
    [],
    [{ lb_endpoints: [endpoint('a', 80), endpoint('b', 80)] }],
    [{ lb_endpoints: [endpoint('a', 80)] }, { lb_endpoints: [endpoint('b', 80)] }],
  ]) {
    const p = problems({ name: 'a', type: 'LOGICAL_DNS', load_assignment: { endpoints } });
    assert.equal(p.length, 1);
    assert.equal(p[0]!.path, `${P}.load_assignment`);
    assert.match(p[0]!.message, /exactly one/);
  }
  assert.equal(problems({ name: 'a', type: 'LOGICAL_DNS' })[0]!.path, `${P}.load_assignment`);
});

test('bad values: timeouts, weights, ports, names, addresses', () => {
  const lbe = (x: Record<string, unknown>) => ({ name: 'a', load_assignment: { endpoints: [{ lb_endpoints: [x] }] } });
  const base = `${P}.load_assignment.endpoints[0].lb_endpoints[0]`;
  assert.equal(problems({ name: 'a', connect_timeout: 0 })[0]!.path, `${P}.connect_timeout`);
  assert.equal(problems({ name: 'a', dns_refresh_rate: 1 })[0]!.path, `${P}.dns_refresh_rate`);
  assert.equal(problems({ name: '' })[0]!.code, 'missing_field');
  assert.equal(problems(lbe(endpoint('127.0.0.1', 80, { load_balancing_weight: 0 })))[0]!.path, `${base}.load_balancing_weight`);
  assert.equal(problems(lbe({ endpoint: { address: { socket_address: { address: '127.0.0.1' } } } }))[0]!.path, `${base}.endpoint.address.socket_address.port_value`);
  assert.equal(problems(lbe({ endpoint: {} }))[0]!.code, 'missing_field');
  const pipe = problems(lbe({ endpoint: { address: { pipe: { path: '/tmp/s' } } } }));
  assert.deepEqual(pipe.map((x) => [x.code, x.path]), [['not_supported', `${base}.endpoint.address`]]);
  const udp = problems(lbe({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 53, protocol: 'UDP' } } } }));
  assert.equal(udp[0]!.path, `${base}.endpoint.address.socket_address.protocol`);
  const lr = problems({ name: 'a', least_request_lb_config: { choice_count: 1 } });
  assert.equal(lr[0]!.path, `${P}.least_request_lb_config.choice_count`);
});
