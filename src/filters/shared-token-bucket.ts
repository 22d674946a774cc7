// Any thread (workers take tokens; pure otherwise). A token bucket in shared memory, one for all workers of the
// process, as Envoy's local rate limit bucket is one per process. Buckets live in a table in the overload manager's
// SharedArrayBuffer (src/overload/overload-shared.ts), found by a 64-bit hash of a key every worker computes alike
// from the config (connection manager, filter, route position, bucket settings), so no message has to assign them:
// the first worker to use a key claims an entry (compareExchange) and fills it; a reload with the same settings
// finds the same bucket again, one with new settings gets a fresh one. Tokens are taken with a compareExchange loop
// and refilled lazily: the entry counts the whole fill intervals since its origin that were already credited, and a
// taker that sees more credits the difference (one wins the compareExchange), never above max_tokens. No timer.
//
// Entry layout (TOKEN_BUCKET_ENTRY_INTS Int32 cells): [0] state (0 free, 1 being claimed, 2 ready), [1] [2] the
// key's hash, [3] tokens, [4] fill intervals credited, [5] unused, [6..7] origin (Float64, epoch ms; written once
// before the state becomes ready, read-only after).

import { TOKEN_BUCKET_ENTRIES, TOKEN_BUCKET_ENTRY_INTS } from '../overload/overload-shared.ts';

const STATE = 0;
const KEY_HI = 1;
const KEY_LO = 2;
const TOKENS = 3;
const FILLS = 4;
/** Float64 index of the origin within an entry (cells 6-7). */
const ORIGIN_F64 = 3;
const FREE = 0;
const CLAIMING = 1;
const READY = 2;
/** Entries probed from a key's home before giving up (the table is full of other buckets). */
const MAX_PROBES = 64;
/** A claim in progress takes a few stores; a reader spins at most this many loads before probing on. */
const MAX_SPINS = 100_000;

/** Wall-clock milliseconds with sub-ms monotonic precision, comparable across threads. */
export function sharedNowMs(): number {
  return performance.timeOrigin + performance.now();
}

function hash32(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export class SharedTokenBucket {
  private readonly cells: Int32Array;
  private readonly times: Float64Array;
  /** First Int32 cell of this bucket's entry. */
  private readonly base: number;
  private readonly maxTokens: number;
  private readonly tokensPerFill: number;
  private readonly fillIntervalMs: number;
  private readonly origin: number;

  constructor(cells: Int32Array, times: Float64Array, base: number, maxTokens: number, tokensPerFill: number, fillIntervalMs: number) {
    this.cells = cells;
    this.times = times;
    this.base = base;
    this.maxTokens = maxTokens;
    this.tokensPerFill = tokensPerFill;
    this.fillIntervalMs = fillIntervalMs;
    this.origin = times[base / 2 + ORIGIN_F64]!;
  }

  /** Takes one token at `nowMs` (sharedNowMs); false when there is none. Any worker, per request. */
  consume(nowMs: number): boolean {
    const cells = this.cells;
    const fillsAt = this.base + FILLS;
    const tokensAt = this.base + TOKENS;
    const due = Math.floor((nowMs - this.origin) / this.fillIntervalMs);
    let credited = Atomics.load(cells, fillsAt);
    while (due > credited) {
      const seen = Atomics.compareExchange(cells, fillsAt, credited, due);
      if (seen === credited) {
        // This taker credits the intervals between: tokens_per_fill each, never above max_tokens.
        const intervals = due - credited;
        const add = intervals >= this.maxTokens ? this.maxTokens : intervals * this.tokensPerFill;
        let t = Atomics.load(cells, tokensAt);
        for (;;) {
          const next = t + add > this.maxTokens ? this.maxTokens : t + add;
          const was = Atomics.compareExchange(cells, tokensAt, t, next);
          if (was === t) break;
          t = was;
        }
        break;
      }
      credited = seen;
    }
    let t = Atomics.load(cells, tokensAt);
    while (t > 0) {
      const was = Atomics.compareExchange(cells, tokensAt, t, t - 1);
      if (was === t) return true;
      t = was;
    }
    return false;
  }

  /** Tokens left now (tests, admin). */
  get tokens(): number {
    return Atomics.load(this.cells, this.base + TOKENS);
  }
}

/**
 * The shared bucket for `key` with these settings (the settings are part of its identity), claiming and filling an
 * entry if no worker has yet; null when the table has no room near the key's home (the caller keeps a bucket of its
 * own then). Config time (once per bucket per worker and config version), never per request.
 */
export function sharedTokenBucket(
  cells: Int32Array, times: Float64Array, key: string, maxTokens: number, tokensPerFill: number, fillIntervalMs: number, nowMs: number,
): SharedTokenBucket | null {
  const full = `${key}|${maxTokens}|${tokensPerFill}|${fillIntervalMs}`;
  const hi = hash32(full, 0x811c9dc5);
  const lo = hash32(full, 0x2a3b4c5d);
  const entries = Math.min(TOKEN_BUCKET_ENTRIES, Math.floor(cells.length / TOKEN_BUCKET_ENTRY_INTS));
  const home = (hi >>> 0) % entries;
  for (let p = 0; p < MAX_PROBES && p < entries; p++) {
    const base = ((home + p) % entries) * TOKEN_BUCKET_ENTRY_INTS;
    let state = Atomics.load(cells, base + STATE);
    if (state === FREE) {
      state = Atomics.compareExchange(cells, base + STATE, FREE, CLAIMING);
      if (state === FREE) {
        cells[base + KEY_HI] = hi;
        cells[base + KEY_LO] = lo;
        cells[base + TOKENS] = maxTokens;
        cells[base + FILLS] = 0;
        times[base / 2 + ORIGIN_F64] = nowMs;
        // Publishes the writes above to every thread that then sees READY.
        Atomics.store(cells, base + STATE, READY);
        return new SharedTokenBucket(cells, times, base, maxTokens, tokensPerFill, fillIntervalMs);
      }
    }
    for (let spins = 0; state === CLAIMING && spins < MAX_SPINS; spins++) state = Atomics.load(cells, base + STATE);
    if (state !== READY) continue;
    if (Atomics.load(cells, base + KEY_HI) === hi && Atomics.load(cells, base + KEY_LO) === lo) {
      return new SharedTokenBucket(cells, times, base, maxTokens, tokensPerFill, fillIntervalMs);
    }
  }
  return null;
}
