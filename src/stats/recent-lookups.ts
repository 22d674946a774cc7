// Primary thread. Envoy's recent stat-name lookups (/stats/recentlookups): the names most recently turned into a
// stat (here: StatRegistry allocations, made whenever a config version is compiled, at start-up and on each
// reload; the data path only ever uses slot numbers), with how often each was looked up. Off by default, as in
// Envoy: while off only the total is counted.

/** Envoy's capacity once /stats/recentlookups/enable is called. */
export const RECENT_LOOKUPS_CAPACITY = 100;

export class RecentLookups {
  private capacity = 0;
  /** Every lookup since start (or the last clear), recorded or not. */
  private totalCount = 0;
  /** Name -> count; Map order is recency (a lookup moves its name to the end), the oldest is evicted first. */
  private readonly counts = new Map<string, number>();

  get enabled(): boolean {
    return this.capacity > 0;
  }

  get total(): number {
    return this.totalCount;
  }

  lookup(name: string): void {
    this.totalCount++;
    if (this.capacity === 0) return;
    const count = this.counts.get(name);
    if (count !== undefined) {
      this.counts.delete(name);
      this.counts.set(name, count + 1);
      return;
    }
    if (this.counts.size >= this.capacity) this.evictOldest();
    this.counts.set(name, 1);
  }

  setCapacity(capacity: number): void {
    this.capacity = capacity;
    while (this.counts.size > capacity) this.evictOldest();
  }

  clear(): void {
    this.counts.clear();
    this.totalCount = 0;
  }

  /** [name, count] pairs by count, then name, ascending (Envoy's order). */
  entries(): [string, number][] {
    return [...this.counts].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  private evictOldest(): void {
    const oldest = this.counts.keys().next();
    if (oldest.done !== true) this.counts.delete(oldest.value);
  }
}

/** Envoy's /stats/recentlookups text. */
export function formatRecentLookups(lookups: RecentLookups): string {
  const entries = lookups.entries();
  let table = '';
  for (const [name, count] of entries) table += `${String(count).padStart(8)} ${name}\n`;
  let out = '';
  if (table === '' && !lookups.enabled) table = 'Lookup tracking is not enabled. Use /stats/recentlookups/enable to enable.\n';
  else out = '   Count Lookup\n';
  return `${out}${table}\ntotal: ${lookups.total}\n`;
}
