// Primary thread. Circuit breakers on the primary's side: gives every cluster of a config version its slots in the
// shared counter region (one per cluster name, kept across reloads) and writes the
// cluster.<name>.circuit_breakers.<default|high>.* gauges from the shared counters when stats are read (Envoy
// updates them on every change; read from the same counters, they say the same).

import type { StatRegistry } from '../stats/stat-registry.ts';
import { CIRCUIT_BREAKER_REMAINING_STATS, CIRCUIT_BREAKER_STATS, type ScopeSlots } from '../stats/definitions.ts';
import type { Snapshot } from '../snapshot/snapshot-types.ts';
import { CbResource, MAX_BREAKER_SLOTS, retryLimit, type BreakerThresholds, type CircuitBreakerShared } from '../upstream/circuit-breaker-shared.ts';

interface PriorityGauges {
  readonly slot: number;
  readonly thresholds: BreakerThresholds;
  readonly open: ScopeSlots<typeof CIRCUIT_BREAKER_STATS>;
  readonly remaining: ScopeSlots<typeof CIRCUIT_BREAKER_REMAINING_STATS> | null;
}

export class CircuitBreakerGauges {
  private readonly registry: StatRegistry;
  private readonly values: Float64Array;
  private readonly shared: CircuitBreakerShared;
  /** Cluster name -> its DEFAULT slot (HIGH is the next one). */
  private readonly slots = new Map<string, number>();
  private current: PriorityGauges[] = [];

  constructor(registry: StatRegistry, values: Float64Array, shared: CircuitBreakerShared) {
    this.registry = registry;
    this.values = values;
    this.shared = shared;
  }

  /** A compiled version: slots for its clusters (before it is encoded for the workers) and their gauges. */
  assign(snapshot: Snapshot): void {
    const gauges: PriorityGauges[] = [];
    for (const c of snapshot.clusters) {
      let slot = this.slots.get(c.name);
      if (slot === undefined) {
        if ((this.slots.size + 1) * 2 > MAX_BREAKER_SLOTS) throw new RangeError(`more than ${MAX_BREAKER_SLOTS / 2} clusters`);
        slot = this.slots.size * 2;
        this.slots.set(c.name, slot);
      }
      const cb = c.circuitBreakers;
      cb.slot = slot;
      const tags: [string, string][] = [['envoy_cluster_name', c.name]];
      for (const [i, name, t] of [[0, 'default', cb.default], [1, 'high', cb.high]] as const) {
        const prefix = `cluster.${c.name}.circuit_breakers.${name}.`;
        gauges.push({
          slot: slot + i,
          thresholds: t,
          open: this.registry.allocateScope(prefix, CIRCUIT_BREAKER_STATS, tags),
          remaining: t.trackRemaining ? this.registry.allocateScope(prefix, CIRCUIT_BREAKER_REMAINING_STATS, tags) : null,
        });
      }
    }
    this.current = gauges;
    this.refresh();
  }

  /** Writes every gauge of the current version from the shared counters. */
  refresh(): void {
    const v = this.values;
    const s = this.shared;
    for (const g of this.current) {
      const t = g.thresholds;
      const cx = s.count(g.slot, CbResource.CONNECTIONS);
      const pending = s.count(g.slot, CbResource.PENDING);
      const rq = s.count(g.slot, CbResource.REQUESTS);
      const retries = s.count(g.slot, CbResource.RETRIES);
      const pools = s.count(g.slot, CbResource.CONNECTION_POOLS);
      v[g.open.cx_open] = cx >= t.maxConnections ? 1 : 0;
      v[g.open.cx_pool_open] = pools >= t.maxConnectionPools ? 1 : 0;
      v[g.open.rq_pending_open] = pending >= t.maxPendingRequests ? 1 : 0;
      v[g.open.rq_open] = rq >= t.maxRequests ? 1 : 0;
      const maxRetries = retryLimit(t, pending, rq);
      v[g.open.rq_retry_open] = retries >= maxRetries ? 1 : 0;
      const r = g.remaining;
      if (r === null) continue;
      v[r.remaining_cx] = Math.max(0, t.maxConnections - cx);
      v[r.remaining_pending] = Math.max(0, t.maxPendingRequests - pending);
      v[r.remaining_rq] = Math.max(0, t.maxRequests - rq);
      v[r.remaining_retries] = Math.max(0, maxRetries - retries);
      v[r.remaining_cx_pools] = Math.max(0, t.maxConnectionPools - pools);
    }
  }

  /** Thresholds of a cluster of the current version for /clusters (DEFAULT, HIGH); null when unknown. */
  thresholdsOf(cluster: string): readonly [BreakerThresholds, BreakerThresholds] | null {
    const slot = this.slots.get(cluster);
    if (slot === undefined) return null;
    const d = this.current.find((g) => g.slot === slot);
    const h = this.current.find((g) => g.slot === slot + 1);
    return d === undefined || h === undefined ? null : [d.thresholds, h.thresholds];
  }
}
