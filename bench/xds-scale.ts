// xDS at scale (not part of bench/run.ts): 1,000 EDS clusters × 10 endpoints over state-of-the-world ADS from the
// test control plane (test/support/xds-control-plane.ts), one route per cluster. Measures, from the moment the
// control plane sends a response to the first request answered by the new endpoint:
//   - an EDS-only change (one cluster's endpoints): host sets pushed to the running clusters, no snapshot compile;
//   - a CDS change (one cluster's connect_timeout, its endpoints changed with it): the full compile-and-apply path;
// and the start-up time to the first answered request. Prints a summary (recorded by hand in RESULTS.md).
// Run: node_modules/.bin/node bench/xds-scale.ts [--clusters 1000] [--endpoints 10] [--reps 5] [--sotw]
// The clock starts once the control plane has encoded the snapshot and queued its responses (the test control
// plane encodes in this process).

import { parseArgs } from 'node:util';
import { startLegate, freePort } from '../test/support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../test/support/upstreams.ts';
import { XdsControlPlane, adsBootstrap, edsCluster, loadAssignment, rdsListener, type XdsSnapshot } from '../test/support/xds-control-plane.ts';

const { values: args } = parseArgs({ options: {
  clusters: { type: 'string', default: '1000' }, endpoints: { type: 'string', default: '10' }, reps: { type: 'string', default: '5' },
  // State of the world resends every type's whole set on each snapshot (this control plane has one version for all
  // types), so Legate re-validates 1,000 clusters and the route table each time; delta sends what changed.
  sotw: { type: 'boolean', default: false },
} });
const CLUSTERS = Number(args.clusters);
const ENDPOINTS = Number(args.endpoints);
const REPS = Number(args.reps);

function routes(): Record<string, unknown> {
  return {
    name: 'r',
    virtual_hosts: [{ name: 'all', domains: ['*'], routes: Array.from({ length: CLUSTERS }, (_, i) => ({ match: { path: `/c${i}` }, route: { cluster: `c${i}` } })) }],
  };
}

/** Every cluster on the first ENDPOINTS upstreams; `moved` (cluster index -> upstream port) puts one on another. */
function snapshot(version: string, port: number, base: number[], moved: Map<number, number>, timeouts: Map<number, number>): XdsSnapshot {
  return {
    version,
    resources: {
      lds: [rdsListener('ingress', port, 'r')],
      rds: [routes()],
      cds: Array.from({ length: CLUSTERS }, (_, i) => ({ ...edsCluster(`c${i}`), connect_timeout: { seconds: timeouts.get(i) ?? 1 } })),
      eds: Array.from({ length: CLUSTERS }, (_, i) => loadAssignment(`c${i}`, moved.has(i) ? [moved.get(i)!] : base)),
    },
  };
}

async function servedBy(port: number, path: string): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
    await res.text();
    return res.status === 200 ? res.headers.get('x-upstream') : null;
  } catch {
    return null;
  }
}

async function untilServedBy(port: number, path: string, name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await servedBy(port, path)) !== name) {
    if (Date.now() > deadline) throw new Error(`${path} not served by ${name} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ups: TestUpstream[] = [];
for (let i = 0; i < ENDPOINTS; i++) ups.push(await startUpstream(`u${i}`));
const other = await startUpstream('other');
const port = await freePort();
const cp = await new XdsControlPlane().start();
const base = ups.map((u) => u.port);
const moved = new Map<number, number>();
const timeouts = new Map<number, number>();
let version = 1;
cp.setSnapshot(snapshot(`v${version}`, port, base, moved, timeouts));
const t0 = performance.now();
const legate = await startLegate({ config: adsBootstrap(cp.port, { initialFetchTimeout: '60s', delta: !args.sotw }), concurrency: 2 });
await untilServedBy(port, `/c${CLUSTERS - 1}`, 'u0').catch(async () => {
  // Round robin over ENDPOINTS upstreams: any of them answers.
  if ((await servedBy(port, `/c${CLUSTERS - 1}`)) === null) throw new Error('not serving');
});
const startupMs = performance.now() - t0;

const eds: number[] = [];
const cds: number[] = [];
try {
  for (let r = 0; r < REPS; r++) {
    const i = (r * 97) % CLUSTERS;
    // EDS only: cluster i moves to `other`.
    moved.set(i, other.port);
    cp.setSnapshot(snapshot(`v${++version}`, port, base, moved, timeouts));
    let t = performance.now();
    await untilServedBy(port, `/c${i}`, 'other');
    eds.push(performance.now() - t);
    moved.delete(i);
    cp.setSnapshot(snapshot(`v${++version}`, port, base, moved, timeouts));
    await untilServedBy(port, `/c${i}`, 'u0');
    // CDS: the same move with the cluster's connect_timeout changed (a whole snapshot compile).
    moved.set(i, other.port);
    timeouts.set(i, 2 + r);
    cp.setSnapshot(snapshot(`v${++version}`, port, base, moved, timeouts));
    t = performance.now();
    await untilServedBy(port, `/c${i}`, 'other');
    cds.push(performance.now() - t);
    moved.delete(i);
    timeouts.delete(i);
    cp.setSnapshot(snapshot(`v${++version}`, port, base, moved, timeouts));
    // Settled before the next measurement (a compile still running would be in its time).
    await untilServedBy(port, `/c${i}`, 'u0');
  }
} finally {
  const fast = (legate.stderr.match(/no snapshot compile/g) ?? []).length;
  await legate.stop();
  cp.stop();
  for (const u of [...ups, other]) u.server.close();
  console.log(`xds-scale: ${CLUSTERS} clusters × ${ENDPOINTS} endpoints, ${args.sotw ? 'state-of-the-world' : 'delta'} ADS, ${REPS} repetitions`);
  console.log(`  start-up to first answered request: ${startupMs.toFixed(0)} ms`);
  if (eds.length > 0) console.log(`  EDS-only change -> served: median ${median(eds).toFixed(1)} ms (min ${Math.min(...eds).toFixed(1)}, max ${Math.max(...eds).toFixed(1)}); host-set pushes logged: ${fast}`);
  if (cds.length > 0) console.log(`  CDS change (full compile) -> served: median ${median(cds).toFixed(1)} ms (min ${Math.min(...cds).toFixed(1)}, max ${Math.max(...cds).toFixed(1)})`);
}
