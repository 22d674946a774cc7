// Worker thread (pure). Locality weighted load balancing (cluster common_lb_config.locality_weighted_lb_config), as
// Envoy: within one priority level, a locality is picked by weighted round robin (EDF) over its effective weight,
// LocalityLbEndpoints.load_balancing_weight scaled down by its healthy share (× the overprovisioning factor, capped at
// 1), then a host within it by the cluster's lb_policy. A locality with no weight, or no healthy host, gets nothing.
// Built with the level when the host set changes; chooseHost() is the per-request part (no allocation).

import { EdfScheduler } from './edf-scheduler.ts';
import { createLoadBalancer, type LbHost, type LbOptions, type LoadBalancer } from './load-balancers.ts';
import { OVERPROVISIONING_FACTOR } from './priority-load.ts';
import type { Hash64 } from '../../src/common/xxhash64.ts';

/** One locality of a level: all its hosts, the healthy ones, and its configured weight (0 = none). */
export interface LocalityHosts<H extends LbHost> {
  readonly weight: number;
  readonly hosts: readonly H[];
  readonly healthy: readonly H[];
}

/** Envoy's effective locality weight: weight × min(1, overprovisioning × healthy / total). */
export function effectiveLocalityWeight(weight: number, healthy: number, total: number): number {
  if (weight <= 0 || healthy === 0 || total === 0) return 0;
  return weight * Math.min(1, (OVERPROVISIONING_FACTOR * healthy) / total);
}

class WeightedLocality<H extends LbHost> {
  readonly effectiveWeight: number;
  readonly lb: LoadBalancer<H>;

  constructor(effectiveWeight: number, lb: LoadBalancer<H>) {
    this.effectiveWeight = effectiveWeight;
    this.lb = lb;
  }
}

function effectiveWeightOf<H extends LbHost>(l: WeightedLocality<H>): number {
  return l.effectiveWeight;
}

export class LocalityWeightedLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly scheduler: EdfScheduler<WeightedLocality<H>>;

  /** `localities` with an effective weight > 0 (see localityWeightedOrNull, which builds it only then). */
  private constructor(scheduler: EdfScheduler<WeightedLocality<H>>) {
    this.scheduler = scheduler;
  }

  /**
   * The balancer for one level's localities, or null when none has an effective weight (Envoy then balances over
   * all the level's healthy hosts, as without locality weighting). `hostLb` makes the balancer within a locality
   * (default: the cluster's lb_policy; the worker passes one that knows slow start).
   */
  static build<H extends LbHost>(
    policy: string,
    localities: readonly LocalityHosts<H>[],
    options: LbOptions,
    hostLb: (healthy: readonly H[]) => LoadBalancer<H> = (healthy) => createLoadBalancer(policy, healthy, options),
  ): LocalityWeightedLoadBalancer<H> | null {
    const scheduler = new EdfScheduler<WeightedLocality<H>>();
    for (let i = 0; i < localities.length; i++) {
      const l = localities[i]!;
      const w = effectiveLocalityWeight(l.weight, l.healthy.length, l.hosts.length);
      if (w === 0) continue;
      scheduler.add(new WeightedLocality(w, hostLb(l.healthy)), w, 0);
    }
    return scheduler.size === 0 ? null : new LocalityWeightedLoadBalancer(scheduler);
  }

  chooseHost(hash?: Hash64 | null, attempt?: number): H | null {
    const locality = this.scheduler.pickAndReschedule(effectiveWeightOf);
    return locality === null ? null : locality.lb.chooseHost(hash, attempt);
  }
}
