// Worker thread. A request waiting for a pool (HTTP/1.1 connection or HTTP/2 stream slot): who asked, whether it
// still waits, and the pool's count to keep when it gives up. Shared by connection-pool.ts and http2-pool.ts.

import type { PoolHandle } from './connection-pool.ts';

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
