// The benchmark harness's targets (issue 14) and system selection, on made-up measurements: every HTTP/1.1 target
// is judged for the minimal, realistic and ten-filter Legate rows against the nginx row doing the same work, rates
// are judged "at least", and the report says met/missed with the limit and the value. Pure: no processes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTargets, renderMarkdown, summarize, type HarnessResult, type ScenarioOutcome, type SystemOutcome } from '../../bench/harness/report.ts';
import type { LoadRun } from '../../bench/harness/measure.ts';
import { SCENARIOS } from '../../bench/harness/scenarios.ts';
import { SYSTEMS, selected, systemById } from '../../bench/harness/systems.ts';
import { HarnessUsageError, parseHarnessOptions } from '../../bench/harness/harness-options.ts';

/** One repetition's figures: CPU µs/request, p99 µs, req/s. */
function run(cpu: number | undefined, p99Us: number, rps: number): LoadRun {
  return {
    rep: 1,
    tool: 'wrk',
    requests: rps,
    requestsPerSecond: rps,
    cpuUsPerRequest: cpu,
    proxyCpuCores: cpu === undefined ? undefined : 1,
    errors: 0,
    latency: { p50Us: p99Us / 4, p90Us: p99Us / 2, p99Us, p999Us: p99Us * 2, maxUs: p99Us * 3 },
    curve: [[50, p99Us / 4], [99, p99Us]],
    autocannon: undefined,
  };
}

function system(id: string, runs: LoadRun[]): SystemOutcome {
  const def = systemById(id);
  assert.ok(def !== undefined, `system ${id}`);
  return { system: id, label: def.label, status: 'ok', reason: undefined, nginxPeer: def.nginxPeer, loadRuns: runs, idleRuns: [], failures: [] };
}

function scenario(id: string, systems: SystemOutcome[]): ScenarioOutcome {
  const sc = SCENARIOS.find((s) => s.id === id);
  assert.ok(sc !== undefined, `scenario ${id}`);
  return { scenario: sc, systems };
}

/** CPU µs/request per system, the same in ka-5b, ka-16k and close-5b (the ratios are what is judged). */
const CPU: Record<string, number> = { 'legate-1-minimal': 12, 'nginx-minimal': 10, 'legate-1': 15, 'legate-1-filters': 16, nginx: 10 };

function http1(id: string): ScenarioOutcome {
  return scenario(id, Object.entries(CPU).map(([sys, cpu]) => system(sys, [run(cpu, sys.startsWith('nginx') ? 1000 : 1400, 1000)])));
}

describe('bench targets (issue 14)', () => {
  const outcomes = [
    http1('ka-5b'),
    http1('ka-16k'),
    http1('close-5b'),
    scenario('h2-tls', [system('legate-1-h2tls', [run(11, 1000, 1000)]), system('haproxy-h2tls', [run(10, 1000, 1000)])]),
    scenario('grpc-unary', [system('grpc-direct', [run(undefined, 1000, 10_000)]), system('legate-1-grpc', [run(50, 1000, 8_500)])]),
  ];
  const summarized = summarize(outcomes);
  const targets = evaluateTargets(summarized, 10_000, 50);
  const byId = new Map(targets.map((t) => [t.id, t]));

  it('has issue 14\'s targets, the HTTP/1.1 ones for each profile, with their limits', () => {
    assert.deepEqual(
      targets.map((t) => `${t.id} ${t.bound === 'at-most' ? '≤' : '≥'} ${t.limit} ${t.unit}`),
      [
        'cpu-5b-minimal ≤ 1.3 × nginx', 'cpu-5b-realistic ≤ 1.3 × nginx', 'cpu-5b-filters ≤ 1.3 × nginx',
        'cpu-16k-minimal ≤ 1.4 × nginx', 'cpu-16k-realistic ≤ 1.4 × nginx', 'cpu-16k-filters ≤ 1.4 × nginx',
        'p99-minimal ≤ 1.5 × nginx', 'p99-realistic ≤ 1.5 × nginx', 'p99-filters ≤ 1.5 × nginx',
        'cpu-close-minimal ≤ 1.6 × nginx', 'cpu-close-realistic ≤ 1.6 × nginx', 'cpu-close-filters ≤ 1.6 × nginx',
        'ten-filters ≤ 1.1 × router-only',
        'access-log ≤ 1.15 × off',
        'h2-cpu ≤ 1 × HAProxy',
        'grpc-rate ≥ 0.8 × direct',
        'idle-memory ≤ 16 KiB',
      ],
    );
  });

  it('divides each Legate profile by the nginx row doing the same work (ten filters: nginx realistic)', () => {
    assert.equal(byId.get('cpu-5b-minimal')!.value, 1.2);
    assert.equal(byId.get('cpu-5b-minimal')!.met, true);
    assert.equal(byId.get('cpu-5b-realistic')!.value, 1.5);
    assert.equal(byId.get('cpu-5b-realistic')!.met, false);
    assert.equal(byId.get('cpu-5b-filters')!.value, 1.6);
    assert.equal(byId.get('cpu-5b-filters')!.met, false);
    // 1.5 × nginx misses 1.4 (16 KiB) and meets 1.6 (new connection per request).
    assert.equal(byId.get('cpu-16k-realistic')!.met, false);
    assert.equal(byId.get('cpu-close-realistic')!.met, true);
    assert.equal(byId.get('cpu-close-filters')!.met, true);
    // p99 1400 µs against nginx's 1000 µs: 1.4 ≤ 1.5.
    assert.equal(byId.get('p99-minimal')!.value, 1.4);
    assert.equal(byId.get('p99-filters')!.met, true);
    assert.equal(byId.get('cpu-5b-minimal')!.profile, 'minimal');
    assert.equal(byId.get('cpu-5b-filters')!.profile, 'realistic + ten filters');
  });

  it('judges the ten-filter chain against the router-only chain, rates at least, and leaves unmeasured targets open', () => {
    const ten = byId.get('ten-filters')!;
    assert.ok(Math.abs(ten.value! - 16 / 15) < 1e-9);
    assert.equal(ten.met, true);
    assert.ok(Math.abs(byId.get('h2-cpu')!.value! - 1.1) < 1e-9);
    assert.equal(byId.get('h2-cpu')!.met, false);
    assert.equal(byId.get('grpc-rate')!.value, 0.85);
    assert.equal(byId.get('grpc-rate')!.met, true, '0.85 × direct is at least 0.8');
    for (const id of ['access-log', 'idle-memory']) {
      assert.equal(byId.get(id)!.value, undefined);
      assert.equal(byId.get(id)!.met, undefined);
    }
    const slow = evaluateTargets(
      summarize([scenario('grpc-unary', [system('grpc-direct', [run(undefined, 1000, 10_000)]), system('legate-1-grpc', [run(50, 1000, 7_000)])])]),
      10_000,
      50,
    );
    assert.equal(slow.find((t) => t.id === 'grpc-rate')!.met, false, '0.7 × direct misses 0.8');
  });

  it('never divides a minimal Legate by a realistic nginx', () => {
    const alone = summarize([scenario('ka-5b', [system('legate-1-minimal', [run(12, 1000, 1000)]), system('nginx', [run(10, 1000, 1000)])])]);
    const t = evaluateTargets(alone, 10_000, 50).find((x) => x.id === 'cpu-5b-minimal')!;
    assert.equal(t.value, undefined);
    assert.equal(t.met, undefined);
  });

  it('prints each target with its Legate config, limit, measured value and met/missed', () => {
    const result: HarnessResult = {
      schema: 'legate-bench-harness/1',
      info: {
        date: '2026-12-08T00:00:00.000Z',
        wallS: 1,
        machine: { nproc: 2, cpuModel: 'test CPU', kernel: 'Linux test' } as HarnessResult['info']['machine'],
        versions: { Node: process.version },
        pinning: 'none',
        upstream: 'test',
        loadDescription: 'test',
        method: 'test',
        tmpDir: '/tmp',
        options: {},
      },
      skipped: [],
      targets,
      scenarios: summarized,
    };
    const md = renderMarkdown(result, 'plot.svg', 'Legate benchmark');
    assert.match(md, /\| target \| Legate config \| limit \| measured \| met \| note \|/);
    assert.match(md, /\| proxy CPU\/request, keep-alive, 5-byte body \| minimal \| ≤ 1\.3 × nginx \| 1\.2 × nginx \| met \|/);
    assert.match(md, /\| proxy CPU\/request, keep-alive, 5-byte body \| realistic \+ ten filters \| ≤ 1\.3 × nginx \| 1\.6 × nginx \| \*\*missed\*\* \|/);
    assert.match(md, /\| ten filters configured: CPU\/request vs router-only, keep-alive, 5-byte body \| realistic \+ ten filters \| ≤ 1\.1 × router-only \| 1\.07 × router-only \| met \|/);
    assert.match(md, /\| gRPC unary calls per second through Legate vs direct[^|]*\| minimal \| ≥ 0\.8 × direct \| 0\.85 × direct \| met \|/);
    assert.match(md, /\| access logging on: CPU\/request vs off \| realistic \| ≤ 1\.15 × off \| not measured \| – \|/);
    assert.match(md, /\| Legate, 1 worker, ten filters \| [0-9.]+k \| 16 \| 1\.6× \|/);
  });
});

describe('bench systems and scenarios', () => {
  it('ka-5b, ka-16k and close-5b run Legate and nginx in both profiles and Legate with ten filters', () => {
    for (const id of ['ka-5b', 'ka-16k', 'close-5b']) {
      const sc = SCENARIOS.find((s) => s.id === id)!;
      for (const sys of ['legate-1', 'legate-1-minimal', 'legate-1-filters', 'nginx', 'nginx-minimal']) assert.ok(sc.systems.includes(sys), `${id} runs ${sys}`);
    }
    const filters = systemById('legate-1-filters')!;
    assert.equal(filters.profile, 'realistic-filters');
    assert.equal(filters.nginxPeer, 'nginx');
  });

  it('--only legate-1 selects its profile variants, not the HTTP/2 systems; --profiles narrows', () => {
    const picked = (only: string[] | undefined, profiles?: Parameters<typeof selected>[2]): string[] =>
      SYSTEMS.filter((s) => selected(s, only, profiles)).map((s) => s.id);
    assert.deepEqual(picked(['legate-1', 'nginx']).filter((id) => !id.startsWith('nginx')), ['legate-1', 'legate-1-minimal', 'legate-1-filters', 'legate-1-log']);
    assert.ok(picked(['legate-1', 'nginx']).includes('nginx-minimal'));
    assert.ok(!picked(['legate-1']).includes('legate-1-h2tls') && !picked(['legate-1']).includes('legate-1-grpc'));
    assert.deepEqual(picked(['legate-1'], ['minimal']), ['legate-1-minimal']);
    assert.deepEqual(picked(['http-proxy', 'legate-1'], ['realistic-filters']), ['http-proxy', 'legate-1-filters'], 'systems without a profile always pass');
  });

  it('parses --profiles and refuses an unknown profile', () => {
    assert.deepEqual(parseHarnessOptions(['--profiles', 'minimal,realistic']).profiles, ['minimal', 'realistic']);
    assert.equal(parseHarnessOptions([]).profiles, undefined);
    assert.throws(() => parseHarnessOptions(['--profiles', 'fancy']), (err: unknown) => err instanceof HarnessUsageError && /no profile 'fancy'/.test(err.message));
  });
});
