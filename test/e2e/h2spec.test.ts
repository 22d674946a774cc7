// End to end: h2spec, the public HTTP/2 conformance suite (146 cases), against bin/legate's HTTP/2 listeners
// routing to a real upstream — h2c on a codec_type HTTP2 listener and TLS with ALPN h2 must pass every case; on a
// codec_type AUTO plain-TCP listener every case but 3.5/2 (a broken preface there is an HTTP/1.1 request, answered
// in HTTP/1.1; docs/ARCHITECTURE.md). h2spec is a tool beside the repo, not an npm package:
// <repo>/../shared/tools/h2spec.gz (see that folder's README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT, startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

const H2SPEC_GZ = path.resolve(ROOT, '../shared/tools/h2spec.gz');
const H2SPEC_CASES = 146;
/** h2spec's per-case wait (seconds): a passing run never waits it out, so a generous one costs nothing. */
const CASE_TIMEOUT_S = 5;
/** The whole run; a run that hangs fails instead of stalling the suite. */
const RUN_TIMEOUT_MS = 90_000;

interface H2specRun {
  /** Case ids as h2spec numbers them ("http2/5.1/8", "generic/3.2/1", "hpack/6.1/1") with their outcome. */
  cases: Map<string, 'passed' | 'failed' | 'skipped'>;
  /** The summary line ("146 tests, 146 passed, 0 skipped, 0 failed"). */
  summary: string;
  /** What a failed case expected and got, by id. */
  failures: Map<string, string>;
  output: string;
}

/** Decodes XML's predefined entities (h2spec's JUnit report escapes its messages). */
function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#xA;/g, '\n').replace(/&amp;/g, '&');
}

/** h2spec's JUnit report: one <testsuite package="http2/5.1"> per section, its <testcase>s numbered in order. */
function parseJunit(xml: string): { cases: H2specRun['cases']; failures: H2specRun['failures'] } {
  const cases: H2specRun['cases'] = new Map();
  const failures: H2specRun['failures'] = new Map();
  for (const suite of xml.matchAll(/<testsuite\b[^>]*\bpackage="([^"]+)"[^>]*>([\s\S]*?)<\/testsuite>/g)) {
    let n = 0;
    for (const tc of suite[2]!.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const id = `${suite[1]}/${++n}`;
      const body = tc[2] ?? '';
      const bad = /<(failure|error)\b[^>]*>([\s\S]*?)<\/\1>/.exec(body);
      if (bad !== null) {
        cases.set(id, 'failed');
        failures.set(id, unescapeXml(bad[2]!).trim().replace(/\s*\n\s*/g, ' | '));
      } else cases.set(id, /<skipped\b/.test(body) ? 'skipped' : 'passed');
    }
  }
  return { cases, failures };
}

function runH2spec(bin: string, port: number, tls: boolean, reportPath: string): Promise<H2specRun> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-o', String(CASE_TIMEOUT_S), '-j', reportPath, ...(tls ? ['-t', '-k'] : [])];
  return new Promise((resolve, reject) => {
    // Exit status 1 means "some case failed": the report says which, so it is not an error here.
    execFile(bin, args, { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (err !== null && (err.killed || !fs.existsSync(reportPath))) {
        reject(new Error(`h2spec ${args.join(' ')} did not finish (${err.killed ? `killed after ${RUN_TIMEOUT_MS} ms` : err.message}):\n${output.slice(-4000)}`));
        return;
      }
      const { cases, failures } = parseJunit(fs.readFileSync(reportPath, 'utf8'));
      const summary = /\d+ tests, \d+ passed, \d+ skipped, \d+ failed/.exec(output)?.[0] ?? '(no summary line)';
      resolve({ cases, summary, failures, output });
    });
  });
}

function idsWith(run: H2specRun, outcome: 'passed' | 'failed' | 'skipped'): string[] {
  return [...run.cases].filter(([, o]) => o === outcome).map(([id]) => id);
}

function describeFailures(run: H2specRun): string {
  const lines = [...run.failures].map(([id, why]) => `  ${id}: ${why}`);
  return `${run.summary}${lines.length > 0 ? `\n${lines.join('\n')}` : ''}`;
}

describe('h2spec (HTTP/2 conformance) against bin/legate', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let pki: TestPki | null = null;
  let dir: string;
  let h2spec: string;
  const ports = { h2c: 0, tls: 0, auto: 0 };

  before(async () => {
    // Missing tools fail the suite in one line: a conformance run that silently did not happen is worse.
    if (!fs.existsSync(H2SPEC_GZ)) throw new Error(`h2spec not found: ${H2SPEC_GZ} (the shared tools folder beside the repo; see its README.md)`);
    if (!opensslAvailable()) throw new Error('openssl not found: the TLS run needs it for its certificate (make test-tools installs it)');
    dir = tempDir('legate-h2spec-');
    h2spec = path.join(dir, 'h2spec');
    fs.writeFileSync(h2spec, zlib.gunzipSync(fs.readFileSync(H2SPEC_GZ)), { mode: 0o755 });
    pki = TestPki.create();
    const cert = pki.issue('h2spec', { sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    up = await startUpstream('h2spec');
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }];
    legate = await startLegate({
      config: bootstrap([
        hcmListener({ name: 'h2c', routes, hcmExtra: '          codec_type: HTTP2\n' }),
        tlsListener({ name: 'tls', certPath: cert.certPath, keyPath: cert.keyPath, alpn: ['h2', 'http/1.1'], filters: routeAllHcm('tls', 'backend') }),
        hcmListener({ name: 'auto', routes }),
      ], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
      concurrency: 1,
    });
    ports.h2c = await legate.listenerPort('h2c');
    ports.tls = await legate.listenerPort('tls');
    ports.auto = await legate.listenerPort('auto');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    pki?.remove();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  const assertClean = (run: H2specRun, what: string): void => {
    assert.equal(run.cases.size, H2SPEC_CASES, `${what}: h2spec reported ${run.cases.size} cases, not ${H2SPEC_CASES}; ${run.summary}`);
    assert.deepEqual(idsWith(run, 'failed'), [], `${what}: failing h2spec cases\n${describeFailures(run)}`);
    assert.deepEqual(idsWith(run, 'skipped'), [], `${what}: skipped h2spec cases; ${run.summary}`);
    assert.equal(run.summary, `${H2SPEC_CASES} tests, ${H2SPEC_CASES} passed, 0 skipped, 0 failed`);
  };

  it(`h2c (codec_type HTTP2, prior knowledge): ${H2SPEC_CASES}/${H2SPEC_CASES} cases pass`, async () => {
    assertClean(await runH2spec(h2spec, ports.h2c, false, path.join(dir, 'h2c.xml')), 'h2c');
    assert.equal(legate.exitCode, null, 'legate exited');
  });

  it(`TLS with ALPN h2: ${H2SPEC_CASES}/${H2SPEC_CASES} cases pass`, async () => {
    assertClean(await runH2spec(h2spec, ports.tls, true, path.join(dir, 'tls.xml')), 'TLS');
    assert.equal(legate.exitCode, null, 'legate exited');
  });

  it('codec_type AUTO on plain TCP (h2c handed over from HTTP/1.1): every case passes but 3.5/2, which is HTTP/1.1\'s there', async () => {
    const run = await runH2spec(h2spec, ports.auto, false, path.join(dir, 'auto.xml'));
    assert.equal(run.cases.size, H2SPEC_CASES, run.summary);
    // "INVALID CONNECTION PREFACE" is not the preface, so AUTO serves it as an HTTP/1.1 request (today a 400), which
    // h2spec cannot read as HTTP/2: that case judges the HTTP/1.1 codec, not the HTTP/2 one, and is left out here.
    const failed = idsWith(run, 'failed').filter((id) => id !== 'http2/3.5/2');
    assert.deepEqual(failed, [], `AUTO: failing h2spec cases\n${describeFailures(run)}`);
    assert.doesNotMatch(legate.stderr, /worker \d+ (failed|exited)|stream failed/);
  });
});
