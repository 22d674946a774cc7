// Any thread (pure). Which streams envoy.overload_actions.reset_high_memory_stream resets, by Envoy's rule for its
// buffer-memory accounts: a stream holding at least 2^minimum_account_to_track_power_of_two bytes falls in one of 8
// power-of-two classes (class 0: [2^m, 2^(m+1)), ..., class 7: >= 2^(m+7)); at action state s (0 < s <= 1) the
// floor(8 s) + 1 highest classes are reset, the highest first, at most 50 streams per run and worker. (The bounds
// are the documented ones; Envoy's code shifts by m - 1 and so starts tracking at 2^(m-1).)
//
// Envoy charges each buffer slice to its stream as it is allocated. Legate keeps no per-request accounts (that would
// cost every request): a worker measures each live stream only when the action runs (workers/listener/
// high-memory-streams.ts), by the bytes its connection, codec and upstream request hold for it at that moment.

/** Envoy's number of buffer-account classes (BufferMemoryAccountImpl::NUM_MEMORY_CLASSES_). */
export const MEMORY_CLASSES = 8;
/** Envoy's limit on the streams one run of the action resets in one worker (kMaxNumberOfStreamsToResetPerInvocation). */
export const MAX_STREAMS_RESET_PER_RUN = 50;

/** The class (0..7) of a stream holding `bytes`, or -1 when it holds less than 2^minimumPowerOfTwo (not tracked). */
export function memoryClassOf(bytes: number, minimumPowerOfTwo: number): number {
  let bound = 2 ** minimumPowerOfTwo;
  if (!(bytes >= bound)) return -1;
  let c = 0;
  bound *= 2;
  while (c < MEMORY_CLASSES - 1 && bytes >= bound) {
    c++;
    bound *= 2;
  }
  return c;
}

/** How many of the highest classes the action resets at state `state`: none at 0, floor(8 state) + 1 up to all 8. */
export function classesToReset(state: number): number {
  if (!(state > 0)) return 0;
  const n = Math.floor(state * MEMORY_CLASSES) + 1;
  return n > MEMORY_CLASSES ? MEMORY_CLASSES : n;
}

/** Who can reset a stream it offered to a sweep. */
export interface HighMemoryStreamOwner<S> {
  /**
   * Resets `stream` for reset_high_memory_stream (flag OM, details "overload"). Called by HighMemorySweep.finish()
   * on the thread that offered it, in the same turn; a no-op if the stream has ended meanwhile. Never throws (an
   * exception is the owner's bug, handled at its own boundary).
   */
  resetStreamForOverload(stream: S): void;
}

/**
 * One worker's run of the action: begin() with the action state, offer() every live stream with the bytes it holds,
 * finish() resets the chosen ones. Reused from run to run (its arrays keep their capacity); never on the request path.
 */
export class HighMemorySweep<S> {
  private readonly owners: HighMemoryStreamOwner<S>[][] = [];
  private readonly streams: S[][] = [];
  private minimumPowerOfTwo = 0;
  /** Classes below this one are not reset in this run. */
  private lowestClass = MEMORY_CLASSES;
  /** Classes that had a stream to reset in the last run, and those that were looked at (for the log line). */
  bucketsReset = 0;
  bucketsCleared = 0;

  constructor() {
    for (let i = 0; i < MEMORY_CLASSES; i++) {
      this.owners.push([]);
      this.streams.push([]);
    }
  }

  /** Starts a run at action state `state` (0 < state <= 1) for accounts from 2^minimumPowerOfTwo bytes. */
  begin(state: number, minimumPowerOfTwo: number): void {
    this.minimumPowerOfTwo = minimumPowerOfTwo;
    this.bucketsCleared = classesToReset(state);
    this.lowestClass = MEMORY_CLASSES - this.bucketsCleared;
    this.bucketsReset = 0;
    // Whatever a run cut short by an exception left behind.
    for (let c = 0; c < MEMORY_CLASSES; c++) {
      this.owners[c]!.length = 0;
      this.streams[c]!.length = 0;
    }
  }

  /** The least a stream must hold to be reset in this run. */
  get thresholdBytes(): number {
    return 2 ** (this.minimumPowerOfTwo + this.lowestClass);
  }

  /** A live stream and the bytes it holds now; kept when its class is one this run resets. */
  offer(owner: HighMemoryStreamOwner<S>, stream: S, bytes: number): void {
    const c = memoryClassOf(bytes, this.minimumPowerOfTwo);
    if (c < this.lowestClass) return;
    this.owners[c]!.push(owner);
    this.streams[c]!.push(stream);
  }

  /** Resets the kept streams, highest class first, at most MAX_STREAMS_RESET_PER_RUN; returns how many. */
  finish(): number {
    let reset = 0;
    let buckets = 0;
    for (let c = MEMORY_CLASSES - 1; c >= 0; c--) {
      const owners = this.owners[c]!;
      const streams = this.streams[c]!;
      if (owners.length > 0) buckets++;
      for (let i = 0; i < owners.length && reset < MAX_STREAMS_RESET_PER_RUN; i++) {
        owners[i]!.resetStreamForOverload(streams[i]!);
        reset++;
      }
      owners.length = 0;
      streams.length = 0;
    }
    this.bucketsReset = buckets;
    return reset;
  }
}
