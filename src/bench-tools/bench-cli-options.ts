// Any thread (pure). The options of `legate bench`, their defaults and its --help text.

import fs from 'node:fs';
import { parseDurationSeconds, DurationSyntaxError } from './duration.ts';
import { ArgReader } from '../common/arg-reader.ts';

export interface BenchCliOptions {
  /** The URL to load (URL mode), or undefined with --config until the listener is known. */
  url: string | undefined;
  configPath: string | undefined;
  /** With --config: a full URL, or a path on the config's first listener. */
  configUrl: string | undefined;
  concurrency: number | undefined;
  upstreamPort: number | undefined;
  upstreamBodyBytes: number;
  upstreamStatus: number;
  startTimeoutS: number;
  connections: number;
  durationS: number;
  warmupS: number;
  pipelining: number;
  rate: number;
  method: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  timeoutS: number;
  jsonPath: string | undefined;
  htmlPath: string | undefined;
  title: string | undefined;
  legateLogPath: string | undefined;
  quiet: boolean;
  help: boolean;
}

export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
  readonly code = 'BENCH_USAGE';
}

export const BENCH_DEFAULTS = Object.freeze({
  connections: 50,
  durationS: 10,
  warmupS: 0,
  pipelining: 1,
  timeoutS: 10,
  upstreamBodyBytes: 5,
  upstreamStatus: 200,
  startTimeoutS: 20,
  method: 'GET',
});

export const BENCH_HELP_TEXT = `Usage: legate bench [options] URL
       legate bench [options] -c CONFIG [--upstream-port N] [--url PATH]

Drives HTTP/1.1 load with autocannon, then prints requests/s, latency percentiles (p50 p90 p99 p99.9 max)
from an HdrHistogram of every response in microseconds, errors, timeouts and status-code counts.
Progress is shown on stderr once a second while it runs.

Target (one of):
  URL                        http:// (or https://, certificate not checked) URL to load.
  -c, --config FILE          Start 'legate -c FILE' itself and load its first listener, then stop it.
      --url URL|PATH         With --config: the URL to load, or a path on the first listener (default /).
      --concurrency N        With --config: Legate's worker threads (default: Legate's own, one per core).
      --legate-log FILE      With --config: append Legate's stdout and stderr to FILE (default: discarded,
                             the last lines of stderr are shown if it fails to start).
      --start-timeout D      With --config: how long Legate may take to listen (default ${BENCH_DEFAULTS.startTimeoutS}s).

Built-in upstream:
      --upstream-port N      Start a fixed-response HTTP/1.1 server on 127.0.0.1:N before Legate starts, for
                             the config's clusters to point at (a cluster endpoint 127.0.0.1:N). Works with
                             a URL too. Keep-alive, no idle timeout, every request answered at once.
      --upstream-body-bytes N  Body size of its answers (default ${BENCH_DEFAULTS.upstreamBodyBytes}: "hello").
      --upstream-status N    Status of its answers (default ${BENCH_DEFAULTS.upstreamStatus}).

Load:
      --connections N        Concurrent connections (default ${BENCH_DEFAULTS.connections}).
  -d, --duration D           How long to measure: 10, 10s, 500ms, 2m (default ${BENCH_DEFAULTS.durationS}s).
  -w, --warmup D             Run load this long first and discard it (default 0: no warm-up).
  -p, --pipelining N         Requests in flight per connection (default ${BENCH_DEFAULTS.pipelining}).
  -r, --rate N               Cap on requests per second over all connections (default: none, each
                             connection sends its next request when the answer arrives). With a rate,
                             latencies are corrected for coordinated omission.
  -m, --method M             Request method (default ${BENCH_DEFAULTS.method}).
  -H, --header 'NAME: VALUE' A request header; repeat for more. ('Connection: close' gives right counts but
                             wrong latencies: autocannon cannot time requests on connections the server closes.)
  -b, --body STRING          Request body (sets content-length).
      --body-file FILE       Request body read from FILE.
      --timeout D            A response slower than this counts as a timeout and an error (default
                             ${BENCH_DEFAULTS.timeoutS}s; rounded to whole seconds, at least 1).

Output:
      --json FILE            Write the whole result as JSON (- for stdout, replacing the summary).
      --html FILE            Write an HTML report with the latency percentile plot.
      --title TEXT           Title of the HTML report (default: method and URL).
  -q, --quiet                No progress lines on stderr.
  -h, --help                 This text.

Latencies are measured by the load generator from writing a request to reading its whole response, in
microseconds (autocannon's own histogram keeps whole milliseconds; this one keeps 3 significant digits).
The load generator runs in this process on one core: near 100k requests/s it, not the target, is the limit.

Exit status: 0 the run completed; 1 the target could not be reached, answered nothing, or Legate did not
start; 2 usage error.
`;

function positiveInt(v: string, flag: string, min = 1): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw new BenchUsageError(`${flag} takes a whole number ≥ ${min}, got '${v}'`);
  return Number(v);
}

function duration(v: string, flag: string, allowZero: boolean): number {
  let s: number;
  try {
    s = parseDurationSeconds(v, flag);
  } catch (err) {
    if (err instanceof DurationSyntaxError) throw new BenchUsageError(err.message);
    throw err;
  }
  if (!allowZero && s <= 0) throw new BenchUsageError(`${flag} must be more than 0, got '${v}'`);
  return s;
}

function checkUrl(text: string, what: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new BenchUsageError(`${what} is not a URL: '${text}' (expected e.g. http://127.0.0.1:10000/)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new BenchUsageError(`${what} must be http:// or https://, got '${text}'`);
  }
  return u.toString();
}

export function parseBenchOptions(argv: readonly string[]): BenchCliOptions {
  const o: BenchCliOptions = {
    url: undefined,
    configPath: undefined,
    configUrl: undefined,
    concurrency: undefined,
    upstreamPort: undefined,
    upstreamBodyBytes: BENCH_DEFAULTS.upstreamBodyBytes,
    upstreamStatus: BENCH_DEFAULTS.upstreamStatus,
    startTimeoutS: BENCH_DEFAULTS.startTimeoutS,
    connections: BENCH_DEFAULTS.connections,
    durationS: BENCH_DEFAULTS.durationS,
    warmupS: BENCH_DEFAULTS.warmupS,
    pipelining: BENCH_DEFAULTS.pipelining,
    rate: 0,
    method: BENCH_DEFAULTS.method,
    headers: {},
    body: undefined,
    timeoutS: BENCH_DEFAULTS.timeoutS,
    jsonPath: undefined,
    htmlPath: undefined,
    title: undefined,
    legateLogPath: undefined,
    quiet: false,
    help: false,
  };
  const positional: string[] = [];
  const args = new ArgReader(argv, (flag) => new BenchUsageError(`${flag} needs a value (see legate bench --help)`));
  const value = (): string => args.value();
  for (let arg = args.next(); arg !== undefined; arg = args.next()) {
    switch (arg) {
      case '-c':
      case '--config':
      case '--config-path':
        o.configPath = value();
        break;
      case '--url':
        o.configUrl = value();
        break;
      case '--concurrency':
        o.concurrency = positiveInt(value(), arg);
        break;
      case '--legate-log':
        o.legateLogPath = value();
        break;
      case '--start-timeout':
        o.startTimeoutS = duration(value(), arg, false);
        break;
      case '--upstream-port': {
        const p = positiveInt(value(), arg);
        if (p > 65535) throw new BenchUsageError(`${arg} takes a port number 1-65535, got '${p}'`);
        o.upstreamPort = p;
        break;
      }
      case '--upstream-body-bytes':
        o.upstreamBodyBytes = positiveInt(value(), arg, 0);
        break;
      case '--upstream-status': {
        const s = positiveInt(value(), arg, 200);
        if (s > 599) throw new BenchUsageError(`${arg} takes a status 200-599, got '${s}'`);
        o.upstreamStatus = s;
        break;
      }
      case '--connections':
        o.connections = positiveInt(value(), arg);
        break;
      case '-d':
      case '--duration':
        o.durationS = duration(value(), arg, false);
        break;
      case '-w':
      case '--warmup':
        o.warmupS = duration(value(), arg, true);
        break;
      case '-p':
      case '--pipelining':
        o.pipelining = positiveInt(value(), arg);
        break;
      case '-r':
      case '--rate':
        o.rate = positiveInt(value(), arg);
        break;
      case '-m':
      case '--method': {
        const m = value().toUpperCase();
        if (!/^[A-Z]+$/.test(m)) throw new BenchUsageError(`${arg} takes a method name like GET or POST, got '${m}'`);
        o.method = m;
        break;
      }
      case '-H':
      case '--header': {
        const h = value();
        const colon = h.indexOf(':');
        const name = colon > 0 ? h.slice(0, colon).trim() : '';
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
          throw new BenchUsageError(`${arg} takes 'Name: value', got '${h}'`);
        }
        o.headers[name.toLowerCase()] = h.slice(colon + 1).trim();
        break;
      }
      case '-b':
      case '--body':
        o.body = value();
        break;
      case '--body-file': {
        const f = value();
        try {
          o.body = fs.readFileSync(f);
        } catch (err) {
          throw new BenchUsageError(`${arg}: cannot read '${f}': ${(err as Error).message}`);
        }
        break;
      }
      case '--timeout':
        o.timeoutS = duration(value(), arg, false);
        break;
      case '--json':
        o.jsonPath = value();
        break;
      case '--html':
        o.htmlPath = value();
        break;
      case '--title':
        o.title = value();
        break;
      case '-q':
      case '--quiet':
        o.quiet = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        if (arg.startsWith('-') && arg !== '-') throw new BenchUsageError(`unknown option '${arg}' (see legate bench --help)`);
        positional.push(arg);
    }
  }
  if (o.help) return o;
  if (positional.length > 1) throw new BenchUsageError(`one URL at a time, got ${positional.length}: ${positional.join(' ')}`);
  if (positional.length === 1) {
    if (o.configPath !== undefined) throw new BenchUsageError('give a URL or --config FILE, not both (with --config, --url PATH picks the path)');
    o.url = checkUrl(positional[0]!, 'the target');
  } else if (o.configPath === undefined) {
    throw new BenchUsageError('no target: give a URL (e.g. http://127.0.0.1:10000/) or -c CONFIG (see legate bench --help)');
  }
  if (o.configPath === undefined) {
    for (const [flag, v] of [['--url', o.configUrl], ['--concurrency', o.concurrency], ['--legate-log', o.legateLogPath]] as const) {
      if (v !== undefined) throw new BenchUsageError(`${flag} only applies with --config`);
    }
  } else if (o.configUrl !== undefined && !o.configUrl.startsWith('/')) {
    o.configUrl = checkUrl(o.configUrl, '--url');
  }
  return o;
}
