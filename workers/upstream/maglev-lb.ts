// Worker thread (built when a host set changes; chooseHost on the request path). Envoy's MAGLEV: a lookup table of
// a prime size filled from each host's permutation (offset and skip from two xxHash64 values of its address, seeds 0
// and 1), hosts taking turns in proportion to their weight, in the order of their addresses. Every worker and every
// process builds the same table from the same hosts; a pick is one modulo and one array read.

import { Hash64, xxHash64 } from '../../src/common/xxhash64.ts';
import type { LbHost, LoadBalancer } from './load-balancers.ts';
import { hashKeyOf } from './ring-hash-lb.ts';

/** maglev_lb_config.table_size default (Envoy's MaglevTable::DefaultTableSize). */
export const MAGLEV_DEFAULT_TABLE_SIZE = 65537;

const TWO32 = 4294967296;

/** (hi * 2^32 + lo) mod m, exact while m * m < 2^53 (Maglev tables are below 5000011). */
export function mod64(hi: number, lo: number, m: number): number {
  return ((hi % m) * (TWO32 % m) + lo) % m;
}

export class MaglevLoadBalancer<H extends LbHost> implements LoadBalancer<H> {
  /** Host index of each table entry. */
  private readonly table: Int32Array;
  private readonly hosts: H[];
  private readonly tableSize: number;
  /** 2^32 mod tableSize, for the 64-bit hash's modulo in two halves. */
  private readonly twoPow32Mod: number;
  private readonly random: () => number;

  constructor(hosts: readonly H[], tableSize: number, random: () => number, useHostnameForHashing = false) {
    this.tableSize = tableSize;
    this.twoPow32Mod = TWO32 % tableSize;
    this.random = random;
    const built = buildTable(hosts, tableSize, useHostnameForHashing);
    this.table = built.table;
    this.hosts = built.hosts;
  }

  /** Table entries held by each host (in host order of `hostsInTableOrder`), for tests and stats. */
  entriesPerHost(): Map<H, number> {
    const out = new Map<H, number>();
    for (let i = 0; i < this.table.length; i++) {
      const h = this.hosts[this.table[i]!]!;
      out.set(h, (out.get(h) ?? 0) + 1);
    }
    return out;
  }

  chooseHost(hash?: Hash64 | null, attempt = 0): H | null {
    if (this.hosts.length === 0) return null;
    let index: number;
    if (hash === undefined || hash === null) {
      index = Math.floor(this.random() * this.tableSize); // no hash: a random entry, as Envoy's random 64-bit hash
    } else {
      let hi = hash.hi, lo = hash.lo;
      if (attempt > 0) {
        // A retry that must avoid the previous host: hash XOR (2^64 - attempt), as Envoy, a large change.
        hi = (hi ^ 0xffffffff) >>> 0;
        lo = (lo ^ (-attempt >>> 0)) >>> 0;
      }
      index = ((hi % this.tableSize) * this.twoPow32Mod + lo) % this.tableSize;
    }
    return this.hosts[this.table[index]!]!;
  }
}

interface BuildEntry {
  host: number;
  offset: number;
  skip: number;
  weight: number;
  target: number;
  /** permutation(next) = (offset + skip * next) mod m, kept incrementally (next only ever grows by one). */
  position: number;
}

function buildTable<H extends LbHost>(input: readonly H[], m: number, useHostname: boolean): { table: Int32Array; hosts: H[] } {
  if (input.length === 0) return { table: new Int32Array(0), hosts: [] };
  // Sorted by the hashed key so that the table does not depend on the order the host set came in (as Envoy).
  const keyed = input.map((host) => ({ host, key: hashKeyOf(host, useHostname) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const hosts = keyed.map((k) => k.host);
  let total = 0;
  for (const h of hosts) total += h.weight;
  let maxNormalized = 0;
  const h64 = new Hash64();
  const entries: BuildEntry[] = [];
  for (let i = 0; i < hosts.length; i++) {
    const weight = hosts[i]!.weight / total;
    maxNormalized = Math.max(maxNormalized, weight);
    xxHash64(keyed[i]!.key, h64, 0, 0);
    const offset = mod64(h64.hi, h64.lo, m);
    xxHash64(keyed[i]!.key, h64, 0, 1);
    const skip = mod64(h64.hi, h64.lo, m - 1) + 1;
    entries.push({ host: i, offset, skip, weight, target: 0, position: offset });
  }
  const table = new Int32Array(m).fill(-1);
  let filled = 0;
  for (let iteration = 1; filled < m; iteration++) {
    for (let i = 0; i < entries.length && filled < m; i++) {
      const e = entries[i]!;
      // A host of the largest weight takes an entry every iteration; one of a third of it every third.
      if (iteration * e.weight < e.target) continue;
      e.target += maxNormalized;
      let c = e.position;
      while (table[c] !== -1) {
        c += e.skip;
        if (c >= m) c -= m;
      }
      table[c] = e.host;
      c += e.skip;
      e.position = c >= m ? c - m : c;
      filled++;
    }
  }
  return { table, hosts };
}
