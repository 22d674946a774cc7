// Health check config compile (src/upstream/health-check-config.ts) and the gRPC health message helpers
// (src/upstream/health-check-probes.ts): Envoy's defaults, the required fields, payloads, refusals with paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHealthCheck, DEFAULT_NO_TRAFFIC_INTERVAL_MS } from '../../src/upstream/health-check-config.ts';
import { grpcFrame, servingStatus } from '../../src/upstream/health-check-probes.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';

const P = 'static_resources.clusters[0].health_checks[0]';
const BASE = { timeout: 1000, interval: 5000, unhealthy_threshold: 3, healthy_threshold: 2 };

test('an HTTP check gets Envoy\'s defaults: GET, 200 expected, HTTP/1.1, reuse, intervals from interval', () => {
  const { check, problems } = compileHealthCheck({ ...BASE, http_health_check: { path: '/healthz' } }, P);
  assert.deepEqual(problems, []);
  assert.equal(check!.kind, 'HTTP');
  assert.deepEqual(check!.http!.expectedStatuses, [{ start: 200, end: 201 }]);
  assert.equal(check!.http!.method, 'GET');
  assert.equal(check!.http!.codec, 'HTTP1');
  assert.equal(check!.http!.host, '');
  assert.equal(check!.reuseConnection, true);
  assert.equal(check!.noTrafficIntervalMs, DEFAULT_NO_TRAFFIC_INTERVAL_MS);
  assert.equal(check!.noTrafficHealthyIntervalMs, DEFAULT_NO_TRAFFIC_INTERVAL_MS);
  assert.equal(check!.unhealthyIntervalMs, 5000);
  assert.equal(check!.unhealthyEdgeIntervalMs, 5000);
  assert.equal(check!.healthyEdgeIntervalMs, 5000);
  assert.equal(check!.unhealthyThreshold, 3);
  assert.equal(check!.healthyThreshold, 2);
});

test('unhealthy_edge_interval defaults to unhealthy_interval; thresholds of 0 count as 1', () => {
  const { check } = compileHealthCheck({ ...BASE, unhealthy_threshold: 0, healthy_threshold: 0, unhealthy_interval: 700, tcp_health_check: {} }, P);
  assert.equal(check!.unhealthyEdgeIntervalMs, 700);
  assert.equal(check!.unhealthyThreshold, 1);
  assert.equal(check!.healthyThreshold, 1);
  assert.deepEqual(check!.tcp, { sendHex: '', receiveHex: [] });
});

test('TCP payloads as hex text or base64 binary', () => {
  const { check, problems } = compileHealthCheck({ ...BASE, tcp_health_check: { send: { text: '70 69 6E 67' }, receive: [{ binary: Buffer.from('pong').toString('base64') }] } }, P);
  assert.deepEqual(problems, []);
  assert.deepEqual(check!.tcp, { sendHex: '70696e67', receiveHex: ['706f6e67'] });
  const bad = compileHealthCheck({ ...BASE, tcp_health_check: { send: { text: 'xyz' } } }, P).problems;
  assert.equal(bad[0]!.path, `${P}.tcp_health_check.send.text`);
});

test('required fields and fields not implemented are reported with their paths', () => {
  const missing = compileHealthCheck({ http_health_check: { path: '/' } }, P).problems.map((p) => p.path).sort();
  assert.deepEqual(missing, [`${P}.healthy_threshold`, `${P}.interval`, `${P}.timeout`, `${P}.unhealthy_threshold`]);
  const unsupported = compileHealthCheck({
    ...BASE, custom_health_check: { name: 'x' }, tls_options: { alpn_protocols: ['h2'] }, event_service: {},
  }, P).problems;
  assert.ok(unsupported.some((p) => p.path === `${P}.tls_options` && p.code === 'not_supported'));
  assert.ok(unsupported.some((p) => p.path === `${P}.custom_health_check` && p.code === 'not_supported'));
  const http3 = compileHealthCheck({ ...BASE, http_health_check: { path: '/', codec_client_type: 'HTTP3', send: { text: '00' } } }, P).problems;
  // receive (and response_buffer_size) are supported; send is not (Envoy does not implement it either).
  assert.deepEqual(compileHealthCheck({ ...BASE, http_health_check: { path: '/', receive: [{ text: '6f6b' }], response_buffer_size: 0 } }, P).check!.http!.receiveHex, ['6f6b']);
  assert.deepEqual(http3.map((p) => p.path).sort(), [`${P}.http_health_check.codec_client_type`, `${P}.http_health_check.send`]);
  const sink = compileHealthCheck({ ...BASE, tcp_health_check: {}, event_logger: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/x.Y' } }] }, P).problems;
  assert.equal(sink[0]!.path, `${P}.event_logger[0].typed_config`);
  const badRegex = compileHealthCheck({ ...BASE, http_health_check: { path: '/', service_name_matcher: { safe_regex: { regex: '(' } } } }, P).problems;
  assert.equal(badRegex[0]!.code, 'bad_value');
  const ranges = compileHealthCheck({ ...BASE, http_health_check: { path: '/', expected_statuses: [{ start: 200, end: 700 }] } }, P).problems;
  assert.equal(ranges[0]!.path, `${P}.http_health_check.expected_statuses[0]`);
});

test('a cluster takes one health check; TLS clusters and a second check are refused', () => {
  const hc = { ...BASE, http_health_check: { path: '/' } };
  const ok = compileCluster({ name: 'a', health_checks: [hc] }, 'static_resources.clusters[0]');
  assert.equal(ok.cluster!.healthChecks.length, 1);
  const two = compileCluster({ name: 'a', health_checks: [hc, hc] }, 'static_resources.clusters[0]');
  assert.equal(two.problems[0]!.path, 'static_resources.clusters[0].health_checks[1]');
  const close = compileCluster({ name: 'a', health_checks: [hc], close_connections_on_host_health_failure: true }, 'static_resources.clusters[0]');
  assert.equal(close.problems[0]!.path, 'static_resources.clusters[0].close_connections_on_host_health_failure');
});

test('the gRPC HealthCheckRequest frame and the HealthCheckResponse status', () => {
  assert.deepEqual([...grpcFrame('')], [0, 0, 0, 0, 0]);
  assert.deepEqual([...grpcFrame('ab')], [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]);
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 2])), 2);
  // An empty message is UNKNOWN (0); a truncated one is malformed (-1).
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 0])), 0);
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 5, 0x08])), -1);
});
