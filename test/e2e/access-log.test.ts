// End to end: access logs written by the workers, in Envoy's formats, to a file and to stdout.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, tempDir, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

interface Logged {
  legate: LegateProcess;
  up: TestUpstream;
  port: number;
  close(): Promise<void>;
}

/**
 * An upstream, and Legate with one listener `name` whose connection manager writes `accessLog` (its access_log
 * list, 10-space indent) and routes /none to a cluster that refuses connections, `okPrefix` to the upstream.
 */
async function startLogged(name: string, opts: { concurrency: number; okPrefix: string; accessLog: string }): Promise<Logged> {
  const up = await startUpstream('backend');
  const listener = hcmListener({
    name,
    routes: [
      { match: '{ prefix: "/none" }', action: 'route: { cluster: refused }' },
      { match: `{ prefix: "${opts.okPrefix}" }`, action: 'route: { cluster: backend }' },
    ],
    hcmExtra: `          access_log:\n${opts.accessLog}`,
  });
  const legate = await startLegate({
    concurrency: opts.concurrency,
    config: bootstrap([listener], [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
      cluster({ name: 'refused', endpoints: [{ address: '127.0.0.1', port: await unusedPort() }] }),
    ]),
  });
  const port = await legate.listenerPort(name);
  return {
    legate, up, port,
    async close() {
      await legate.stop();
      await up.close();
    },
  };
}

/** One envoy.access_loggers.file entry of an access_log list, with `fields` (14-space indent) after its path. */
function fileLogger(file: string, fields: string, filter = ''): string {
  return `          - name: envoy.access_loggers.file
${filter === '' ? '' : `            filter: ${filter}\n`}            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${file}
${fields}`;
}

describe('access logs', () => {
  it('writes custom text and JSON formats with response flags, from every worker, losing nothing', async () => {
    const dir = tempDir();
    const textLog = path.join(dir, 'access.log');
    const jsonLog = path.join(dir, 'access.json');
    const s = await startLogged('logged', {
      concurrency: 2,
      okPrefix: '/',
      accessLog: fileLogger(textLog, `              log_format:
                text_format_source:
                  inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %BYTES_SENT%\\n"
`) + fileLogger(jsonLog, `              log_format:
                json_format: { status: "%RESPONSE_CODE%", path: "%REQ(:PATH)%", flags: "%RESPONSE_FLAGS%" }
`),
    });
    const { legate, port } = s;
    try {
      const n = 40;
      await Promise.all(Array.from({ length: n }, (_, i) => curl([`http://127.0.0.1:${port}/bytes/${i + 1}`])));
      const uf = await curl([`http://127.0.0.1:${port}/none`]);
      assert.equal(uf.status, 503);
      await legate.stop(); // a clean stop flushes the buffered logs
      const lines = fs.readFileSync(textLog, 'utf8').trim().split('\n');
      assert.equal(lines.length, n + 1);
      for (let i = 1; i <= n; i++) assert.ok(lines.includes(`GET /bytes/${i} 200 - backend ${i}`), `line for /bytes/${i}`);
      assert.ok(lines.some((l) => /^GET \/none 503 UF refused \d+$/.test(l)), lines.join('\n'));
      const json = fs.readFileSync(jsonLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(json.length, n + 1);
      assert.ok(json.some((j) => j['status'] === 503 && j['flags'] === 'UF' && j['path'] === '/none'));
    } finally {
      await s.close();
    }
  });

  it('AccessLog.filter: only the requests it passes are logged (status code, header, response flags, and/or)', async () => {
    const dir = tempDir();
    const errors = path.join(dir, 'errors.log');
    const tagged = path.join(dir, 'tagged.log');
    const logger = (file: string, filter: string): string => fileLogger(file, `              log_format: { text_format: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n" }
`, filter);
    const s = await startLogged('filtered', {
      concurrency: 1,
      okPrefix: '/ok',
      accessLog: logger(errors, '{ or_filter: { filters: [{ status_code_filter: { comparison: { op: GE, value: { default_value: 500, runtime_key: a } } } }, { response_flag_filter: { flags: [NR] } }] } }')
        + logger(tagged, '{ and_filter: { filters: [{ header_filter: { header: { name: x-log, present_match: true } } }, { duration_filter: { comparison: { op: GE, value: { default_value: 0, runtime_key: d } } } }] } }'),
    });
    const { legate, port } = s;
    try {
      assert.equal((await curl([`http://127.0.0.1:${port}/ok/plain`])).status, 200);
      assert.equal((await curl(['-H', 'x-log: 1', `http://127.0.0.1:${port}/ok/tagged`])).status, 200);
      assert.equal((await curl([`http://127.0.0.1:${port}/none`])).status, 503);
      assert.equal((await curl([`http://127.0.0.1:${port}/nowhere`])).status, 404);
      await legate.stop(); // a clean stop flushes the buffered logs
      assert.deepEqual(fs.readFileSync(errors, 'utf8').trim().split('\n').sort(), ['/none 503 UF', '/nowhere 404 NR']);
      assert.deepEqual(fs.readFileSync(tagged, 'utf8').trim().split('\n'), ['/ok/tagged 200 -']);
    } finally {
      await s.close();
    }
  });
});
