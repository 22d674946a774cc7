// Primary thread (pure). Envoy's /memory (envoy.admin.v3.Memory, tcmalloc's numbers) mapped onto V8: Legate's
// memory is one V8 heap per thread (the primary's and each worker's) plus the Buffers they hold outside it.
//   allocated            = Σ threads (used_heap_size + external_memory)    what the program holds
//   heap_size            = Σ threads (total_heap_size + external_memory)   what the heaps have taken from the OS
//   pageheap_free        = Σ threads (total_heap_size − used_heap_size)    taken but free inside the heaps
//   pageheap_unmapped    = 0                                                (V8 keeps no such list)
//   total_thread_cache   = 0                                                (no per-thread allocator caches)
//   total_physical_bytes = the process's resident set size (RSS)
// uint64 fields print as strings (proto3 JSON), every field always (as Envoy prints this message).
// ?per_thread adds `legate_threads`, each thread's own numbers (a Legate extension, off by default so the body
// stays a valid envoy.admin.v3.Memory).

import type { ThreadHeapStats } from '../messages/thread-messages.ts';

export interface ThreadMemory {
  /** "main" (the primary) or "worker_<i>". */
  readonly thread: string;
  readonly heap: ThreadHeapStats;
}

export interface MemorySample {
  readonly threads: readonly ThreadMemory[];
  readonly rssBytes: number;
}

export function memoryJson(sample: MemorySample, perThread: boolean): Record<string, unknown> {
  let allocated = 0;
  let heapSize = 0;
  let free = 0;
  for (const t of sample.threads) {
    const h = t.heap;
    allocated += h.usedHeapSize + h.externalMemory;
    heapSize += h.totalHeapSize + h.externalMemory;
    free += Math.max(0, h.totalHeapSize - h.usedHeapSize);
  }
  const out: Record<string, unknown> = {
    allocated: String(allocated),
    heap_size: String(heapSize),
    pageheap_unmapped: '0',
    pageheap_free: String(free),
    total_thread_cache: '0',
    total_physical_bytes: String(sample.rssBytes),
  };
  if (perThread) {
    out['legate_threads'] = sample.threads.map((t) => ({
      thread: t.thread,
      used_heap_size: String(t.heap.usedHeapSize),
      total_heap_size: String(t.heap.totalHeapSize),
      external_memory: String(t.heap.externalMemory),
      malloced_memory: String(t.heap.mallocedMemory),
    }));
  }
  return out;
}
