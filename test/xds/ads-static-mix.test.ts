// End to end: static and dynamic resources together. A static listener takes its route table over RDS and routes to
// a CDS/EDS cluster (no lds_config: LDS is not subscribed to); without an ADS stream, `rds` is refused with its position.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';
import { XdsControlPlane, TYPE_URLS, adsBootstrap, exitWithin, edsCluster, loadAssignment, routeConfig } from '../support/xds-control-plane.ts';

function staticRdsListener(port: number): string {
  return `  listeners:
  - name: static_ingress
    address:
      socket_address: { address: 127.0.0.1, port_value: ${port} }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: static_ingress
          rds:
            route_config_name: static_route
            config_source: { ads: {}, resource_api_version: V3 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`;
}

describe('xds: static resources with RDS/EDS', () => {
  let cp: XdsControlPlane | undefined;
  let legate: LegateProcess | undefined;
  let up: TestUpstream | undefined;

  after(async () => {
    await legate?.stop();
    cp?.stop();
    up?.server.close();
  });

  it('a static listener takes its route table over RDS and routes to an EDS cluster from CDS', async () => {
    up = await startUpstream('a');
    const port = await freePort();
    cp = await new XdsControlPlane().start();
    cp.setSnapshot({
      version: 's1',
      resources: { rds: [routeConfig('static_route', 'backend', 's1')], cds: [edsCluster('backend')], eds: [loadAssignment('backend', [up.port])] },
    });
    // No lds_config: LDS is not subscribed to (the listener is static), as Envoy.
    const config = adsBootstrap(cp.port)
      .replace('static_resources:\n', `static_resources:\n${staticRdsListener(port)}`)
      .replace(/  lds_config:\n    ads: \{\}\n    resource_api_version: V3\n/, '');
    assert.doesNotMatch(config, /lds_config/);
    legate = await startLegate({ config, concurrency: 1 });
    await waitUntil(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
      await res.text();
      return res.status === 200 && res.headers.get('x-route-tag') === 's1';
    }, () => 'the static listener never served its RDS route table');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.static_ingress.rds.static_route.update_success'), 1);
    assert.equal(cp.requests.filter((q) => q.typeUrl === TYPE_URLS.lds).length, 0);
  });

  it('refuses rds without dynamic_resources.ads_config, with its position', async () => {
    const config = `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
static_resources:
${staticRdsListener(await freePort())}`;
    const l = await startLegate({ config, concurrency: 1, waitReady: false });
    assert.notEqual(await exitWithin(l), 0);
    assert.match(l.stderr, /:17:13: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.rds\.config_source: ads: \{\} needs dynamic_resources\.ads_config/);
  });
});
