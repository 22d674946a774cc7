// Worker thread. Envoy's HTTP filter interface: what a filter in a connection manager's http_filters implements and
// the callbacks it gets, with Envoy's names so Envoy's filter docs carry over (envoy/http/filter.h). Every call runs
// on the worker that owns the stream, from the stream's own events (a codec read, an upstream read, a timer); none
// may block, and none may call back into the filter chain re-entrantly except through the callbacks below.

import type { HeaderList, StreamInfo } from '../../../src/http/stream-info.ts';
import type { Route } from '../../../src/router/route-table.ts';
import type net from 'node:net';

/** What decodeHeaders/encodeHeaders return (Envoy's FilterHeadersStatus). */
export const FilterHeadersStatus = Object.freeze({
  /** Pass the headers to the next filter. */
  Continue: 0,
  /**
   * Do not pass the headers on yet. Data and trailers still reach this filter (not the next ones); it resumes the
   * chain with continueDecoding()/continueEncoding() or by returning Continue from a data or trailers call.
   */
  StopIteration: 1,
  /**
   * Stop, and buffer what follows (data, trailers) without calling this filter, until it calls continueDecoding()/
   * continueEncoding(). Buffered data over the connection's buffer limit is a 413 (request) or 500 (response).
   */
  StopAllIterationAndBuffer: 2,
  /** As StopAllIterationAndBuffer, but over the buffer limit the source is paused (flow control) instead. */
  StopAllIterationAndWatermark: 3,
});

/** What decodeData/encodeData return (Envoy's FilterDataStatus). */
export const FilterDataStatus = Object.freeze({
  /** Pass this data (after anything buffered at this filter, and the headers if they were stopped here) on. */
  Continue: 0,
  /** Keep this data in the stream's buffer; more data still comes to this filter. Over the limit: 413 / 500. */
  StopIterationAndBuffer: 1,
  /** As StopIterationAndBuffer, but over the limit the source is paused instead. */
  StopIterationAndWatermark: 2,
  /** The filter took this data: nothing is buffered or passed on (it may inject data of its own). */
  StopIterationNoBuffer: 3,
});

/** What decodeTrailers/encodeTrailers return (Envoy's FilterTrailersStatus). */
export const FilterTrailersStatus = Object.freeze({
  Continue: 0,
  /** Hold the trailers (and end of stream) until continueDecoding()/continueEncoding(). */
  StopIteration: 1,
});

/**
 * A filter in the request (decoder) path. Called in http_filters order. `endStream` says no data follows; a
 * request that ends with trailers gets endStream false on its last data and decodeTrailers.
 */
export interface StreamDecoderFilter {
  decodeHeaders(headers: HeaderList, endStream: boolean): number;
  decodeData(data: Buffer, endStream: boolean): number;
  decodeTrailers(trailers: HeaderList): number;
}

/**
 * A filter in the response (encoder) path. Called in reverse http_filters order, only on filters whose
 * decodeHeaders ran (Envoy skips the encoders of filters a local reply came before). The status is
 * `FilterCallbacks.responseStatus`. Interim (1xx) heads do not go through filters.
 */
export interface StreamEncoderFilter {
  encodeHeaders(headers: HeaderList, endStream: boolean): number;
  encodeData(data: Buffer, endStream: boolean): number;
  encodeTrailers(trailers: HeaderList): number;
}

/** Every filter implements both sides (PassThroughFilter gives Continue for what it does not need) and onDestroy. */
export interface StreamFilter extends StreamDecoderFilter, StreamEncoderFilter {
  /** The stream is gone (completed, reset or answered); no call follows. Release timers and requests here. */
  onDestroy(): void;
}

/** A filter's handle on its stream (Envoy's StreamDecoderFilterCallbacks and StreamEncoderFilterCallbacks). */
export interface FilterCallbacks {
  /** What is known of the request and response so far; what the access log reads. */
  readonly streamInfo: StreamInfo;
  /** This filter's name in http_filters (the key of its typed_per_filter_config). */
  readonly filterConfigName: string;
  /** The request headers (the list decodeHeaders got), also while encoding. */
  readonly requestHeaders: HeaderList;
  /** The response status while encoding (0 before); setResponseStatus changes what the client gets. */
  readonly responseStatus: number;
  setResponseStatus(status: number): void;
  /**
   * The stream's route, recomputed after clearRouteCache() from the request headers as they are then (host) and
   * the path in streamInfo.path; null when none matches (the router answers 404 NR).
   */
  route(): Route | null;
  /** The request changed in a way routing looks at: the next route() (the router's included) matches again. */
  clearRouteCache(): void;
  /**
   * This filter's typed_per_filter_config (FilterConfig.config unwrapped), compiled: the route's, else its virtual
   * host's; null when neither has one.
   */
  mostSpecificPerFilterConfig(): unknown;
  /** Resumes the request path after this filter stopped it. */
  continueDecoding(): void;
  /** Resumes the response path after this filter stopped it. */
  continueEncoding(): void;
  /**
   * Answers the request here: `status`, a text/plain `body` ('' for none), extra `headers` (or null), the
   * grpc-status a gRPC client gets (-1: from the HTTP status) and %RESPONSE_CODE_DETAILS%. The reply goes through
   * the encoder filters of the filters whose decodeHeaders ran, then the access log. After the response head has
   * gone out the stream is reset instead.
   */
  sendLocalReply(status: number, body: string, headers: HeaderList | null, grpcStatus: number, details: string): void;
  /** Request data buffered at this filter (StopIterationAndBuffer, StopAll*), or null. */
  decodingBuffer(): Buffer | null;
  /** Response data buffered at this filter, or null. */
  encodingBuffer(): Buffer | null;
  /**
   * Replaces the request (response) data buffered at this filter, e.g. with what an external processor returned
   * (Envoy's modifyDecodingBuffer / modifyEncodingBuffer). Optional so that wrappers need not forward it; the filter
   * manager's callbacks always have it.
   */
  replaceDecodingBuffer?(data: Buffer): void;
  replaceEncodingBuffer?(data: Buffer): void;
  /**
   * The whole request body, buffered at this filter, is now `length` bytes (it replaced it): the upstream request
   * goes with that content-length. Call it before continueDecoding(), once the request is complete.
   */
  requestBodyLength?(length: number): void;
  /** Passes `data` to the filters after this one (a filter that returned StopIterationNoBuffer and transformed it). */
  injectDecodedDataToFilterChain(data: Buffer, endStream: boolean): void;
  injectEncodedDataToFilterChain(data: Buffer, endStream: boolean): void;
  /** The connection's buffer limit (per_connection_buffer_limit_bytes), for what a filter holds itself. */
  readonly bufferLimit: number;
  /**
   * A decoder filter changes the request body's length (it decompresses or re-encodes what it passes on): the
   * upstream request goes without content-length (HTTP/1.1: chunked). Call it from decodeHeaders. (Optional so that
   * wrappers of these callbacks need not forward it; the filter manager's callbacks always have it.)
   */
  requestBodyRewritten?(): void;
  /**
   * Envoy's setDecoderBufferLimit: this stream's limit for buffered request data (StopIterationAndBuffer, StopAll*)
   * from now on, instead of the connection's (past it: 413). The buffer filter sets its max_request_bytes.
   */
  setDecoderBufferLimit(limit: number): void;
  /**
   * For a filter that holds the request body before it goes upstream (the buffer filter): answers the client's
   * `Expect: 100-continue` now, as Envoy's connection manager does before any filter, unless proxy_100_continue
   * leaves it to the upstream, the request already ended, or a 100 went out. The caller checks the request asked.
   * Optional: callbacks that wrap another filter's (a user filter's) may leave it out.
   */
  sendContinue?(): void;
  /**
   * Merges `fields` into dynamic metadata namespace `ns` (by convention the filter's Envoy name), for later filters,
   * the router and %DYNAMIC_METADATA(ns:key)%: the same as streamInfo.setDynamicMetadata. Read it back from
   * streamInfo.dynamicMetadata (null until something was set). Filter state: streamInfo.setFilterState(name, value,
   * readOnly) / streamInfo.getFilterState(name) (%FILTER_STATE(name)%). Either may be called from any callback.
   */
  setDynamicMetadata(ns: string, fields: Readonly<Record<string, unknown>>): void;
  /**
   * The downstream connection's socket (a tls.TLSSocket on a TLS filter chain): for its addresses, SNI and peer
   * certificate. Read only: never write to, pause or end it.
   */
  downstreamSocket(): net.Socket;
  /**
   * The client IP the connection manager trusts (Envoy's downstream remote address): the peer, or the
   * x-forwarded-for entry use_remote_address and xff_num_trusted_hops select. Computed per call.
   */
  trustedRemoteIp(): string;
}

/**
 * A filter that passes everything on: built-in and test filters extend it and override what they need, so every
 * filter has the same methods (one shape at each call site).
 */
export class PassThroughFilter implements StreamFilter {
  decodeHeaders(_headers: HeaderList, _endStream: boolean): number {
    return FilterHeadersStatus.Continue;
  }
  decodeData(_data: Buffer, _endStream: boolean): number {
    return FilterDataStatus.Continue;
  }
  decodeTrailers(_trailers: HeaderList): number {
    return FilterTrailersStatus.Continue;
  }
  encodeHeaders(_headers: HeaderList, _endStream: boolean): number {
    return FilterHeadersStatus.Continue;
  }
  encodeData(_data: Buffer, _endStream: boolean): number {
    return FilterDataStatus.Continue;
  }
  encodeTrailers(_trailers: HeaderList): number {
    return FilterTrailersStatus.Continue;
  }
  onDestroy(): void {}
}

/** Bits of filterCallbacksImplemented: which callbacks a filter has of its own (not PassThroughFilter's). */
export const IMPLEMENTS_DECODE_HEADERS = 1;
export const IMPLEMENTS_DECODE_DATA = 2;
export const IMPLEMENTS_DECODE_TRAILERS = 4;
export const IMPLEMENTS_ENCODE_HEADERS = 8;
export const IMPLEMENTS_ENCODE_DATA = 16;
export const IMPLEMENTS_ENCODE_TRAILERS = 32;

/**
 * Which of the six callbacks `filter` implements itself: a PassThroughFilter default only answers Continue, so the
 * filter manager need not call it (an unused filter then costs no megamorphic call for those events).
 */
export function filterCallbacksImplemented(filter: StreamFilter): number {
  const base = PassThroughFilter.prototype;
  let mask = 0;
  if (filter.decodeHeaders !== base.decodeHeaders) mask |= IMPLEMENTS_DECODE_HEADERS;
  if (filter.decodeData !== base.decodeData) mask |= IMPLEMENTS_DECODE_DATA;
  if (filter.decodeTrailers !== base.decodeTrailers) mask |= IMPLEMENTS_DECODE_TRAILERS;
  if (filter.encodeHeaders !== base.encodeHeaders) mask |= IMPLEMENTS_ENCODE_HEADERS;
  if (filter.encodeData !== base.encodeData) mask |= IMPLEMENTS_ENCODE_DATA;
  if (filter.encodeTrailers !== base.encodeTrailers) mask |= IMPLEMENTS_ENCODE_TRAILERS;
  return mask;
}
