// Any thread (pure). The bootstrap's dynamic_resources -> what the ADS client needs (where the control plane is,
// which protocol, the node), or positioned problems for what cannot work: ads_config naming no static cluster, a
// cluster without HTTP/2, rds / EDS clusters without an ADS stream to carry them.

import type { ConfigProblem, LoadedConfig } from '../config-loader/types.ts';
import { notSupportedMessage } from '../config-loader/support-check.ts';
import { compileTransportSocket } from '../tls/compile-tls-context.ts';

type Obj = Record<string, unknown>;

export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

export interface AdsSettings {
  readonly mode: 'ads';
  /** DELTA_GRPC: DeltaAggregatedResources; GRPC: StreamAggregatedResources (state of the world). */
  delta: boolean;
  /** The static cluster the stream goes to, and the grpc-js target for its first endpoint. */
  clusterName: string;
  target: string;
  setNodeOnFirstMessageOnly: boolean;
  /** 0: wait forever (Envoy's meaning of 0s). */
  initialFetchTimeoutMs: number;
  /** The normalized bootstrap node (after --service-node & co). */
  node: Obj;
  /** TLS to the control plane (the ADS cluster's UpstreamTlsContext), PEM text; null for plain TCP. */
  tls: AdsTls | null;
  /** The ADS cluster's HTTP/2 connection_keepalive (PING interval and timeout, ms); null: no keepalive, as Envoy. */
  keepalive: { intervalMs: number; timeoutMs: number } | null;
  /** Whether lds_config / cds_config are given (only those types are subscribed to, as Envoy). */
  lds: boolean;
  cds: boolean;
  /** static_resources' listeners and clusters: their rds / EDS names are subscribed to as well. */
  staticListeners: Obj[];
  staticClusters: Obj[];
  /** SDS secrets the static listeners and clusters take from files (src/xds/sds-file.ts), beside the stream. */
  sdsFiles: SdsFileRef[];
}

export interface AdsTls {
  /** trusted_ca: the control plane's certificate is verified against it (required). */
  ca: string;
  /** The client certificate and key (mTLS), or null. */
  cert: string | null;
  key: string | null;
  /** sni, '' for none; also the name the certificate is checked against when given. */
  sni: string;
}

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** File-based xDS: a DiscoveryResponse file per type (path_config_source), re-read when it changes. */
export interface FileSource {
  path: string;
  /** watched_directory.path: a move into it (a symlink swap) triggers the re-read; null: the file's own directory. */
  watchedDirectory: string | null;
}

export interface FileXdsSettings {
  readonly mode: 'files';
  lds: FileSource | null;
  cds: FileSource | null;
  /** SDS secrets the static listeners and clusters take from files (sds_config path_config_source or path). */
  sds: SdsFileRef[];
}

/** One SDS secret read from a file (src/xds/sds-file.ts). */
export interface SdsFileRef {
  name: string;
  source: FileSource;
}

/** A ConfigSource naming a file (path_config_source, or the older `path`), else null. */
export function fileSourceOf(cs: Obj): FileSource | null {
  if (cs['path_config_source'] !== undefined) {
    const pcs = obj(cs['path_config_source']);
    const wd = obj(pcs['watched_directory'])['path'];
    return { path: String(pcs['path'] ?? ''), watchedDirectory: typeof wd === 'string' && wd !== '' ? wd : null };
  }
  if (typeof cs['path'] === 'string') return { path: cs['path'], watchedDirectory: null };
  return null;
}

/**
 * The SDS secrets from files `v` names (into `refs`, by secret name). A name given two different files is a problem
 * (Envoy keys a secret by name and source; Legate by name alone, so the second file is refused).
 */
export function sdsFileRefsOf(v: unknown, path: string, refs: Map<string, FileSource>, problem: (path: string, message: string) => void): void {
  sdsConfigPaths(v, path, (at, cs, name) => {
    const source = fileSourceOf(cs);
    if (source === null) return;
    if (source.path === '') {
      problem(at, 'path_config_source needs a non-empty path');
      return;
    }
    const held = refs.get(name);
    if (held !== undefined && (held.path !== source.path || held.watchedDirectory !== source.watchedDirectory)) {
      problem(at, `not supported yet: the SDS secret '${name}' from two sources (${held.path}, ${source.path}): give each file's secret its own name`);
      return;
    }
    refs.set(name, source);
  });
}

export interface AdsCheck {
  /** null when the bootstrap has no dynamic_resources (or problems). */
  settings: AdsSettings | FileXdsSettings | null;
  problems: ConfigProblem[];
}

/** Reads and checks dynamic_resources of a loaded (schema-checked) bootstrap. */
export function adsSettingsOf(loaded: LoadedConfig): AdsCheck {
  const problems: ConfigProblem[] = [];
  const add = (path: string, message: string, code: ConfigProblem['code'] = 'bad_value'): void => {
    problems.push({ code, path, position: loaded.positions.at(path), message, suggestion: undefined });
  };
  const b = loaded.bootstrap;
  const sr = obj(b['static_resources']);
  const dr = b['dynamic_resources'] === undefined ? undefined : obj(b['dynamic_resources']);
  const ads = dr?.['ads_config'] === undefined ? undefined : obj(dr['ads_config']);

  // Everything that says `ads: {}` needs the ADS stream.
  const needsAds: string[] = [];
  const files: FileXdsSettings = { mode: 'files', lds: null, cds: null, sds: [] };
  const filePaths: string[] = [];
  if (dr !== undefined) {
    for (const k of ['lds_config', 'cds_config'] as const) {
      if (dr[k] === undefined) continue;
      const source = obj(dr[k]);
      const fileSource = fileSourceOf(source);
      if (fileSource !== null) {
        files[k === 'lds_config' ? 'lds' : 'cds'] = fileSource;
        filePaths.push(`dynamic_resources.${k}.${source['path_config_source'] !== undefined ? 'path_config_source' : 'path'}`);
      } else if (source['ads'] === undefined) {
        add(`dynamic_resources.${k}`, `${k} needs a config source: ads: {} or path_config_source (the ones supported yet)`, 'missing_field');
      } else {
        needsAds.push(`dynamic_resources.${k}`);
      }
    }
  }
  if (filePaths.length > 0 && (ads !== undefined || needsAds.length > 0)) {
    for (const p of filePaths) add(p, notSupportedMessage(`${p} beside an ADS stream (file-based and ADS xDS together)`, loaded.positions.at(p)), 'not_supported');
  }
  list(sr['clusters']).forEach((c, i) => {
    const cl = obj(c);
    if (cl['type'] !== 'EDS') return;
    const eds = obj(obj(cl['eds_cluster_config'])['eds_config']);
    const p = `static_resources.clusters[${i}].eds_cluster_config.eds_config`;
    if (eds['ads'] !== undefined) needsAds.push(p);
    else if (eds['path_config_source'] !== undefined) add(`${p}.path_config_source`, notSupportedMessage(`${p}.path_config_source (EDS from a file)`, loaded.positions.at(`${p}.path_config_source`)), 'not_supported');
    else add(`static_resources.clusters[${i}].eds_cluster_config`, 'an EDS cluster needs eds_cluster_config.eds_config with ads: {} (the only config source supported yet)', 'missing_field');
  });
  list(sr['listeners']).forEach((l, i) => {
    obj(l)['filter_chains'] === undefined || list(obj(l)['filter_chains']).forEach((chain, c) => {
      list(obj(chain)['filters']).forEach((f, n) => {
        const rds = obj(obj(f)['typed_config'])['rds'];
        if (rds === undefined) return;
        const path = `static_resources.listeners[${i}].filter_chains[${c}].filters[${n}].typed_config.rds.config_source`;
        const cs = obj(obj(rds)['config_source']);
        if (cs['ads'] !== undefined) needsAds.push(path);
        else if (cs['path_config_source'] !== undefined) add(`${path}.path_config_source`, notSupportedMessage(`${path}.path_config_source (RDS from a file)`, loaded.positions.at(`${path}.path_config_source`)), 'not_supported');
        else add(path, 'rds needs config_source with ads: {} (the only config source supported yet)', 'missing_field');
      });
    });
  });
  // SDS: a TLS context's secret configs (tls_certificate_sds_secret_configs, validation_context_sds_secret_config),
  // over ADS or from files (src/xds/sds-file.ts).
  const sdsFiles = new Map<string, FileSource>();
  const sdsFilePaths: string[] = [];
  for (const k of ['listeners', 'clusters'] as const) {
    list(sr[k]).forEach((r, i) => sdsConfigPaths(r, `static_resources.${k}[${i}]`, (path, cs) => {
      if (cs['ads'] !== undefined) needsAds.push(path);
      else if (fileSourceOf(cs) !== null) sdsFilePaths.push(path);
      else add(path, notSupportedMessage(`${path} (SDS from another config source than ads: {} or a file)`, loaded.positions.at(path)), 'not_supported');
    }));
    list(sr[k]).forEach((r, i) => sdsFileRefsOf(r, `static_resources.${k}[${i}]`, sdsFiles, (path, message) => add(path, message, message.startsWith('not supported') ? 'not_supported' : 'bad_value')));
  }
  files.sds = [...sdsFiles].map(([name, source]) => ({ name, source }));
  if (ads === undefined) {
    for (const p of needsAds) add(p, 'ads: {} needs dynamic_resources.ads_config (the ADS stream to the control plane)', 'missing_field');
    if (problems.length > 0 || (filePaths.length === 0 && files.sds.length === 0)) return { settings: null, problems };
    return { settings: files, problems };
  }
  const adsPath = 'dynamic_resources.ads_config';
  const apiType = String(ads['api_type'] ?? 'UNSUPPORTED_REST_LEGACY');
  if (apiType !== 'GRPC' && apiType !== 'DELTA_GRPC') add(`${adsPath}.api_type`, `ads_config needs api_type GRPC or DELTA_GRPC, got ${apiType}`);
  const services = list(ads['grpc_services']).map(obj);
  if (services.length !== 1) add(`${adsPath}.grpc_services`, `ads_config needs exactly one grpc_services entry, got ${services.length}`);
  const clusterName = String(obj(services[0]?.['envoy_grpc'])['cluster_name'] ?? '');
  if (services.length === 1 && clusterName === '') add(`${adsPath}.grpc_services[0]`, 'grpc_services[0] needs envoy_grpc.cluster_name (google_grpc is not supported yet)', 'missing_field');
  let target = '';
  let tls: AdsTls | null = null;
  let keepalive: AdsSettings['keepalive'] = null;
  if (clusterName !== '') {
    const index = list(sr['clusters']).findIndex((c) => obj(c)['name'] === clusterName);
    if (index < 0) {
      add(`${adsPath}.grpc_services[0].envoy_grpc.cluster_name`, `names cluster '${clusterName}', which is not defined in static_resources.clusters (the ADS cluster must be static)`, 'unknown_reference');
    } else {
      const cPath = `static_resources.clusters[${index}]`;
      const c = obj(list(sr['clusters'])[index]);
      keepalive = keepaliveOf(c);
      if (!hasHttp2(c)) add(cPath, `cluster '${clusterName}' carries the ADS stream (gRPC): it needs HTTP/2 (typed_extension_protocol_options with http2_protocol_options, or http2_protocol_options)`);
      if (c['transport_socket'] !== undefined) tls = adsTlsOf(obj(c['transport_socket']), `${cPath}.transport_socket`, loaded, add);
      const sa = firstSocketAddress(c);
      if (sa === null) add(`${cPath}.load_assignment`, `cluster '${clusterName}' carries the ADS stream: it needs an endpoint with a socket_address`, 'missing_field');
      else target = grpcTarget(sa.address, sa.port, c['type'] === 'STRICT_DNS' || c['type'] === 'LOGICAL_DNS');
    }
  }
  if (problems.length > 0) return { settings: null, problems };
  return {
    settings: {
      mode: 'ads',
      delta: apiType === 'DELTA_GRPC',
      clusterName,
      target,
      setNodeOnFirstMessageOnly: ads['set_node_on_first_message_only'] === true,
      initialFetchTimeoutMs: initialFetchTimeoutOf(dr!),
      node: obj(b['node']),
      tls,
      keepalive,
      lds: dr?.['lds_config'] !== undefined,
      cds: dr?.['cds_config'] !== undefined,
      staticListeners: list(sr['listeners']).map(obj),
      staticClusters: list(sr['clusters']).map(obj),
      sdsFiles: files.sds,
    },
    problems,
  };
}

/**
 * The ADS cluster's transport socket as gRPC credentials take it: trusted_ca (required: gRPC always verifies the
 * server), an optional client certificate, sni. What gRPC's credentials cannot do is refused.
 */
function adsTlsOf(ts: Obj, path: string, loaded: LoadedConfig, add: (path: string, message: string, code?: ConfigProblem['code']) => void): AdsTls | null {
  const r = compileTransportSocket(ts, path, 'upstream');
  for (const p of r.problems) add(p.path, p.message, p.code);
  if (r.spec === null || r.spec.kind !== 'upstream') return null;
  const spec = r.spec;
  const ctxPath = `${path}.typed_config.common_tls_context`;
  const refuse = (what: string, at: string): null => {
    add(at, notSupportedMessage(`${what} on the xDS control plane's cluster (gRPC credentials)`, loaded.positions.at(at)), 'not_supported');
    return null;
  };
  const v = spec.common.validation;
  if (v === null || v.trustedCa === null) {
    add(ctxPath, 'TLS to the xDS control plane needs validation_context.trusted_ca (gRPC verifies the server certificate)', 'missing_field');
    return null;
  }
  if (v.sanMatchers.length > 0 || v.spkiPins.length > 0 || v.certHashes.length > 0 || v.crl !== null) {
    return refuse('SAN matchers, pins, hashes or a CRL', `${ctxPath}.validation_context`);
  }
  const cert = spec.common.certificates[0];
  if (cert !== undefined && cert.password !== null) return refuse('a password-protected private key', `${ctxPath}.tls_certificates[0].password`);
  return { ca: v.trustedCa.text, cert: cert?.certificateChain.text ?? null, key: cert?.privateKey.text ?? null, sni: spec.sni };
}

/** The smaller of lds_config's and cds_config's initial_fetch_timeout (Envoy's default 15 s; 0 waits forever). */
function initialFetchTimeoutOf(dr: Obj): number {
  const values: number[] = [];
  for (const k of ['lds_config', 'cds_config']) {
    const v = obj(dr[k])['initial_fetch_timeout'];
    values.push(typeof v === 'number' ? v : DEFAULT_INITIAL_FETCH_TIMEOUT_MS);
  }
  if (values.every((v) => v === 0)) return 0;
  return Math.min(...values.filter((v) => v > 0));
}

/** http2_protocol_options.connection_keepalive of the cluster (typed_extension_protocol_options or the old field). */
function keepaliveOf(c: Obj): AdsSettings['keepalive'] {
  const candidates: Obj[] = [obj(c['http2_protocol_options'])];
  const tepo = obj(c['typed_extension_protocol_options']);
  for (const k of Object.keys(tepo)) candidates.push(obj(obj(obj(tepo[k])['explicit_http_config'])['http2_protocol_options']));
  for (const h2 of candidates) {
    const ka = h2['connection_keepalive'];
    if (ka === undefined) continue;
    const interval = obj(ka)['interval'];
    const timeout = obj(ka)['timeout'];
    if (typeof interval !== 'number' || interval <= 0) return null;
    return { intervalMs: interval, timeoutMs: typeof timeout === 'number' && timeout > 0 ? timeout : 20_000 };
  }
  return null;
}

function hasHttp2(c: Obj): boolean {
  if (c['http2_protocol_options'] !== undefined) return true;
  const tepo = obj(c['typed_extension_protocol_options']);
  for (const k of Object.keys(tepo)) {
    const o = obj(tepo[k]);
    if (obj(o['explicit_http_config'])['http2_protocol_options'] !== undefined) return true;
  }
  return false;
}

function firstSocketAddress(c: Obj): { address: string; port: number } | null {
  for (const e of list(obj(c['load_assignment'])['endpoints'])) {
    for (const lb of list(obj(e)['lb_endpoints'])) {
      const sa = obj(obj(obj(obj(lb)['endpoint'])['address'])['socket_address']);
      if (typeof sa['address'] === 'string' && typeof sa['port_value'] === 'number') return { address: sa['address'], port: sa['port_value'] };
    }
  }
  return null;
}

function grpcTarget(address: string, port: number, dns: boolean): string {
  if (dns) return `dns:${address}:${port}`;
  return address.includes(':') ? `ipv6:[${address}]:${port}` : `ipv4:${address}:${port}`;
}

/** Every sds_config of an SDS secret config under `v` (its path and its ConfigSource). */
export function sdsConfigPaths(v: unknown, path: string, visit: (path: string, cs: Record<string, unknown>, name: string) => void): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => sdsConfigPaths(x, `${path}[${i}]`, visit));
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const at = path === '' ? k : `${path}.${k}`;
    if ((k === 'tls_certificate_sds_secret_configs' || k === 'validation_context_sds_secret_config')) {
      const configs = Array.isArray(o[k]) ? (o[k] as unknown[]).map((c, i) => [c, `${at}[${i}]`] as const) : [[o[k], at] as const];
      for (const [c, cp] of configs) {
        const cs = (c as Record<string, unknown> | null)?.['sds_config'];
        const name = String((c as Record<string, unknown> | null)?.['name'] ?? '');
        if (cs === undefined) visit(`${cp}.sds_config`, {}, name);
        else visit(`${cp}.sds_config`, cs as Record<string, unknown>, name);
      }
      continue;
    }
    sdsConfigPaths(o[k], at, visit);
  }
}
