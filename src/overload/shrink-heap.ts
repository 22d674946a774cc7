// Any thread. envoy.overload_actions.shrink_heap as Node can do it. Envoy asks tcmalloc to return its free pages to
// the system every 10 s while the action is saturated; Node's allocators offer no such call (glibc's malloc_trim is
// not reachable from JavaScript). The nearest thing is V8's own: a full, memory-reducing ("last resort") garbage
// collection of this thread's heap, which frees unreachable objects and the Buffers only they held, shrinks the
// young generation and hands V8's now-empty pages back to the system. It stops this thread for the collection's
// length (tens of milliseconds on a large heap), which is why it only runs while the action is saturated.

import v8 from 'node:v8';
import vm from 'node:vm';

type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

let gc: GcFunction | null = null;

/**
 * Makes V8's gc() available to this thread: once, when a config version uses shrink_heap. The flag is process-wide
 * (V8 flags are); the function comes from a fresh context, so no global `gc` appears in this thread's own context.
 */
export function enableShrinkHeap(): void {
  if (gc !== null) return;
  v8.setFlagsFromString('--expose-gc');
  gc = vm.runInNewContext('gc') as GcFunction;
}

/** One shrink of this thread's heap (enableShrinkHeap() first, else nothing happens and false is returned). */
export function shrinkHeap(): boolean {
  if (gc === null) return false;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}
