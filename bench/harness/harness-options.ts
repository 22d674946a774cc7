// Primary thread (bench harness, pure). The options of `make bench` (bench/run.ts) and its --help text.

import path from 'node:path';
import { parseDurationSeconds, DurationSyntaxError } from '../../src/bench-tools/duration.ts';
import { PROFILES, type Profile } from './configs/realistic-routes.ts';

export const BENCH_DIR = path.resolve(import.meta.dirname, '..');
export const DEFAULT_OUT_DIR = path.join(BENCH_DIR, 'results');
export const DEFAULT_RESULTS_MD = path.join(BENCH_DIR, 'RESULTS.md');

export type UpstreamChoice = 'auto' | 'nginx' | 'node';
export type LoadChoice = 'auto' | 'wrk' | 'autocannon';

export interface HarnessOptions {
  quick: boolean;
  /** Seconds of wrk load per measurement (whole seconds: wrk takes no fractions). */
  durationS: number;
  /** Seconds of autocannon load per measurement (the HdrHistogram latency run). */
  latencyDurationS: number;
  warmupS: number;
  reps: number;
  connections: number;
  /** System ids or families (legate, nginx …); undefined = all. */
  only: readonly string[] | undefined;
  scenarios: readonly string[] | undefined;
  /** Config profiles to run (systems without one, direct and http-proxy, always run); undefined = all. */
  profiles: readonly Profile[] | undefined;
  outDir: string;
  resultsMd: string;
  install: boolean;
  upstream: UpstreamChoice;
  load: LoadChoice;
  idleConnections: number;
  keepTemp: boolean;
  help: boolean;
}

export class HarnessUsageError extends Error {
  override name = 'HarnessUsageError';
  readonly code = 'BENCH_USAGE';
}

export const HARNESS_HELP = `Usage: node bench/run.ts [options]      (make bench ARGS='--quick')

Runs the side-by-side proxy benchmark: direct to the upstream (the ceiling), Legate with 1 worker and with all
cores, nginx, HAProxy and http-proxy, interleaved (A B C A B C …) for several repetitions; reports medians with
min–max. HTTP/1.1 load comes from wrk and autocannon; HTTP/2 over TLS and gRPC unary load from h2load
(10 connections × 10 streams). Writes <out>/<date>.{json,md,svg} (and latest.*) and rewrites the results
Markdown file. The report (and stderr) judges issue 14's targets, met or missed with the limit and the measured
value: the HTTP/1.1 ones for Legate's minimal, realistic and ten-filter rows against the nginx row doing the same
work.

Options:
  --quick                 A tiny run: 1 s per measurement, 1 repetition, no warm-up, 1,000 idle connections.
  --duration D            wrk (or h2load) load per measurement, whole seconds (default 8; --quick 1).
  --latency-duration D    autocannon load per measurement, for the µs HdrHistogram (default 4; --quick 1).
  --warmup D              Load each system gets once before measuring (default 2s; --quick 0).
  --reps N                Repetitions of the interleaved round (default 3; --quick 1).
  --connections N         Concurrent keep-alive connections (default 50).
  --only LIST             Systems to run, by id or family: direct, legate, legate-1, legate-all, nginx,
                          haproxy, http-proxy, and the profile variants legate-1-minimal, legate-1-filters,
                          legate-1-log, nginx-minimal, nginx-log, haproxy-log; HTTP/2 over TLS:
                          legate-1-h2tls, legate-all-h2tls, nginx-h2tls, haproxy-h2tls; gRPC: grpc-direct,
                          legate-1-grpc (default: all; a family selects all its systems, and legate-1,
                          nginx or haproxy their profile variants).
  --scenarios LIST        ka-5b, ka-16k, close-5b, close-16k, features, h2-tls, grpc-unary, idle-memory
                          (default: all). ka-5b, ka-16k and close-5b run Legate (1 worker) and nginx in the
                          minimal and realistic profiles, and Legate with ten filters; features: access log
                          off vs on; h2-tls: HTTP/2 over TLS (self-signed cert, ALPN h2) to the HTTP/1.1
                          upstream; grpc-unary: gRPC unary calls over h2c through Legate vs direct to a
                          @grpc/grpc-js server.
  --profiles LIST         Config profiles to run: minimal, realistic, realistic-log, realistic-filters
                          (default: all; direct and http-proxy always run). The h2-tls systems are
                          realistic, legate-1-grpc is minimal.
  --idle-connections N    Connections held open in the idle-memory scenario (default 10000; --quick 1000).
  --upstream KIND         nginx (return 200, the default when nginx is installed), node (a node:http
                          fixed-response server), auto (default).
  --load KIND             wrk (throughput and CPU) + autocannon (latency): auto (default: wrk when present),
                          wrk, or autocannon (everything from autocannon; it saturates near 40-100k req/s).
  --out DIR               Where results go (default bench/results).
  --results-md FILE       The Markdown summary to rewrite (default bench/RESULTS.md when --out is the default,
                          else DIR/RESULTS.md).
  --no-install            Never apt-get install nginx, haproxy, wrk, h2load (nghttp2-client) or openssl;
                          systems needing them are skipped.
  --keep-temp             Keep the run's temp dir (configs, logs) even when the run succeeds.
  -h, --help              This text.

Pinning (taskset), on a machine with 2+ cores: the load generator and the upstream on CPU 0, every single-worker
proxy on CPU 1; "Legate, all cores" runs one worker per core on every CPU (so it shares CPU 0 with the load).
Proxy CPU per request is utime+stime of the proxy's processes (/proc) over the wrk (h2load) run divided by the
requests it completed (2xx answers for h2load). The gRPC server runs on the upstream's CPU.
`;

function wholeNumber(v: string, flag: string, min: number): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw new HarnessUsageError(`${flag} takes a whole number ≥ ${min}, got '${v}'`);
  return Number(v);
}

function seconds(v: string, flag: string): number {
  try {
    return parseDurationSeconds(v, flag);
  } catch (err) {
    if (err instanceof DurationSyntaxError) throw new HarnessUsageError(err.message);
    throw err;
  }
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

export function parseHarnessOptions(argv: readonly string[]): HarnessOptions {
  const given = new Map<string, string>();
  const flags = new Set<string>();
  const withValue = new Set([
    '--duration', '--latency-duration', '--warmup', '--reps', '--connections', '--only', '--scenarios', '--profiles',
    '--idle-connections', '--upstream', '--load', '--out', '--results-md',
  ]);
  const bare = new Set(['--quick', '--no-install', '--keep-temp', '--help', '-h']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (withValue.has(arg)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new HarnessUsageError(`${arg} needs a value (see --help)`);
      given.set(arg, v);
    } else if (bare.has(arg) && inline === undefined) {
      flags.add(arg === '-h' ? '--help' : arg);
    } else {
      throw new HarnessUsageError(`unknown option '${argv[i]}' (see --help)`);
    }
  }
  const quick = flags.has('--quick');
  const get = (k: string): string | undefined => given.get(k);

  const durationS = get('--duration') !== undefined ? Math.round(seconds(get('--duration')!, '--duration')) : quick ? 1 : 8;
  if (durationS < 1) throw new HarnessUsageError('--duration must be at least 1 s (wrk counts whole seconds)');
  const latencyDurationS = get('--latency-duration') !== undefined ? seconds(get('--latency-duration')!, '--latency-duration') : quick ? 1 : 4;
  if (latencyDurationS <= 0) throw new HarnessUsageError('--latency-duration must be more than 0');
  const upstream = (get('--upstream') ?? 'auto') as UpstreamChoice;
  if (!['auto', 'nginx', 'node'].includes(upstream)) throw new HarnessUsageError(`--upstream is auto, nginx or node, got '${upstream}'`);
  const load = (get('--load') ?? 'auto') as LoadChoice;
  if (!['auto', 'wrk', 'autocannon'].includes(load)) throw new HarnessUsageError(`--load is auto, wrk or autocannon, got '${load}'`);
  const profiles = get('--profiles') !== undefined ? list(get('--profiles')!) : undefined;
  for (const p of profiles ?? []) {
    if (!(PROFILES as readonly string[]).includes(p)) throw new HarnessUsageError(`--profiles: no profile '${p}' (known: ${PROFILES.join(', ')})`);
  }
  const outDir = path.resolve(get('--out') ?? DEFAULT_OUT_DIR);
  const resultsMd = path.resolve(get('--results-md') ?? (outDir === DEFAULT_OUT_DIR ? DEFAULT_RESULTS_MD : path.join(outDir, 'RESULTS.md')));

  return {
    quick,
    durationS,
    latencyDurationS,
    warmupS: get('--warmup') !== undefined ? seconds(get('--warmup')!, '--warmup') : quick ? 0 : 2,
    reps: get('--reps') !== undefined ? wholeNumber(get('--reps')!, '--reps', 1) : quick ? 1 : 3,
    connections: get('--connections') !== undefined ? wholeNumber(get('--connections')!, '--connections', 1) : 50,
    only: get('--only') !== undefined ? list(get('--only')!) : undefined,
    scenarios: get('--scenarios') !== undefined ? list(get('--scenarios')!) : undefined,
    profiles: profiles as Profile[] | undefined,
    outDir,
    resultsMd,
    install: !flags.has('--no-install'),
    upstream,
    load,
    idleConnections:
      get('--idle-connections') !== undefined ? wholeNumber(get('--idle-connections')!, '--idle-connections', 1) : quick ? 1000 : 10_000,
    keepTemp: flags.has('--keep-temp'),
    help: flags.has('--help'),
  };
}
