// Bench tool (its own process). How SO_REUSEPORT spreads few long-lived connections over workers (issue 14: "one
// worker gets all the load"): Legate with --concurrency 2 (or --workers N), N HTTP/2 connections opened and held,
// then each worker's listener.<address>.worker_<i>.downstream_cx_active read from /stats; repeated over many rounds
// with fresh connections. Prints how often one worker got everything and the mean share of the busiest worker.

import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { BenchProcess, freePort, waitForPort } from './harness/bench-process.ts';
import { ROOT } from './harness/systems.ts';

interface Options {
  workers: number;
  connections: number[];
  rounds: number;
}

function parse(argv: readonly string[]): Options {
  const o: Options = { workers: 2, connections: [2, 10], rounds: 40 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--workers') o.workers = Number(v);
    else if (a === '--connections') o.connections = v.split(',').map(Number);
    else if (a === '--rounds') o.rounds = Number(v);
    else throw new Error(`unknown option ${a} (--workers N, --connections 2,10, --rounds 40)`);
  }
  return o;
}

function config(port: number, adminPort: number): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } }
static_resources:
  listeners:
  - name: balance
    stat_prefix: balance
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: balance
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: "ok" } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;
}

function request(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': '/' });
    s.on('response', () => undefined);
    s.resume();
    s.on('end', () => resolve());
    s.on('error', reject);
  });
}

async function activePerWorker(adminPort: number, workers: number): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats?format=json&filter=${encodeURIComponent('^listener\\.balance\\.worker_[0-9]+\\.downstream_cx_active$')}`);
  const body = (await res.json()) as { stats: { name: string; value: number }[] };
  const out = new Array<number>(workers).fill(0);
  for (const s of body.stats) {
    const m = /worker_([0-9]+)\./.exec(s.name);
    if (m !== null) out[Number(m[1])] = s.value;
  }
  return out;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-balance-'));
  const port = await freePort();
  const adminPort = await freePort();
  const file = path.join(tmp, 'legate.yaml');
  fs.writeFileSync(file, config(port, adminPort));
  const proc = new BenchProcess({ name: 'legate', command: path.join(ROOT, 'bin/legate'), args: ['-c', file, '--concurrency', String(o.workers), '--log-level', 'warn'], cpus: undefined, logDir: tmp });
  try {
    await waitForPort(port, proc, 30_000);
    console.log(`Legate, ${o.workers} workers, SO_REUSEPORT listeners; ${o.rounds} rounds of fresh HTTP/2 connections held open`);
    for (const n of o.connections) {
      let allOnOne = 0;
      let busiestShare = 0;
      for (let r = 0; r < o.rounds; r++) {
        const sessions: http2.ClientHttp2Session[] = [];
        for (let i = 0; i < n; i++) sessions.push(http2.connect(`http://127.0.0.1:${port}`));
        await Promise.all(sessions.map(request));
        let counts = await activePerWorker(adminPort, o.workers);
        for (let tries = 0; counts.reduce((a, b) => a + b, 0) !== n && tries < 50; tries++) {
          await new Promise((r2) => setTimeout(r2, 20));
          counts = await activePerWorker(adminPort, o.workers);
        }
        const max = Math.max(...counts);
        if (max === n) allOnOne++;
        busiestShare += max / n;
        for (const s of sessions) s.destroy();
        for (let tries = 0; (await activePerWorker(adminPort, o.workers)).some((c) => c !== 0) && tries < 100; tries++) {
          await new Promise((r2) => setTimeout(r2, 20));
        }
      }
      const fair = 1 / o.workers;
      console.log(`  ${String(n).padStart(3)} connections: all on one worker in ${allOnOne}/${o.rounds} rounds; busiest worker's mean share ${(100 * busiestShare / o.rounds).toFixed(0)}% (fair ${(100 * fair).toFixed(0)}%)`);
    }
  } finally {
    await proc.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`connection-balance: ${(err as Error).message}\n`);
  process.exit(1);
});
