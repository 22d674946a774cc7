// End to end: warming and start-up as Envoy's init manager does them. A listener whose route table has not arrived
// is not applied until it does; a control plane that is not there at start-up delays serving only for
// initial_fetch_timeout, then Legate starts with what it has and takes the control plane's resources when it comes.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';
import { XdsControlPlane, TYPE_URLS, adsBootstrap, edsCluster, loadAssignment, rdsListener, routeConfig } from '../support/xds-control-plane.ts';

async function status(port: number): Promise<number | string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    await res.text();
    return res.status;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('xds: warming and initial_fetch_timeout', () => {
  let cp: XdsControlPlane | undefined;
  let legate: LegateProcess | undefined;
  let up: TestUpstream | undefined;

  after(async () => {
    await legate?.stop();
    cp?.stop();
    up?.server.close();
  });

  it('starts after initial_fetch_timeout without a control plane, then follows it once it is there', async () => {
    up = await startUpstream('a');
    const xdsPort = await freePort();
    const port = await freePort();
    legate = await startLegate({ config: adsBootstrap(xdsPort, { initialFetchTimeout: '1s' }), concurrency: 1 });
    const stats = await legate.statsMap();
    assert.equal(stats.get('control_plane.connected_state'), 0);
    assert.equal(stats.get('listener_manager.lds.init_fetch_timeout'), 1);
    assert.notEqual(await status(port), 200);

    // The control plane comes: a listener whose route table is not there yet is held (warming) ...
    cp = await new XdsControlPlane().start(xdsPort);
    cp.setSnapshot({
      version: 'w1',
      resources: { lds: [rdsListener('ingress', port, 'late_route')], cds: [edsCluster('backend')], eds: [loadAssignment('backend', [up.port])] },
    });
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.rds && q.resourceNames.includes('late_route'), 30_000);
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.lds && q.versionInfo === 'w1', 30_000);
    assert.notEqual(await status(port), 200, 'the listener waits for its route table');
    // ... and applied when the route table arrives.
    cp.setSnapshot({
      version: 'w2',
      resources: {
        lds: [rdsListener('ingress', port, 'late_route')], rds: [routeConfig('late_route', 'backend', 'w2')],
        cds: [edsCluster('backend')], eds: [loadAssignment('backend', [up.port])],
      },
    });
    await waitUntil(async () => (await status(port)) === 200, () => 'never served', 30_000);
  });
});
