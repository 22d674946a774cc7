// Table-driven tests of Legate's HTTP/1.1 request parser: hostile requests (each must be rejected with its stable
// code and local-reply status, and a rejected head must never be reported), valid requests, keep-alive rules,
// chunking independence (whole, 1-byte, random and every two-piece split), pause/resume, tunnels and finish().

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP1_ERROR_CODES, requestError } from '../../src/http1/errors.ts';
import { RequestParser } from '../../src/http1/request-parser.ts';
import type { Http1ParseError, RequestHead } from '../../src/http1/types.ts';
import { bytewise, cut, DEFAULT_LIMITS, prng, randomCuts, runRequests, type RequestRun } from './harness.ts';

const CRLF = '\r\n';
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const post = (headers: string, body: string): string => `POST /u HTTP/1.1\r\nHost: h\r\n${headers}\r\n${body}`;
const chunked = (body: string): string => post('Transfer-Encoding: chunked\r\n', body);
const get = (headerLines: string): string => `GET / HTTP/1.1\r\n${headerLines}\r\n`;

function manyHeaders(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += `X-H${i}: v${i}\r\n`;
  return s;
}

interface HostileRow {
  name: string;
  raw: string | Buffer;
  code: string;
  status: number;
  /** Heads reported before the error (0: the request never got past its head, so nothing may be forwarded). */
  heads?: number;
  /** Call finish() after the input (the client closed). */
  finish?: boolean;
}

const HOSTILE: HostileRow[] = [
  // Bare LF / bare CR anywhere in the head.
  { name: 'bare LF after the request line', raw: 'GET / HTTP/1.1\nHost: a\r\n\r\n', code: 'bare_lf', status: 400 },
  { name: 'bare LF after a header value', raw: get('Host: a\n'), code: 'bare_lf', status: 400 },
  { name: 'bare LF ends the head', raw: 'GET / HTTP/1.1\r\nHost: a\r\n\n', code: 'bare_lf', status: 400 },
  { name: 'head of bare LFs only', raw: 'GET / HTTP/1.1\nHost: a\n\n', code: 'bare_lf', status: 400 },
  { name: 'bare LF before the request line', raw: '\nGET / HTTP/1.1\r\n\r\n', code: 'bare_lf', status: 400 },
  { name: 'bare LF as an empty header line', raw: 'GET / HTTP/1.1\r\nA: b\r\n\nC: d\r\n\r\n', code: 'bare_lf', status: 400 },
  { name: 'bare CR inside a header value', raw: get('Host: a\rb\r\n'), code: 'bare_cr', status: 400 },
  { name: 'bare CR after the version', raw: 'GET / HTTP/1.1\r\r\n\r\n', code: 'bare_cr', status: 400 },
  { name: 'CR CR LF ending a field', raw: get('A: b\r\r\n'), code: 'bare_cr', status: 400 },
  { name: 'bare CR in place of the empty line', raw: 'GET / HTTP/1.1\r\nA: b\r\n\rX\r\n\r\n', code: 'bare_cr', status: 400 },
  { name: 'bare CR before the request line', raw: '\rGET / HTTP/1.1\r\n\r\n', code: 'bare_cr', status: 400 },

  // NUL and control bytes.
  { name: 'NUL in a header value', raw: get('A: b\x00c\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'SOH in a header value', raw: get('A: \x01\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'ESC in a header value', raw: get('A: x\x1by\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'DEL in a header value', raw: get('A: x\x7f\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'VT in a header value', raw: get('A: x\x0by\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'FF in a header value', raw: get('A: x\x0c\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'NUL in a header name', raw: get('A\x00B: c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'NUL where a header name starts', raw: get('\x00: c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'DEL in a header name', raw: get('A\x7f: c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'obs-text in a header name', raw: get('Caf\xe9: c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'separator "(" in a header name', raw: get('A(b): c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'separator "/" in a header name', raw: get('A/b: c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'separator "{" in a header name', raw: get('A{: c\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'header line without a colon', raw: get('NoColon\r\n'), code: 'invalid_header_name', status: 400 },
  { name: 'empty header name', raw: get(': value\r\n'), code: 'empty_header_name', status: 400 },
  { name: 'NUL in the target', raw: 'GET /a\x00 HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'control byte in the target', raw: 'GET /a\x01b HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'DEL in the target', raw: 'GET /\x7f HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'HTAB in the target', raw: 'GET /a\tb HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'obs-text in the target', raw: 'GET /\xe9 HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },

  // Whitespace before the colon, obs-fold, whitespace in the start line.
  { name: 'SP before the colon', raw: get('Host : a\r\n'), code: 'whitespace_before_colon', status: 400 },
  { name: 'HTAB before the colon', raw: get('Host\t: a\r\n'), code: 'whitespace_before_colon', status: 400 },
  { name: 'SP inside a header name', raw: get('Foo Bar: a\r\n'), code: 'whitespace_before_colon', status: 400 },
  { name: 'SP before the colon of Content-Length', raw: post('Content-Length : 1\r\n', 'x'), code: 'whitespace_before_colon', status: 400 },
  { name: 'SP before the colon of Transfer-Encoding', raw: post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'), code: 'whitespace_before_colon', status: 400 },
  { name: 'obs-fold continuation line', raw: get('A: b\r\n c\r\n'), code: 'obs_fold', status: 400 },
  { name: 'obs-fold with HTAB', raw: get('A: b\r\n\tc\r\n'), code: 'obs_fold', status: 400 },
  { name: 'whitespace before the first header', raw: get(' Host: a\r\n'), code: 'obs_fold', status: 400 },
  { name: 'obs-fold hiding Transfer-Encoding', raw: post('X: y\r\n Transfer-Encoding: chunked\r\n', '0\r\n\r\n'), code: 'obs_fold', status: 400 },
  { name: 'two spaces after the method', raw: 'GET  / HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'two spaces before the version', raw: 'GET /  HTTP/1.1\r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'space inside the target', raw: 'GET /a b HTTP/1.1\r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'SP after the version', raw: 'GET / HTTP/1.1 \r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'leading SP before the method', raw: ' GET / HTTP/1.1\r\n\r\n', code: 'invalid_method', status: 400 },
  { name: 'HTAB after the method', raw: 'GET\t/ HTTP/1.1\r\n\r\n', code: 'invalid_method', status: 400 },

  // Methods.
  { name: 'lower-case method', raw: 'get / HTTP/1.1\r\n\r\n', code: 'invalid_method', status: 400 },
  { name: 'unknown method token', raw: 'FOO / HTTP/1.1\r\n\r\n', code: 'invalid_method', status: 400 },
  { name: 'method with a separator', raw: 'G@T / HTTP/1.1\r\n\r\n', code: 'invalid_method', status: 400 },
  { name: 'RTSP-only method', raw: 'DESCRIBE / HTTP/1.1\r\n\r\n', code: 'invalid_method', status: 400 },
  { name: 'HTTP/2 preface', raw: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', code: 'invalid_method', status: 400 },
  { name: 'method only', raw: 'GET\r\n\r\n', code: 'invalid_target', status: 400 },

  // Targets: forms (RFC 9112 §3.2).
  { name: 'asterisk-form on GET', raw: 'GET * HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'asterisk-form on M-SEARCH', raw: 'M-SEARCH * HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'asterisk with a suffix on OPTIONS', raw: 'OPTIONS *x HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'relative target', raw: 'GET a/b HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with an empty host', raw: 'GET http:// HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with an empty host and a path', raw: 'GET http:///x HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with userinfo', raw: 'GET http://user@h/ HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with a digit in the scheme', raw: 'GET h2://h/ HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with one slash', raw: 'GET http:/h/ HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with "{" in the host', raw: 'GET http://a{b/ HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'absolute-form with a fragment after the host', raw: 'GET http://h#f HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'authority-form on GET', raw: 'GET h:80 HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with origin-form', raw: 'CONNECT /a HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT without a port', raw: 'CONNECT h HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with an empty port', raw: 'CONNECT h: HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with a non-numeric port', raw: 'CONNECT h:https HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with an empty host', raw: 'CONNECT :443 HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with a path', raw: 'CONNECT h:443/x HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with absolute-form', raw: 'CONNECT http://h:443/ HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with userinfo', raw: 'CONNECT u@h:443 HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT with asterisk', raw: 'CONNECT * HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },
  { name: 'CONNECT to a bracketed IPv6 without port', raw: 'CONNECT [::1] HTTP/1.1\r\n\r\n', code: 'invalid_target', status: 400 },

  // Versions.
  { name: 'HTTP/0.9 request line', raw: 'GET /\r\n\r\n', code: 'http09', status: 400 },
  { name: 'HTTP/0.9 request line, nothing after', raw: 'GET /index.html\r\n\r\n', code: 'http09', status: 400 },
  { name: 'HTTP/1.2', raw: 'GET / HTTP/1.2\r\n\r\n', code: 'unsupported_version', status: 505 },
  { name: 'HTTP/2.0', raw: 'GET / HTTP/2.0\r\n\r\n', code: 'unsupported_version', status: 505 },
  { name: 'HTTP/3.0', raw: 'GET / HTTP/3.0\r\n\r\n', code: 'unsupported_version', status: 505 },
  { name: 'HTTP/0.9 spelled as a version', raw: 'GET / HTTP/0.9\r\n\r\n', code: 'unsupported_version', status: 505 },
  { name: 'two-digit minor version', raw: 'GET / HTTP/1.10\r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'version without minor', raw: 'GET / HTTP/1\r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'lower-case protocol', raw: 'GET / http/1.1\r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'RTSP protocol', raw: 'GET / RTSP/1.0\r\n\r\n', code: 'invalid_version', status: 400 },
  { name: 'version with letters', raw: 'GET / HTTP/x.y\r\n\r\n', code: 'invalid_version', status: 400 },

  // Content-Length.
  { name: 'duplicate Content-Length, same value', raw: post('Content-Length: 3\r\nContent-Length: 3\r\n', 'abc'), code: 'duplicate_content_length', status: 400 },
  { name: 'duplicate Content-Length, different values', raw: post('Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'), code: 'duplicate_content_length', status: 400 },
  { name: 'duplicate Content-Length, mixed case', raw: post('content-length: 3\r\nCONTENT-LENGTH: 3\r\n', 'abc'), code: 'duplicate_content_length', status: 400 },
  { name: 'Content-Length list "5, 5"', raw: post('Content-Length: 5, 5\r\n', 'abcde'), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length list "5,6"', raw: post('Content-Length: 5,6\r\n', 'abcde'), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length with a leading "+"', raw: post('Content-Length: +5\r\n', 'abcde'), code: 'invalid_content_length', status: 400 },
  { name: 'negative Content-Length', raw: post('Content-Length: -1\r\n', ''), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length with an inner space', raw: post('Content-Length: 1 2\r\n', 'abcdefghijkl'), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length in hex', raw: post('Content-Length: 0x5\r\n', 'abcde'), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length with a suffix', raw: post('Content-Length: 5a\r\n', 'abcde'), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length with a decimal point', raw: post('Content-Length: 5.0\r\n', 'abcde'), code: 'invalid_content_length', status: 400 },
  { name: 'empty Content-Length', raw: post('Content-Length: \r\n', ''), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length overflow', raw: post('Content-Length: 99999999999999999999\r\n', ''), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length above 2^53', raw: post('Content-Length: 9007199254740993\r\n', ''), code: 'invalid_content_length', status: 400 },
  { name: 'Content-Length with obs-text digit', raw: post('Content-Length: 1\xb2\r\n', ''), code: 'invalid_content_length', status: 400 },

  // Content-Length with Transfer-Encoding (smuggling).
  { name: 'CL then TE', raw: post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), code: 'content_length_and_chunked', status: 400 },
  { name: 'TE then CL', raw: post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', '0\r\n\r\n'), code: 'content_length_and_chunked', status: 400 },
  { name: 'CL 0 with TE', raw: post('Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), code: 'content_length_and_chunked', status: 400 },
  { name: 'CL with TE gzip', raw: post('Content-Length: 3\r\nTransfer-Encoding: gzip\r\n', 'abc'), code: 'content_length_and_chunked', status: 400 },

  // Transfer-Encoding: obfuscated, not chunked last, unsupported, HTTP/1.0.
  { name: 'TE chunked then gzip (chunked not last)', raw: post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE gzip only', raw: post('Transfer-Encoding: gzip\r\n', 'abc'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE identity', raw: post('Transfer-Encoding: identity\r\n', 'abc'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked twice in one line', raw: post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked on two lines', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked then a second TE line', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE of commas only', raw: post('Transfer-Encoding: ,\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE of empty elements only', raw: post('Transfer-Encoding: , \t,\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked, then an empty TE line', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked twice around an empty element', raw: post('Transfer-Encoding: chunked, , chunked\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked, empty element, gzip', raw: post('Transfer-Encoding: chunked,,gzip\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked HTAB gzip (no comma)', raw: post('Transfer-Encoding: chunked\tgzip\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked with a trailing ";"', raw: post('Transfer-Encoding: chunked;\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE xchunked', raw: post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunkedx', raw: post('Transfer-Encoding: chunkedx\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked with parameters', raw: post('Transfer-Encoding: chunked;q=1\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE quoted chunked', raw: post('Transfer-Encoding: "chunked"\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE split word', raw: post('Transfer-Encoding: chunk ed\r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'empty TE', raw: post('Transfer-Encoding: \r\n', '0\r\n\r\n'), code: 'invalid_transfer_encoding', status: 400 },
  { name: 'TE chunked with VT', raw: post('Transfer-Encoding: chunked\x0b\r\n', '0\r\n\r\n'), code: 'invalid_header_value', status: 400 },
  { name: 'TE gzip, chunked (unsupported coding)', raw: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), code: 'unsupported_transfer_encoding', status: 501 },
  { name: 'TE gzip and chunked on two lines', raw: post('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), code: 'unsupported_transfer_encoding', status: 501 },
  { name: 'TE gzip, empty element, chunked', raw: post('Transfer-Encoding: gzip,,chunked,\r\n', '0\r\n\r\n'), code: 'unsupported_transfer_encoding', status: 501 },
  { name: 'TE chunked in HTTP/1.0', raw: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', code: 'transfer_encoding_http10', status: 400 },
  { name: 'TE gzip in HTTP/1.0', raw: 'POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n', code: 'transfer_encoding_http10', status: 400 },

  // Host.
  { name: 'two Host headers', raw: get('Host: a\r\nHost: b\r\n'), code: 'duplicate_host', status: 400 },
  { name: 'two identical Host headers, different case', raw: get('Host: a\r\nhost: a\r\n'), code: 'duplicate_host', status: 400 },
  { name: 'two Host headers, one empty', raw: get('Host: a\r\nHost:\r\n'), code: 'duplicate_host', status: 400 },

  // Connection options (RFC 9110 §7.6.1; Envoy's sanitizeConnectionHeader refuses these on a request).
  { name: 'Connection nominating X-Forwarded-For', raw: get('Host: h\r\nConnection: close, X-Forwarded-For\r\nX-Forwarded-For: 10.0.0.1\r\n'), code: 'connection_header_rejected', status: 400 },
  { name: 'Connection nominating x-forwarded-host', raw: get('Host: h\r\nConnection: x-forwarded-host\r\n'), code: 'connection_header_rejected', status: 400 },
  { name: 'Connection nominating X-FORWARDED-PROTO on a second line', raw: get('Host: h\r\nConnection: keep-alive\r\nConnection: X-FORWARDED-PROTO\r\n'), code: 'connection_header_rejected', status: 400 },
  { name: 'ten Connection options', raw: get(`Host: h\r\nConnection: ${Array.from({ length: 10 }, (_, i) => `x-${i}`).join(', ')}\r\n`), code: 'connection_header_rejected', status: 400 },
  { name: 'ten Connection options over two lines', raw: get('Host: h\r\nConnection: close, a, b, c, d\r\nConnection: e, f, g, h, i\r\n'), code: 'connection_header_rejected', status: 400 },

  // Bodies a tunnel cannot have.
  { name: 'CONNECT with Content-Length', raw: 'CONNECT h:443 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab', code: 'body_not_allowed', status: 400 },
  { name: 'CONNECT with chunked', raw: 'CONNECT h:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', code: 'body_not_allowed', status: 400 },
  { name: 'upgrade with Content-Length', raw: get('Connection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n') + 'ab', code: 'body_not_allowed', status: 400 },
  { name: 'upgrade with chunked', raw: get('Connection: upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n', code: 'body_not_allowed', status: 400 },

  // Limits.
  { name: '101 header fields (max_headers_count 100)', raw: get(manyHeaders(101)), code: 'too_many_headers', status: 431 },
  { name: '1000 header fields', raw: get(manyHeaders(1000)), code: 'too_many_headers', status: 431 },
  { name: 'head over max_request_headers_kb', raw: get(`X: ${'a'.repeat(61 * 1024)}\r\n`), code: 'head_too_large', status: 431 },
  { name: 'request line over the limit', raw: `GET /${'a'.repeat(61 * 1024)} HTTP/1.1\r\n\r\n`, code: 'uri_too_long', status: 414 },
  { name: '70,000-byte request-target', raw: `GET /${'a'.repeat(69_999)} HTTP/1.1\r\nHost: h\r\n\r\n`, code: 'uri_too_long', status: 414 },
  { name: 'absolute-form target over the limit', raw: `GET http://h/${'a'.repeat(61 * 1024)} HTTP/1.1\r\n\r\n`, code: 'uri_too_long', status: 414 },
  { name: 'request line under the limit, head over it', raw: `GET /${'a'.repeat(40 * 1024)} HTTP/1.1\r\nX: ${'b'.repeat(30 * 1024)}\r\n\r\n`, code: 'head_too_large', status: 431 },
  { name: 'endless head without an empty line', raw: `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(12 * 1024)}`, code: 'head_too_large', status: 431 },
  { name: '101 trailer fields', raw: chunked(`0\r\n${manyHeaders(101)}\r\n`), code: 'too_many_headers', status: 431, heads: 1 },
  { name: 'trailers over the head limit', raw: chunked(`0\r\nX: ${'a'.repeat(61 * 1024)}\r\n\r\n`), code: 'head_too_large', status: 431, heads: 1 },

  // Chunk sizes.
  { name: 'chunk size not hex', raw: chunked('x\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'chunk size with 0x prefix', raw: chunked('0x3\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'negative chunk size', raw: chunked('-3\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'chunk size with a hex junk suffix', raw: chunked('3g\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'empty chunk size line', raw: chunked('\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'SP before the chunk size', raw: chunked(' 3\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'SP after the chunk size', raw: chunked('3 \r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'HTAB after the chunk size', raw: chunked('3\t\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'SP then junk after the chunk size', raw: chunked('3 x\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'SP then a second size', raw: chunked('3 4\r\nabcd\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'chunk size overflow (2^64)', raw: chunked('10000000000000000\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'chunk size overflow (17 f)', raw: chunked('fffffffffffffffff\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'chunk size over 2^53', raw: chunked('20000000000001\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'bare LF after the chunk size', raw: chunked('3\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'CR without LF after the chunk size', raw: chunked('3\rabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'bare LF after the last chunk size', raw: chunked('0\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },

  // Chunk data framing.
  { name: 'chunk data longer than its size', raw: chunked('3\r\nabcd\r\n0\r\n\r\n'), code: 'missing_chunk_crlf', status: 400, heads: 1 },
  { name: 'bare LF after chunk data', raw: chunked('3\r\nabc\n0\r\n\r\n'), code: 'missing_chunk_crlf', status: 400, heads: 1 },
  { name: 'CR without LF after chunk data', raw: chunked('3\r\nabc\rX0\r\n\r\n'), code: 'missing_chunk_crlf', status: 400, heads: 1 },
  { name: 'no CRLF after chunk data, next size straight away', raw: chunked('3\r\nabc0\r\n\r\n'), code: 'missing_chunk_crlf', status: 400, heads: 1 },

  // Chunk extensions (RFC 9112 §7.1.1: BWS only around ";" and "=", token or quoted-string values).
  { name: 'chunk extension without a name', raw: chunked('3;\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: BWS and no name', raw: chunked('3 ; \r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: BWS before the CRLF', raw: chunked('3;a \r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: BWS after a value, before the CRLF', raw: chunked('3;a=b\t\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: BWS after a quoted value, before the CRLF', raw: chunked('3;a="b" \r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: two names with SP between', raw: chunked('3;a b\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: BWS and no value', raw: chunked('3;a = \r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: a value then a token without ";"', raw: chunked('3;a=b c\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension: VT as whitespace', raw: chunked('3\x0b;a\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_size', status: 400, heads: 1 },
  { name: 'chunk extension: endless BWS', raw: chunked(`3${' '.repeat(61 * 1024)};a\r\nabc\r\n0\r\n\r\n`), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension with an empty value', raw: chunked('3;a=\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension with two "="', raw: chunked('3;a=b=c\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'chunk extension with an empty name', raw: chunked('3;=b\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'two ";" in a row', raw: chunked('3;;a\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'junk after a quoted value', raw: chunked('3;a="b"c\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'control byte in a quoted value', raw: chunked('3;a="\x01"\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'unterminated quoted value', raw: chunked('3;a="b\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'quoted-pair escaping a control byte', raw: chunked('3;a="\\\x01"\r\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'bare LF ending a chunk extension', raw: chunked('3;a\nabc\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', status: 400, heads: 1 },
  { name: 'endless chunk extension', raw: chunked(`3;a=${'b'.repeat(61 * 1024)}\r\nabc\r\n0\r\n\r\n`), code: 'invalid_chunk_extension', status: 400, heads: 1 },

  // Trailers.
  { name: 'trailer with SP before the colon', raw: chunked('0\r\nA : b\r\n\r\n'), code: 'whitespace_before_colon', status: 400, heads: 1 },
  { name: 'trailer ending in bare LF', raw: chunked('0\r\nA: b\n\r\n'), code: 'bare_lf', status: 400, heads: 1 },
  { name: 'trailer section ending in bare LF', raw: chunked('0\r\nA: b\r\n\n'), code: 'bare_lf', status: 400, heads: 1 },
  { name: 'empty trailer section as bare LF', raw: chunked('0\r\n\n'), code: 'bare_lf', status: 400, heads: 1 },
  { name: 'trailer with NUL', raw: chunked('0\r\nA: \x00\r\n\r\n'), code: 'invalid_header_value', status: 400, heads: 1 },
  { name: 'trailer obs-fold', raw: chunked('0\r\nA: b\r\n c\r\n\r\n'), code: 'obs_fold', status: 400, heads: 1 },
  { name: 'trailer without colon', raw: chunked('0\r\nA\r\n\r\n'), code: 'invalid_header_name', status: 400, heads: 1 },
  { name: 'Content-Length in trailers', raw: chunked('0\r\nContent-Length: 5\r\n\r\n'), code: 'invalid_trailer', status: 400, heads: 1 },
  { name: 'Transfer-Encoding in trailers', raw: chunked('0\r\nTransfer-Encoding: chunked\r\n\r\n'), code: 'invalid_trailer', status: 400, heads: 1 },
  { name: 'Host in trailers', raw: chunked('0\r\nHost: other\r\n\r\n'), code: 'invalid_trailer', status: 400, heads: 1 },
  { name: 'Connection in trailers', raw: chunked('0\r\nConnection: close\r\n\r\n'), code: 'invalid_trailer', status: 400, heads: 1 },
  { name: 'Upgrade in trailers', raw: chunked('0\r\nUpgrade: websocket\r\n\r\n'), code: 'invalid_trailer', status: 400, heads: 1 },

  // The client closed inside a message.
  { name: 'finish() inside the request line', raw: 'GET / HT', code: 'incomplete_message', status: 400, finish: true },
  { name: 'finish() inside the head', raw: 'GET / HTTP/1.1\r\nHost: a\r\n', code: 'incomplete_message', status: 400, finish: true },
  { name: 'finish() before the last CRLF', raw: 'GET / HTTP/1.1\r\nHost: a\r\n\r', code: 'incomplete_message', status: 400, finish: true },
  { name: 'finish() inside a Content-Length body', raw: post('Content-Length: 5\r\n', 'ab'), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() right after a head with a body due', raw: post('Content-Length: 5\r\n', ''), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() inside a chunk', raw: chunked('5\r\nab'), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() inside a chunk size', raw: chunked('5'), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() before the last chunk', raw: chunked('1\r\na\r\n'), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() inside trailers', raw: chunked('0\r\nA: b\r\n'), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() before the empty trailer line', raw: chunked('0\r\n'), code: 'incomplete_message', status: 400, heads: 1, finish: true },
  { name: 'finish() inside a second pipelined request', raw: 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n', code: 'incomplete_message', status: 400, heads: 1, finish: true },
];

interface ExpectedRequest {
  method?: string;
  target?: string;
  versionMinor?: number;
  headers?: string[];
  contentLength?: number;
  chunked?: boolean;
  keepAlive?: boolean;
  upgrade?: boolean;
  body?: string;
  trailers?: string[] | null;
  complete?: boolean;
  /** Offset just past the message (bytewise run). */
  end?: number;
}

interface ValidRow {
  name: string;
  raw: string;
  messages: ExpectedRequest[];
  finish?: boolean;
}

const PIPELINE = 'GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n' +
  'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello' +
  'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n' +
  '\r\nDELETE /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';

const VALID: ValidRow[] = [
  {
    name: 'GET with a query',
    raw: 'GET /search?q=a%20b&x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n',
    messages: [{
      method: 'GET', target: '/search?q=a%20b&x=1', versionMinor: 1,
      headers: ['host', 'example.com', 'user-agent', 't/1'], contentLength: -1, chunked: false, keepAlive: true,
      upgrade: false, body: '', trailers: null, complete: true, end: 72,
    }],
  },
  {
    name: 'header names lower-cased, values trimmed, interned and custom names',
    raw: get('HOST: a\r\nX-Custom-Thing:  v  1 \t\r\nx-lower:v\r\nEmpty:\r\nObs: caf\xe9\r\nSym!#$%&\'*+-.^_`|~: y\r\n'),
    messages: [{
      headers: ['host', 'a', 'x-custom-thing', 'v  1', 'x-lower', 'v', 'empty', '', 'obs', 'caf\xe9', "sym!#$%&'*+-.^_`|~", 'y'],
    }],
  },
  {
    name: 'POST with Content-Length',
    raw: post('Content-Length: 11\r\n', 'hello world'),
    messages: [{ method: 'POST', contentLength: 11, chunked: false, body: 'hello world', complete: true }],
  },
  {
    name: 'Content-Length with OWS and leading zeros',
    raw: post('Content-Length: \t 003 \t\r\n', 'abc'),
    messages: [{ contentLength: 3, body: 'abc' }],
  },
  {
    name: 'Content-Length 0',
    raw: post('Content-Length: 0\r\n', ''),
    messages: [{ contentLength: 0, body: '', complete: true }],
  },
  {
    name: 'chunked with extensions and trailers',
    raw: chunked('5;a=b;c="d \\"e\\""\r\nhello\r\n1;x\r\n \r\n6\r\nworld!\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n'),
    messages: [{
      chunked: true, contentLength: -1, body: 'hello world!', trailers: ['x-checksum', 'abc', 'x-other', '1'], complete: true,
    }],
  },
  {
    name: 'chunked without trailers, upper-case hex, leading zeros',
    raw: chunked('0000A\r\n0123456789\r\n00\r\n\r\n'),
    messages: [{ chunked: true, body: '0123456789', trailers: null }],
  },
  {
    name: 'chunked spelled in capitals with OWS',
    raw: post('Transfer-Encoding:  \tCHUNKED  \r\n', '1\r\nx\r\n0\r\n\r\n'),
    messages: [{ chunked: true, body: 'x' }],
  },
  {
    name: 'chunk extension with an obs-text quoted value',
    raw: chunked('1;n="\xe9\\\xe9"\r\nx\r\n0\r\n\r\n'),
    messages: [{ body: 'x' }],
  },
  // RFC 9110 §5.6.1.2: empty list elements are ignored; OWS (SP or HTAB) may follow the last element.
  {
    name: 'TE "chunked," (trailing comma)',
    raw: post('Transfer-Encoding: chunked,\r\n', '1\r\nx\r\n0\r\n\r\n'),
    messages: [{ chunked: true, body: 'x', complete: true }],
  },
  {
    name: 'TE ", chunked" (leading comma)',
    raw: post('Transfer-Encoding: , chunked\r\n', '1\r\nx\r\n0\r\n\r\n'),
    messages: [{ chunked: true, body: 'x', complete: true }],
  },
  {
    name: 'TE chunked then HTAB',
    raw: post('Transfer-Encoding: chunked\t\r\n', '1\r\nx\r\n0\r\n\r\n'),
    messages: [{ chunked: true, body: 'x', headers: ['host', 'h', 'transfer-encoding', 'chunked'] }],
  },
  {
    name: 'TE " ,, chunked \t, " with empty elements around',
    raw: post('Transfer-Encoding:  ,, chunked \t, \r\n', '1\r\nx\r\n0\r\n\r\n'),
    messages: [{ chunked: true, body: 'x' }],
  },
  // RFC 9112 §7.1.1: BWS before ";", after it and around "=".
  {
    name: 'chunk extensions with BWS',
    raw: chunked('5 ;a=b\r\nhello\r\n1\t;a\r\n \r\n3 \t; n = v ;\tq = "x" ; m\r\nabc\r\n0 ;last\r\n\r\n'),
    messages: [{ chunked: true, body: 'hello abc', trailers: null, complete: true }],
  },
  // RFC 9110 §7.6.1: fields named by Connection are for this hop only.
  {
    name: 'a field named by Connection is removed',
    raw: get('Host: h\r\nConnection: X-Secret\r\nX-Secret: 1\r\nX-Other: 2\r\n'),
    messages: [{ headers: ['host', 'h', 'connection', 'X-Secret', 'x-other', '2'], keepAlive: true }],
  },
  {
    name: 'Connection options: lists, case, several lines; close, te, keep-alive and the framing stay',
    raw: post('Connection: keep-alive, X-A,close\r\nconnection: x-b , TE, Content-Length, keep-alive\r\nX-A: 1\r\nx-b: 2\r\n' +
      'X-B: 3\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n', 'x'),
    messages: [{
      headers: ['host', 'h', 'connection', 'keep-alive, X-A,close', 'connection', 'x-b , TE, Content-Length, keep-alive',
        'te', 'trailers', 'keep-alive', 'timeout=5', 'content-length', '1'],
      contentLength: 1, body: 'x', keepAlive: false,
    }],
  },
  {
    name: 'nine Connection options are fine; options that are not tokens name nothing',
    raw: get('Host: h\r\nConnection: a, b, c, d, e, f, g, "h", i j\r\nA: 1\r\nI: 2\r\n'),
    messages: [{ headers: ['host', 'h', 'connection', 'a, b, c, d, e, f, g, "h", i j', 'i', '2'] }],
  },
  {
    name: 'a nominated field is removed from the trailers too',
    raw: post('Connection: X-T\r\nTransfer-Encoding: chunked\r\n', '0\r\nX-T: 1\r\nX-U: 2\r\n\r\n'),
    messages: [{ trailers: ['x-u', '2'], complete: true }],
  },
  {
    name: 'Proxy-Connection nominates nothing',
    raw: get('Host: h\r\nProxy-Connection: X-A\r\nX-A: 1\r\n'),
    messages: [{ headers: ['host', 'h', 'proxy-connection', 'X-A', 'x-a', '1'] }],
  },
  {
    name: 'absolute-form target',
    raw: 'GET http://example.com:8080/p?q#f HTTP/1.1\r\nHost: example.com:8080\r\n\r\n',
    messages: [{ target: 'http://example.com:8080/p?q#f' }],
  },
  {
    name: 'absolute-form with an IPv6 host and a query only',
    raw: 'GET https://[::1]:443?x HTTP/1.1\r\nHost: [::1]:443\r\n\r\n',
    messages: [{ target: 'https://[::1]:443?x' }],
  },
  {
    name: 'origin-form with every VCHAR class',
    raw: 'GET /a/../b;p=1?q="<>{}|\\^`[]#frag?#? HTTP/1.1\r\n\r\n',
    messages: [{ target: '/a/../b;p=1?q="<>{}|\\^`[]#frag?#?' }],
  },
  {
    name: 'OPTIONS *',
    raw: 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
    messages: [{ method: 'OPTIONS', target: '*', complete: true }],
  },
  {
    name: 'extension methods',
    raw: 'M-SEARCH /x HTTP/1.1\r\n\r\nPROPFIND /y HTTP/1.1\r\n\r\nQUERY /z HTTP/1.1\r\nContent-Length: 1\r\n\r\nq',
    messages: [{ method: 'M-SEARCH' }, { method: 'PROPFIND' }, { method: 'QUERY', body: 'q' }],
  },
  {
    name: 'leading empty lines are skipped',
    raw: '\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    messages: [{ method: 'GET', end: 22 }],
  },
  {
    name: 'Expect: 100-continue: the head comes before the body',
    raw: post('Expect: 100-continue\r\nContent-Length: 4\r\n', 'data'),
    messages: [{ headers: ['host', 'h', 'expect', '100-continue', 'content-length', '4'], body: 'data' }],
  },
  {
    name: '100 header fields (the limit)',
    raw: get(manyHeaders(100)),
    messages: [{ complete: true }],
  },
  {
    name: 'pipelined GET, POST, chunked PUT, DELETE with close',
    raw: PIPELINE,
    messages: [
      { method: 'GET', target: '/a?x=1', body: '', end: 32 },
      { method: 'POST', body: 'hello', end: 85 },
      { method: 'PUT', body: 'abcde', trailers: ['x-t', '1'], end: 175 },
      { method: 'DELETE', keepAlive: false, end: 227 },
    ],
  },
  // Keep-alive rules.
  {
    name: 'HTTP/1.0 closes by default; later bytes are ignored',
    raw: 'GET / HTTP/1.0\r\n\r\nGET /never HTTP/1.1\r\n\r\n',
    messages: [{ versionMinor: 0, keepAlive: false, end: 18 }],
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    raw: 'GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n',
    messages: [{ target: '/1', keepAlive: true }, { target: '/2', keepAlive: false }],
  },
  {
    name: 'HTTP/1.0 with keep-alive and close: close wins',
    raw: 'GET /1 HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\nGET /2 HTTP/1.0\r\n\r\n',
    messages: [{ target: '/1', keepAlive: false }],
  },
  {
    name: 'HTTP/1.1 keeps alive by default',
    raw: 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n',
    messages: [{ target: '/1', keepAlive: true }, { target: '/2', keepAlive: true }],
  },
  {
    name: 'HTTP/1.1 with a close token among others',
    raw: 'GET /1 HTTP/1.1\r\nConnection: foo, CLOSE ,bar\r\n\r\nGET /2 HTTP/1.1\r\n\r\n',
    messages: [{ target: '/1', keepAlive: false }],
  },
  {
    name: 'HTTP/1.1 close on a second Connection line',
    raw: 'GET /1 HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n',
    messages: [{ target: '/1', keepAlive: false }],
  },
  {
    name: 'Proxy-Connection: close closes (as llhttp)',
    raw: 'GET /1 HTTP/1.1\r\nProxy-Connection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n',
    messages: [{ target: '/1', keepAlive: false }],
  },
  {
    name: '"close foo" is one element, not a close token (as llhttp)',
    raw: 'GET /1 HTTP/1.1\r\nConnection: close foo\r\n\r\nGET /2 HTTP/1.1\r\n\r\n',
    messages: [{ target: '/1', keepAlive: true }, { target: '/2' }],
  },
  {
    name: 'a closed connection ignores a pipelined body and garbage',
    raw: post('Content-Length: 1\r\nConnection: close\r\n', 'xGARBAGE\x00\r\n\r\n'),
    messages: [{ body: 'x', keepAlive: false }],
  },
  // Tunnels.
  {
    name: 'CONNECT opens a tunnel: later bytes are raw body',
    raw: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01GET / HTTP/1.1\r\n\r\n',
    messages: [{ method: 'CONNECT', target: 'example.com:443', upgrade: true, body: '\x16\x03\x01GET / HTTP/1.1\r\n\r\n', complete: true, end: 59 }],
    finish: true,
  },
  {
    name: 'CONNECT to an IPv6 literal with Content-Length 0',
    raw: 'CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nContent-Length: 0\r\n\r\n',
    messages: [{ target: '[2001:db8::1]:8443', upgrade: true, body: '', complete: false }],
  },
  {
    name: 'WebSocket upgrade opens a tunnel',
    raw: get('Host: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n') + '\x81\x05hello',
    messages: [{ upgrade: true, body: '\x81\x05hello', complete: true }],
    finish: true,
  },
  {
    name: 'Upgrade: h2c is not a tunnel (as Envoy)',
    raw: get('Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n') + 'GET /next HTTP/1.1\r\n\r\n',
    messages: [{ upgrade: false, complete: true }, { target: '/next' }],
  },
  {
    name: 'Upgrade without Connection: upgrade is not a tunnel',
    raw: get('Upgrade: websocket\r\n') + 'GET /next HTTP/1.1\r\n\r\n',
    messages: [{ upgrade: false }, { target: '/next' }],
  },
  {
    name: 'an empty Upgrade is not a tunnel',
    raw: get('Connection: upgrade\r\nUpgrade:\r\n') + 'GET /next HTTP/1.1\r\n\r\n',
    messages: [{ upgrade: false }, { target: '/next' }],
  },
  {
    name: 'a clean close between requests is not an error',
    raw: 'GET / HTTP/1.1\r\n\r\n\r\n\r',
    messages: [{ complete: true }],
    finish: true,
  },
];

function check(run: RequestRun, row: ValidRow): void {
  assert.equal(run.error, null, `unexpected error ${run.error?.code}`);
  assert.equal(run.messages.length, row.messages.length, run.log.join('\n'));
  row.messages.forEach((want, i) => {
    const got = run.messages[i]!;
    const h = got.head;
    const actual: Record<string, unknown> = {
      method: h.method, target: h.target, versionMinor: h.versionMinor, headers: h.headers,
      contentLength: h.contentLength, chunked: h.chunked, keepAlive: h.keepAlive, upgrade: h.upgrade,
      body: got.body.toString('latin1'), trailers: got.trailers, complete: got.complete, end: got.end,
    };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(actual[k], v, `message ${i} ${k}`);
  });
}

/** The same record whatever the chunking: whole, 1-byte, several random cuts. */
function assertChunkingIndependent(raw: Buffer, finish: boolean, seed: number): RequestRun {
  const whole = runRequests([raw], finish);
  const one = runRequests(bytewise(raw), finish);
  assert.deepEqual(one.log, whole.log, '1-byte chunks differ from one chunk');
  const rnd = prng(seed);
  for (let k = 0; k < 4; k++) {
    const pieces = randomCuts(raw, rnd, 2 + Math.floor(rnd() * 6));
    assert.deepEqual(runRequests(pieces, finish).log, whole.log, `random cut (seed ${seed}, try ${k}) differs`);
  }
  return one;
}

describe('RequestParser: hostile requests', () => {
  HOSTILE.forEach((row, n) => {
    it(`${row.name} -> ${row.code} ${row.status}`, () => {
      const raw = typeof row.raw === 'string' ? b(row.raw) : row.raw;
      const run = assertChunkingIndependent(raw, row.finish === true, 1000 + n);
      assert.ok(run.error !== null, `accepted: ${run.log.join(' | ')}`);
      assert.equal(run.error.code, row.code, run.log.join(' | '));
      assert.equal(run.error.status, row.status);
      assert.equal(run.messages.length, row.heads ?? 0, 'heads reported before the error');
      if ((row.heads ?? 0) === 0) assert.ok(!run.log.some((l) => l.startsWith('head')), 'a rejected head was reported');
    });
  });

  it('covers every request-side error code', () => {
    const seen = new Set(HOSTILE.map((r) => r.code));
    // Response-only codes (a malformed status line, an unasked 101, ...) answer the client 502 on either side.
    const missing = HTTP1_ERROR_CODES.filter((c, i) => requestError(i + 1).status !== 502 && !seen.has(c));
    assert.deepEqual(missing, []);
  });

  it('error objects are the shared frozen ones, with Envoy details', () => {
    const run = runRequests([b('GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n')]);
    assert.ok(run.error !== null);
    assert.ok(Object.isFrozen(run.error));
    assert.equal(run.error.details, 'http1.content_length_and_chunked_not_allowed');
    assert.equal(run.error, requestError(17));
  });

  it('takes no input after an error', () => {
    const errors: Http1ParseError[] = [];
    let heads = 0;
    const p = new RequestParser(DEFAULT_LIMITS, {
      onRequestHead() { heads++; },
      onRequestBody() { throw new Error('body'); },
      onRequestComplete() { throw new Error('complete'); },
      onRequestError(e) { errors.push(e); },
    });
    p.execute(b('GET / HTTP/1.1\r\nA\x00: b\r\n\r\n'));
    p.execute(b('GET / HTTP/1.1\r\n\r\n'));
    p.finish();
    assert.equal(heads, 0);
    assert.deepEqual(errors.map((e) => e.code), ['invalid_header_name']);
  });
});

describe('RequestParser: valid requests', () => {
  VALID.forEach((row, n) => {
    it(row.name, () => {
      const run = assertChunkingIndependent(b(row.raw), row.finish === true, 2000 + n);
      check(run, row);
    });
  });

  it('interns common names and methods (same string identity as the tables)', () => {
    const run = runRequests([b('GET / HTTP/1.1\r\nHost: a\r\nContent-Type: x\r\n\r\n')]);
    assert.equal(run.messages[0]!.head.method, 'GET');
    assert.deepEqual(run.messages[0]!.head.headers, ['host', 'a', 'content-type', 'x']);
  });

  it('a pipeline split at every byte boundary gives the same callbacks', () => {
    const raw = b(PIPELINE);
    const whole = runRequests([raw]);
    assert.equal(whole.messages.length, 4);
    for (let i = 1; i < raw.length; i++) {
      assert.deepEqual(runRequests(cut(raw, [i])).log, whole.log, `split at ${i}`);
    }
    for (let i = 1; i < raw.length; i += 7) {
      for (let j = i + 1; j < raw.length; j += 11) {
        assert.deepEqual(runRequests(cut(raw, [i, j])).log, whole.log, `split at ${i}, ${j}`);
      }
    }
  });

  it('every hostile row split at every byte boundary gives the same record', () => {
    for (const row of HOSTILE) {
      const raw = typeof row.raw === 'string' ? b(row.raw) : row.raw;
      if (raw.length > 400) continue;
      const whole = runRequests([raw], row.finish === true);
      for (let i = 1; i < raw.length; i++) {
        assert.deepEqual(runRequests(cut(raw, [i]), row.finish === true).log, whole.log, `${row.name}: split at ${i}`);
      }
    }
  });

  it('body chunks are views into the input, not copies', () => {
    const raw = b(post('Content-Length: 5\r\n', 'hello'));
    let view: Buffer | null = null;
    const p = new RequestParser(DEFAULT_LIMITS, {
      onRequestHead() {},
      onRequestBody(c) { view = c; },
      onRequestComplete() {},
      onRequestError(e) { throw new Error(e.code); },
    });
    p.execute(raw);
    assert.ok(view !== null);
    assert.equal((view as Buffer).buffer, raw.buffer);
  });
});

/** Records callbacks with hooks so a test can pause/resume/execute from inside them. */
function recorder(hooks: { head?: (p: RequestParser, h: RequestHead) => void; body?: (p: RequestParser) => void; complete?: (p: RequestParser) => void } = {}) {
  const log: string[] = [];
  const parser: RequestParser = new RequestParser(DEFAULT_LIMITS, {
    onRequestHead(h) { log.push(`head ${h.target}`); hooks.head?.(parser, h); },
    onRequestBody(c) { log.push(`body ${c.toString('latin1')}`); hooks.body?.(parser); },
    onRequestComplete(t) { log.push(`complete${t === null ? '' : ' ' + t.join(',')}`); hooks.complete?.(parser); },
    onRequestError(e) { log.push(`error ${e.code}`); },
  });
  return { parser, log };
}

describe('RequestParser: pause() and resume()', () => {
  const TWO = b('POST /1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n\r\n');

  it('pause in onRequestHead holds the body and the next request until resume', () => {
    const { parser, log } = recorder({ head: (p) => p.pause() });
    parser.execute(TWO);
    assert.deepEqual(log, ['head /1']);
    assert.equal(parser.isPaused(), true);
    parser.resume();
    assert.deepEqual(log, ['head /1', 'body abc', 'complete', 'head /2']);
    parser.resume();
    assert.deepEqual(log, ['head /1', 'body abc', 'complete', 'head /2', 'complete']);
    assert.equal(parser.isPaused(), false);
  });

  it('pause in onRequestBody stops after that chunk', () => {
    const { parser, log } = recorder({ body: (p) => p.pause() });
    parser.execute(b('POST /1 HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc'));
    parser.execute(b('def'));
    assert.deepEqual(log, ['head /1', 'body abc']);
    parser.resume();
    assert.deepEqual(log, ['head /1', 'body abc', 'body def'], 'paused again by the second chunk');
    parser.resume();
    assert.deepEqual(log, ['head /1', 'body abc', 'body def', 'complete']);
  });

  it('pause in onRequestComplete holds pipelined requests', () => {
    const { parser, log } = recorder({ complete: (p) => p.pause() });
    parser.execute(b('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n'));
    assert.deepEqual(log, ['head /1', 'complete']);
    parser.execute(b('GET /4 HTTP/1.1\r\n\r\n'));
    assert.deepEqual(log, ['head /1', 'complete'], 'execute while paused only keeps the bytes');
    parser.resume();
    parser.resume();
    parser.resume();
    assert.deepEqual(log, ['head /1', 'complete', 'head /2', 'complete', 'head /3', 'complete', 'head /4', 'complete']);
  });

  it('pause then resume inside the same callback does not stop', () => {
    const { parser, log } = recorder({ head: (p) => { p.pause(); p.resume(); } });
    parser.execute(TWO);
    assert.deepEqual(log, ['head /1', 'body abc', 'complete', 'head /2', 'complete']);
    assert.equal(parser.isPaused(), false);
  });

  it('pause from outside a callback keeps later input', () => {
    const { parser, log } = recorder();
    parser.pause();
    parser.execute(TWO);
    assert.deepEqual(log, []);
    parser.resume();
    assert.deepEqual(log, ['head /1', 'body abc', 'complete', 'head /2', 'complete']);
  });

  it('finish() while paused is applied after the kept bytes', () => {
    const { parser, log } = recorder({ head: (p) => p.pause() });
    parser.execute(b('POST /1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nab'));
    parser.finish();
    assert.deepEqual(log, ['head /1']);
    parser.resume();
    assert.deepEqual(log, ['head /1', 'body ab', 'error incomplete_message']);
  });

  it('finish() while paused after a complete request is clean', () => {
    const { parser, log } = recorder({ head: (p) => p.pause() });
    parser.execute(b('GET /1 HTTP/1.1\r\n\r\n'));
    parser.finish();
    parser.resume();
    assert.deepEqual(log, ['head /1', 'complete']);
  });

  it('execute() from inside a callback is queued after the current input', () => {
    let once = true;
    const { parser, log } = recorder({
      head: (p) => {
        if (once) {
          once = false;
          p.execute(b('GET /3 HTTP/1.1\r\n\r\n'));
        }
      },
    });
    parser.execute(b('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'));
    assert.deepEqual(log, ['head /1', 'complete', 'head /2', 'complete', 'head /3', 'complete']);
  });

  it('reset() inside a callback forgets the rest of the input', () => {
    const { parser, log } = recorder({ head: (p) => p.reset() });
    parser.execute(TWO);
    assert.deepEqual(log, ['head /1']);
    parser.execute(b('GET /again HTTP/1.1\r\n\r\n'));
    assert.deepEqual(log, ['head /1', 'head /again']);
  });

  it('an error while paused bytes are replayed is reported once', () => {
    const { parser, log } = recorder({ head: (p) => p.pause() });
    parser.execute(b('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nBad Name: x\r\n\r\n'));
    parser.resume();
    parser.resume();
    assert.deepEqual(log, ['head /1', 'complete', 'error whitespace_before_colon']);
  });
});

describe('RequestParser: tunnels and finish()', () => {
  it('upgrade: bytes after the head are body, raw, until finish()', () => {
    const { parser, log } = recorder();
    parser.execute(b('GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nframe1'));
    parser.execute(b('GET / HTTP/1.1\r\n\r\n'));
    assert.deepEqual(log, ['head /ws', 'body frame1', 'body GET / HTTP/1.1\r\n\r\n']);
    parser.finish();
    assert.deepEqual(log.slice(3), ['complete']);
    parser.execute(b('more'));
    parser.finish();
    assert.equal(log.length, 4, 'nothing after the tunnel closed');
  });

  it('CONNECT: a tunnel with no bytes completes on finish()', () => {
    const { parser, log } = recorder();
    parser.execute(b('CONNECT h:443 HTTP/1.1\r\n\r\n'));
    parser.finish();
    assert.deepEqual(log, ['head h:443', 'complete']);
  });

  it('finish() with nothing received is clean', () => {
    const { parser, log } = recorder();
    parser.finish();
    assert.deepEqual(log, []);
  });

  it('finish() after a Connection: close request is clean', () => {
    const { parser, log } = recorder();
    parser.execute(b('GET /1 HTTP/1.1\r\nConnection: close\r\n\r\nGET /2 HTT'));
    parser.finish();
    assert.deepEqual(log, ['head /1', 'complete']);
  });

  it('reset() makes a parser reusable for a new connection', () => {
    const { parser, log } = recorder();
    parser.execute(b('GET /1 HTTP/1.1\r\nBad\x00: x\r\n\r\n'));
    parser.reset();
    parser.execute(b('GET /2 HTTP/1.1\r\n\r\n'));
    assert.deepEqual(log, ['error invalid_header_name', 'head /2', 'complete']);
  });
});
