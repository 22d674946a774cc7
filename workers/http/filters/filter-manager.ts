// Worker thread. One stream's HTTP filters (Envoy's FilterManager): the request goes through them in http_filters
// order, ending at the router; the response (the upstream's, or a local reply) through the same filters in reverse,
// ending at the connection manager's own response rules and the codec (ActiveStream.encode*ToCodec). It exists only
// for streams with at least one filter besides the router: a router-only connection manager calls the router
// directly (ActiveStream.decodeHeaders), so a chain it does not have costs it nothing.
//
// Iteration follows Envoy's rules: a filter that stops holds the headers (and, with StopAll*, what follows) until it
// continues; data and trailers still reach a filter that stopped only the headers (StopIteration); buffered data is
// bounded by the connection's buffer limit (413 on the request side, 500 on the response side, or flow control for
// the *Watermark statuses). A local reply goes through the encoders of the filters whose decodeHeaders ran.

import type { HeaderList, StreamInfo } from '../../../src/http/stream-info.ts';
import type { Route } from '../../../src/router/route-table.ts';
import type { ActiveStream } from '../active-stream.ts';
import type net from 'node:net';
import { getHeader } from '../../../src/http/stream-info.ts';
import { trustedClientAddress } from '../../../src/http/forwarded-for.ts';
import { LocalReply } from '../local-reply.ts';
import { removeHeader } from '../../../src/http/header-list.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, IMPLEMENTS_DECODE_DATA, IMPLEMENTS_DECODE_HEADERS,
  IMPLEMENTS_ENCODE_DATA, IMPLEMENTS_ENCODE_HEADERS, type FilterCallbacks, type StreamFilter,
} from './http-filter.ts';

/** Every IMPLEMENTS_* bit: a filter whose callbacks are all called (the router, filters made elsewhere). */
const IMPLEMENTS_ALL = 63;

const EMPTY = Buffer.alloc(0);
const NO_INTERIM_HEADERS: HeaderList = [];

/** Where iteration stands at one filter, one direction. */
const CONTINUE = 0;
/** Headers (or a data/trailers call) stopped here; data and trailers still come to this filter. */
const STOP_SINGLE = 1;
/** StopAllIterationAndBuffer: what follows is buffered without calling the filter. */
const STOP_ALL_BUFFER = 2;
/** StopAllIterationAndWatermark: the same, with flow control instead of an error past the limit. */
const STOP_ALL_WATERMARK = 3;

function stopStateOfHeaders(status: number): number {
  return status === FilterHeadersStatus.StopIteration ? STOP_SINGLE
    : status === FilterHeadersStatus.StopAllIterationAndBuffer ? STOP_ALL_BUFFER
      : STOP_ALL_WATERMARK;
}

/** One filter in one stream, and its callbacks (Envoy's ActiveStreamDecoderFilter/EncoderFilter). */
export class ActiveFilter implements FilterCallbacks {
  readonly manager: FilterManager;
  readonly index: number;
  /** HttpFilter.name. */
  readonly filterConfigName: string;
  readonly streamInfo: StreamInfo;
  readonly requestHeaders: HeaderList;
  readonly bufferLimit: number;
  filter: StreamFilter;
  /**
   * Which callbacks `filter` implements itself (IMPLEMENTS_* bits, http-filter.ts); the others are PassThroughFilter's
   * Continue and are not called. All of them unless the chain says otherwise.
   */
  implemented: number;
  decodeState: number;
  /** The headers went past this filter. */
  decodeHeadersContinued: boolean;
  /** This filter saw the request's end (endStream, or trailers). */
  decodeEnd: boolean;
  encodeState: number;
  encodeHeadersContinued: boolean;
  encodeEnd: boolean;
  /**
   * Inside one of this filter's decode (encode) callbacks: a continueDecoding (continueEncoding) it calls there is
   * recorded and taken as if the callback had returned Continue.
   */
  decodeCalling: boolean;
  decodeContinueAsked: boolean;
  encodeCalling: boolean;
  encodeContinueAsked: boolean;

  constructor(manager: FilterManager, index: number, configName: string) {
    this.manager = manager;
    this.index = index;
    this.filterConfigName = configName;
    this.streamInfo = manager.stream.info;
    this.requestHeaders = manager.stream.headers;
    this.bufferLimit = manager.limit;
    this.filter = NO_FILTER;
    this.implemented = IMPLEMENTS_ALL;
    this.decodeState = CONTINUE;
    this.decodeHeadersContinued = false;
    this.decodeEnd = false;
    this.encodeState = CONTINUE;
    this.encodeHeadersContinued = false;
    this.encodeEnd = false;
    this.decodeCalling = false;
    this.decodeContinueAsked = false;
    this.encodeCalling = false;
    this.encodeContinueAsked = false;
  }

  get responseStatus(): number {
    return this.manager.stream.info.responseCode;
  }

  setResponseStatus(status: number): void {
    this.manager.stream.setResponseStatus(status);
  }

  route(): Route | null {
    return this.manager.stream.currentRoute();
  }

  clearRouteCache(): void {
    this.manager.stream.clearRouteCache();
  }

  mostSpecificPerFilterConfig(): unknown {
    const route = this.manager.stream.currentRoute();
    if (route === null || route.perFilterConfigs === null) return null;
    const c = route.perFilterConfigs[this.filterConfigName];
    return c === undefined ? null : c.config;
  }

  continueDecoding(): void {
    if (this.decodeCalling) {
      this.decodeContinueAsked = true;
      return;
    }
    this.manager.continueDecodingAt(this);
  }

  continueEncoding(): void {
    if (this.encodeCalling) {
      this.encodeContinueAsked = true;
      return;
    }
    this.manager.continueEncodingAt(this);
  }

  sendLocalReply(status: number, body: string, headers: HeaderList | null, grpcStatus: number, details: string): void {
    this.manager.stream.sendLocal(status, body === '' ? EMPTY : Buffer.from(body), 0, details, body === '' ? null : 'text/plain', undefined, grpcStatus, headers);
  }

  decodingBuffer(): Buffer | null {
    return this.manager.peekBuffer(true);
  }

  encodingBuffer(): Buffer | null {
    return this.manager.peekBuffer(false);
  }

  replaceDecodingBuffer(data: Buffer): void {
    this.manager.replaceBuffer(true, data);
  }

  requestBodyLength(length: number): void {
    const stream = this.manager.stream;
    const head = stream.head;
    head.contentLength = length;
    head.chunked = false;
    removeHeader(stream.headers, 'transfer-encoding');
    removeHeader(stream.headers, 'content-length');
    stream.headers.push('content-length', String(length));
  }

  replaceEncodingBuffer(data: Buffer): void {
    this.manager.replaceBuffer(false, data);
  }

  injectDecodedDataToFilterChain(data: Buffer, endStream: boolean): void {
    this.manager.decodeDataFrom(this.index + 1, data, endStream);
  }

  injectEncodedDataToFilterChain(data: Buffer, endStream: boolean): void {
    // Injected from inside an encodeData call, the source pauses when the client (or a buffer) is full.
    if (!this.manager.encodeDataFrom(this.index - 1, data, endStream)) this.manager.injectedBlocked = true;
  }

  requestBodyRewritten(): void {
    const stream = this.manager.stream;
    const head = stream.head;
    if (head.contentLength > 0) {
      head.contentLength = -1;
      head.chunked = true;
    }
    removeHeader(stream.headers, 'content-length');
  }

  setDecoderBufferLimit(limit: number): void {
    this.manager.decodeLimit = limit;
  }

  sendContinue(): void {
    const stream = this.manager.stream;
    if (stream.hcm.config.proxy100Continue || stream.requestComplete || stream.continueSent || stream.finished) return;
    stream.sendInterim(100, 'Continue', NO_INTERIM_HEADERS);
  }

  setDynamicMetadata(ns: string, fields: Readonly<Record<string, unknown>>): void {
    this.streamInfo.setDynamicMetadata(ns, fields);
  }

  downstreamSocket(): net.Socket {
    return this.manager.stream.conn.socket;
  }

  trustedRemoteIp(): string {
    const stream = this.manager.stream;
    const cfg = stream.hcm.config;
    const peer = stream.conn.remoteIp;
    if (cfg.useRemoteAddress && cfg.xffNumTrustedHops === 0) return peer;
    // With use_remote_address the peer was appended to x-forwarded-for already (unless skip_xff_append): counted
    // from the right it is then one of the trusted hops.
    const appended = cfg.useRemoteAddress && !cfg.skipXffAppend;
    return trustedClientAddress(getHeader(stream.headers, 'x-forwarded-for'), peer, cfg.useRemoteAddress && !appended, cfg.xffNumTrustedHops);
  }
}

/** Placeholder until the factory made the real filter (one shape for `filter`). */
class NoFilter implements StreamFilter {
  decodeHeaders(): number {
    return FilterHeadersStatus.Continue;
  }
  decodeData(): number {
    return FilterDataStatus.Continue;
  }
  decodeTrailers(): number {
    return FilterTrailersStatus.Continue;
  }
  encodeHeaders(): number {
    return FilterHeadersStatus.Continue;
  }
  encodeData(): number {
    return FilterDataStatus.Continue;
  }
  encodeTrailers(): number {
    return FilterTrailersStatus.Continue;
  }
  onDestroy(): void {}
}
const NO_FILTER = new NoFilter();

export class FilterManager {
  readonly stream: ActiveStream;
  /** The stream's filters in config order; the router is the last. */
  readonly filters: ActiveFilter[];
  /** The connection's buffer limit (per_connection_buffer_limit_bytes). */
  readonly limit: number;
  /** The limit of buffered request data: `limit` unless a filter set its own (setDecoderBufferLimit). */
  decodeLimit: number;
  /** The last filter whose decodeHeaders ran: encoding starts there. */
  latestDecoder: number;
  /** A filter's injectEncodedDataToFilterChain met a full client: the encodeData in progress reports it (pause). */
  injectedBlocked: boolean;
  /** A local reply was sent: the request goes no further. */
  decodeAborted: boolean;
  /** The response head entered the encoder filters (a later local reply bypasses them, as Envoy's). */
  encodeStarted: boolean;
  /** The response's end (last data or trailers) entered the encoder filters. */
  responseEnded: boolean;
  /** The response was answered directly (a local reply after encodeStarted): encoding goes no further. */
  encodeAborted: boolean;
  private decodeBuffer: Buffer[] | null;
  private decodeBufferBytes: number;
  /** Reading the client is paused because of what a *Watermark filter holds. */
  private decodeWatermarked: boolean;
  private requestTrailers: HeaderList | null;
  private responseHeaders: HeaderList | null;
  private encodeBuffer: Buffer[] | null;
  private encodeBufferBytes: number;
  private encodeWatermarked: boolean;
  private responseTrailers: HeaderList | null;

  constructor(stream: ActiveStream, limit: number) {
    this.stream = stream;
    this.filters = [];
    this.limit = limit;
    this.decodeLimit = limit;
    this.latestDecoder = -1;
    this.injectedBlocked = false;
    this.decodeAborted = false;
    this.encodeStarted = false;
    this.responseEnded = false;
    this.encodeAborted = false;
    this.decodeBuffer = null;
    this.decodeBufferBytes = 0;
    this.decodeWatermarked = false;
    this.requestTrailers = null;
    this.responseHeaders = null;
    this.encodeBuffer = null;
    this.encodeBufferBytes = 0;
    this.encodeWatermarked = false;
    this.responseTrailers = null;
  }

  /** Adds the next filter; the factory gets its callbacks (the filter object is made per stream). */
  add(configName: string): ActiveFilter {
    const f = new ActiveFilter(this, this.filters.length, configName);
    this.filters.push(f);
    return f;
  }

  // ---- request path ----

  decodeHeaders(headers: HeaderList, endStream: boolean): void {
    this.decodeHeadersFrom(0, headers, endStream);
  }

  decodeData(data: Buffer, endStream: boolean): void {
    this.decodeDataFrom(0, data, endStream);
  }

  decodeTrailers(trailers: HeaderList): void {
    this.requestTrailers = trailers;
    this.decodeTrailersFrom(0, trailers);
  }

  private stopped(): boolean {
    return this.decodeAborted || this.stream.finished;
  }

  private decodeHeadersFrom(start: number, headers: HeaderList, endStream: boolean): void {
    const filters = this.filters;
    for (let i = start; i < filters.length; i++) {
      const f = filters[i]!;
      // Its decodeHeaders runs: its encoders run on the response (encoding starts at the latest decoder).
      this.latestDecoder = i;
      if (endStream) f.decodeEnd = true;
      if ((f.implemented & IMPLEMENTS_DECODE_HEADERS) === 0) {
        f.decodeHeadersContinued = true;
        continue;
      }
      f.decodeCalling = true;
      f.decodeContinueAsked = false;
      let status: number;
      try {
        status = f.filter.decodeHeaders(headers, endStream);
      } finally {
        f.decodeCalling = false;
      }
      // A continueDecoding() from inside the callback counts as Continue.
      if (f.decodeContinueAsked) status = 0;
      if (this.stopped()) return;
      if (status !== FilterHeadersStatus.Continue) {
        f.decodeState = stopStateOfHeaders(status);
        return;
      }
      f.decodeHeadersContinued = true;
    }
  }


  decodeDataFrom(start: number, data: Buffer, endStream: boolean): void {
    if (this.stopped()) return;
    const filters = this.filters;
    for (let i = start; i < filters.length; i++) {
      const f = filters[i]!;
      const state = f.decodeState;
      if (state === STOP_ALL_BUFFER || state === STOP_ALL_WATERMARK) {
        this.bufferRequestData(data, state === STOP_ALL_WATERMARK);
        return;
      }
      if (f.decodeEnd) return;
      if (endStream) f.decodeEnd = true;
      let status: number = FilterDataStatus.Continue;
      if ((f.implemented & IMPLEMENTS_DECODE_DATA) !== 0) {
        f.decodeCalling = true;
        f.decodeContinueAsked = false;
        try {
          status = f.filter.decodeData(data, endStream);
        } finally {
          f.decodeCalling = false;
        }
        // A continueDecoding() from inside the callback counts as Continue.
        if (f.decodeContinueAsked) status = 0;
        if (this.stopped()) return;
      }
      if (status === FilterDataStatus.Continue) {
        if (f.decodeState === STOP_SINGLE) {
          // Headers (or earlier data) were stopped here: they go on first, then what is buffered, then this.
          if (data.length > 0) this.appendBuffer(true, data);
          this.continueDecodingAt(f);
          return;
        }
        continue;
      }
      f.decodeState = STOP_SINGLE;
      if (status === FilterDataStatus.StopIterationAndBuffer || status === FilterDataStatus.StopIterationAndWatermark) {
        this.bufferRequestData(data, status === FilterDataStatus.StopIterationAndWatermark);
      }
      return;
    }
  }

  private decodeTrailersFrom(start: number, trailers: HeaderList): void {
    if (this.stopped()) return;
    const filters = this.filters;
    for (let i = start; i < filters.length; i++) {
      const f = filters[i]!;
      // Held (this.requestTrailers) until the filter continues.
      if (f.decodeState === STOP_ALL_BUFFER || f.decodeState === STOP_ALL_WATERMARK) return;
      if (f.decodeEnd) return;
      f.decodeEnd = true;
      f.decodeCalling = true;
      f.decodeContinueAsked = false;
      let status: number;
      try {
        status = f.filter.decodeTrailers(trailers);
      } finally {
        f.decodeCalling = false;
      }
      // A continueDecoding() from inside the callback counts as Continue.
      if (f.decodeContinueAsked) status = 0;
      if (this.stopped()) return;
      if (status === FilterTrailersStatus.Continue) {
        if (f.decodeState === STOP_SINGLE) {
          this.continueDecodingAt(f);
          return;
        }
        continue;
      }
      f.decodeState = STOP_SINGLE;
      return;
    }
  }

  /**
   * Resumes the request path at `f` (Envoy's commonContinue): the headers to the next filters if they stopped here,
   * then the data buffered here (to `f` itself after a StopAll*, which never saw it), then held trailers.
   */
  continueDecodingAt(f: ActiveFilter): void {
    if (this.stopped()) return;
    const state = f.decodeState;
    if (state === CONTINUE && f.decodeHeadersContinued) return;
    f.decodeState = CONTINUE;
    const complete = this.stream.requestComplete;
    if (!f.decodeHeadersContinued) {
      f.decodeHeadersContinued = true;
      this.decodeHeadersFrom(f.index + 1, this.stream.headers, complete && this.decodeBuffer === null && this.requestTrailers === null);
      if (this.stopped()) return;
    }
    const from = state === STOP_ALL_BUFFER || state === STOP_ALL_WATERMARK ? f.index : f.index + 1;
    const target = from < this.filters.length ? this.filters[from]! : null;
    const trailers = this.requestTrailers;
    if (this.decodeBuffer !== null || (complete && trailers === null && target !== null && !target.decodeEnd)) {
      const data = this.takeBuffer(true);
      this.decodeDataFrom(from, data, complete && trailers === null);
      if (this.stopped()) return;
    }
    if (trailers !== null && complete && target !== null && !target.decodeEnd) {
      this.decodeTrailersFrom(from, trailers);
      if (this.stopped()) return;
    }
    if (this.decodeWatermarked && this.decodeBufferBytes <= this.decodeLimit) {
      this.decodeWatermarked = false;
      this.stream.conn.resumeReading(this.stream);
    }
  }

  private bufferRequestData(data: Buffer, watermark: boolean): void {
    if (data.length > 0) this.appendBuffer(true, data);
    if (this.decodeBufferBytes <= this.decodeLimit) return;
    if (watermark) {
      if (!this.decodeWatermarked) {
        this.decodeWatermarked = true;
        this.stream.conn.pauseReading(this.stream);
      }
      return;
    }
    // Envoy's requestDataTooLarge.
    const hcm = this.stream.hcm;
    hcm.stats.values[hcm.config.slots!.downstream_rq_too_large]++;
    this.stream.localReply(LocalReply.requestPayloadTooLarge);
  }

  // ---- response path ----

  /** The upstream's response head (after the router's response rules). */
  encodeHeaders(headers: HeaderList, endStream: boolean): void {
    this.encodeStarted = true;
    this.responseHeaders = headers;
    if (endStream) this.responseEnded = true;
    this.encodeHeadersFrom(this.latestDecoder, headers, endStream);
  }

  /** Response data; false when the source should pause (the client, or a *Watermark filter's buffer, is full). */
  encodeData(data: Buffer, endStream: boolean): boolean {
    if (endStream) this.responseEnded = true;
    this.injectedBlocked = false;
    const writable = this.encodeDataFrom(this.latestDecoder, data, endStream);
    return writable && !this.injectedBlocked;
  }

  encodeTrailers(trailers: HeaderList): void {
    this.responseEnded = true;
    this.responseTrailers = trailers;
    this.encodeTrailersFrom(this.latestDecoder, trailers);
  }

  /** A local reply made before any response head entered the encoders: through them, from the latest decoder. */
  encodeLocalReply(headers: HeaderList, body: Buffer): void {
    this.decodeAborted = true;
    const start = this.latestDecoder;
    const endStream = body.length === 0;
    this.encodeStarted = true;
    this.responseHeaders = headers;
    this.responseEnded = true;
    this.encodeHeadersFrom(start, headers, endStream);
    if (!endStream) this.encodeDataFrom(start, body, true);
  }

  /** The response was answered around the filters (direct local reply) or the stream is ending. */
  abort(): void {
    this.decodeAborted = true;
    this.encodeAborted = true;
  }

  private encodeStopped(): boolean {
    return this.encodeAborted || this.stream.finished;
  }

  private encodeHeadersFrom(start: number, headers: HeaderList, endStream: boolean): void {
    const filters = this.filters;
    for (let i = start; i >= 0; i--) {
      const f = filters[i]!;
      if (endStream) f.encodeEnd = true;
      if ((f.implemented & IMPLEMENTS_ENCODE_HEADERS) === 0) {
        f.encodeHeadersContinued = true;
        continue;
      }
      f.encodeCalling = true;
      f.encodeContinueAsked = false;
      let status: number;
      try {
        status = f.filter.encodeHeaders(headers, endStream);
      } finally {
        f.encodeCalling = false;
      }
      if (f.encodeContinueAsked) status = 0;
      if (this.encodeStopped()) return;
      if (status !== FilterHeadersStatus.Continue) {
        f.encodeState = stopStateOfHeaders(status);
        return;
      }
      f.encodeHeadersContinued = true;
    }
    this.stream.encodeHeadersToCodec(headers, endStream);
  }

  encodeDataFrom(start: number, data: Buffer, endStream: boolean): boolean {
    if (this.encodeStopped()) return true;
    const filters = this.filters;
    for (let i = start; i >= 0; i--) {
      const f = filters[i]!;
      const state = f.encodeState;
      if (state === STOP_ALL_BUFFER || state === STOP_ALL_WATERMARK) return this.bufferResponseData(data, state === STOP_ALL_WATERMARK);
      if (f.encodeEnd) return true;
      if (endStream) f.encodeEnd = true;
      let status: number = FilterDataStatus.Continue;
      if ((f.implemented & IMPLEMENTS_ENCODE_DATA) !== 0) {
        f.encodeCalling = true;
        f.encodeContinueAsked = false;
        try {
          status = f.filter.encodeData(data, endStream);
        } finally {
          f.encodeCalling = false;
        }
        if (f.encodeContinueAsked) status = 0;
        if (this.encodeStopped()) return true;
      }
      if (status === FilterDataStatus.Continue) {
        if (f.encodeState === STOP_SINGLE) {
          if (data.length > 0) this.appendBuffer(false, data);
          this.continueEncodingAt(f);
          return true;
        }
        continue;
      }
      f.encodeState = STOP_SINGLE;
      if (status === FilterDataStatus.StopIterationAndBuffer || status === FilterDataStatus.StopIterationAndWatermark) {
        return this.bufferResponseData(data, status === FilterDataStatus.StopIterationAndWatermark);
      }
      return true;
    }
    return this.stream.encodeDataToCodec(data, endStream);
  }

  private encodeTrailersFrom(start: number, trailers: HeaderList): void {
    if (this.encodeStopped()) return;
    const filters = this.filters;
    for (let i = start; i >= 0; i--) {
      const f = filters[i]!;
      if (f.encodeState === STOP_ALL_BUFFER || f.encodeState === STOP_ALL_WATERMARK) return;
      if (f.encodeEnd) return;
      f.encodeEnd = true;
      f.encodeCalling = true;
      f.encodeContinueAsked = false;
      let status: number;
      try {
        status = f.filter.encodeTrailers(trailers);
      } finally {
        f.encodeCalling = false;
      }
      if (f.encodeContinueAsked) status = 0;
      if (this.encodeStopped()) return;
      if (status === FilterTrailersStatus.Continue) {
        if (f.encodeState === STOP_SINGLE) {
          this.continueEncodingAt(f);
          return;
        }
        continue;
      }
      f.encodeState = STOP_SINGLE;
      return;
    }
    this.stream.encodeTrailersToCodec(trailers);
  }

  /** Resumes the response path at `f`, as continueDecodingAt does the request path (towards the client). */
  continueEncodingAt(f: ActiveFilter): void {
    if (this.encodeStopped() || !this.encodeStarted) return;
    const state = f.encodeState;
    if (state === CONTINUE && f.encodeHeadersContinued) return;
    f.encodeState = CONTINUE;
    const complete = this.responseEnded;
    if (!f.encodeHeadersContinued) {
      f.encodeHeadersContinued = true;
      this.encodeHeadersFrom(f.index - 1, this.responseHeaders!, complete && this.encodeBuffer === null && this.responseTrailers === null);
      if (this.encodeStopped()) return;
    }
    const from = state === STOP_ALL_BUFFER || state === STOP_ALL_WATERMARK ? f.index : f.index - 1;
    const target = from >= 0 ? this.filters[from]! : null;
    const trailers = this.responseTrailers;
    // Past the first filter (from -1) the codec is next; it has not had the end (that would have finished the stream).
    const endPending = target === null || !target.encodeEnd;
    if (this.encodeBuffer !== null || (complete && trailers === null && endPending)) {
      const data = this.takeBuffer(false);
      this.encodeDataFrom(from, data, complete && trailers === null);
      if (this.encodeStopped()) return;
    }
    if (trailers !== null && complete && endPending) {
      this.encodeTrailersFrom(from, trailers);
      if (this.encodeStopped()) return;
    }
    if (this.encodeWatermarked && this.encodeBufferBytes <= this.limit) {
      this.encodeWatermarked = false;
      this.stream.resumeUpstream();
    }
  }

  /** Buffers response data; false (pause the source) when a *Watermark filter's buffer is over the limit. */
  private bufferResponseData(data: Buffer, watermark: boolean): boolean {
    if (data.length > 0) this.appendBuffer(false, data);
    if (this.encodeBufferBytes <= this.limit) return true;
    if (watermark) {
      this.encodeWatermarked = true;
      return false;
    }
    // Envoy's responseDataTooLarge: a 500 while the head has not gone out, else a reset.
    const hcm = this.stream.hcm;
    hcm.stats.values[hcm.config.slots!.rs_too_large]++;
    this.stream.upstreamFailed(LocalReply.responsePayloadTooLarge);
    return true;
  }

  // ---- buffers ----

  private appendBuffer(request: boolean, data: Buffer): void {
    if (request) {
      (this.decodeBuffer ??= []).push(data);
      this.decodeBufferBytes += data.length;
    } else {
      (this.encodeBuffer ??= []).push(data);
      this.encodeBufferBytes += data.length;
    }
  }

  private takeBuffer(request: boolean): Buffer {
    const chunks = request ? this.decodeBuffer : this.encodeBuffer;
    if (request) {
      this.decodeBuffer = null;
      this.decodeBufferBytes = 0;
    } else {
      this.encodeBuffer = null;
      this.encodeBufferBytes = 0;
    }
    if (chunks === null) return EMPTY;
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /** Replaces what is buffered (a filter's body mutation: Envoy's modifyDecodingBuffer / modifyEncodingBuffer). */
  replaceBuffer(request: boolean, data: Buffer): void {
    if (request) {
      this.decodeBuffer = [data];
      this.decodeBufferBytes = data.length;
    } else {
      this.encodeBuffer = [data];
      this.encodeBufferBytes = data.length;
    }
  }

  /** What is buffered (one Buffer, kept as the buffer's only chunk so a second look does not copy again). */
  peekBuffer(request: boolean): Buffer | null {
    const chunks = request ? this.decodeBuffer : this.encodeBuffer;
    if (chunks === null) return null;
    if (chunks.length > 1) {
      const one = Buffer.concat(chunks);
      chunks.length = 0;
      chunks.push(one);
    }
    return chunks[0] ?? null;
  }

  /** Bytes buffered here, both ways (reset_high_memory_stream counts them). */
  heldBytes(): number {
    return this.decodeBufferBytes + this.encodeBufferBytes;
  }

  /** The stream ended: every filter's onDestroy, once. */
  destroy(): void {
    this.abort();
    const filters = this.filters;
    for (let i = 0; i < filters.length; i++) filters[i]!.filter.onDestroy();
  }
}
