// Primary thread (bench harness). One h2load run (1 thread, pinned to the load CPU) for a fixed duration, its
// summary parsed from stdout and every request's latency (µs) read from its --log-file into an HdrHistogram.

import fs from 'node:fs';
import { LatencyRecorder, type LatencySummary, type PercentileCurve } from '../../src/bench-tools/latency-histogram.ts';
import { runToCompletion } from './bench-process.ts';

export interface H2loadSpec {
  readonly h2load: string;
  readonly url: string;
  readonly clients: number;
  /** Concurrent streams per connection (-m). */
  readonly streams: number;
  /** Whole seconds (-D). */
  readonly durationS: number;
  readonly cpus: string | undefined;
  /** Per-request log (--log-file); read, then removed. */
  readonly logFile: string;
  /** POST this file (-d). */
  readonly dataFile?: string;
  readonly headers?: readonly string[];
  readonly extraArgs?: readonly string[];
}

export interface H2loadResult {
  readonly durationS: number;
  readonly requests: number;
  /** 2xx responses. */
  readonly succeeded2xx: number;
  readonly requestsPerSecond: number;
  /** Requests that failed (reset, error, timeout) or were answered with a non-2xx status. */
  readonly errors: number;
  /** "TLSv1.3 TLS_AES_128_GCM_SHA256 h2", or "h2c" without TLS. */
  readonly negotiated: string;
  readonly latency: LatencySummary;
  readonly curve: PercentileCurve;
  /** The summary lines of h2load's output, for error reports. */
  readonly summaryText: string;
}

export class H2loadError extends Error {
  override name = 'H2loadError';
  readonly code = 'BENCH_H2LOAD_FAILED';
}

function num(re: RegExp, text: string, what: string, output: string): number {
  const m = re.exec(text);
  if (m === null) throw new H2loadError(`h2load output has no ${what}:\n${output.trim().split('\n').slice(-12).join('\n')}`);
  return Number(m[1]);
}

/** The latencies (3rd column, µs) of h2load's --log-file; rows with status -1 (no response) are skipped. */
function latencies(file: string): LatencyRecorder {
  const rec = new LatencyRecorder();
  const text = fs.readFileSync(file, 'latin1');
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const t1 = text.indexOf('\t', start);
    const t2 = t1 < 0 ? -1 : text.indexOf('\t', t1 + 1);
    if (t2 > 0 && t2 < end && text.charCodeAt(t1 + 1) !== 45 /* '-' */) {
      const us = Number(text.slice(t2 + 1, end));
      if (Number.isFinite(us)) rec.histogram.recordValue(Math.max(1, us));
    }
    start = end + 1;
  }
  return rec;
}

export async function runH2load(s: H2loadSpec): Promise<H2loadResult> {
  const args = ['-c', String(s.clients), '-m', String(s.streams), '-t', '1', '-D', String(s.durationS), '--log-file', s.logFile];
  if (s.dataFile !== undefined) args.push('-d', s.dataFile);
  for (const h of s.headers ?? []) args.push('-H', h);
  args.push(...(s.extraArgs ?? []));
  args.push(s.url);
  const r = await runToCompletion({ command: s.h2load, args, cpus: s.cpus, timeoutMs: (s.durationS + 30) * 1000 });
  const out = r.stdout + '\n' + r.stderr;
  if (r.code !== 0) throw new H2loadError(`h2load exited ${r.code}:\n${out.trim().split('\n').slice(-12).join('\n')}`);
  const from = out.indexOf('finished in');
  const summaryText = from < 0 ? out : out.slice(from);
  const durationS = num(/finished in ([0-9.]+)s/, summaryText, 'duration', out);
  const done = num(/requests: \d+ total, \d+ started, (\d+) done/, summaryText, 'request counts', out);
  const failed = num(/ (\d+) failed/, summaryText, 'failed count', out);
  const ok = num(/status codes: (\d+) 2xx/, summaryText, 'status codes', out);
  const proto = /Application protocol: (\S+)/.exec(out)?.[1];
  const tls = /TLS Protocol: (\S+)/.exec(out)?.[1];
  const cipher = /Cipher: (\S+)/.exec(out)?.[1];
  const negotiated = tls !== undefined ? `${tls} ${cipher ?? '?'} ${proto ?? '?'}` : `${proto ?? 'h2c'}`;
  if (proto !== undefined && proto !== 'h2' && proto !== 'h2c') throw new H2loadError(`h2load negotiated ${proto}, not HTTP/2`);
  let rec: LatencyRecorder;
  try {
    rec = latencies(s.logFile);
  } finally {
    fs.rmSync(s.logFile, { force: true });
  }
  return {
    durationS,
    requests: done,
    succeeded2xx: ok,
    requestsPerSecond: ok / durationS,
    // h2load's "failed" includes the errored and timed-out; a done request that is not 2xx counts too.
    errors: Math.max(done - ok, failed),
    negotiated,
    latency: rec.summary(),
    curve: rec.curve(),
    summaryText: summaryText.trim(),
  };
}
