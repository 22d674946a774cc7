// Unit: the one authority check for Host (HTTP/1.1), absolute-form targets and :authority (HTTP/2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidAuthority } from '../../src/http/authority.ts';

test('accepts uri-host [":" port] as RFC 3986 §3.2.2 writes it', () => {
  const valid = [
    'example.com', 'EXAMPLE.com', 'example.com.', 'example.com:8080', 'a', 'h:0', 'a.example:', '127.0.0.1',
    '127.0.0.1:443', 'xn--bcher-kva.example', 'under_score.example', 'a-b~c', "sub!$&'()*+;=delims",
    'pct%2Dencoded.example', '[::1]', '[::1]:8443', '[2001:db8::1]', '[::ffff:192.0.2.1]:80', '[v1.x:y]', '[V7a.b]:1',
  ];
  for (const v of valid) assert.equal(isValidAuthority(v), true, v);
});

test('refuses everything else: finding 3 of issue 9 and its relatives', () => {
  const invalid = [
    // The reproducers: whitespace, a path, userinfo, a list.
    'a b', 'a.example/b', 'u@a.example', 'a.example, b.example', 'a.example,b.example',
    // Empty host, bad ports, stray delimiters.
    '', ':80', 'a:b', 'a:80:90', 'a:8 0', 'a?x', 'a#f', 'a\\b', 'a"b', 'a<b>', 'a{b}', 'a|b', 'a^b', 'a`b',
    // Bad pct-encoding, controls, obs-text, Unicode.
    'a%', 'a%2', 'a%zz.example', 'a\tb', 'a\x00b', 'a\x7f', 'caf\xe9.example', 'caf\u00e9', '\u{1f600}',
    // IP literals.
    '[', '[]', '[::1', '::1', '[::1]x', '[::1]:x', '[1]', '[1:2]', '[::1%25eth0]', '[g::1]', '[1.2.3.4:5::]', '[v]',
    '[v1]', '[v1.]', '[vx.y]', 'a[::1]', '[::1]]',
  ];
  for (const v of invalid) assert.equal(isValidAuthority(v), false, JSON.stringify(v));
});
