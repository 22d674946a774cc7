// Test helper (main thread of the test process). Drives Node's own llhttp, through the same internal binding
// node:http uses (`_http_common`'s HTTPParser; process.binding('http_parser') is gone in Node 24), the way
// node:http's server does: lenient flags off (insecureHTTPParser false), node's default max header size, and
// an upgrade or CONNECT answered with 2 from onHeadersComplete (tunnel now, no body), as a server with an
// 'upgrade' listener does. Reports what the server would see: each message's method, target, version, header
// list, body bytes and end offset, or the error. differential.test.ts checks it against a real node:http server.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(buf: Buffer): number | LlhttpError;
  finish(): number | LlhttpError | undefined;
  close(): void;
  [key: number]: unknown;
}
interface LlhttpParserClass {
  new (): LlhttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}
interface LlhttpError extends Error {
  code: string;
  reason: string;
  bytesParsed: number;
}

const { HTTPParser } = require('_http_common') as { HTTPParser: LlhttpParserClass };

/** llhttp's method enum (llhttp.h), which the binding reports by number; node:http maps it the same way. */
const ALL_METHODS: readonly string[] = [
  'DELETE', 'GET', 'HEAD', 'POST', 'PUT', 'CONNECT', 'OPTIONS', 'TRACE', 'COPY', 'LOCK', 'MKCOL', 'MOVE',
  'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND', 'ACL', 'REPORT', 'MKACTIVITY',
  'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PATCH', 'PURGE', 'MKCALENDAR', 'LINK',
  'UNLINK', 'SOURCE', 'PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER',
  'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH', 'QUERY',
];

export interface OracleMessage {
  method: string;
  target: string;
  versionMajor: number;
  versionMinor: number;
  /** Raw [name, value, ...] as llhttp reports them (names in original case). */
  rawHeaders: string[];
  /** Raw trailer fields, [] when none. */
  rawTrailers: string[];
  upgrade: boolean;
  keepAlive: boolean;
  body: Buffer;
  /** Offset just past the message's last byte (for an upgrade: where the tunnel starts). */
  end: number;
}

export interface OracleResult {
  messages: OracleMessage[];
  /** llhttp's error code (e.g. HPE_INVALID_METHOD) when it rejected the input, else ''. */
  error: string;
  errorReason: string;
  /** The last message switched to a tunnel (CONNECT/upgrade). */
  upgraded: boolean;
  /** The input was consumed without error but ended inside a message (finish() would fail). */
  incomplete: boolean;
  /** Heads llhttp completed (node:http emits 'request'/'upgrade'/'connect' for each). */
  heads: number;
}

/**
 * Parses `input` as a stream of requests fed one byte at a time (so each message's end offset is exact).
 * `maxHeaderSize` 0 uses node's default (--max-http-header-size, 16 KiB).
 */
export function llhttpParseRequests(input: Buffer, maxHeaderSize = 0): OracleResult {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, maxHeaderSize, HTTPParser.kLenientNone);
  const messages: OracleMessage[] = [];
  let pendingHeaders: string[] = [];
  let pendingUrl = '';
  let cur: OracleMessage | null = null;
  let bodyParts: Buffer[] = [];
  let offset = 0;
  let completeAt = -1;
  let heads = 0;
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    pendingHeaders = pendingHeaders.concat(headers);
    pendingUrl += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    versionMajor: number, versionMinor: number, headers: string[] | undefined, method: number,
    url: string | undefined, _status: number, _statusMessage: string, upgrade: boolean, keepAlive: boolean,
  ) => {
    // As node:http's parserOnHeadersComplete: a head longer than 32 fields arrives in kOnHeaders pieces.
    const h = headers === undefined ? pendingHeaders : headers;
    const u = url ? url : pendingUrl;
    pendingHeaders = [];
    pendingUrl = '';
    cur = {
      method: ALL_METHODS[method] ?? `#${method}`, target: u, versionMajor, versionMinor, rawHeaders: h,
      rawTrailers: [], upgrade: !!upgrade, keepAlive: !!keepAlive, body: Buffer.alloc(0), end: -1,
    };
    bodyParts = [];
    heads++;
    // node:http's parserOnIncoming: `if (req.upgrade) return 2` (skip the body, switch protocols now).
    return upgrade ? 2 : 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer) => {
    bodyParts.push(Buffer.from(b));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    completeAt = offset;
    // Trailers were flushed through kOnHeaders (node:http's parserOnMessageComplete reads them there).
    if (cur !== null) cur.rawTrailers = pendingHeaders;
    pendingHeaders = [];
    pendingUrl = '';
  };
  const result: OracleResult = { messages, error: '', errorReason: '', upgraded: false, incomplete: false, heads: 0 };
  const one = Buffer.alloc(1);
  try {
    for (offset = 0; offset < input.length; offset++) {
      one[0] = input[offset]!;
      completeAt = -1;
      const r = parser.execute(Buffer.from(one));
      if (completeAt !== -1 && cur !== null) {
        const m: OracleMessage = cur;
        m.body = Buffer.concat(bodyParts);
        m.end = offset + 1;
        messages.push(m);
        cur = null;
        // Past an upgrade the bytes belong to another protocol: node:http hands them to the 'upgrade' listener.
        if (m.upgrade) {
          result.upgraded = true;
          result.heads = heads;
          return result;
        }
      }
      if (typeof r !== 'number') {
        result.error = r.code;
        result.errorReason = r.reason;
        result.heads = heads;
        return result;
      }
    }
    result.heads = heads;
    // A head without its message complete is incomplete even where llhttp's finish() says otherwise (it does
    // for the body of an upgrade request).
    const f = parser.finish();
    if (cur !== null || (f !== undefined && typeof f !== 'number')) result.incomplete = true;
    return result;
  } finally {
    parser.close();
  }
}
