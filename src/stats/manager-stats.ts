// Primary thread. cluster_manager.* and listener_manager.* as Envoy counts them: each config version applied
// (start-up, reload, xDS update) is compared by name with the previous one; a name new is added, a name gone is
// removed, a name whose compiled config differs is modified. Static resources count as added at start, as Envoy's.

import { CLUSTER_MANAGER_STATS, LISTENER_MANAGER_STATS, type ScopeSlots } from './definitions.ts';
import type { StatRegistry } from './stat-registry.ts';

/** A resource of a version: its name and a signature of its compiled config (equal signatures: unchanged). */
export interface NamedSignature {
  readonly name: string;
  readonly signature: string;
  /**
   * Listeners: the signature of the listener's own config without its filter chains. Same `own`, other
   * `signature`: only filter chains changed, an in-place update (listener_in_place_updated, not listener_modified).
   */
  readonly own?: string;
}

export class ManagerStats {
  private readonly values: Float64Array;
  private readonly clusterSlots: ScopeSlots<typeof CLUSTER_MANAGER_STATS>;
  private readonly listenerSlots: ScopeSlots<typeof LISTENER_MANAGER_STATS>;
  private clusters = new Map<string, string>();
  private listeners = new Map<string, string>();
  private listenersOwn = new Map<string, string>();
  /** --drain-time-s: how long a modified or removed listener counts in total_listeners_draining. */
  drainTimeMs = 600_000;
  private draining = 0;

  /** `values`: the primary's region. */
  constructor(registry: StatRegistry, values: Float64Array) {
    this.values = values;
    this.clusterSlots = registry.allocateScope('cluster_manager.', CLUSTER_MANAGER_STATS);
    this.listenerSlots = registry.allocateScope('listener_manager.', LISTENER_MANAGER_STATS);
  }

  /** A version is applied; `workers`: each added or modified listener is created once per worker. */
  onVersion(clusters: readonly NamedSignature[], listeners: readonly NamedSignature[], workers: number): void {
    const v = this.values;
    const c = this.clusterSlots;
    const cd = diff(this.clusters, clusters);
    v[c.cluster_added] += cd.added;
    v[c.cluster_modified] += cd.modified;
    v[c.cluster_removed] += cd.removed;
    v[c.active_clusters] = clusters.length;
    v[c.warming_clusters] = 0;
    this.clusters = cd.next;
    const l = this.listenerSlots;
    const ld = diff(this.listeners, listeners);
    let inPlace = 0;
    const own = new Map<string, string>();
    for (const r of listeners) {
      if (r.own === undefined) continue;
      own.set(r.name, r.own);
      const before = this.listeners.get(r.name);
      if (before !== undefined && before !== r.signature && this.listenersOwn.get(r.name) === r.own) inPlace++;
    }
    this.listenersOwn = own;
    v[l.listener_added] += ld.added;
    v[l.listener_modified] += ld.modified - inPlace;
    v[l.listener_in_place_updated] += inPlace;
    v[l.listener_removed] += ld.removed;
    v[l.listener_create_success] += (ld.added + ld.modified) * workers;
    v[l.total_listeners_active] = listeners.length;
    v[l.total_listeners_warming] = 0;
    // The old version of a modified or removed listener drains for the drain time (Envoy's draining listeners).
    const drained = ld.modified - inPlace + ld.removed;
    if (drained > 0) {
      this.draining += drained;
      v[l.total_listeners_draining] = this.draining;
      setTimeout(() => {
        this.draining -= drained;
        v[l.total_listeners_draining] = this.draining;
      }, this.drainTimeMs).unref();
    }
    this.listeners = ld.next;
  }
}

function diff(previous: ReadonlyMap<string, string>, current: readonly NamedSignature[]): {
  added: number;
  modified: number;
  removed: number;
  next: Map<string, string>;
} {
  const next = new Map<string, string>();
  let added = 0;
  let modified = 0;
  for (const r of current) {
    next.set(r.name, r.signature);
    const before = previous.get(r.name);
    if (before === undefined) added++;
    else if (before !== r.signature) modified++;
  }
  let removed = 0;
  for (const name of previous.keys()) if (!next.has(name)) removed++;
  return { added, modified, removed, next };
}
