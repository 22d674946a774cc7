// ServerTlsContext over real sockets on 127.0.0.1, answered by tls.connect and by `openssl s_client`: ALPN,
// certificate choice by SNI, TLS versions, and mTLS with Envoy's verdicts (and their ssl.* reasons).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { TestPki, opensslAvailable, opensslClient, type IssuedCert } from './support/test-pki.ts';
import { accepted, certFiles, downstream, handshake, serve, type TestTlsServer } from './support/tls-harness.ts';

const skip = opensslAvailable() ? false : 'the openssl CLI is not installed';

let pki: TestPki;
let a: IssuedCert;
let b: IssuedCert;
let wild: IssuedCert;
let client: IssuedCert;
let otherClient: IssuedCert;
let foreignClient: IssuedCert;
let expiredClient: IssuedCert;

before(() => {
  if (skip !== false) return;
  pki = TestPki.create();
  a = pki.issue('a', { sans: ['DNS:a.test', 'IP:127.0.0.1'] });
  b = pki.issue('b', { sans: ['DNS:b.test'], keyType: 'rsa' });
  wild = pki.issue('wild', { sans: ['DNS:*.wild.test'] });
  client = pki.issue('client', { sans: ['URI:spiffe://legate/ns/default/sa/frontend', 'DNS:frontend.test'] });
  otherClient = pki.issue('other-client', { sans: ['URI:spiffe://legate/ns/default/sa/intruder'] });
  foreignClient = pki.issue('foreign-client', { sans: ['URI:spiffe://legate/ns/default/sa/frontend'], ca: pki.makeCa('Foreign CA') });
  expiredClient = pki.issue('expired-client', { sans: ['URI:spiffe://legate/ns/default/sa/frontend'], days: -1 });
});
after(() => pki?.remove());

function multiCert(): ReturnType<typeof downstream> {
  return downstream({
    common_tls_context: {
      alpn_protocols: ['h2', 'http/1.1'],
      tls_certificates: [certFiles(a), certFiles(b), certFiles(wild)],
    },
  });
}

test('SNI picks the certificate whose SANs match; no SNI or no match gets the first', { skip }, async () => {
  const srv = await serve(multiCert());
  try {
    const ca = pki.ca.certPem;
    for (const [servername, expected] of [['b.test', b], ['A.TEST', a], ['x.wild.test', wild], ['unknown.test', a]] as const) {
      const r = await handshake(srv.port, { servername, ca, checkServerIdentity: () => undefined, rejectUnauthorized: true });
      assert.ok(accepted(r), `${servername}: ${JSON.stringify(r)}`);
      assert.equal(r.peerSerial, expected.serialNumber, servername);
    }
    // "*.wild.test" covers one label only.
    assert.equal((await handshake(srv.port, { servername: 'a.b.wild.test' })).peerSerial, a.serialNumber);
    assert.equal((await handshake(srv.port, {})).peerSerial, a.serialNumber);
    // Verified the usual way: the chosen certificate is valid for the name asked for.
    assert.ok(accepted(await handshake(srv.port, { servername: 'b.test', ca, rejectUnauthorized: true })));
  } finally {
    await srv.close();
  }
});

test('ALPN: the server picks its first protocol the client offers', { skip }, async () => {
  const srv = await serve(multiCert());
  try {
    assert.equal((await handshake(srv.port, { ALPNProtocols: ['http/1.1', 'h2'] })).alpn, 'h2');
    assert.equal((await handshake(srv.port, { ALPNProtocols: ['http/1.1'], servername: 'b.test' })).alpn, 'http/1.1');
    assert.equal((await handshake(srv.port, {})).alpn, false);
  } finally {
    await srv.close();
  }
});

test('openssl s_client: SNI choice, ALPN and the negotiated version', { skip }, async () => {
  const srv = await serve(multiCert(), true);
  try {
    let r = await opensslClient(srv.port, ['-servername', 'b.test', '-alpn', 'http/1.1', '-CAfile', pki.ca.certPath]);
    // Not the exit code: s_client may see the server's close before its own stdin EOF and report an "unexpected
    // eof" after a good handshake; the handshake's own lines below are what this test is about.
    assert.match(r.output, /subject=CN\s?=\s?b\.test/);
    assert.match(r.output, /ALPN protocol: http\/1\.1/);
    assert.match(r.output, /New, TLSv1\.3/);
    assert.match(r.output, /Verify return code: 0 \(ok\)/);
    r = await opensslClient(srv.port, ['-servername', 'x.wild.test', '-alpn', 'h2,http/1.1', '-tls1_2', '-CAfile', pki.ca.certPath]);
    // Not the exit code: s_client may see the server's close before its own stdin EOF and report an "unexpected
    // eof" after a good handshake; the handshake's own lines below are what this test is about.
    assert.match(r.output, /subject=CN\s?=\s?\*\.wild\.test/);
    assert.match(r.output, /ALPN protocol: h2/);
    assert.match(r.output, /New, TLSv1\.2/);
  } finally {
    srv.ctx.close();
  }
});

test('a TLS 1.2-max server refuses a TLS 1.3-only client (tls.connect and s_client) and counts connection_error', { skip }, async () => {
  const srv = await serve(downstream({ common_tls_context: { tls_certificates: [certFiles(a)], tls_params: { tls_maximum_protocol_version: 'TLSv1_2' } } }));
  try {
    const ok = await handshake(srv.port, {});
    assert.ok(accepted(ok));
    assert.equal(ok.protocol, 'TLSv1.2');

    const r = await handshake(srv.port, { minVersion: 'TLSv1.3' });
    assert.equal(accepted(r), false);
    assert.equal(r.secure, false);
    assert.match(r.error ?? '', /PROTOCOL_VERSION/);
    assert.equal(await srv.failures.next(), 'connection_error');

    const s = await opensslClient(srv.port, ['-tls1_3']);
    assert.notEqual(s.code, 0);
    assert.match(s.output, /alert protocol version|no protocols available|unsupported protocol/i);
    assert.equal(await srv.failures.next(), 'connection_error');
  } finally {
    await srv.close();
  }
});

test('a TLS 1.3-min server refuses a TLS 1.2-max client; explicit cipher_suites keep TLS 1.3 available', { skip }, async () => {
  const srv = await serve(downstream({
    common_tls_context: {
      tls_certificates: [certFiles(a)],
      tls_params: { tls_minimum_protocol_version: 'TLSv1_3', cipher_suites: ['ECDHE-ECDSA-AES128-GCM-SHA256'] },
    },
  }));
  try {
    assert.equal((await handshake(srv.port, {})).protocol, 'TLSv1.3');
    const r = await handshake(srv.port, { maxVersion: 'TLSv1.2' });
    assert.equal(accepted(r), false);
    assert.equal(await srv.failures.next(), 'connection_error');
  } finally {
    await srv.close();
  }
});

function mtlsSpec(extra: Record<string, unknown> = {}): ReturnType<typeof downstream> {
  return downstream({
    require_client_certificate: true,
    common_tls_context: {
      tls_certificates: [certFiles(a)],
      validation_context: {
        trusted_ca: { filename: pki.ca.certPath },
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://legate/ns/default/sa/frontend' } }],
        ...extra,
      },
    },
  });
}

function mtlsServer(): Promise<TestTlsServer> {
  return serve(mtlsSpec());
}

test('mTLS: a good client certificate is accepted; none, a wrong SAN, an unknown CA or an expired one are refused', { skip }, async () => {
  const srv = await mtlsServer();
  try {
    const good = await handshake(srv.port, { cert: client.certPem, key: client.keyPem });
    assert.ok(accepted(good), JSON.stringify(good));
    const sock = await srv.accepted.next();
    assert.equal(sock.getPeerX509Certificate()?.serialNumber, client.serialNumber);
    assert.equal(sock.authorized, true);

    const cases: [string, IssuedCert | null, string][] = [
      ['no certificate', null, 'fail_verify_no_cert'],
      ['wrong SAN', otherClient, 'fail_verify_san'],
      ['unknown CA', foreignClient, 'fail_verify_error'],
      ['expired', expiredClient, 'fail_verify_error'],
    ];
    for (const [what, cert, reason] of cases) {
      const r = await handshake(srv.port, cert === null ? {} : { cert: cert.certPem, key: cert.keyPem });
      assert.equal(accepted(r), false, what);
      assert.equal(await srv.failures.next(), reason, what);
    }
  } finally {
    await srv.close();
  }
});

test('mTLS with openssl s_client: accepted with the client certificate, refused without', { skip }, async () => {
  const srv = await mtlsServer();
  try {
    const ok = await opensslClient(srv.port, ['-cert', client.certPath, '-key', client.keyPath, '-CAfile', pki.ca.certPath, '-ign_eof']);
    assert.match(ok.output, /hello/);
    const refused = await opensslClient(srv.port, ['-CAfile', pki.ca.certPath, '-ign_eof']);
    assert.doesNotMatch(refused.output, /hello/);
    assert.equal(await srv.failures.next(), 'fail_verify_no_cert');
  } finally {
    await srv.close();
  }
});

test('optional client certificates: absent is fine, a bad one is still refused', { skip }, async () => {
  const srv = await serve(downstream({
    common_tls_context: { tls_certificates: [certFiles(a)], validation_context: { trusted_ca: { filename: pki.ca.certPath } } },
  }));
  try {
    assert.ok(accepted(await handshake(srv.port, {})));
    assert.ok(accepted(await handshake(srv.port, { cert: otherClient.certPem, key: otherClient.keyPem })));
    assert.equal(accepted(await handshake(srv.port, { cert: foreignClient.certPem, key: foreignClient.keyPem })), false);
    assert.equal(await srv.failures.next(), 'fail_verify_error');
  } finally {
    await srv.close();
  }
});

test('certificate pins: verify_certificate_hash and verify_certificate_spki', { skip }, async () => {
  const spki = (await import('node:crypto')).createHash('sha256').update(client.x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const hash = client.x509.fingerprint256;
  for (const pins of [{ verify_certificate_spki: [spki] }, { verify_certificate_hash: [hash] }]) {
    const srv = await serve(downstream({
      require_client_certificate: true,
      common_tls_context: { tls_certificates: [certFiles(a)], validation_context: { trusted_ca: { filename: pki.ca.certPath }, ...pins } },
    }));
    try {
      assert.ok(accepted(await handshake(srv.port, { cert: client.certPem, key: client.keyPem })));
      assert.equal(accepted(await handshake(srv.port, { cert: otherClient.certPem, key: otherClient.keyPem })), false);
      assert.equal(await srv.failures.next(), 'fail_verify_cert_hash');
    } finally {
      await srv.close();
    }
  }
});

test('require_sni refuses a handshake without SNI', { skip }, async () => {
  const srv = await serve(downstream({ require_sni: true, common_tls_context: { tls_certificates: [certFiles(a)] } }));
  try {
    assert.ok(accepted(await handshake(srv.port, { servername: 'a.test' })));
    assert.equal(accepted(await handshake(srv.port, {})), false);
    assert.equal(await srv.failures.next(), 'connection_error');
  } finally {
    await srv.close();
  }
});

test('a bad handshake does not disturb other connections', { skip }, async () => {
  const srv = await serve(multiCert());
  try {
    const results = await Promise.all([
      handshake(srv.port, { servername: 'b.test' }),
      handshake(srv.port, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_CCM_8_SHA256' }),
      handshake(srv.port, { servername: 'a.test' }),
    ]);
    assert.ok(accepted(results[0]!));
    assert.equal(accepted(results[1]!), false);
    assert.ok(accepted(results[2]!));
    assert.equal(await srv.failures.next(), 'connection_error');
  } finally {
    await srv.close();
  }
});

test('a session from one worker\'s context resumes on another built from the same spec (shared ticket keys)', { skip }, async () => {
  const spec = mtlsSpec();
  const w0 = await serve(spec);
  const w1 = await serve(spec);
  try {
    const session = await new Promise<Buffer>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: w0.port, rejectUnauthorized: false, cert: client.certPem, key: client.keyPem });
      s.once('session', (sess: Buffer) => resolve(sess));
      s.on('error', reject);
      s.resume();
    });
    const second = await handshake(w1.port, { cert: client.certPem, key: client.keyPem, session });
    assert.ok(accepted(second));
    assert.equal(second.reused, true);
    // Both connections passed the client-certificate checks (on resumption from the session's certificate).
    assert.equal((await w0.accepted.next()).authorized, true);
    assert.equal((await w1.accepted.next()).authorized, true);
  } finally {
    await w0.close();
    await w1.close();
  }
});
