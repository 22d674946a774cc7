// Any thread (pure data). What src/tls implements of Envoy's TLS transport socket messages, in the shape of
// src/config-loader/supported-fields.ts (SUPPORTED_FIELDS and SUPPORTED_ENUM_VALUES), so the loader's support
// check can take these entries as they are; compile-tls-context.ts checks the same table when called directly.

const TLS = 'envoy.extensions.transport_sockets.tls.v3';

/** Message full name -> fields implemented. */
export const TLS_SUPPORTED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'envoy.config.core.v3.TransportSocket': ['name', 'typed_config'],
  // Plaintext, written out in full (name and typed_config): it has no fields.
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer': [],
  [`${TLS}.DownstreamTlsContext`]: [
    'common_tls_context', 'require_client_certificate', 'require_sni', 'session_timeout',
    'disable_stateless_session_resumption', 'disable_stateful_session_resumption', 'full_scan_certs_on_sni_mismatch',
    'ocsp_staple_policy',
  ],
  // allow_renegotiation: Node never lets a server renegotiate a client connection, so there is nothing to allow.
  [`${TLS}.UpstreamTlsContext`]: ['common_tls_context', 'sni', 'allow_renegotiation'],
  [`${TLS}.CommonTlsContext`]: ['tls_params', 'tls_certificates', 'validation_context', 'alpn_protocols'],
  [`${TLS}.TlsParameters`]: [
    'tls_minimum_protocol_version', 'tls_maximum_protocol_version', 'cipher_suites', 'ecdh_curves', 'signature_algorithms',
  ],
  [`${TLS}.TlsCertificate`]: ['certificate_chain', 'private_key', 'password', 'watched_directory'],
  [`${TLS}.CertificateValidationContext`]: [
    'trusted_ca', 'watched_directory', 'verify_certificate_spki', 'verify_certificate_hash',
    'match_typed_subject_alt_names', 'match_subject_alt_names', 'crl', 'trust_chain_verification',
  ],
  [`${TLS}.SubjectAltNameMatcher`]: ['san_type', 'matcher'],
  'envoy.config.core.v3.WatchedDirectory': ['path'],
  'envoy.config.core.v3.DataSource': ['inline_string', 'inline_bytes', 'filename'],
  'envoy.type.matcher.v3.StringMatcher': ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'],
  'envoy.type.matcher.v3.RegexMatcher': ['regex', 'google_re2'],
};

/** `<message full name>.<enum field>` -> enum values implemented. */
export const TLS_SUPPORTED_ENUM_VALUES: Readonly<Record<string, readonly string[]>> = {
  [`${TLS}.SubjectAltNameMatcher.san_type`]: ['EMAIL', 'DNS', 'URI', 'IP_ADDRESS'],
  [`${TLS}.CertificateValidationContext.trust_chain_verification`]: ['VERIFY_TRUST_CHAIN'],
  // LENIENT_STAPLING (Envoy's default) is exactly what a context without a staple does; the strict policies need
  // TlsCertificate.ocsp_staple, which the loader reports as "not supported yet".
  [`${TLS}.DownstreamTlsContext.ocsp_staple_policy`]: ['LENIENT_STAPLING'],
};

export const DOWNSTREAM_TLS_CONTEXT = `${TLS}.DownstreamTlsContext`;
export const UPSTREAM_TLS_CONTEXT = `${TLS}.UpstreamTlsContext`;
export const DOWNSTREAM_TLS_CONTEXT_TYPE = `type.googleapis.com/${DOWNSTREAM_TLS_CONTEXT}`;
export const UPSTREAM_TLS_CONTEXT_TYPE = `type.googleapis.com/${UPSTREAM_TLS_CONTEXT}`;
export const TLS_TRANSPORT_SOCKET_NAME = 'envoy.transport_sockets.tls';
export const RAW_BUFFER_TRANSPORT_SOCKET_NAME = 'envoy.transport_sockets.raw_buffer';
export const TLS_MESSAGE_PREFIX = TLS;
/**
 * A key src/xds/merge-resources.ts sets on a CommonTlsContext whose SDS secrets cannot have arrived yet (the bootstrap
 * checked before the first xDS set): the compile leaves their absence alone. Never in a config (not a field name).
 */
export const SDS_PENDING = '@sds_pending';
