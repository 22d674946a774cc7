// Any thread (pure; config time). envoy.extensions.transport_sockets.tls.v3.TlsParameters -> TlsParamsSpec:
// Envoy's defaults, BoringSSL's cipher names in OpenSSL's spelling, and every name checked against the OpenSSL
// that Node was built with, so a config that Envoy would reject (or this Node cannot serve) fails at load time.

import tls from 'node:tls';
import { closestName } from '../config-loader/did-you-mean.ts';
import type { NodeTlsVersion, TlsConfigProblem, TlsParamsSpec } from './tls-spec.ts';

type Obj = Record<string, unknown>;

/** TlsParameters.TlsProtocol names -> Node's version names. TLS_AUTO is handled by the caller (side default). */
const VERSIONS: Readonly<Record<string, NodeTlsVersion>> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};
const VERSION_ORDER: readonly NodeTlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * TLS_AUTO per side. Envoy: minimum TLSv1_2 for both; maximum TLSv1_3 for servers. For clients the shipped proto
 * comment still says TLSv1_2; Legate uses TLSv1_3 for both (the project's decision, issue 4 §4): change
 * UPSTREAM_DEFAULT_MAX here to follow the proto instead.
 */
export const DOWNSTREAM_DEFAULT_MIN: NodeTlsVersion = 'TLSv1.2';
export const DOWNSTREAM_DEFAULT_MAX: NodeTlsVersion = 'TLSv1.3';
export const UPSTREAM_DEFAULT_MIN: NodeTlsVersion = 'TLSv1.2';
export const UPSTREAM_DEFAULT_MAX: NodeTlsVersion = 'TLSv1.3';

/**
 * BoringSSL's TLS 1.0-1.2 cipher suites: every name BoringSSL accepts (its OpenSSL-style name and its standard
 * RFC name) -> OpenSSL's name. BoringSSL and OpenSSL spell the OpenSSL-style names the same; OpenSSL does not
 * accept the RFC names in a cipher string, hence the table.
 */
const BORINGSSL_SUITES: ReadonlyArray<readonly [openssl: string, rfc: string]> = [
  ['DES-CBC3-SHA', 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'],
  ['AES128-SHA', 'TLS_RSA_WITH_AES_128_CBC_SHA'],
  ['AES256-SHA', 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  ['PSK-AES128-CBC-SHA', 'TLS_PSK_WITH_AES_128_CBC_SHA'],
  ['PSK-AES256-CBC-SHA', 'TLS_PSK_WITH_AES_256_CBC_SHA'],
  ['AES128-GCM-SHA256', 'TLS_RSA_WITH_AES_128_GCM_SHA256'],
  ['AES256-GCM-SHA384', 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  ['ECDHE-ECDSA-AES128-SHA', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'],
  ['ECDHE-ECDSA-AES256-SHA', 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'],
  ['ECDHE-RSA-AES128-SHA', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  ['ECDHE-RSA-AES256-SHA', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  ['ECDHE-RSA-AES128-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  ['ECDHE-PSK-AES128-CBC-SHA', 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA'],
  ['ECDHE-PSK-AES256-CBC-SHA', 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA'],
  ['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  ['ECDHE-ECDSA-AES256-GCM-SHA384', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
  ['ECDHE-RSA-AES128-GCM-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  ['ECDHE-RSA-CHACHA20-POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  ['ECDHE-ECDSA-CHACHA20-POLY1305', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  ['ECDHE-PSK-CHACHA20-POLY1305', 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
];

const SUITE_BY_NAME: ReadonlyMap<string, string> = new Map(
  BORINGSSL_SUITES.flatMap(([openssl, rfc]) => [[openssl, openssl], [rfc, openssl]] as const),
);
const SUITE_NAMES: readonly string[] = [...SUITE_BY_NAME.keys()];

/** BoringSSL's TLS 1.3 suites: always all enabled (BoringSSL does not let them be configured; neither does Envoy). */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * Envoy's default cipher list (non-FIPS), the same for servers and clients. BoringSSL's equal-preference groups
 * ([A|B]) have no OpenSSL equivalent: a group becomes its members in order.
 */
export const ENVOY_DEFAULT_CIPHER_SUITES: readonly string[] = [
  '[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]',
  '[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
];

/** Envoy's default curves (non-FIPS). OpenSSL knows BoringSSL's curve names (X25519, P-256, X25519MLKEM768...). */
export const ENVOY_DEFAULT_ECDH_CURVES: readonly string[] = ['X25519', 'P-256'];

let availableCiphers: ReadonlySet<string> | null = null;
function nodeHasCipher(opensslName: string): boolean {
  availableCiphers ??= new Set(tls.getCiphers());
  return availableCiphers.has(opensslName.toLowerCase());
}

/** True when OpenSSL accepts `value` for the createSecureContext option `option` (config time only). */
function opensslAccepts(option: 'ecdhCurve' | 'sigalgs', value: string): boolean {
  try {
    tls.createSecureContext({ [option]: value });
    return true;
  } catch {
    return false;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** cipher_suites entries (each a name or a BoringSSL "[A|B]" group) -> OpenSSL cipher string. */
function compileCipherSuites(entries: readonly string[], path: string, problems: TlsConfigProblem[]): string {
  const out: string[] = [];
  entries.forEach((entry, i) => {
    const group = entry.startsWith('[') && entry.endsWith(']');
    const names = group ? entry.slice(1, -1).split('|') : [entry];
    for (const raw of names) {
      const name = raw.trim();
      const at = `${path}[${i}]`;
      if (TLS13_SUITES.includes(name)) {
        problems.push({ code: 'bad_value', path: at, message: `'${name}' is a TLS 1.3 suite; cipher_suites only applies to TLS 1.0-1.2 (TLS 1.3 suites are not configurable, as in Envoy)` });
        continue;
      }
      const openssl = SUITE_BY_NAME.get(name);
      if (openssl === undefined) {
        const near = closestName(name, SUITE_NAMES);
        problems.push({ code: 'bad_value', path: at, message: `unknown cipher suite '${name}'${near !== undefined ? ` (did you mean '${near}'?)` : ''}` });
        continue;
      }
      if (!nodeHasCipher(openssl)) {
        problems.push({ code: 'bad_value', path: at, message: `cipher suite '${name}' is not available in this Node.js build (OpenSSL ${process.versions.openssl})` });
        continue;
      }
      if (!out.includes(openssl)) out.push(openssl);
    }
  });
  return out.join(':');
}

function versionOf(v: unknown, dflt: NodeTlsVersion, path: string, problems: TlsConfigProblem[]): NodeTlsVersion {
  if (v === undefined || v === 'TLS_AUTO') return dflt;
  const mapped = typeof v === 'string' ? VERSIONS[v] : undefined;
  if (mapped === undefined) {
    problems.push({ code: 'bad_value', path, message: `unknown TLS version ${JSON.stringify(v)} (expected TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2 or TLSv1_3)` });
    return dflt;
  }
  return mapped;
}

/** TlsParameters (normalized; `{}` when absent) at `path` -> TlsParamsSpec with the side's defaults. */
export function compileTlsParams(p: Obj, path: string, side: 'downstream' | 'upstream', problems: TlsConfigProblem[]): TlsParamsSpec {
  const down = side === 'downstream';
  const minVersion = versionOf(p['tls_minimum_protocol_version'], down ? DOWNSTREAM_DEFAULT_MIN : UPSTREAM_DEFAULT_MIN, `${path}.tls_minimum_protocol_version`, problems);
  const maxVersion = versionOf(p['tls_maximum_protocol_version'], down ? DOWNSTREAM_DEFAULT_MAX : UPSTREAM_DEFAULT_MAX, `${path}.tls_maximum_protocol_version`, problems);
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    problems.push({ code: 'bad_value', path: `${path}.tls_minimum_protocol_version`, message: `minimum TLS version ${minVersion} is above the maximum ${maxVersion}` });
  }

  const configured = strings(p['cipher_suites']);
  const suites = configured.length > 0 ? configured : ENVOY_DEFAULT_CIPHER_SUITES;
  const tls12 = compileCipherSuites(suites, `${path}.cipher_suites`, problems);
  // Node caps the maximum at TLS 1.2 when a cipher string names no TLS 1.3 suite, so they are always listed.
  const ciphers = tls12 === '' ? TLS13_SUITES.join(':') : `${tls12}:${TLS13_SUITES.join(':')}`;

  const curvesIn = strings(p['ecdh_curves']);
  const curves = curvesIn.length > 0 ? curvesIn : ENVOY_DEFAULT_ECDH_CURVES;
  curvesIn.forEach((c, i) => {
    if (!opensslAccepts('ecdhCurve', c)) problems.push({ code: 'bad_value', path: `${path}.ecdh_curves[${i}]`, message: `unknown or unavailable ECDH curve '${c}'` });
  });

  const sigalgsIn = strings(p['signature_algorithms']);
  sigalgsIn.forEach((s, i) => {
    if (!opensslAccepts('sigalgs', s)) problems.push({ code: 'bad_value', path: `${path}.signature_algorithms[${i}]`, message: `unknown signature algorithm '${s}'` });
  });

  return { minVersion, maxVersion, ciphers, ecdhCurve: curves.join(':'), sigalgs: sigalgsIn.length > 0 ? sigalgsIn.join(':') : null };
}
