// Worker thread. The upstream side of one UpstreamTlsSpec (one per cluster, per worker): tls.connect options for
// each new upstream connection, verification as Envoy does it (on whenever trusted_ca is given, SANs and pins
// checked, the host name itself never), and the ssl.* reason of a failed connection.

import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { log } from '../common/logger.ts';
import { PeerValidator } from './peer-validator.ts';
import { createSecureContexts } from './secure-context.ts';
import type { TlsFailureReason, UpstreamTlsSpec } from './tls-spec.ts';

/** A peer refused after its chain verified (SAN or pin mismatch, missing certificate). */
export class TlsPeerRejectedError extends Error {
  readonly code = 'ERR_LEGATE_TLS_PEER_REJECTED';
  readonly reason: TlsFailureReason;
  constructor(reason: TlsFailureReason, detail: string) {
    super(`upstream TLS peer rejected (${reason}): ${detail}`);
    this.reason = reason;
  }
}

/** OpenSSL's X509_V_ERR_* names as Node reports them in err.code: the peer's chain did not verify. */
const CHAIN_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD', 'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]);

/** The ssl.* counter for an error from a TLS connection attempt (tls.connect 'error'). */
export function tlsFailureReasonOf(err: unknown): TlsFailureReason {
  if (err instanceof TlsPeerRejectedError) return err.reason;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CHAIN_ERRORS.has(code)) return 'fail_verify_error';
  return 'connection_error';
}

/**
 * %UPSTREAM_TRANSPORT_FAILURE_REASON% for a TLS connection attempt that failed, in Envoy's shape
 * ("TLS_error:|<code>:<what OpenSSL or the check said>:TLS_error_end"), so log pipelines built for Envoy parse it.
 */
export function tlsTransportFailureReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : 'TLS_HANDSHAKE_FAILED';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return `TLS_error:|${code}:${message}:TLS_error_end`;
}

export class ClientTlsContext {
  private spec: UpstreamTlsSpec;
  private context: tls.SecureContext;
  private validator: PeerValidator;

  constructor(spec: UpstreamTlsSpec) {
    this.spec = spec;
    this.context = createSecureContexts(spec)[0]!;
    this.validator = new PeerValidator(spec.common.validation);
  }

  get currentSpec(): UpstreamTlsSpec {
    return this.spec;
  }

  /**
   * New key material (the certificate watcher's reload); connections made from now on use it. Returns false
   * (keeping the old material) if OpenSSL refuses the new one.
   */
  update(spec: UpstreamTlsSpec): boolean {
    let context: tls.SecureContext;
    try {
      context = createSecureContexts(spec)[0]!;
    } catch (err) {
      log.warn(`tls: ${spec.id}: new certificates refused, keeping the old ones: ${(err as Error).message}`);
      return false;
    }
    this.context = context;
    this.validator = new PeerValidator(spec.common.validation);
    this.spec = spec;
    return true;
  }

  /**
   * Options for tls.connect to one upstream host, once per new connection (add `socket`, `noDelay`, timeouts as
   * needed). `alpnProtocols` overrides the context's alpn_protocols (the cluster's protocol options decide ALPN
   * for HTTP); null keeps them. After 'secureConnect', call verifyPeer(). A refused peer makes tls.connect emit
   * 'error': pass it to tlsFailureReasonOf() for the counter.
   */
  connectOptions(host: string, port: number, alpnProtocols: readonly string[] | null = null): tls.ConnectionOptions {
    const o: tls.ConnectionOptions = {
      host,
      port,
      secureContext: this.context,
      // Envoy verifies the upstream only when given a CA to verify against, and never checks the host name.
      rejectUnauthorized: this.validator.hasCa,
      checkServerIdentity: this.checkServerIdentity,
    };
    if (this.spec.sni !== '') o.servername = this.spec.sni;
    const alpn = alpnProtocols ?? this.spec.common.alpnProtocols;
    if (alpn.length > 0) o.ALPNProtocols = alpn as string[];
    return o;
  }

  /**
   * Checks tls.connect could not make itself (certificate pins without trusted_ca: Node runs
   * checkServerIdentity only on a verified chain). null when accepted; otherwise destroy the socket and count
   * `ssl.<reason>`. Cheap when there is nothing left to check.
   */
  verifyPeer(socket: tls.TLSSocket): TlsFailureReason | null {
    if (this.validator.hasCa || !this.validator.hasExtraChecks) return null;
    const cert = socket.getPeerX509Certificate();
    if (cert === undefined) return 'fail_verify_no_cert';
    return this.validator.check(cert, false);
  }

  /** Node calls it after the chain verified against trusted_ca; SANs and pins are checked here. */
  private readonly checkServerIdentity = (_hostname: string, cert: tls.PeerCertificate): Error | undefined => {
    const validator = this.validator;
    if (!validator.hasExtraChecks) return undefined;
    const reason = validator.check(new X509Certificate(cert.raw), true);
    return reason === null ? undefined : new TlsPeerRejectedError(reason, `certificate ${cert.subject?.CN ?? ''} serial ${cert.serialNumber}`);
  };
}
