// Worker thread (built per TLS context from its spec; check() runs once per handshake). What Envoy's
// DefaultCertValidator checks beyond the chain that OpenSSL verifies: SAN matchers and certificate pins.

import crypto, { type X509Certificate } from 'node:crypto';
import { StringMatchKind, compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';
import { normalizeIp, parseSubjectAltNames } from './certificates.ts';
import type { SanSpec, TlsFailureReason, ValidationSpec } from './tls-spec.ts';

interface CompiledSanMatcher {
  readonly sanType: SanSpec['type'];
  readonly matcher: StringMatcher;
  /** DNS with an exact matcher follows DNS wildcard rules (Envoy's dnsNameMatch). */
  readonly dnsExact: boolean;
}

/**
 * Envoy's Utility::dnsNameMatch: `name` (from config) against `pattern` (a certificate's DNS SAN), ASCII
 * case-insensitive; "*.example.com" matches exactly one label in front of ".example.com".
 */
export function dnsNameMatch(name: string, pattern: string): boolean {
  const n = name.toLowerCase();
  const p = pattern.toLowerCase();
  if (n === p) return true;
  if (p.length > 2 && p.charCodeAt(0) === 42 /* * */ && p.charCodeAt(1) === 46 /* . */) {
    const suffix = p.slice(1);
    return n.length > suffix.length && n.endsWith(suffix) && !n.slice(0, n.length - suffix.length).includes('.');
  }
  return false;
}

export class PeerValidator {
  /** A trusted_ca was given: the chain must verify. */
  readonly hasCa: boolean;
  /** Anything to check beyond the chain (SAN matchers or pins). */
  readonly hasExtraChecks: boolean;
  private readonly sanMatchers: readonly CompiledSanMatcher[];
  private readonly spkiPins: readonly string[];
  private readonly certHashes: readonly string[];

  constructor(v: ValidationSpec | null) {
    this.hasCa = v !== null && v.trustedCa !== null;
    const matchers: CompiledSanMatcher[] = [];
    if (v !== null) {
      for (const m of v.sanMatchers) {
        // Validated at compile time, so this cannot fail here.
        let matcher = compileStringMatcher(m.matcher, '', []);
        if (matcher === null) continue;
        // An exact IP is compared in the certificate side's form (compressed IPv6).
        if (m.sanType === 'IP_ADDRESS' && matcher.kind === StringMatchKind.EXACT) {
          matcher = compileStringMatcher({ ...m.matcher, exact: normalizeIp(matcher.value) }, '', []) ?? matcher;
        }
        matchers.push({ sanType: m.sanType, matcher, dnsExact: m.sanType === 'DNS' && matcher.kind === StringMatchKind.EXACT });
      }
    }
    this.sanMatchers = matchers;
    this.spkiPins = v === null ? [] : v.spkiPins;
    this.certHashes = v === null ? [] : v.certHashes;
    this.hasExtraChecks = matchers.length > 0 || this.spkiPins.length > 0 || this.certHashes.length > 0;
  }

  /**
   * The verdict on a presented peer certificate, null when accepted. `chainVerified` is OpenSSL's verdict on the
   * chain against trusted_ca (ignored without one: Envoy does not verify then). Order as in Envoy: chain, SANs,
   * pins.
   */
  check(cert: X509Certificate, chainVerified: boolean): TlsFailureReason | null {
    if (this.hasCa && !chainVerified) return 'fail_verify_error';
    if (this.sanMatchers.length > 0 && !this.sanMatches(cert)) return 'fail_verify_san';
    if ((this.spkiPins.length > 0 || this.certHashes.length > 0) && !this.pinMatches(cert)) return 'fail_verify_cert_hash';
    return null;
  }

  private sanMatches(cert: X509Certificate): boolean {
    const sans = parseSubjectAltNames(cert.subjectAltName);
    for (let i = 0; i < sans.length; i++) {
      const san = sans[i]!;
      for (let j = 0; j < this.sanMatchers.length; j++) {
        const m = this.sanMatchers[j]!;
        if (m.sanType !== san.type) continue;
        if (m.dnsExact ? dnsNameMatch(m.matcher.value, san.value) : m.matcher.match(san.value)) return true;
      }
    }
    return false;
  }

  /** Either list matching is enough (Envoy: a match in verify_certificate_hash or verify_certificate_spki). */
  private pinMatches(cert: X509Certificate): boolean {
    if (this.certHashes.length > 0) {
      const hash = crypto.createHash('sha256').update(cert.raw).digest('hex');
      if (this.certHashes.includes(hash)) return true;
    }
    if (this.spkiPins.length > 0) {
      const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
      const pin = crypto.createHash('sha256').update(spki).digest('base64');
      if (this.spkiPins.includes(pin)) return true;
    }
    return false;
  }
}
