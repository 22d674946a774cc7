// End to end: Envoy's header sanitizing. An external request (use_remote_address false and x-forwarded-for that is
// not one internal address) loses the x-envoy-* headers a client could steer Legate with (retries, timeouts, forced
// tracing, x-envoy-internal and its TLS-redirect exemption) and internal_only_headers before any upstream sees them;
// an internal one keeps them and is marked x-envoy-internal: true; with use_remote_address the peer decides, and an
// edge request gets x-envoy-external-address.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

const STEERING = ['x-envoy-retry-on: 5xx', 'x-envoy-max-retries: 7', 'x-envoy-upstream-rq-timeout-ms: 5', 'x-envoy-force-trace: 1', 'x-envoy-internal: true', 'x-secret-internal: s'];

describe('header sanitizing', () => {
  let legate: LegateProcess;
  let up: TestUpstream;

  before(async () => {
    up = await startUpstream('web');
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }];
    legate = await startLegate({
      config: bootstrap([
        // internal_address_config without cidr_ranges: Envoy's private ranges (absent, no address is internal).
        hcmListener({ name: 'mesh', routes, vhostExtra: '', hcmExtra: '          internal_address_config: {}\n' }).replace('          route_config:\n', '          route_config:\n            internal_only_headers: [x-secret-internal]\n'),
        hcmListener({ name: 'edge', routes, hcmExtra: '          use_remote_address: true\n          internal_address_config: {}\n' }),
      ], [cluster({ name: 'web', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
    });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  async function seen(listener: string, xff: string | null): Promise<Record<string, string>> {
    const port = await legate.listenerPort(listener);
    const args = [`http://127.0.0.1:${port}/echo`];
    for (const h of STEERING) args.push('-H', h);
    if (xff !== null) args.push('-H', `x-forwarded-for: ${xff}`);
    const r = await curl(args);
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
  }

  it('an external request loses the steering headers and internal_only_headers; the upstream timeout of 5 ms is not applied', async () => {
    const h = await seen('mesh', '203.0.113.7');
    for (const name of ['x-envoy-retry-on', 'x-envoy-max-retries', 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-force-trace', 'x-envoy-internal', 'x-secret-internal']) {
      assert.equal(h[name], undefined, `${name} must not reach the upstream`);
    }
    assert.equal(h['x-envoy-external-address'], undefined, 'not an edge request (use_remote_address is false)');
  });

  it('an internal request (one internal x-forwarded-for address) keeps them and is marked x-envoy-internal', async () => {
    const h = await seen('mesh', '10.1.2.3');
    assert.equal(h['x-envoy-retry-on'], '5xx');
    assert.equal(h['x-secret-internal'], 's');
    assert.equal(h['x-envoy-internal'], 'true');
  });

  it('two x-forwarded-for hops are external even when both are internal', async () => {
    const h = await seen('mesh', '10.1.2.3, 10.4.5.6');
    assert.equal(h['x-envoy-retry-on'], undefined);
    assert.equal(h['x-envoy-internal'], undefined);
  });

  it('with use_remote_address the peer decides: loopback is internal whatever x-forwarded-for says', async () => {
    const h = await seen('edge', '203.0.113.7');
    assert.equal(h['x-envoy-internal'], 'true');
    assert.equal(h['x-envoy-max-retries'], '7');
    assert.equal(h['x-envoy-external-address'], undefined);
  });
});
