// Main thread of the slow-peer scenario (not part of bench/run.ts). A 100 MiB upload through bin/legate to an
// upstream that reads slowly, then a 100 MiB download to a client that reads slowly: Legate's RSS is sampled
// throughout, to show that what it buffers stays bounded by its buffer limits (per_connection_buffer_limit_bytes,
// socket buffers) instead of growing with the body.
// Run: node bench/slow-peer.ts [--mib 100] [--rate-mib-s 25]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './harness/bench-process.ts';
import { rssKiB } from './harness/proc-stats.ts';
import { bootstrap, cluster, hcmListener } from '../test/support/config-builder.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { mib: { type: 'string', default: '100' }, 'rate-mib-s': { type: 'string', default: '25' } } });
const TOTAL = Number(args.mib) * 1024 * 1024;
const RATE = Number(args['rate-mib-s']) * 1024 * 1024;
const CHUNK = 64 * 1024;

/** Reads `stream` at about RATE bytes/s (pausing it between slices); resolves with the byte count at its end. */
function readSlowly(stream: NodeJS.ReadableStream & { pause(): void; resume(): void }): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const started = performance.now();
    stream.on('data', (d: Buffer) => {
      got += d.length;
      const aheadMs = (got / RATE) * 1000 - (performance.now() - started);
      if (aheadMs > 5) {
        stream.pause();
        setTimeout(() => stream.resume(), aheadMs);
      }
    });
    stream.on('end', () => resolve(got));
    stream.on('error', reject);
  });
}

const chunk = Buffer.alloc(CHUNK, 0x61);
/** Writes TOTAL bytes to `w` as fast as it drains. */
async function writeAll(w: NodeJS.WritableStream): Promise<void> {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    if (!w.write(chunk)) await new Promise((r) => w.once('drain', r));
  }
}

const upstream = http.createServer((req, res) => {
  if (req.url === '/upload') {
    void readSlowly(req).then((n) => res.end(String(n)));
    return;
  }
  res.writeHead(200, { 'content-length': String(TOTAL) });
  void writeAll(res).then(() => res.end());
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamPort = (upstream.address() as net.AddressInfo).port;

const port = await freePort();
const adminPort = await freePort();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-slowpeer-'));
const configPath = path.join(dir, 'legate.yaml');
fs.writeFileSync(configPath, bootstrap(
  [hcmListener({ name: 'edge', port, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: peer, timeout: 0s }' }] })],
  [cluster({ name: 'peer', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] })],
  adminPort,
));
const legate = spawn(path.join(ROOT, 'bin/legate'), ['-c', configPath, '--concurrency', '1', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
try {
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${adminPort}/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const agent = new http.Agent({ keepAlive: false });
  const sample = async (label: string, run: () => Promise<number>): Promise<void> => {
    const before = rssKiB(legate.pid!);
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, rssKiB(legate.pid!))), 50);
    const t0 = performance.now();
    const n = await run();
    clearInterval(timer);
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`${label}: ${(n / 1048576).toFixed(0)} MiB in ${s.toFixed(1)} s; Legate RSS ${(before / 1024).toFixed(0)} MiB before, peak ${(peak / 1024).toFixed(0)} MiB (+${((peak - before) / 1024).toFixed(1)} MiB)\n`);
  };
  await sample('upload to a slow upstream', () => new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent, headers: { 'content-length': String(TOTAL) } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(Number(body)));
    });
    req.on('error', reject);
    void writeAll(req).then(() => req.end());
  }));
  await sample('download to a slow client', () => new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/download', agent }, (res) => void readSlowly(res).then(resolve, reject)).on('error', reject);
  }));
} finally {
  legate.kill('SIGTERM');
  upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
