// Primary thread. The xDS stats under Envoy's names, written into the primary's own stats region:
// control_plane.*, listener_manager.lds.*, cluster_manager.cds.*, http.<prefix>.rds.<route>.*, cluster.<name>.* (EDS).

import type { StatRegistry } from '../stats/stat-registry.ts';
import { CLUSTER_MANAGER_STATS, CONTROL_PLANE_STATS, LISTENER_MANAGER_STATS, XDS_SUBSCRIPTION_STATS, type ScopeSlots } from '../stats/definitions.ts';
import type { XdsKind } from './resource-types.ts';

export type SubscriptionSlots = ScopeSlots<typeof XDS_SUBSCRIPTION_STATS>;
export type SubscriptionCounter = (typeof XDS_SUBSCRIPTION_STATS.counters)[number];

/** A 48-bit hash of a version_info (Envoy's version gauge is a hash of it; a Float64 holds 48 bits exactly). */
export function versionHash(version: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < version.length; i++) {
    const c = version.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return (h1 * 0x10000) + (h2 & 0xffff);
}

export class XdsStats {
  private readonly registry: StatRegistry;
  private readonly values: Float64Array;
  private readonly controlPlane: ScopeSlots<typeof CONTROL_PLANE_STATS>;
  private readonly lds: SubscriptionSlots;
  private readonly cds: SubscriptionSlots;
  private readonly clusterManager: ScopeSlots<typeof CLUSTER_MANAGER_STATS>;
  private readonly listenerManager: ScopeSlots<typeof LISTENER_MANAGER_STATS>;
  /** RDS and EDS scopes by resource name (a route table several connection managers use has several scopes). */
  private readonly named: Record<'rds' | 'eds' | 'sds', Map<string, SubscriptionSlots[]>> = { rds: new Map(), eds: new Map(), sds: new Map() };

  constructor(registry: StatRegistry, values: Float64Array) {
    this.registry = registry;
    this.values = values;
    this.controlPlane = registry.allocateScope('control_plane.', CONTROL_PLANE_STATS);
    this.lds = registry.allocateScope('listener_manager.lds.', XDS_SUBSCRIPTION_STATS);
    this.cds = registry.allocateScope('cluster_manager.cds.', XDS_SUBSCRIPTION_STATS);
    // The same slots the primary's ManagerStats writes when a version is applied (same names, same slots).
    this.clusterManager = registry.allocateScope('cluster_manager.', CLUSTER_MANAGER_STATS);
    this.listenerManager = registry.allocateScope('listener_manager.', LISTENER_MANAGER_STATS);
  }

  /** A set held for its RDS/EDS/SDS resources: how many clusters and listeners wait (Envoy's warming gauges). */
  setWarming(clusters: number, listeners: number): void {
    this.values[this.clusterManager.warming_clusters] = clusters;
    this.values[this.listenerManager.total_listeners_warming] = listeners;
  }

  setConnected(connected: boolean): void {
    this.values[this.controlPlane.connected_state] = connected ? 1 : 0;
  }

  setPendingRequests(n: number): void {
    this.values[this.controlPlane.pending_requests] = n;
  }

  /** RDS: route config name -> the stat prefixes of the connection managers that use it. */
  setRouteScopes(users: ReadonlyMap<string, readonly string[]>): void {
    this.named.rds.clear();
    for (const [name, prefixes] of users) {
      this.named.rds.set(name, prefixes.map((p) => this.registry.allocateScope(`http.${p}.rds.${name}.`, XDS_SUBSCRIPTION_STATS,
        [['envoy_http_conn_manager_prefix', p], ['envoy_rds_route_config', name]])));
    }
  }

  /** EDS: service name -> the clusters that use it. */
  setEndpointScopes(users: ReadonlyMap<string, readonly string[]>): void {
    this.named.eds.clear();
    for (const [name, clusters] of users) {
      this.named.eds.set(name, clusters.map((c) => this.registry.allocateScope(`cluster.${c}.`, XDS_SUBSCRIPTION_STATS, [['envoy_cluster_name', c]])));
    }
  }

  /** SDS secret names by where they come from (the ADS stream, files): the scopes are their union. */
  private readonly secretNames: Record<'ads' | 'files', string[]> = { ads: [], files: [] };

  /** SDS: the secret names subscribed to over ADS, or read from files (`source`) (sds.<name>.*, as Envoy). */
  setSecretScopes(names: Iterable<string>, source: 'ads' | 'files' = 'ads'): void {
    this.secretNames[source] = [...names];
    this.named.sds.clear();
    for (const name of [...this.secretNames.ads, ...this.secretNames.files]) {
      if (!this.named.sds.has(name)) this.named.sds.set(name, [this.registry.allocateScope(`sds.${name}.`, XDS_SUBSCRIPTION_STATS)]);
    }
  }

  private scopes(kind: XdsKind, names: readonly string[] | null): SubscriptionSlots[] {
    if (kind === 'lds') return [this.lds];
    if (kind === 'cds') return [this.cds];
    const table = this.named[kind];
    const out: SubscriptionSlots[] = [];
    if (names === null) {
      for (const s of table.values()) out.push(...s);
      return out;
    }
    for (const n of names) out.push(...(table.get(n) ?? []));
    return out;
  }

  /** Counts `counter` for a response of `kind` about `names` (null: every subscription of the kind). */
  inc(kind: XdsKind, counter: SubscriptionCounter, names: readonly string[] | null): void {
    for (const s of this.scopes(kind, names)) this.values[s[counter]]++;
  }

  accepted(kind: XdsKind, names: readonly string[] | null, version: string): void {
    const hash = versionHash(version);
    const now = Date.now();
    for (const s of this.scopes(kind, names)) {
      this.values[s.update_success]++;
      this.values[s.version] = hash;
      this.values[s.update_time] = now;
    }
  }
}
