// Bench tool (its own process). The CPU-profile recipe of issue 14: one Legate worker under one HTTP/1.1 load,
// pinned as bench/run.ts pins it, with V8's CPU profiler on; prints CPU per request split by thread and by user and
// kernel time, and the functions and files that took the worker's JavaScript time. Every change to the data path
// starts from this output (`make profile ARGS='--scenario close-5b'`).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchProcess, freePort, waitForPort } from './harness/bench-process.ts';
import type { RunContext, RunningSystem } from './harness/systems.ts';
import { legateBootstrapYaml } from './harness/configs/legate-bootstrap.ts';
import { choosePinning, startUpstream, systemById, ROOT } from './harness/systems.ts';
import { findTool } from './harness/tools.ts';
import { clockTicksPerSecond } from './harness/proc-stats.ts';
import { runWrk, writeWrkScript } from './harness/wrk-load.ts';
import { summarizeCpuProfiles } from './harness/cpu-profile-summary.ts';

const HELP = `Usage: node bench/profile.ts [options]      (make profile ARGS='...')

Runs Legate (1 worker, pinned to CPU 1) against nginx (the upstream, CPU 0) under wrk (CPU 0) with V8's CPU
profiler on in every thread, then prints: proxy CPU per request by thread (user and kernel time from
/proc/<pid>/task), and the worker's JavaScript self time by function and by file.

Options:
  --scenario S     ka-5b (default), ka-16k, close-5b, close-16k
  --profile P      realistic (default), minimal (one route, no extras) or realistic-filters (realistic + ten
                   built-in HTTP filters configured but not acting)
  --duration D     seconds of measured load (default 10), after 2 s of warm-up
  --connections N  wrk connections (default 50)
  --no-profiler    measure CPU only (the profiler itself costs some CPU)
  --node-flags F   flags for Legate's node (e.g. '--trace-gc'; its output is in the log kept with --out)
  --system S       legate (default) or nginx (the same load on nginx, CPU split only: the peer to compare with)
  --top N          functions to list (default 30)
  --out DIR        keep the .cpuprofile files there (default: a temp dir, removed)
`;

interface ProfileOptions {
  scenario: string;
  profile: 'minimal' | 'realistic' | 'realistic-filters';
  durationS: number;
  connections: number;
  profiler: boolean;
  top: number;
  out: string | undefined;
  system: 'legate' | 'nginx';
  nodeFlags: string[];
}

function parseOptions(argv: readonly string[]): ProfileOptions {
  const o: ProfileOptions = { scenario: 'ka-5b', profile: 'realistic', durationS: 10, connections: 50, profiler: true, top: 30, out: undefined, system: 'legate', nodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--scenario') o.scenario = value();
    else if (a === '--profile') {
      const p = value();
      if (p !== 'minimal' && p !== 'realistic' && p !== 'realistic-filters') throw new Error(`--profile: minimal, realistic or realistic-filters, not ${p}`);
      o.profile = p;
    } else if (a === '--duration') o.durationS = Number(value());
    else if (a === '--connections') o.connections = Number(value());
    else if (a === '--no-profiler') o.profiler = false;
    else if (a === '--top') o.top = Number(value());
    else if (a === '--out') o.out = value();
    else if (a === '--node-flags') o.nodeFlags = value().split(' ').filter((f) => f !== '');
    else if (a === '--system') {
      const v = value();
      if (v !== 'legate' && v !== 'nginx') throw new Error(`--system: legate or nginx, not ${v}`);
      o.system = v;
    }
    else if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a} (--help lists them)`);
  }
  if (!['ka-5b', 'ka-16k', 'close-5b', 'close-16k'].includes(o.scenario)) throw new Error(`--scenario: unknown ${o.scenario}`);
  return o;
}

interface ThreadTicks {
  readonly name: string;
  readonly user: number;
  readonly system: number;
}

/** utime and stime of every thread of the processes, by thread id (Node names its threads; nginx's are processes). */
function threadTicks(pids: readonly number[]): Map<string, ThreadTicks> {
  const out = new Map<string, ThreadTicks>();
  for (const pid of pids) for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    out.set(`${tid}`, { name, user: Number(rest[11]), system: Number(rest[12]) });
  }
  return out;
}

function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  return run(o);
}

async function run(o: ProfileOptions): Promise<void> {
  const nginx = findTool('nginx');
  const wrk = findTool('wrk');
  if (nginx === undefined || wrk === undefined) throw new Error('needs nginx and wrk (apt-get install -y nginx wrk)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-profile-'));
  const profDir = o.out ?? path.join(tmp, 'prof');
  fs.mkdirSync(profDir, { recursive: true });
  const pinning = choosePinning();
  const upstream = await startUpstream('nginx', tmp, pinning, nginx);
  const port = await freePort();
  const adminPort = await freePort();
  const file = path.join(tmp, 'legate.yaml');
  fs.writeFileSync(file, legateBootstrapYaml({ port, adminPort, upstreamPort: upstream.port, profile: o.profile, accessLogPath: path.join(tmp, 'access.log'), tls: undefined, upstreamHttp2: false }));
  const env: Record<string, string> = {};
  const profiling = o.profiler && o.system === 'legate';
  if (profiling) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${profDir}`;
  let proxy: RunningSystem;
  if (o.system === 'legate') {
    // Node flags (NODE_OPTIONS refuses some, --trace-gc among them) need node itself, not bin/legate.
    const legateArgs = ['-c', file, '--concurrency', '1', '--log-level', 'warn'];
    const direct = o.nodeFlags.length > 0;
    const proc = new BenchProcess({
      name: 'legate',
      command: direct ? path.join(ROOT, 'node_modules/.bin/node') : path.join(ROOT, 'bin/legate'),
      args: direct ? [...o.nodeFlags, path.join(ROOT, 'src/cli/main.ts'), ...legateArgs] : legateArgs,
      cpus: pinning.proxy,
      logDir: tmp,
      env,
    });
    await waitForPort(port, proc, 30_000);
    proxy = { port, pids: () => [proc.pid], running: true, logTail: () => proc.logTail(), stop: () => proc.stop(15_000) };
  } else {
    const def = systemById(o.profile === 'minimal' ? 'nginx-minimal' : 'nginx')!;
    const ctx: RunContext = { tmpDir: tmp, pinning, upstreamPort: upstream.port, nginx, haproxy: undefined, cert: undefined, grpcPort: undefined };
    proxy = await def.start(ctx, 'nginx-proxy');
  }
  const pids = proxy.pids();
  try {
    const keepAlive = o.scenario.startsWith('ka-');
    const urlPath = o.scenario.endsWith('16k') ? '/16k' : '/';
    const script = writeWrkScript(tmp);
    const spec = { wrk, url: `http://127.0.0.1:${proxy.port}${urlPath}`, connections: o.connections, keepAlive, cpus: pinning.load, scriptPath: script };
    await runWrk({ ...spec, durationS: 2 });
    const before = threadTicks(pids);
    const result = await runWrk({ ...spec, durationS: o.durationS });
    const after = threadTicks(pids);
    const hz = clockTicksPerSecond();
    const byName = new Map<string, { user: number; system: number }>();
    for (const [tid, a] of after) {
      const b = before.get(tid) ?? { user: 0, system: 0 };
      const e = byName.get(a.name) ?? { user: 0, system: 0 };
      e.user += a.user - b.user;
      e.system += a.system - b.system;
      byName.set(a.name, e);
    }
    const n = result.requests;
    const us = (ticks: number): string => ((ticks / hz / n) * 1e6).toFixed(2);
    let totalUser = 0;
    let totalSystem = 0;
    console.log(`${o.system}, ${o.scenario}, ${o.profile} profile, ${o.connections} connections, ${o.durationS} s: ${n} requests, ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.latencyUs.p99} µs${profiling ? ' (profiler on)' : ''}`);
    console.log('proxy CPU µs per request by thread (user + kernel):');
    for (const [name, t] of [...byName].sort((x, y) => y[1].user + y[1].system - x[1].user - x[1].system)) {
      if (t.user + t.system === 0) continue;
      totalUser += t.user;
      totalSystem += t.system;
      console.log(`  ${name.padEnd(16)} ${us(t.user).padStart(7)} + ${us(t.system).padStart(7)}`);
    }
    console.log(`  ${'total'.padEnd(16)} ${us(totalUser).padStart(7)} + ${us(totalSystem).padStart(7)} = ${us(totalUser + totalSystem)}`);
  } finally {
    await proxy.stop();
    await upstream.system.stop();
  }
  if (profiling) {
    const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) console.log(`no CPU profile was written (did Legate exit cleanly? log: ${path.join(tmp, 'legate.log')})`);
    else console.log(summarizeCpuProfiles(files.map((f) => path.join(profDir, f)), o.top));
  }
  if (o.out === undefined) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`kept: ${tmp} (legate.log, legate.yaml) and the profiles in ${profDir}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`profile: ${(err as Error).message}\n`);
  process.exit(1);
});
