// End to end: the same control plane over incremental (delta) ADS, DeltaAggregatedResources: subscriptions by
// name, removed_resources, ACK/NACK by nonce, initial_resource_versions when the stream comes back.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';
import { XdsControlPlane, TYPE_URLS, adsBootstrap, edsCluster, loadAssignment, rdsListener, routeConfig, type XdsSnapshot } from '../support/xds-control-plane.ts';

async function get(port: number): Promise<{ status: number; tag: string | null; upstream: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return { status: res.status, tag: res.headers.get('x-route-tag'), upstream: res.headers.get('x-upstream') };
}

function snapshotOf(version: string, port: number, tag: string, endpointPorts: number[], withOther = true): XdsSnapshot {
  return {
    version,
    resources: {
      lds: [rdsListener('ingress', port, 'local_route')],
      rds: [routeConfig('local_route', 'backend', tag)],
      cds: withOther ? [edsCluster('backend'), edsCluster('other')] : [edsCluster('backend')],
      eds: [loadAssignment('backend', endpointPorts), loadAssignment('other', endpointPorts)],
    },
  };
}

describe('xds: delta ADS', () => {
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
    cp.setSnapshot(snapshotOf('v1', port, 'v1', [a.port]));
    legate = await startLegate({ config: adsBootstrap(cp.port, { delta: true, setNodeOnFirstMessageOnly: true }), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    cp?.stop();
    a?.server.close();
    b?.server.close();
  });

  it('serves from delta resources; subscribes by name, ACKs by nonce, sends the node once', async () => {
    const r = await get(port);
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
    assert.equal(r.tag, 'v1');
    assert.ok(cp.requests.every((q) => q.delta));
    assert.equal(cp.requests[0]!.node?.['id'], 'legate-test');
    assert.ok(cp.requests.slice(1).every((q) => q.node === null), 'set_node_on_first_message_only');
    const cds = cp.requests.find((q) => q.typeUrl === TYPE_URLS.cds)!;
    assert.deepEqual(cds.subscribe, [], 'CDS is wildcard');
    const rds = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.rds && q.subscribe.length > 0);
    assert.deepEqual(rds.subscribe, ['local_route']);
    const eds = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.eds && q.subscribe.length > 0);
    assert.deepEqual(eds.subscribe.sort(), ['backend', 'other']);
    for (const t of Object.values(TYPE_URLS)) await cp.waitForRequest((q) => q.typeUrl === t && q.responseNonce !== '' && q.errorDetail === null);
  });

  it('follows removed resources and changed endpoints; unsubscribes what is no longer referenced', async () => {
    const from = cp.requests.length;
    cp.setSnapshot(snapshotOf('v2', port, 'v2', [b.port], false));
    await waitUntil(async () => {
      const r = await get(port);
      return r.tag === 'v2' && r.upstream === 'b';
    }, () => 'v2 never served');
    const unsub = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.eds && q.unsubscribe.includes('other'), 20_000, from);
    assert.deepEqual(unsub.subscribe, []);
    const clusters = await legate.admin('/clusters');
    assert.doesNotMatch(clusters.body, /^other::/m);
  });

  it('NACKs a bad resource with error_detail, keeps the last good config', async () => {
    const from = cp.requests.length;
    const bad = snapshotOf('v3', port, 'v2', [b.port], false);
    (bad.resources.lds![0] as Record<string, unknown>)['freebind'] = { value: true };
    cp.setSnapshot(bad);
    const nack = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.lds && q.errorDetail !== null, 20_000, from);
    assert.match(nack.errorDetail!.message, /^Listener 'ingress' freebind: not supported yet/m);
    assert.equal((await get(port)).status, 200);
    assert.equal((await legate.statsMap()).get('listener_manager.lds.update_rejected'), 1);
  });

  it('resumes after the control plane restarts, sending initial_resource_versions', async () => {
    const xdsPort = cp.port;
    cp.stop();
    await waitUntil(async () => (await legate.statsMap()).get('control_plane.connected_state') === 0, () => 'still connected');
    cp = await new XdsControlPlane().start(xdsPort);
    cp.setSnapshot(snapshotOf('v4', port, 'v4', [a.port], false));
    await waitUntil(async () => {
      const r = await get(port);
      return r.tag === 'v4' && r.upstream === 'a';
    }, () => 'v4 never served', 30_000);
    const cds = cp.requests.find((q) => q.typeUrl === TYPE_URLS.cds)!;
    assert.deepEqual(Object.keys(cds.initialVersions), ['backend']);
    const rds = cp.requests.find((q) => q.typeUrl === TYPE_URLS.rds)!;
    assert.deepEqual(rds.subscribe, ['local_route']);
    assert.deepEqual(Object.keys(rds.initialVersions), ['local_route']);
  });
});
