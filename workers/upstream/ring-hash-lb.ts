// Worker thread (built when a host set changes; chooseHost on the request path). Envoy's RING_HASH: a ketama ring of
// xxHash64 values of "<host address>_<i>", each host taking a share of the ring proportional to its weight. The
// same hosts (same addresses and weights, same order) build the same ring in every worker and every process, so a
// request hash maps to the same host everywhere; removing a host moves the keys that were on its points, and the
// few that points added by Envoy's ring sizing take (bench/RESULTS.md has the shares).

import { Hash64, xxHash64Bytes } from '../../src/common/xxhash64.ts';
import type { LbHost, LoadBalancer } from './load-balancers.ts';

/** ring_hash_lb_config defaults (Envoy's DefaultMinRingSize / DefaultMaxRingSize). */
export const RING_HASH_DEFAULTS = Object.freeze({ minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 });

export interface RingHashSettings {
  readonly minimumRingSize: number;
  readonly maximumRingSize: number;
  /** Hash hosts by hostname (consistent_hashing_lb_config.use_hostname_for_hashing). */
  readonly useHostnameForHashing?: boolean;
}

/**
 * What Envoy hashes a host by: its address as it prints it ("10.0.0.1:80", "[::1]:80"), or with
 * use_hostname_for_hashing its hostname (endpoint.hostname, or the DNS name of a DNS cluster).
 */
export interface HashableHost extends LbHost {
  readonly addressString: string;
  readonly hostname?: string;
}

/** A host's hash key; an empty hostname falls back to the address (Envoy requires one). */
export function hashKeyOf(host: LbHost, useHostname: boolean): string {
  const h = host as Partial<HashableHost>;
  if (useHostname && typeof h.hostname === 'string' && h.hostname !== '') return h.hostname;
  const key = h.addressString;
  // Reaching here without an address is a bug in the caller (every UpstreamHost has one).
  if (typeof key !== 'string' || key === '') throw new Error('a hashing load balancer needs hosts with an address');
  return key;
}

export class RingHashLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  /** Ring points sorted by hash: high and low halves, and the host of each point. */
  private readonly pointHi: Uint32Array;
  private readonly pointLo: Uint32Array;
  private readonly pointHost: H[];
  private readonly random: () => number;

  constructor(hosts: readonly H[], settings: RingHashSettings, random: () => number) {
    this.random = random;
    const built = buildRing(hosts, settings);
    this.pointHi = built.hi;
    this.pointLo = built.lo;
    this.pointHost = built.hosts;
  }

  /** Points on the ring (Envoy's ring_hash_lb.size). */
  get size(): number {
    return this.pointHost.length;
  }

  chooseHost(hash?: Hash64 | null, attempt = 0): H | null {
    const n = this.pointHost.length;
    if (n === 0) return null;
    let hi: number, lo: number;
    if (hash === undefined || hash === null) {
      // No hash policy produced a value: a random 64-bit hash, as Envoy (so a host's share is its arc of the ring).
      hi = (this.random() * 4294967296) >>> 0;
      lo = (this.random() * 4294967296) >>> 0;
    } else {
      hi = hash.hi;
      lo = hash.lo;
    }
    const pHi = this.pointHi, pLo = this.pointLo;
    // The first point whose hash is >= h, wrapping to the first point (ketama's search).
    let low = 0;
    let high = n;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const mh = pHi[mid]!;
      if (mh < hi || (mh === hi && pLo[mid]! < lo)) low = mid + 1;
      else high = mid;
    }
    let index = low === n ? 0 : low;
    // A retry that must avoid the previous host: behave as if that point were not there (Envoy's offset).
    if (attempt > 0) index = (index + attempt) % n;
    return this.pointHost[index]!;
  }
}

function buildRing<H extends LbHost>(hosts: readonly H[], settings: RingHashSettings): { hi: Uint32Array; lo: Uint32Array; hosts: H[] } {
  if (hosts.length === 0) return { hi: new Uint32Array(0), lo: new Uint32Array(0), hosts: [] };
  let total = 0;
  for (let i = 0; i < hosts.length; i++) total += hosts[i]!.weight;
  let minNormalized = 1;
  for (let i = 0; i < hosts.length; i++) minNormalized = Math.min(minNormalized, hosts[i]!.weight / total);
  // Scale so that the lightest host gets a whole number of points, capped by the maximum ring size (Envoy's Ring).
  const scale = Math.min(Math.ceil(minNormalized * settings.minimumRingSize) / minNormalized, settings.maximumRingSize);
  const ringSize = Math.ceil(scale);
  const hi = new Uint32Array(ringSize + hosts.length);
  const lo = new Uint32Array(ringSize + hosts.length);
  const owner = new Uint32Array(ringSize + hosts.length);
  const h = new Hash64();
  let count = 0;
  let current = 0;
  let target = 0;
  for (let j = 0; j < hosts.length; j++) {
    // The key "<address>_<i>" as bytes: the prefix written once, the decimal digits of i rewritten per point.
    const prefix = Buffer.from(hashKeyOf(hosts[j]!, settings.useHostnameForHashing === true) + '_', 'utf8');
    const key = Buffer.allocUnsafe(prefix.length + 20);
    prefix.copy(key, 0);
    target += scale * (hosts[j]!.weight / total);
    for (let i = 0; current < target; i++, current++) {
      if (count === hi.length) break;
      const len = prefix.length + writeDecimal(key, prefix.length, i);
      xxHash64Bytes(key, len, h);
      hi[count] = h.hi;
      lo[count] = h.lo;
      owner[count] = j;
      count++;
    }
  }
  const sorted = radixSort64(hi.subarray(0, count), lo.subarray(0, count), owner.subarray(0, count));
  const sortedHosts: H[] = new Array<H>(count);
  for (let i = 0; i < count; i++) sortedHosts[i] = hosts[sorted.owner[i]!]!;
  return { hi: sorted.hi, lo: sorted.lo, hosts: sortedHosts };
}

/** Writes `n` (a non-negative integer) in decimal at `at`; returns the number of digits. */
function writeDecimal(b: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let k = digits - 1, v = n; k >= 0; k--, v = Math.floor(v / 10)) b[at + k] = 48 + (v % 10);
  return digits;
}

/**
 * Sorts 64-bit keys (hi, lo halves) with their owners: LSD radix sort, stable, linear in the ring size (8-bit
 * digits for small rings, 16-bit ones past 64K points: half the passes), so even Envoy's largest rings (8M points)
 * sort in about a second where a comparator sort would take many.
 */
export function radixSort64(hi: Uint32Array, lo: Uint32Array, owner: Uint32Array): { hi: Uint32Array; lo: Uint32Array; owner: Uint32Array } {
  const n = hi.length;
  let aHi = Uint32Array.from(hi), aLo = Uint32Array.from(lo), aOwner = Uint32Array.from(owner);
  let bHi = new Uint32Array(n), bLo = new Uint32Array(n), bOwner = new Uint32Array(n);
  const bits = n > 65536 ? 16 : 8;
  const buckets = 1 << bits;
  const mask = buckets - 1;
  const perHalf = 32 / bits;
  const counts = new Uint32Array(buckets);
  for (let pass = 0; pass < 2 * perHalf; pass++) {
    // The digit comes from the current (already partly sorted) arrays: low half first.
    const src = pass < perHalf ? aLo : aHi;
    const shift = (pass % perHalf) * bits;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(src[i]! >>> shift) & mask]!++;
    let sum = 0;
    for (let d = 0; d < buckets; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const at = counts[(src[i]! >>> shift) & mask]!++;
      bHi[at] = aHi[i]!;
      bLo[at] = aLo[i]!;
      bOwner[at] = aOwner[i]!;
    }
    [aHi, bHi] = [bHi, aHi];
    [aLo, bLo] = [bLo, aLo];
    [aOwner, bOwner] = [bOwner, aOwner];
  }
  return { hi: aHi, lo: aLo, owner: aOwner };
}
