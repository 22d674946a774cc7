// Any thread. Work that arrives in bursts runs a bounded amount per event-loop turn, so the I/O of everything
// else interleaves. The burst it is for: thousands of connections whose timers were armed together (a slowloris
// wave under request_headers_timeout) expire in one timer pass; cutting them all there stalls the worker for as
// long as the cuts take, while queueing them costs a push each and the cuts then run `perTurn` at a time from
// setImmediate, after each turn's poll phase has served the other connections.

export class TurnSpreadQueue<A, B> {
  private readonly run: (a: A, b: B) => void;
  private readonly perTurn: number;
  /** Parallel arrays with a read index (no shift()); cleared when drained. */
  private firsts: (A | undefined)[];
  private seconds: (B | undefined)[];
  private head: number;
  private scheduled: boolean;

  /** `run` is called with each pushed pair, in order; it must not throw (a throw is left to the caller's boundary). */
  constructor(run: (a: A, b: B) => void, perTurn: number) {
    this.run = run;
    this.perTurn = perTurn;
    this.firsts = [];
    this.seconds = [];
    this.head = 0;
    this.scheduled = false;
  }

  get length(): number {
    return this.firsts.length - this.head;
  }

  push(a: A, b: B): void {
    this.firsts.push(a);
    this.seconds.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(drainTurn, this);
    }
  }

  /** Runs up to perTurn queued items; schedules itself again while items remain. */
  drainTurn(): void {
    const firsts = this.firsts;
    const seconds = this.seconds;
    const end = Math.min(this.head + this.perTurn, firsts.length);
    let i = this.head;
    try {
      for (; i < end; i++) {
        const a = firsts[i] as A;
        const b = seconds[i] as B;
        firsts[i] = undefined;
        seconds[i] = undefined;
        this.run(a, b);
      }
    } finally {
      // Even if `run` threw: the items before it are done, the rest still run in later turns.
      this.head = i < end ? i + 1 : end;
      if (this.head >= firsts.length) {
        this.firsts = [];
        this.seconds = [];
        this.head = 0;
        this.scheduled = false;
      } else {
        setImmediate(drainTurn, this);
      }
    }
  }
}

function drainTurn<A, B>(q: TurnSpreadQueue<A, B>): void {
  q.drainTurn();
}
