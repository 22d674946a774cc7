// Any thread (pure types). A compiled DownstreamTlsContext / UpstreamTlsContext: plain data with the key material
// already read and checked (by the primary, at config compile time and when a watched file changes), so it can go
// to workers inside the snapshot (msgpackr) and in TLS update messages. No functions, no class instances, no
// `undefined` (absent is `null`). Workers turn a spec into node:tls objects (server-tls-context.ts,
// client-tls-context.ts); nothing on a worker reads a file.

import type { ConfigErrorCode } from '../config-loader/types.ts';

/** One config problem in a TLS context; `path` is the Envoy field path of the offending field. */
export interface TlsConfigProblem {
  code: Extract<ConfigErrorCode, 'bad_value' | 'not_supported' | 'missing_field' | 'io'>;
  path: string;
  message: string;
}

/** An envoy.config.core.v3.DataSource, resolved to its text (PEM, password). */
export interface TlsDataSpec {
  /** Which member of the DataSource was set; problems found later (reload) point at it. */
  field: 'filename' | 'inline_string' | 'inline_bytes';
  /** The file it was read from (and is re-read from when it changes), or null when inline. */
  filename: string | null;
  text: string;
}

/** One SAN as Envoy's admin /certs prints it (envoy.admin.v3.SubjectAlternateName), plus email. */
export interface SanSpec {
  type: 'DNS' | 'URI' | 'EMAIL' | 'IP_ADDRESS';
  value: string;
}

/** What /certs and server.days_until_first_cert_expiring need to know about one certificate. */
export interface CertDetailsSpec {
  /** The file it came from, or "<inline>" (as Envoy prints it). */
  path: string;
  /** Lower-case hex, as Envoy prints it. */
  serialNumber: string;
  subjectAltNames: SanSpec[];
  /** Subject common name ('' when absent). */
  commonName: string;
  validFromMs: number;
  expirationMs: number;
}

/** envoy.extensions.transport_sockets.tls.v3.TlsCertificate, loaded. */
export interface TlsCertificateSpec {
  /** Field path of this TlsCertificate, for problems found on reload. */
  configPath: string;
  certificateChain: TlsDataSpec;
  privateKey: TlsDataSpec;
  password: TlsDataSpec | null;
  /** watched_directory.path, watched in addition to the files' own directories; null when absent. */
  watchedDirectory: string | null;
  /**
   * The names this certificate serves, lower-cased, for choosing it by SNI: its DNS SANs, or its subject CN when
   * it has none (as Envoy does). "*.example.com" entries are wildcards for one label.
   */
  serverNames: string[];
  /** The leaf (first) certificate of the chain. */
  leaf: CertDetailsSpec;
}

/** envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher, validated (the matcher is compiled per worker). */
export interface SanMatcherSpec {
  sanType: SanSpec['type'];
  /** Normalized envoy.type.matcher.v3.StringMatcher (plain data; compiled with src/router/string-matcher.ts). */
  matcher: Record<string, unknown>;
}

/** envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext, loaded. */
export interface ValidationSpec {
  configPath: string;
  /** PEM bundle; null when no trusted_ca was given (the peer's chain is then not verified, as in Envoy). */
  trustedCa: TlsDataSpec | null;
  /** The first CA certificate of the bundle (what Envoy's /certs shows as ca_cert); null without trusted_ca. */
  caCert: CertDetailsSpec | null;
  crl: TlsDataSpec | null;
  watchedDirectory: string | null;
  /** match_typed_subject_alt_names, plus the deprecated match_subject_alt_names expanded to each SAN type. */
  sanMatchers: SanMatcherSpec[];
  /** verify_certificate_spki: base64 SHA-256 of the DER SubjectPublicKeyInfo. */
  spkiPins: string[];
  /** verify_certificate_hash: lower-case hex SHA-256 of the DER certificate, without colons. */
  certHashes: string[];
}

/** TlsParameters with Envoy's defaults applied, in OpenSSL's terms (what tls.createSecureContext takes). */
export interface TlsParamsSpec {
  minVersion: NodeTlsVersion;
  maxVersion: NodeTlsVersion;
  /** OpenSSL cipher string: the TLS 1.0-1.2 suites, then the TLS 1.3 suites (not configurable, as in BoringSSL). */
  ciphers: string;
  /** ':'-joined curve names. */
  ecdhCurve: string;
  /** ':'-joined signature algorithms, or null for OpenSSL's defaults. */
  sigalgs: string | null;
}

export type NodeTlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface CommonTlsSpec {
  /** Downstream: at least one. Upstream: zero (no client certificate) or one. */
  certificates: TlsCertificateSpec[];
  params: TlsParamsSpec;
  validation: ValidationSpec | null;
  alpnProtocols: string[];
}

export interface DownstreamTlsSpec {
  kind: 'downstream';
  /** The field path the context was compiled from; unique in a snapshot, it names the context in TLS updates. */
  id: string;
  common: CommonTlsSpec;
  requireClientCertificate: boolean;
  requireSni: boolean;
  /** session_timeout in whole seconds; null for OpenSSL's default. */
  sessionTimeoutSeconds: number | null;
  disableStatelessSessionResumption: boolean;
  /**
   * Session ticket keys (48 random bytes, base64) made once per compiled context by the primary, so that every
   * worker and every certificate's context accepts the tickets of the others (Envoy has one process-wide key
   * per context). null when stateless resumption is disabled. Kept across certificate reloads.
   */
  ticketKeys: string | null;
}

export interface UpstreamTlsSpec {
  kind: 'upstream';
  id: string;
  common: CommonTlsSpec;
  /** SNI to send; '' sends none (Envoy does not derive it from the host unless asked). */
  sni: string;
}

export type TlsSpec = DownstreamTlsSpec | UpstreamTlsSpec;

/**
 * Why a TLS connection was refused, named as Envoy's `ssl.*` counters (listener.<address>.ssl.<reason> downstream,
 * cluster.<name>.ssl.<reason> upstream) so the caller can count it under that name.
 */
export type TlsFailureReason =
  | 'connection_error' // handshake failed (protocol, version, cipher, ALPN, timeout), or SNI required and absent
  | 'fail_verify_no_cert' // a client certificate is required and none was presented
  | 'fail_verify_error' // the peer's chain does not verify against trusted_ca (or is expired, revoked)
  | 'fail_verify_san' // no SAN of the peer certificate matches the configured SAN matchers
  | 'fail_verify_cert_hash'; // neither verify_certificate_hash nor verify_certificate_spki matches
