// Main thread of whichever process drives the load (`legate bench`, or the harness's autocannon child). One
// closed-loop (or rate-limited) autocannon run, with every response's latency recorded in microseconds.

import { createRequire } from 'node:module';
import { LatencyRecorder, type LatencySummary, type PercentileCurve } from './latency-histogram.ts';

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  readonly pipelining: number;
  /** Requests per second over all connections; 0 = as fast as responses come back. */
  readonly rate: number;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer | undefined;
  /** Seconds a request may take before it counts as a timeout (autocannon wants a whole number ≥ 1). */
  readonly timeoutS: number;
}

export interface LoadProgress {
  readonly elapsedS: number;
  /** Responses per second since the previous report. */
  readonly responsesPerSecond: number;
  readonly responses: number;
  readonly errors: number;
}

export interface LoadResult {
  readonly url: string;
  readonly startedAt: string;
  readonly durationS: number;
  /** Responses received (any status); `statusCodes` sums to this. */
  readonly responses: number;
  readonly requestsPerSecond: number;
  /** Requests written, including those still in flight when the run stopped. */
  readonly requestsSent: number;
  readonly bytesRead: number;
  readonly bytesPerSecond: number;
  /** Connection errors and timeouts (autocannon counts a timeout as an error too). */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  readonly latency: LatencySummary;
  readonly curve: PercentileCurve;
  /** HdrHistogram (µs) in compressed base64. */
  readonly histogram: string;
  /** The first few distinct error messages, for a person reading the report. */
  readonly errorSamples: readonly string[];
}

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
  on(event: 'reqError', fn: (err: Error) => void): void;
  on(event: 'tick', fn: () => void): void;
  stop(): void;
}
interface AutocannonRawResult {
  readonly duration: number;
  readonly totalRequests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly start: Date;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AutocannonRawResult) => void) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const MAX_ERROR_SAMPLES = 5;

/** Runs the load; `onProgress` is called about once a second. Resolves when the duration is over. */
export function runLoad(spec: LoadSpec, onProgress?: (p: LoadProgress) => void): Promise<LoadResult> {
  // Rate-limited load: each connection is due a request every connections/rate seconds; a response slower than
  // that hides the requests that would have been sent meanwhile, so the recorder back-fills them.
  const expectedIntervalUs = spec.rate > 0 ? Math.round((1e6 * spec.connections) / spec.rate) : 0;
  const recorder = new LatencyRecorder(expectedIntervalUs);
  const statusCodes: Record<string, number> = {};
  const errorSamples: string[] = [];
  let responses = 0;
  let non2xx = 0;
  let bytesRead = 0;
  let errors = 0;
  const started = new Date();
  let lastTickMs = started.getTime();
  let lastTickResponses = 0;

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationS,
        pipelining: spec.pipelining,
        overallRate: spec.rate > 0 ? spec.rate : undefined,
        method: spec.method,
        headers: spec.headers,
        body: spec.body,
        timeout: Math.max(1, Math.round(spec.timeoutS)),
        // How often autocannon checks whether the duration is over (its default, 1 s, rounds runs up to seconds).
        sampleInt: 100,
        // The raw result (totalRequests, errors, timeouts, duration) without decoding autocannon's ms histograms.
        skipAggregateResult: true,
      },
      (err, raw) => {
        if (err !== null) {
          reject(err);
          return;
        }
        const durationS = raw.duration > 0 ? raw.duration : spec.durationS;
        resolve({
          url: spec.url,
          startedAt: started.toISOString(),
          durationS,
          responses,
          requestsPerSecond: responses / durationS,
          requestsSent: raw.totalRequests,
          bytesRead,
          bytesPerSecond: bytesRead / durationS,
          errors: raw.errors,
          timeouts: raw.timeouts,
          non2xx,
          statusCodes,
          latency: recorder.summary(),
          curve: recorder.curve(),
          histogram: recorder.encoded(),
          errorSamples,
        });
      },
    );
    instance.on('response', (_client, statusCode, bytes, responseTimeMs) => {
      responses++;
      bytesRead += bytes;
      if (statusCode < 200 || statusCode > 299) non2xx++;
      const key = String(statusCode);
      statusCodes[key] = (statusCodes[key] ?? 0) + 1;
      recorder.recordMs(responseTimeMs);
    });
    instance.on('reqError', (e) => {
      errors++;
      const msg = e.message || String(e);
      if (errorSamples.length < MAX_ERROR_SAMPLES && !errorSamples.includes(msg)) errorSamples.push(msg);
    });
    // autocannon ticks once a second, and once more when it stops (that one is dropped: it covers no second).
    instance.on('tick', () => {
      const now = Date.now();
      if (now - lastTickMs < 500) return;
      const perSecond = ((responses - lastTickResponses) * 1000) / (now - lastTickMs);
      lastTickMs = now;
      lastTickResponses = responses;
      onProgress?.({ elapsedS: (now - started.getTime()) / 1000, responsesPerSecond: perSecond, responses, errors });
    });
  });
}
