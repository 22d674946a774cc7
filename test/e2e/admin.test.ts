// End to end: the admin server of a real Legate (endpoints, POST-only rules, health check, drain, quit).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('admin', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream('backend');
    legate = await startLegate({
      concurrency: 2,
      config: bootstrap([hcmListener({ name: 'web', statPrefix: 'web', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }] })],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
    });
    port = await legate.listenerPort('web');
    for (let i = 0; i < 5; i++) await curl([`http://127.0.0.1:${port}/`]);
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('/ready says LIVE', async () => {
    const r = await legate.admin('/ready');
    assert.equal(r.status, 200);
    assert.match(r.body, /LIVE/);
  });

  it('/server_info reports state, concurrency and uptime', async () => {
    const r = await legate.admin('/server_info');
    assert.equal(r.status, 200);
    const info = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(info['state'], 'LIVE');
    assert.equal((info['command_line_options'] as Record<string, unknown>)['concurrency'], 2);
  });

  it('/stats in text, with filter and usedonly', async () => {
    const r = await legate.admin('/stats?filter=^cluster\\.backend\\.upstream_rq_total$');
    assert.equal(r.body.trim(), 'cluster.backend.upstream_rq_total: 5');
    const used = await legate.admin('/stats?usedonly');
    assert.ok(!/: 0$/m.test(used.body.split('\n').filter((l) => !l.includes('P0(')).join('\n')), 'usedonly hides zero stats');
  });

  it('/clusters lists hosts with their counters', async () => {
    const r = await legate.admin('/clusters');
    assert.match(r.body, new RegExp(`backend::127\\.0\\.0\\.1:${up.port}::rq_total::5`));
    assert.match(r.body, new RegExp(`backend::127\\.0\\.0\\.1:${up.port}::health_flags::healthy`));
  });

  it('/listeners and /config_dump describe the running config', async () => {
    const l = await legate.admin('/listeners');
    assert.match(l.body, new RegExp(`web::127\\.0\\.0\\.1:${port}`));
    const dump = JSON.parse((await legate.admin('/config_dump')).body) as { configs: { '@type': string }[] };
    const types = dump.configs.map((c) => c['@type']);
    assert.ok(types.some((t) => t.endsWith('BootstrapConfigDump')));
    assert.ok(types.some((t) => t.endsWith('ClustersConfigDump')));
    assert.ok(types.some((t) => t.endsWith('ListenersConfigDump')));
  });

  it('mutating endpoints need POST', async () => {
    for (const p of ['/healthcheck/fail', '/healthcheck/ok', '/quitquitquit', '/drain_listeners']) {
      const r = await legate.admin(p);
      assert.equal(r.status, 405, `${p} by GET`);
    }
  });

  it('/healthcheck/fail and /healthcheck/ok flip readiness', async () => {
    assert.equal((await legate.admin('/healthcheck/fail', { method: 'POST' })).status, 200);
    assert.equal((await legate.admin('/ready')).status, 503);
    assert.equal((await legate.admin('/healthcheck/ok', { method: 'POST' })).status, 200);
    assert.equal((await legate.admin('/ready')).status, 200);
  });

  it('/drain_listeners stops accepting and /quitquitquit exits cleanly', async () => {
    assert.equal((await legate.admin('/drain_listeners', { method: 'POST' })).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    const refused = await curl([`http://127.0.0.1:${port}/`]);
    assert.notEqual(refused.status, 200);
    assert.equal((await legate.admin('/quitquitquit', { method: 'POST' })).status, 200);
    assert.equal(await legate.waitExit(), 0);
  });
});
