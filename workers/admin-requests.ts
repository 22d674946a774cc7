// Worker thread. A worker's answers to the admin's requests (src/primary/admin-wiring.ts asks every worker): its
// V8 heap numbers (/memory), zeroing its counters (/reset_counters: it is its stats region's only writer, so the
// primary never writes there while it runs) and its own V8 profilers (/cpuprofiler, /heapprofiler). Off the data
// path: only an operator's request runs any of this.

import v8 from 'node:v8';
import type { WorkerAdminReply, WorkerAdminRequest } from '../src/messages/thread-messages.ts';
import { profileFile, setProfiler } from '../src/common/v8-profiler.ts';

export async function answerAdminRequest(request: WorkerAdminRequest, values: Float64Array, workerIndex: number): Promise<WorkerAdminReply> {
  switch (request.kind) {
    case 'memory': {
      const h = v8.getHeapStatistics();
      return {
        kind: 'memory',
        heap: { usedHeapSize: h.used_heap_size, totalHeapSize: h.total_heap_size, externalMemory: h.external_memory, mallocedMemory: h.malloced_memory },
      };
    }
    case 'reset_counters': {
      const slots = request.slots;
      for (let i = 0; i < slots.length; i++) values[slots[i]!] = 0;
      return { kind: 'reset_counters' };
    }
    case 'profiler': {
      const o = await setProfiler(request.profiler, request.enable, profileFile(request.fileBase, `worker_${workerIndex}`, request.profiler));
      return { kind: 'profiler', file: o.file, error: o.error };
    }
  }
}
