// End to end: the command line (help, validate mode, --config-yaml overlay) of the real bin/legate.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LEGATE_BIN, ROOT, tempDir, startLegate } from '../support/legate-process.ts';
import { bootstrap, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(LEGATE_BIN, args, { cwd: ROOT }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('legate command line', () => {
  it('--help lists every option', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const opt of ['--config-path', '--config-yaml', '--mode', '--concurrency', '--log-level', '--drain-time-s']) {
      assert.ok(r.stdout.includes(opt), `help mentions ${opt}`);
    }
  });

  it('an unknown option is a usage error', async () => {
    const r = await run(['--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--bogus'/);
  });

  it('--mode validate accepts every example config in config/', async () => {
    const dir = path.join(ROOT, 'config');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.json'));
    assert.ok(files.length >= 3, 'config/ holds the demo and annotated examples');
    for (const f of files) {
      const r = await run(['--mode', 'validate', '-c', path.join(dir, f)]);
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.match(r.stdout, /OK/);
    }
  });

  it('--mode validate rejects a bad config with file:line:col and the field path, binding nothing', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, bootstrap([hcmListener({ name: 'l', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: nowhere }' }] })], []));
    const r = await run(['--mode', 'validate', '-c', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`bad\\.yaml:\\d+:\\d+: static_resources\\.listeners\\[0\\]\\.filter_chains\\[0\\]\\.filters\\[0\\]\\.typed_config\\.route_config\\.virtual_hosts\\[0\\]\\.routes\\[0\\]\\.route\\.cluster`));
    assert.match(r.stderr, /nowhere/);
  });

  it('--config-yaml is merged over the file (a listener added, a field overridden)', async () => {
    const base = bootstrap([hcmListener({ name: 'one', routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200, body: { inline_string: "one" } }' }] })], []);
    const overlay = `static_resources:
  listeners:
${hcmListener({ name: 'two', routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 201, body: { inline_string: "two" } }' }] })}`;
    const legate = await startLegate({ config: base, args: ['--config-yaml', overlay], concurrency: 1 });
    const port = await legate.listenerPort('one');
    const port2 = await legate.listenerPort('two');
    try {
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'one');
      const two = await curl([`http://127.0.0.1:${port2}/`]);
      assert.equal(two.status, 201);
      assert.equal(two.body, 'two');
    } finally {
      await legate.stop();
    }
  });
});
