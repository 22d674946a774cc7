// Test support: real trace collectors on 127.0.0.1 for the tracing tests. An OTLP/gRPC receiver
// (opentelemetry.proto.collector.trace.v1.TraceService/Export on @grpc/grpc-js), an OTLP/HTTP protobuf receiver
// (POST /v1/traces on node:http) and a Zipkin v2 receiver (POST /api/v2/spans, JSON). Each keeps the spans it got,
// flattened to one shape. The OTLP messages are declared here (the part of OpenTelemetry's trace protos the
// tests read), since no .proto of OTLP ships in node_modules.

import http from 'node:http';
import type net from 'node:net';
import protobuf from 'protobufjs';
import * as grpc from '@grpc/grpc-js';

const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; bytes bytes_value = 7; }
}
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
  Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

const root = protobuf.parse(OTLP_PROTO, { keepCase: true }).root;
const ExportRequest = root.lookupType('otlp.ExportTraceServiceRequest');

/** A span as the tests read it, whatever the wire format. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind number (2 SERVER, 3 CLIENT) or Zipkin's kind string. */
  kind: number | string;
  tags: Record<string, string>;
  serviceName: string;
  /** OTLP: the resource's attributes; Zipkin: {}. */
  resource: Record<string, string>;
  /** OTLP status code (2 ERROR), 0 unset; Zipkin: 0. */
  statusCode: number;
}

export interface TraceReceiver {
  readonly port: number;
  readonly spans: ReceivedSpan[];
  /** Export requests received. */
  requests: number;
  close(): Promise<void>;
}

function hex(b: Uint8Array | undefined): string {
  return b === undefined ? '' : Buffer.from(b).toString('hex');
}

function anyValue(v: Record<string, unknown> | undefined): string {
  if (v === undefined) return '';
  for (const k of ['string_value', 'bool_value', 'int_value', 'double_value']) if (v[k] !== undefined && v[k] !== null) return String(v[k]);
  return '';
}

function decodeOtlp(body: Uint8Array, into: ReceivedSpan[]): void {
  const msg = ExportRequest.toObject(ExportRequest.decode(body), { longs: String, defaults: false }) as {
    resource_spans?: { resource?: { attributes?: { key: string; value?: Record<string, unknown> }[] }; scope_spans?: { spans?: Record<string, unknown>[] }[] }[];
  };
  for (const rs of msg.resource_spans ?? []) {
    const resource: Record<string, string> = {};
    for (const a of rs.resource?.attributes ?? []) resource[a.key] = anyValue(a.value);
    const serviceName = resource['service.name'] ?? '';
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        const tags: Record<string, string> = {};
        for (const a of (s['attributes'] as { key: string; value?: Record<string, unknown> }[] | undefined) ?? []) tags[a.key] = anyValue(a.value);
        into.push({
          traceId: hex(s['trace_id'] as Uint8Array),
          spanId: hex(s['span_id'] as Uint8Array),
          parentSpanId: hex(s['parent_span_id'] as Uint8Array),
          name: String(s['name'] ?? ''),
          kind: Number(s['kind'] ?? 0),
          tags,
          serviceName,
          resource,
          statusCode: Number((s['status'] as { code?: number } | undefined)?.code ?? 0),
        });
      }
    }
  }
}

/** OTLP/gRPC: TraceService/Export. */
export async function startOtlpGrpcReceiver(): Promise<TraceReceiver> {
  const server = new grpc.Server();
  const spans: ReceivedSpan[] = [];
  const receiver = { port: 0, spans, requests: 0, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
  const service: grpc.ServiceDefinition = {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(service, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      receiver.requests++;
      decodeOtlp(call.request, spans);
      cb(null, Buffer.alloc(0));
    },
  });
  receiver.port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
  return receiver;
}

function httpReceiver(path: string, decode: (body: Buffer, into: ReceivedSpan[]) => void, seenPaths: string[]): Promise<TraceReceiver> {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seenPaths.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`);
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end();
        return;
      }
      receiver.requests++;
      try {
        decode(Buffer.concat(chunks), spans);
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(path === '/v1/traces' ? 200 : 202, { 'content-type': path === '/v1/traces' ? 'application/x-protobuf' : 'text/plain' }).end();
    });
  });
  const receiver = {
    port: 0,
    spans,
    requests: 0,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    receiver.port = (server.address() as net.AddressInfo).port;
    resolve(receiver);
  }));
}

/** OTLP/HTTP protobuf: POST /v1/traces. */
export function startOtlpHttpReceiver(seenPaths: string[] = []): Promise<TraceReceiver> {
  return httpReceiver('/v1/traces', (b, into) => decodeOtlp(b, into), seenPaths);
}

/** Zipkin v2 JSON: POST /api/v2/spans. */
export function startZipkinReceiver(seenPaths: string[] = []): Promise<TraceReceiver> {
  return httpReceiver('/api/v2/spans', (b, into) => {
    for (const s of JSON.parse(b.toString('utf8')) as Record<string, unknown>[]) {
      into.push({
        traceId: String(s['traceId'] ?? ''),
        spanId: String(s['id'] ?? ''),
        parentSpanId: String(s['parentId'] ?? ''),
        name: String(s['name'] ?? ''),
        kind: String(s['kind'] ?? ''),
        tags: (s['tags'] as Record<string, string> | undefined) ?? {},
        serviceName: String((s['localEndpoint'] as { serviceName?: string } | undefined)?.serviceName ?? ''),
        resource: {},
        statusCode: 0,
      });
    }
  }, seenPaths);
}
