// Main thread of the slowloris scenario (not part of bench/run.ts: it measures a shedding event, not a rate).
// Starts bin/legate (1 worker by default) with request_headers_timeout, measures a legitimate keep-alive client's
// latency alone (baseline), then while N slowloris connections (partial heads, bench/harness/slowloris-clients.ts,
// another process) are held open, and across the moment request_headers_timeout cuts them all. Also Legate's RSS
// per held connection. Prints a summary and a markdown table row.
// With --mode idle the connections send nothing: it measures N connections opened at once (how many Legate
// holds, how many it refuses over its limit, the legitimate client meanwhile) instead of the cut.
// Run: node bench/slowloris.ts [--connections 10000] [--timeout-s 10] [--concurrency 1] [--mode head|idle]
//   [--clients 1] [--max-connections N|0]

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './harness/bench-process.ts';
import { rssKiB } from './harness/proc-stats.ts';
import { bootstrap, hcmListener } from '../test/support/config-builder.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    'timeout-s': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'head' },
    'baseline-s': { type: 'string', default: '3' },
    /** Client processes the connections are split over (one process holds at most the hard fd limit). */
    clients: { type: 'string', default: '1' },
    /** max_active_downstream_connections; 0: none configured (Legate derives one from the fd limit). */
    'max-connections': { type: 'string', default: '' },
  },
});
const N = Number(args.connections);
const TIMEOUT_S = Number(args['timeout-s']);

function waitLine(proc: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}: ${buf.slice(-2000)}`)), timeoutMs);
    const on = (d: Buffer): void => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m !== null) {
        clearTimeout(timer);
        proc[stream]!.off('data', on);
        resolve(m);
      }
    };
    proc[stream]!.on('data', on);
  });
}

/** A keep-alive client sending one request at a time; records [start ms (wall), latency µs] per request. */
class LegitClient {
  readonly samples: { startWall: number; endWall: number; us: number }[] = [];
  private socket: net.Socket;
  private stopped = false;
  private buf = 0;
  private expect = 0;
  private t0 = 0;
  private w0 = 0;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => this.send());
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e) => process.stderr.write(`legit client: ${e.message}\n`));
  }

  private send(): void {
    if (this.stopped) return;
    this.buf = 0;
    this.t0 = performance.now();
    this.w0 = Date.now();
    this.socket.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
  }

  private onData(d: Buffer): void {
    this.buf += d.length;
    if (this.expect === 0) {
      const text = d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const m = /content-length:\s*(\d+)/i.exec(text);
      if (end < 0 || m === null) throw new Error('unexpected first response');
      this.expect = end + 4 + Number(m[1]);
    }
    if (this.buf < this.expect) return;
    this.samples.push({ startWall: this.w0, endWall: Date.now(), us: (performance.now() - this.t0) * 1000 });
    this.send();
  }

  stop(): void {
    this.stopped = true;
    this.socket.destroy();
  }
}

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function summary(label: string, us: number[]): string {
  return `${label}: n=${us.length} p50=${pct(us, 50).toFixed(0)}µs p99=${pct(us, 99).toFixed(0)}µs max=${pct(us, 100).toFixed(0)}µs`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const port = await freePort();
const adminPort = await freePort();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-slowloris-'));
const configPath = path.join(dir, 'legate.yaml');
const maxConnections = args['max-connections'] === '' ? N + 1000 : Number(args['max-connections']);
const overloadYaml = maxConnections === 0 ? '' : `overload_manager:
  resource_monitors:
  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: ${maxConnections}
`;
// overload_manager after static_resources: a top-level key, its place in the YAML does not matter.
fs.writeFileSync(configPath, bootstrap([hcmListener({
  name: 'edge', port,
  hcmExtra: `          request_headers_timeout: ${TIMEOUT_S}s\n`,
  routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200, body: { inline_string: "ok" } }' }],
})], [], adminPort) + overloadYaml);
/** The hard RLIMIT_NOFILE (not raised: that needs CAP_SYS_RESOURCE). */
const hardFdLimit = Number(/^Max open files\s+\d+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 20_000);
const fdLimit = hardFdLimit;
const CLIENTS = Number(args.clients);
if (Math.ceil(N / CLIENTS) + 200 > fdLimit) throw new Error(`${N} connections over ${CLIENTS} client process(es) need more than the hard fd limit ${fdLimit}`);
const legate = spawn('/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, path.join(ROOT, 'bin/legate'), '-c', configPath, '--concurrency', args.concurrency!, '--log-level', 'warn'], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
const clients: ChildProcess[] = [];
try {
  await waitLine(legate, 'stderr', /legate started|critical/, 20_000).catch(() => undefined);
  await sleep(500);
  const legit = new LegitClient(port);
  await sleep(Number(args['baseline-s']) * 1000);
  const rssBefore = rssKiB(legate.pid!);
  const openedAt = Date.now();
  for (let i = 0; i < CLIENTS; i++) {
    const n = Math.floor(N / CLIENTS) + (i < N % CLIENTS ? 1 : 0);
    clients.push(spawn('/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, NODE, path.join(ROOT, 'bench/harness/slowloris-clients.ts'), String(port), String(n), args.mode!], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }));
  }
  const readies = await Promise.all(clients.map((c) => waitLine(c, 'stdout', /ready (\d+) (\d+)/, 120_000)));
  const ready = [readies[0]![0], String(readies.reduce((a, r) => a + Number(r[1]), 0)), String(readies.reduce((a, r) => a + Number(r[2]), 0))];
  const readyAt = Date.now();
  await sleep(300);
  const rssHeld = rssKiB(legate.pid!);
  if (args.mode === 'idle') {
    // No cut to wait for: the legitimate client's latency while N connections were being opened at once.
    await sleep(2000);
    legit.stop();
    const s = legit.samples;
    const baseline = s.filter((x) => x.endWall < openedAt).map((x) => x.us);
    const opening = s.filter((x) => x.endWall >= openedAt && x.startWall <= readyAt).map((x) => x.us);
    const stats = await (await fetch(`http://127.0.0.1:${adminPort}/stats?filter=downstream_cx_active|global_cx_overflow|cx_overflow`)).text();
    process.stdout.write(`${N} connections opened at once from ${CLIENTS} process(es): ${ready[1]} held open, ${ready[2]} refused; opening took ${readyAt - openedAt} ms\n`);
    process.stdout.write(`RSS ${rssBefore} KiB -> ${rssHeld} KiB\n${summary('baseline', baseline)}\n${summary('while opening', opening)}\n${stats}`);
    for (const c of clients) c.kill('SIGTERM');
    legate.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
  const cut = await waitLine(clients[0]!, 'stdout', /cut (\d+) (\d+) (\d+)/, (TIMEOUT_S + 60) * 1000);
  await sleep(1500);
  legit.stop();
  const firstClose = Number(cut[1]);
  const lastClose = Number(cut[2]);
  const s = legit.samples;
  const baseline = s.filter((x) => x.endWall < openedAt).map((x) => x.us);
  const held = s.filter((x) => x.startWall > readyAt && x.endWall < firstClose).map((x) => x.us);
  const during = s.filter((x) => x.endWall >= firstClose && x.startWall <= lastClose).map((x) => x.us);
  const open = Number(ready[1]);
  const perCx = ((rssHeld - rssBefore) * 1024) / Math.max(open, 1);
  const stats = await (await fetch(`http://127.0.0.1:${adminPort}/stats?filter=header_timeout|global_cx_overflow`)).text();
  process.stdout.write(`slowloris: ${open} connections open (${ready[2]} failed), mode ${args.mode}, request_headers_timeout ${TIMEOUT_S}s, ${args.concurrency} worker(s)\n`);
  process.stdout.write(`RSS ${rssBefore} KiB -> ${rssHeld} KiB with them held: ${(perCx / 1024).toFixed(2)} KiB per connection\n`);
  process.stdout.write(`cut: ${cut[3]} closed in ${lastClose - firstClose} ms\n`);
  process.stdout.write(`${summary('baseline', baseline)}\n${summary('held', held)}\n${summary('during cut', during)}\n`);
  process.stdout.write(`p99 during cut / baseline: ${(pct(during, 99) / pct(baseline, 99)).toFixed(2)}x\n`);
  process.stdout.write(stats);
  // Where the slow requests were, relative to the first cut (100 ms buckets with a request over 5 ms).
  const slow = new Map<number, number>();
  for (const x of s) {
    if (x.us < 5000) continue;
    const b = Math.floor((x.startWall - firstClose) / 100) * 100;
    slow.set(b, Math.max(slow.get(b) ?? 0, x.us));
  }
  process.stdout.write(`slow requests (start - first cut, ms: worst µs): ${[...slow].map(([b, us]) => `${b}: ${us.toFixed(0)}`).join(', ') || 'none'}\n`);
  process.stdout.write(`| ${new Date().toISOString().slice(0, 16)} | ${open} | ${(perCx / 1024).toFixed(2)} KiB | ${lastClose - firstClose} ms | ${pct(baseline, 99).toFixed(0)} µs | ${pct(held, 99).toFixed(0)} µs | ${pct(during, 99).toFixed(0)} µs (max ${pct(during, 100).toFixed(0)}) | ${(pct(during, 99) / pct(baseline, 99)).toFixed(2)}× |\n`);
} finally {
  for (const c of clients) c.kill('SIGTERM');
  legate.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
}
