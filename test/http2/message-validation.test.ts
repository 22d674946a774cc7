// RFC 9113 §8.2–§8.3 request and trailer checks: every rule rejects what it should and nothing valid.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkRequestFields, checkTrailerFields } from '../../src/http2/message-validation.ts';

const GET = [':method', 'GET', ':scheme', 'https', ':path', '/a?b=1', ':authority', 'example.test'];

describe('checkRequestFields', () => {
  it('accepts well-formed requests, CONNECT with :authority only, and te: trailers', () => {
    assert.equal(checkRequestFields(GET), null);
    assert.equal(checkRequestFields([...GET, 'user-agent', 'x/1', 'te', 'trailers', 'x-empty', '']), null);
    assert.equal(checkRequestFields([':method', 'CONNECT', ':authority', 'example.test:443']), null);
    assert.equal(checkRequestFields([':method', 'OPTIONS', ':scheme', 'http', ':path', '*']), null);
  });

  const bad: Array<[string, string[]]> = [
    ['uppercase name', [...GET, 'X-Upper', '1']],
    ['space in name', [...GET, 'x bad', '1']],
    ['connection header', [...GET, 'connection', 'keep-alive']],
    ['transfer-encoding', [...GET, 'transfer-encoding', 'chunked']],
    ['upgrade', [...GET, 'upgrade', 'websocket']],
    ['te other than trailers', [...GET, 'te', 'gzip']],
    ['pseudo-header after regular', [':method', 'GET', 'x-a', '1', ':scheme', 'http', ':path', '/']],
    ['duplicate :path', [...GET, ':path', '/again']],
    ['unknown pseudo-header', [...GET, ':status', '200']],
    ['missing :method', [':scheme', 'http', ':path', '/']],
    ['missing :scheme', [':method', 'GET', ':path', '/']],
    ['missing :path', [':method', 'GET', ':scheme', 'http']],
    ['empty :path', [':method', 'GET', ':scheme', 'http', ':path', '']],
    ['CONNECT with :path', [':method', 'CONNECT', ':authority', 'a:1', ':path', '/']],
    ['CONNECT without :authority', [':method', 'CONNECT']],
    ['CR in a value', [...GET, 'x-a', 'a\rb']],
    ['LF in a value', [...GET, 'x-a', 'a\nb']],
    ['NUL in a value', [...GET, 'x-a', 'a\0b']],
    ['leading space', [...GET, 'x-a', ' a']],
    ['trailing tab', [...GET, 'x-a', 'a\t']],
    ['invalid :method', [':method', 'G T', ':scheme', 'http', ':path', '/']],
  ];
  for (const [what, fields] of bad) {
    it(`rejects ${what}`, () => {
      assert.equal(typeof checkRequestFields(fields), 'string');
    });
  }
});

describe('checkTrailerFields', () => {
  it('accepts plain trailers and rejects pseudo-headers, bad names, values and connection headers', () => {
    assert.equal(checkTrailerFields(['grpc-status', '0', 'x-checksum', 'abc']), null);
    assert.equal(typeof checkTrailerFields([':status', '200']), 'string');
    assert.equal(typeof checkTrailerFields(['X-Upper', '1']), 'string');
    assert.equal(typeof checkTrailerFields(['x-a', 'a\nb']), 'string');
    assert.equal(typeof checkTrailerFields(['connection', 'close']), 'string');
  });
});
