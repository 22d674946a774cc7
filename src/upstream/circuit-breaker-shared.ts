// Any thread. Circuit-breaker counters shared by every worker: one SharedArrayBuffer the primary makes at start and
// hands to each worker in workerData (WorkerInit.circuitBreakerRegion). Envoy's ResourceManager is one per cluster
// and priority for the whole process; so is a slot here, assigned by the primary per cluster name and priority
// (stable across reloads, so requests of an old version give back what they took). Workers count with Atomics;
// the primary reads the counts for the circuit_breakers.* gauges and gives back what a dead worker held.
//
// Layout (Int32): SLOTS × RESOURCES counters, then per worker index its own part of every counter (written only by
// that worker, plainly; read by the primary once the worker is gone). Pages nobody writes are never committed.

/** The resources of one slot, by offset. */
export const CbResource = { CONNECTIONS: 0, PENDING: 1, REQUESTS: 2, RETRIES: 3, CONNECTION_POOLS: 4 } as const;
const RESOURCES = 5;
/** Slots for cluster × priority (DEFAULT at 2i, HIGH at 2i + 1). */
export const MAX_BREAKER_SLOTS = 16384;
const COUNTERS = MAX_BREAKER_SLOTS * RESOURCES;

/** One priority's limits, as compiled (src/upstream/circuit-breakers.ts). */
export interface BreakerThresholds {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  readonly maxConnectionPools: number;
  readonly trackRemaining: boolean;
  /**
   * retry_budget.budget_percent (0-100), or -1 without a retry_budget: then max_retries bounds retries. With one,
   * the active retries may be this share of the active plus pending requests, but at least minRetryConcurrency.
   */
  readonly retryBudgetPercent: number;
  /** retry_budget.min_retry_concurrency (Envoy default 3); read only with a retry budget. */
  readonly minRetryConcurrency: number;
}

/**
 * The retries allowed at once (Envoy's ResourceManager retries().max()): max_retries, or with a retry budget its share
 * of the requests active and pending now (truncated, as Envoy's integer conversion), never under min_retry_concurrency.
 */
export function retryLimit(t: BreakerThresholds, pending: number, requests: number): number {
  if (t.retryBudgetPercent < 0) return t.maxRetries;
  return Math.max(Math.floor((t.retryBudgetPercent / 100) * (pending + requests)), t.minRetryConcurrency);
}

export class CircuitBreakerShared {
  readonly buffer: SharedArrayBuffer;
  readonly counters: Int32Array;
  /** This thread's part of every counter (a worker's row; the primary's is never written). */
  readonly held: Int32Array;
  private readonly workers: number;

  /** `workers`: rows of the held table (the primary's concurrency) when making the buffer; else read from its size. */
  constructor(buffer: SharedArrayBuffer | null, workers: number, workerIndex = 0) {
    this.buffer = buffer ?? new SharedArrayBuffer(COUNTERS * 4 * (1 + Math.max(1, workers)));
    this.workers = this.buffer.byteLength / (COUNTERS * 4) - 1;
    this.counters = new Int32Array(this.buffer, 0, COUNTERS);
    this.held = new Int32Array(this.buffer, COUNTERS * 4 * (1 + workerIndex), COUNTERS);
  }

  /** Current count of `resource` in `slot` (all workers). */
  count(slot: number, resource: number): number {
    return Atomics.load(this.counters, slot * RESOURCES + resource);
  }

  /** Primary, once worker `workerIndex` has exited: gives back everything it held. */
  releaseWorker(workerIndex: number): void {
    if (workerIndex >= this.workers) return;
    const held = new Int32Array(this.buffer, COUNTERS * 4 * (1 + workerIndex), COUNTERS);
    for (let i = 0; i < COUNTERS; i++) {
      const n = held[i]!;
      if (n === 0) continue;
      Atomics.sub(this.counters, i, n);
      held[i] = 0;
    }
  }
}

/**
 * One cluster's breaker for one priority in this worker (Envoy's ResourceManager): the limits of the current config
 * and the shared counters of its slot. `tryStart*` take one unit if under the limit (false: nothing taken, the
 * caller overflows); every unit taken is given back exactly once with the matching `end*`. Worker thread.
 */
export class CircuitBreaker {
  thresholds: BreakerThresholds;
  private readonly counters: Int32Array;
  private readonly held: Int32Array;
  /** Index of this slot's first counter. */
  private readonly base: number;

  /** `slot` < 0 (a cluster built outside the primary's pipeline, as unit tests do): counters of its own. */
  constructor(shared: CircuitBreakerShared, slot: number, thresholds: BreakerThresholds) {
    this.thresholds = thresholds;
    const own = slot < 0;
    this.counters = own ? new Int32Array(RESOURCES) : shared.counters;
    this.held = own ? new Int32Array(RESOURCES) : shared.held;
    this.base = own ? 0 : slot * RESOURCES;
  }

  /** This worker's units of `resource` held now (tests, /clusters). */
  heldCount(resource: number): number {
    return this.held[this.base + resource]!;
  }

  private tryTake(i: number, max: number): boolean {
    if (Atomics.add(this.counters, i, 1) >= max) {
      Atomics.sub(this.counters, i, 1);
      return false;
    }
    this.held[i]!++;
    return true;
  }

  private give(i: number): void {
    Atomics.sub(this.counters, i, 1);
    this.held[i]!--;
  }

  /** Whether one more upstream connection is within max_connections (Envoy's connections().canCreate()). */
  canCreateConnection(): boolean {
    return Atomics.load(this.counters, this.base + CbResource.CONNECTIONS) < this.thresholds.maxConnections;
  }

  /** A connection was opened (counted even past the limit, as Envoy's pool may open one with none open). */
  addConnection(): void {
    Atomics.add(this.counters, this.base + CbResource.CONNECTIONS, 1);
    this.held[this.base + CbResource.CONNECTIONS]!++;
  }

  removeConnection(): void {
    this.give(this.base + CbResource.CONNECTIONS);
  }

  tryStartPending(): boolean {
    return this.tryTake(this.base + CbResource.PENDING, this.thresholds.maxPendingRequests);
  }

  endPending(): void {
    this.give(this.base + CbResource.PENDING);
  }

  tryStartRequest(): boolean {
    return this.tryTake(this.base + CbResource.REQUESTS, this.thresholds.maxRequests);
  }

  endRequest(): void {
    this.give(this.base + CbResource.REQUESTS);
  }

  /** A retry may start (max_retries or retry_budget); give it back with endRetry() once that retry's request is done. */
  tryStartRetry(): boolean {
    const t = this.thresholds;
    if (t.retryBudgetPercent < 0) return this.tryTake(this.base + CbResource.RETRIES, t.maxRetries);
    const counters = this.counters;
    const base = this.base;
    const max = retryLimit(t, Atomics.load(counters, base + CbResource.PENDING), Atomics.load(counters, base + CbResource.REQUESTS));
    return this.tryTake(base + CbResource.RETRIES, max);
  }

  endRetry(): void {
    this.give(this.base + CbResource.RETRIES);
  }
}

/**
 * This thread's region. Workers attach the primary's buffer at start (attachCircuitBreakerShared); until then (and
 * in tests building clusters directly) a private one-worker region.
 */
export let circuitBreakerShared = new CircuitBreakerShared(null, 1);

export function attachCircuitBreakerShared(buffer: SharedArrayBuffer, workerIndex: number): void {
  circuitBreakerShared = new CircuitBreakerShared(buffer, 0, workerIndex);
}

/** Primary: the region every worker gets (one held row per worker index). */
export function createCircuitBreakerRegion(workers: number): CircuitBreakerShared {
  circuitBreakerShared = new CircuitBreakerShared(null, workers);
  return circuitBreakerShared;
}
