// End to end: a dead worker is replaced; SIGTERM drains in-flight requests and exits 0.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('process lifecycle', () => {
  it('replaces a worker that dies and keeps serving', async () => {
    const up = await startUpstream('backend');
    const legate = await startLegate({
      concurrency: 2,
      config: bootstrap([hcmListener({ name: 'l', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }] })],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
    });
    const port = await legate.listenerPort('l');
    try {
      const from = legate.stderr.length;
      legate.proc.kill('SIGUSR2'); // test hook: worker 0 throws
      await legate.waitForLog(/worker 0 exited \(code \d+\); starting a replacement/, 10_000, from);
      for (let i = 0; i < 20; i++) {
        const r = await curl([`http://127.0.0.1:${port}/`]);
        assert.equal(r.status, 200);
      }
      const stats = await legate.statsMap();
      assert.equal(stats.get('server.worker_restarts'), 1);
    } finally {
      await legate.stop();
      await up.close();
    }
  });

  it('on SIGTERM stops accepting, lets the request in flight finish, and exits 0', async () => {
    const up = await startUpstream('backend');
    const legate = await startLegate({
      concurrency: 1,
      config: bootstrap([hcmListener({ name: 'l', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }] })],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
    });
    const port = await legate.listenerPort('l');
    try {
      const inflight = curl([`http://127.0.0.1:${port}/delay/800`]);
      await new Promise((r) => setTimeout(r, 200));
      legate.proc.kill('SIGTERM');
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(r.body, 'late');
      assert.equal(await legate.waitExit(), 0);
      const after = await curl([`http://127.0.0.1:${port}/`]);
      assert.notEqual(after.exitCode, 0, 'nothing listens after exit');
    } finally {
      await legate.stop();
      await up.close();
    }
  });
});
