// Table-driven tests of Legate's HTTP/1.1 response parser (the upstream side): bodiless responses (HEAD, 1xx,
// 204, 304), interim heads before the final one, 101 and CONNECT tunnels, read-until-close, and malformed
// responses, each reported exactly once through onResponseError as a 502, in any chunking.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseParser } from '../../src/http1/response-parser.ts';
import { bytewise, cut, DEFAULT_LIMITS, prng, randomCuts, runResponses, type ResponseRun } from './harness.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ok = (headers: string, body = ''): string => `HTTP/1.1 200 OK\r\n${headers}\r\n${body}`;
const chunkedOk = (body: string): string => ok('Transfer-Encoding: chunked\r\n', body);

function manyHeaders(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += `X-H${i}: v${i}\r\n`;
  return s;
}

interface HostileRow {
  name: string;
  raw: string;
  code: string;
  /** Request methods, one per response (default one GET). */
  methods?: string[];
  heads?: number;
  finish?: boolean;
}

const HOSTILE: HostileRow[] = [
  // Status lines.
  { name: 'two-digit status', raw: 'HTTP/1.1 20 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'four-digit status', raw: 'HTTP/1.1 2000 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'status below 100', raw: 'HTTP/1.1 099 X\r\n\r\n', code: 'invalid_status_line' },
  { name: 'letters for a status', raw: 'HTTP/1.1 abc OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'two spaces before the status', raw: 'HTTP/1.1  200 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'no space before the status', raw: 'HTTP/1.1200 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'version only', raw: 'HTTP/1.1\r\n\r\n', code: 'invalid_status_line' },
  { name: 'lower-case protocol', raw: 'http/1.1 200 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'ICY status line', raw: 'ICY 200 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'leading space', raw: ' HTTP/1.1 200 OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'control byte in the reason', raw: 'HTTP/1.1 200 O\x01K\r\n\r\n', code: 'invalid_status_line' },
  { name: 'NUL in the reason', raw: 'HTTP/1.1 200 OK\x00\r\n\r\n', code: 'invalid_status_line' },
  { name: 'junk right after the status', raw: 'HTTP/1.1 200OK\r\n\r\n', code: 'invalid_status_line' },
  { name: 'bare LF after the status line', raw: 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', code: 'bare_lf' },
  { name: 'bare CR in the status line', raw: 'HTTP/1.1 200 OK\rX\r\n\r\n', code: 'bare_cr' },
  { name: 'HTTP/2.0 status line', raw: 'HTTP/2.0 200 OK\r\n\r\n', code: 'unsupported_version' },
  { name: 'HTTP/1.2 status line', raw: 'HTTP/1.2 200 OK\r\n\r\n', code: 'unsupported_version' },
  { name: 'HTML instead of a response', raw: '<html>\r\n\r\n', code: 'invalid_status_line' },

  // Header fields.
  { name: 'bare LF after a field', raw: ok('Content-Length: 0\n'), code: 'bare_lf' },
  { name: 'NUL in a value', raw: ok('X: a\x00b\r\n'), code: 'invalid_header_value' },
  { name: 'whitespace before the colon', raw: ok('Content-Length : 0\r\n'), code: 'whitespace_before_colon' },
  { name: 'obs-fold', raw: ok('X: a\r\n b\r\n'), code: 'obs_fold' },
  { name: 'invalid name byte', raw: ok('X[1]: a\r\n'), code: 'invalid_header_name' },
  { name: '101 fields', raw: ok(manyHeaders(101)), code: 'too_many_headers' },
  { name: 'head over the limit', raw: ok(`X: ${'a'.repeat(61 * 1024)}\r\n`), code: 'head_too_large' },

  // Framing.
  { name: 'Content-Length and Transfer-Encoding', raw: ok('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), code: 'content_length_and_chunked' },
  { name: 'Transfer-Encoding and Content-Length', raw: ok('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'), code: 'content_length_and_chunked' },
  { name: 'duplicate Content-Length', raw: ok('Content-Length: 1\r\nContent-Length: 1\r\n', 'x'), code: 'duplicate_content_length' },
  { name: 'Content-Length list', raw: ok('Content-Length: 1, 1\r\n', 'x'), code: 'invalid_content_length' },
  { name: 'Content-Length with "+"', raw: ok('Content-Length: +1\r\n', 'x'), code: 'invalid_content_length' },
  { name: 'Transfer-Encoding not ending in chunked', raw: ok('Transfer-Encoding: chunked, gzip\r\n', 'x'), code: 'invalid_transfer_encoding' },
  { name: 'Transfer-Encoding gzip only', raw: ok('Transfer-Encoding: gzip\r\n', 'x'), code: 'invalid_transfer_encoding' },
  { name: 'Transfer-Encoding gzip, chunked', raw: ok('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), code: 'unsupported_transfer_encoding' },
  { name: 'Transfer-Encoding in HTTP/1.0', raw: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', code: 'transfer_encoding_http10' },
  { name: 'framing errors on a HEAD response too', raw: ok('Content-Length: 1\r\nContent-Length: 2\r\n'), code: 'duplicate_content_length', methods: ['HEAD'] },
  { name: 'framing errors on a 1xx too', raw: 'HTTP/1.1 100 Continue\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', code: 'content_length_and_chunked' },

  // Chunks.
  { name: 'bad chunk size', raw: chunkedOk('zz\r\n'), code: 'invalid_chunk_size', heads: 1 },
  { name: 'chunk size overflow', raw: chunkedOk('fffffffffffffffffff\r\n'), code: 'invalid_chunk_size', heads: 1 },
  { name: 'space after the chunk size', raw: chunkedOk('1 \r\nx\r\n0\r\n\r\n'), code: 'invalid_chunk_size', heads: 1 },
  { name: 'chunk data too long', raw: chunkedOk('1\r\nxy\r\n0\r\n\r\n'), code: 'missing_chunk_crlf', heads: 1 },
  { name: 'bare LF after chunk data', raw: chunkedOk('1\r\nx\n0\r\n\r\n'), code: 'missing_chunk_crlf', heads: 1 },
  { name: 'bad chunk extension', raw: chunkedOk('1;a b\r\nx\r\n0\r\n\r\n'), code: 'invalid_chunk_extension', heads: 1 },
  { name: 'bad trailer', raw: chunkedOk('0\r\nX : y\r\n\r\n'), code: 'whitespace_before_colon', heads: 1 },
  { name: 'Content-Length trailer', raw: chunkedOk('0\r\nContent-Length: 1\r\n\r\n'), code: 'invalid_trailer', heads: 1 },

  // The upstream closed inside a response.
  { name: 'closed inside the status line', raw: 'HTTP/1.1 20', code: 'incomplete_message', finish: true },
  { name: 'closed inside the head', raw: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n', code: 'incomplete_message', finish: true },
  { name: 'closed inside a Content-Length body', raw: ok('Content-Length: 5\r\n', 'abc'), code: 'incomplete_message', heads: 1, finish: true },
  { name: 'closed inside a chunked body', raw: chunkedOk('5\r\nabc'), code: 'incomplete_message', heads: 1, finish: true },
  { name: 'closed before the last chunk', raw: chunkedOk('1\r\nx\r\n'), code: 'incomplete_message', heads: 1, finish: true },
  { name: 'closed after a 100 Continue', raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200', code: 'incomplete_message', heads: 1, finish: true },

  // An untrusted upstream: a tunnel nobody asked for, and responses to requests never sent.
  { name: '101 to a request that asked for no upgrade', raw: 'HTTP/1.1 101 Switching Protocols\r\n\r\n', code: 'unexpected_switching_protocols' },
  { name: '101 to a plain GET, then close', raw: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00', code: 'unexpected_switching_protocols', finish: true },
  { name: '101 to a POST after a 100', raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n', code: 'unexpected_switching_protocols', methods: ['POST'], heads: 1 },
  { name: '101 to a CONNECT', raw: 'HTTP/1.1 101 Switching Protocols\r\n\r\n', code: 'unexpected_switching_protocols', methods: ['CONNECT'] },
  { name: 'a second response with no request outstanding', raw: ok('Content-Length: 0\r\n') + ok('Content-Length: 0\r\n'), code: 'unsolicited_response', heads: 1 },
  {
    name: 'a 304 whose body looks like the next response',
    raw: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 38\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON',
    code: 'unsolicited_response', heads: 1,
  },
  // Envoy's strict 1xx/204 rule: no body framing where no body can be.
  {
    name: 'a 204 with a Content-Length body',
    raw: 'HTTP/1.1 204 No Content\r\nContent-Length: 38\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON',
    code: 'bodiless_status_framing',
  },
  { name: 'a 204 with Transfer-Encoding', raw: 'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', code: 'bodiless_status_framing' },
  { name: 'a 100 with Content-Length', raw: 'HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n', code: 'bodiless_status_framing', methods: ['POST'] },
  { name: 'a 103 with Transfer-Encoding', raw: 'HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n', code: 'bodiless_status_framing' },
  { name: 'a 101 with Content-Length', raw: 'HTTP/1.1 101 Switching Protocols\r\nContent-Length: 3\r\n\r\nabc', code: 'bodiless_status_framing', methods: ['UPGRADE'] },
  { name: 'a HEAD response followed by its "body"', raw: ok('Content-Length: 3\r\n', 'abc'), code: 'unsolicited_response', methods: ['HEAD'], heads: 1 },
];

interface ExpectedResponse {
  statusCode?: number;
  reason?: string;
  versionMinor?: number;
  headers?: string[];
  contentLength?: number;
  chunked?: boolean;
  keepAlive?: boolean;
  readUntilClose?: boolean;
  body?: string;
  trailers?: string[] | null;
  complete?: boolean;
}

interface ValidRow {
  name: string;
  raw: string;
  methods?: string[];
  messages: ExpectedResponse[];
  finish?: boolean;
}

const VALID: ValidRow[] = [
  {
    name: '200 with Content-Length',
    raw: ok('Content-Type: text/plain\r\nContent-Length: 5\r\n', 'hello'),
    messages: [{
      statusCode: 200, reason: 'OK', versionMinor: 1, headers: ['content-type', 'text/plain', 'content-length', '5'],
      contentLength: 5, chunked: false, keepAlive: true, readUntilClose: false, body: 'hello', trailers: null, complete: true,
    }],
  },
  {
    name: 'chunked with trailers',
    raw: chunkedOk('3\r\nabc\r\n3;x=y\r\ndef\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message: ok\r\n\r\n'),
    messages: [{ chunked: true, body: 'abcdef', trailers: ['grpc-status', '0', 'grpc-message', 'ok'], complete: true }],
  },
  {
    name: 'HEAD response: Content-Length but no body, then the next response',
    raw: ok('Content-Length: 1234\r\n') + 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi',
    methods: ['HEAD', 'GET'],
    messages: [{ contentLength: 1234, body: '', complete: true }, { body: 'hi', complete: true }],
  },
  {
    name: 'HEAD response with chunked: no body',
    raw: ok('Transfer-Encoding: chunked\r\n') + 'HTTP/1.1 204 No Content\r\n\r\n',
    methods: ['HEAD', 'GET'],
    messages: [{ chunked: true, body: '', complete: true }, { statusCode: 204, complete: true }],
  },
  {
    name: 'HEAD response without length is not read until close',
    raw: ok('') + 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx',
    methods: ['HEAD', 'GET'],
    messages: [{ readUntilClose: false, keepAlive: true, complete: true }, { body: 'x' }],
  },
  {
    name: '204 and 304 have no body (a 204 may say Content-Length: 0; a 304 any length)',
    raw: 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz',
    methods: ['GET', 'GET', 'GET'],
    messages: [{ statusCode: 204, body: '' }, { statusCode: 304, body: '' }, { statusCode: 200, body: 'z' }],
  },
  {
    name: '100 Continue then the final head',
    raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    methods: ['POST'],
    messages: [{ statusCode: 100, reason: 'Continue', complete: false, body: '' }, { statusCode: 201, body: 'ok', complete: true }],
  },
  {
    name: '102 and 103 interims then a HEAD final head (expectations kept across interims)',
    raw: 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n',
    methods: ['HEAD'],
    messages: [{ statusCode: 102, complete: false }, { statusCode: 103, headers: ['link', '</a.css>; rel=preload'], complete: false }, { statusCode: 200, body: '', complete: true }],
  },
  {
    name: '101 Switching Protocols to an upgrade request opens a tunnel',
    raw: 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hiHTTP/1.1 200 OK\r\n\r\n',
    methods: ['UPGRADE'],
    messages: [{ statusCode: 101, keepAlive: false, body: '\x81\x02hiHTTP/1.1 200 OK\r\n\r\n', complete: true }],
    finish: true,
  },
  {
    name: 'an upgrade declined (200, keep-alive) is an ordinary response',
    raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    methods: ['UPGRADE', 'GET'],
    messages: [{ statusCode: 100 }, { statusCode: 200, keepAlive: true, body: 'no', complete: true }, { statusCode: 200, complete: true }],
  },
  {
    name: 'empty lines after a response are tolerated',
    raw: ok('Content-Length: 1\r\n', 'x') + '\r\n\r\n\n',
    messages: [{ body: 'x', complete: true }],
  },
  {
    name: 'CONNECT 200 opens a tunnel, even with Content-Length',
    raw: 'HTTP/1.1 200 Connection Established\r\nContent-Length: 5\r\n\r\n\x16\x03\x03tls-bytes',
    methods: ['CONNECT'],
    messages: [{ statusCode: 200, body: '\x16\x03\x03tls-bytes', complete: true }],
    finish: true,
  },
  {
    name: 'CONNECT refused (407) is an ordinary response',
    raw: 'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\ndenyHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    methods: ['CONNECT', 'GET'],
    messages: [{ statusCode: 407, body: 'deny', complete: true }, { statusCode: 200, complete: true }],
  },
  {
    name: 'no length: read until close',
    raw: ok('Content-Type: text/html\r\n', '<html>all of it\r\n\r\nHTTP/1.1 200 OK\r\n'),
    messages: [{ readUntilClose: true, keepAlive: false, contentLength: -1, body: '<html>all of it\r\n\r\nHTTP/1.1 200 OK\r\n', complete: true }],
    finish: true,
  },
  {
    name: 'read until close with nothing after the head',
    raw: 'HTTP/1.0 200 OK\r\n\r\n',
    messages: [{ versionMinor: 0, readUntilClose: true, body: '', complete: true }],
    finish: true,
  },
  {
    name: 'HTTP/1.0 with Content-Length closes',
    raw: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 200 OK\r\n\r\n',
    messages: [{ versionMinor: 0, keepAlive: false, body: 'x', complete: true }],
  },
  {
    name: 'HTTP/1.0 with keep-alive keeps the connection',
    raw: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 204 No Content\r\n\r\n',
    methods: ['GET', 'GET'],
    messages: [{ keepAlive: true, body: 'x' }, { statusCode: 204, keepAlive: false }],
  },
  {
    name: 'Connection: close ends the connection; later bytes ignored',
    raw: ok('Connection: close\r\nContent-Length: 1\r\n', 'yHTTP/1.1 200 OK\r\n\r\n'),
    methods: ['GET', 'GET'],
    messages: [{ keepAlive: false, body: 'y', complete: true }],
  },
  {
    name: 'status lines without a reason, with an empty one, with obs-text and HTAB',
    raw: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 \r\nContent-Length: 0\r\n\r\nHTTP/1.1 500 Erreur\tinterne \xe9\r\nContent-Length: 0\r\n\r\n',
    methods: ['GET', 'GET', 'GET'],
    messages: [{ statusCode: 200, reason: '' }, { statusCode: 404, reason: '' }, { statusCode: 500, reason: 'Erreur\tinterne \xe9' }],
  },
  {
    name: 'status 599 and 999 are accepted (unknown classes are the proxy’s business)',
    raw: 'HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\nHTTP/1.1 999 Y\r\nContent-Length: 0\r\n\r\n',
    methods: ['GET', 'GET'],
    messages: [{ statusCode: 599 }, { statusCode: 999 }],
  },
  {
    name: 'fields named by Connection are removed from the head and trailers; Content-Length stays (RFC 9110 §7.6.1)',
    raw: ok('Connection: X-Internal, Content-Length\r\nX-Internal: 1\r\nContent-Length: 1\r\nX-Kept: 2\r\n', 'x') +
      ok('connection: x-t\r\nTransfer-Encoding: chunked,\r\n', '1 ;e=1\r\ny\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n'),
    methods: ['GET', 'GET'],
    messages: [
      { headers: ['connection', 'X-Internal, Content-Length', 'content-length', '1', 'x-kept', '2'], contentLength: 1, body: 'x' },
      { chunked: true, body: 'y', trailers: ['x-u', '2'], complete: true },
    ],
  },
];

function check(run: ResponseRun, row: ValidRow): void {
  assert.equal(run.error, null, `unexpected error ${run.error?.code}: ${run.log.join(' | ')}`);
  assert.equal(run.messages.length, row.messages.length, run.log.join('\n'));
  row.messages.forEach((want, i) => {
    const got = run.messages[i]!;
    const h = got.head;
    const actual: Record<string, unknown> = {
      statusCode: h.statusCode, reason: h.reason, versionMinor: h.versionMinor, headers: h.headers,
      contentLength: h.contentLength, chunked: h.chunked, keepAlive: h.keepAlive, readUntilClose: h.readUntilClose,
      body: got.body.toString('latin1'), trailers: got.trailers, complete: got.complete,
    };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(actual[k], v, `response ${i} ${k}`);
  });
}

function assertChunkingIndependent(raw: Buffer, methods: string[], finish: boolean, seed: number): ResponseRun {
  const whole = runResponses([raw], methods, finish);
  assert.deepEqual(runResponses(bytewise(raw), methods, finish).log, whole.log, '1-byte chunks differ');
  const rnd = prng(seed);
  for (let k = 0; k < 4; k++) {
    const pieces = randomCuts(raw, rnd, 2 + Math.floor(rnd() * 6));
    assert.deepEqual(runResponses(pieces, methods, finish).log, whole.log, `random cut (seed ${seed}, try ${k})`);
  }
  if (raw.length < 400) {
    for (let i = 1; i < raw.length; i++) {
      assert.deepEqual(runResponses(cut(raw, [i]), methods, finish).log, whole.log, `split at ${i}`);
    }
  }
  return whole;
}

describe('ResponseParser: malformed responses', () => {
  HOSTILE.forEach((row, n) => {
    it(`${row.name} -> ${row.code} 502`, () => {
      const raw = b(row.raw);
      const methods = row.methods ?? ['GET'];
      const run = assertChunkingIndependent(raw, methods, row.finish === true, 3000 + n);
      assert.ok(run.error !== null, `accepted: ${run.log.join(' | ')}`);
      assert.equal(run.error.code, row.code, run.log.join(' | '));
      assert.equal(run.error.status, 502, 'a bad upstream response is a 502');
      assert.equal(run.errors, 1, 'reported once');
      assert.equal(run.messages.length, row.heads ?? 0);
    });
  });

  it('is reported once even if more bytes and finish() follow', () => {
    let errors = 0;
    const p = new ResponseParser(DEFAULT_LIMITS, {
      onResponseHead() { throw new Error('head'); },
      onResponseBody() { throw new Error('body'); },
      onResponseComplete() { throw new Error('complete'); },
      onResponseError() { errors++; },
    });
    p.expectResponse('GET');
    p.execute(b('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'));
    p.execute(b('HTTP/1.1 200 OK\r\n\r\n'));
    p.finish();
    p.finish();
    assert.equal(errors, 1);
  });
});

describe('ResponseParser: valid responses', () => {
  VALID.forEach((row, n) => {
    it(row.name, () => {
      const run = assertChunkingIndependent(b(row.raw), row.methods ?? ['GET'], row.finish === true, 4000 + n);
      check(run, row);
    });
  });

  it('a read-until-close body completes only on finish()', () => {
    const log: string[] = [];
    const p = new ResponseParser(DEFAULT_LIMITS, {
      onResponseHead(h) { log.push(`head ${h.statusCode} eof=${h.readUntilClose}`); },
      onResponseBody(c) { log.push(`body ${c.toString('latin1')}`); },
      onResponseComplete() { log.push('complete'); },
      onResponseError(e) { log.push(`error ${e.code}`); },
    });
    p.expectResponse('GET');
    p.execute(b('HTTP/1.1 200 OK\r\n\r\nab'));
    p.execute(b('cd'));
    assert.deepEqual(log, ['head 200 eof=true', 'body ab', 'body cd']);
    p.finish();
    assert.deepEqual(log, ['head 200 eof=true', 'body ab', 'body cd', 'complete']);
  });

  it('pause() in onResponseHead holds the body until resume()', () => {
    const log: string[] = [];
    const p: ResponseParser = new ResponseParser(DEFAULT_LIMITS, {
      onResponseHead(h) { log.push(`head ${h.statusCode}`); p.pause(); },
      onResponseBody(c) { log.push(`body ${c.toString('latin1')}`); },
      onResponseComplete() { log.push('complete'); },
      onResponseError(e) { log.push(`error ${e.code}`); },
    });
    p.expectResponse('POST');
    p.execute(b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    assert.deepEqual(log, ['head 100']);
    p.resume();
    assert.deepEqual(log, ['head 100', 'head 200']);
    p.resume();
    assert.deepEqual(log, ['head 100', 'head 200', 'body ok', 'complete']);
  });

  it('reset() forgets a HEAD expectation', () => {
    const log: string[] = [];
    const p = new ResponseParser(DEFAULT_LIMITS, {
      onResponseHead(h) { log.push(`head ${h.statusCode}`); },
      onResponseBody(c) { log.push(`body ${c.toString('latin1')}`); },
      onResponseComplete() { log.push('complete'); },
      onResponseError(e) { log.push(`error ${e.code}`); },
    });
    p.expectResponse('HEAD');
    p.reset();
    p.expectResponse('GET');
    p.execute(b('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'));
    assert.deepEqual(log, ['head 200', 'body x', 'complete']);
  });
});
