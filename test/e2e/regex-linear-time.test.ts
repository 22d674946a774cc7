// End to end (security issue 9): a request crafted against a route's safe_regex no longer stalls the worker. With
// a backtracking engine, GET /api/aaa…a! against "/api/([a-z]+/?)*" kept the only worker busy for minutes and every
// other connection waited; here each request must be answered within a few seconds (a client timeout, so a
// regression fails instead of hanging). Also: header matchers and regex_rewrite, and the program-size limit in
// --mode validate with file:line:col.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LEGATE_BIN, ROOT, startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { rawExchange, startUpstream, type TestUpstream } from '../support/upstreams.ts';

/** Per request: long enough for a loaded machine, far shorter than the stall a backtracking engine causes. */
const CLIENT_TIMEOUT_MS = 5000;

function get(port: number, target: string, extraHeaders = ''): Promise<{ data: string; reset: boolean }> {
  return rawExchange(port, `GET ${target} HTTP/1.1\r\nhost: x\r\n${extraHeaders}connection: close\r\n\r\n`, CLIENT_TIMEOUT_MS);
}

function statusOf(data: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
}

describe('regexes on request data run in linear time', () => {
  let legate: LegateProcess;
  let upstream: TestUpstream;
  let port: number;

  before(async () => {
    upstream = await startUpstream('u');
    const routes = [
      { match: '{ safe_regex: { regex: "/api/([a-z]+/?)*" } }', action: 'direct_response: { status: 200, body: { inline_string: "api" } }' },
      {
        match: '{ prefix: "/hdr", headers: [{ name: x-h, string_match: { safe_regex: { regex: "([a-z]+/?)*" } } }] }',
        action: 'direct_response: { status: 200, body: { inline_string: "hdr" } }',
      },
      { match: '{ prefix: "/echo" }', action: 'route: { cluster: u, regex_rewrite: { pattern: { regex: "(a|aa)+b" }, substitution: "X" } }' },
      { match: '{ path: "/plain" }', action: 'direct_response: { status: 200, body: { inline_string: "plain" } }' },
    ];
    legate = await startLegate({
      config: bootstrap([hcmListener({ name: 'l', routes })], [cluster({ name: 'u', endpoints: [{ address: '127.0.0.1', port: upstream.port }] })]),
      concurrency: 1,
    });
    port = await legate.listenerPort('l');
  });

  after(async () => {
    // SIGKILL: after a regression the worker is still matching, and a graceful stop would wait for it.
    await legate?.stop('SIGKILL');
    await upstream?.close();
  });

  it('the finding: the pathological path gets its 404 and a plain request on the same worker is answered', async () => {
    const [evil, plain] = await Promise.all([get(port, `/api/${'a'.repeat(34)}!`), get(port, '/plain')]);
    assert.equal(statusOf(evil.data), 404, evil.data);
    assert.equal(statusOf(plain.data), 200, plain.data);
    assert.ok(plain.data.endsWith('plain'));
    // The route still matches what it should.
    const ok = await get(port, '/api/users/x/?q=1');
    assert.ok(ok.data.endsWith('api'), ok.data);
    // And a long pathological path (32 KiB) too.
    const long = await get(port, `/api/${'a'.repeat(32 * 1024)}!`);
    assert.equal(statusOf(long.data), 404);
  });

  it('a header matcher with the same regex answers a pathological header value', async () => {
    const [evil, plain] = await Promise.all([get(port, '/hdr', `x-h: ${'a'.repeat(40)}!\r\n`), get(port, '/plain')]);
    assert.equal(statusOf(evil.data), 404, evil.data);
    assert.equal(statusOf(plain.data), 200);
    const ok = await get(port, '/hdr', 'x-h: abc/def\r\n');
    assert.ok(ok.data.endsWith('hdr'), ok.data);
  });

  it('regex_rewrite searching a pathological path forwards it (unchanged when nothing matches)', async () => {
    const path1 = `/echo/${'a'.repeat(40)}`;
    const [evil, plain] = await Promise.all([get(port, path1), get(port, '/plain')]);
    assert.equal(statusOf(evil.data), 200, evil.data);
    assert.equal(statusOf(plain.data), 200);
    assert.equal(upstream.seen.at(-1)!.url, path1);
    await get(port, '/echo/aab/ab');
    assert.equal(upstream.seen.at(-1)!.url, '/echo/X/X');
  });
});

describe('the program-size limit at config time', () => {
  it('--mode validate rejects a regex over Envoy\'s default limit with file:line:col and the field path', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'big-regex.yaml');
    const regex = '/asdf/.*'.repeat(13);
    fs.writeFileSync(file, bootstrap([hcmListener({ name: 'l', routes: [{ match: `{ safe_regex: { regex: "${regex}" } }`, action: 'direct_response: { status: 200 }' }] })], []));
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(LEGATE_BIN, ['--mode', 'validate', '-c', file], { cwd: ROOT }, (err, _stdout, stderr) => {
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stderr });
      });
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /big-regex\.yaml:\d+:\d+: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.route_config\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: .*RE2 program size of \d+ > max program size of 100/);
  });
});
