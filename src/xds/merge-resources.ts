// Any thread (pure; runs inside the config pipeline, on the primary or its compile thread). The bootstrap's
// static_resources plus the resources a control plane sent -> one normalized bootstrap the snapshot compiler reads
// as it reads a file: LDS listeners and CDS clusters are appended after the static ones, an HCM's `rds` becomes the
// RouteConfiguration RDS sent (inline route_config), an EDS cluster becomes a STATIC one holding the
// ClusterLoadAssignment EDS sent. Compile problems in a dynamic resource are renamed to the resource.

import type { ConfigProblem, LoadedConfig, PositionIndex } from '../config-loader/types.ts';
import type { DynamicResourceSet } from './resource-types.ts';
import { SDS_PENDING } from '../tls/tls-supported-fields.ts';
import { LISTENER_IDENTITY, listenerIdentityOf } from '../config-loader/listener-identity.ts';

type Obj = Record<string, unknown>;

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The HCMs of a normalized listener (every filter chain and the default one). */
function hcmsOf(listener: Obj): Obj[] {
  const chains = list(listener['filter_chains']).map(obj);
  if (listener['default_filter_chain'] !== undefined) chains.push(obj(listener['default_filter_chain']));
  const out: Obj[] = [];
  for (const chain of chains) {
    for (const f of list(chain['filters']).map(obj)) {
      const tc = obj(f['typed_config']);
      if (tc['@type'] === HCM_TYPE) out.push(tc);
    }
  }
  return out;
}

/** RDS names the listeners reference (rds.route_config_name), sorted. */
export function routeNamesOf(listeners: readonly Obj[]): string[] {
  const names = new Set<string>();
  for (const l of listeners) {
    for (const h of hcmsOf(l)) {
      const rds = h['rds'];
      if (rds === undefined) continue;
      const name = obj(rds)['route_config_name'];
      if (typeof name === 'string' && name !== '') names.add(name);
    }
  }
  return [...names].sort();
}

/** The EDS name of a cluster of type EDS (eds_cluster_config.service_name or the cluster's name), else undefined. */
export function edsNameOf(cluster: Obj): string | undefined {
  if (cluster['type'] !== 'EDS') return undefined;
  const service = obj(cluster['eds_cluster_config'])['service_name'];
  return typeof service === 'string' && service !== '' ? service : String(cluster['name'] ?? '');
}

export function edsNamesOf(clusters: readonly Obj[]): string[] {
  const names = new Set<string>();
  for (const c of clusters) {
    const n = edsNameOf(c);
    if (n !== undefined && n !== '') names.add(n);
  }
  return [...names].sort();
}

/** RDS names -> the stat prefixes of the connection managers that use them (their http.<prefix>.rds.<name>.*). */
export function routeUsersOf(listeners: readonly Obj[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of listeners) {
    for (const h of hcmsOf(l)) {
      if (h['rds'] === undefined) continue;
      const name = String(obj(h['rds'])['route_config_name'] ?? '');
      const prefix = String(h['stat_prefix'] ?? '');
      const users = out.get(name) ?? [];
      if (!users.includes(prefix)) users.push(prefix);
      out.set(name, users);
    }
  }
  return out;
}

/** Every CommonTlsContext-like object (one holding an SDS secret config) under `v`, with `visit` called on each. */
function eachSdsHolder(v: unknown, visit: (o: Obj) => void): void {
  if (Array.isArray(v)) {
    for (const x of v) eachSdsHolder(x, visit);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const o = v as Obj;
  if (o['tls_certificate_sds_secret_configs'] !== undefined || o['validation_context_sds_secret_config'] !== undefined) visit(o);
  for (const k of Object.keys(o)) eachSdsHolder(o[k], visit);
}

/** SDS secret names (with sds_config ads: {}) the listeners' and clusters' TLS contexts name, sorted. */
export function secretNamesOf(resources: readonly Obj[]): string[] {
  const names = new Set<string>();
  eachSdsHolder(resources, (o) => {
    for (const c of [...list(o['tls_certificate_sds_secret_configs']), o['validation_context_sds_secret_config']]) {
      const name = obj(c)['name'];
      // Secrets from files (src/xds/sds-file.ts) are not asked of the control plane.
      if (typeof name === 'string' && name !== '' && obj(obj(c)['sds_config'])['ads'] !== undefined) names.add(name);
    }
  });
  return [...names].sort();
}

/**
 * The SDS secret configs of a listener or cluster replaced by the secrets SDS sent (inline tls_certificates and
 * validation_context, as if the file had them). A secret not arrived stays a reference: the TLS compile refuses it.
 */
export function resolveSecrets(r: Obj, secrets: ReadonlyMap<string, Obj>, pending = false): Obj {
  if (secrets.size === 0 && !pending) return r;
  let found = false;
  eachSdsHolder(r, () => {
    found = true;
  });
  if (!found) return r;
  const copy = structuredClone(r);
  eachSdsHolder(copy, (o) => {
    const certs = list(o['tls_certificate_sds_secret_configs']).map(obj);
    if (certs.length > 0 && certs.every((c) => secrets.get(String(c['name']))?.['tls_certificate'] !== undefined)) {
      delete o['tls_certificate_sds_secret_configs'];
      o['tls_certificates'] = certs.map((c) => secrets.get(String(c['name']))!['tls_certificate']);
    }
    const vc = o['validation_context_sds_secret_config'];
    if (vc !== undefined) {
      const vs = secrets.get(String(obj(vc)['name']))?.['validation_context'];
      if (vs !== undefined) {
        delete o['validation_context_sds_secret_config'];
        o['validation_context'] = vs;
      }
    }
    // Before any xDS set (the start-up check of the bootstrap alone): the secrets cannot have arrived yet, so the
    // TLS compile is told not to count them missing (SDS_PENDING, src/tls/compile-tls-context.ts).
    if (pending) o[SDS_PENDING] = true;
  });
  return copy;
}

function resolveListener(l: Obj, routes: ReadonlyMap<string, Obj>): Obj {
  if (hcmsOf(l).every((h) => h['rds'] === undefined)) return l;
  const copy = structuredClone(l);
  for (const h of hcmsOf(copy)) {
    const rds = h['rds'];
    if (rds === undefined) continue;
    const name = String(obj(rds)['route_config_name'] ?? '');
    delete h['rds'];
    // Not arrived (its initial_fetch_timeout passed): an empty route table, every request a 404, as Envoy.
    const rc = { ...(routes.get(name) ?? { name }) };
    // Envoy checks the clusters of an RDS route table only when asked (validate_clusters defaults to false).
    if (rc['validate_clusters'] === undefined) rc['validate_clusters'] = false;
    h['route_config'] = rc;
  }
  return copy;
}

/** `resolved` (a copy when it is `l`) carrying the identity of `l` (src/config-loader/listener-identity.ts). */
function withIdentity(l: Obj, resolved: Obj): Obj {
  return { ...resolved, [LISTENER_IDENTITY]: listenerIdentityOf(l) };
}

/** An EDS cluster as the STATIC cluster the compiler reads, holding what EDS sent (an empty one before it). */
export function resolveCluster(c: Obj, endpoints: ReadonlyMap<string, Obj>): Obj {
  const service = edsNameOf(c);
  if (service === undefined) return c;
  const copy: Obj = { ...c, type: 'STATIC' };
  delete copy['eds_cluster_config'];
  const cla = endpoints.get(service);
  copy['load_assignment'] = { ...(cla ?? {}), cluster_name: String(c['name'] ?? '') };
  return copy;
}

/**
 * The dynamic resources alone as a bootstrap's static_resources (route tables and endpoints resolved), so a reload
 * summary can say what an xDS update changed.
 */
export function dynamicAsBootstrap(set: DynamicResourceSet | null): Obj {
  if (set === null) return {};
  const routes = new Map(set.routes.map((r) => [r.name, r.value as Obj]));
  const endpoints = new Map(set.endpoints.map((r) => [r.name, r.value as Obj]));
  const secrets = new Map((set.secrets ?? []).map((r) => [r.name, r.value as Obj]));
  return {
    static_resources: {
      listeners: set.listeners.map((r) => resolveSecrets(resolveListener(r.value as Obj, routes), secrets)),
      clusters: set.clusters.map((r) => resolveSecrets(resolveCluster(r.value as Obj, endpoints), secrets)),
    },
  };
}

/** No dynamic resource yet (a bootstrap with ADS before its first set, or --mode validate). */
export const EMPTY_DYNAMIC_SET: DynamicResourceSet = Object.freeze({
  listeners: [], clusters: [], routes: [], endpoints: [], versions: { cds: '', eds: '', lds: '', rds: '', sds: '' },
});

export interface MergedConfig {
  loaded: LoadedConfig;
  /** Renames a compile problem in a dynamic resource to that resource. */
  renameProblem(p: ConfigProblem): ConfigProblem;
}

/** `loaded` with the dynamic resources merged in (a new object: `loaded` is not changed). */
export function mergeDynamicResources(loaded: LoadedConfig, set: DynamicResourceSet): MergedConfig {
  const sr = obj(loaded.bootstrap['static_resources']);
  const routes = new Map(set.routes.map((r) => [r.name, r.value as Obj]));
  const endpoints = new Map(set.endpoints.map((r) => [r.name, r.value as Obj]));
  const staticListeners = list(sr['listeners']).map(obj);
  const staticClusters = list(sr['clusters']).map(obj);
  const secrets = new Map((set.secrets ?? []).map((r) => [r.name, r.value as Obj]));
  const pending = set === EMPTY_DYNAMIC_SET;
  // Each listener's identity as written / as sent, before its route tables and secrets are put inline.
  const listeners = [...staticListeners, ...set.listeners.map((r) => r.value as Obj)].map((l) => withIdentity(l, resolveSecrets(resolveListener(l, routes), secrets, pending)));
  const clusters = [...staticClusters, ...set.clusters.map((r) => r.value as Obj)].map((c) => resolveSecrets(resolveCluster(c, endpoints), secrets, pending));
  const bootstrap: Obj = { ...loaded.bootstrap, static_resources: { ...sr, listeners, clusters } };
  const positions: PositionIndex = {
    at(path) {
      const dyn = dynamicPrefix(path, staticListeners.length, staticClusters.length, set);
      return dyn === undefined ? loaded.positions.at(path) : undefined;
    },
  };
  return {
    loaded: { ...loaded, bootstrap, positions },
    renameProblem(p) {
      const dyn = dynamicPrefix(p.path, staticListeners.length, staticClusters.length, set);
      if (dyn === undefined) return p;
      return { ...p, path: dyn, position: undefined };
    },
  };
}

const DYN_PATH = /^static_resources\.(listeners|clusters)\[(\d+)\](.*)$/;

/** "static_resources.listeners[3].x" -> "Listener 'name' x" when index 3 is a dynamic listener. */
function dynamicPrefix(path: string, staticListeners: number, staticClusters: number, set: DynamicResourceSet): string | undefined {
  const m = DYN_PATH.exec(path);
  if (m === null) return undefined;
  const index = Number(m[2]);
  const isListeners = m[1] === 'listeners';
  const first = isListeners ? staticListeners : staticClusters;
  if (index < first) return undefined;
  const r = (isListeners ? set.listeners : set.clusters)[index - first];
  if (r === undefined) return undefined;
  const rest = m[3]!.startsWith('.') ? m[3]!.slice(1) : m[3]!;
  return `${isListeners ? 'Listener' : 'Cluster'} '${r.name}'${rest === '' ? '' : ` ${rest}`}`;
}
