// Any thread (workers build their contexts with it; the primary uses it at compile time to prove a spec builds).
// A TLS spec -> the options of tls.createSecureContext, one context per certificate.

import crypto from 'node:crypto';
import tls from 'node:tls';
import type { CommonTlsSpec, TlsCertificateSpec, TlsSpec } from './tls-spec.ts';

/** The createSecureContext options for `cert` (null: a client context without a client certificate). */
export function secureContextOptions(spec: TlsSpec, cert: TlsCertificateSpec | null): tls.SecureContextOptions {
  const common: CommonTlsSpec = spec.common;
  const p = common.params;
  const v = common.validation;
  const o: tls.SecureContextOptions = {
    minVersion: p.minVersion,
    maxVersion: p.maxVersion,
    ciphers: p.ciphers,
    ecdhCurve: p.ecdhCurve,
    // No TLS 1.2 renegotiation either way, as Envoy (BoringSSL never renegotiates as a server, and its clients
    // refuse by default): a client's renegotiating ClientHello gets a no_renegotiation alert, which fails the
    // client's handshake and closes the connection; an upstream's HelloRequest is refused the same way.
    secureOptions: crypto.constants.SSL_OP_NO_RENEGOTIATION,
  };
  if (p.sigalgs !== null) o.sigalgs = p.sigalgs;
  if (cert !== null) {
    o.cert = cert.certificateChain.text;
    o.key = cert.privateKey.text;
    if (cert.password !== null) o.passphrase = cert.password.text;
  }
  // Without trusted_ca nothing is verified (Envoy's rule), so Node's default roots are left in place unused.
  if (v !== null && v.trustedCa !== null) o.ca = v.trustedCa.text;
  if (v !== null && v.crl !== null) o.crl = v.crl.text;
  if (spec.kind === 'downstream') {
    // Envoy servers use their own cipher order (BoringSSL equal-preference groups have been flattened in order).
    o.honorCipherOrder = true;
    // Set on every context, not only the server's default one: a context chosen by SNI without it fails
    // session resumption when client certificates are verified ("session id context uninitialized").
    o.sessionIdContext = sessionIdContextOf(spec.id);
    if (spec.sessionTimeoutSeconds !== null) o.sessionTimeout = spec.sessionTimeoutSeconds;
    if (spec.ticketKeys !== null) o.ticketKeys = Buffer.from(spec.ticketKeys, 'base64');
    if (spec.disableStatelessSessionResumption) o.secureOptions! |= crypto.constants.SSL_OP_NO_TICKET;
  }
  return o;
}

/** OpenSSL allows at most 32 bytes of session id context. */
function sessionIdContextOf(id: string): string {
  return crypto.createHash('sha256').update(id).digest('hex').slice(0, 32);
}

/**
 * One SecureContext per certificate, in config order (a client context without a certificate gets one without).
 * Throws what OpenSSL throws (the compiler calls it once per spec so that never happens on a worker).
 */
export function createSecureContexts(spec: TlsSpec): tls.SecureContext[] {
  const certs = spec.common.certificates;
  if (certs.length === 0) return [tls.createSecureContext(secureContextOptions(spec, null))];
  const out: tls.SecureContext[] = [];
  for (let i = 0; i < certs.length; i++) out.push(tls.createSecureContext(secureContextOptions(spec, certs[i]!)));
  return out;
}
