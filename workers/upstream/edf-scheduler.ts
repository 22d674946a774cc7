// Worker thread (pure). Earliest-deadline-first scheduler, Envoy's basis for weighted round robin: each entry's
// next deadline is its last one plus 1/weight, so over any window an entry is picked in proportion to its weight,
// interleaved smoothly. A binary min-heap keyed on (deadline, insertion sequence), so ties go first-in first-out.

export class EdfEntry<T> {
  readonly item: T;
  deadline: number;
  seq: number;

  constructor(item: T, deadline: number, seq: number) {
    this.item = item;
    this.deadline = deadline;
    this.seq = seq;
  }
}

function before<T>(a: EdfEntry<T>, b: EdfEntry<T>): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

export class EdfScheduler<T> {
  private readonly heap: EdfEntry<T>[];
  private seq: number;

  constructor() {
    this.heap = [];
    this.seq = 0;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Adds an item due after 1/weight from now (weight > 0). `now` is the deadline of the entry last picked. */
  add(item: T, weight: number, now: number): void {
    const heap = this.heap;
    heap.push(new EdfEntry(item, now + 1 / weight, this.seq++));
    this.siftUp(heap.length - 1);
  }

  /**
   * Picks the entry with the earliest deadline and reschedules it with its current weight (read by `weightOf`
   * so least-request can change weights between picks). Returns null when empty.
   */
  pickAndReschedule(weightOf: (item: T) => number): T | null {
    const heap = this.heap;
    if (heap.length === 0) return null;
    const top = heap[0]!;
    top.deadline += 1 / weightOf(top.item);
    top.seq = this.seq++;
    this.siftDown(0);
    return top.item;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const p = heap[parent]!;
      if (!before(entry, p)) break;
      heap[index] = p;
      index = parent;
    }
    heap[index] = entry;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, entry)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = entry;
  }
}
