// Exact output of the HTTP/1.1 serializer (heads and chunked framing), the config-time field checks, and a
// round trip through Legate's own parsers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidHeaderName, isValidHeaderValue } from '../../src/http1/field-syntax.ts';
import { reasonPhrase } from '../../src/http1/reason-phrases.ts';
import {
  chunkHeader, CRLF, LAST_CHUNK, serializeLastChunk, serializeRequestHead, serializeResponseHead,
} from '../../src/http1/serializer.ts';
import { runRequests, runResponses } from './harness.ts';

describe('serializeResponseHead', () => {
  it('writes the status line and fields exactly', () => {
    assert.equal(
      serializeResponseHead(1, 200, 'OK', ['content-type', 'text/plain', 'content-length', '5']),
      'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n',
    );
    assert.equal(serializeResponseHead(1, 404, 'Not Found', []), 'HTTP/1.1 404 Not Found\r\n\r\n');
    assert.equal(serializeResponseHead(1, 100, 'Continue', []), 'HTTP/1.1 100 Continue\r\n\r\n');
    assert.equal(
      serializeResponseHead(1, 101, 'Switching Protocols', ['upgrade', 'websocket', 'connection', 'upgrade']),
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    );
  });

  it('keeps a custom or empty reason, and HTTP/1.0', () => {
    assert.equal(serializeResponseHead(1, 200, 'Fine', []), 'HTTP/1.1 200 Fine\r\n\r\n');
    assert.equal(serializeResponseHead(1, 200, '', []), 'HTTP/1.1 200 \r\n\r\n');
    assert.equal(serializeResponseHead(1, 299, '', []), 'HTTP/1.1 299 \r\n\r\n');
    assert.equal(serializeResponseHead(0, 503, 'Service Unavailable', ['retry-after', '1']),
      'HTTP/1.0 503 Service Unavailable\r\nretry-after: 1\r\n\r\n');
    assert.equal(serializeResponseHead(1, 999, 'X', []), 'HTTP/1.1 999 X\r\n\r\n');
  });

  it('uses the cached line for every standard code, identical to the built one', () => {
    let n = 0;
    for (let code = 100; code < 600; code++) {
      const reason = reasonPhrase(code);
      if (reason === '') continue;
      n++;
      assert.equal(serializeResponseHead(1, code, reason, ['a', 'b']), `HTTP/1.1 ${code} ${reason}\r\na: b\r\n\r\n`);
    }
    assert.ok(n > 50);
  });

  it('writes values verbatim, empty ones included', () => {
    assert.equal(serializeResponseHead(1, 204, 'No Content', ['x-empty', '', 'set-cookie', 'a=1; Path=/', 'set-cookie', 'b=2']),
      'HTTP/1.1 204 No Content\r\nx-empty: \r\nset-cookie: a=1; Path=/\r\nset-cookie: b=2\r\n\r\n');
  });
});

describe('serializeRequestHead', () => {
  it('writes the request line and fields exactly', () => {
    assert.equal(serializeRequestHead('GET', '/a?b=1', ['host', 'example.com', 'x-request-id', 'abc']),
      'GET /a?b=1 HTTP/1.1\r\nhost: example.com\r\nx-request-id: abc\r\n\r\n');
    assert.equal(serializeRequestHead('POST', '/', [], 0), 'POST / HTTP/1.0\r\n\r\n');
    assert.equal(serializeRequestHead('OPTIONS', '*', ['host', 'h'], 1), 'OPTIONS * HTTP/1.1\r\nhost: h\r\n\r\n');
    assert.equal(serializeRequestHead('CONNECT', 'h:443', ['host', 'h:443']), 'CONNECT h:443 HTTP/1.1\r\nhost: h:443\r\n\r\n');
  });
});

describe('chunked framing', () => {
  it('writes chunk sizes in lower-case hex', () => {
    assert.equal(chunkHeader(1), '1\r\n');
    assert.equal(chunkHeader(255), 'ff\r\n');
    assert.equal(chunkHeader(16 * 1024), '4000\r\n');
    assert.equal(CRLF, '\r\n');
  });

  it('writes the last chunk with and without trailers', () => {
    assert.equal(LAST_CHUNK, '0\r\n\r\n');
    assert.equal(serializeLastChunk(null), '0\r\n\r\n');
    assert.equal(serializeLastChunk([]), '0\r\n\r\n');
    assert.equal(serializeLastChunk(['grpc-status', '0', 'grpc-message', 'ok']), '0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n');
  });
});

describe('round trip through the parsers', () => {
  it('a serialized chunked request parses back to the same head, body and trailers', () => {
    const headers = ['host', 'h', 'transfer-encoding', 'chunked', 'x-a', 'b c'];
    const wire = serializeRequestHead('PUT', '/up?x=1', headers) + chunkHeader(5) + 'hello' + CRLF +
      chunkHeader(1) + '!' + CRLF + serializeLastChunk(['x-sum', '6']);
    const run = runRequests([Buffer.from(wire, 'latin1')]);
    assert.equal(run.error, null);
    const m = run.messages[0]!;
    assert.equal(m.head.method, 'PUT');
    assert.equal(m.head.target, '/up?x=1');
    assert.deepEqual(m.head.headers, headers);
    assert.equal(m.body.toString(), 'hello!');
    assert.deepEqual(m.trailers, ['x-sum', '6']);
  });

  it('a serialized response parses back to the same head', () => {
    const headers = ['content-length', '2', 'server', 'legate'];
    const run = runResponses([Buffer.from(serializeResponseHead(1, 201, 'Created', headers) + 'ok', 'latin1')], ['POST']);
    assert.equal(run.error, null);
    const m = run.messages[0]!;
    assert.equal(m.head.statusCode, 201);
    assert.equal(m.head.reason, 'Created');
    assert.deepEqual(m.head.headers, headers);
    assert.equal(m.body.toString(), 'ok');
  });
});

describe('field-syntax (config-time checks)', () => {
  it('accepts tokens and refuses separators, whitespace, controls and non-latin1 in names', () => {
    for (const n of ['x-a', 'X_B', "!#$%&'*+-.^_`|~09az"]) assert.equal(isValidHeaderName(n), true, n);
    for (const n of ['', 'a b', 'a:b', 'a\tb', 'a(b)', 'a\x00', 'caf\xe9', 'a\u0100', 'a/b', 'a"b']) {
      assert.equal(isValidHeaderName(n), false, JSON.stringify(n));
    }
  });

  it('accepts HTAB, SP, VCHAR and obs-text in values and refuses CR, LF, NUL, other controls and DEL', () => {
    for (const v of ['', 'a b', 'a\tb', '"q"', 'caf\xe9', '~!@#']) assert.equal(isValidHeaderValue(v), true, JSON.stringify(v));
    for (const v of ['a\r\nb', 'a\nb', 'a\rb', 'a\x00', 'a\x01', 'a\x7f', 'a\u0100']) {
      assert.equal(isValidHeaderValue(v), false, JSON.stringify(v));
    }
  });
});
