// End to end: access logs written by the workers, in Envoy's formats, to a file and to stdout.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, tempDir, unusedPort } from '../support/legate-process.ts';
import { bootstrap, cluster } from '../support/config-builder.ts';
import { startUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('access logs', () => {
  it('writes custom text and JSON formats with response flags, from every worker, losing nothing', async () => {
    const up = await startUpstream('backend');
    const dir = tempDir();
    const textLog = path.join(dir, 'access.log');
    const jsonLog = path.join(dir, 'access.json');
    const listener = `  - name: logged
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: logged
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${textLog}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %BYTES_SENT%\\n"
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${jsonLog}
              log_format:
                json_format: { status: "%RESPONSE_CODE%", path: "%REQ(:PATH)%", flags: "%RESPONSE_FLAGS%" }
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/none" }
                route: { cluster: refused }
              - match: { prefix: "/" }
                route: { cluster: backend }
          http_filters:
          - name: envoy.filters.http.router
`;
    const legate = await startLegate({
      concurrency: 2,
      config: bootstrap([listener], [
        cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
        cluster({ name: 'refused', endpoints: [{ address: '127.0.0.1', port: await unusedPort() }] }),
      ]),
    });
    const port = await legate.listenerPort('logged');
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
      await legate.stop();
      await up.close();
    }
  });

  it('AccessLog.filter: only the requests it passes are logged (status code, header, response flags, and/or)', async () => {
    const up = await startUpstream('backend');
    const dir = tempDir();
    const errors = path.join(dir, 'errors.log');
    const tagged = path.join(dir, 'tagged.log');
    const logger = (file: string, filter: string): string => `          - name: envoy.access_loggers.file
            filter: ${filter}
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${file}
              log_format: { text_format: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n" }
`;
    const listener = `  - name: filtered
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: filtered
          access_log:
${logger(errors, '{ or_filter: { filters: [{ status_code_filter: { comparison: { op: GE, value: { default_value: 500, runtime_key: a } } } }, { response_flag_filter: { flags: [NR] } }] } }')}${logger(tagged, '{ and_filter: { filters: [{ header_filter: { header: { name: x-log, present_match: true } } }, { duration_filter: { comparison: { op: GE, value: { default_value: 0, runtime_key: d } } } }] } }')}          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/none" }
                route: { cluster: refused }
              - match: { prefix: "/ok" }
                route: { cluster: backend }
          http_filters:
          - name: envoy.filters.http.router
`;
    const legate = await startLegate({
      concurrency: 1,
      config: bootstrap([listener], [
        cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
        cluster({ name: 'refused', endpoints: [{ address: '127.0.0.1', port: await unusedPort() }] }),
      ]),
    });
    const port = await legate.listenerPort('filtered');
    try {
      assert.equal((await curl([`http://127.0.0.1:${port}/ok/plain`])).status, 200);
      assert.equal((await curl(['-H', 'x-log: 1', `http://127.0.0.1:${port}/ok/tagged`])).status, 200);
      assert.equal((await curl([`http://127.0.0.1:${port}/none`])).status, 503);
      assert.equal((await curl([`http://127.0.0.1:${port}/nowhere`])).status, 404);
      await legate.stop(); // a clean stop flushes the buffered logs
      assert.deepEqual(fs.readFileSync(errors, 'utf8').trim().split('\n').sort(), ['/none 503 UF', '/nowhere 404 NR']);
      assert.deepEqual(fs.readFileSync(tagged, 'utf8').trim().split('\n'), ['/ok/tagged 200 -']);
    } finally {
      await legate.stop();
      await up.close();
    }
  });
});
