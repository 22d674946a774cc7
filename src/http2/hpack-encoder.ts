// Any thread (pure). HPACK (RFC 7541) header block encoder: one per HTTP/2 connection, encoding every header block
// we send on it, in the order the blocks go on the wire (the peer's decoder replays our table inserts in that order).

import { ENTRY_OVERHEAD as OVERHEAD, HpackDynamicTable } from './hpack-dynamic-table.ts';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './hpack-tables.ts';
import { huffmanEncode, huffmanEncodedLength } from './huffman.ts';

/** Buffer's internal latin1 encoder (what buf.write(str, offset, 'latin1') ends in, without its argument checks). */
interface Latin1Buffer {
  latin1Write(str: string, offset: number): number;
}

// Module-local alias: TurboFan folds a module's own consts into constants, which it does not do for imports.
const ENTRY_OVERHEAD = OVERHEAD;
/** The RFC's initial table size; also the most we use however much the peer allows (memory per connection). */
const DEFAULT_TABLE_SIZE = 4096;
/** Strings at least this long go through latin1Write; shorter ones are cheaper as a byte loop than a native call. */
const NATIVE_WRITE_MIN = 16;
/** Worst case of one §5.1 integer: the prefix byte plus 5 continuation bytes (enough for 2^35). */
const MAX_INTEGER_BYTES = 6;

// How a field that is not in either table is sent (§6.2).
const INCREMENTAL = 0;
const WITHOUT_INDEXING = 1;
const NEVER_INDEXED = 2;
/** Incremental for long values, never indexed for short ones (guessable from compressed sizes, §7.1.3). */
const COOKIE = 3;
const MIN_INDEXED_COOKIE = 20;
/** The encoded empty string: the initial cache entry of every KnownName ('' → 0x00). */
const EMPTY_LITERAL = Buffer.from([0x00]);
/** Longer encoded values are not cached: they are rarely repeated, and copying them would cost more. */
const MAX_CACHED_LITERAL = 64;

/**
 * Names that are never put in the dynamic table. Credentials are "never indexed" (§7.1.3: an intermediary must
 * not index them either); values that change nearly every message are "without indexing" so they don't evict
 * entries that would have been reused.
 */
const POLICIES: readonly (readonly [name: string, policy: number])[] = [
  ['authorization', NEVER_INDEXED],
  ['proxy-authorization', NEVER_INDEXED],
  ['set-cookie', NEVER_INDEXED],
  ['cookie', COOKIE],
  ['content-length', WITHOUT_INDEXING],
  ['content-range', WITHOUT_INDEXING],
  ['date', WITHOUT_INDEXING],
  ['expires', WITHOUT_INDEXING],
  ['age', WITHOUT_INDEXING],
  ['etag', WITHOUT_INDEXING],
  ['last-modified', WITHOUT_INDEXING],
  ['x-request-id', WITHOUT_INDEXING],
  ['x-envoy-upstream-service-time', WITHOUT_INDEXING],
  ['traceparent', WITHOUT_INDEXING],
];

/** What every encoder knows about a name before any field is sent: its static entries and how it is indexed. */
class KnownName {
  /** The lowest static index with this name (a literal's indexed name), or 0 when it is not in the static table. */
  readonly index: number;
  /**
   * value → static index, for names with a non-empty static value (:method, :path, :scheme, :status,
   * accept-encoding); null for the rest, whose one static entry has the empty value (exact iff value is '').
   */
  values: Map<string, number> | null;
  policy: number;
  /**
   * For a name outside the static table that is never inserted: its string literal, encoded once, since no table
   * will ever supply it (x-envoy-upstream-service-time is 30 chars on every response).
   */
  literal: Buffer | null;
  /**
   * For a fixed WITHOUT_INDEXING name: the last value sent and its encoded string literal (cachedBytes[0,
   * cachedLength)). `date` is the same string on every response for a second, on every connection of the thread,
   * and saves a Huffman pass each time; the output does not depend on the cache, only the cost does.
   */
  cachedValue: string;
  cachedBytes: Buffer;
  cachedLength: number;

  constructor(index: number) {
    this.index = index;
    this.values = null;
    this.policy = INCREMENTAL;
    this.literal = null;
    this.cachedValue = '';
    this.cachedBytes = EMPTY_LITERAL;
    this.cachedLength = 1;
  }
}

function buildKnownNames(): Map<string, KnownName> {
  const map = new Map<string, KnownName>();
  for (let i = 1; i <= STATIC_TABLE_LENGTH; i++) {
    const name = STATIC_NAMES[i];
    let known = map.get(name);
    if (known === undefined) {
      known = new KnownName(i);
      map.set(name, known);
    }
    if (STATIC_VALUES[i] !== '') {
      if (known.values === null) known.values = new Map();
      known.values.set(STATIC_VALUES[i], i);
    }
  }
  for (const [name, policy] of POLICIES) {
    let known = map.get(name);
    if (known === undefined) {
      known = new KnownName(0);
      map.set(name, known);
      if (policy === WITHOUT_INDEXING || policy === NEVER_INDEXED) {
        const literal = Buffer.alloc(MAX_INTEGER_BYTES + name.length);
        known.literal = literal.subarray(0, writeString(literal, 0, name));
      }
    }
    known.policy = policy;
  }
  return map;
}

/**
 * One encoder's view of a name: what is known of it up front and its live dynamic entries. Kept for every known
 * name once seen (there are few), and for other names while they have live entries, so a field costs one Map
 * lookup by name in the steady state.
 */
class NameSlot {
  readonly known: KnownName | null;
  /** value → insertion sequence number of the live entry with that value. */
  readonly values: Map<string, number>;
  /** Sequence number of the newest entry with this name (live while `live` > 0, since eviction is FIFO). */
  latest: number;
  /** How many live entries have this name. */
  live: number;

  constructor(known: KnownName | null) {
    this.known = known;
    this.values = new Map();
    this.latest = 0;
    this.live = 0;
  }
}

export class HpackEncoder {
  /**
   * Our table as the peer will replay it; its capacity is the maximum size as last signaled (or to be signaled) to
   * the peer. Entries leave it only through evictTo here, which keeps `slots` in step.
   */
  /** Read-only outside this class (tests and debugging read its size, capacity and entries). */
  readonly table: HpackDynamicTable;
  /** The lowest capacity since the last block; the peer must see it first if it was below the capacity (§4.2). */
  private pendingMin: number;
  private updatePending: boolean;
  /**
   * Each insert takes the next sequence number (this counts them), so an entry's HPACK index is
   * STATIC_TABLE_LENGTH + inserted - sequence, and the oldest entry's sequence is inserted - table.count.
   */
  private inserted: number;
  private readonly slots: Map<string, NameSlot>;

  /** Dynamic table size 4096 (the RFC default) until setPeerMaxTableSize. */
  constructor() {
    this.table = new HpackDynamicTable(DEFAULT_TABLE_SIZE);
    this.pendingMin = DEFAULT_TABLE_SIZE;
    this.updatePending = false;
    this.inserted = 0;
    this.slots = new Map();
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE (call when its SETTINGS arrive). We use min(n, 4096) and signal a
   * change with a size update at the start of the next block; a lowered table is evicted now, which is safe since
   * nothing is inserted before that update goes out.
   */
  setPeerMaxTableSize(n: number): void {
    const capacity = n < DEFAULT_TABLE_SIZE ? n : DEFAULT_TABLE_SIZE;
    if (capacity === this.table.capacity) return;
    if (capacity < this.pendingMin) this.pendingMin = capacity;
    this.updatePending = true;
    this.evictTo(capacity);
    this.table.setCapacity(capacity); // nothing left to evict
  }

  /** An upper bound on the encoded size of fields[from, to) (flat name, value array), size updates included. */
  maxEncodedBytes(fields: readonly string[], from: number, to: number): number {
    // Huffman is only used when shorter, so a raw literal bounds every representation.
    let bytes = 2 * MAX_INTEGER_BYTES;
    for (let i = from; i < to; i += 2) {
      bytes += 3 * MAX_INTEGER_BYTES + fields[i].length + fields[i + 1].length;
    }
    return bytes;
  }

  /**
   * Encodes fields[from, to) (flat name, value array; names already lowercase) into target at offset; returns the
   * offset after the block. target has maxEncodedBytes(fields, from, to) bytes free from offset.
   */
  encode(fields: readonly string[], from: number, to: number, target: Buffer, offset: number): number {
    let o = offset;
    if (this.updatePending) {
      const capacity = this.table.capacity;
      if (this.pendingMin < capacity) o = writeInteger(target, o, 0x20, 5, this.pendingMin);
      o = writeInteger(target, o, 0x20, 5, capacity);
      this.pendingMin = capacity;
      this.updatePending = false;
    }
    for (let i = from; i < to; i += 2) {
      const name = fields[i];
      const value = fields[i + 1];
      let slot = this.slots.get(name);
      let known: KnownName | null;
      if (slot !== undefined) {
        known = slot.known;
      } else {
        known = KNOWN_NAMES.get(name) ?? null;
        if (known !== null) {
          slot = new NameSlot(known);
          this.slots.set(name, slot);
        }
      }
      let nameIndex = 0;
      let policy = INCREMENTAL;
      if (known !== null) {
        const index = known.values !== null ? known.values.get(value) : value.length === 0 ? known.index : undefined;
        if (index !== undefined && index !== 0) {
          target[o++] = 0x80 | index; // every static index fits the 7-bit prefix
          continue;
        }
        // Prefer a static name: its index is stable and always one byte with a 6-bit prefix.
        nameIndex = known.index;
        policy = known.policy;
      }
      const entrySize = name.length + value.length + ENTRY_OVERHEAD;
      if (policy === INCREMENTAL || policy === COOKIE) {
        // Only these names are ever inserted, so only they can be found in the dynamic table.
        if (slot !== undefined && slot.live > 0) {
          const sequence = slot.values.get(value);
          if (sequence !== undefined) {
            o = writeInteger(target, o, 0x80, 7, STATIC_TABLE_LENGTH + this.inserted - sequence);
            continue;
          }
          if (nameIndex === 0) nameIndex = STATIC_TABLE_LENGTH + this.inserted - slot.latest;
        }
        if (policy === COOKIE) policy = value.length < MIN_INDEXED_COOKIE ? NEVER_INDEXED : INCREMENTAL;
        if (policy === INCREMENTAL && entrySize * 2 > this.table.capacity) policy = WITHOUT_INDEXING;
      }
      if (policy === INCREMENTAL) o = writeInteger(target, o, 0x40, 6, nameIndex);
      else if (policy === WITHOUT_INDEXING) o = writeInteger(target, o, 0x00, 4, nameIndex);
      else o = writeInteger(target, o, 0x10, 4, nameIndex);
      if (nameIndex === 0) {
        const literal = known !== null ? known.literal : null;
        if (literal !== null) {
          for (let j = 0; j < literal.length; j++) target[o++] = literal[j];
        } else {
          o = writeString(target, o, name);
        }
      }
      if (policy === INCREMENTAL) {
        o = writeString(target, o, value);
        this.insert(name, value, entrySize);
      } else if (known !== null && known.policy === WITHOUT_INDEXING) {
        o = writeCachedString(known, target, o, value);
      } else {
        o = writeString(target, o, value);
      }
    }
    return o;
  }

  /** Only called for entries of at most half the capacity, so one always fits after eviction (§4.4). */
  private insert(name: string, value: string, entrySize: number): void {
    this.evictTo(this.table.capacity - entrySize);
    this.table.insert(name, value); // fits now: evicts nothing
    const sequence = this.inserted++;
    // Looked up after the eviction above, which may have dropped this name's slot with its last entry.
    let slot = this.slots.get(name);
    if (slot === undefined) {
      slot = new NameSlot(null);
      this.slots.set(name, slot);
    }
    slot.values.set(value, sequence);
    slot.latest = sequence;
    slot.live++;
  }

  /** Evicts from the oldest end until size ≤ target, dropping each entry from `slots` as it goes. */
  private evictTo(target: number): void {
    const table = this.table;
    while (table.size > target) {
      const name = table.oldestName();
      const value = table.oldestValue();
      const sequence = this.inserted - table.count;
      const slot = this.slots.get(name);
      if (slot !== undefined) {
        if (slot.values.get(value) === sequence) slot.values.delete(value);
        // Slots of unknown names go with their last entry, so random names cannot grow the map without bound.
        if (--slot.live === 0 && slot.known === null) this.slots.delete(name);
      }
      table.dropOldest();
    }
  }
}

/** §5.1 integer with an n-bit prefix; `flags` are the representation's bits above the prefix. */
function writeInteger(target: Buffer, offset: number, flags: number, prefixBits: number, value: number): number {
  let o = offset;
  const limit = (1 << prefixBits) - 1;
  if (value < limit) {
    target[o++] = flags | value;
    return o;
  }
  target[o++] = flags | limit;
  let rest = value - limit;
  while (rest >= 0x80) {
    target[o++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  target[o++] = rest;
  return o;
}

/** writeString through the name's one-entry cache of its last value. */
function writeCachedString(known: KnownName, target: Buffer, offset: number, value: string): number {
  let o = offset;
  if (value === known.cachedValue) {
    const bytes = known.cachedBytes;
    for (let j = 0; j < known.cachedLength; j++) target[o++] = bytes[j];
    return o;
  }
  o = writeString(target, o, value);
  const length = o - offset;
  if (length <= MAX_CACHED_LITERAL) {
    if (known.cachedBytes === EMPTY_LITERAL) known.cachedBytes = Buffer.alloc(MAX_CACHED_LITERAL);
    const bytes = known.cachedBytes;
    for (let j = 0; j < length; j++) bytes[j] = target[offset + j];
    known.cachedValue = value;
    known.cachedLength = length;
  }
  return o;
}

/** §5.2 string literal: Huffman when that is shorter, raw latin1 otherwise. */
function writeString(target: Buffer, offset: number, str: string): number {
  const length = str.length;
  const huffmanLength = huffmanEncodedLength(str);
  if (huffmanLength < length) {
    return huffmanEncode(str, target, writeInteger(target, offset, 0x80, 7, huffmanLength));
  }
  let o = writeInteger(target, offset, 0x00, 7, length);
  if (length >= NATIVE_WRITE_MIN) return o + (target as unknown as Latin1Buffer).latin1Write(str, o);
  for (let i = 0; i < length; i++) target[o++] = str.charCodeAt(i);
  return o;
}

/** name → what is known of it up front; built once, shared by every encoder. */
const KNOWN_NAMES: ReadonlyMap<string, KnownName> = buildKnownNames();
