// compileDownstreamTlsContext / compileUpstreamTlsContext: Envoy's defaults, plain frozen specs that survive
// msgpackr, and a problem with the field path for each kind of bad TLS config.

import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pack, unpack } from 'msgpackr';
import {
  compileDownstreamTlsContext, compileTransportSocket, compileUpstreamTlsContext, filesOfTlsSpec,
} from '../../src/tls/compile-tls-context.ts';
import { DOWNSTREAM_TLS_CONTEXT_TYPE } from '../../src/tls/tls-supported-fields.ts';
import type { TlsConfigProblem } from '../../src/tls/tls-spec.ts';
import { TestPki, opensslAvailable } from './support/test-pki.ts';
import { C, P, certFiles, downstream, upstream } from './support/tls-harness.ts';

const skip = opensslAvailable() ? false : 'the openssl CLI is not installed';
const pki = skip === false ? TestPki.create() : (null as never);
after(() => pki?.remove());

const CERTS = `${P}.common_tls_context.tls_certificates`;

function problemsOf(ctx: Record<string, unknown>): TlsConfigProblem[] {
  const r = compileDownstreamTlsContext(ctx, P);
  assert.equal(r.spec, null, 'a context with problems must not compile');
  assert.ok(r.problems.length > 0);
  return r.problems;
}

function oneProblem(ctx: Record<string, unknown>): TlsConfigProblem {
  const ps = problemsOf(ctx);
  assert.equal(ps.length, 1, JSON.stringify(ps));
  return ps[0]!;
}

test('a minimal downstream context gets Envoy defaults and is plain, frozen, message-passable data', { skip }, () => {
  const server = pki.issue('server', { sans: ['DNS:server.test', 'DNS:*.wild.test', 'IP:127.0.0.1'] });
  const spec = downstream({ common_tls_context: { tls_certificates: [certFiles(server)] } });
  assert.equal(spec.kind, 'downstream');
  assert.equal(spec.id, P);
  assert.equal(spec.common.params.minVersion, 'TLSv1.2');
  assert.equal(spec.common.params.maxVersion, 'TLSv1.3');
  assert.equal(
    spec.common.params.ciphers,
    'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:' +
      'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  );
  assert.equal(spec.common.params.ecdhCurve, 'X25519:P-256');
  assert.deepEqual(spec.common.alpnProtocols, []);
  assert.equal(spec.common.validation, null);
  assert.equal(spec.requireClientCertificate, false);
  const cert = spec.common.certificates[0]!;
  assert.deepEqual(cert.serverNames, ['server.test', '*.wild.test']);
  assert.equal(cert.leaf.path, server.certPath);
  assert.equal(cert.leaf.serialNumber, server.serialNumber.toLowerCase());
  assert.deepEqual(cert.leaf.subjectAltNames, [
    { type: 'DNS', value: 'server.test' },
    { type: 'DNS', value: '*.wild.test' },
    { type: 'IP_ADDRESS', value: '127.0.0.1' },
  ]);
  assert.equal(cert.certificateChain.text, server.certPem);
  assert.ok(Object.isFrozen(spec) && Object.isFrozen(spec.common.certificates[0]));
  assert.deepEqual(unpack(pack(spec)), spec);
  assert.deepEqual(structuredClone(spec), spec);
  assert.deepEqual(filesOfTlsSpec(spec), { files: [server.certPath, server.keyPath], directories: [] });
});

test('inline_string and inline_bytes work like files; /certs path is <inline>', { skip }, () => {
  const server = pki.issue('inline', { sans: ['DNS:inline.test'] });
  const spec = downstream({
    common_tls_context: {
      tls_certificates: [{
        certificate_chain: { inline_string: server.certPem },
        private_key: { inline_bytes: Buffer.from(server.keyPem).toString('base64') },
      }],
    },
  });
  assert.equal(spec.common.certificates[0]!.leaf.path, '<inline>');
  assert.equal(spec.common.certificates[0]!.privateKey.text, server.keyPem);
  assert.deepEqual(filesOfTlsSpec(spec).files, []);
});

test('a missing key file is an io problem at its filename field', { skip }, () => {
  const server = pki.issue('s', { sans: ['DNS:s.test'] });
  const missing = path.join(pki.dir, 'nope.key');
  const p = oneProblem({ common_tls_context: { tls_certificates: [{ certificate_chain: { filename: server.certPath }, private_key: { filename: missing } }] } });
  assert.equal(p.code, 'io');
  assert.equal(p.path, `${CERTS}[0].private_key.filename`);
  assert.match(p.message, /cannot read private_key '.*nope\.key': ENOENT/);
});

test('unparsable PEM, a key that does not match, and an encrypted key without its password', { skip }, () => {
  const a = pki.issue('a', { sans: ['DNS:a.test'] });
  const b = pki.issue('b', { sans: ['DNS:b.test'] });
  const garbage = path.join(pki.dir, 'garbage.pem');
  fs.writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');

  let p = oneProblem({ common_tls_context: { tls_certificates: [{ certificate_chain: { filename: garbage }, private_key: { filename: a.keyPath } }] } });
  assert.equal(p.path, `${CERTS}[0].certificate_chain.filename`);
  assert.match(p.message, /certificate 1 does not parse/);

  p = oneProblem({ common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: 'hello' }, private_key: { filename: a.keyPath } }] } });
  assert.equal(p.path, `${CERTS}[0].certificate_chain.inline_string`);
  assert.match(p.message, /holds no PEM certificate/);

  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(a), { certificate_chain: { filename: a.certPath }, private_key: { filename: b.keyPath } }] } });
  assert.equal(p.path, `${CERTS}[1].private_key.filename`);
  assert.match(p.message, /does not match the certificate/);

  const enc = pki.issue('enc', { sans: ['DNS:enc.test'], password: 's3cret' });
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(enc)] } });
  assert.equal(p.path, `${CERTS}[0].private_key.filename`);
  assert.match(p.message, /does not parse/);
  p = oneProblem({ common_tls_context: { tls_certificates: [{ ...certFiles(enc), password: { inline_string: 'wrong' } }] } });
  assert.match(p.message, /wrong password/);
  const spec = downstream({ common_tls_context: { tls_certificates: [{ ...certFiles(enc), password: { inline_string: 's3cret' } }] } });
  assert.equal(spec.common.certificates[0]!.password!.text, 's3cret');
});

test('cipher suites: Envoy/BoringSSL names map to OpenSSL, groups flatten, unknown and TLS 1.3 names are problems', { skip }, () => {
  const s = pki.issue('c', { sans: ['DNS:c.test'] });
  const spec = downstream({
    common_tls_context: {
      tls_certificates: [certFiles(s)],
      tls_params: { cipher_suites: ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', '[ECDHE-ECDSA-CHACHA20-POLY1305|ECDHE-RSA-AES128-GCM-SHA256]'] },
    },
  });
  assert.equal(spec.common.params.ciphers, 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256');

  const ps = problemsOf({
    common_tls_context: {
      tls_certificates: [certFiles(s)],
      tls_params: { cipher_suites: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA265', 'TLS_AES_128_GCM_SHA256', 'DES-CBC3-SHA'] },
    },
  });
  const at = `${P}.common_tls_context.tls_params.cipher_suites`;
  assert.deepEqual(ps.map((p) => p.path), [`${at}[1]`, `${at}[2]`, `${at}[3]`]);
  assert.match(ps[0]!.message, /unknown cipher suite 'ECDHE-ECDSA-AES128-GCM-SHA265' \(did you mean 'ECDHE-ECDSA-AES128-GCM-SHA256'\?\)/);
  assert.match(ps[1]!.message, /TLS 1\.3 suite/);
  assert.match(ps[2]!.message, /not available in this Node\.js build/);
});

test('TLS versions: TLS_AUTO is the default; min above max, unknown curves and sigalgs are problems', { skip }, () => {
  const s = pki.issue('v', { sans: ['DNS:v.test'] });
  const tp = `${P}.common_tls_context.tls_params`;
  let spec = downstream({ common_tls_context: { tls_certificates: [certFiles(s)], tls_params: { tls_minimum_protocol_version: 'TLS_AUTO', tls_maximum_protocol_version: 'TLSv1_2' } } });
  assert.equal(spec.common.params.minVersion, 'TLSv1.2');
  assert.equal(spec.common.params.maxVersion, 'TLSv1.2');
  spec = downstream({ common_tls_context: { tls_certificates: [certFiles(s)], tls_params: { tls_minimum_protocol_version: 'TLSv1_3', ecdh_curves: ['P-384', 'X25519MLKEM768'], signature_algorithms: ['ecdsa_secp256r1_sha256'] } } });
  assert.equal(spec.common.params.minVersion, 'TLSv1.3');
  assert.equal(spec.common.params.ecdhCurve, 'P-384:X25519MLKEM768');
  assert.equal(spec.common.params.sigalgs, 'ecdsa_secp256r1_sha256');

  let p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], tls_params: { tls_minimum_protocol_version: 'TLSv1_3', tls_maximum_protocol_version: 'TLSv1_2' } } });
  assert.equal(p.path, `${tp}.tls_minimum_protocol_version`);
  assert.match(p.message, /minimum TLS version TLSv1\.3 is above the maximum TLSv1\.2/);
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], tls_params: { ecdh_curves: ['X25519', 'P-999'] } } });
  assert.equal(p.path, `${tp}.ecdh_curves[1]`);
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], tls_params: { signature_algorithms: ['rot13'] } } });
  assert.equal(p.path, `${tp}.signature_algorithms[0]`);
});

test('validation context: SAN matchers, pins, Envoy refusals without a trusted CA', { skip }, () => {
  const s = pki.issue('val', { sans: ['DNS:val.test'] });
  const vp = `${P}.common_tls_context.validation_context`;
  const spec = downstream({
    require_client_certificate: true,
    common_tls_context: {
      tls_certificates: [certFiles(s)],
      validation_context: {
        trusted_ca: { filename: pki.ca.certPath },
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://legate/' } }],
        match_subject_alt_names: [{ exact: 'client.test' }],
        verify_certificate_hash: ['AB:'.repeat(31) + 'AB'],
      },
    },
  });
  const v = spec.common.validation!;
  assert.equal(v.caCert!.path, pki.ca.certPath);
  assert.deepEqual(v.sanMatchers.map((m) => m.sanType), ['URI', 'DNS', 'URI', 'EMAIL', 'IP_ADDRESS']);
  assert.deepEqual(v.certHashes, ['ab'.repeat(32)]);

  let p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], validation_context: { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'x' } }] } } });
  assert.equal(p.path, vp);
  assert.match(p.message, /without trusted_ca is insecure/);
  p = oneProblem({ require_client_certificate: true, common_tls_context: { tls_certificates: [certFiles(s)] } });
  assert.equal(p.path, `${P}.require_client_certificate`);
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], validation_context: { trusted_ca: { filename: pki.ca.certPath }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { safe_regex: { regex: '(a' } } }] } } });
  assert.equal(p.path, `${vp}.match_typed_subject_alt_names[0].matcher.safe_regex.regex`);
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], validation_context: { trusted_ca: { filename: pki.ca.certPath }, match_typed_subject_alt_names: [{ san_type: 'OTHER_NAME', matcher: { exact: 'x' } }] } } });
  assert.equal(p.code, 'not_supported');
  assert.equal(p.path, `${vp}.match_typed_subject_alt_names[0].san_type`);
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], validation_context: { verify_certificate_spki: ['short'] } } });
  assert.equal(p.path, `${vp}.verify_certificate_spki[0]`);
  p = oneProblem({ common_tls_context: { tls_certificates: [certFiles(s)], validation_context: { trusted_ca: { inline_string: 'not a pem' } } } });
  assert.equal(p.path, `${vp}.trusted_ca.inline_string`);
});

test('a server context needs a certificate; unsupported fields are reported, not ignored', { skip }, () => {
  let p = oneProblem({ common_tls_context: {} });
  assert.equal(p.code, 'missing_field');
  assert.equal(p.path, `${P}.common_tls_context.tls_certificates`);
  const s = pki.issue('u', { sans: ['DNS:u.test'] });
  p = oneProblem({ session_ticket_keys: { keys: [] }, common_tls_context: { tls_certificates: [certFiles(s)] } });
  assert.deepEqual([p.code, p.path], ['not_supported', `${P}.session_ticket_keys`]);
  p = oneProblem({ common_tls_context: { tls_certificates: [{ ...certFiles(s), ocsp_staple: { inline_string: 'x' } }] } });
  assert.deepEqual([p.code, p.path], ['not_supported', `${CERTS}[0].ocsp_staple`]);
  p = oneProblem({ common_tls_context: { tls_certificates: [{ certificate_chain: { environment_variable: 'CERT' }, private_key: { filename: s.keyPath } }] } });
  assert.deepEqual([p.code, p.path], ['not_supported', `${CERTS}[0].certificate_chain.environment_variable`]);
});

test('upstream contexts: defaults, sni, at most one client certificate', { skip }, () => {
  const spec = upstream({ sni: 'backend.test', allow_renegotiation: true, common_tls_context: { validation_context: { trusted_ca: { filename: pki.ca.certPath } } } });
  assert.equal(spec.kind, 'upstream');
  assert.equal(spec.sni, 'backend.test');
  assert.equal(spec.common.params.minVersion, 'TLSv1.2');
  assert.equal(spec.common.params.maxVersion, 'TLSv1.3');
  assert.deepEqual(spec.common.certificates, []);
  const c1 = pki.issue('c1', { sans: ['DNS:c1.test'] });
  const r = compileUpstreamTlsContext({ common_tls_context: { tls_certificates: [certFiles(c1), certFiles(c1)] } }, C);
  assert.equal(r.spec, null);
  assert.deepEqual(r.problems.map((p) => p.path), [`${C}.common_tls_context.tls_certificates`]);
});

test('compileTransportSocket: raw_buffer is no TLS; the typed_config must be the side\'s context', { skip }, () => {
  const ts = 'static_resources.listeners[0].filter_chains[0].transport_socket';
  assert.deepEqual(compileTransportSocket({ name: 'envoy.transport_sockets.raw_buffer' }, ts, 'downstream'), { spec: null, problems: [] });
  const s = pki.issue('ts', { sans: ['DNS:ts.test'] });
  const ok = compileTransportSocket({ name: 'envoy.transport_sockets.tls', typed_config: { '@type': DOWNSTREAM_TLS_CONTEXT_TYPE, common_tls_context: { tls_certificates: [certFiles(s)] } } }, ts, 'downstream');
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.spec?.id, `${ts}.typed_config`);
  const wrong = compileTransportSocket({ name: 'envoy.transport_sockets.tls', typed_config: { '@type': DOWNSTREAM_TLS_CONTEXT_TYPE } }, 'static_resources.clusters[0].transport_socket', 'upstream');
  assert.equal(wrong.spec, null);
  assert.equal(wrong.problems[0]!.path, 'static_resources.clusters[0].transport_socket.typed_config');
});
