// The benchmark harness (bench/run.ts) starts and writes well-formed results on a tiny run, with what is there
// without apt: a Node upstream, direct and http-proxy (nginx, HAProxy and wrk only when installed), and the gRPC
// scenario (the grpc-js server direct and through Legate) when h2load is installed. No timings.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from '../support/legate-process.ts';
import { findTool } from '../../bench/harness/tools.ts';

interface Outcome {
  system: string;
  status: string;
  loadRuns: { requests: number; requestsPerSecond: number; cpuUsPerRequest?: number; curve: unknown[]; tool: string; negotiated?: string; errors: number }[];
  idleRuns: { connections: number; rssBeforeKiB: number; rssAfterKiB: number }[];
  summary?: Record<string, unknown>;
}

interface HarnessJson {
  schema: string;
  info: { date: string; machine: { nproc: number; cpuModel: string; kernel: string }; versions: Record<string, string>; pinning: string };
  skipped: { system: string; reason: string }[];
  targets: { id: string; limit: number }[];
  scenarios: { id: string; kind: string; systems: Outcome[] }[];
}

function listing(dir: string): string[] {
  try {
    return fs.readdirSync(dir).map((f) => `${f}:${fs.statSync(path.join(dir, f)).mtimeMs}`);
  } catch {
    return [];
  }
}

describe('bench harness, tiny run', () => {
  it('writes JSON, Markdown and SVG results to the given directory, and nothing into bench/', async () => {
    const out = tempDir('legate-harness-smoke-');
    const repoResults = listing(path.join(ROOT, 'bench/results'));
    const repoMd = listing(path.join(ROOT, 'bench')).filter((f) => f.startsWith('RESULTS.md:'));
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          path.join(ROOT, 'bench/run.ts'),
          '--quick', '--duration', '1', '--latency-duration', '0.3', '--warmup', '0', '--reps', '1',
          '--only', 'direct,http-proxy,nginx,haproxy,legate-1-filters,legate-1-grpc', '--scenarios', 'ka-5b,grpc-unary,idle-memory', '--idle-connections', '20',
          '--upstream', 'node', '--no-install', '--connections', '4', '--out', out,
        ],
        { cwd: ROOT, timeout: 90_000 },
        (err, _stdout, stderr) => resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stderr }),
      );
    });
    assert.equal(r.code, 0, r.stderr);

    for (const tool of ['nginx', 'haproxy'] as const) {
      if (findTool(tool) === undefined) assert.match(r.stderr, new RegExp(`skipping ${tool}: ${tool} is not installed`));
    }
    if (findTool('wrk') === undefined) assert.match(r.stderr, /wrk is not installed/);
    const h2load = findTool('h2load') !== undefined;
    if (!h2load) assert.match(r.stderr, /skipping legate-1-grpc: h2load is not installed/);

    const files = fs.readdirSync(out);
    const json = files.find((f) => /^\d{4}-\d\d-\d\dT.*-quick\.json$/.test(f));
    assert.ok(json !== undefined, `a dated JSON in ${files.join(', ')}`);
    for (const f of ['latest.json', 'latest.md', 'latest.svg', 'RESULTS.md', json.replace('.json', '.md'), json.replace('.json', '.svg')]) {
      assert.ok(files.includes(f), `${f} written`);
    }

    const j = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8')) as HarnessJson;
    assert.equal(j.schema, 'legate-bench-harness/1');
    assert.ok(j.info.machine.nproc >= 1 && j.info.machine.cpuModel.length > 0 && j.info.machine.kernel.length > 0);
    assert.ok(j.info.versions['Node'] !== undefined && j.info.versions['autocannon'] !== undefined);
    assert.ok(j.info.pinning.length > 0);
    assert.deepEqual(j.targets.map((t) => t.id), [
      'cpu-5b-minimal', 'cpu-5b-realistic', 'cpu-5b-filters', 'cpu-16k-minimal', 'cpu-16k-realistic', 'cpu-16k-filters',
      'p99-minimal', 'p99-realistic', 'p99-filters', 'cpu-close-minimal', 'cpu-close-realistic', 'cpu-close-filters',
      'ten-filters', 'access-log', 'h2-cpu', 'grpc-rate', 'idle-memory',
    ]);
    for (const s of j.skipped) assert.ok(['nginx', 'haproxy', 'grpc-direct', 'legate-1-grpc'].includes(s.system) && s.reason.length > 0);

    const ka = j.scenarios.find((s) => s.id === 'ka-5b');
    assert.ok(ka !== undefined && ka.kind === 'load');
    for (const id of ['direct', 'http-proxy', 'legate-1-filters']) {
      const o: Outcome | undefined = ka.systems.find((s) => s.system === id);
      assert.ok(o !== undefined, `${id} in ka-5b`);
      assert.equal(o.status, 'ok');
      assert.equal(o.loadRuns.length, 1);
      assert.ok(o.loadRuns[0]!.requests > 0 && o.loadRuns[0]!.requestsPerSecond > 0);
      assert.ok(o.loadRuns[0]!.curve.length > 0);
      assert.ok(o.summary !== undefined);
    }
    assert.equal(ka.systems.find((s) => s.system === 'legate-1-filters')!.loadRuns[0]!.errors, 0, 'the ten filters let every bench request through');
    const proxied = ka.systems.find((s) => s.system === 'http-proxy')!.loadRuns[0]!;
    assert.ok(proxied.cpuUsPerRequest !== undefined && Number.isFinite(proxied.cpuUsPerRequest) && proxied.cpuUsPerRequest > 0, 'proxy CPU per request from /proc');

    const grpcUnary = j.scenarios.find((s) => s.id === 'grpc-unary');
    assert.ok(grpcUnary !== undefined && grpcUnary.kind === 'h2load');
    for (const id of ['grpc-direct', 'legate-1-grpc']) {
      const o: Outcome | undefined = grpcUnary.systems.find((s) => s.system === id);
      assert.ok(o !== undefined, `${id} in grpc-unary`);
      if (!h2load) {
        assert.equal(o.status, 'skipped');
        continue;
      }
      assert.equal(o.status, 'ok', JSON.stringify(o));
      const first: Outcome['loadRuns'][number] = o.loadRuns[0]!;
      assert.equal(first.tool, 'h2load');
      assert.equal(first.negotiated, 'h2c');
      assert.ok(first.requests > 0 && first.requestsPerSecond > 0 && first.curve.length > 0);
      assert.equal(first.errors, 0, `${id}: h2load errors`);
    }
    if (h2load) {
      const viaLegate = grpcUnary.systems.find((s) => s.system === 'legate-1-grpc')!.loadRuns[0]!;
      assert.ok(viaLegate.cpuUsPerRequest !== undefined && viaLegate.cpuUsPerRequest > 0, 'Legate CPU per gRPC call from /proc');
    }

    const idle = j.scenarios.find((s) => s.id === 'idle-memory');
    assert.ok(idle !== undefined && idle.kind === 'idle-memory');
    const hp = idle.systems.find((s) => s.system === 'http-proxy');
    assert.ok(hp !== undefined && hp.idleRuns.length === 1);
    assert.equal(hp.idleRuns[0]!.connections, 20);
    assert.ok(hp.idleRuns[0]!.rssBeforeKiB > 0 && hp.idleRuns[0]!.rssAfterKiB > 0);

    const md = fs.readFileSync(path.join(out, 'latest.md'), 'utf8');
    assert.match(md, /^# Legate benchmark/);
    assert.match(md, /## Targets/);
    assert.match(md, /\| ten filters configured: CPU\/request vs router-only, keep-alive, 5-byte body \| realistic \+ ten filters \| ≤ 1\.1 × router-only \| /);
    assert.match(md, /\| Legate, 1 worker, ten filters \| [0-9.]+k \| [0-9.]+ \|/);
    assert.match(md, /\| system \| req\/s \| proxy CPU µs\/req \| × nginx \|/);
    assert.match(md, /\| direct to the upstream \(ceiling\) \| [0-9.]+k \|/);
    assert.match(md, /\| http-proxy \(npm\), Node \| [0-9.]+k \| [0-9.]+ \|/);
    assert.match(md, /\| system \| connections \| RSS before \| RSS after \| KiB per connection \|/);
    assert.match(md, /## gRPC unary calls .*\(`grpc-unary`\)/);
    assert.match(md, /\| system \| req\/s \| req\/s × direct \| proxy CPU µs\/req \|/);
    assert.match(fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8'), /!\[percentile plot\]\(.*\.svg\)/);
    assert.match(fs.readFileSync(path.join(out, 'latest.svg'), 'utf8'), /^<svg[\s\S]*<polyline[\s\S]*<\/svg>\s*$/);

    assert.deepEqual(listing(path.join(ROOT, 'bench/results')), repoResults, 'bench/results/ untouched');
    assert.deepEqual(listing(path.join(ROOT, 'bench')).filter((f) => f.startsWith('RESULTS.md:')), repoMd, 'bench/RESULTS.md untouched');
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('--help exits 0 and an unknown option exits 2', async () => {
    const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [path.join(ROOT, 'bench/run.ts'), ...args], { cwd: ROOT }, (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
        );
      });
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const opt of ['--quick', '--duration', '--reps', '--only', '--scenarios', '--out', '--no-install', '--idle-connections', 'h2-tls', 'grpc-unary']) {
      assert.ok(help.stdout.includes(opt), `help mentions ${opt}`);
    }
    const bad = await run(['--bogus']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option '--bogus'/);
    const badSystem = await run(['--only', 'squid']);
    assert.equal(badSystem.code, 2);
    assert.match(badSystem.stderr, /no system 'squid'/);
  });
});
