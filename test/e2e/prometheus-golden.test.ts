// End to end: /stats/prometheus for a fixed config and fixed traffic, against a golden file (volatile values —
// times, sizes, ports, memory, the version — normalized), and checked by Prometheus' own `promtool check metrics`.
// Only the stats this traffic moved (?usedonly); promtool checks the whole output. A change in what is printed
// changes the golden on purpose: regenerate with LEGATE_UPDATE_GOLDEN=1 and review the diff.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';

const GOLDEN = path.join(import.meta.dirname, 'fixtures', 'prometheus-golden.txt');

/** Metrics whose values depend on time, sizes, memory or the build: their values are replaced by <v>. */
const VOLATILE = [
  /^envoy_server_(uptime|memory_\w+|version|days_until_first_cert_expiring)$/,
  /_bytes_total$/,
  /^envoy_\w+_(ms|time)(_bucket|_sum)$/,
];

/**
 * Gauges whose presence under ?usedonly depends on when a read happened (a connection still open at one poll, the
 * uptime still 0): left out with their # TYPE line and the blank line after.
 */
const TIMING_DEPENDENT = /^envoy_(server_(uptime|total_connections)|\w+_(cx|rq)_active)$/;

function normalize(text: string, port: number, upPort: number): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type !== null) skipping = TIMING_DEPENDENT.test(type[1]!);
    if (skipping) {
      if (line === '') skipping = false;
      continue;
    }
    // The admin's own http.admin.* count the test's polls.
    if (line.includes('envoy_http_conn_manager_prefix="admin"')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (.+)$/.exec(line);
    if (m === null || line.startsWith('#')) {
      out.push(line);
      continue;
    }
    // A port_value 0 listener's address in stat names: the port the kernel gave it, or 0.
    const labels = (m[2] ?? '').replaceAll(`_${port}"`, '_PORT"').replaceAll('127.0.0.1_0"', '127.0.0.1_PORT"').replaceAll(`:${upPort}"`, ':UPSTREAM_PORT"');
    const value = VOLATILE.some((re) => re.test(m[1]!)) ? '<v>' : m[3];
    out.push(`${m[1]}${labels} ${value}`);
  }
  // A # TYPE line whose only series were the admin's goes too, with its blank line.
  const kept: string[] = [];
  for (let i = 0; i < out.length; i++) {
    if (out[i]!.startsWith('# TYPE ') && (out[i + 1] === '' || out[i + 1] === undefined)) {
      i++;
      continue;
    }
    kept.push(out[i]!);
  }
  return kept.join('\n');
}

function get(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

describe('/stats/prometheus golden', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream('backend');
    legate = await startLegate({
      concurrency: 1,
      config: bootstrap(
        [hcmListener({
          name: 'golden',
          port: 0,
          statPrefix: 'ingress',
          routes: [
            { match: '{ prefix: "/missing" }', action: 'route: { cluster: backend, prefix_rewrite: "/status/404" }' },
            { match: '{ prefix: "/fail" }', action: 'route: { cluster: backend, prefix_rewrite: "/status/503" }' },
            { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
          ],
        })],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })],
      ),
    });
    port = await legate.listenerPort('golden');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('matches the golden file for fixed traffic', async () => {
    // Each request on its own connection, one at a time: every count is exact.
    for (let i = 0; i < 5; i++) assert.equal(await get(port, '/ok'), 200);
    for (let i = 0; i < 2; i++) assert.equal(await get(port, '/missing'), 404);
    assert.equal(await get(port, '/fail'), 503);
    await waitUntil(async () => /envoy_http_downstream_cx_active\{envoy_http_conn_manager_prefix="ingress"\} 0\n/.test((await legate.admin('/stats/prometheus')).body),
      () => 'every connection closed', 10_000);
    // usedonly: what this traffic moved (a stat added elsewhere that stays zero here does not churn the golden).
    const { status, body, headers } = await legate.admin('/stats/prometheus?usedonly');
    assert.equal(status, 200);
    assert.match(headers.get('content-type') ?? '', /^text\/plain/);
    const actual = normalize(body, port, up.port);
    if (process.env['LEGATE_UPDATE_GOLDEN'] === '1') {
      fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
      fs.writeFileSync(GOLDEN, actual);
    }
    const expected = fs.readFileSync(GOLDEN, 'utf8');
    assert.equal(actual, expected, 'the /stats/prometheus output changed: if on purpose, regenerate with LEGATE_UPDATE_GOLDEN=1 and review the diff');
  });

  it('passes promtool check metrics', async (t) => {
    const which = spawnSync('promtool', ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (which.error !== undefined || which.status !== 0) {
      t.skip('promtool is not installed (Debian package prometheus; test/support/install-test-tools.sh installs it when it can)');
      return;
    }
    const { body } = await legate.admin('/stats/prometheus');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30_000 });
    // Exit 1 is a parse error; 3 is lint findings only. Envoy's names themselves draw naming lints (no HELP lines,
    // counters without a _total suffix, gauges with one, `_ms` and `days` units): Envoy's output draws the same and
    // dashboards depend on those names. Anything else promtool says is a failure.
    const output = `${r.stdout}${r.stderr}`;
    assert.ok(r.status === 0 || r.status === 3, `promtool check metrics exited ${r.status}:\n${output}`);
    const findings = output.split('\n').filter((l) => l.trim() !== '');
    const naming = /^\w+ (no help text|counter metrics should have "_total" suffix|non-counter metrics should not have "_total" suffix|metric names should not contain abbreviated units|use base unit "\w+" instead of "\w+")$/;
    const unexpected = findings.filter((l) => !naming.test(l));
    assert.deepEqual(unexpected, [], `promtool check metrics:\n${output}`);
  });
});
