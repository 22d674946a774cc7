// Any thread (the primary and each worker profile themselves). V8's CPU profiler and sampling heap profiler for
// this thread through node:inspector, for the admin's /cpuprofiler and /heapprofiler: started on request,
// stopped on request or after MAX_PROFILE_MS (so a forgotten profiler does not grow without bound), the profile
// written as JSON to a file (.cpuprofile, .heapprofile: Chrome DevTools and speedscope open them). Nothing here
// runs unless an operator asks; the session is opened on first use.

import fs from 'node:fs/promises';
import inspector from 'node:inspector/promises';
import { log } from './logger.ts';

/** A profiler left running stops (and writes its file) after this long. */
export const MAX_PROFILE_MS = 10 * 60_000;
/** The sampling heap profiler's mean interval between samples (V8's default is 32 KiB). */
const HEAP_SAMPLING_INTERVAL_BYTES = 32 * 1024;

export type ProfilerKind = 'cpu' | 'heap';

/** `file` is set when a profile was written; `error` when starting or writing failed. */
export interface ProfilerOutcome {
  readonly file: string | null;
  readonly error: string | null;
}

interface Running {
  readonly file: string;
  readonly timer: NodeJS.Timeout;
}

let session: inspector.Session | null = null;
const running: Record<ProfilerKind, Running | null> = { cpu: null, heap: null };
/** Start and stop run one after another (each is several inspector round trips). */
let queue: Promise<unknown> = Promise.resolve();

function connected(): inspector.Session {
  if (session === null) {
    session = new inspector.Session();
    session.connect();
  }
  return session;
}

/** Where a thread's profile goes: `<base>.<thread>.cpuprofile` or `.heapprofile` (thread: main, worker_<i>). */
export function profileFile(base: string, thread: string, kind: ProfilerKind): string {
  return `${base}.${thread}.${kind === 'cpu' ? 'cpuprofile' : 'heapprofile'}`;
}

export function profilerRunning(kind: ProfilerKind): boolean {
  return running[kind] !== null;
}

/** Starts (enable) or stops this thread's profiler of `kind`; stopping writes the profile to the file given at start. */
export function setProfiler(kind: ProfilerKind, enable: boolean, file: string): Promise<ProfilerOutcome> {
  const run = queue.then(() => (enable ? start(kind, file) : stop(kind)));
  queue = run.catch(() => undefined);
  return run;
}

async function start(kind: ProfilerKind, file: string): Promise<ProfilerOutcome> {
  if (running[kind] !== null) return { file: null, error: null };
  try {
    const s = connected();
    if (kind === 'cpu') {
      await s.post('Profiler.enable');
      await s.post('Profiler.start');
    } else {
      await s.post('HeapProfiler.enable');
      await s.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLING_INTERVAL_BYTES });
    }
  } catch (err) {
    return { file: null, error: (err as Error).message };
  }
  const timer = setTimeout(() => {
    void setProfiler(kind, false, file).then((o) => {
      if (o.file !== null) log.info(`${kind} profiler stopped after ${MAX_PROFILE_MS / 60_000} min; profile written to ${o.file}`);
    });
  }, MAX_PROFILE_MS);
  timer.unref();
  running[kind] = { file, timer };
  return { file: null, error: null };
}

async function stop(kind: ProfilerKind): Promise<ProfilerOutcome> {
  const r = running[kind];
  if (r === null) return { file: null, error: null };
  running[kind] = null;
  clearTimeout(r.timer);
  try {
    const s = connected();
    const profile = kind === 'cpu' ? (await s.post('Profiler.stop')).profile : (await s.post('HeapProfiler.stopSampling')).profile;
    await fs.writeFile(r.file, JSON.stringify(profile));
    return { file: r.file, error: null };
  } catch (err) {
    return { file: null, error: `${r.file}: ${(err as Error).message}` };
  }
}
