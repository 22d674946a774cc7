// Any thread (pure). Header conversion between HTTP/2 (flat name/value arrays with pseudo-headers) and the
// proxy's HTTP/1-shaped heads (RequestHead / ResponseHead with a flat HeaderList), both ways, as Envoy's codecs do:
// :authority <-> host, cookies joined for HTTP/1, connection-specific headers never sent on HTTP/2.

import type { RequestHead, ResponseHead } from '../http1/types.ts';
import type { HeaderList } from './stream-info.ts';
import { reasonPhrase } from '../http1/reason-phrases.ts';

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2); `te` is allowed only as "trailers" and handled apart. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/**
 * A downstream HTTP/2 request as a RequestHead: `target` is :path, `host` carries :authority (which wins over a
 * host header), split cookie headers are joined with "; " (RFC 9113 §8.2.3). A body without content-length is
 * reported as chunked (its length is unknown). null when the request cannot be proxied (no :method, no :path
 * outside CONNECT, or a malformed content-length).
 */
export function requestHeadFromHttp2(raw: readonly string[], endStream: boolean): RequestHead | null {
  let method = '';
  let path = '';
  let authority = '';
  let cookie: string | null = null;
  let contentLength = -1;
  const headers: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      // :scheme is the client's; the connection's own scheme is what x-forwarded-proto tells.
      continue;
    }
    if (name === 'cookie') {
      cookie = cookie === null ? value : cookie + '; ' + value;
      continue;
    }
    if (name === 'host') {
      if (authority === '') authority = value;
      continue;
    }
    if (name === 'content-length') {
      if (contentLength >= 0 || !/^[0-9]{1,15}$/.test(value)) return null;
      contentLength = Number(value);
    }
    headers.push(name, value);
  }
  if (method === '' || (path === '' && method !== 'CONNECT')) return null;
  if (authority !== '') headers.unshift('host', authority);
  if (cookie !== null) headers.push('cookie', cookie);
  return {
    method,
    target: path,
    versionMinor: 1,
    headers,
    contentLength: endStream ? (contentLength < 0 ? -1 : contentLength) : contentLength,
    chunked: !endStream && contentLength < 0,
    keepAlive: true,
    upgrade: method === 'CONNECT',
  };
}

/** :status values as strings, made once. */
const STATUS_TEXT: string[] = [];
for (let code = 100; code < 600; code++) STATUS_TEXT[code] = String(code);

/** A response head for HTTP/2: :status first, then every header HTTP/2 allows, in order. */
export function responseHeadersForHttp2(status: number, headers: HeaderList): string[] {
  const out: string[] = [':status', STATUS_TEXT[status] ?? String(status)];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (CONNECTION_SPECIFIC.has(name)) continue;
    if (name === 'te' && headers[i + 1]!.toLowerCase() !== 'trailers') continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/** Trailers for HTTP/2 as flat name/value pairs: pseudo-headers and connection-specific fields dropped; [] for none. */
export function trailerFieldsForHttp2(trailers: HeaderList | null): string[] {
  const out: string[] = [];
  if (trailers === null) return out;
  for (let i = 0; i < trailers.length; i += 2) {
    const name = trailers[i]!;
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 58) continue;
    out.push(name, trailers[i + 1]!);
  }
  return out;
}

/**
 * An upstream HTTP/2 request head from the proxy's request: pseudo-headers from method, path, scheme and the host
 * header (as :authority, and not sent as host), connection-specific headers dropped, te only as "trailers".
 */
export function requestHeadersForHttp2(method: string, path: string, scheme: string, headers: HeaderList): string[] {
  let authority = '';
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'host') {
      authority = headers[i + 1]!;
      break;
    }
  }
  const out: string[] = [':method', method, ':scheme', scheme, ':authority', authority, ':path', path];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name === 'host' || CONNECTION_SPECIFIC.has(name)) continue;
    if (name === 'te' && headers[i + 1]!.toLowerCase() !== 'trailers') continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/**
 * An upstream HTTP/2 response as a ResponseHead: :status, headers in order without pseudo-headers; a body without
 * content-length is "chunked" (unknown length), a head with END_STREAM has none. null when :status is missing or
 * malformed (a protocol error).
 */
export function responseHeadFromHttp2(raw: readonly string[], endStream: boolean): ResponseHead | null {
  let status = -1;
  let contentLength = -1;
  const headers: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58) {
      if (name === ':status' && /^[1-9][0-9]{2}$/.test(value)) status = Number(value);
      continue;
    }
    if (name === 'content-length' && /^[0-9]{1,15}$/.test(value)) contentLength = Number(value);
    headers.push(name, value);
  }
  if (status < 0) return null;
  return {
    statusCode: status,
    reason: reasonPhrase(status),
    versionMinor: 1,
    headers,
    contentLength,
    chunked: !endStream && contentLength < 0,
    keepAlive: true,
    readUntilClose: false,
  };
}
