// Worker thread. envoy.filters.http.ext_proc, as Envoy's (the parts Legate implements): one bidirectional gRPC
// stream per HTTP request to envoy.service.ext_proc.v3.ExternalProcessor/Process on this worker's async client,
// opened with the first message. Per its processing_mode (the route's ExtProcPerRoute overrides) it sends the
// request headers, the buffered request body (BUFFERED), the response headers and the buffered response body, each
// time stopping that direction until the processor answers (message_timeout per message). Answers mutate headers
// (set/remove; :status on the response) and bodies (replace/clear), may clear the route cache, or end the request
// with an immediate_response. A failed stream or a timeout is a 500 / 504 local reply unless failure_mode_allow (the
// request then goes on unprocessed). Response trailers go with response_trailer_mode SEND; request trailers never
// (refused at config time: the router would end the upstream request before they are processed, and sends no
// request trailers upstream). Stats: http.<stat_prefix>.ext_proc.[<filter stat_prefix>.]*.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { hasHeader, removeHeader, setHeader } from '../../../src/http/header-list.ts';
import type { ExtProcPerRoute, ExtProcSettings, ProcessingMode } from '../../../src/filters/ext-proc-config.ts';
import {
  decodeProcessingResponse, encodeProcessingRequest, EXTERNAL_PROCESSOR_METHOD, extProcMessageTypes, headerMapOf,
  type ExtProcMessageTypes,
} from '../../../src/filters/ext-proc-messages.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';
import { reportInternalError } from '../../../src/common/internal-error.ts';
import { GrpcAsyncClient, type GrpcStream, type GrpcStreamCallbacks } from '../../upstream/grpc-async-client.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks,
} from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

const EMPTY = Buffer.alloc(0);
/** Never set or removed by a processor (Envoy's default mutation rules). */
const IMMUTABLE = new Set(['host', ':authority', ':method', ':scheme', ':path', 'content-length', 'transfer-encoding', 'connection']);

class ExtProcShared {
  readonly settings: ExtProcSettings;
  readonly stats: WorkerStatsStore;
  readonly slots: Readonly<Record<string, number>> | null;
  readonly grpc: GrpcAsyncClient;
  readonly types: ExtProcMessageTypes;

  constructor(config: ExtProcSettings, context: HttpFilterFactoryContext) {
    this.settings = config;
    this.stats = context.stats;
    this.slots = context.slots;
    this.grpc = new GrpcAsyncClient(context.asyncClient);
    this.types = extProcMessageTypes();
  }

  count(name: string): void {
    const slot = this.slots === null ? undefined : this.slots[name];
    if (slot !== undefined) this.stats.values[slot]++;
  }
}

/** What the filter waits for from the processor. */
const NONE = 0;
const REQ_HEADERS = 1;
const REQ_BODY = 2;
const RESP_HEADERS = 3;
const RESP_BODY = 4;
const RESP_TRAILERS = 5;

interface HeaderValueOptionData {
  header?: { key?: string; value?: string; raw_value?: Buffer };
  append?: { value?: boolean };
  append_action?: number;
}

interface CommonResponseData {
  status?: number;
  header_mutation?: { set_headers?: HeaderValueOptionData[]; remove_headers?: string[] };
  body_mutation?: { body?: Buffer; clear_body?: boolean };
  clear_route_cache?: boolean;
}

function valueOf(h: HeaderValueOptionData): string {
  const raw = h.header?.raw_value;
  if (raw !== undefined && raw.length > 0) return raw.toString('latin1');
  return h.header?.value ?? '';
}

class ExtProcFilter extends PassThroughFilter implements GrpcStreamCallbacks {
  private readonly cb: FilterCallbacks;
  private readonly shared: ExtProcShared;
  private mode: ProcessingMode;
  /** Per-route disabled, or processing over (failure_mode_allow after an error, the processor closed). */
  private off: boolean;
  private stream: GrpcStream | null;
  /** The stream ended (either side): nothing more is sent. */
  private streamDone: boolean;
  private awaiting: number;
  private timer: NodeJS.Timeout | null;
  private reqBuffering: boolean;
  private reqBodyComplete: boolean;
  private reqEndedByData: boolean;
  private respBuffering: boolean;
  private respBodyComplete: boolean;
  private responseHeaders: HeaderList | null;
  /** Response trailers to send once the answer awaited now has come (response_trailer_mode SEND). */
  private pendingResponseTrailers: HeaderList | null;
  private responseTrailers: HeaderList | null;
  /** The response's end went by (headers or data with end of stream, or trailers). */
  private responseEnded: boolean;
  private destroyed: boolean;

  constructor(cb: FilterCallbacks, shared: ExtProcShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.mode = shared.settings.mode;
    this.off = false;
    this.stream = null;
    this.streamDone = false;
    this.awaiting = NONE;
    this.timer = null;
    this.reqBuffering = false;
    this.reqBodyComplete = false;
    this.reqEndedByData = false;
    this.respBuffering = false;
    this.respBodyComplete = false;
    this.responseHeaders = null;
    this.pendingResponseTrailers = null;
    this.responseTrailers = null;
    this.responseEnded = false;
    this.destroyed = false;
  }

  // ---- request path ----

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    const perRoute = this.cb.mostSpecificPerFilterConfig() as ExtProcPerRoute | null;
    if (perRoute !== null) {
      if (perRoute.disabled) {
        this.off = true;
        return FilterHeadersStatus.Continue;
      }
      if (perRoute.mode !== null) this.mode = perRoute.mode;
    }
    const mode = this.mode;
    if (mode.requestHeaders) {
      const info = this.cb.streamInfo;
      const pseudo = [':authority', getHeader(headers, 'host') ?? info.authority, ':method', info.method, ':path', info.path, ':scheme', info.scheme];
      this.send({ request_headers: { headers: headerMapOf(pseudo, headersWithoutHost(headers)), end_of_stream: endStream } }, REQ_HEADERS);
    }
    if (this.off) return FilterHeadersStatus.Continue;
    if (mode.requestBodyBuffered && !endStream) {
      this.reqBuffering = true;
      return FilterHeadersStatus.StopIteration;
    }
    // StopIteration, not StopAll: the body comes here (held with flow control) so the filter sees how it ends.
    return this.awaiting !== NONE ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    if (this.reqBuffering && !this.off) {
      if (endStream) {
        this.reqBodyComplete = true;
        this.reqEndedByData = true;
        if (this.awaiting === NONE) this.sendRequestBody(data, true);
      }
      return FilterDataStatus.StopIterationAndBuffer;
    }
    if (this.requestAwaited()) {
      if (endStream) this.reqEndedByData = true;
      return FilterDataStatus.StopIterationAndWatermark;
    }
    return FilterDataStatus.Continue;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    if (this.off) return FilterTrailersStatus.Continue;
    if (this.reqBuffering) {
      this.reqBodyComplete = true;
      if (this.awaiting === NONE) this.sendRequestBody(null, false);
      return this.off ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration;
    }
    return this.requestAwaited() ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  private requestAwaited(): boolean {
    const a = this.awaiting;
    return a === REQ_HEADERS || a === REQ_BODY;
  }

  private responseAwaited(): boolean {
    const a = this.awaiting;
    return a === RESP_HEADERS || a === RESP_BODY || a === RESP_TRAILERS;
  }

  private sendResponseTrailers(trailers: HeaderList): void {
    this.send({ response_trailers: { trailers: headerMapOf([], trailers) } }, RESP_TRAILERS);
  }

  /** The whole buffered request body (plus `last`, not yet in the buffer) to the processor. */
  private sendRequestBody(last: Buffer | null, endOfStream: boolean): void {
    const held = this.cb.decodingBuffer();
    const body = held === null ? (last ?? EMPTY) : last === null ? held : Buffer.concat([held, last]);
    this.send({ request_body: { body, end_of_stream: endOfStream } }, REQ_BODY);
  }

  // ---- response path ----

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    if (this.off || this.destroyed) return FilterHeadersStatus.Continue;
    this.responseHeaders = headers;
    if (endStream) this.responseEnded = true;
    const mode = this.mode;
    if (mode.responseHeaders) {
      this.send({ response_headers: { headers: headerMapOf([':status', String(this.cb.responseStatus)], headers), end_of_stream: endStream } }, RESP_HEADERS);
    }
    if (this.off) return FilterHeadersStatus.Continue;
    if (mode.responseBodyBuffered && !endStream) {
      this.respBuffering = true;
      return FilterHeadersStatus.StopIteration;
    }
    if (this.awaiting !== NONE) return FilterHeadersStatus.StopAllIterationAndWatermark;
    this.closeStreamIfDone();
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, endStream: boolean): number {
    if (endStream) this.responseEnded = true;
    if (this.respBuffering && !this.off) {
      if (endStream) {
        this.respBodyComplete = true;
        if (this.awaiting === NONE) this.sendResponseBody(data, true);
      }
      return FilterDataStatus.StopIterationAndBuffer;
    }
    if (this.responseAwaited()) return FilterDataStatus.StopIterationAndWatermark;
    if (endStream) this.closeStreamIfDone();
    return FilterDataStatus.Continue;
  }

  override encodeTrailers(trailers: HeaderList): number {
    this.responseEnded = true;
    if (this.off || this.destroyed) return FilterTrailersStatus.Continue;
    const send = this.mode.responseTrailers;
    if (send) this.responseTrailers = trailers;
    if (this.respBuffering) {
      this.respBodyComplete = true;
      if (send) this.pendingResponseTrailers = trailers;
      if (this.awaiting === NONE) this.sendResponseBody(null, false);
      return this.off ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration;
    }
    if (send) {
      if (this.awaiting === NONE) this.sendResponseTrailers(trailers);
      else this.pendingResponseTrailers = trailers;
    }
    if (this.responseAwaited()) return FilterTrailersStatus.StopIteration;
    this.closeStreamIfDone();
    return FilterTrailersStatus.Continue;
  }

  private sendResponseBody(last: Buffer | null, endOfStream: boolean): void {
    const held = this.cb.encodingBuffer();
    const body = held === null ? (last ?? EMPTY) : last === null ? held : Buffer.concat([held, last]);
    this.send({ response_body: { body, end_of_stream: endOfStream } }, RESP_BODY);
  }

  override onDestroy(): void {
    this.destroyed = true;
    this.clearTimer();
    if (this.stream !== null && !this.streamDone) {
      this.streamDone = true;
      this.stream.reset();
    }
  }

  // ---- the stream ----

  /** Sends one ProcessingRequest and waits for its answer; a failure to send is handled as a stream error. */
  private send(message: Record<string, unknown>, phase: number): void {
    if (this.off || this.destroyed) return;
    const shared = this.shared;
    if (this.streamDone) {
      // The processor closed the stream (OK) earlier: nothing more is processed.
      this.off = true;
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeProcessingRequest(shared.types, message);
    } catch {
      this.onStreamError(phase, false, 'ext_proc_error_encoding');
      return;
    }
    if (this.stream === null) {
      shared.count('streams_started');
      const md = shared.settings.initialMetadata;
      this.stream = shared.grpc.startStream(shared.settings.cluster, EXTERNAL_PROCESSOR_METHOD, 0, md.length === 0 ? null : md, this);
    }
    this.stream.sendMessage(bytes, false);
    shared.count('stream_msgs_sent');
    this.awaiting = phase;
    this.timer = setTimeout(onMessageTimeout, shared.settings.messageTimeoutMs, this);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Closes the stream when the response went by and nothing more is awaited. */
  private closeStreamIfDone(): void {
    if (this.awaiting === NONE && (this.responseEnded || !this.mode.responseTrailers)) this.closeStream();
  }

  /** Half-closes the stream once nothing more will be sent (Envoy closes it when the response is done). */
  private closeStream(): void {
    if (this.stream === null || this.streamDone) return;
    this.streamDone = true;
    this.shared.count('streams_closed');
    this.stream.closeSend();
  }

  onMessage(message: Buffer): void {
    if (this.destroyed || this.off) return;
    const shared = this.shared;
    shared.count('stream_msgs_received');
    let r: Record<string, unknown>;
    try {
      r = decodeProcessingResponse(shared.types, message);
    } catch {
      this.onStreamError(this.awaiting, false, 'ext_proc_error_decoding');
      return;
    }
    const which = r['response'] as string | undefined;
    const phase = this.awaiting;
    if (which === 'immediate_response') return this.onImmediateResponse(r['immediate_response'] as Record<string, unknown>);
    const expected = phase === REQ_HEADERS ? 'request_headers' : phase === REQ_BODY ? 'request_body'
      : phase === RESP_HEADERS ? 'response_headers' : phase === RESP_BODY ? 'response_body'
        : phase === RESP_TRAILERS ? 'response_trailers' : '';
    if (which !== expected) {
      shared.count('spurious_msgs_received');
      this.onStreamError(phase, false, 'ext_proc_error_spurious_message');
      return;
    }
    this.clearTimer();
    this.awaiting = NONE;
    const answer = (r[which] ?? {}) as { response?: CommonResponseData; header_mutation?: CommonResponseData['header_mutation'] };
    const common = (answer.response ?? {}) as CommonResponseData;
    switch (phase) {
      case REQ_HEADERS:
        this.applyHeaderMutation(common, this.cb.requestHeaders, false);
        if (common.clear_route_cache === true) this.cb.clearRouteCache();
        // A buffered body follows once complete (now, if it already is).
        if (this.reqBuffering && this.reqBodyComplete) this.sendRequestBody(null, this.reqEndedByData);
        if (this.awaiting === NONE && !(this.reqBuffering && !this.reqBodyComplete)) this.resumeRequest();
        return;
      case REQ_BODY:
        this.applyHeaderMutation(common, this.cb.requestHeaders, false);
        if (common.clear_route_cache === true) this.cb.clearRouteCache();
        this.applyBodyMutation(common, true);
        return this.resumeRequest();
      case RESP_HEADERS:
        this.applyHeaderMutation(common, this.responseHeaders!, true);
        if (this.respBuffering && this.respBodyComplete) this.sendResponseBody(null, this.pendingResponseTrailers === null);
        else if (!this.respBuffering) this.sendPendingResponseTrailers();
        if (this.awaiting === NONE && !(this.respBuffering && !this.respBodyComplete)) this.resumeResponse();
        return;
      case RESP_BODY:
        this.applyHeaderMutation(common, this.responseHeaders!, true);
        this.applyBodyMutation(common, false);
        this.sendPendingResponseTrailers();
        if (this.awaiting === NONE) this.resumeResponse();
        return;
      default:
        if (this.responseTrailers !== null) this.applyHeaderMutation({ header_mutation: answer.header_mutation }, this.responseTrailers, false);
        return this.resumeResponse();
    }
  }

  private sendPendingResponseTrailers(): void {
    const t = this.pendingResponseTrailers;
    if (t === null) return;
    this.pendingResponseTrailers = null;
    this.sendResponseTrailers(t);
  }

  private resumeRequest(): void {
    // A request held here whole (ended by data, not trailers) goes upstream with its length, whatever its framing:
    // the router frames the end of a request that completed while held before it is handed the held body.
    if (this.reqEndedByData) {
      const held = this.cb.decodingBuffer();
      this.cb.requestBodyLength?.(held === null ? 0 : held.length);
    }
    this.reqBuffering = false;
    this.cb.continueDecoding();
  }

  private resumeResponse(): void {
    this.respBuffering = false;
    this.closeStreamIfDone();
    this.cb.continueEncoding();
  }

  private applyHeaderMutation(common: CommonResponseData, headers: HeaderList, response: boolean): void {
    const m = common.header_mutation;
    if (m === undefined) return;
    for (const h of m.set_headers ?? []) {
      const name = (h.header?.key ?? '').toLowerCase();
      if (name === '') continue;
      const value = valueOf(h);
      if (response && name === ':status') {
        const status = Number(value);
        if (Number.isInteger(status) && status >= 200 && status < 600) this.cb.setResponseStatus(status);
        continue;
      }
      if (IMMUTABLE.has(name) || name.charCodeAt(0) === 58 || name.startsWith('x-envoy-')) continue;
      // append true adds; otherwise per append_action (unset: overwrite, ext_proc's historical default).
      const append = h.append?.value;
      const action = h.append_action ?? 0;
      if (append === true) headers.push(name, value);
      else if (append === undefined && action === 1 /* ADD_IF_ABSENT */) {
        if (!hasHeader(headers, name)) headers.push(name, value);
      } else if (append === undefined && action === 3 /* OVERWRITE_IF_EXISTS */) {
        if (hasHeader(headers, name)) setHeader(headers, name, value);
      } else setHeader(headers, name, value);
    }
    for (const n of m.remove_headers ?? []) {
      const name = n.toLowerCase();
      if (IMMUTABLE.has(name) || name.charCodeAt(0) === 58 || name.startsWith('x-envoy-')) continue;
      removeHeader(headers, name);
    }
  }

  private applyBodyMutation(common: CommonResponseData, request: boolean): void {
    const b = common.body_mutation;
    if (b === undefined) return;
    let body: Buffer;
    if (b.body !== undefined) body = Buffer.from(b.body);
    else if (b.clear_body === true) body = EMPTY;
    else return;
    if (request) {
      if (this.cb.replaceDecodingBuffer === undefined) return;
      // The whole request is buffered here: resumeRequest gives the upstream request the new body's length.
      this.cb.replaceDecodingBuffer(body);
    } else {
      if (this.cb.replaceEncodingBuffer === undefined) return;
      this.cb.replaceEncodingBuffer(body);
      const headers = this.responseHeaders!;
      setHeader(headers, 'content-length', String(body.length));
    }
  }

  private onImmediateResponse(ir: Record<string, unknown>): void {
    this.clearTimer();
    this.awaiting = NONE;
    this.off = true;
    this.closeStream();
    const code = (ir['status'] as { code?: number } | undefined)?.code ?? 0;
    const status = code >= 200 && code < 600 ? code : 200;
    const headers: HeaderList = [];
    const m = ir['headers'] as CommonResponseData['header_mutation'];
    for (const h of m?.set_headers ?? []) {
      const name = (h.header?.key ?? '').toLowerCase();
      if (name === '' || name.charCodeAt(0) === 58 || name === 'content-type' || name === 'content-length') continue;
      headers.push(name, valueOf(h));
    }
    const body = ir['body'];
    const text = Buffer.isBuffer(body) ? body.toString() : typeof body === 'string' ? body : '';
    const grpc = (ir['grpc_status'] as { status?: number } | undefined)?.status;
    const details = typeof ir['details'] === 'string' && ir['details'] !== '' ? ir['details'] : 'ext_proc_immediate_response';
    this.cb.sendLocalReply(status, text, headers.length === 0 ? null : headers, grpc === undefined ? -1 : grpc, details);
  }

  /** The processor ended the stream: non-OK is a failure; OK means nothing more will be processed. */
  onClose(status: number, _message: string): void {
    if (this.destroyed) return;
    const wasDone = this.streamDone;
    this.streamDone = true;
    if (wasDone && this.awaiting === NONE) return;
    if (status !== 0) {
      this.shared.count('streams_failed');
      this.onStreamError(this.awaiting, false, `ext_proc_error_gRPC_error_${status}`);
      return;
    }
    const phase = this.awaiting;
    this.clearTimer();
    this.awaiting = NONE;
    this.off = true;
    if (phase === REQ_HEADERS || phase === REQ_BODY) this.resumeRequest();
    else if (phase !== NONE) this.resumeResponse();
  }

  /** @internal message_timeout passed without an answer. */
  onMessageTimeout(): void {
    this.timer = null;
    if (this.destroyed || this.awaiting === NONE) return;
    this.shared.count('message_timeouts');
    this.onStreamError(this.awaiting, true, 'ext_proc_error_per-message_timeout_exceeded');
  }

  /**
   * The exchange failed while `phase` waited: the stream is reset; with failure_mode_allow the request goes on
   * unprocessed, otherwise a local reply (504 after a timeout, 500 otherwise).
   */
  private onStreamError(phase: number, timeout: boolean, details: string): void {
    this.clearTimer();
    this.awaiting = NONE;
    this.off = true;
    if (this.stream !== null && !this.streamDone) {
      this.streamDone = true;
      this.stream.reset();
    }
    this.streamDone = true;
    const shared = this.shared;
    if (shared.settings.failureModeAllow) {
      shared.count('failure_mode_allowed');
      if (phase === REQ_HEADERS || phase === REQ_BODY) this.resumeRequest();
      else if (phase !== NONE) this.resumeResponse();
      return;
    }
    if (phase === NONE) return;
    this.cb.sendLocalReply(timeout ? 504 : 500, '', null, -1, details);
  }
}

/** The request headers without host (sent as :authority). */
function headersWithoutHost(headers: HeaderList): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'host') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

function onMessageTimeout(filter: ExtProcFilter): void {
  try {
    filter.onMessageTimeout();
  } catch (err) {
    // A bug in the timeout handling: logged; the stream's idle timeout still bounds it.
    reportInternalError('ext_proc message timeout', err);
  }
}

export function extProcFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new ExtProcShared(config as ExtProcSettings, context);
  return {
    createFilter(callbacks: FilterCallbacks) {
      return new ExtProcFilter(callbacks, shared);
    },
  };
}
