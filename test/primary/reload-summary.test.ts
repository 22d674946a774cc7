// The reload's one-line summary of what changed, by name, on normalized bootstraps.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reloadSummary } from '../../src/primary/reload-summary.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function listener(name: string, port: number, routeName: string, prefix: string): unknown {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, stat_prefix: name, route_config: { name: routeName, virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix } }] }] } } }] }],
  };
}

function boot(listeners: unknown[], clusters: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, static_resources: { listeners, clusters: clusters.map((name) => ({ name, connect_timeout: '1s' })) } };
}

describe('reloadSummary', () => {
  it('names what was added, changed and removed', () => {
    const before = boot([listener('web', 80, 'web_routes', '/'), listener('old', 81, 'old_routes', '/')], ['a', 'b']);
    const after = boot([listener('web', 80, 'web_routes', '/api'), listener('new', 82, 'new_routes', '/')], ['a', 'c']);
    assert.equal(reloadSummary(before, after), 'listeners +new ~web -old; clusters +c -b; routes +new_routes ~web_routes -old_routes');
  });

  it('says "no change" for the same config, and names a change elsewhere in the bootstrap', () => {
    const a = boot([listener('web', 80, 'r', '/')], ['a']);
    assert.equal(reloadSummary(a, structuredClone(a)), 'no change');
    const b = boot([listener('web', 80, 'r', '/')], ['a'], { stats_flush_interval: '5s' });
    assert.equal(reloadSummary(a, b), 'bootstrap changed (no listener, cluster or route)');
  });

  it('reports a route change alone when only the route configuration moved', () => {
    const a = boot([listener('web', 80, 'r', '/')], []);
    const b = boot([listener('web', 80, 'r', '/v2')], []);
    assert.equal(reloadSummary(a, b), 'listeners ~web; routes ~r');
  });
});
