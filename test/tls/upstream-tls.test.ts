// ClientTlsContext against real TLS servers on 127.0.0.1: verification against trusted_ca (on whenever a CA is
// given, host name never checked), SAN matching, pins without a CA, SNI, ALPN, and upstream mTLS.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import tls from 'node:tls';
import { ClientTlsContext, TlsPeerRejectedError, tlsFailureReasonOf } from '../../src/tls/client-tls-context.ts';
import type { TlsFailureReason } from '../../src/tls/tls-spec.ts';
import { TestPki, opensslAvailable, type IssuedCert } from './support/test-pki.ts';
import { certFiles, downstream, serve, upstream, type TestTlsServer } from './support/tls-harness.ts';

const skip = opensslAvailable() ? false : 'the openssl CLI is not installed';

let pki: TestPki;
let backend: IssuedCert;
let selfSigned: IssuedCert;
let clientCert: IssuedCert;
let plain: TestTlsServer;
let foreign: TestTlsServer;

before(async () => {
  if (skip !== false) return;
  pki = TestPki.create();
  backend = pki.issue('backend', { sans: ['DNS:backend.internal', 'URI:spiffe://legate/ns/default/sa/backend'] });
  selfSigned = pki.issue('foreign', { sans: ['DNS:backend.internal'], ca: pki.makeCa('Someone Else') });
  clientCert = pki.issue('legate-client', { sans: ['URI:spiffe://legate/ns/default/sa/legate'] });
  plain = await serve(downstream({ common_tls_context: { alpn_protocols: ['h2', 'http/1.1'], tls_certificates: [certFiles(backend)] } }));
  foreign = await serve(downstream({ common_tls_context: { tls_certificates: [certFiles(selfSigned)] } }));
});
after(async () => {
  await plain?.close();
  await foreign?.close();
  pki?.remove();
});

interface ConnectResult {
  ok: boolean;
  reason: TlsFailureReason | null;
  error: unknown;
  servername: string | false | null;
  alpn: string | false | null;
  data: string;
}

/** Connects as a connection pool would: tls.connect with the context's options, then verifyPeer. */
function connect(ctx: ClientTlsContext, port: number, alpn: string[] | null = null): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const r: ConnectResult = { ok: false, reason: null, error: null, servername: null, alpn: null, data: '' };
    const s = tls.connect(ctx.connectOptions('127.0.0.1', port, alpn), () => {
      const reason = ctx.verifyPeer(s);
      if (reason !== null) {
        r.reason = reason;
        s.destroy();
        return;
      }
      r.ok = true;
      r.alpn = s.alpnProtocol ?? null;
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => (r.data += d));
    s.on('error', (err) => {
      r.ok = false;
      r.error = err;
      r.reason = tlsFailureReasonOf(err);
    });
    s.on('close', () => resolve(r));
  });
}

test('with trusted_ca the upstream is verified (host name not checked); an unknown CA is fail_verify_error', { skip }, async () => {
  const ctx = new ClientTlsContext(upstream({ common_tls_context: { validation_context: { trusted_ca: { filename: pki.ca.certPath } } } }));
  const ok = await connect(ctx, plain.port);
  assert.ok(ok.ok, String(ok.error));
  assert.equal(ok.data, 'hello\n');
  const bad = await connect(ctx, foreign.port);
  assert.equal(bad.ok, false);
  assert.equal(bad.reason, 'fail_verify_error');
  assert.equal((bad.error as NodeJS.ErrnoException).code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('without trusted_ca nothing is verified (Envoy): any server is accepted', { skip }, async () => {
  const ctx = new ClientTlsContext(upstream({}));
  assert.ok((await connect(ctx, foreign.port)).ok);
});

test('SAN matchers: a matching SAN passes, a wrong one is fail_verify_san with a typed error', { skip }, async () => {
  const matching = new ClientTlsContext(upstream({
    common_tls_context: {
      validation_context: {
        trusted_ca: { filename: pki.ca.certPath },
        match_typed_subject_alt_names: [
          { san_type: 'DNS', matcher: { exact: 'nothing.internal' } },
          { san_type: 'URI', matcher: { suffix: '/sa/backend' } },
        ],
      },
    },
  }));
  assert.ok((await connect(matching, plain.port)).ok);

  const wrong = new ClientTlsContext(upstream({
    common_tls_context: {
      validation_context: {
        trusted_ca: { filename: pki.ca.certPath },
        match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'payments.internal' } }],
      },
    },
  }));
  const r = await connect(wrong, plain.port);
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'fail_verify_san');
  assert.ok(r.error instanceof TlsPeerRejectedError);
  assert.equal((r.error as TlsPeerRejectedError).code, 'ERR_LEGATE_TLS_PEER_REJECTED');
});

test('pins without trusted_ca are checked by verifyPeer', { skip }, async () => {
  const hash = crypto.createHash('sha256').update(backend.x509.raw).digest('hex');
  const pinned = new ClientTlsContext(upstream({ common_tls_context: { validation_context: { verify_certificate_hash: [hash] } } }));
  assert.ok((await connect(pinned, plain.port)).ok);
  const r = await connect(pinned, foreign.port);
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'fail_verify_cert_hash');
});

test('sni is sent only when configured; ALPN from the context or the caller', { skip }, async () => {
  const server = await serve(downstream({ common_tls_context: { alpn_protocols: ['h2', 'http/1.1'], tls_certificates: [certFiles(backend)] } }));
  try {
    const withSni = new ClientTlsContext(upstream({ sni: 'backend.internal', common_tls_context: { alpn_protocols: ['http/1.1'] } }));
    assert.equal((await connect(withSni, server.port)).alpn, 'http/1.1');
    assert.equal((await server.accepted.next()).servername, 'backend.internal');
    assert.equal((await connect(withSni, server.port, ['h2'])).alpn, 'h2');
    await server.accepted.next();
    await connect(new ClientTlsContext(upstream({})), server.port);
    assert.equal((await server.accepted.next()).servername, false);
  } finally {
    await server.close();
  }
});

test('upstream mTLS: the client certificate is presented and accepted by an mTLS server', { skip }, async () => {
  const server = await serve(downstream({
    require_client_certificate: true,
    common_tls_context: {
      tls_certificates: [certFiles(backend)],
      validation_context: {
        trusted_ca: { filename: pki.ca.certPath },
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://legate/ns/default/sa/legate' } }],
      },
    },
  }));
  try {
    const withCert = new ClientTlsContext(upstream({
      common_tls_context: { tls_certificates: [certFiles(clientCert)], validation_context: { trusted_ca: { filename: pki.ca.certPath } } },
    }));
    const ok = await connect(withCert, server.port);
    assert.ok(ok.ok);
    assert.equal(ok.data, 'hello\n');
    assert.equal((await server.accepted.next()).getPeerX509Certificate()?.serialNumber, clientCert.serialNumber);

    const without = new ClientTlsContext(upstream({ common_tls_context: { validation_context: { trusted_ca: { filename: pki.ca.certPath } } } }));
    const r = await connect(without, server.port);
    assert.equal(r.data, '');
    assert.equal(await server.failures.next(), 'fail_verify_no_cert');
  } finally {
    await server.close();
  }
});

test('tlsFailureReasonOf: chain errors, typed rejections, everything else', () => {
  assert.equal(tlsFailureReasonOf(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' })), 'fail_verify_error');
  assert.equal(tlsFailureReasonOf(new TlsPeerRejectedError('fail_verify_san', 'x')), 'fail_verify_san');
  assert.equal(tlsFailureReasonOf(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'connection_error');
  assert.equal(tlsFailureReasonOf(null), 'connection_error');
});
