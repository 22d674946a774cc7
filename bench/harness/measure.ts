// Primary thread (bench harness). One measurement: a load run against a running system (wrk for throughput, CPU and
// latency, then a keep-alive autocannon run for its µs HdrHistogram), an h2load run (HTTP/2 over TLS, gRPC over
// h2c), or the idle-connection memory probe.

import fs from 'node:fs';
import path from 'node:path';
import type { LatencySummary, PercentileCurve } from '../../src/bench-tools/latency-histogram.ts';
import type { LoadResult } from '../../src/bench-tools/load-run.ts';
import { BenchProcess, runToCompletion } from './bench-process.ts';
import { cpuSeconds, treeRssKiB } from './proc-stats.ts';
import { runWrk, type WrkResult } from './wrk-load.ts';
import { runH2load } from './h2load-load.ts';
import { ROOT, type RunContext, type RunningSystem, type Speaks, type SystemDef } from './systems.ts';
import { BODY_PATHS } from './configs/nginx-conf.ts';
import { GRPC_UNARY_PATH } from './grpc-bench-service.ts';
import type { H2Scenario, LoadScenario } from './scenarios.ts';

export interface LoadTools {
  /** wrk's path, or undefined to take throughput from autocannon too. */
  readonly wrk: string | undefined;
  readonly wrkScript: string | undefined;
  readonly loadCpus: string | undefined;
  readonly connections: number;
  readonly durationS: number;
  readonly latencyDurationS: number;
  /** h2load's path, for the HTTP/2 scenarios. */
  readonly h2load: string | undefined;
  /** The gRPC-framed request body h2load POSTs in grpc-unary. */
  readonly grpcBody: string | undefined;
  /** Where h2load's per-request logs go (removed once read). */
  readonly tmpDir: string;
}

export interface LatencyFigures {
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export interface HdrPhase {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly cpuUsPerRequest: number | undefined;
  readonly errors: number;
  readonly non2xx: number;
  readonly latency: LatencySummary;
  /** Compressed base64 HdrHistogram of the latencies (µs). */
  readonly histogram: string;
}

export interface LoadRun {
  readonly rep: number;
  /** Which tool the throughput, CPU and latency figures come from. */
  readonly tool: 'wrk' | 'autocannon' | 'h2load';
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Proxy CPU (user+system, all its processes) per request; undefined for direct. */
  readonly cpuUsPerRequest: number | undefined;
  /** Proxy CPU seconds per wall second during the run (1 = one core busy). */
  readonly proxyCpuCores: number | undefined;
  /** Socket errors, timeouts and non-2xx answers. */
  readonly errors: number;
  /**
   * Closed-loop latency at the run's connection count, in µs. Undefined when autocannon drove a
   * new-connection-per-request run: it misattributes request start times when the server closes.
   */
  readonly latency: LatencyFigures | undefined;
  readonly curve: PercentileCurve;
  /** The extra autocannon run after wrk (µs HdrHistogram), when there was one. */
  readonly autocannon: HdrPhase | undefined;
  /** h2load runs: what the connections negotiated ("TLSv1.3 TLS_AES_128_GCM_SHA256 h2", "h2c"). */
  readonly negotiated?: string;
  /** h2load runs with errors: its summary lines, as evidence. */
  readonly h2loadSummary?: string;
  /** h2load runs: the proxy's RSS (all its processes) right after the run, KiB; the systems stay up all run long. */
  readonly rssAfterKiB?: number;
}

export class MeasureError extends Error {
  override name = 'MeasureError';
  readonly code = 'BENCH_MEASURE_FAILED';
}

function url(port: number, p: string): string {
  return `http://127.0.0.1:${port}${p}`;
}

export async function runAutocannonChild(
  targetUrl: string,
  connections: number,
  durationS: number,
  keepAlive: boolean,
  cpus: string | undefined,
): Promise<LoadResult> {
  const spec = JSON.stringify({ url: targetUrl, connections, durationS, keepAlive });
  const r = await runToCompletion({
    command: process.execPath,
    args: [path.join(ROOT, 'bench/harness/autocannon-load.ts'), spec],
    cpus,
    timeoutMs: (durationS + 30) * 1000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) {
    throw new MeasureError(`autocannon exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return JSON.parse(line) as LoadResult;
}

function cpuOf(sys: RunningSystem): { pids: number[]; seconds: number } | undefined {
  const pids = sys.pids();
  if (pids.length === 0) return undefined;
  return { pids, seconds: cpuSeconds(pids) };
}

/** CPU µs per request between two readings (the pids of the first reading: nginx's do not change meanwhile). */
function perRequest(before: { pids: number[]; seconds: number } | undefined, requests: number): number | undefined {
  if (before === undefined || requests === 0) return undefined;
  return ((cpuSeconds(before.pids) - before.seconds) * 1e6) / requests;
}

async function hdrPhase(sys: RunningSystem, sc: LoadScenario, t: LoadTools, durationS: number): Promise<{ phase: HdrPhase; curve: PercentileCurve; wallS: number }> {
  const before = cpuOf(sys);
  const r = await runAutocannonChild(url(sys.port, sc.path), t.connections, durationS, sc.keepAlive, t.loadCpus);
  return {
    phase: {
      requests: r.responses,
      requestsPerSecond: r.requestsPerSecond,
      cpuUsPerRequest: perRequest(before, r.responses),
      errors: r.errors,
      non2xx: r.non2xx,
      latency: r.latency,
      histogram: r.histogram,
    },
    curve: r.curve,
    wallS: r.durationS,
  };
}

function cores(cpuUsPerRequest: number | undefined, requests: number, wallS: number): number | undefined {
  return cpuUsPerRequest === undefined ? undefined : (cpuUsPerRequest * requests) / 1e6 / wallS;
}

export async function measureLoad(sys: RunningSystem, sc: LoadScenario, t: LoadTools, rep: number): Promise<LoadRun> {
  if (!sys.running) throw new MeasureError(`the process is not running:\n${sys.logTail()}`);
  if (t.wrk === undefined) {
    const h = await hdrPhase(sys, sc, t, t.durationS);
    const l = h.phase.latency;
    return {
      rep,
      tool: 'autocannon',
      requests: h.phase.requests,
      requestsPerSecond: h.phase.requestsPerSecond,
      cpuUsPerRequest: h.phase.cpuUsPerRequest,
      proxyCpuCores: cores(h.phase.cpuUsPerRequest, h.phase.requests, h.wallS),
      errors: h.phase.errors + h.phase.non2xx,
      latency: sc.keepAlive ? { p50Us: l.p50Us, p90Us: l.p90Us, p99Us: l.p99Us, p999Us: l.p999Us, maxUs: l.maxUs } : undefined,
      curve: sc.keepAlive ? h.curve : [],
      autocannon: undefined,
    };
  }
  const before = cpuOf(sys);
  const w = await runWrk({
    wrk: t.wrk,
    url: url(sys.port, sc.path),
    connections: t.connections,
    durationS: t.durationS,
    keepAlive: sc.keepAlive,
    cpus: t.loadCpus,
    scriptPath: t.wrkScript!,
  });
  const cpuUs = perRequest(before, w.requests);
  // autocannon cannot time new-connection requests (see LoadRun.latency), so it only follows keep-alive runs.
  const h = sc.keepAlive && t.latencyDurationS > 0 ? await hdrPhase(sys, sc, t, t.latencyDurationS) : undefined;
  const e = w.errors;
  const l = w.latencyUs;
  return {
    rep,
    tool: 'wrk',
    requests: w.requests,
    requestsPerSecond: w.requestsPerSecond,
    cpuUsPerRequest: cpuUs,
    proxyCpuCores: cores(cpuUs, w.requests, w.durationS),
    errors: e.connect + e.read + e.write + e.status + e.timeout,
    latency: { p50Us: l.p50, p90Us: l.p90, p99Us: l.p99, p999Us: l.p999, maxUs: l.max },
    curve: w.curve,
    autocannon: h?.phase,
  };
}
/** The h2load command line of an HTTP/2 scenario against `port`: URL, and for gRPC the body and headers. */
function h2Target(protocol: H2Scenario['protocol'], port: number, p: string, t: LoadTools): { url: string; dataFile?: string; headers?: string[]; extraArgs?: string[] } {
  // One TLS 1.3 cipher for every server (left to them, Node prefers AES-256-GCM, the others AES-128-GCM).
  if (protocol === 'h2-tls') return { url: `https://127.0.0.1:${port}${p}`, extraArgs: ['--tls13-ciphers=TLS_AES_128_GCM_SHA256'] };
  if (t.grpcBody === undefined) throw new MeasureError('no gRPC request body written');
  return { url: `http://127.0.0.1:${port}${p}`, dataFile: t.grpcBody, headers: ['content-type: application/grpc', 'te: trailers'] };
}

/**
 * h2load for the run's duration; proxy CPU from /proc around it, per 2xx response. No --warm-up-time: the CPU
 * window must cover exactly the requests counted (systems get their warm-up before the first repetition).
 */
export async function measureH2(sys: RunningSystem, sc: H2Scenario, t: LoadTools, rep: number, instance: string): Promise<LoadRun> {
  if (!sys.running) throw new MeasureError(`the process is not running:\n${sys.logTail()}`);
  if (t.h2load === undefined) throw new MeasureError('h2load is not installed');
  const before = cpuOf(sys);
  const r = await runH2load({
    h2load: t.h2load,
    ...h2Target(sc.protocol, sys.port, sc.path, t),
    clients: sc.clients,
    streams: sc.streams,
    durationS: t.durationS,
    cpus: t.loadCpus,
    logFile: path.join(t.tmpDir, `h2load-${instance}-r${rep}.tsv`),
  });
  const cpuUs = perRequest(before, r.succeeded2xx);
  if (r.succeeded2xx === 0) throw new MeasureError(`h2load got no 2xx response:\n${r.summaryText}${sys.running ? '' : `\nthe process exited:\n${sys.logTail()}`}`);
  const l = r.latency;
  return {
    rep,
    tool: 'h2load',
    requests: r.succeeded2xx,
    requestsPerSecond: r.requestsPerSecond,
    cpuUsPerRequest: cpuUs,
    proxyCpuCores: cores(cpuUs, r.succeeded2xx, r.durationS),
    errors: r.errors,
    latency: { p50Us: l.p50Us, p90Us: l.p90Us, p99Us: l.p99Us, p999Us: l.p999Us, maxUs: l.maxUs },
    curve: r.curve,
    autocannon: undefined,
    negotiated: r.negotiated,
    h2loadSummary: r.errors > 0 ? r.summaryText : undefined,
    rssAfterKiB: before !== undefined ? treeRssKiB(before.pids) : undefined,
  };
}

/** Load run only to warm a system up (JIT, pools, TLS sessions); nothing recorded. */
export async function warmUp(sys: RunningSystem, t: LoadTools, seconds: number, speaks: Speaks = 'http1'): Promise<void> {
  if (seconds <= 0 || !sys.running) return;
  if (speaks === 'http1') {
    await runAutocannonChild(url(sys.port, BODY_PATHS.small), t.connections, seconds, true, t.loadCpus);
    return;
  }
  if (t.h2load === undefined) return;
  await runH2load({
    h2load: t.h2load,
    ...h2Target(speaks, sys.port, speaks === 'grpc' ? GRPC_UNARY_PATH : BODY_PATHS.small, t),
    clients: 10,
    streams: 10,
    durationS: Math.max(1, Math.round(seconds)),
    cpus: t.loadCpus,
    logFile: path.join(t.tmpDir, `h2load-warmup-${sys.port}.tsv`),
  });
}

export interface IdleRun {
  readonly rep: number;
  /** Connections open and idle when RSS was read. */
  readonly connections: number;
  readonly failed: number;
  readonly rssBeforeKiB: number;
  readonly rssAfterKiB: number;
  readonly kibPerConnection: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitForReady(client: BenchProcess, timeoutMs: number): Promise<{ open: number; failed: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /^ready (\d+) (\d+)$/m.exec(fs.readFileSync(client.logPath, 'utf8'));
    if (m !== null) return { open: Number(m[1]), failed: Number(m[2]) };
    if (!client.running) throw new MeasureError(`idle-connection client exited ${client.exitCode}:\n${client.logTail()}`);
    if (Date.now() > deadline) throw new MeasureError(`idle-connection client not ready after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * A fresh instance: warmed with a short keep-alive load, RSS read, N connections opened (one request answered on
 * each, then idle), RSS read again after a settling second. Per connection = the difference / N.
 */
export async function measureIdle(def: SystemDef, ctx: RunContext, t: LoadTools, n: number, rep: number, warmS: number): Promise<IdleRun> {
  const sys = await def.start(ctx, `${def.id}-idle-r${rep}`);
  let client: BenchProcess | undefined;
  try {
    await warmUp(sys, t, warmS);
    await sleep(500);
    const pids = sys.pids();
    const before = treeRssKiB(pids);
    client = new BenchProcess({
      name: `idle-client-${def.id}-r${rep}`,
      command: process.execPath,
      args: [path.join(ROOT, 'bench/harness/idle-connections.ts'), String(sys.port), String(n), BODY_PATHS.small],
      cpus: t.loadCpus,
      logDir: ctx.tmpDir,
    });
    const ready = await waitForReady(client, 180_000);
    await sleep(1000);
    const after = treeRssKiB(sys.pids());
    if (!sys.running) throw new MeasureError(`the process died while holding ${n} connections:\n${sys.logTail()}`);
    return {
      rep,
      connections: ready.open,
      failed: ready.failed,
      rssBeforeKiB: before,
      rssAfterKiB: after,
      kibPerConnection: ready.open > 0 ? (after - before) / ready.open : NaN,
    };
  } finally {
    await client?.stop();
    await sys.stop();
  }
}
