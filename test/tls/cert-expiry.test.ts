// server.days_until_first_cert_expiring and /certs (envoy.admin.v3.Certificates) over compiled specs, with a
// soon-expiring and an already expired certificate made at test time.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_CERTIFICATES_DAYS, certificatesReport, daysUntilExpiration, daysUntilFirstCertExpiring,
} from '../../src/tls/cert-expiry.ts';
import { TestPki, opensslAvailable, type IssuedCert } from './support/test-pki.ts';
import { certFiles, downstream, upstream } from './support/tls-harness.ts';

const skip = opensslAvailable() ? false : 'the openssl CLI is not installed';
const DAY = 86_400_000;

let pki: TestPki;
let soon: IssuedCert;
let expired: IssuedCert;
let longLived: IssuedCert;
before(() => {
  if (skip !== false) return;
  pki = TestPki.create();
  soon = pki.issue('soon', { sans: ['DNS:soon.test', 'IP:::1', 'URI:spiffe://legate/soon', 'email:ops@soon.test'], days: 3 });
  expired = pki.issue('expired', { sans: ['DNS:expired.test'], days: -1 });
  longLived = pki.issue('long', { sans: ['DNS:long.test'], days: 300 });
});
after(() => pki?.remove());

test('daysUntilExpiration counts whole days left and is 0 once expired', () => {
  assert.equal(daysUntilExpiration(10 * DAY, 0), 10);
  assert.equal(daysUntilExpiration(10 * DAY - 1, 0), 9);
  assert.equal(daysUntilExpiration(5, 10), 0);
});

test('days until the first certificate expires: the soonest of leaves and CAs; 0 when one expired; none is uint32 max', { skip }, () => {
  const server = downstream({ common_tls_context: { tls_certificates: [certFiles(longLived), certFiles(soon)] } });
  const cluster = upstream({ common_tls_context: { validation_context: { trusted_ca: { filename: pki.ca.certPath } } } });
  // A fixed "now", an hour after the soon-expiring certificate was issued: 3 days minus an hour left.
  const now = soon.x509.validFromDate.getTime() + 3_600_000;
  assert.equal(daysUntilFirstCertExpiring([server, cluster], now), 2);
  // The CA alone (valid for 3650 days).
  assert.equal(daysUntilFirstCertExpiring([cluster], now), Math.floor((cluster.common.validation!.caCert!.expirationMs - now) / DAY));
  const withExpired = downstream({ common_tls_context: { tls_certificates: [certFiles(expired)] } });
  assert.equal(daysUntilFirstCertExpiring([server, withExpired], now), 0);
  assert.equal(daysUntilFirstCertExpiring([], now), NO_CERTIFICATES_DAYS);
  assert.equal(NO_CERTIFICATES_DAYS, 4294967295);
});

test('/certs: one entry per context with CA and chain details in Envoy\'s JSON shape', { skip }, () => {
  const server = downstream({
    common_tls_context: { tls_certificates: [certFiles(soon)], validation_context: { trusted_ca: { filename: pki.ca.certPath } } },
  });
  const inline = downstream({ common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: expired.certPem }, private_key: { inline_string: expired.keyPem } }] } });
  const now = soon.x509.validFromDate.getTime() + 3_600_000;
  const report = certificatesReport([server, inline], now);
  assert.equal(report.certificates.length, 2);
  const [first, second] = report.certificates;
  assert.equal(first!.ca_cert.length, 1);
  assert.equal(first!.ca_cert[0]!.path, pki.ca.certPath);
  assert.deepEqual(first!.cert_chain, [{
    path: soon.certPath,
    serial_number: soon.serialNumber.toLowerCase(),
    // Email SANs are not part of envoy.admin.v3.SubjectAlternateName; IPv6 is printed compressed.
    subject_alt_names: [{ dns: 'soon.test' }, { ip_address: '::1' }, { uri: 'spiffe://legate/soon' }],
    days_until_expiration: '2',
    valid_from: soon.x509.validFromDate.toISOString().replace('.000Z', 'Z'),
    expiration_time: soon.x509.validToDate.toISOString().replace('.000Z', 'Z'),
  }]);
  assert.match(first!.cert_chain[0]!.valid_from, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(second!.ca_cert, []);
  assert.equal(second!.cert_chain[0]!.path, '<inline>');
  assert.equal(second!.cert_chain[0]!.days_until_expiration, '0');
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});
