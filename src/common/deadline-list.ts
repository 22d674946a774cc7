// Any thread. Timeouts for many objects that share one duration (a connection manager's stream_idle_timeout, a
// route's timeout): the objects themselves are the links of a doubly-linked list in deadline order (each deadline is
// "now + the list's duration", so appending keeps the order), and one Node timer serves the whole list, armed for its
// head. Arming, refreshing and cancelling allocate nothing; Node's setTimeout per object allocates a Timeout and
// links it into the same kind of list, and clearTimeout/refresh unlink and relink it there.
//
// Cancelling is lazy on the timer: a removed head leaves the timer armed for its old deadline; when it fires the list
// expires what is due and re-arms for the new head, or lets go of itself when empty. The timer is unref'd.

import { reportInternalError } from './internal-error.ts';

/** What an object carries to sit in a DeadlineList (initialize all four to 0 / null). */
export interface DeadlineEntry {
  /** performance.now() at which it expires. */
  deadlineAt: number;
  deadlinePrev: DeadlineEntry | null;
  deadlineNext: DeadlineEntry | null;
  /** The list it is in, or null. */
  deadlineList: DeadlineList<DeadlineEntry> | null;
}

class DeadlineList<T extends DeadlineEntry> {
  readonly durationMs: number;
  private readonly owner: DeadlineLists<T>;
  private head: T | null;
  private tail: T | null;
  private timer: NodeJS.Timeout | null;
  /** When the armed timer fires (performance.now() scale). */
  private timerAt: number;

  constructor(owner: DeadlineLists<T>, durationMs: number) {
    this.owner = owner;
    this.durationMs = durationMs;
    this.head = null;
    this.tail = null;
    this.timer = null;
    this.timerAt = 0;
  }

  append(entry: T, now: number): void {
    entry.deadlineAt = now + this.durationMs;
    entry.deadlineList = this as unknown as DeadlineList<DeadlineEntry>;
    entry.deadlineNext = null;
    const tail = this.tail;
    entry.deadlinePrev = tail;
    if (tail === null) this.head = entry;
    else tail.deadlineNext = entry;
    this.tail = entry;
    if (this.timer === null) this.arm(now);
  }

  unlink(entry: T): void {
    const prev = entry.deadlinePrev as T | null;
    const next = entry.deadlineNext as T | null;
    if (prev === null) this.head = next;
    else prev.deadlineNext = next;
    if (next === null) this.tail = prev;
    else next.deadlinePrev = prev;
    entry.deadlinePrev = null;
    entry.deadlineNext = null;
    entry.deadlineList = null;
  }

  private arm(now: number): void {
    const head = this.head!;
    const delay = head.deadlineAt - now;
    this.timerAt = head.deadlineAt;
    this.timer = setTimeout(fireList, delay > 1 ? Math.ceil(delay) : 1, this as unknown as DeadlineList<DeadlineEntry>);
    // Never what keeps a thread alive (the sockets its entries belong to do that): a list whose entries were all
    // cancelled still has its timer armed until the old head's deadline, which must not hold up a thread's exit.
    this.timer.unref();
  }

  /** The timer fired: expire every entry that is due (in order), then re-arm for the new head or let go. */
  fire(): void {
    this.timer = null;
    const now = performance.now();
    // Node's timers may fire up to a millisecond early relative to performance.now(): allow that much.
    for (let head = this.head; head !== null && head.deadlineAt <= now + 1; head = this.head) {
      this.unlink(head);
      try {
        this.owner.onExpire(head);
      } catch (err) {
        reportInternalError('deadline list', err);
      }
    }
    if (this.head !== null) {
      if (this.timer === null) this.arm(now);
    } else {
      this.owner.release(this);
    }
  }

  /** Test hook: the deadline the timer is armed for, or -1. */
  armedFor(): number {
    return this.timer === null ? -1 : this.timerAt;
  }
}

function fireList(list: DeadlineList<DeadlineEntry>): void {
  list.fire();
}

/**
 * One callback and one list per distinct duration. `onExpire` runs when an entry's deadline passes (the entry is
 * already out of its list); it must not throw (an exception is reported as an internal error, the others still run).
 */
export class DeadlineLists<T extends DeadlineEntry> {
  readonly onExpire: (entry: T) => void;
  private readonly lists: Map<number, DeadlineList<T>>;

  constructor(onExpire: (entry: T) => void) {
    this.onExpire = onExpire;
    this.lists = new Map();
  }

  /** Arms `entry` to expire `durationMs` from now (moving it if it was armed). */
  arm(entry: T, durationMs: number): void {
    if (entry.deadlineList !== null) (entry.deadlineList as unknown as DeadlineList<T>).unlink(entry);
    let list = this.lists.get(durationMs);
    if (list === undefined) {
      list = new DeadlineList(this, durationMs);
      this.lists.set(durationMs, list);
    }
    list.append(entry, performance.now());
  }

  /** Restarts an armed entry's period from now; an entry not armed stays so. */
  refresh(entry: T): void {
    const list = entry.deadlineList as unknown as DeadlineList<T> | null;
    if (list === null) return;
    list.unlink(entry);
    list.append(entry, performance.now());
  }

  /** Disarms `entry` (nothing if it is not armed). */
  cancel(entry: T): void {
    const list = entry.deadlineList as unknown as DeadlineList<T> | null;
    if (list !== null) list.unlink(entry);
  }

  /** @internal A list with nothing left and no timer: dropped, so per-request durations do not pile up. */
  release(list: DeadlineList<T>): void {
    if (this.lists.get(list.durationMs) === list) this.lists.delete(list.durationMs);
  }

  /** Test hook: how many lists exist (one per duration in use). */
  listCount(): number {
    return this.lists.size;
  }
}
