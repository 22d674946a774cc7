// Main thread. `legate bench`: a load benchmark for Legate's users. Loads a URL, or starts `legate -c CONFIG` (and
// optionally a fixed-response upstream for its clusters) and loads that; prints the summary, writes JSON/HTML.

import fs from 'node:fs';
import { BENCH_HELP_TEXT, BenchUsageError, parseBenchOptions, type BenchCliOptions } from '../bench-tools/bench-cli-options.ts';
import { machineInfo, renderBenchHtml, renderBenchText, type BenchReport, type BenchTarget } from '../bench-tools/bench-report.ts';
import { ConfigTargetError, firstListenerTarget, targetUrl } from '../bench-tools/config-target.ts';
import { startFixedResponseWorker, type FixedResponseServer } from '../bench-tools/fixed-response-server.ts';
import { LegateChild, LegateStartError } from '../bench-tools/legate-child.ts';
import { runLoad, type LoadProgress, type LoadSpec } from '../bench-tools/load-run.ts';
import { probeTcp } from '../bench-tools/tcp-probe.ts';

/** Exit statuses, as --help documents them. */
const EXIT_OK = 0;
const EXIT_UNREACHABLE = 1;
const EXIT_USAGE = 2;

/** A failure that ends the run with a message and an exit status (no stack: it is the user's situation, not a bug). */
class BenchFailure extends Error {
  override name = 'BenchFailure';
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

function say(line: string): void {
  process.stderr.write(`legate bench: ${line}\n`);
}

/** One progress line a second on stderr: rewritten in place on a terminal, one line each otherwise. */
function progressPrinter(label: string, totalS: number, quiet: boolean): ((p: LoadProgress) => void) | undefined {
  if (quiet) return undefined;
  const tty = process.stderr.isTTY === true;
  const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  return (p) => {
    const line =
      `${label} ${Math.min(p.elapsedS, totalS).toFixed(0)}/${totalS.toFixed(0)} s  ` +
      `${fmt.format(p.responsesPerSecond)} req/s  ${fmt.format(p.responses)} responses  ${fmt.format(p.errors)} errors`;
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
}

function endProgress(quiet: boolean): void {
  if (!quiet && process.stderr.isTTY === true) process.stderr.write('\n');
}

function writeOutput(file: string, text: string, what: string): void {
  try {
    fs.writeFileSync(file, text);
  } catch (err) {
    throw new BenchFailure(EXIT_USAGE, `cannot write the ${what} to ${file}: ${(err as Error).message}`);
  }
}

async function startUpstream(o: BenchCliOptions): Promise<FixedResponseServer | undefined> {
  if (o.upstreamPort === undefined) return undefined;
  try {
    const s = await startFixedResponseWorker({
      port: o.upstreamPort,
      host: '127.0.0.1',
      status: o.upstreamStatus,
      bodyBytes: o.upstreamBodyBytes,
    });
    say(`upstream: fixed ${o.upstreamStatus} responses of ${o.upstreamBodyBytes} bytes on 127.0.0.1:${s.port}`);
    return s;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message;
    throw new BenchFailure(EXIT_UNREACHABLE, `cannot start the upstream on 127.0.0.1:${o.upstreamPort}: ${why}`);
  }
}

async function startLegate(o: BenchCliOptions, configPath: string): Promise<{ legate: LegateChild; url: string }> {
  let url: string;
  let host: string;
  let port: number;
  if (o.configUrl !== undefined && !o.configUrl.startsWith('/')) {
    url = o.configUrl;
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  } else {
    let t;
    try {
      t = firstListenerTarget(configPath);
    } catch (err) {
      if (err instanceof ConfigTargetError) throw new BenchFailure(EXIT_USAGE, err.message);
      throw err;
    }
    url = targetUrl(t, o.configUrl ?? '/');
    host = t.host;
    port = t.port;
  }
  if ((await probeTcp(host, port, 1000)).ok) {
    // Otherwise the benchmark would silently measure whatever already listens there.
    throw new BenchFailure(EXIT_UNREACHABLE, `something already listens on ${host}:${port}; stop it, or load it with 'legate bench URL'`);
  }
  say(`starting legate -c ${configPath}${o.concurrency !== undefined ? ` --concurrency ${o.concurrency}` : ''}`);
  const legate = new LegateChild({ configPath, concurrency: o.concurrency, logPath: o.legateLogPath });
  try {
    await legate.waitReady(host, port, o.startTimeoutS);
  } catch (err) {
    await legate.stop();
    if (err instanceof LegateStartError) throw new BenchFailure(EXIT_UNREACHABLE, err.message);
    throw err;
  }
  return { legate, url };
}

async function bench(o: BenchCliOptions, url: string): Promise<BenchReport> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  const probe = await probeTcp(host, port, 3000);
  if (!probe.ok) throw new BenchFailure(EXIT_UNREACHABLE, `cannot connect to ${host}:${port} (${probe.error}); is the server running?`);

  const spec: LoadSpec = {
    url,
    connections: o.connections,
    durationS: o.durationS,
    pipelining: o.pipelining,
    rate: o.rate,
    method: o.method,
    headers: o.headers,
    body: o.body,
    timeoutS: o.timeoutS,
  };
  if (o.warmupS > 0) {
    await runLoad({ ...spec, durationS: o.warmupS }, progressPrinter('warm-up', o.warmupS, o.quiet));
    endProgress(o.quiet);
  }
  if (/close/i.test(o.headers['connection'] ?? '')) {
    say('warning: with Connection: close, autocannon times requests from the wrong start and latencies grow with the run; counts are right');
  }
  const result = await runLoad(spec, progressPrinter('load', o.durationS, o.quiet));
  endProgress(o.quiet);
  const target: BenchTarget = {
    url,
    method: o.method,
    connections: o.connections,
    pipelining: o.pipelining,
    rate: o.rate,
    durationS: o.durationS,
    warmupS: o.warmupS,
    headers: o.headers,
    bodyBytes: o.body === undefined ? 0 : Buffer.byteLength(o.body),
  };
  return {
    schema: 'legate-bench/1',
    target,
    legate: o.configPath !== undefined ? { configPath: o.configPath, concurrency: o.concurrency } : undefined,
    upstream: o.upstreamPort !== undefined ? { port: o.upstreamPort, bodyBytes: o.upstreamBodyBytes, status: o.upstreamStatus } : undefined,
    machine: machineInfo(),
    result,
  };
}

function emit(o: BenchCliOptions, report: BenchReport): void {
  const json = JSON.stringify(report, null, 2) + '\n';
  if (o.jsonPath === '-') process.stdout.write(json);
  else process.stdout.write(renderBenchText(report));
  if (o.jsonPath !== undefined && o.jsonPath !== '-') writeOutput(o.jsonPath, json, 'JSON result');
  if (o.htmlPath !== undefined) writeOutput(o.htmlPath, renderBenchHtml(report, o.title), 'HTML report');
}

/** Runs `legate bench` with the arguments after "bench"; resolves to the exit status. */
export async function runBenchCommand(argv: string[]): Promise<number> {
  let o: BenchCliOptions;
  try {
    o = parseBenchOptions(argv);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      say(err.message);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (o.help) {
    process.stdout.write(BENCH_HELP_TEXT);
    return EXIT_OK;
  }

  let upstream: FixedResponseServer | undefined;
  let legate: LegateChild | undefined;
  const onSignal = (): void => {
    // Ctrl-C: stop the children we started; the exit hook in LegateChild kills Legate if it lingers.
    void (legate?.stop(1000) ?? Promise.resolve()).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    upstream = await startUpstream(o);
    let url = o.url;
    if (o.configPath !== undefined) {
      const started = await startLegate(o, o.configPath);
      legate = started.legate;
      url = started.url;
    }
    const report = await bench(o, url!);
    emit(o, report);
    if (report.result.responses === 0) {
      say(`no responses from ${url} in ${o.durationS} s${report.result.errorSamples.length > 0 ? ': ' + report.result.errorSamples.join('; ') : ''}`);
      return EXIT_UNREACHABLE;
    }
    return EXIT_OK;
  } catch (err) {
    if (err instanceof BenchFailure) {
      say(err.message);
      return err.exitCode;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await legate?.stop();
    await upstream?.close();
  }
}
