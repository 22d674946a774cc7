// Primary (admin endpoint and the server.* gauges; pure over the specs it is given). Certificate expiry as Envoy
// reports it: the server.days_until_first_cert_expiring gauge, and /certs in envoy.admin.v3.Certificates shape.

import type { CertDetailsSpec, TlsSpec } from './tls-spec.ts';

const DAY_MS = 86_400_000;

/** What Envoy's gauge shows with no TLS context at all (uint32 max). */
export const NO_CERTIFICATES_DAYS = 0xffff_ffff;

/** Whole days left (truncated, as OpenSSL's ASN1_TIME_diff counts them); 0 once expired. */
export function daysUntilExpiration(expirationMs: number, nowMs: number): number {
  const left = expirationMs - nowMs;
  return left <= 0 ? 0 : Math.floor(left / DAY_MS);
}

/** The certificates of a spec Envoy counts: the first trusted CA and each certificate chain's leaf. */
function certsOf(spec: TlsSpec): { ca: CertDetailsSpec | null; chain: CertDetailsSpec[] } {
  const v = spec.common.validation;
  return { ca: v === null ? null : v.caCert, chain: spec.common.certificates.map((c) => c.leaf) };
}

/**
 * server.days_until_first_cert_expiring over every loaded TLS context: the fewest whole days any certificate
 * has left; 0 when one has expired; NO_CERTIFICATES_DAYS when there are none (Envoy's values).
 */
export function daysUntilFirstCertExpiring(specs: readonly TlsSpec[], nowMs: number = Date.now()): number {
  let min = NO_CERTIFICATES_DAYS;
  for (const spec of specs) {
    const { ca, chain } = certsOf(spec);
    if (ca !== null) min = Math.min(min, daysUntilExpiration(ca.expirationMs, nowMs));
    for (const leaf of chain) min = Math.min(min, daysUntilExpiration(leaf.expirationMs, nowMs));
  }
  return min;
}

/** envoy.admin.v3.SubjectAlternateName (email SANs are not part of it). */
export type AdminSubjectAltName = { dns: string } | { uri: string } | { ip_address: string };

/** envoy.admin.v3.CertificateDetails in proto3 JSON (uint64 as a string, Timestamps as RFC 3339). */
export interface AdminCertificateDetails {
  path: string;
  serial_number: string;
  subject_alt_names: AdminSubjectAltName[];
  days_until_expiration: string;
  valid_from: string;
  expiration_time: string;
}

export interface AdminCertificate {
  ca_cert: AdminCertificateDetails[];
  cert_chain: AdminCertificateDetails[];
}

/** envoy.admin.v3.Certificates: what GET /certs answers. */
export interface AdminCertificates {
  certificates: AdminCertificate[];
}

/** proto3 JSON Timestamp: no fractional part when it is zero. */
function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function detailsOf(c: CertDetailsSpec, nowMs: number): AdminCertificateDetails {
  const sans: AdminSubjectAltName[] = [];
  for (const s of c.subjectAltNames) {
    if (s.type === 'DNS') sans.push({ dns: s.value });
    else if (s.type === 'URI') sans.push({ uri: s.value });
    else if (s.type === 'IP_ADDRESS') sans.push({ ip_address: s.value });
  }
  return {
    path: c.path,
    serial_number: c.serialNumber,
    subject_alt_names: sans,
    days_until_expiration: String(daysUntilExpiration(c.expirationMs, nowMs)),
    valid_from: timestamp(c.validFromMs),
    expiration_time: timestamp(c.expirationMs),
  };
}

/** One Certificate per TLS context, in the order given (listeners' filter chains, then clusters, say). */
export function certificatesReport(specs: readonly TlsSpec[], nowMs: number = Date.now()): AdminCertificates {
  return {
    certificates: specs.map((spec) => {
      const { ca, chain } = certsOf(spec);
      return { ca_cert: ca === null ? [] : [detailsOf(ca, nowMs)], cert_chain: chain.map((c) => detailsOf(c, nowMs)) };
    }),
  };
}
