// Worker thread. A request waiting for a pool (HTTP/1.1 connection or HTTP/2 stream slot): who asked, whether it
// still waits, and the pool's count to keep when it gives up. Shared by connection-pool.ts and http2-pool.ts.

import type { PoolContext, PoolFailureReason, PoolHandle } from './connection-pool.ts';
import type { UpstreamHost } from './upstream-host.ts';

/** What a pool counts when a waiter cancels. */
export interface PendingOwner {
  onCancel(): void;
}

export class PendingAcquire<R> implements PoolHandle {
  readonly owner: PendingOwner;
  readonly requester: R;
  waiting: boolean;

  constructor(owner: PendingOwner, requester: R) {
    this.owner = owner;
    this.requester = requester;
    this.waiting = true;
  }

  cancel(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.owner.onCancel();
  }
}

/**
 * A request no connection can take yet: refused with 'overflow' (null returned) when the cluster's circuit breaker
 * has max_pending_requests waiting already (all workers), else a new waiter counted on the host and in
 * upstream_rq_pending_active. The pool queues it and bumps its own count (`_waiting`, this pool's waiters, is kept
 * for the callers' symmetry).
 */
export function admitWaiter<R extends { onPoolFailure(reason: PoolFailureReason): void }>(
  owner: PendingOwner, ctx: PoolContext, host: UpstreamHost, _waiting: number, requester: R,
): PendingAcquire<R> | null {
  const values = ctx.stats.values;
  // max_pending_requests of the cluster's circuit breaker, over all workers (given back when the waiter leaves
  // the queue: served, cancelled or failed).
  if (!ctx.breaker.tryStartPending()) {
    values[ctx.slots.upstream_rq_pending_overflow]++;
    requester.onPoolFailure('overflow');
    return null;
  }
  host.activeRequests++;
  values[ctx.slots.upstream_rq_pending_active]++;
  return new PendingAcquire(owner, requester);
}
