// End to end: an EDS-only change (new endpoints for a CDS cluster) is applied by pushing host sets to the running
// clusters, without compiling a snapshot (the log says which path it took), while a client loop sees no failed
// request; a change to a cluster itself still takes the full path.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';
import { XdsControlPlane, TYPE_URLS, adsBootstrap, edsCluster, loadAssignment, rdsListener, routeConfig, type XdsSnapshot } from '../support/xds-control-plane.ts';

function snapshotOf(version: string, port: number, endpointPorts: number[], connectTimeout = 1): XdsSnapshot {
  const cluster = { ...edsCluster('backend'), connect_timeout: { seconds: connectTimeout } };
  return {
    version,
    resources: {
      lds: [rdsListener('ingress', port, 'r')], rds: [routeConfig('r', 'backend', 't')],
      cds: [cluster], eds: [loadAssignment('backend', endpointPorts)],
    },
  };
}

const FULL = /xds update applied: config version \d+/g;
const FAST = /xds update applied: endpoints of 'backend' pushed to the running clusters \(no snapshot compile\)/g;

describe('xds: EDS-only changes without a snapshot compile', () => {
  let cp: XdsControlPlane;
  let legate: LegateProcess;
  let a: TestUpstream;
  let b: TestUpstream;
  let port: number;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    port = await freePort();
    cp = await new XdsControlPlane().start();
    cp.setSnapshot(snapshotOf('v1', port, [a.port]));
    legate = await startLegate({ config: adsBootstrap(cp.port), concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    cp?.stop();
    a?.server.close();
    b?.server.close();
  });

  async function upstreamOf(): Promise<string | null> {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    await res.text();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return res.headers.get('x-upstream');
  }

  it('pushes new endpoints to the running cluster, with no failed request', async () => {
    assert.equal(await upstreamOf(), 'a');
    const fullBefore = (legate.stderr.match(FULL) ?? []).length;
    let failures = 0;
    let served = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        try {
          await upstreamOf();
          served++;
        } catch {
          failures++;
        }
      }
    })();
    cp.setSnapshot(snapshotOf('v2', port, [b.port]));
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.eds && q.versionInfo === 'v2' && q.errorDetail === null);
    await waitUntil(async () => (await upstreamOf()) === 'b', () => 'requests served by the new endpoint', 10_000);
    stop = true;
    await loop;
    assert.equal(failures, 0);
    assert.ok(served > 0);
    assert.equal((legate.stderr.match(FAST) ?? []).length, 1, legate.stderr);
    assert.equal((legate.stderr.match(FULL) ?? []).length, fullBefore, 'an EDS-only change compiled a snapshot');
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.backend.membership_total'), 1);
  });

  it('takes the full path when the cluster itself changes', async () => {
    const fullBefore = (legate.stderr.match(FULL) ?? []).length;
    cp.setSnapshot(snapshotOf('v3', port, [a.port], 2));
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.cds && q.versionInfo === 'v3' && q.errorDetail === null);
    await waitUntil(() => (legate.stderr.match(FULL) ?? []).length > fullBefore, () => 'a full apply in the log', 10_000);
    await waitUntil(async () => (await upstreamOf()) === 'a', () => 'requests served by the endpoint of v3', 10_000);
  });
});
