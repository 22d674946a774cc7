// End to end: Legate bootstrapped only with dynamic_resources, steered by a real gRPC control plane
// (test/support/xds-control-plane.ts) over state-of-the-world ADS: LDS+RDS+CDS+EDS to a first request, updates
// followed with a client loop that sees no failure, NACKs with a readable error_detail while the last good config
// serves, a control plane that restarts, stats under Envoy's names.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';
import { XdsControlPlane, TYPE_URLS, adsBootstrap, edsCluster, loadAssignment, rdsListener, routeConfig, type XdsSnapshot } from '../support/xds-control-plane.ts';

async function get(port: number, path = '/'): Promise<{ status: number; body: string; tag: string | null; upstream: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text(), tag: res.headers.get('x-route-tag'), upstream: res.headers.get('x-upstream') };
}

function snapshotOf(version: string, port: number, tag: string, endpointPorts: number[], cluster = 'backend'): XdsSnapshot {
  return {
    version,
    resources: {
      lds: [rdsListener('ingress', port, 'local_route')],
      rds: [routeConfig('local_route', cluster, tag)],
      cds: [edsCluster('backend'), edsCluster('other', 'other_service')],
      eds: [loadAssignment('backend', endpointPorts), loadAssignment('other_service', endpointPorts)],
    },
  };
}

describe('xds: state-of-the-world ADS', () => {
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
    legate = await startLegate({ config: adsBootstrap(cp.port), concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    cp?.stop();
    a?.server.close();
    b?.server.close();
  });

  it('serves a request routed from LDS+RDS+CDS+EDS, with the node and subscriptions Envoy sends', async () => {
    const r = await get(port);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.upstream, 'a');
    assert.equal(r.tag, 'v1');
    const first = cp.requests[0]!;
    assert.equal(first.node?.['id'], 'legate-test');
    assert.equal(first.node?.['cluster'], 'test-cluster');
    assert.equal(first.node?.['user_agent_name'], 'legate');
    assert.deepEqual(first.node?.['locality'], { region: 'r1', zone: 'z1' });
    const md = (first.node?.['metadata'] as { fields: Record<string, Record<string, unknown>> }).fields;
    assert.equal(md['team']!['stringValue'], 'edge');
    assert.deepEqual(md['shards']!['listValue'], { values: [{ numberValue: 1 }, { numberValue: 2 }] });
    // RDS and EDS ask for the names LDS and CDS reference; each is ACKed with the version and the nonce.
    const rds = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.rds && q.resourceNames.includes('local_route'));
    assert.deepEqual(rds.resourceNames, ['local_route']);
    const eds = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.eds && q.resourceNames.length === 2);
    assert.deepEqual(eds.resourceNames, ['backend', 'other_service']);
    for (const t of Object.values(TYPE_URLS)) {
      await cp.waitForRequest((q) => q.typeUrl === t && q.versionInfo === 'v1' && q.responseNonce !== '' && q.errorDetail === null);
    }
    const stats = await legate.statsMap();
    assert.equal(stats.get('control_plane.connected_state'), 1);
    assert.equal(stats.get('listener_manager.lds.update_success'), 1);
    assert.equal(stats.get('cluster_manager.cds.update_success'), 1);
    assert.equal(stats.get('http.ingress.rds.local_route.update_success'), 1);
    assert.ok((stats.get('cluster.backend.update_success') ?? 0) >= 1);
  });

  it('shows the dynamic resources in /config_dump with version_info and last_updated', async () => {
    const { body } = await legate.admin('/config_dump?include_eds');
    const configs = (JSON.parse(body) as { configs: Record<string, any>[] }).configs;
    const byType = (t: string): Record<string, any> => configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`)!;
    const listeners = byType('ListenersConfigDump');
    assert.equal(listeners['version_info'], 'v1');
    assert.equal(listeners['dynamic_listeners'][0].name, 'ingress');
    assert.equal(listeners['dynamic_listeners'][0].active_state.version_info, 'v1');
    assert.equal(listeners['dynamic_listeners'][0].active_state.listener.name, 'ingress');
    assert.match(listeners['dynamic_listeners'][0].active_state.last_updated, /^\d{4}-\d\d-\d\dT/);
    const clusters = byType('ClustersConfigDump');
    assert.deepEqual(clusters['static_clusters'].map((c: any) => c.cluster.name), ['xds_cluster']);
    assert.deepEqual(clusters['dynamic_active_clusters'].map((c: any) => c.cluster.name), ['backend', 'other']);
    assert.equal(byType('RoutesConfigDump')['dynamic_route_configs'][0].route_config.name, 'local_route');
    const eds = byType('EndpointsConfigDump');
    assert.deepEqual(eds['dynamic_endpoint_configs'].map((e: any) => e.endpoint_config.cluster_name).sort(), ['backend', 'other_service']);
  });

  it('follows a route change and a new endpoint with no failed request', async () => {
    let failures: string[] = [];
    let running = true;
    const seen = new Set<string>();
    const loop = (async () => {
      while (running) {
        try {
          const r = await get(port);
          if (r.status !== 200) failures.push(`status ${r.status}: ${r.body}`);
          seen.add(`${r.tag}/${r.upstream}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    cp.setSnapshot(snapshotOf('v2', port, 'v2', [a.port, b.port]));
    try {
      await waitUntil(() => seen.has('v2/b') && seen.has('v2/a'), () => `seen: ${[...seen].join(' ')}`, 20_000);
    } finally {
      running = false;
      await loop;
    }
    assert.deepEqual(failures, []);
    failures = [];
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.eds && q.versionInfo === 'v2' && q.errorDetail === null);
  });

  it('NACKs a bad resource with a readable error_detail and keeps serving the last good config', async (t) => {
    const from = cp.requests.length;
    const bad = snapshotOf('v3', port, 'v3', [a.port, b.port]);
    (bad.resources.lds![0] as Record<string, unknown>)['freebind'] = { value: true };
    // A valid listener in the same response is taken, as Envoy takes the valid listeners of a refused LDS update.
    const extraPort = await freePort();
    bad.resources.lds!.push(rdsListener('extra', extraPort, 'local_route'));
    bad.resources.cds = [edsCluster('backend'), { ...edsCluster('other', 'other_service'), lb_policy: 'CLUSTER_PROVIDED' }];
    cp.setSnapshot(bad);
    const ldsNack = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.lds && q.errorDetail !== null, 20_000, from);
    assert.equal(ldsNack.versionInfo, 'v2', 'a NACK carries the last accepted version');
    assert.equal(ldsNack.errorDetail!.code, 3);
    assert.match(ldsNack.errorDetail!.message, /^Listener 'ingress' freebind: not supported yet/m);
    const cdsNack = await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.cds && q.errorDetail !== null, 20_000, from);
    assert.equal(cdsNack.versionInfo, 'v2');
    assert.match(cdsNack.errorDetail!.message, /^Cluster 'other' lb_policy: .*CLUSTER_PROVIDED/m);
    t.diagnostic(`LDS NACK: ${ldsNack.errorDetail!.message}`);
    t.diagnostic(`CDS NACK: ${cdsNack.errorDetail!.message}`);
    // The route table of v3 is valid and referenced: it is taken; the listener and clusters stay as in v2.
    await waitUntil(async () => (await get(port)).tag === 'v3', () => 'the v3 route table was not applied');
    await waitUntil(async () => (await get(extraPort).catch(() => ({ status: 0 }))).status === 200, () => 'the valid listener of v3 was not taken');
    // /config_dump: the refused resources' error_state beside what keeps serving.
    const configs = (JSON.parse((await legate.admin('/config_dump')).body) as { configs: Record<string, any>[] }).configs;
    const listener = configs.find((c) => c['@type'].endsWith('ListenersConfigDump'))!['dynamic_listeners'].find((l: any) => l.name === 'ingress');
    assert.equal(listener.active_state.version_info, 'v2');
    assert.equal(listener.client_status, 'NACKED');
    assert.equal(listener.error_state.version_info, 'v3');
    assert.match(listener.error_state.details, /^Listener 'ingress' freebind: not supported yet$/);
    assert.equal(listener.error_state.failed_configuration.freebind, true);
    const other = configs.find((c) => c['@type'].endsWith('ClustersConfigDump'))!['dynamic_active_clusters'].find((c: any) => c.cluster.name === 'other');
    assert.match(other.error_state.details, /CLUSTER_PROVIDED/);
    assert.equal(other.version_info, 'v2');
    const stats = await legate.statsMap();
    assert.equal(stats.get('listener_manager.lds.update_rejected'), 1);
    assert.equal(stats.get('cluster_manager.cds.update_rejected'), 1);
    assert.equal(stats.get('listener_manager.lds.update_success'), 2, 'v1 and v2');
  });

  it('keeps serving when the control plane goes away, then resumes with the versions it holds', async () => {
    const xdsPort = cp.port;
    cp.stop();
    await waitUntil(async () => (await legate.statsMap()).get('control_plane.connected_state') === 0, () => 'still connected');
    assert.equal((await get(port)).status, 200);
    cp = await new XdsControlPlane().start(xdsPort);
    const next = snapshotOf('v4', port, 'v4', [b.port]);
    cp.setSnapshot(next);
    await waitUntil(async () => {
      const r = await get(port);
      return r.tag === 'v4' && r.upstream === 'b';
    }, () => 'v4 never served', 30_000);
    // The new stream's first requests carry what Legate holds: v2 listeners (v3's were NACKed), v3 routes.
    const lds = cp.requests.find((q) => q.typeUrl === TYPE_URLS.lds)!;
    assert.equal(lds.versionInfo, 'v2');
    assert.equal(lds.responseNonce, '');
    const rds = cp.requests.find((q) => q.typeUrl === TYPE_URLS.rds)!;
    assert.equal(rds.versionInfo, 'v3');
    assert.deepEqual(rds.resourceNames, ['local_route']);
    assert.equal((await legate.statsMap()).get('control_plane.connected_state'), 1);
    const dump = (JSON.parse((await legate.admin('/config_dump')).body) as { configs: Record<string, any>[] }).configs;
    const listeners = dump.find((c) => c['@type'].endsWith('ListenersConfigDump'))!['dynamic_listeners'];
    assert.deepEqual(listeners.map((l: any) => l.name), ['ingress'], 'v4 has no listener extra');
    assert.equal(listeners[0].error_state, undefined, 'accepted since');
  });

  it('SIGHUP re-reads the bootstrap and keeps the dynamic resources', async () => {
    assert.equal(await legate.reload(), true);
    const r = await get(port);
    assert.equal(r.status, 200);
    assert.equal(r.tag, 'v4');
  });

  it('removes a cluster a state-of-the-world CDS response no longer holds; a repeated response changes nothing', async () => {
    assert.match((await legate.admin('/clusters')).body, /^other::added_via_api::true$/m);
    const next = snapshotOf('v5', port, 'v5', [b.port]);
    next.resources.cds = [edsCluster('backend')];
    cp.setSnapshot(next);
    await waitUntil(async () => !/^other::/m.test((await legate.admin('/clusters')).body), () => 'cluster other is still there');
    assert.match((await legate.admin('/clusters')).body, /^backend::added_via_api::true$/m);
    assert.match((await legate.admin('/clusters')).body, /^xds_cluster::added_via_api::false$/m);
    assert.equal((await get(port)).tag, 'v5');
    const from = legate.stderr.length;
    const requests = cp.requests.length;
    cp.setSnapshot({ ...next, version: 'v5-again' });
    for (const t of Object.values(TYPE_URLS)) {
      await cp.waitForRequest((q) => q.typeUrl === t && q.versionInfo === 'v5-again' && q.errorDetail === null, 20_000, requests);
    }
    assert.doesNotMatch(legate.stderr.slice(from), /xds update applied/);
  });

  it('accepts the removal of a cluster a route still names: that route answers 503, nothing is NACKed', async () => {
    const from = cp.requests.length;
    const next = snapshotOf('v6', port, 'v6', [b.port]);
    next.resources.cds = [];
    cp.setSnapshot(next);
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.cds && q.versionInfo === 'v6' && q.errorDetail === null, 20_000, from);
    await waitUntil(async () => (await get(port)).status === 503, () => 'the route to a removed cluster still answers');
    assert.equal(cp.requests.slice(from).filter((q) => q.errorDetail !== null).length, 0);
  });
});
