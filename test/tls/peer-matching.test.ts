// Peer verification pieces: Node's subjectAltName string parsed into Envoy's SAN types, Envoy's DNS wildcard rule
// for exact DNS matchers, and PeerValidator's SAN verdicts on a real certificate.

import test from 'node:test';
import assert from 'node:assert/strict';
import { parseSubjectAltNames } from '../../src/tls/certificates.ts';
import { PeerValidator, dnsNameMatch } from '../../src/tls/peer-validator.ts';
import type { SanSpec } from '../../src/tls/tls-spec.ts';
import { TestPki, opensslAvailable } from './support/test-pki.ts';

test('parseSubjectAltNames: types, JSON-quoted values with commas, compressed IPv6, unknown types skipped', () => {
  assert.deepEqual(
    parseSubjectAltNames('DNS:a.test, DNS:*.wild.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:"spiffe://x/y?a=1\\u002cb=2", email:me@a.test, othername:1.2.3;UTF8:x, DirName:CN=x'),
    [
      { type: 'DNS', value: 'a.test' },
      { type: 'DNS', value: '*.wild.test' },
      { type: 'IP_ADDRESS', value: '127.0.0.1' },
      { type: 'IP_ADDRESS', value: '::1' },
      { type: 'URI', value: 'spiffe://x/y?a=1,b=2' },
      { type: 'EMAIL', value: 'me@a.test' },
    ],
  );
  assert.deepEqual(parseSubjectAltNames(undefined), []);
  assert.deepEqual(parseSubjectAltNames(''), []);
});

test('dnsNameMatch: exact (case-insensitive) or one-label wildcard', () => {
  assert.ok(dnsNameMatch('api.example.com', 'api.example.com'));
  assert.ok(dnsNameMatch('API.Example.com', 'api.example.COM'));
  assert.ok(dnsNameMatch('api.example.com', '*.example.com'));
  assert.equal(dnsNameMatch('a.b.example.com', '*.example.com'), false);
  assert.equal(dnsNameMatch('example.com', '*.example.com'), false);
  assert.equal(dnsNameMatch('.example.com', '*.example.com'), false);
  // A wildcard in the configured name is not a pattern.
  assert.equal(dnsNameMatch('*.example.com', 'api.example.com'), false);
});

test('PeerValidator: SAN types, DNS wildcards only for exact matchers, IPv6 compared in one form', { skip: opensslAvailable() ? false : 'no openssl' }, () => {
  const pki = TestPki.create();
  try {
    const cert = pki.issue('peer', { sans: ['DNS:*.svc.test', 'IP:::1', 'URI:spiffe://legate/a', 'email:a@svc.test'] }).x509;
    const verdict = (sanType: SanSpec['type'], matcher: Record<string, unknown>): string | null =>
      new PeerValidator({ configPath: '', trustedCa: null, caCert: null, crl: null, watchedDirectory: null, sanMatchers: [{ sanType, matcher }], spkiPins: [], certHashes: [] }).check(cert, false);
    assert.equal(verdict('DNS', { exact: 'api.svc.test' }), null);
    assert.equal(verdict('DNS', { prefix: 'api' }), 'fail_verify_san');
    assert.equal(verdict('DNS', { suffix: '.svc.test' }), null);
    assert.equal(verdict('IP_ADDRESS', { exact: '0:0:0:0:0:0:0:1' }), null);
    assert.equal(verdict('IP_ADDRESS', { exact: '127.0.0.1' }), 'fail_verify_san');
    assert.equal(verdict('URI', { safe_regex: { regex: 'spiffe://legate/[a-z]+' } }), null);
    assert.equal(verdict('EMAIL', { exact: 'a@svc.test' }), null);
    // The type must match too.
    assert.equal(verdict('URI', { exact: 'a@svc.test' }), 'fail_verify_san');
  } finally {
    pki.remove();
  }
});
