// Any thread (pure). The contract of Legate's own HTTP/1.1 codec: what the parsers report and how they are driven.
// Implementations: request-parser.ts (downstream), response-parser.ts (upstream), serializer.ts.

import type { HeaderList } from '../http/stream-info.ts';

/** Limits a parser enforces; heads beyond them are errors (431), never truncated. */
export interface Http1Limits {
  /** Max bytes of a message head (request/status line + headers), Envoy's max_request_headers_kb * 1024. */
  maxHeadBytes: number;
  /** Max number of header fields (Envoy's common_http_protocol_options.max_headers_count, default 100). */
  maxHeadersCount: number;
}

export interface RequestHead {
  /** Upper-case method token; common methods are interned string constants. */
  method: string;
  /** request-target exactly as sent (origin-form "/a?b", absolute-form, authority-form for CONNECT, or "*"). */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: number;
  /** Header fields in order received; names lower-cased, values with surrounding whitespace removed. */
  headers: HeaderList;
  /** Content-Length value, or -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding ends in chunked. */
  chunked: boolean;
  /** The connection may carry another request after this one (HTTP/1.1 default, Connection: close/keep-alive). */
  keepAlive: boolean;
  /** An upgrade was asked for (Connection: upgrade with an Upgrade header), or the method is CONNECT. */
  upgrade: boolean;
}

export interface ResponseHead {
  statusCode: number;
  reason: string;
  versionMinor: number;
  headers: HeaderList;
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  /** The body runs until the connection closes (no length, not chunked, body allowed). */
  readUntilClose: boolean;
}

/** Why a message was rejected; `status` is the local reply a server should send (400, 413, 431, 501, 505). */
export interface Http1ParseError {
  /** Stable code, one of HTTP1_ERROR_CODES in errors.ts (e.g. "content_length_and_chunked"). */
  code: string;
  status: number;
  message: string;
  /** Envoy's response code details for the rejection (e.g. "http1.codec_error"), for %RESPONSE_CODE_DETAILS%. */
  details: string;
}

/**
 * Callbacks a parser calls, synchronously, from execute()/resume()/finish(). A callback may call pause() on the
 * parser; the parser then stops after that callback and keeps the unparsed bytes until resume().
 * onBody's chunk is a view into the input (never a copy); it stays valid (Node never reuses socket buffers).
 */
export interface Http1RequestCallbacks {
  onRequestHead(head: RequestHead): void;
  onRequestBody(chunk: Buffer): void;
  /** trailers is null when none were sent. */
  onRequestComplete(trailers: HeaderList | null): void;
  /** After an error the parser accepts no more input. */
  onRequestError(err: Http1ParseError): void;
}

export interface Http1ResponseCallbacks {
  /** Called for interim (1xx) heads too; those have no body and are followed by another head. */
  onResponseHead(head: ResponseHead): void;
  onResponseBody(chunk: Buffer): void;
  onResponseComplete(trailers: HeaderList | null): void;
  onResponseError(err: Http1ParseError): void;
}
