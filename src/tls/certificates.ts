// Any thread (pure). Reading X.509 certificates with node:crypto: PEM blocks, SANs as Envoy names them, the
// details /certs prints, and the names a certificate serves for SNI.

import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import type { CertDetailsSpec, SanSpec } from './tls-spec.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM CERTIFICATE blocks in `text`, in order. */
export function certificateBlocks(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/** Envoy prints IP SANs with inet_ntop (compressed IPv6); Node prints IPv6 uncompressed. */
export function normalizeIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new net.SocketAddress({ address: ip, family: 'ipv6' }).address;
  } catch {
    return ip;
  }
}

const SAN_TYPES: Readonly<Record<string, SanSpec['type']>> = {
  DNS: 'DNS',
  URI: 'URI',
  email: 'EMAIL',
  'IP Address': 'IP_ADDRESS',
};

/**
 * Node's subjectAltName string ("DNS:a.example, IP Address:127.0.0.1, URI:\"spiffe://x\\u002cy\"") -> SANs.
 * Node writes a value containing ',' or other special characters as a JSON string, so splitting on ", " alone
 * would be wrong. Types other than DNS, URI, email and IP are skipped (they are not matched by Envoy's SAN types).
 */
export function parseSubjectAltNames(s: string | undefined): SanSpec[] {
  const out: SanSpec[] = [];
  if (s === undefined || s === '') return out;
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon);
    let value: string;
    let next: number;
    if (s[colon + 1] === '"') {
      // A JSON string literal: find its closing quote (one not escaped by a backslash).
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(s.slice(colon + 1, j + 1)) as string;
      } catch {
        value = s.slice(colon + 2, j);
      }
      next = s.indexOf(', ', j + 1);
    } else {
      next = s.indexOf(', ', colon + 1);
      value = s.slice(colon + 1, next < 0 ? s.length : next);
    }
    const mapped = SAN_TYPES[type];
    if (mapped !== undefined) out.push({ type: mapped, value: mapped === 'IP_ADDRESS' ? normalizeIp(value) : value });
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

/** The first CN of a subject ("C=US\nCN=example.com" -> "example.com"), or ''. */
export function commonNameOf(x: X509Certificate): string {
  for (const line of x.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return '';
}

/** What /certs shows for one certificate. */
export function certDetailsOf(x: X509Certificate, path: string): CertDetailsSpec {
  return {
    path,
    serialNumber: x.serialNumber.toLowerCase(),
    subjectAltNames: parseSubjectAltNames(x.subjectAltName),
    commonName: commonNameOf(x),
    validFromMs: x.validFromDate.getTime(),
    expirationMs: x.validToDate.getTime(),
  };
}

/** The names a server certificate is chosen for by SNI: its DNS SANs, else its CN (Envoy's rule), lower-cased. */
export function serverNamesOf(details: CertDetailsSpec): string[] {
  const dns = details.subjectAltNames.filter((s) => s.type === 'DNS').map((s) => s.value.toLowerCase());
  if (dns.length > 0) return dns;
  return details.commonName === '' ? [] : [details.commonName.toLowerCase()];
}
