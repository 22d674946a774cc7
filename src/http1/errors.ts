// Any thread (pure). Every way an HTTP/1.1 message can be rejected: a stable code, the local reply status a server
// sends for a bad request, and Envoy's response code details string (for %RESPONSE_CODE_DETAILS%).
// Parsers work with the small integer ids below and look the shared frozen error objects up only on failure.

import type { Http1ParseError } from './types.ts';

export const E_BARE_LF = 1;
export const E_BARE_CR = 2;
export const E_INVALID_METHOD = 3;
export const E_INVALID_TARGET = 4;
export const E_HTTP09 = 5;
export const E_INVALID_VERSION = 6;
export const E_UNSUPPORTED_VERSION = 7;
export const E_INVALID_HEADER_NAME = 8;
export const E_EMPTY_HEADER_NAME = 9;
export const E_WHITESPACE_BEFORE_COLON = 10;
export const E_INVALID_HEADER_VALUE = 11;
export const E_OBS_FOLD = 12;
export const E_TOO_MANY_HEADERS = 13;
export const E_HEAD_TOO_LARGE = 14;
export const E_DUPLICATE_CONTENT_LENGTH = 15;
export const E_INVALID_CONTENT_LENGTH = 16;
export const E_CONTENT_LENGTH_AND_CHUNKED = 17;
export const E_INVALID_TRANSFER_ENCODING = 18;
export const E_UNSUPPORTED_TRANSFER_ENCODING = 19;
export const E_TRANSFER_ENCODING_HTTP10 = 20;
export const E_DUPLICATE_HOST = 21;
export const E_BODY_NOT_ALLOWED = 22;
export const E_INVALID_CHUNK_SIZE = 23;
export const E_INVALID_CHUNK_EXTENSION = 24;
export const E_MISSING_CHUNK_CRLF = 25;
export const E_INCOMPLETE_MESSAGE = 26;
export const E_INVALID_STATUS_LINE = 27;
export const E_INVALID_TRAILER = 28;
export const E_URI_TOO_LONG = 29;
export const E_CONNECTION_HEADER = 30;
export const E_UNEXPECTED_SWITCHING_PROTOCOLS = 31;
export const E_UNSOLICITED_RESPONSE = 32;
export const E_BODILESS_STATUS_FRAMING = 33;

interface ErrorSpec {
  code: string;
  /** Status of the local reply to a bad request (a bad response is always a 502 from the proxy). */
  status: number;
  details: string;
  message: string;
}

const CODEC = 'http1.codec_error';

// Indexed by the ids above.
const SPECS: readonly ErrorSpec[] = [
  { code: 'internal', status: 500, details: CODEC, message: 'no error' },
  { code: 'bare_lf', status: 400, details: CODEC, message: 'LF without a preceding CR' },
  { code: 'bare_cr', status: 400, details: CODEC, message: 'CR not followed by LF' },
  { code: 'invalid_method', status: 400, details: CODEC, message: 'unknown or malformed method' },
  { code: 'invalid_target', status: 400, details: 'http1.invalid_url', message: 'malformed request-target' },
  { code: 'http09', status: 400, details: CODEC, message: 'HTTP/0.9 request line (no version)' },
  { code: 'invalid_version', status: 400, details: CODEC, message: 'malformed HTTP version' },
  { code: 'unsupported_version', status: 505, details: CODEC, message: 'HTTP version other than 1.0 or 1.1' },
  { code: 'invalid_header_name', status: 400, details: CODEC, message: 'invalid character in a header name' },
  { code: 'empty_header_name', status: 400, details: CODEC, message: 'empty header name' },
  { code: 'whitespace_before_colon', status: 400, details: CODEC, message: 'whitespace between header name and colon' },
  { code: 'invalid_header_value', status: 400, details: 'http1.invalid_characters', message: 'control character in a header value' },
  { code: 'obs_fold', status: 400, details: CODEC, message: 'obsolete line folding' },
  { code: 'too_many_headers', status: 431, details: 'http1.too_many_headers', message: 'more header fields than max_headers_count' },
  { code: 'head_too_large', status: 431, details: 'http1.headers_too_large', message: 'message head larger than the limit' },
  { code: 'duplicate_content_length', status: 400, details: CODEC, message: 'more than one Content-Length' },
  { code: 'invalid_content_length', status: 400, details: CODEC, message: 'malformed Content-Length' },
  {
    code: 'content_length_and_chunked', status: 400, details: 'http1.content_length_and_chunked_not_allowed',
    message: 'both Content-Length and Transfer-Encoding',
  },
  {
    code: 'invalid_transfer_encoding', status: 400, details: 'http1.invalid_transfer_encoding',
    message: 'Transfer-Encoding malformed or not ending in chunked',
  },
  {
    code: 'unsupported_transfer_encoding', status: 501, details: 'http1.invalid_transfer_encoding',
    message: 'transfer coding other than chunked',
  },
  {
    code: 'transfer_encoding_http10', status: 400, details: 'http1.invalid_transfer_encoding',
    message: 'Transfer-Encoding in an HTTP/1.0 message',
  },
  { code: 'duplicate_host', status: 400, details: CODEC, message: 'more than one Host header' },
  { code: 'body_not_allowed', status: 400, details: 'http1.body_disallowed', message: 'body framing on a CONNECT or upgrade request' },
  { code: 'invalid_chunk_size', status: 400, details: CODEC, message: 'malformed chunk size' },
  { code: 'invalid_chunk_extension', status: 400, details: CODEC, message: 'malformed chunk extension' },
  { code: 'missing_chunk_crlf', status: 400, details: CODEC, message: 'chunk data not followed by CRLF' },
  { code: 'incomplete_message', status: 400, details: CODEC, message: 'connection closed inside a message' },
  { code: 'invalid_status_line', status: 502, details: CODEC, message: 'malformed status line' },
  {
    code: 'invalid_trailer', status: 400, details: CODEC,
    message: 'framing or routing field (Host, Content-Length, Transfer-Encoding, Connection, Upgrade) in trailers',
  },
  // RFC 9112 §3: a request-line longer than the head limit. Envoy counts the URL in max_request_headers_kb too
  // (and answers 431); the detail stays Envoy's.
  {
    code: 'uri_too_long', status: 414, details: 'http1.headers_too_large',
    message: 'request-line longer than the head limit',
  },
  {
    code: 'connection_header_rejected', status: 400, details: 'http1.connection_header_rejected',
    message: 'Connection names X-Forwarded-For/-Host/-Proto, or lists 10 or more options',
  },
  // Response side only (an upstream is untrusted): a tunnel nobody asked for, and bytes with no request outstanding.
  { code: 'unexpected_switching_protocols', status: 502, details: CODEC, message: '101 Switching Protocols to a request that asked for no upgrade' },
  { code: 'unsolicited_response', status: 502, details: CODEC, message: 'response bytes with no request outstanding' },
  // Envoy's rule (formerly require_strict_1xx_and_204_response_headers): such a response has no body to frame.
  {
    code: 'bodiless_status_framing', status: 502, details: CODEC,
    message: 'Transfer-Encoding or a non-zero Content-Length on a 1xx or 204 response',
  },
];

function build(responseSide: boolean): readonly Http1ParseError[] {
  return Object.freeze(SPECS.map((s) => Object.freeze({
    code: s.code,
    status: responseSide ? 502 : s.status,
    message: s.message,
    details: s.details,
  })));
}

const REQUEST_ERRORS = build(false);
const RESPONSE_ERRORS = build(true);

/** The shared, frozen error for a rejected request (status = the local reply to send). */
export function requestError(id: number): Http1ParseError {
  return REQUEST_ERRORS[id]!;
}

/** The shared, frozen error for a rejected response (status 502: the proxy answers the client with it). */
export function responseError(id: number): Http1ParseError {
  return RESPONSE_ERRORS[id]!;
}

/** Every stable error code, for tests and docs. */
export const HTTP1_ERROR_CODES: readonly string[] = Object.freeze(SPECS.slice(1).map((s) => s.code));
