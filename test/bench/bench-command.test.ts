// `legate bench`: the real bin/legate, as a child process, against a real node:http server on 127.0.0.1. Checks
// the output is well-formed and consistent; never timings.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { LEGATE_BIN, ROOT, freePort, tempDir } from '../support/legate-process.ts';
import { legateBootstrapYaml } from '../../bench/harness/configs/legate-bootstrap.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function bench(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(LEGATE_BIN, ['bench', ...args], { cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface ReportJson {
  schema: string;
  target: { url: string; connections: number; durationS: number };
  result: {
    responses: number;
    requestsPerSecond: number;
    requestsSent: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    statusCodes: Record<string, number>;
    latency: { count: number; p50Us: number; p90Us: number; p99Us: number; p999Us: number; maxUs: number };
    curve: [number, number][];
    histogram: string;
  };
}

function checkReport(j: ReportJson, url: string): void {
  assert.equal(j.schema, 'legate-bench/1');
  assert.equal(j.target.url, url);
  const r = j.result;
  assert.ok(r.responses > 0, 'some responses');
  assert.ok(r.requestsPerSecond > 0);
  assert.ok(r.requestsSent >= r.responses, 'requests sent include every answered one');
  const sum = Object.values(r.statusCodes).reduce((a, b) => a + b, 0);
  assert.equal(sum, r.responses, 'status counts add up to the responses');
  assert.equal(r.latency.count, r.responses, 'one latency per response');
  const l = r.latency;
  for (const v of [l.p50Us, l.p90Us, l.p99Us, l.p999Us, l.maxUs]) assert.ok(Number.isFinite(v) && v > 0);
  assert.ok(l.p50Us <= l.p90Us && l.p90Us <= l.p99Us && l.p99Us <= l.p999Us && l.p999Us <= l.maxUs, 'percentiles are ordered');
  assert.ok(r.curve.length > 0 && r.histogram.length > 0);
}

describe('legate bench', () => {
  let server: http.Server;
  let url: string;
  let dir: string;

  before(async () => {
    dir = tempDir('legate-bench-test-');
    let n = 0;
    // Every 10th request is a 404, so there are two status codes to count.
    server = http.createServer((req, res) => {
      n++;
      res.writeHead(n % 10 === 0 ? 404 : 200, { 'content-type': 'text/plain' });
      res.end(req.method === 'POST' ? 'posted' : 'hello');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bench`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads a URL and prints the summary, the JSON and the HTML report', async () => {
    const json = path.join(dir, 'result.json');
    const html = path.join(dir, 'report.html');
    const r = await bench(['--duration', '1', '--connections', '4', '--json', json, '--html', html, url]);
    assert.equal(r.code, 0, r.stderr);
    for (const word of ['requests', 'req/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors', 'timeouts', 'status']) {
      assert.ok(r.stdout.includes(word), `summary mentions ${word}:\n${r.stdout}`);
    }
    assert.match(r.stdout, /status\s+200: [0-9,]+\s+404: [0-9,]+/);
    assert.match(r.stderr, /load \d+\/1 s/, 'progress on stderr');
    const j = JSON.parse(fs.readFileSync(json, 'utf8')) as ReportJson;
    checkReport(j, url);
    assert.ok(j.result.statusCodes['200']! > 0 && j.result.statusCodes['404']! > 0);
    assert.equal(j.result.non2xx, j.result.statusCodes['404']);
    const page = fs.readFileSync(html, 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /<svg[\s\S]*<polyline[\s\S]*<\/svg>/, 'the percentile plot is embedded');
  });

  it('--json - prints the JSON on stdout; method, header and body reach the server', async () => {
    let seen: { method?: string; header?: string; body: string } = { body: '' };
    const echo = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        seen = { method: req.method, header: req.headers['x-bench'] as string, body };
        res.end('ok');
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/`;
    try {
      const r = await bench(['-d', '500ms', '--connections', '2', '-m', 'POST', '-H', 'X-Bench: yes', '-b', 'payload', '--json', '-', '-q', echoUrl]);
      assert.equal(r.code, 0, r.stderr);
      checkReport(JSON.parse(r.stdout) as ReportJson, echoUrl);
      assert.doesNotMatch(r.stderr, /load \d/, '--quiet: no progress');
      assert.deepEqual(seen, { method: 'POST', header: 'yes', body: 'payload' });
    } finally {
      echo.closeAllConnections();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });

  it('--help explains every option and exits 0', async () => {
    const r = await bench(['--help']);
    assert.equal(r.code, 0);
    for (const opt of [
      '--config', '--url', '--concurrency', '--upstream-port', '--upstream-body-bytes', '--upstream-status', '--connections',
      '--duration', '--warmup', '--pipelining', '--rate', '--method', '--header', '--body', '--body-file', '--timeout',
      '--json', '--html', '--title', '--quiet', '--legate-log', '--start-timeout',
    ]) {
      assert.ok(r.stdout.includes(opt), `help mentions ${opt}`);
    }
    assert.match(r.stdout, /default 50/);
    assert.match(r.stdout, /Exit status/);
  });

  it('usage errors exit 2 with a message', async () => {
    const cases: [string[], RegExp][] = [
      [['--bogus', url], /unknown option '--bogus'/],
      [[], /no target/],
      [['--connections', '0', url], /--connections takes a whole number/],
      [['--duration', 'soon', url], /--duration takes a duration/],
      [['ftp://example.com/'], /must be http/],
      [['-H', 'no-colon', url], /-H takes 'Name: value'/],
      [[url, url], /one URL at a time/],
    ];
    for (const [args, re] of cases) {
      const r = await bench(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  it('exits 1 when the target cannot be reached', async () => {
    const port = await freePort();
    const r = await bench(['-d', '1', `http://127.0.0.1:${port}/`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('-c CONFIG starts Legate and the built-in upstream, loads the first listener, then stops both', async () => {
    const [port, adminPort, upstreamPort] = [await freePort(), await freePort(), await freePort()];
    const config = path.join(dir, 'bench.yaml');
    fs.writeFileSync(config, legateBootstrapYaml({ port, adminPort, upstreamPort, profile: 'minimal', accessLogPath: path.join(dir, 'access.log') }));
    const json = path.join(dir, 'legate.json');
    const r = await bench(['-c', config, '--concurrency', '1', '--upstream-port', String(upstreamPort), '-d', '1', '--connections', '4', '--json', json]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(fs.readFileSync(json, 'utf8')) as ReportJson;
    checkReport(j, `http://127.0.0.1:${port}/`);
    assert.deepEqual(Object.keys(j.result.statusCodes), ['200']);
    // Both children are gone: nothing listens on either port any more.
    for (const p of [port, upstreamPort]) {
      const probe = http.get({ host: '127.0.0.1', port: p, path: '/' });
      const ok = await new Promise<boolean>((res) => {
        probe.on('response', () => res(true));
        probe.on('error', () => res(false));
      });
      assert.equal(ok, false, `port ${p} is closed after the run`);
    }
  });
});
