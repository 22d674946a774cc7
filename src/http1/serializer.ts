// Any thread (pure). Builds HTTP/1.1 heads and chunked-encoding framing as latin1 strings for socket.write(s,
// 'latin1'). Measured on this machine (bench/micro/http1-serialize.ts): concatenating a string is ~4x cheaper
// than filling a Buffer with latin1Write, and writes through a socket no slower, since Node encodes a latin1
// string straight into the write request.
// Names and values are written as given: they come from the parser (already validated) or from config checked
// with field-syntax.ts, so nothing is re-validated here on the hot path.

import type { HeaderList } from '../http/stream-info.ts';
import { reasonPhrase } from './reason-phrases.ts';

/** "HTTP/1.1 <code> <standard reason>\r\n" for every code with a standard phrase, indexed by code. */
const STATUS_LINES_11: readonly string[] = Object.freeze(
  Array.from({ length: 600 }, (_, code) => (reasonPhrase(code) === '' ? '' : `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\n`)),
);

export const CRLF = '\r\n';
/** Ends a chunked body that has no trailers. */
export const LAST_CHUNK = '0\r\n\r\n';

/** request-line and fields: "<method> <path> HTTP/1.<minor>\r\n" + "name: value\r\n"... + "\r\n". */
export function serializeRequestHead(method: string, path: string, headers: HeaderList, versionMinor = 1): string {
  let s = method + ' ' + path + (versionMinor === 0 ? ' HTTP/1.0\r\n' : ' HTTP/1.1\r\n');
  for (let i = 0; i < headers.length; i += 2) s += headers[i]! + ': ' + headers[i + 1]! + '\r\n';
  return s + '\r\n';
}

/** status-line and fields. An empty `reason` gives "HTTP/1.1 200 \r\n" (valid; RFC 9112 §4). */
export function serializeResponseHead(versionMinor: number, statusCode: number, reason: string, headers: HeaderList): string {
  let s: string;
  if (versionMinor === 1 && statusCode >= 100 && statusCode < 600 && STATUS_LINES_11[statusCode] !== '' &&
    reasonPhrase(statusCode) === reason) {
    s = STATUS_LINES_11[statusCode]!;
  } else {
    s = (versionMinor === 0 ? 'HTTP/1.0 ' : 'HTTP/1.1 ') + statusCode + ' ' + reason + '\r\n';
  }
  for (let i = 0; i < headers.length; i += 2) s += headers[i]! + ': ' + headers[i + 1]! + '\r\n';
  return s + '\r\n';
}

/** The line before a chunk of `length` (> 0) bytes: hex size + CRLF. The chunk itself is followed by CRLF. */
export function chunkHeader(length: number): string {
  return length.toString(16) + '\r\n';
}

/** The last chunk, with trailer fields when there are any, and the final CRLF. */
export function serializeLastChunk(trailers: HeaderList | null): string {
  if (trailers === null || trailers.length === 0) return LAST_CHUNK;
  let s = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) s += trailers[i]! + ': ' + trailers[i + 1]! + '\r\n';
  return s + '\r\n';
}
