// Worker thread. Load balancers by Envoy lb_policy name. Each is built over one list of hosts (one priority's
// healthy hosts, or all of them in panic mode) when the host set changes, then asked chooseHost() per request.
// State (rotation index, EDF deadlines) is per worker: nothing here is shared between threads.

import { EdfScheduler } from './edf-scheduler.ts';
import type { Hash64 } from '../../src/common/xxhash64.ts';
import { RING_HASH_DEFAULTS, RingHashLoadBalancer, type RingHashSettings } from './ring-hash-lb.ts';
import { MAGLEV_DEFAULT_TABLE_SIZE, MaglevLoadBalancer } from './maglev-lb.ts';

/** What a load balancer reads from a host. */
export interface LbHost {
  /** load_balancing_weight, >= 1. */
  readonly weight: number;
  /** Requests this worker has outstanding on the host (pending or in flight). */
  readonly activeRequests: number;
}

export interface LoadBalancer<H extends LbHost> {
  /**
   * The host for the next request, or null when there is none. Called on the request path: no allocation.
   * `hash`: the request's hash (route hash_policy), read only by RING_HASH and MAGLEV; absent or null = none (they
   * then pick at random, as Envoy). `attempt` > 0: a re-pick because the host was refused (retry_host_predicate);
   * the hashing policies then move off the key's host as Envoy's do (ring: the next points; Maglev: a changed hash).
   */
  chooseHost(hash?: Hash64 | null, attempt?: number): H | null;
}

export interface LbOptions {
  /** Uniform in [0, 1). Injected so tests are deterministic. */
  readonly random: () => number;
  /** LEAST_REQUEST: hosts sampled per pick when weights are equal (Envoy default 2). */
  readonly choiceCount: number;
  /** LEAST_REQUEST with unequal weights: weight / (active + 1) ^ bias (Envoy default 1). */
  readonly activeRequestBias: number;
  /** RING_HASH: ring_hash_lb_config sizes (Envoy's defaults when absent); useHostnameForHashing for MAGLEV too. */
  readonly ringHash?: RingHashSettings;
  /** MAGLEV: maglev_lb_config.table_size, a prime (Envoy default 65537). */
  readonly maglevTableSize?: number;
}

/** The policies that read a request hash: only for these is one computed (nothing per request otherwise). */
export const HASHING_POLICIES: ReadonlySet<string> = new Set(['RING_HASH', 'MAGLEV']);

export type LoadBalancerFactory = <H extends LbHost>(hosts: readonly H[], options: LbOptions) => LoadBalancer<H>;

function weightsAreEqual(hosts: readonly LbHost[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (hosts[i]!.weight !== hosts[0]!.weight) return false;
  return true;
}

function staticWeight(host: LbHost): number {
  return host.weight;
}

/** Equal weights: plain rotation, starting at a random host so workers do not all begin with the same one. */
class RoundRobinLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly hosts: readonly H[];
  private next: number;

  constructor(hosts: readonly H[], random: () => number) {
    this.hosts = hosts;
    this.next = hosts.length === 0 ? 0 : Math.floor(random() * hosts.length);
  }

  chooseHost(): H | null {
    const hosts = this.hosts;
    if (hosts.length === 0) return null;
    const host = hosts[this.next]!;
    this.next = this.next + 1 === hosts.length ? 0 : this.next + 1;
    return host;
  }
}

/** Unequal weights: earliest deadline first, as Envoy's weighted round robin. */
class EdfLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly scheduler: EdfScheduler<H>;
  private readonly weightOf: (host: H) => number;

  constructor(hosts: readonly H[], weightOf: (host: H) => number) {
    this.scheduler = new EdfScheduler<H>();
    this.weightOf = weightOf;
    for (let i = 0; i < hosts.length; i++) this.scheduler.add(hosts[i]!, weightOf(hosts[i]!), 0);
  }

  chooseHost(): H | null {
    return this.scheduler.pickAndReschedule(this.weightOf);
  }
}

/** Uniform over hosts, weights ignored (as Envoy's RANDOM). */
class RandomLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly hosts: readonly H[];
  private readonly random: () => number;

  constructor(hosts: readonly H[], random: () => number) {
    this.hosts = hosts;
    this.random = random;
  }

  chooseHost(): H | null {
    const hosts = this.hosts;
    if (hosts.length === 0) return null;
    return hosts[Math.floor(this.random() * hosts.length)]!;
  }
}

/** Equal weights: the least loaded of `choiceCount` random picks (power of two choices, with replacement). */
class LeastRequestLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  private readonly hosts: readonly H[];
  private readonly random: () => number;
  private readonly choiceCount: number;

  constructor(hosts: readonly H[], random: () => number, choiceCount: number) {
    this.hosts = hosts;
    this.random = random;
    this.choiceCount = choiceCount;
  }

  chooseHost(): H | null {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n === 0) return null;
    let best = hosts[Math.floor(this.random() * n)]!;
    for (let i = 1; i < this.choiceCount; i++) {
      const candidate = hosts[Math.floor(this.random() * n)]!;
      if (candidate.activeRequests < best.activeRequests) best = candidate;
    }
    return best;
  }
}

function roundRobin<H extends LbHost>(hosts: readonly H[], options: LbOptions): LoadBalancer<H> {
  if (weightsAreEqual(hosts)) return new RoundRobinLoadBalancer(hosts, options.random);
  return new EdfLoadBalancer<H>(hosts, staticWeight);
}

function random<H extends LbHost>(hosts: readonly H[], options: LbOptions): LoadBalancer<H> {
  return new RandomLoadBalancer(hosts, options.random);
}

function leastRequest<H extends LbHost>(hosts: readonly H[], options: LbOptions): LoadBalancer<H> {
  if (weightsAreEqual(hosts)) return new LeastRequestLoadBalancer(hosts, options.random, options.choiceCount);
  const bias = options.activeRequestBias;
  // Weights are read again at every reschedule, so the current load shifts the next deadline.
  const weightOf = bias === 1
    ? (h: H): number => h.weight / (h.activeRequests + 1)
    : (h: H): number => h.weight / Math.pow(h.activeRequests + 1, bias);
  return new EdfLoadBalancer<H>(hosts, weightOf);
}

function ringHash<H extends LbHost>(hosts: readonly H[], options: LbOptions): LoadBalancer<H> {
  return new RingHashLoadBalancer(hosts, options.ringHash ?? RING_HASH_DEFAULTS, options.random);
}

function maglev<H extends LbHost>(hosts: readonly H[], options: LbOptions): LoadBalancer<H> {
  return new MaglevLoadBalancer(hosts, options.maglevTableSize ?? MAGLEV_DEFAULT_TABLE_SIZE, options.random, options.ringHash?.useHostnameForHashing === true);
}

/** Envoy lb_policy name -> factory. */
export const LOAD_BALANCERS: ReadonlyMap<string, LoadBalancerFactory> = new Map<string, LoadBalancerFactory>([
  ['ROUND_ROBIN', roundRobin],
  ['RANDOM', random],
  ['LEAST_REQUEST', leastRequest],
  ['RING_HASH', ringHash],
  ['MAGLEV', maglev],
]);

export function createLoadBalancer<H extends LbHost>(policy: string, hosts: readonly H[], options: LbOptions): LoadBalancer<H> {
  const factory = LOAD_BALANCERS.get(policy);
  // The compiler rejects other policies; reaching this is a bug.
  if (factory === undefined) throw new Error(`no load balancer registered for lb_policy ${policy}`);
  return factory(hosts, options);
}
