// Any thread (pure). Interned method and header-name strings, matched straight from the input bytes so the common
// ones cost no string allocation and the framing headers can be recognised by identity (===).

/** Methods llhttp and Envoy's Balsa accept; anything else is rejected (400) like they do. */
const METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'ACL', 'BIND', 'CHECKOUT', 'COPY', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL',
  'MOVE', 'NOTIFY', 'PROPFIND', 'PROPPATCH', 'PURGE', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE',
  'SUBSCRIBE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
] as const;

/**
 * Header names common enough in requests and responses to be worth interning (lower-case). The first six are
 * the ones framing depends on; head-parser.ts relies on them having the lowest ids.
 */
const HEADER_NAMES = [
  'host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'proxy-connection', 'keep-alive', 'te',
  'trailer', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'accept-charset', 'accept-ranges',
  'content-type', 'content-encoding', 'content-language', 'content-range', 'content-disposition', 'cache-control',
  'pragma', 'cookie', 'set-cookie', 'authorization', 'proxy-authorization', 'www-authenticate', 'referer',
  'origin', 'expect', 'range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'etag',
  'last-modified', 'expires', 'date', 'server', 'via', 'vary', 'age', 'location', 'forwarded', 'x-forwarded-for',
  'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'x-request-id', 'traceparent',
  'tracestate', 'x-envoy-upstream-service-time', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-original-path',
  'x-envoy-external-address', 'x-envoy-attempt-count', 'access-control-allow-origin', 'strict-transport-security',
  'x-content-type-options', 'x-frame-options', 'sec-websocket-key', 'sec-websocket-version',
  'sec-websocket-protocol', 'sec-websocket-extensions', 'sec-websocket-accept', 'dnt', 'sec-fetch-site',
  'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform',
  'upgrade-insecure-requests', 'priority', 'grpc-timeout', 'grpc-status', 'grpc-message', 'x-b3-traceid',
  'x-b3-spanid', 'x-b3-sampled', 'x-b3-parentspanid', 'alt-svc', 'link', 'retry-after', 'http2-settings',
] as const;

class Candidate {
  readonly bytes: Uint8Array;
  readonly value: string;
  readonly id: number;
  constructor(value: string, id: number) {
    this.bytes = Buffer.from(value, 'latin1');
    this.value = value;
    this.id = id;
  }
}

/** Candidates grouped by length, so a lookup compares only names of the right size. */
function byLength(values: readonly string[]): (Candidate[] | null)[] {
  const table: (Candidate[] | null)[] = [];
  let max = 0;
  for (const v of values) max = Math.max(max, v.length);
  for (let i = 0; i <= max; i++) table.push(null);
  values.forEach((v, id) => {
    const list = table[v.length] ?? [];
    list.push(new Candidate(v, id));
    table[v.length] = list;
  });
  return table;
}

const METHOD_TABLE = byLength(METHODS);
const NAME_TABLE = byLength(HEADER_NAMES);

/** The interned method for buf[start, end) (case-sensitive), or '' when it is not a known method. */
export function matchMethod(buf: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len >= METHOD_TABLE.length) return '';
  const list = METHOD_TABLE[len];
  if (list === null || list === undefined) return '';
  for (let c = 0; c < list.length; c++) {
    const cand = list[c]!;
    const b = cand.bytes;
    let k = 0;
    while (k < len && buf[start + k] === b[k]) k++;
    if (k === len) return cand.value;
  }
  return '';
}

/** Interned header names by id (the ids matchHeaderName returns). */
export const HEADER_NAME_BY_ID: readonly string[] = HEADER_NAMES;

const NAME_IDS = new Map<string, number>(HEADER_NAMES.map((name, id) => [name, id]));

/**
 * The id (index in HEADER_NAME_BY_ID) of the token bytes buf[start, end), matched case-insensitively, or -1
 * when the name is not interned. Callers pass validated token bytes only: then `byte | 0x20` equals a table
 * byte (a-z, 0-9, '-') only for that byte or its upper-case letter.
 */
export function matchHeaderName(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len >= NAME_TABLE.length) return -1;
  const list = NAME_TABLE[len];
  if (list === null || list === undefined) return -1;
  for (let c = 0; c < list.length; c++) {
    const cand = list[c]!;
    const b = cand.bytes;
    let k = 0;
    while (k < len && (buf[start + k]! | 0x20) === b[k]) k++;
    if (k === len) return cand.id;
  }
  return -1;
}

/** Ids of the header names the parsers act on. */
export const ID_HOST = NAME_IDS.get('host')!;
export const ID_CONTENT_LENGTH = NAME_IDS.get('content-length')!;
export const ID_TRANSFER_ENCODING = NAME_IDS.get('transfer-encoding')!;
export const ID_CONNECTION = NAME_IDS.get('connection')!;
export const ID_UPGRADE = NAME_IDS.get('upgrade')!;
/** Obsolete, but llhttp (and http_parser before it) honours it exactly like Connection, so Legate does too. */
export const ID_PROXY_CONNECTION = NAME_IDS.get('proxy-connection')!;
