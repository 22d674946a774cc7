// Micro bench: CPU per keep-alive HTTP/1.1 request through one worker's whole data path (codec, connection
// manager, HTTP filter chain, router, upstream pool), run inside this process (test/support/in-process-worker.ts)
// against a raw in-process upstream answering "hello" (the bench's ka-5b). The client and the upstream run in this
// process too, so the same loop is timed straight to the upstream and the difference is what the proxy costs.
// Run: node_modules/.bin/node bench/micro/http-request-path.ts [--requests N] [--rounds R]
//
// Profiles: "router-only" is the bench's realistic config (50 routes, rewrites, request ids) with the router
// alone; "+N pass-through filters" adds N filters that return Continue everywhere (registered here under a test
// name), the cost of a chain that is present but does nothing.

import net from 'node:net';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { legateBootstrap } from '../harness/configs/legate-bootstrap.ts';
import { freePort } from '../../test/support/legate-process.ts';
import { InProcessWorker } from '../../test/support/in-process-worker.ts';
import type { Snapshot } from '../../src/snapshot/snapshot-types.ts';

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '60000' }, rounds: { type: 'string', default: '5' } } });
const REQUESTS = Number(args.requests);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = 8;
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello', 'latin1');
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');
const RESPONSE_END = Buffer.from('\r\n\r\nhello', 'latin1');

type Obj = Record<string, unknown>;

/** The upstream: one fixed response per request head (requests carry no body). */
async function startUpstream(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    let tail: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      const buf = tail.length === 0 ? d : Buffer.concat([tail, d]);
      let n = 0;
      let last = 0;
      for (let i = buf.indexOf(END_OF_HEAD); i !== -1; i = buf.indexOf(END_OF_HEAD, i + 4)) {
        n++;
        last = i + 4;
      }
      tail = buf.subarray(last);
      for (let k = 0; k < n; k++) s.write(RESPONSE);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** CONNECTIONS keep-alive clients, each sending its next request once the previous response is in. */
async function run(port: number, requests: number): Promise<void> {
  const request = Buffer.from(`GET /index.html HTTP/1.1\r\nhost: bench.example:${port}\r\nuser-agent: micro\r\n\r\n`, 'latin1');
  let sent = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    for (let c = 0; c < CONNECTIONS; c++) {
      const s = net.connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let tail: Buffer = Buffer.alloc(0);
      s.on('connect', () => {
        sent++;
        s.write(request);
      });
      s.on('data', (d: Buffer) => {
        const buf = tail.length === 0 ? d : Buffer.concat([tail, d]);
        let n = 0;
        let last = 0;
        for (let i = buf.indexOf(RESPONSE_END); i !== -1; i = buf.indexOf(RESPONSE_END, i + RESPONSE_END.length)) {
          n++;
          last = i + RESPONSE_END.length;
        }
        tail = buf.subarray(last);
        for (let k = 0; k < n; k++) {
          done++;
          if (done === requests) {
            resolve();
          } else if (sent < requests) {
            sent++;
            s.write(request);
          }
        }
        if (done >= requests) s.destroy();
      });
      s.on('error', reject);
    }
  });
}

function config(listenerPort: number, upstreamPort: number): string {
  return stringify(legateBootstrap({ port: listenerPort, adminPort: 0, upstreamPort, profile: 'realistic', accessLogPath: '' }));
}

/** µs of this process's CPU per request: the least over rounds (other load on the machine only adds). */
async function measure(port: number): Promise<number> {
  await run(port, Math.min(REQUESTS, 20_000)); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    await run(port, REQUESTS);
    const d = process.cpuUsage(before);
    samples.push((d.user + d.system) / REQUESTS);
  }
  return Math.min(...samples);
}

const upstream = await startUpstream();
const direct = await measure(upstream.port);
console.log(`direct to the upstream (client + upstream only)            ${direct.toFixed(2).padStart(7)} µs/request`);

interface Profile {
  name: string;
  mutate?: (s: Snapshot) => void;
}
const profiles: Profile[] = [{ name: 'router-only (realistic)' }];
// The chain's modules exist from the filter-chain change on; before it (an A/B run on the older tree) only the
// router-only profile runs.
const registry = await import('../../workers/http/filters/filter-registry.ts').catch(() => null);
const api = await import('../../workers/http/filters/http-filter.ts').catch(() => null);
if (registry !== null && api !== null) {
  class BenchPassThrough extends api.PassThroughFilter {}
  const factory = { createFilter: () => new BenchPassThrough() };
  registry.registerHttpFilter('bench.pass_through', () => factory);
  for (const n of [1, 3]) {
    profiles.push({
      name: `+${n} pass-through filter${n > 1 ? 's' : ''}`,
      mutate: (s) => {
        const f = s.listeners[0]!.filterChains[0]!.filter;
        if (f.kind !== 'http_connection_manager') return;
        for (let i = 0; i < n; i++) (f.hcm as unknown as { httpFilters: Obj[] }).httpFilters.push({ name: `pass_through_${i}`, filter: 'bench.pass_through', config: null, disabled: false, stats: null, slots: null });
      },
    });
  }
}

for (const p of profiles) {
  const port = await freePort();
  const worker = await InProcessWorker.start({ config: config(port, upstream.port), mutate: p.mutate });
  const us = await measure(port);
  console.log(`${('through Legate, ' + p.name).padEnd(60)} ${us.toFixed(2).padStart(7)} µs/request  (proxy: ${(us - direct).toFixed(2)} µs)`);
  await worker.stop();
}
upstream.close();
process.exit(0);
