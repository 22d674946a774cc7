// Any thread (pure). The HPACK (RFC 7541 §2.3.2, §4) dynamic table as a ring of names and values: the one behind
// both the decoder (the peer's table as it replays it) and the encoder (ours, as the peer will replay it).

/** RFC 7541 §4.1: an entry's size is its name and value lengths plus 32; RFC 9113 §6.5.2 counts fields alike. */
export const ENTRY_OVERHEAD = 32;
const INITIAL_SLOTS = 32; // power of two; grows by doubling

/**
 * Dynamic index d (0-based: d = 0 is HPACK index 62, the newest entry) lives in slot (newest - d) & mask.
 * The table keeps size ≤ capacity itself (insert and setCapacity evict from the oldest end). An owner that tracks
 * the entries elsewhere (the encoder's lookup map) evicts first, in its own loop over oldestName/oldestValue/
 * dropOldest, so it sees each entry go without a callback; the table's own eviction then finds nothing to do.
 */
export class HpackDynamicTable {
  private names: string[];
  private values: string[];
  /** The slot of dynamic index 0. */
  private newest: number;
  private mask: number;
  private entries: number;
  /** Sum of the entries' sizes (§4.1). */
  private bytes: number;
  /** The table's current maximum size (§4.2). */
  private limit: number;

  constructor(capacity: number) {
    this.names = new Array<string>(INITIAL_SLOTS).fill('');
    this.values = new Array<string>(INITIAL_SLOTS).fill('');
    this.newest = INITIAL_SLOTS - 1;
    this.mask = INITIAL_SLOTS - 1;
    this.entries = 0;
    this.bytes = 0;
    this.limit = capacity;
  }

  /** How many entries the table holds. */
  get count(): number {
    return this.entries;
  }

  /** The table's current size in bytes (§4.1). */
  get size(): number {
    return this.bytes;
  }

  /** The table's current maximum size. */
  get capacity(): number {
    return this.limit;
  }

  /** Sets the maximum size (§4.3), evicting what no longer fits. */
  setCapacity(capacity: number): void {
    this.limit = capacity;
    this.evictTo(capacity);
  }

  /** Name of dynamic index d; the caller checks d < count. */
  nameAt(d: number): string {
    return this.names[(this.newest - d) & this.mask];
  }

  /** Value of dynamic index d; the caller checks d < count. */
  valueAt(d: number): string {
    return this.values[(this.newest - d) & this.mask];
  }

  /** Name of the oldest entry (the next to be evicted); the caller checks count > 0. */
  oldestName(): string {
    return this.names[(this.newest - this.entries + 1) & this.mask];
  }

  /** Value of the oldest entry; the caller checks count > 0. */
  oldestValue(): string {
    return this.values[(this.newest - this.entries + 1) & this.mask];
  }

  /** Evicts the oldest entry; the caller checks count > 0. */
  dropOldest(): void {
    const slot = (this.newest - this.entries + 1) & this.mask;
    this.bytes -= this.names[slot].length + this.values[slot].length + ENTRY_OVERHEAD;
    // Drop the references so evicted strings can be collected.
    this.names[slot] = '';
    this.values[slot] = '';
    this.entries--;
  }

  /** Evicts from the oldest end until size ≤ target. */
  evictTo(target: number): void {
    while (this.bytes > target) this.dropOldest();
  }

  /** §4.4: evicts from the oldest end until the new entry fits; an entry bigger than the table empties it. */
  insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.limit) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.limit - entrySize);
    if (this.entries === this.names.length) this.grow();
    const slot = (this.newest + 1) & this.mask;
    this.newest = slot;
    this.names[slot] = name;
    this.values[slot] = value;
    this.entries++;
    this.bytes += entrySize;
  }

  /** Test and debug read: the table as a flat name, value... list, newest (index 62) first. */
  list(): string[] {
    const list: string[] = [];
    for (let d = 0; d < this.entries; d++) {
      const slot = (this.newest - d) & this.mask;
      list.push(this.names[slot], this.values[slot]);
    }
    return list;
  }

  /** Doubles the ring, unrolling it so the oldest entry lands in slot 0. */
  private grow(): void {
    const slots = this.names.length * 2;
    const names = new Array<string>(slots).fill('');
    const values = new Array<string>(slots).fill('');
    for (let d = this.entries - 1, i = 0; d >= 0; d--, i++) {
      const slot = (this.newest - d) & this.mask;
      names[i] = this.names[slot];
      values[i] = this.values[slot];
    }
    this.names = names;
    this.values = values;
    this.mask = slots - 1;
    this.newest = this.entries - 1;
  }
}
