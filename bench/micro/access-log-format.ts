// Micro bench: ns per access log entry for Envoy's default text format, a typical JSON format, and a whole
// sink.log() (format + buffer) into /dev/null. Run: node_modules/.bin/node bench/micro/access-log-format.ts

import { StreamInfo } from '../../src/http/stream-info.ts';
import { compileJsonFormat, compileTextFormat, DEFAULT_FORMAT } from '../../src/access-log/formatter.ts';
import { createAccessLogSink } from '../../src/access-log/sink.ts';

function sampleInfo(i: number): StreamInfo {
  const info = new StreamInfo();
  info.startTimeMs = Date.now() + i;
  info.startMonoMs = 1000;
  info.lastDownstreamRxMonoMs = 1000.4;
  info.firstUpstreamRxMonoMs = 1001.2;
  info.lastDownstreamTxMonoMs = 1001.9;
  info.method = 'GET';
  info.path = '/api/v1/items/12345?expand=true';
  info.authority = 'api.example.com';
  info.requestHeaders = [
    'host', 'api.example.com', 'user-agent', 'curl/8.5.0', 'accept', '*/*',
    'x-forwarded-for', '203.0.113.7', 'x-forwarded-proto', 'http', 'x-request-id', '6f1c0a4e-8d4b-4c5e-9a57-3b1f2e9c7d10',
  ];
  info.responseHeaders = ['content-type', 'application/json', 'content-length', '512', 'x-envoy-upstream-service-time', '1'];
  info.responseCode = 200;
  info.responseCodeDetails = 'via_upstream';
  info.bytesSent = 512;
  info.upstreamHost = '10.0.0.12:8080';
  info.upstreamCluster = 'api';
  info.downstreamRemoteAddress = '203.0.113.7:51324';
  info.downstreamLocalAddress = '10.0.0.2:10000';
  info.routeName = 'items';
  info.connectionId = 77;
  return info;
}

const infos = Array.from({ length: 1024 }, (_, i) => sampleInfo(i));

function bench(name: string, iterations: number, fn: (info: StreamInfo) => unknown): void {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += (fn(infos[i & 1023]!) as string).length | 0; // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += (fn(infos[i & 1023]!) as string | undefined)?.length ?? 0;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns/entry${sink === -1 ? ' ' : ''}`);
}

const text = compileTextFormat(DEFAULT_FORMAT);
const json = compileJsonFormat(
  {
    start_time: '%START_TIME%', method: '%REQ(:METHOD)%', path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
    protocol: '%PROTOCOL%', response_code: '%RESPONSE_CODE%', response_flags: '%RESPONSE_FLAGS%',
    bytes_received: '%BYTES_RECEIVED%', bytes_sent: '%BYTES_SENT%', duration: '%DURATION%',
    upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%', x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
    user_agent: '%REQ(USER-AGENT)%', request_id: '%REQ(X-REQUEST-ID)%', authority: '%REQ(:AUTHORITY)%',
    upstream_host: '%UPSTREAM_HOST%',
  },
  { omitEmptyValues: false },
);
const devNull = createAccessLogSink({
  logger: 'envoy.access_loggers.file', kind: 'file', path: '/dev/null', format: 'text', text: DEFAULT_FORMAT,
  json: null, jsonTyped: true, omitEmptyValues: false, sortProperties: false, textEndsWithNewline: true,
});

const N = 2_000_000;
bench('default text format', N, (i) => text.format(i));
bench('JSON, default fields', N, (i) => json.format(i));

// sink.log(): timed in batches, with event-loop turns in between so the writer can drain (a synchronous loop
// would only fill the bounded buffer and start dropping).
async function benchSink(batches: number, perBatch: number): Promise<number> {
  let ns = 0;
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) devNull.log(infos[i & 1023]!);
    ns += Number(process.hrtime.bigint() - start);
    await new Promise((r) => setImmediate(r));
  }
  return ns / (batches * perBatch);
}
await benchSink(200, 1000); // warm-up
const sinkNs = await benchSink(1000, 1000);
console.log(`${'sink.log(), default format, file /dev/null'.padEnd(44)} ${sinkNs.toFixed(1).padStart(8)} ns/entry`);
await devNull.close();
console.log(`sink dropped ${devNull.droppedLines} entries (expected 0)`);
