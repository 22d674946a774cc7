// Worker thread. The connection manager's tracer (Envoy's HCM tracing + its driver): per request, Envoy's tracing
// decision (the UUID x-request-id's trace status, x-client-trace-id with client_sampling, x-envoy-force-trace,
// random_sampling on the request id, overall_sampling), then for a sampled request a span (StreamTrace) that
// continues the incoming W3C or B3 context, is injected into the upstream request (the router calls
// injectUpstream) and ends with the stream. A request not sampled gets no span and no object: start() answers null.
// Built once per HcmRuntime from the compiled config; the SDK tracer behind it is the worker's (tracer-provider.ts).

import type { Span, Attributes } from '@opentelemetry/api';
import { getHeader, type HeaderList, type StreamInfo } from '../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../src/http/header-list.ts';
import { formatResponseFlags } from '../../src/http/response-flags.ts';
import type { TracingConfig } from '../../src/tracing/tracing-config.ts';
import { tracerHandleFor, type TracerHandle } from './tracer-provider.ts';
import { TRACEPARENT, formatTraceparent, injectB3, parseB3, parseTraceparent, type IncomingContext } from './propagation.ts';

const X_REQUEST_ID = 'x-request-id';
const X_CLIENT_TRACE_ID = 'x-client-trace-id';
const X_ENVOY_FORCE_TRACE = 'x-envoy-force-trace';
const USER_AGENT = 'user-agent';
const X_DOWNSTREAM_CLUSTER = 'x-envoy-downstream-service-cluster';
const X_DECORATOR_OPERATION = 'x-envoy-decorator-operation';
const X_FORWARDED_PROTO = 'x-forwarded-proto';

/** The trace status packed in a UUID x-request-id's 14th character (Envoy's UuidRequestIdConfig pack_trace_reason). */
const TraceStatus = { NO_TRACE: 0, SAMPLED: 1, FORCED: 2, CLIENT: 3 } as const;
const STATUS_CHAR = ['4', '9', 'a', 'b'] as const;
const UUID_LENGTH = 36;
const TRACE_CHAR_AT = 14;

// OpenTelemetry's SpanKind and SpanStatusCode values (stable in the API).
const SPAN_KIND_SERVER = 1;
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;

export class HttpTracer {
  readonly config: TracingConfig;
  private readonly handle: TracerHandle;
  private readonly b3: boolean;

  constructor(config: TracingConfig) {
    this.config = config;
    this.handle = tracerHandleFor(config.provider);
    this.b3 = config.provider.propagation === 'b3';
  }

  /**
   * Called once per request, after the connection manager's request rules (x-request-id set) and routing, before
   * the filters. Rewrites x-request-id's trace status as Envoy does; answers the span, or null when not sampled.
   */
  start(headers: HeaderList, info: StreamInfo, operation: string | null): StreamTrace | null {
    const cfg = this.config;
    // x-envoy-decorator-operation, as Envoy: egress sends the route's decorator operation on, so the next hop names
    // its server span after it; ingress takes it as its span's name and removes it.
    if (cfg.egress) {
      if (operation !== null) setHeader(headers, X_DECORATOR_OPERATION, operation);
    } else {
      const override = getHeader(headers, X_DECORATOR_OPERATION);
      if (override !== undefined) {
        removeHeader(headers, X_DECORATOR_OPERATION);
        if (override !== '') operation = override;
      }
    }
    const traced = this.decide(headers, info);
    let parent: IncomingContext | null = null;
    let sampled = traced;
    if (this.b3) {
      const p = parseB3(headers);
      parent = p.context;
      if (p.sampled !== -1) sampled = p.sampled === 1;
    } else {
      const tp = getHeader(headers, TRACEPARENT);
      if (tp !== undefined) {
        parent = parseTraceparent(tp);
        // Envoy's OpenTelemetry tracer: a continued trace keeps its parent's sampling flag.
        if (parent !== null) sampled = parent.sampled === 1;
      }
    }
    if (!sampled && !cfg.provider.alwaysOn) return null;
    return new StreamTrace(this, this.handle, headers, info, operation, parent, cfg.provider.sharedSpanContext);
  }

  /** Envoy's ConnectionManagerUtility::mutateTracingRequestHeader, then the decision: traced or not. */
  private decide(headers: HeaderList, info: StreamInfo): boolean {
    const cfg = this.config;
    const rid = info.requestId;
    if (rid.length !== UUID_LENGTH) return false;
    const hash = hashOfUuid(rid);
    if (hash < 0) return false;
    const initial = statusOf(rid.charCodeAt(TRACE_CHAR_AT));
    let status = initial;
    if (status === TraceStatus.NO_TRACE) {
      if (getHeader(headers, X_CLIENT_TRACE_ID) !== undefined && Math.floor(Math.random() * 10000) < cfg.clientSampling) status = TraceStatus.CLIENT;
      else if (getHeader(headers, X_ENVOY_FORCE_TRACE) !== undefined) status = TraceStatus.FORCED;
      else if (hash % 10000 < cfg.randomSampling) status = TraceStatus.SAMPLED;
    }
    if (status !== TraceStatus.NO_TRACE && hash % 10000 >= cfg.overallSampling) status = TraceStatus.NO_TRACE;
    if (status !== initial) {
      const next = rid.slice(0, TRACE_CHAR_AT) + STATUS_CHAR[status] + rid.slice(TRACE_CHAR_AT + 1);
      info.requestId = next;
      setHeader(headers, X_REQUEST_ID, next);
    }
    return status !== TraceStatus.NO_TRACE;
  }
}

/** A sampled request's spans: the connection manager's, and with spawn_upstream_span the router's child span. */
export class StreamTrace {
  private readonly tracer: HttpTracer;
  private readonly handle: TracerHandle;
  private readonly span: Span;
  private upstreamSpan: Span | null;
  /** The downstream span's parent span id (B3's x-b3-parentspanid for what it injects), or null. */
  private readonly parentSpanId: string | null;

  constructor(
    tracer: HttpTracer,
    handle: TracerHandle,
    headers: HeaderList,
    info: StreamInfo,
    operation: string | null,
    parent: IncomingContext | null,
    sharedSpanContext: boolean,
  ) {
    const cfg = tracer.config;
    this.tracer = tracer;
    this.handle = handle;
    this.upstreamSpan = null;
    const api = handle.api;
    let ctx = api.ROOT_CONTEXT;
    let parentSpanId: string | null = null;
    if (parent !== null) {
      if (sharedSpanContext && !cfg.egress) {
        // Zipkin's shared span context: the server span is the client's span (same id, same parent).
        handle.ids.nextSpanId = parent.spanId;
        if (parent.parentSpanId !== null) {
          parentSpanId = parent.parentSpanId;
          ctx = handle.parentContext({ traceId: parent.traceId, spanId: parentSpanId, traceFlags: 1, isRemote: true });
        } else {
          handle.ids.nextTraceId = parent.traceId;
        }
      } else {
        parentSpanId = parent.spanId;
        ctx = handle.parentContext({ traceId: parent.traceId, spanId: parent.spanId, traceFlags: 1, isRemote: true });
      }
    }
    this.parentSpanId = parentSpanId;
    const authority = info.authority;
    const name = operation ?? (cfg.egress ? 'egress ' + authority : 'ingress');
    const path = info.path.length > cfg.maxPathTagLength ? info.path.slice(0, cfg.maxPathTagLength) : info.path;
    const attributes: Attributes = {
      'component': 'proxy',
      'node_id': cfg.nodeId,
      'guid:x-request-id': info.requestId,
      // Envoy builds it from x-forwarded-proto (set by the connection manager), the host and the path.
      'http.url': (getHeader(headers, X_FORWARDED_PROTO) ?? info.scheme) + '://' + authority + path,
      'http.method': info.method,
      'http.protocol': info.protocol,
      'peer.address': info.downstreamRemoteAddress,
      'user_agent': getHeader(headers, USER_AGENT) ?? '-',
      'downstream_cluster': getHeader(headers, X_DOWNSTREAM_CLUSTER) ?? '-',
    };
    const clientTraceId = getHeader(headers, X_CLIENT_TRACE_ID);
    if (clientTraceId !== undefined) attributes['guid:x-client-trace-id'] = clientTraceId;
    const tags = cfg.customTags;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i]!;
      if (t.literal !== null) attributes[t.tag] = t.literal;
      else {
        const v = getHeader(headers, t.header!) ?? t.defaultValue;
        if (v !== '') attributes[t.tag] = v;
      }
    }
    this.span = handle.tracer.startSpan(name, { kind: cfg.egress ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER, startTime: info.startTimeMs, attributes }, ctx);
    handle.ids.nextSpanId = null;
    handle.ids.nextTraceId = null;
  }

  /** The router, before the request goes upstream: the context the upstream sees (the router's span with spawn_upstream_span). */
  injectUpstream(headers: HeaderList, cluster: string): void {
    const cfg = this.tracer.config;
    let span = this.span;
    let parentSpanId = this.parentSpanId;
    if (cfg.spawnUpstreamSpan && this.upstreamSpan === null) {
      const api = this.handle.api;
      parentSpanId = span.spanContext().spanId;
      span = this.handle.tracer.startSpan(`router ${cluster} egress`, {
        kind: SPAN_KIND_CLIENT,
        attributes: { 'component': 'proxy', 'upstream_cluster': cluster, 'upstream_cluster.name': cluster },
      }, api.trace.setSpan(api.ROOT_CONTEXT, this.span));
      this.upstreamSpan = span;
    } else if (this.upstreamSpan !== null) {
      parentSpanId = span.spanContext().spanId;
      span = this.upstreamSpan;
    }
    const sc = span.spanContext();
    if (cfg.provider.propagation === 'b3') injectB3(headers, sc.traceId, sc.spanId, parentSpanId, true, cfg.provider.traceId128bit);
    else setHeader(headers, TRACEPARENT, formatTraceparent(sc.traceId, sc.spanId, true));
  }

  /** The stream ended (its access log time): the final tags, then both spans end and go to the batch. */
  finish(info: StreamInfo): void {
    const span = this.span;
    const status = info.responseCode;
    const statusTag = String(status);
    const error = status === 0 || status >= 500;
    const end = info.startTimeMs + (performance.now() - info.startMonoMs);
    const cluster = info.upstreamCluster ?? '-';
    const up = this.upstreamSpan;
    if (up !== null) {
      up.setAttribute('http.status_code', statusTag);
      if (info.upstreamHost !== null) up.setAttribute('upstream_address', info.upstreamHost);
      if (error) {
        up.setAttribute('error', 'true');
        up.setStatus({ code: STATUS_ERROR });
      }
      up.end(end);
    }
    span.setAttribute('http.status_code', statusTag);
    span.setAttribute('upstream_cluster', cluster);
    span.setAttribute('upstream_cluster.name', cluster);
    span.setAttribute('response_flags', formatResponseFlags(info.responseFlags));
    span.setAttribute('request_size', String(info.bytesReceived));
    span.setAttribute('response_size', String(info.bytesSent));
    if (error) {
      span.setAttribute('error', 'true');
      span.setStatus({ code: STATUS_ERROR });
    }
    span.end(end);
  }
}

function statusOf(c: number): number {
  if (c === 57 /* 9 */) return TraceStatus.SAMPLED;
  if (c === 97 /* a */) return TraceStatus.FORCED;
  if (c === 98 /* b */) return TraceStatus.CLIENT;
  return TraceStatus.NO_TRACE;
}

/** Envoy's UUIDRequestIDExtension::modBy input: the UUID's first 8 hex digits as an integer; -1 when not hex. */
function hashOfUuid(rid: string): number {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const c = rid.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}
