// End to end: envoy.filters.http.health_check through bin/legate (one worker: the pass-through cache is per worker)
// with a real upstream: health checks answered locally, /healthcheck/fail on the admin turning them into 503 LH and
// marking other responses with x-envoy-immediate-health-check-fail, pass-through mode and its cache, the cluster
// health rule (cluster_min_healthy_percentages), details in the access log and http.<prefix>.health_check.* stats.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, type CurlResult } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

const HC = 'type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck';

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

describe('health_check filter', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let logPath: string;
  const base: Record<string, string> = {};

  before(async () => {
    up = await startUpstream('hc');
    logPath = path.join(tempDir(), 'access.log');
    const accessLog = `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%REQ(HOST)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n" }
`;
    const listeners: string[] = [];
    const add = async (name: string, fields: string): Promise<void> => {
      const port = await freePort();
      base[name] = `http://127.0.0.1:${port}`;
      listeners.push(hcmListener({ name, port, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }], hcmExtra: accessLog, httpFilters: filter('hc', HC, fields) }));
    };
    const healthz = '              headers: [{ name: ":path", string_match: { exact: "/healthz" } }]\n';
    await add('local', `              pass_through_mode: false\n${healthz}`);
    await add('pass', `              pass_through_mode: true\n              cache_time: 3600s\n${healthz}`);
    await add('healthy', `              pass_through_mode: false\n${healthz}              cluster_min_healthy_percentages: { backend: { value: 100 } }\n`);
    await add('sick', `              pass_through_mode: false\n${healthz}              cluster_min_healthy_percentages: { backend: { value: 100 }, sick: { value: 50 } }\n`);
    await add('nosuch', `              pass_through_mode: false\n${healthz}              cluster_min_healthy_percentages: { nosuch: { value: 1 } }\n`);
    const sick = cluster({ name: 'sick', endpoints: [{ address: '127.0.0.1', port: up.port }] })
      .replace('        - endpoint:\n', '        - health_status: UNHEALTHY\n          endpoint:\n');
    const clusters = [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }), sick];
    legate = await startLegate({ config: bootstrap(listeners, clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    fs.rmSync(path.dirname(logPath), { recursive: true, force: true });
  });

  /** The access log line of the request sent with `host: <tag>`. */
  async function logLine(tag: string): Promise<string> {
    const re = new RegExp(`^${tag} .*$`, 'm');
    await waitUntil(() => fs.existsSync(logPath) && re.test(fs.readFileSync(logPath, 'utf8')), () => `${tag} in the access log`);
    return re.exec(fs.readFileSync(logPath, 'utf8'))![0];
  }

  function seen(url: string): number {
    return up.seen.filter((s) => s.url === url).length;
  }

  it('answers a health check locally with 200 (health_check_ok); other requests go upstream', async () => {
    const r = await curl([`${base['local']}/healthz`, '-H', 'host: t1']);
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.equal(seen('/healthz'), 0);
    assert.equal(await logLine('t1'), 't1 /healthz 200 - health_check_ok');
    const other = await curl([`${base['local']}/app`]);
    assert.equal(other.status, 200);
    assert.equal(header(other, 'x-envoy-immediate-health-check-fail'), undefined);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.local.health_check.request_total'), 1);
    assert.equal(stats.get('http.local.health_check.ok'), 1);
  });

  it('pass-through mode forwards a health check and then answers from its cache (health_check_cached)', async () => {
    const first = await curl([`${base['pass']}/healthz`, '-H', 'host: t2']);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'hello from hc');
    const second = await curl([`${base['pass']}/healthz`, '-H', 'host: t3']);
    assert.equal(second.status, 200);
    assert.equal(second.body, '');
    assert.equal(seen('/healthz'), 1);
    assert.equal(await logLine('t3'), 't3 /healthz 200 - health_check_cached');
    assert.equal((await legate.statsMap()).get('http.pass.health_check.cached_response'), 1);
  });

  it('cluster_min_healthy_percentages: 503 LH when a cluster has too few healthy hosts or does not exist', async () => {
    assert.equal((await curl([`${base['healthy']}/healthz`, '-H', 'host: t4'])).status, 200);
    assert.equal(await logLine('t4'), 't4 /healthz 200 - health_check_ok_cluster_healthy');
    assert.equal((await curl([`${base['sick']}/healthz`, '-H', 'host: t5'])).status, 503);
    assert.equal(await logLine('t5'), 't5 /healthz 503 LH health_check_failed_cluster_unhealthy');
    assert.equal((await curl([`${base['nosuch']}/healthz`, '-H', 'host: t6'])).status, 503);
    assert.equal(await logLine('t6'), 't6 /healthz 503 LH health_check_failed_no_cluster_found');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.sick.health_check.failed_cluster_unhealthy'), 1);
    assert.equal(stats.get('http.nosuch.health_check.failed_cluster_not_found'), 1);
  });

  it('after POST /healthcheck/fail: 503 LH (also in pass-through mode), x-envoy-immediate-health-check-fail elsewhere; /healthcheck/ok undoes it', async () => {
    assert.equal((await legate.admin('/healthcheck/fail', { method: 'POST' })).status, 200);
    try {
      const r = await curl([`${base['local']}/healthz`, '-H', 'host: t7']);
      assert.equal(r.status, 503);
      assert.equal(await logLine('t7'), 't7 /healthz 503 LH health_check_failed');
      const before = seen('/healthz');
      const p = await curl([`${base['pass']}/healthz`, '-H', 'host: t8']);
      assert.equal(p.status, 503);
      assert.equal(seen('/healthz'), before);
      const other = await curl([`${base['local']}/app`]);
      assert.equal(other.status, 200);
      assert.equal(header(other, 'x-envoy-immediate-health-check-fail'), 'true');
      assert.equal((await legate.statsMap()).get('http.local.health_check.failed'), 1);
    } finally {
      assert.equal((await legate.admin('/healthcheck/ok', { method: 'POST' })).status, 200);
    }
    const r = await curl([`${base['local']}/healthz`]);
    assert.equal(r.status, 200);
    const other = await curl([`${base['local']}/app`]);
    assert.equal(header(other, 'x-envoy-immediate-health-check-fail'), undefined);
  });
});

describe('health_check filter: config checks', () => {
  it('refuses cache_time without pass_through_mode, with its path', async () => {
    const port = await freePort();
    const listener = hcmListener({ name: 'bad', port, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }], httpFilters: filter('hc', HC, `              pass_through_mode: false
              cache_time: 5s
`) });
    const legate = await startLegate({ config: bootstrap([listener], []), concurrency: 1, waitReady: false });
    const code = await Promise.race([legate.waitExit(), new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
    if (code === -1) await legate.stop('SIGKILL');
    assert.notEqual(code, 0);
    assert.match(legate.stderr, /http_filters\[0\]\.typed_config\.cache_time: cache_time is only valid in pass_through_mode/);
  });
});
