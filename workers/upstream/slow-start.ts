// Worker thread (pure but for the clock). Slow start (round_robin_lb_config / least_request_lb_config
// slow_start_config), as Envoy: a host that joined the cluster after its first host set, or became healthy again,
// gets a weight that ramps up over slow_start_window: weight × max(min_weight_percent, time_factor ^ (1/aggression)),
// time_factor = max(time in it, 1 ms) / window. While any host of a level is in its window, the level balances with
// earliest-deadline-first over these weights (read again at each pick); nothing of this exists otherwise.

import { EdfScheduler } from './edf-scheduler.ts';
import type { LbHost, LoadBalancer } from './load-balancers.ts';
import type { SlowStartSettings } from '../../src/upstream/cluster-config.ts';

/** The weight of a host `sinceMs` into its slow start (>= window: the weight itself). */
export function slowStartWeight(weight: number, sinceMs: number, s: SlowStartSettings): number {
  if (sinceMs >= s.windowMs) return weight;
  const timeFactor = Math.max(sinceMs, 1) / s.windowMs;
  const factor = s.aggression === 1 ? timeFactor : Math.pow(timeFactor, 1 / s.aggression);
  return weight * Math.max(factor, s.minWeightPercent / 100);
}

/** One host and when its slow start began (performance.now(); -Infinity: not in slow start). */
class SlowStartEntry<H extends LbHost> {
  readonly host: H;
  readonly since: number;

  constructor(host: H, since: number) {
    this.host = host;
    this.since = since;
  }
}

/**
 * EDF over the level's hosts with slow-start weights. `baseWeight` is the policy's own (the static weight for round
 * robin; weight / (active + 1) ^ bias for least request, as Envoy applies the factor on top of it).
 */
export class SlowStartLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly scheduler: EdfScheduler<SlowStartEntry<H>>;
  private readonly settings: SlowStartSettings;
  private readonly baseWeight: (host: H) => number;
  private readonly clock: () => number;
  /** When the last window ends; after it the clock is no longer read. */
  private endsAt: number;
  private now: number;
  private readonly weightOf: (e: SlowStartEntry<H>) => number;

  constructor(hosts: readonly H[], since: readonly number[], settings: SlowStartSettings, baseWeight: (host: H) => number, clock: () => number) {
    this.scheduler = new EdfScheduler<SlowStartEntry<H>>();
    this.settings = settings;
    this.baseWeight = baseWeight;
    this.clock = clock;
    this.now = clock();
    let endsAt = 0;
    for (let i = 0; i < since.length; i++) if (since[i]! + settings.windowMs > endsAt) endsAt = since[i]! + settings.windowMs;
    this.endsAt = endsAt;
    this.weightOf = (e) => this.entryWeight(e);
    for (let i = 0; i < hosts.length; i++) {
      const e = new SlowStartEntry(hosts[i]!, since[i]!);
      this.scheduler.add(e, this.entryWeight(e), 0);
    }
  }

  private entryWeight(e: SlowStartEntry<H>): number {
    const w = this.baseWeight(e.host);
    return this.endsAt === 0 ? w : slowStartWeight(w, this.now - e.since, this.settings);
  }

  chooseHost(): H | null {
    if (this.endsAt !== 0) {
      this.now = this.clock();
      if (this.now >= this.endsAt) this.endsAt = 0;
    }
    const e = this.scheduler.pickAndReschedule(this.weightOf);
    return e === null ? null : e.host;
  }

  /** Whether a host is still ramping up (tests). */
  get inSlowStart(): boolean {
    return this.endsAt !== 0;
  }
}
