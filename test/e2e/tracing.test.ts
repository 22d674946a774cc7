// End to end: HCM tracing through bin/legate to real collectors started here. The corpus's OpenTelemetry example
// (OTLP/gRPC to a collector cluster) and Zipkin example (v2 JSON) run as they are (addresses changed); more configs
// cover OTLP/HTTP, sampling (0% exports nothing, x-request-id's trace status), spawn_upstream_span, custom tags,
// max_path_tag_length and W3C / B3 propagation (an incoming trace continued, the upstream sees Legate's span as
// its parent). Flushes are made short with Envoy's runtime keys (tracing.*.flush_interval_ms / min_flush_spans).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { HttpTracer } from '../../workers/tracing/http-tracer.ts';
import { parseB3, parseTraceparent } from '../../workers/tracing/propagation.ts';
import { StreamInfo } from '../../src/http/stream-info.ts';
import { compileTracing, type TracingProblem } from '../../src/tracing/tracing-config.ts';
import { startOtlpGrpcReceiver, startOtlpHttpReceiver, startZipkinReceiver, type ReceivedSpan, type TraceReceiver } from '../support/trace-receivers.ts';

const CORPUS = path.resolve(ROOT, '../shared/compat/envoy-configs');
const OTEL_EXAMPLE = path.join(CORPUS, 'envoyproxy-examples__opentelemetry-envoy-front-proxy.yaml');
const ZIPKIN_EXAMPLE = path.join(CORPUS, 'envoyproxy-examples__zipkin-envoy-front-proxy.yaml');

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

function runtime(prefix: 'opentelemetry' | 'zipkin', flushMs: number, minSpans: number): string {
  return `layered_runtime:
  layers:
  - name: static
    static_layer:
      tracing.${prefix}.flush_interval_ms: ${flushMs}
      tracing.${prefix}.min_flush_spans: ${minSpans}
`;
}

/** Sends a GET through Legate; answers the request headers the upstream saw. */
async function echo(up: TestUpstream, url: string, headers: string[] = []): Promise<Record<string, string>> {
  const before = up.seen.length;
  const r = await curl([...headers.flatMap((h) => ['-H', h]), url]);
  assert.equal(r.status, 200, r.body);
  assert.equal(up.seen.length, before + 1);
  return up.seen[before]!.headers as Record<string, string>;
}

function byName(spans: ReceivedSpan[], name: string): ReceivedSpan[] {
  return spans.filter((s) => s.name === name);
}

describe('tracing: the corpus OpenTelemetry example (OTLP/gRPC to a collector cluster)', { skip: fs.existsSync(OTEL_EXAMPLE) ? false : `no corpus at ${OTEL_EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let collector: TraceReceiver;
  let base: string;

  before(async () => {
    up = await startUpstream('otel-service');
    collector = await startOtlpGrpcReceiver();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const yaml = fs.readFileSync(OTEL_EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000\n    traffic_direction', `port_value: ${port}\n    traffic_direction`)
      .replaceAll('address: envoy-1', 'address: 127.0.0.1')
      .replaceAll(/port_value: 1000[01]/g, `port_value: ${up.port}`)
      .replace('address: opentelemetry', 'address: 127.0.0.1')
      .replace('port_value: 4317', `port_value: ${collector.port}`)
      .replace('timeout: 0.250s', 'timeout: 5s') + runtime('opentelemetry', 100, 1);
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await collector?.close();
  });

  it('exports a span named by the route decorator, with Envoy\'s tags, and passes its context upstream', async () => {
    const seen = await echo(up, `${base}/trace/1/echo`, ['user-agent: tracing-test']);
    await waitUntil(() => byName(collector.spans, 'routeToEnvoy1').length === 1, () => `spans: ${JSON.stringify(collector.spans)}`, 10_000);
    const span = byName(collector.spans, 'routeToEnvoy1')[0]!;
    assert.equal(span.kind, 3, 'egress listener (traffic_direction OUTBOUND): a CLIENT span'); // OTLP SPAN_KIND_CLIENT
    assert.equal(span.serviceName, 'front-envoy');
    assert.equal(span.parentSpanId, '');
    assert.equal(span.tags['component'], 'proxy');
    assert.equal(span.tags['http.method'], 'GET');
    assert.equal(span.tags['http.status_code'], '200');
    assert.equal(span.tags['upstream_cluster'], 'envoy_cluster1');
    assert.equal(span.tags['response_flags'], '-');
    assert.equal(span.tags['http.protocol'], 'HTTP/1.1');
    assert.equal(span.tags['user_agent'], 'tracing-test');
    assert.equal(span.tags['http.url'], `${base}/trace/1/echo`);
    assert.equal(span.tags['guid:x-request-id'], seen['x-request-id']);
    assert.ok('node_id' in span.tags);
    // Envoy's UUID request id carries the decision: '9' (sampled) in its 14th character.
    assert.equal(seen['x-request-id']![14], '9');
    // The upstream sees a traceparent of the same trace whose parent is Legate's span.
    assert.equal(seen['traceparent'], `00-${span.traceId}-${span.spanId}-01`);
    // Egress: the route's decorator goes on for the next hop's server span.
    assert.equal(seen['x-envoy-decorator-operation'], 'routeToEnvoy1');
  });

  it('continues an incoming W3C trace: same trace id, the client\'s span as parent; tracestate passed on', async () => {
    const seen = await echo(up, `${base}/trace/2/echo`, [`traceparent: 00-${TRACE_ID}-${PARENT_ID}-01`, 'tracestate: vendor=x']);
    await waitUntil(() => byName(collector.spans, 'routeToEnvoy2ViaEnvoy1').length === 1, () => `spans: ${JSON.stringify(collector.spans)}`, 10_000);
    const span = byName(collector.spans, 'routeToEnvoy2ViaEnvoy1')[0]!;
    assert.equal(span.traceId, TRACE_ID);
    assert.equal(span.parentSpanId, PARENT_ID);
    assert.equal(seen['traceparent'], `00-${TRACE_ID}-${span.spanId}-01`);
    assert.equal(seen['tracestate'], 'vendor=x');
  });

  it('an incoming traceparent that is not sampled stays so: no span, the context goes on untouched', async () => {
    const before = collector.spans.length;
    const tp = `00-${TRACE_ID}-${PARENT_ID}-00`;
    const seen = await echo(up, `${base}/trace/1/echo?unsampled`, [`traceparent: ${tp}`]);
    assert.equal(seen['traceparent'], tp);
    // A sampled request after it: once its span is in, the unsampled one would have been before it.
    await echo(up, `${base}/trace/1/echo?after`);
    await waitUntil(() => collector.spans.some((s) => s.tags['http.url']?.endsWith('?after') === true), () => `spans: ${JSON.stringify(collector.spans)}`, 10_000);
    assert.deepEqual(collector.spans.slice(before).filter((s) => s.tags['http.url']?.includes('unsampled')), []);
  });
});

describe('tracing: OTLP/HTTP, sampling, spawn_upstream_span, custom tags', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let collector: TraceReceiver;
  const paths: string[] = [];
  let sampled: string;
  let unsampled: string;
  let zipkin: TraceReceiver;
  let zipkinIn: string;

  before(async () => {
    up = await startUpstream('svc');
    collector = await startOtlpHttpReceiver(paths);
    zipkin = await startZipkinReceiver();
    const tracing = (random: number, extra: string) => `          tracing:
            random_sampling: { value: ${random} }
            spawn_upstream_span: true
            max_path_tag_length: 20
${extra}            custom_tags:
            - { tag: team, literal: { value: edge } }
            - { tag: tenant, request_header: { name: x-tenant, default_value: none } }
            - { tag: region, environment: { name: LEGATE_TRACING_TEST_REGION, default_value: unset } }
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                service_name: legate-test
                resource_detectors:
                - name: envoy.tracers.opentelemetry.resource_detectors.environment
                  typed_config: { "@type": type.googleapis.com/envoy.extensions.tracers.opentelemetry.resource_detectors.v3.EnvironmentResourceDetectorConfig }
                - name: envoy.tracers.opentelemetry.resource_detectors.static_config
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.tracers.opentelemetry.resource_detectors.v3.StaticConfigResourceDetectorConfig
                    attributes: { team.static: "yes" }
                http_service:
                  http_uri: { uri: "http://collector:4318/v1/traces", cluster: collector, timeout: 5s }
                  request_headers_to_add:
                  - header: { key: x-collector-token, value: secret }
`;
    const route = [{ match: '{ prefix: "/" }', action: 'route: { cluster: svc }' }];
    const config = bootstrap(
      [
        hcmListener({ name: 'sampled', routes: route, hcmExtra: tracing(100, '') }),
        hcmListener({ name: 'unsampled', routes: route, hcmExtra: tracing(0, '') }),
        hcmListener({ name: 'zipkin_in', routes: route, hcmExtra: `          tracing:
            provider:
              name: envoy.tracers.zipkin
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                collector_cluster: zipkin
                collector_endpoint: /api/v2/spans
                collector_endpoint_version: HTTP_JSON
                trace_id_128bit: true
` }),
      ],
      [
        cluster({ name: 'svc', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
        cluster({ name: 'collector', endpoints: [{ address: '127.0.0.1', port: collector.port }] }),
        cluster({ name: 'zipkin', endpoints: [{ address: '127.0.0.1', port: zipkin.port }] }),
      ],
    ) + runtime('opentelemetry', 100, 2) + '      tracing.zipkin.flush_interval_ms: 100\n      tracing.zipkin.min_flush_spans: 1\n';
    legate = await startLegate({ config, concurrency: 1, env: { LEGATE_TRACING_TEST_REGION: 'eu-1', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test%20env,host.name=h1' } });
    const ports = await legate.listenerPorts();
    sampled = `http://127.0.0.1:${ports['sampled']}`;
    unsampled = `http://127.0.0.1:${ports['unsampled']}`;
    zipkinIn = `http://127.0.0.1:${ports['zipkin_in']}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await collector?.close();
    await zipkin?.close();
  });

  it('Zipkin ingress: a SERVER span sharing the client\'s span context (shared_span_context); the single b3 header too', async () => {
    const t = '80f198ee56343ba864fe8b2a57d3eff7';
    const seen = await echo(up, `${zipkinIn}/multi`, [`x-b3-traceid: ${t}`, `x-b3-spanid: ${PARENT_ID}`, 'x-b3-parentspanid: 0102030405060708', 'x-b3-sampled: 1']);
    const single = await echo(up, `${zipkinIn}/single`, [`b3: ${t}-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90`]);
    await waitUntil(() => zipkin.spans.length >= 2, () => JSON.stringify(zipkin.spans), 10_000);
    const multi = zipkin.spans.find((s) => s.tags['http.url']?.endsWith('/multi') === true)!;
    assert.equal(multi.kind, 'SERVER');
    assert.equal(multi.name, 'ingress');
    assert.equal(multi.traceId, t);
    assert.equal(multi.spanId, PARENT_ID);
    assert.equal(multi.parentSpanId, '0102030405060708');
    assert.equal(seen['x-b3-traceid'], t);
    assert.equal(seen['x-b3-spanid'], PARENT_ID);
    assert.equal(seen['x-b3-parentspanid'], '0102030405060708');
    const one = zipkin.spans.find((s) => s.tags['http.url']?.endsWith('/single') === true)!;
    assert.equal(one.traceId, t);
    assert.equal(one.spanId, 'e457b5a2e4d86bd1');
    assert.equal(one.parentSpanId, '05e3ac9a4f6e3b90');
    assert.equal(single['b3'], `${t}-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90`);
  });

  it('random_sampling 0% exports nothing and keeps x-request-id\'s status; 100% exports the server span and the router\'s child', async () => {
    const quiet = await echo(up, `${unsampled}/quiet/echo`);
    assert.equal(quiet['traceparent'], undefined, 'a request not sampled gets no context');
    assert.equal(quiet['x-request-id']![14], '4');
    const seen = await echo(up, `${sampled}/a/very/long/path/beyond/twenty/echo`, ['x-tenant: acme']);
    await waitUntil(() => collector.spans.length >= 2, () => `spans: ${JSON.stringify(collector.spans)} paths: ${paths.join(' | ')}`, 10_000);
    assert.ok(paths.every((p) => p.startsWith('POST /v1/traces application/x-protobuf')), paths.join(' | '));
    assert.equal(collector.spans.length, 2, `only the sampled request's spans: ${JSON.stringify(collector.spans)}`);
    const server = collector.spans.find((s) => s.name === 'ingress')!;
    const child = collector.spans.find((s) => s.name === 'router svc egress')!;
    assert.ok(server !== undefined && child !== undefined, JSON.stringify(collector.spans));
    assert.equal(server.kind, 2); // SERVER
    assert.equal(child.kind, 3); // CLIENT
    assert.equal(server.serviceName, 'legate-test');
    assert.deepEqual([server.resource['deployment.environment'], server.resource['host.name'], server.resource['team.static']], ['test env', 'h1', 'yes']);
    assert.equal(child.traceId, server.traceId);
    assert.equal(child.parentSpanId, server.spanId);
    assert.equal(child.tags['upstream_cluster'], 'svc');
    assert.equal(child.tags['http.status_code'], '200');
    // The upstream's parent is the router's span.
    assert.equal(seen['traceparent'], `00-${server.traceId}-${child.spanId}-01`);
    assert.equal(server.tags['http.url'], `${sampled}/a/very/long/path/be`);
    assert.equal(server.tags['team'], 'edge');
    assert.equal(server.tags['tenant'], 'acme');
    assert.equal(server.tags['region'], 'eu-1');
  });

  it('a 5xx is an error span; a header custom tag falls back to its default; x-client-trace-id is tagged; x-envoy-decorator-operation names an ingress span', async () => {
    const before = collector.spans.length;
    const r = await curl(['-H', 'x-client-trace-id: client-1', '-H', 'x-envoy-decorator-operation: from-client', `${sampled}/status/503`]);
    assert.equal(r.status, 503);
    assert.equal(up.seen.at(-1)!.headers['x-envoy-decorator-operation'], undefined, 'removed on ingress');
    await waitUntil(() => collector.spans.length >= before + 2, () => `spans: ${JSON.stringify(collector.spans)}`, 10_000);
    const server = collector.spans.slice(before).find((s) => s.name === 'from-client')!;
    assert.ok(server !== undefined, JSON.stringify(collector.spans.slice(before)));
    assert.equal(server.tags['http.status_code'], '503');
    assert.equal(server.tags['error'], 'true');
    assert.equal(server.statusCode, 2); // STATUS_CODE_ERROR
    assert.equal(server.tags['tenant'], 'none');
    assert.equal(server.tags['guid:x-client-trace-id'], 'client-1');
  });
});

describe('tracing: the corpus Zipkin example (v2 JSON, B3)', { skip: fs.existsSync(ZIPKIN_EXAMPLE) ? false : `no corpus at ${ZIPKIN_EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let collector: TraceReceiver;
  let base: string;

  before(async () => {
    up = await startUpstream('zipkin-service');
    collector = await startZipkinReceiver();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const yaml = fs.readFileSync(ZIPKIN_EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000\n    traffic_direction', `port_value: ${port}\n    traffic_direction`)
      .replaceAll('address: envoy-1', 'address: 127.0.0.1')
      .replaceAll(/port_value: 1000[01]/g, `port_value: ${up.port}`)
      .replace('address: zipkin', 'address: 127.0.0.1')
      .replace('port_value: 9411', `port_value: ${collector.port}`) + runtime('zipkin', 100, 1);
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await collector?.close();
  });

  it('starts a trace (64-bit ids), names the span by the decorator, sends B3 upstream', async () => {
    const seen = await echo(up, `${base}/trace/1/echo`);
    await waitUntil(() => collector.spans.length >= 1, () => 'no span at the Zipkin receiver', 10_000);
    const span = collector.spans[0]!;
    assert.equal(span.name.toLowerCase(), 'routetoenvoy1');
    assert.equal(span.kind, 'CLIENT');
    assert.equal(span.serviceName, 'envoy-proxy-front');
    assert.equal(span.tags['upstream_cluster'], 'envoy_cluster1');
    assert.equal(span.tags['http.status_code'], '200');
    assert.equal(seen['x-b3-traceid']!.length, 16);
    assert.ok(span.traceId.endsWith(seen['x-b3-traceid']!), `${span.traceId} vs ${seen['x-b3-traceid']}`);
    assert.equal(seen['x-b3-spanid'], span.spanId);
    assert.equal(seen['x-b3-sampled'], '1');
  });

  it('continues incoming B3 (an egress span is the client span\'s child); x-b3-sampled: 0 exports nothing', async () => {
    const before = collector.spans.length;
    const t = '463ac35c9f6413ad';
    const seen = await echo(up, `${base}/trace/2/echo`, [`x-b3-traceid: ${t}`, `x-b3-spanid: ${PARENT_ID}`, 'x-b3-parentspanid: 0102030405060708', 'x-b3-sampled: 1']);
    const quiet = await echo(up, `${base}/trace/1/echo?quiet`, [`x-b3-traceid: ${t}`, 'x-b3-spanid: 1111111111111111', 'x-b3-sampled: 0']);
    assert.equal(quiet['x-b3-spanid'], '1111111111111111');
    await echo(up, `${base}/trace/1/echo?after`);
    await waitUntil(() => collector.spans.some((s) => s.tags['http.url']?.endsWith('?after') === true), () => JSON.stringify(collector.spans), 10_000);
    const got = collector.spans.slice(before);
    const span = got.find((s) => s.tags['http.url']?.includes('/trace/2/') === true)!;
    assert.ok(span !== undefined, JSON.stringify(got));
    assert.ok(span.traceId.endsWith(t));
    // Egress (traffic_direction OUTBOUND): a CLIENT span, child of the incoming one (no shared span context).
    assert.equal(span.parentSpanId, PARENT_ID);
    assert.notEqual(span.spanId, PARENT_ID);
    assert.equal(seen['x-b3-traceid'], t);
    assert.equal(seen['x-b3-spanid'], span.spanId);
    assert.equal(seen['x-b3-parentspanid'], PARENT_ID);
    assert.equal(got.filter((s) => s.tags['http.url']?.includes('quiet') === true).length, 0);
  });
});

describe('tracing: spans still queued when Legate stops are exported (Envoy\'s default 5 s / 5 spans batching)', () => {
  it('a single span, under the batch size, reaches the collector on SIGTERM', async () => {
    const up = await startUpstream('flush-svc');
    const collector = await startOtlpGrpcReceiver();
    let legate: LegateProcess | undefined;
    try {
      const config = bootstrap(
        [hcmListener({ name: 'l', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: svc }' }], hcmExtra: `          tracing:
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                grpc_service: { envoy_grpc: { cluster_name: collector } }
` })],
        [
          cluster({ name: 'svc', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
          cluster({ name: 'collector', endpoints: [{ address: '127.0.0.1', port: collector.port }], extra: '    http2_protocol_options: {}\n' }),
        ],
      );
      legate = await startLegate({ config, concurrency: 1 });
      const port = await legate.listenerPort('l');
      await echo(up, `http://127.0.0.1:${port}/one`);
      assert.equal(collector.spans.length, 0, 'batched: not sent at once');
      assert.equal(await legate.stop(), 0);
      legate = undefined;
      await waitUntil(() => collector.spans.length === 1, () => JSON.stringify(collector.spans), 5000);
      assert.equal(collector.spans[0]!.tags['http.url'], `http://127.0.0.1:${port}/one`);
    } finally {
      await legate?.stop();
      await up.close();
      await collector.close();
    }
  });
});

describe('tracing: the decision and the headers, in process', () => {
  const provider = {
    name: 'envoy.tracers.opentelemetry', exporter: 'otlp_http' as const, propagation: 'w3c' as const, collectorCluster: 'c',
    collectorHost: '127.0.0.1', collectorPort: 9, path: '/v1/traces', headers: [], timeoutMs: 1000, serviceName: 's',
    traceId128bit: true, sharedSpanContext: false, flushIntervalMs: 60_000, minFlushSpans: 1000, resourceAttributes: [] as [string, string][],
    alwaysOn: false,
  };
  const config = (random: number, overall = 10000, alwaysOn = false) => ({
    provider: { ...provider, alwaysOn }, randomSampling: random, clientSampling: 10000, overallSampling: overall, verbose: false, maxPathTagLength: 256,
    customTags: [], spawnUpstreamSpan: false, egress: false, nodeId: 'n',
  });
  const start = (tracer: HttpTracer, rid: string, extra: string[] = []) => {
    const info = new StreamInfo();
    info.requestId = rid;
    info.path = '/';
    const headers = ['x-request-id', rid, ...extra];
    return { trace: tracer.start(headers, info, null), rid: info.requestId, header: headers[1] };
  };

  it('random_sampling on the UUID\'s first 8 hex digits mod 10000, stored in its 14th character', () => {
    const half = new HttpTracer(config(5000));
    // 0x00000000 % 10000 = 0 < 5000: sampled ('9'); 0xffffffff % 10000 = 7295: not ('4' kept).
    const a = start(half, '00000000-0000-4000-8000-000000000000');
    assert.ok(a.trace !== null);
    assert.equal(a.rid, '00000000-0000-9000-8000-000000000000');
    assert.equal(a.header, a.rid);
    const b = start(half, 'ffffffff-0000-4000-8000-000000000000');
    assert.equal(b.trace, null);
    assert.equal(b.rid, 'ffffffff-0000-4000-8000-000000000000');
    // Already sampled upstream of us ('9'): kept whatever random_sampling says (stable sampling across hops).
    assert.ok(start(new HttpTracer(config(0)), 'ffffffff-0000-9000-8000-000000000000').trace !== null);
    // overall_sampling 0%: nothing is traced, the status goes back to '4'.
    const c = start(new HttpTracer(config(10000, 0)), '00000000-0000-9000-8000-000000000000');
    assert.equal(c.trace, null);
    assert.equal(c.rid, '00000000-0000-4000-8000-000000000000');
    // x-client-trace-id ('b') and x-envoy-force-trace ('a') trace a request random_sampling leaves out.
    assert.equal(start(new HttpTracer(config(0)), 'ffffffff-0000-4000-8000-000000000000', ['x-client-trace-id', 'c']).rid[14], 'b');
    assert.equal(start(new HttpTracer(config(0)), 'ffffffff-0000-4000-8000-000000000000', ['x-envoy-force-trace', '1']).rid[14], 'a');
    // No UUID request id: not traceable.
    assert.equal(start(new HttpTracer(config(10000)), 'not-a-uuid').trace, null);
    // The always_on sampler samples what Envoy's decision leaves out.
    assert.ok(start(new HttpTracer(config(0, 10000, true)), 'ffffffff-0000-4000-8000-000000000000').trace !== null);
  });

  it('compiles: the router\'s start_child_span spawns the upstream span, the runtime keys set the flush, percentages round as Envoy', () => {
    const bootstrap = {
      node: { id: 'node-1', cluster: 'c1' },
      layered_runtime: { layers: [{ name: 's', static_layer: { tracing: { zipkin: { flush_interval_ms: 250, min_flush_spans: 3 } } } }] },
      static_resources: { clusters: [{ name: 'z', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'zipkin.local', port_value: 9411 } } } }] }] } }] },
    };
    const problems: TracingProblem[] = [];
    const t = compileTracing({
      random_sampling: { value: 12.345 },
      provider: { name: 'envoy.tracers.zipkin', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig', collector_cluster: 'z', collector_endpoint: '/api/v2/spans' } },
    }, {
      bootstrap, path: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.tracing',
      httpFilters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', start_child_span: true } }],
    }, problems);
    assert.deepEqual(problems, []);
    assert.equal(t!.spawnUpstreamSpan, true);
    assert.equal(t!.randomSampling, 1235);
    assert.equal(t!.overallSampling, 10000);
    assert.equal(t!.nodeId, 'node-1');
    assert.deepEqual([t!.provider.collectorHost, t!.provider.collectorPort, t!.provider.serviceName], ['zipkin.local', 9411, 'c1']);
    assert.deepEqual([t!.provider.flushIntervalMs, t!.provider.minFlushSpans, t!.provider.sharedSpanContext], [250, 3, true]);
  });

  it('traceparent and B3 parsing refuse what is malformed', () => {
    assert.equal(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-01`)?.sampled, 1);
    assert.equal(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)?.sampled, 0);
    for (const bad of [`00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`, `ff-${TRACE_ID}-${PARENT_ID}-01`, `00-${'0'.repeat(32)}-${PARENT_ID}-01`, `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID}-${PARENT_ID}-01-extra`, `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`, `00_${TRACE_ID}-${PARENT_ID}-01`, `00-${TRACE_ID}-${PARENT_ID}-0g`]) {
      assert.equal(parseTraceparent(bad), null, bad);
    }
    assert.deepEqual(parseB3(['b3', '0']), { context: null, sampled: 0 });
    assert.deepEqual(parseB3(['x-b3-traceid', 'abc', 'x-b3-spanid', PARENT_ID, 'x-b3-flags', '1']), { context: null, sampled: 1 });
    assert.equal(parseB3(['x-b3-traceid', '463ac35c9f6413ad', 'x-b3-spanid', PARENT_ID])?.context?.traceId, '0000000000000000463ac35c9f6413ad');
  });
});
