// Worker thread. One OpenTelemetry SDK tracer per tracing provider config per worker (BasicTracerProvider, a
// BatchSpanProcessor and the OTLP gRPC / OTLP HTTP protobuf / Zipkin JSON exporter), shared by every connection
// manager and config version that names the same provider, so a reload keeps the batch queue and the connection.
// Spans are ended on the request path and exported in batches from the processor's timer, off it. The SDK is
// loaded on first use: a worker with no tracing configured never loads it.

import { createRequire } from 'node:module';
import type { Tracer, Context, SpanContext } from '@opentelemetry/api';
import type { TracingProviderConfig } from '../../src/tracing/tracing-config.ts';

const require = createRequire(import.meta.url);

type ApiModule = typeof import('@opentelemetry/api');

/** Trace and span ids for the SDK: random, 64-bit trace ids when asked, and a span id set in advance for Zipkin's shared span context. */
export class TraceIdGenerator {
  /** The next generateSpanId() answer (then cleared); null: a random id. */
  nextSpanId: string | null;
  /** The next generateTraceId() answer (then cleared); null: a random id. */
  nextTraceId: string | null;
  private readonly traceId128: boolean;

  constructor(traceId128: boolean) {
    this.nextSpanId = null;
    this.nextTraceId = null;
    this.traceId128 = traceId128;
  }

  generateTraceId(): string {
    const next = this.nextTraceId;
    if (next !== null) {
      this.nextTraceId = null;
      return next;
    }
    return (this.traceId128 ? randomHex8() + randomHex8() : '0000000000000000') + randomHex8() + randomHex8();
  }

  generateSpanId(): string {
    const next = this.nextSpanId;
    if (next !== null) {
      this.nextSpanId = null;
      return next;
    }
    return randomHex8() + randomHex8();
  }
}

function randomHex8(): string {
  // Never all zero (an invalid id in both W3C and B3).
  return ((Math.random() * 0xffffffff) >>> 0 || 1).toString(16).padStart(8, '0');
}

export interface TracerHandle {
  readonly tracer: Tracer;
  readonly ids: TraceIdGenerator;
  readonly api: ApiModule;
  /** A context whose parent is the given remote span (trace.setSpanContext over ROOT_CONTEXT). */
  parentContext(sc: SpanContext): Context;
  /** Exports what is queued now (tests, shutdown). */
  flush(): Promise<void>;
}

const handles = new Map<string, TracerHandle>();

/** The worker's tracer for this provider config (made once per distinct config). */
export function tracerHandleFor(p: TracingProviderConfig): TracerHandle {
  const key = JSON.stringify(p);
  const known = handles.get(key);
  if (known !== undefined) return known;
  const handle = makeHandle(p);
  handles.set(key, handle);
  return handle;
}

/** Exports every tracer's queued spans (a worker about to exit). */
export async function flushAllTracers(): Promise<void> {
  await Promise.all([...handles.values()].map((h) => h.flush().catch(() => {})));
}

function makeHandle(p: TracingProviderConfig): TracerHandle {
  const api = require('@opentelemetry/api') as ApiModule;
  const base = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const resources = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const exporter = makeExporter(p);
  const ids = new TraceIdGenerator(p.traceId128bit);
  const processor = new base.BatchSpanProcessor(exporter, {
    scheduledDelayMillis: p.flushIntervalMs,
    maxExportBatchSize: p.minFlushSpans,
    maxQueueSize: Math.max(2048, p.minFlushSpans),
    exportTimeoutMillis: p.timeoutMs,
  });
  const provider = new base.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ ...Object.fromEntries(p.resourceAttributes), 'service.name': p.serviceName }),
    idGenerator: ids,
    sampler: new base.AlwaysOnSampler(),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('legate');
  const root = api.ROOT_CONTEXT;
  return {
    tracer,
    ids,
    api,
    parentContext: (sc) => api.trace.setSpanContext(root, sc),
    flush: () => provider.forceFlush(),
  };
}

function makeExporter(p: TracingProviderConfig): import('@opentelemetry/sdk-trace-base').SpanExporter {
  const hostPort = `${p.collectorHost.includes(':') ? `[${p.collectorHost}]` : p.collectorHost}:${p.collectorPort}`;
  if (p.exporter === 'otlp_grpc') {
    const grpc = require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc');
    return new grpc.OTLPTraceExporter({ url: `http://${hostPort}`, timeoutMillis: p.timeoutMs });
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of p.headers) headers[k] = v;
  if (p.exporter === 'otlp_http') {
    const proto = require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
    return new proto.OTLPTraceExporter({ url: `http://${hostPort}${p.path}`, headers, timeoutMillis: p.timeoutMs });
  }
  const zipkin = require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
  return new zipkin.ZipkinExporter({ url: `http://${hostPort}${p.path}`, serviceName: p.serviceName, headers });
}
