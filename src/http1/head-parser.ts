// Any thread (pure). Parses a complete message head held in buf[start, end) (end just past the CRLFCRLF that ends
// it): the request or status line, then the fields, validating every byte and summarising the framing headers
// into a HeadState. Strings come from one latin1 decode of the whole head (`str`, which starts at buf offset
// `base`) cut with slice(), which is far cheaper than one Buffer decode per field.
// Functions return the position after what they parsed, or -errorId (errors.ts) on the first violation.

import { AUTHORITY, COLON, CR, FIELD_VALUE, HTAB, LF, SP, TARGET, TOKEN } from './char-tables.ts';
import {
  E_BARE_CR, E_BARE_LF, E_CONNECTION_HEADER, E_DUPLICATE_CONTENT_LENGTH, E_DUPLICATE_HOST, E_EMPTY_HEADER_NAME,
  E_HTTP09, E_INVALID_CONTENT_LENGTH, E_INVALID_HEADER_NAME, E_INVALID_HEADER_VALUE, E_INVALID_METHOD,
  E_INVALID_STATUS_LINE, E_INVALID_TARGET, E_INVALID_TRAILER, E_INVALID_VERSION, E_OBS_FOLD, E_TOO_MANY_HEADERS,
  E_UNSUPPORTED_VERSION, E_WHITESPACE_BEFORE_COLON,
} from './errors.ts';
import {
  CONN_CLOSE, CONN_KEEP_ALIVE, CONN_NOMINATES, CONN_UPGRADE, type HeadState, UPGRADE_H2C, UPGRADE_PRESENT,
} from './head-state.ts';
import type { HeaderList } from '../http/stream-info.ts';
import {
  HEADER_NAME_BY_ID, ID_CONNECTION, ID_CONTENT_LENGTH, ID_HOST, ID_PROXY_CONNECTION, ID_TRANSFER_ENCODING, ID_UPGRADE,
  matchHeaderName, matchMethod,
} from './interned-names.ts';

const LOWER_CHUNKED = Buffer.from('chunked', 'latin1');
const LOWER_CLOSE = Buffer.from('close', 'latin1');
const LOWER_KEEP_ALIVE = Buffer.from('keep-alive', 'latin1');
const LOWER_UPGRADE = Buffer.from('upgrade', 'latin1');
const LOWER_H2C = Buffer.from('h2c', 'latin1');

/** The framing headers have the first ids of the interned table (host .. proxy-connection). */
const LAST_FRAMING_ID = Math.max(
  ID_HOST, ID_CONTENT_LENGTH, ID_TRANSFER_ENCODING, ID_CONNECTION, ID_UPGRADE, ID_PROXY_CONNECTION,
);

/** Content-Length values above this are rejected as overflow (they could not be counted exactly). */
const MAX_CONTENT_LENGTH = Number.MAX_SAFE_INTEGER;

/** request-line = method SP request-target SP HTTP-version CRLF (single spaces, as RFC 9112 §3 asks). */
export function parseRequestLine(h: HeadState, buf: Buffer, start: number, str: string, base: number): number {
  let i = start;
  while (TOKEN[buf[i]!] !== 0) i++;
  if (buf[i] !== SP) return -stopError(buf, i, i === start ? E_INVALID_METHOD : E_INVALID_TARGET, E_INVALID_METHOD);
  const method = matchMethod(buf, start, i);
  if (method === '') return -E_INVALID_METHOD;
  h.method = method;
  const t = ++i;
  while (TARGET[buf[i]!] === 1) i++;
  if (buf[i] !== SP) return -stopError(buf, i, i === t ? E_INVALID_TARGET : E_HTTP09, E_INVALID_TARGET);
  const targetErr = checkTargetForm(buf, t, i, method);
  if (targetErr !== 0) return -targetErr;
  h.target = str.slice(t - base, i - base);
  i++;
  const minor = parseVersion(buf, i);
  if (minor < 0) return minor;
  h.versionMinor = minor;
  i += 8;
  if (buf[i] !== CR || buf[i + 1] !== LF) return -stopError(buf, i, E_INVALID_VERSION, E_INVALID_VERSION);
  return i + 2;
}

/**
 * The error for an unexpected byte at buf[i] in a start line: a bare LF or bare CR first; `atCrlf` when the line
 * ended there (a part is missing); `otherwise` for a stray byte.
 */
function stopError(buf: Buffer, i: number, atCrlf: number, otherwise: number): number {
  const c = buf[i];
  if (c === LF) return E_BARE_LF;
  if (c === CR) return buf[i + 1] === LF ? atCrlf : E_BARE_CR;
  return otherwise;
}

/** status-line = HTTP-version SP 3DIGIT SP [ reason ] CRLF; the SP before an empty reason may be missing. */
export function parseStatusLine(h: HeadState, buf: Buffer, start: number, str: string, base: number): number {
  let i = start;
  const minor = parseVersion(buf, i);
  if (minor < 0) return minor === -E_UNSUPPORTED_VERSION ? minor : -E_INVALID_STATUS_LINE;
  h.versionMinor = minor;
  i += 8;
  if (buf[i] !== SP) return -E_INVALID_STATUS_LINE;
  const d0 = digit(buf[i + 1]);
  const d1 = digit(buf[i + 2]);
  const d2 = digit(buf[i + 3]);
  if (d0 < 1 || d1 < 0 || d2 < 0) return -E_INVALID_STATUS_LINE;
  h.statusCode = d0 * 100 + d1 * 10 + d2;
  i += 4;
  let c = buf[i];
  if (c === SP) {
    const r = ++i;
    while (FIELD_VALUE[buf[i]!] === 1) i++;
    c = buf[i];
    h.reason = i === r ? '' : str.slice(r - base, i - base);
  } else {
    h.reason = '';
  }
  if (c !== CR || buf[i + 1] !== LF) return -stopError(buf, i, E_INVALID_STATUS_LINE, E_INVALID_STATUS_LINE);
  return i + 2;
}

/** "HTTP/" DIGIT "." DIGIT at buf[i]: the minor version (0 or 1), or -error (505 for other well-formed versions). */
function parseVersion(buf: Buffer, i: number): number {
  if (buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f) {
    return -E_INVALID_VERSION;
  }
  const major = digit(buf[i + 5]);
  const minor = digit(buf[i + 7]);
  if (major < 0 || buf[i + 6] !== 0x2e || minor < 0) return -E_INVALID_VERSION;
  if (major !== 1 || minor > 1) return -E_UNSUPPORTED_VERSION;
  return minor;
}

/**
 * RFC 9112 §3.2: CONNECT takes authority-form only; "*" is for OPTIONS only; everything else is origin-form
 * ("/...") or absolute-form ("scheme://authority[/...|?...]"). Returns 0 or an error id. The bytes are already
 * known to be VCHARs.
 */
function checkTargetForm(buf: Buffer, start: number, end: number, method: string): number {
  const first = buf[start]!;
  if (method === 'CONNECT') return isAuthorityForm(buf, start, end) ? 0 : E_INVALID_TARGET;
  if (first === 0x2f) return 0;
  if (first === 0x2a) return end - start === 1 && method === 'OPTIONS' ? 0 : E_INVALID_TARGET;
  // absolute-form. The scheme is letters only (as llhttp); the authority must not be empty (RFC 9110 §4.2.1)
  // and takes only authority bytes (as llhttp's URL server part, minus userinfo's "@"). Past it, a path or a
  // query; a fragment straight after the authority is refused, as llhttp does.
  let i = start;
  while (i < end && isAlpha(buf[i]!)) i++;
  if (i === start || buf[i] !== COLON || buf[i + 1] !== 0x2f || buf[i + 2] !== 0x2f) return E_INVALID_TARGET;
  i += 3;
  const host = i;
  while (i < end && AUTHORITY[buf[i]!] === 1) i++;
  if (i === host) return E_INVALID_TARGET;
  if (i < end && buf[i] !== 0x2f && buf[i] !== 0x3f) return E_INVALID_TARGET;
  return 0;
}

/** authority-form = uri-host ":" port (RFC 9112 §3.2.3): authority bytes, a non-empty host, 1*DIGIT after the last ":". */
function isAuthorityForm(buf: Buffer, start: number, end: number): boolean {
  let colon = -1;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (AUTHORITY[c] === 0) return false;
    if (c === COLON) colon = i;
  }
  if (colon <= start || colon === end - 1) return false;
  for (let i = colon + 1; i < end; i++) if (digit(buf[i]) < 0) return false;
  return true;
}

/** The value of an ASCII digit byte, -1 for anything else (undefined included). */
function digit(c: number | undefined): number {
  return c !== undefined && c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
}

function isAlpha(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

/**
 * Parses field lines from buf[i] up to and including the empty line. With `framing` the framing headers are
 * summarised (a head); without it (a trailer section) they are refused: trailers must not carry what framing
 * or routing depends on (RFC 9110 §6.5.1), and llhttp rejects or acts on some of them there.
 */
export function parseFields(
  h: HeadState, buf: Buffer, i: number, str: string, base: number, maxCount: number, framing: boolean,
  isRequest: boolean,
): number {
  const headers = h.headers;
  for (;;) {
    let c = buf[i]!;
    if (c === CR) {
      if (buf[i + 1] !== LF) return -E_BARE_CR;
      return i + 2;
    }
    const n = i;
    let kind = TOKEN[c]!;
    let upper = 0;
    while (kind !== 0) {
      upper |= kind;
      c = buf[++i]!;
      kind = TOKEN[c]!;
    }
    const nameEnd = i;
    if (c !== COLON) {
      if (i === n) {
        if (c === SP || c === HTAB) return -E_OBS_FOLD;
        if (c === LF) return -E_BARE_LF;
      }
      if (c === SP || c === HTAB) return -E_WHITESPACE_BEFORE_COLON;
      if (c === LF) return -E_BARE_LF;
      return -E_INVALID_HEADER_NAME;
    }
    if (i === n) return -E_EMPTY_HEADER_NAME;
    c = buf[++i]!;
    while (c === SP || c === HTAB) c = buf[++i]!;
    const vs = i;
    while (FIELD_VALUE[c] === 1) c = buf[++i]!;
    if (c !== CR) return c === LF ? -E_BARE_LF : -E_INVALID_HEADER_VALUE;
    if (buf[i + 1] !== LF) return -E_BARE_CR;
    let ve = i;
    while (ve > vs) {
      const last = buf[ve - 1];
      if (last !== SP && last !== HTAB) break;
      ve--;
    }
    i += 2;
    if (++h.fieldCount > maxCount) return -E_TOO_MANY_HEADERS;

    const id = matchHeaderName(buf, n, nameEnd);
    let name: string;
    if (id === -1) {
      name = str.slice(n - base, nameEnd - base);
      if ((upper & 2) !== 0) name = name.toLowerCase();
    } else {
      name = HEADER_NAME_BY_ID[id]!;
      if (id <= LAST_FRAMING_ID) {
        if (!framing) return -E_INVALID_TRAILER;
        const err = noteFramingHeader(h, id, buf, vs, ve, isRequest);
        if (err !== 0) return -err;
      }
    }
    headers.push(name, vs === ve ? '' : str.slice(vs - base, ve - base));
  }
}

/** buf[vs, ve) is the value, OWS trimmed. */
function noteFramingHeader(h: HeadState, id: number, buf: Buffer, vs: number, ve: number, isRequest: boolean): number {
  if (id === ID_CONTENT_LENGTH) {
    if (h.contentLength !== -1) return E_DUPLICATE_CONTENT_LENGTH;
    if (vs === ve) return E_INVALID_CONTENT_LENGTH;
    let n = 0;
    for (let i = vs; i < ve; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) return E_INVALID_CONTENT_LENGTH;
      n = n * 10 + d;
      if (n > MAX_CONTENT_LENGTH) return E_INVALID_CONTENT_LENGTH;
    }
    h.contentLength = n;
  } else if (id === ID_TRANSFER_ENCODING) {
    h.teLines++;
    noteTransferCodings(h, buf, vs, ve);
  } else if (id === ID_CONNECTION || id === ID_PROXY_CONNECTION) {
    noteConnectionTokens(h, buf, vs, ve, id === ID_CONNECTION);
  } else if (id === ID_HOST) {
    if (isRequest && ++h.hostCount > 1) return E_DUPLICATE_HOST;
  } else if (id === ID_UPGRADE) {
    // An empty Upgrade asks for nothing (llhttp ignores it too); any protocol other than a lone h2c wins.
    if (vs !== ve) {
      h.upgrade = h.upgrade !== UPGRADE_PRESENT && equalsLower(buf, vs, ve, LOWER_H2C) ? UPGRADE_H2C : UPGRADE_PRESENT;
    }
  }
  return 0;
}

/**
 * Transfer-Encoding = #transfer-coding (RFC 9110 §5.6.1): elements split on commas with OWS around them; empty
 * elements are ignored (§5.6.1.2: "chunked," and ", chunked" list just chunked). An element that is not a bare
 * token (e.g. "chunked;q=1", "chunk ed", a quoted string) is malformed, and so is a line that lists no coding at
 * all: on this smuggling-sensitive field anything a recipient could read two ways is refused.
 */
function noteTransferCodings(h: HeadState, buf: Buffer, vs: number, ve: number): void {
  let i = vs;
  let listed = 0;
  for (;;) {
    while (i < ve && (buf[i] === SP || buf[i] === HTAB)) i++;
    const s = i;
    while (i < ve && TOKEN[buf[i]!] !== 0) i++;
    const e = i;
    while (i < ve && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (i < ve && buf[i] !== 0x2c) {
      h.teMalformed = true;
      return;
    }
    if (e > s) {
      listed++;
      h.teCodings++;
      const chunked = equalsLower(buf, s, e, LOWER_CHUNKED);
      if (chunked) h.teChunked++;
      h.teLastChunked = chunked;
    }
    if (i >= ve) break;
    i++;
  }
  if (listed === 0) h.teMalformed = true;
}

/**
 * Connection = #connection-option: elements split on commas, OWS trimmed, each compared whole (so "close foo"
 * is not "close", as llhttp reads it); close, keep-alive and upgrade matter here. Any other non-empty element of
 * a Connection field (not Proxy-Connection, which nominates nothing) marks the head CONN_NOMINATES.
 */
function noteConnectionTokens(h: HeadState, buf: Buffer, vs: number, ve: number, nominating: boolean): void {
  let i = vs;
  while (i < ve) {
    while (i < ve && (buf[i] === SP || buf[i] === HTAB)) i++;
    const s = i;
    while (i < ve && buf[i] !== 0x2c) i++;
    let e = i;
    while (e > s && (buf[e - 1] === SP || buf[e - 1] === HTAB)) e--;
    const len = e - s;
    if (len === 5 && equalsLower(buf, s, e, LOWER_CLOSE)) h.connection |= CONN_CLOSE;
    else if (len === 10 && equalsLower(buf, s, e, LOWER_KEEP_ALIVE)) h.connection |= CONN_KEEP_ALIVE;
    else if (len === 7 && equalsLower(buf, s, e, LOWER_UPGRADE)) h.connection |= CONN_UPGRADE;
    else if (len > 0 && nominating) h.connection |= CONN_NOMINATES;
    i++;
  }
}

/** Envoy's limit: a Connection header with this many options (or more) is refused on a request. */
const MAX_CONNECTION_OPTIONS = 10;

/**
 * Options a Connection field may list that name no field to remove here: connection semantics (close,
 * keep-alive, upgrade), fields the proxy drops or rewrites anyway (te keeps only "trailers"; http2-settings), the
 * Connection field itself, and the framing fields, which every hop frames for itself (an option must never strip
 * the Content-Length the proxy forwards with the body it framed).
 */
const NOT_NOMINATED = new Set([
  'close', 'keep-alive', 'upgrade', 'te', 'http2-settings', 'connection', 'content-length', 'transfer-encoding',
]);

/**
 * Fields a client may not nominate (Envoy's sanitizeConnectionHeader): removing them would hide where the request
 * came from from the next hop (https://nathandavison.com/blog/abusing-http-hop-by-hop-request-headers).
 */
const NEVER_NOMINATED = new Set(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

/**
 * RFC 9110 §7.6.1: a proxy removes the fields each Connection field names before forwarding the message. Puts
 * into `out` the (lower-case) names the Connection fields of `headers` nominate; only called for a head marked
 * CONN_NOMINATES. On a request, nominating X-Forwarded-For/-Host/-Proto, or listing MAX_CONNECTION_OPTIONS
 * options or more, is refused as Envoy does: returns an error id, else 0. Options that are not tokens name no
 * field and are skipped. Linear in the size of the head.
 */
export function collectNominatedFields(headers: HeaderList, isRequest: boolean, out: Set<string>): number {
  let options = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'connection') continue;
    const value = headers[i + 1]!;
    let s = 0;
    while (s <= value.length) {
      let e = value.indexOf(',', s);
      if (e === -1) e = value.length;
      const next = e + 1;
      // OWS only (String.trim would also strip obs-text such as NBSP).
      while (s < e && isOws(value.charCodeAt(s))) s++;
      while (e > s && isOws(value.charCodeAt(e - 1))) e--;
      const option = value.slice(s, e).toLowerCase();
      s = next;
      if (option === '') continue;
      if (isRequest && ++options >= MAX_CONNECTION_OPTIONS) return E_CONNECTION_HEADER;
      if (NOT_NOMINATED.has(option) || !isToken(option)) continue;
      if (isRequest && NEVER_NOMINATED.has(option)) return E_CONNECTION_HEADER;
      out.add(option);
    }
  }
  return 0;
}

/** Removes every field whose (lower-case) name is in `names`, in place. */
export function removeFields(headers: HeaderList, names: Set<string>): void {
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    const name = headers[r]!;
    if (names.has(name)) continue;
    if (w !== r) {
      headers[w] = name;
      headers[w + 1] = headers[r + 1]!;
    }
    w += 2;
  }
  headers.length = w;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN[c] === 0) return false;
  }
  return true;
}

/** buf[s, e) equals the lower-case ASCII letters `lower`, ignoring case (letters only in `lower`). */
function equalsLower(buf: Buffer, s: number, e: number, lower: Buffer): boolean {
  const len = lower.length;
  if (e - s !== len) return false;
  for (let k = 0; k < len; k++) if ((buf[s + k]! | 0x20) !== lower[k]) return false;
  return true;
}
