// Primary (or its piscina compile thread): config time and certificate reloads. Normalized DownstreamTlsContext /
// UpstreamTlsContext -> frozen TlsSpec, with every referenced file read and checked: PEM parses, the key matches
// its certificate, names are known to OpenSSL, versions are in order, and the whole context builds. Problems carry
// the field path of what is wrong (e.g. `<path>.common_tls_context.tls_certificates[0].private_key.filename`).

import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { deepFreeze } from '../common/deep-freeze.ts';
import { isObj, list, obj, type Obj } from '../router/config-values.ts';
import { compileStringMatcher } from '../router/string-matcher.ts';
import { certDetailsOf, certificateBlocks, serverNamesOf } from './certificates.ts';
import { createSecureContexts } from './secure-context.ts';
import { compileTlsParams } from './tls-params.ts';
import {
  DOWNSTREAM_TLS_CONTEXT, DOWNSTREAM_TLS_CONTEXT_TYPE, RAW_BUFFER_TRANSPORT_SOCKET_NAME, TLS_MESSAGE_PREFIX,
  SDS_PENDING, TLS_SUPPORTED_ENUM_VALUES, TLS_SUPPORTED_FIELDS, TLS_TRANSPORT_SOCKET_NAME, UPSTREAM_TLS_CONTEXT, UPSTREAM_TLS_CONTEXT_TYPE,
} from './tls-supported-fields.ts';
import type {
  CertDetailsSpec, CommonTlsSpec, DownstreamTlsSpec, SanMatcherSpec, SanSpec, TlsCertificateSpec, TlsConfigProblem,
  TlsDataSpec, TlsSpec, UpstreamTlsSpec, ValidationSpec,
} from './tls-spec.ts';

export interface CompileTlsResult<S extends TlsSpec> {
  /** Frozen; null when there is any problem. */
  spec: S | null;
  problems: TlsConfigProblem[];
}

const INLINE_PATH = '<inline>';
const SAN_TYPES: readonly SanSpec['type'][] = ['DNS', 'URI', 'EMAIL', 'IP_ADDRESS'];

class Problems {
  readonly list: TlsConfigProblem[] = [];
  add(code: TlsConfigProblem['code'], path: string, message: string): void {
    this.list.push({ code, path, message });
  }
  get count(): number {
    return this.list.length;
  }
}

/** Fields the loader's support check would reject (see tls-supported-fields.ts), for callers that skip it. */
function checkFields(o: Obj, message: string, path: string, out: Problems): void {
  const allowed = TLS_SUPPORTED_FIELDS[message];
  if (allowed === undefined) return;
  for (const key of Object.keys(o)) {
    if (key === '@type') continue;
    if (!allowed.includes(key)) {
      out.add('not_supported', `${path}.${key}`, `${key} is not supported yet`);
      continue;
    }
    const values = TLS_SUPPORTED_ENUM_VALUES[`${message}.${key}`];
    if (values !== undefined && typeof o[key] === 'string' && !values.includes(o[key] as string)) {
      out.add('not_supported', `${path}.${key}`, `${key} ${o[key] as string} is not supported yet (supported: ${values.join(', ')})`);
    }
  }
}

// ---- DataSource ----

function readFile(filename: string, path: string, what: string, out: Problems): string | null {
  try {
    return fs.readFileSync(filename, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    out.add('io', path, `cannot read ${what} '${filename}': ${e.code ?? e.message}`);
    return null;
  }
}

/** A DataSource at `path` -> its text; null (with a problem) when absent or unreadable. */
function readDataSource(v: unknown, path: string, what: string, out: Problems): TlsDataSpec | null {
  const ds = obj(v);
  const set = (['filename', 'inline_string', 'inline_bytes'] as const).filter((k) => ds[k] !== undefined);
  if (set.length === 0) {
    if (ds['environment_variable'] === undefined) out.add('missing_field', path, `${what}: one of filename, inline_string, inline_bytes is required`);
    else out.add('not_supported', `${path}.environment_variable`, 'environment_variable is not supported yet');
    return null;
  }
  if (set.length > 1) {
    out.add('bad_value', path, `only one of filename, inline_string, inline_bytes may be set`);
    return null;
  }
  const field = set[0]!;
  const value = ds[field];
  if (typeof value !== 'string') {
    out.add('bad_value', `${path}.${field}`, 'must be a string');
    return null;
  }
  if (field === 'filename') {
    const text = readFile(value, `${path}.filename`, what, out);
    return text === null ? null : { field, filename: value, text };
  }
  if (field === 'inline_bytes') return { field, filename: null, text: Buffer.from(value, 'base64').toString('utf8') };
  return { field, filename: null, text: value };
}

/** The same source read again (a file changed); inline data is as it was. */
function rereadDataSource(d: TlsDataSpec, path: string, what: string, out: Problems): TlsDataSpec | null {
  if (d.filename === null) return d;
  const text = readFile(d.filename, `${path}.filename`, what, out);
  return text === null ? null : { field: d.field, filename: d.filename, text };
}

function dataPath(path: string, d: TlsDataSpec): string {
  return `${path}.${d.field}`;
}

function displayPath(d: TlsDataSpec): string {
  return d.filename ?? INLINE_PATH;
}

// ---- Certificates and keys ----

/** Every certificate in a PEM bundle, parsed; null (with a problem at `path`) if none or one does not parse. */
function parseCertificates(d: TlsDataSpec, path: string, what: string, out: Problems): X509Certificate[] | null {
  const blocks = certificateBlocks(d.text);
  if (blocks.length === 0) {
    out.add('bad_value', dataPath(path, d), `${what} '${displayPath(d)}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return null;
  }
  const certs: X509Certificate[] = [];
  for (let i = 0; i < blocks.length; i++) {
    try {
      certs.push(new X509Certificate(blocks[i]!));
    } catch (err) {
      out.add('bad_value', dataPath(path, d), `${what} '${displayPath(d)}': certificate ${i + 1} does not parse: ${(err as Error).message}`);
      return null;
    }
  }
  return certs;
}

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

interface LoadedCertificate {
  certificateChain: TlsDataSpec;
  privateKey: TlsDataSpec;
  password: TlsDataSpec | null;
}

/** Chain parses, key parses (with its password), key matches the leaf -> the rest of a TlsCertificateSpec. */
function finishCertificate(
  src: LoadedCertificate,
  configPath: string,
  watchedDirectory: string | null,
  out: Problems,
): TlsCertificateSpec | null {
  const chain = parseCertificates(src.certificateChain, `${configPath}.certificate_chain`, 'certificate_chain', out);
  const keyPath = dataPath(`${configPath}.private_key`, src.privateKey);
  if (!PEM_PRIVATE_KEY.test(src.privateKey.text)) {
    out.add('bad_value', keyPath, `private_key '${displayPath(src.privateKey)}' holds no PEM private key`);
    return null;
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: src.privateKey.text, format: 'pem', passphrase: src.password?.text });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = src.password === null
      ? (e.code === 'ERR_MISSING_PASSPHRASE' ? ' (the key is encrypted: set password)' : '')
      : ' (wrong password?)';
    out.add('bad_value', keyPath, `private_key '${displayPath(src.privateKey)}' does not parse: ${e.message}${hint}`);
    return null;
  }
  if (chain === null) return null;
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) {
    out.add('bad_value', keyPath, `private_key '${displayPath(src.privateKey)}' does not match the certificate in certificate_chain '${displayPath(src.certificateChain)}'`);
    return null;
  }
  const details = certDetailsOf(leaf, displayPath(src.certificateChain));
  return {
    configPath,
    certificateChain: src.certificateChain,
    privateKey: src.privateKey,
    password: src.password,
    watchedDirectory,
    serverNames: serverNamesOf(details),
    leaf: details,
  };
}

function watchedDirectoryOf(v: unknown, path: string, out: Problems): string | null {
  if (v === undefined) return null;
  const p = obj(v)['path'];
  if (typeof p !== 'string' || p === '') {
    out.add('missing_field', `${path}.path`, 'watched_directory needs a path');
    return null;
  }
  return p;
}

function compileTlsCertificate(v: unknown, path: string, out: Problems): TlsCertificateSpec | null {
  const c = obj(v);
  checkFields(c, `${TLS_MESSAGE_PREFIX}.TlsCertificate`, path, out);
  const before = out.count;
  if (c['certificate_chain'] === undefined) out.add('missing_field', `${path}.certificate_chain`, 'a TLS certificate needs certificate_chain');
  if (c['private_key'] === undefined) out.add('missing_field', `${path}.private_key`, 'a TLS certificate needs private_key');
  if (out.count > before) return null;
  const certificateChain = readDataSource(c['certificate_chain'], `${path}.certificate_chain`, 'certificate_chain', out);
  const privateKey = readDataSource(c['private_key'], `${path}.private_key`, 'private_key', out);
  const password = c['password'] === undefined ? null : readDataSource(c['password'], `${path}.password`, 'password', out);
  const watched = watchedDirectoryOf(c['watched_directory'], `${path}.watched_directory`, out);
  if (out.count > before || certificateChain === null || privateKey === null) return null;
  return finishCertificate({ certificateChain, privateKey, password }, path, watched, out);
}

// ---- Validation context ----

function compileSanMatchers(vc: Obj, path: string, out: Problems): SanMatcherSpec[] {
  const matchers: SanMatcherSpec[] = [];
  const checkMatcher = (m: Obj, at: string): boolean => {
    const problems: { path: string; message: string }[] = [];
    const compiled = compileStringMatcher(m, at, problems);
    for (const p of problems) out.add('bad_value', p.path, p.message);
    return compiled !== null && problems.length === 0;
  };
  list(vc['match_typed_subject_alt_names']).forEach((item, i) => {
    const at = `${path}.match_typed_subject_alt_names[${i}]`;
    const t = obj(item);
    checkFields(t, `${TLS_MESSAGE_PREFIX}.SubjectAltNameMatcher`, at, out);
    const sanType = t['san_type'];
    if (typeof sanType !== 'string' || !(SAN_TYPES as readonly string[]).includes(sanType)) {
      if (sanType !== 'OTHER_NAME') out.add('bad_value', `${at}.san_type`, `san_type must be one of ${SAN_TYPES.join(', ')}`);
      return;
    }
    if (!isObj(t['matcher'])) {
      out.add('missing_field', `${at}.matcher`, 'a SAN matcher needs matcher');
      return;
    }
    if (checkMatcher(t['matcher'], `${at}.matcher`)) matchers.push({ sanType: sanType as SanSpec['type'], matcher: t['matcher'] });
  });
  // The deprecated form matches any SAN of these types (Envoy expands it the same way).
  list(vc['match_subject_alt_names']).forEach((item, i) => {
    const at = `${path}.match_subject_alt_names[${i}]`;
    const m = obj(item);
    if (!checkMatcher(m, at)) return;
    for (const sanType of SAN_TYPES) matchers.push({ sanType, matcher: m });
  });
  return matchers;
}

function compilePins(vc: Obj, path: string, out: Problems): { spkiPins: string[]; certHashes: string[] } {
  const spkiPins: string[] = [];
  list(vc['verify_certificate_spki']).forEach((v, i) => {
    const s = typeof v === 'string' ? v : '';
    if (!/^[A-Za-z0-9+/]{43}=$/.test(s) || Buffer.from(s, 'base64').length !== 32) {
      out.add('bad_value', `${path}.verify_certificate_spki[${i}]`, 'expected the base64 SHA-256 of a SubjectPublicKeyInfo (44 characters)');
      return;
    }
    spkiPins.push(s);
  });
  const certHashes: string[] = [];
  list(vc['verify_certificate_hash']).forEach((v, i) => {
    const hex = (typeof v === 'string' ? v : '').replace(/:/g, '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      out.add('bad_value', `${path}.verify_certificate_hash[${i}]`, 'expected a hex SHA-256 of the certificate (64 hex digits, colons allowed)');
      return;
    }
    certHashes.push(hex);
  });
  return { spkiPins, certHashes };
}

/** trusted_ca and crl parse -> caCert details. */
function finishValidation(v: Omit<ValidationSpec, 'caCert'>, out: Problems): ValidationSpec | null {
  let caCert: CertDetailsSpec | null = null;
  if (v.trustedCa !== null) {
    const cas = parseCertificates(v.trustedCa, `${v.configPath}.trusted_ca`, 'trusted_ca', out);
    if (cas === null) return null;
    caCert = certDetailsOf(cas[0]!, displayPath(v.trustedCa));
    if (v.crl !== null) {
      try {
        tls.createSecureContext({ ca: v.trustedCa.text, crl: v.crl.text });
      } catch (err) {
        out.add('bad_value', dataPath(`${v.configPath}.crl`, v.crl), `crl '${displayPath(v.crl)}' does not parse: ${(err as Error).message}`);
        return null;
      }
    }
  }
  return { ...v, caCert };
}

function compileValidationContext(v: unknown, path: string, out: Problems): ValidationSpec | null {
  const vc = obj(v);
  checkFields(vc, `${TLS_MESSAGE_PREFIX}.CertificateValidationContext`, path, out);
  const before = out.count;
  const trustedCa = vc['trusted_ca'] === undefined ? null : readDataSource(vc['trusted_ca'], `${path}.trusted_ca`, 'trusted_ca', out);
  const crl = vc['crl'] === undefined ? null : readDataSource(vc['crl'], `${path}.crl`, 'crl', out);
  const watchedDirectory = watchedDirectoryOf(vc['watched_directory'], `${path}.watched_directory`, out);
  const sanMatchers = compileSanMatchers(vc, path, out);
  const { spkiPins, certHashes } = compilePins(vc, path, out);
  // Envoy's own rules (DefaultCertValidator): these are refused rather than silently weakened.
  if (vc['trusted_ca'] === undefined) {
    if (vc['crl'] !== undefined) out.add('bad_value', `${path}.crl`, 'a CRL cannot be used without trusted_ca');
    if (vc['match_typed_subject_alt_names'] !== undefined || vc['match_subject_alt_names'] !== undefined) {
      out.add('bad_value', path, 'SAN-based verification of peer certificates without trusted_ca is insecure and not allowed');
    }
  }
  if (out.count > before) return null;
  return finishValidation({ configPath: path, trustedCa, crl, watchedDirectory, sanMatchers, spkiPins, certHashes }, out);
}

// ---- CommonTlsContext ----

/**
 * SDS secret configs are replaced by the secrets themselves before a compile (src/xds/merge-resources.ts); one still
 * here names a secret that has not arrived (or holds no certificate / validation context).
 */
function withoutSdsReferences(c: Obj, path: string, out: Problems): { c: Obj; certsPending: boolean } {
  const keys = ['tls_certificate_sds_secret_configs', 'validation_context_sds_secret_config'];
  if (keys.every((k) => c[k] === undefined) && c[SDS_PENDING] === undefined) return { c, certsPending: false };
  const copy = { ...c };
  const pending = copy[SDS_PENDING] === true;
  delete copy[SDS_PENDING];
  let certsPending = false;
  for (const k of keys) {
    if (copy[k] === undefined) continue;
    if (pending) {
      // Not arrived yet by design (checked again with the first xDS set); a server context shows no certificate
      // problem for it either.
      if (k === 'tls_certificate_sds_secret_configs') certsPending = true;
      delete copy[k];
      continue;
    }
    const names = (Array.isArray(copy[k]) ? (copy[k] as unknown[]) : [copy[k]]).map((x) => `'${String(obj(x)['name'] ?? '')}'`).join(', ');
    out.add('missing_field', `${path}.${k}`, `the SDS secret ${names} has not arrived from the control plane or its file (or holds no ${k.startsWith('tls') ? 'tls_certificate' : 'validation_context'})`);
    // The missing secret is the problem: no second one about the certificates it would have brought.
    if (k === 'tls_certificate_sds_secret_configs') certsPending = true;
    delete copy[k];
  }
  return { c: copy, certsPending };
}

function compileCommon(v: unknown, path: string, side: 'downstream' | 'upstream', out: Problems): CommonTlsSpec | null {
  const { c, certsPending } = withoutSdsReferences(obj(v), path, out);
  checkFields(c, `${TLS_MESSAGE_PREFIX}.CommonTlsContext`, path, out);
  const before = out.count;
  const p = obj(c['tls_params']);
  checkFields(p, `${TLS_MESSAGE_PREFIX}.TlsParameters`, `${path}.tls_params`, out);
  const params = compileTlsParams(p, `${path}.tls_params`, side, out.list);

  const certificates: TlsCertificateSpec[] = [];
  const certs = list(c['tls_certificates']);
  if (side === 'downstream' && certs.length === 0 && !certsPending) {
    out.add('missing_field', `${path}.tls_certificates`, 'a server (downstream) TLS context needs at least one certificate in tls_certificates');
  }
  if (side === 'upstream' && certs.length > 1) {
    out.add('bad_value', `${path}.tls_certificates`, 'an upstream TLS context takes at most one client certificate');
  }
  certs.forEach((cert, i) => {
    const spec = compileTlsCertificate(cert, `${path}.tls_certificates[${i}]`, out);
    if (spec !== null) certificates.push(spec);
  });

  const validation = c['validation_context'] === undefined ? null : compileValidationContext(c['validation_context'], `${path}.validation_context`, out);

  const alpnProtocols: string[] = [];
  list(c['alpn_protocols']).forEach((a, i) => {
    if (typeof a !== 'string' || a === '' || Buffer.byteLength(a) > 255) {
      out.add('bad_value', `${path}.alpn_protocols[${i}]`, 'an ALPN protocol name is 1 to 255 bytes');
      return;
    }
    alpnProtocols.push(a);
  });
  if (out.count > before) return null;
  return { certificates, params, validation, alpnProtocols };
}

/** The whole context must build in OpenSSL (curve/sigalg/key-type combinations only OpenSSL can judge). */
function checkBuilds(spec: TlsSpec, path: string, out: Problems): void {
  try {
    createSecureContexts(spec);
  } catch (err) {
    out.add('bad_value', `${path}.common_tls_context`, `OpenSSL cannot build this TLS context: ${(err as Error).message}`);
  }
}

function finish<S extends TlsSpec>(spec: S, path: string, out: Problems): CompileTlsResult<S> {
  checkBuilds(spec, path, out);
  return out.count > 0 ? { spec: null, problems: out.list } : { spec: deepFreeze(spec), problems: out.list };
}

// ---- Entry points ----

/**
 * A normalized envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext at `path` (usually
 * `...filter_chains[i].transport_socket.typed_config`). The spec's id is `path`.
 */
export function compileDownstreamTlsContext(ctx: Obj, path: string): CompileTlsResult<DownstreamTlsSpec> {
  const out = new Problems();
  checkFields(ctx, DOWNSTREAM_TLS_CONTEXT, path, out);
  const common = compileCommon(ctx['common_tls_context'], `${path}.common_tls_context`, 'downstream', out);
  const requireClientCertificate = ctx['require_client_certificate'] === true;
  if (requireClientCertificate && common !== null) {
    const v = common.validation;
    if (v === null || (v.trustedCa === null && v.spkiPins.length === 0 && v.certHashes.length === 0)) {
      out.add('bad_value', `${path}.require_client_certificate`, 'require_client_certificate needs common_tls_context.validation_context with trusted_ca (or certificate pins) to verify the client certificate against');
    }
  }
  let sessionTimeoutSeconds: number | null = null;
  const st = ctx['session_timeout'];
  if (st !== undefined) {
    if (typeof st !== 'number' || !Number.isFinite(st) || st < 0) out.add('bad_value', `${path}.session_timeout`, 'must be a non-negative duration');
    else sessionTimeoutSeconds = Math.floor(st / 1000);
  }
  const disableStatelessSessionResumption = ctx['disable_stateless_session_resumption'] === true;
  if (common === null || out.count > 0) return { spec: null, problems: out.list };
  return finish<DownstreamTlsSpec>({
    kind: 'downstream',
    id: path,
    common,
    requireClientCertificate,
    requireSni: ctx['require_sni'] === true,
    sessionTimeoutSeconds,
    disableStatelessSessionResumption,
    ticketKeys: disableStatelessSessionResumption ? null : crypto.randomBytes(48).toString('base64'),
  }, path, out);
}

/** A normalized envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext at `path` (a cluster's transport_socket.typed_config). */
export function compileUpstreamTlsContext(ctx: Obj, path: string): CompileTlsResult<UpstreamTlsSpec> {
  const out = new Problems();
  checkFields(ctx, UPSTREAM_TLS_CONTEXT, path, out);
  const common = compileCommon(ctx['common_tls_context'], `${path}.common_tls_context`, 'upstream', out);
  const sni = typeof ctx['sni'] === 'string' ? ctx['sni'] : '';
  if (Buffer.byteLength(sni) > 255) out.add('bad_value', `${path}.sni`, 'sni is at most 255 bytes');
  if (common === null || out.count > 0) return { spec: null, problems: out.list };
  return finish<UpstreamTlsSpec>({ kind: 'upstream', id: path, common, sni }, path, out);
}

/**
 * A normalized envoy.config.core.v3.TransportSocket at `path` (a filter chain's or a cluster's transport_socket).
 * raw_buffer (plain TCP) gives spec null without problems; tls gives the side's context compiled at
 * `${path}.typed_config`.
 */
export function compileTransportSocket(ts: Obj, path: string, side: 'downstream' | 'upstream'): { spec: TlsSpec | null; problems: TlsConfigProblem[] } {
  const out = new Problems();
  checkFields(ts, 'envoy.config.core.v3.TransportSocket', path, out);
  const name = typeof ts['name'] === 'string' ? ts['name'] : '';
  const tc = obj(ts['typed_config']);
  const type = tc['@type'];
  if (name === RAW_BUFFER_TRANSPORT_SOCKET_NAME && (type === undefined || String(type).endsWith('.RawBuffer'))) {
    return { spec: null, problems: out.list };
  }
  const expected = side === 'downstream' ? DOWNSTREAM_TLS_CONTEXT_TYPE : UPSTREAM_TLS_CONTEXT_TYPE;
  if (type !== expected) {
    const what = side === 'downstream' ? 'a listener filter chain' : 'a cluster';
    out.add(type === undefined ? 'missing_field' : 'not_supported', `${path}.typed_config`,
      `${what} takes transport socket ${TLS_TRANSPORT_SOCKET_NAME} with ${expected.slice(expected.lastIndexOf('.') + 1)} or ${RAW_BUFFER_TRANSPORT_SOCKET_NAME}${type === undefined ? '' : `, not ${String(type)}`}`);
    return { spec: null, problems: out.list };
  }
  if (out.count > 0) return { spec: null, problems: out.list };
  return side === 'downstream' ? compileDownstreamTlsContext(tc, `${path}.typed_config`) : compileUpstreamTlsContext(tc, `${path}.typed_config`);
}

/**
 * Reads every file of `spec` again and re-checks it (a watched file changed). Inline data, names and settings
 * are kept as compiled; so are the session ticket keys. A problem (a half-written file, a key that does not
 * match yet) gives spec null: keep serving the old one.
 */
export function reloadTlsSpec<S extends TlsSpec>(spec: S): CompileTlsResult<S> {
  const out = new Problems();
  const certificates: TlsCertificateSpec[] = [];
  for (const c of spec.common.certificates) {
    const p = c.configPath;
    const certificateChain = rereadDataSource(c.certificateChain, `${p}.certificate_chain`, 'certificate_chain', out);
    const privateKey = rereadDataSource(c.privateKey, `${p}.private_key`, 'private_key', out);
    const password = c.password === null ? null : rereadDataSource(c.password, `${p}.password`, 'password', out);
    if (certificateChain === null || privateKey === null || (c.password !== null && password === null)) continue;
    const next = finishCertificate({ certificateChain, privateKey, password }, p, c.watchedDirectory, out);
    if (next !== null) certificates.push(next);
  }
  let validation: ValidationSpec | null = null;
  const v = spec.common.validation;
  if (v !== null) {
    const trustedCa = v.trustedCa === null ? null : rereadDataSource(v.trustedCa, `${v.configPath}.trusted_ca`, 'trusted_ca', out);
    const crl = v.crl === null ? null : rereadDataSource(v.crl, `${v.configPath}.crl`, 'crl', out);
    if (out.count === 0) validation = finishValidation({ ...v, trustedCa, crl }, out);
  }
  if (out.count > 0) return { spec: null, problems: out.list };
  const next = { ...spec, common: { ...spec.common, certificates, validation } } as S;
  return finish(next, spec.id, out);
}

/** Every file a spec was read from, and every watched_directory it names (what the certificate watcher watches). */
export function filesOfTlsSpec(spec: TlsSpec): { files: string[]; directories: string[] } {
  const files = new Set<string>();
  const directories = new Set<string>();
  const addData = (d: TlsDataSpec | null): void => {
    if (d !== null && d.filename !== null) files.add(d.filename);
  };
  for (const c of spec.common.certificates) {
    addData(c.certificateChain);
    addData(c.privateKey);
    addData(c.password);
    if (c.watchedDirectory !== null) directories.add(c.watchedDirectory);
  }
  const v = spec.common.validation;
  if (v !== null) {
    addData(v.trustedCa);
    addData(v.crl);
    if (v.watchedDirectory !== null) directories.add(v.watchedDirectory);
  }
  return { files: [...files], directories: [...directories] };
}
