// Any thread. The overload manager's shared memory: one SharedArrayBuffer made by the primary and handed to every
// worker in workerData. The primary writes the action states and the limits; workers count connections in it
// (Atomics) and read the action states with one plain typed-array read per check, so an overload check on the
// request path costs a load and a compare.
//
// Layout: an Int32Array of COUNTER_SLOTS counters, then a Float64Array (action scales, heap use per worker), then
// per worker the part of each counter it holds (so that the primary can give back what a dead worker held: its
// sockets never report 'close'). Pages nobody writes are never committed.

import { armOrRefresh } from '../common/timers.ts';

/** Overload actions Legate implements, by their index in the action-state array. */
export const OverloadAction = {
  STOP_ACCEPTING_REQUESTS: 0,
  DISABLE_HTTP_KEEPALIVE: 1,
  STOP_ACCEPTING_CONNECTIONS: 2,
  REJECT_INCOMING_CONNECTIONS: 3,
  REDUCE_TIMEOUTS: 4,
  RESET_HIGH_MEMORY_STREAM: 5,
  SHRINK_HEAP: 6,
} as const;
export type OverloadActionId = (typeof OverloadAction)[keyof typeof OverloadAction];

/** Envoy's action names -> index. */
export const OVERLOAD_ACTION_NAMES: Readonly<Record<string, OverloadActionId>> = {
  'envoy.overload_actions.stop_accepting_requests': OverloadAction.STOP_ACCEPTING_REQUESTS,
  'envoy.overload_actions.disable_http_keepalive': OverloadAction.DISABLE_HTTP_KEEPALIVE,
  'envoy.overload_actions.stop_accepting_connections': OverloadAction.STOP_ACCEPTING_CONNECTIONS,
  'envoy.overload_actions.reject_incoming_connections': OverloadAction.REJECT_INCOMING_CONNECTIONS,
  'envoy.overload_actions.reduce_timeouts': OverloadAction.REDUCE_TIMEOUTS,
  'envoy.overload_actions.reset_high_memory_stream': OverloadAction.RESET_HIGH_MEMORY_STREAM,
  'envoy.overload_actions.shrink_heap': OverloadAction.SHRINK_HEAP,
};

/** Int32 counters: [0] active downstream connections (all workers), [1] their limit (0 = none), then connection_limit filters. */
const GLOBAL_CX = 0;
const GLOBAL_CX_MAX = 1;
/** 1 while the server fails health checks (admin /healthcheck/fail); written by the primary, read by the health_check filter. */
const HEALTH_CHECK_FAILED = 2;
/** First counter of the envoy.filters.network.connection_limit instances (index assigned by the primary). */
export const CONNECTION_LIMIT_BASE = 8;
export const MAX_CONNECTION_LIMIT_COUNTERS = 1016;
const COUNTER_SLOTS = CONNECTION_LIMIT_BASE + MAX_CONNECTION_LIMIT_COUNTERS;
const ACTION_SLOTS = 8;
export const MAX_WORKERS = 256;
const HELD_OFFSET = COUNTER_SLOTS * 4 + (ACTION_SLOTS + MAX_WORKERS) * 8;
/**
 * Then the token buckets every worker shares (envoy.filters.http.local_ratelimit: Envoy's bucket is one per process):
 * a table of TOKEN_BUCKET_ENTRIES entries of TOKEN_BUCKET_ENTRY_INTS Int32 cells, used by
 * src/filters/shared-token-bucket.ts.
 */
const TOKEN_BUCKET_OFFSET = HELD_OFFSET + MAX_WORKERS * COUNTER_SLOTS * 4;
export const TOKEN_BUCKET_ENTRIES = 4096;
export const TOKEN_BUCKET_ENTRY_INTS = 8;
const BYTES = TOKEN_BUCKET_OFFSET + TOKEN_BUCKET_ENTRIES * TOKEN_BUCKET_ENTRY_INTS * 4;

export class OverloadShared {
  readonly buffer: SharedArrayBuffer;
  /** Connection counters (Atomics). */
  readonly counters: Int32Array;
  /** Action state per OverloadAction: 0 inactive, 1 saturated, between: scaled. Written by the primary only. */
  readonly actions: Float64Array;
  /** V8 heap in use (bytes) per worker index, written by that worker when a heap monitor is configured. */
  readonly heapBytes: Float64Array;
  /** This thread's part of every counter (a worker's row of the held table; the primary's is never used). */
  private readonly held: Int32Array;
  /** The shared token bucket table (src/filters/shared-token-bucket.ts); Float64 cells through tokenBucketTimes. */
  readonly tokenBuckets: Int32Array;
  readonly tokenBucketTimes: Float64Array;

  /**
   * reduce_timeouts (ScaleTimersOverloadActionConfig) for this thread's timers, from the current snapshot: the
   * least a timer may shrink to, as ms (minTimeoutMs) or as a fraction of its configured value (minScale); -1 in
   * both: the timer is not scaled.
   */
  connectionIdleMinMs = -1;
  connectionIdleMinScale = -1;
  streamIdleMinMs = -1;
  streamIdleMinScale = -1;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES), workerIndex = 0) {
    this.buffer = buffer;
    this.held = new Int32Array(buffer, HELD_OFFSET + workerIndex * COUNTER_SLOTS * 4, COUNTER_SLOTS);
    this.counters = new Int32Array(buffer, 0, COUNTER_SLOTS);
    this.actions = new Float64Array(buffer, COUNTER_SLOTS * 4, ACTION_SLOTS);
    this.heapBytes = new Float64Array(buffer, COUNTER_SLOTS * 4 + ACTION_SLOTS * 8, MAX_WORKERS);
    this.tokenBuckets = new Int32Array(buffer, TOKEN_BUCKET_OFFSET, TOKEN_BUCKET_ENTRIES * TOKEN_BUCKET_ENTRY_INTS);
    this.tokenBucketTimes = new Float64Array(buffer, TOKEN_BUCKET_OFFSET, TOKEN_BUCKET_ENTRIES * TOKEN_BUCKET_ENTRY_INTS / 2);
  }

  /**
   * Takes one downstream connection of the global limit (envoy.resource_monitors.global_downstream_max_connections,
   * or the limit derived from the fd limit). false: over the limit, nothing taken; the caller rejects the
   * connection and counts downstream_global_cx_overflow. Any worker, per accepted connection.
   */
  tryAcquireConnection(): boolean {
    const max = this.counters[GLOBAL_CX_MAX]!;
    const n = Atomics.add(this.counters, GLOBAL_CX, 1) + 1;
    if (max > 0 && n > max) {
      Atomics.sub(this.counters, GLOBAL_CX, 1);
      return false;
    }
    this.held[GLOBAL_CX]!++;
    return true;
  }

  releaseConnection(): void {
    Atomics.sub(this.counters, GLOBAL_CX, 1);
    this.held[GLOBAL_CX]!--;
  }

  get activeConnections(): number {
    return Atomics.load(this.counters, GLOBAL_CX);
  }

  get maxConnections(): number {
    return this.counters[GLOBAL_CX_MAX]!;
  }

  /** Primary: the global limit in force (0 = none). */
  setMaxConnections(max: number): void {
    Atomics.store(this.counters, GLOBAL_CX_MAX, Math.max(0, Math.min(max, 0x7fffffff)));
  }

  /** Whether the server fails health checks (/healthcheck/fail): one load, per health check request. */
  get healthCheckFailed(): boolean {
    return this.counters[HEALTH_CHECK_FAILED] !== 0;
  }

  /** Primary: /healthcheck/fail (true) and /healthcheck/ok (false). */
  setHealthCheckFailed(failed: boolean): void {
    Atomics.store(this.counters, HEALTH_CHECK_FAILED, failed ? 1 : 0);
  }

  /** connection_limit filter: takes one of `max` at counter `index`; false when full (nothing taken). */
  tryAcquireAt(index: number, max: number): boolean {
    const n = Atomics.add(this.counters, index, 1) + 1;
    if (n > max) {
      Atomics.sub(this.counters, index, 1);
      return false;
    }
    this.held[index]!++;
    return true;
  }

  releaseAt(index: number): void {
    Atomics.sub(this.counters, index, 1);
    this.held[index]!--;
  }

  /** Primary, once worker `workerIndex` has exited: gives back every connection it held. */
  releaseWorker(workerIndex: number): void {
    const held = new Int32Array(this.buffer, HELD_OFFSET + workerIndex * COUNTER_SLOTS * 4, COUNTER_SLOTS);
    for (let i = 0; i < COUNTER_SLOTS; i++) {
      const n = held[i]!;
      if (n === 0) continue;
      Atomics.sub(this.counters, i, n);
      held[i] = 0;
    }
  }

  countAt(index: number): number {
    return Atomics.load(this.counters, index);
  }

  /**
   * Whether a scaled action fires for this one request/connection: never when inactive, always when saturated,
   * else with probability equal to its state (Envoy's bernoulli(state)).
   */
  fires(action: OverloadActionId): boolean {
    const s = this.actions[action]!;
    return s > 0 && (s >= 1 || Math.random() < s);
  }
}

/**
 * A timer of `baseMs` scaled by reduce_timeouts (Envoy's scaled range timer): from baseMs when the action is
 * inactive down to its minimum when saturated, linearly in between. Called when the timer is armed.
 */
function scaled(shared: OverloadShared, baseMs: number, minMs: number, minScale: number): number {
  if (baseMs <= 0 || (minMs < 0 && minScale < 0)) return baseMs;
  const s = shared.actions[OverloadAction.REDUCE_TIMEOUTS]!;
  if (s <= 0) return baseMs;
  const min = minMs >= 0 ? Math.min(minMs, baseMs) : baseMs * minScale;
  return Math.round(min + (baseMs - min) * (1 - Math.min(s, 1)));
}

/** HTTP_DOWNSTREAM_CONNECTION_IDLE: the connection manager's idle_timeout as reduce_timeouts has it now. */
export function connectionIdleTimeoutMs(baseMs: number): number {
  const o = overloadShared;
  return scaled(o, baseMs, o.connectionIdleMinMs, o.connectionIdleMinScale);
}

/** HTTP_DOWNSTREAM_STREAM_IDLE: stream_idle_timeout as reduce_timeouts has it now. */
export function streamIdleTimeoutMs(baseMs: number): number {
  const o = overloadShared;
  return scaled(o, baseMs, o.streamIdleMinMs, o.streamIdleMinScale);
}

/**
 * Arms (or pushes back) a connection's idle timer for HTTP_DOWNSTREAM_CONNECTION_IDLE: the plain armOrRefresh
 * while reduce_timeouts leaves it alone (one typed-array read more), a fresh timer at the scaled duration while
 * the action is active.
 */
export function armConnectionIdleTimer<T>(timer: NodeJS.Timeout | null, baseMs: number, fire: (owner: T) => void, owner: T): NodeJS.Timeout {
  const ms = connectionIdleTimeoutMs(baseMs);
  if (ms === baseMs) return armOrRefresh(timer, ms, fire, owner);
  if (timer !== null) clearTimeout(timer);
  return setTimeout(fire, ms, owner);
}

/**
 * The one instance of this thread. Workers attach the primary's buffer at start (attachOverloadShared); until then
 * (and in the primary, which makes the buffer) it is a private buffer with no limits and no actions.
 */
export let overloadShared = new OverloadShared();

export function attachOverloadShared(buffer: SharedArrayBuffer, workerIndex: number): void {
  overloadShared = new OverloadShared(buffer, workerIndex);
}

/** Per accepted socket ('close' listener, no closure): gives back its global connection. */
export function releaseGlobalConnectionOnClose(): void {
  overloadShared.releaseConnection();
}
