// In process: xDS resources off the wire (protobuf bytes in an Any) -> proto3 JSON -> the config loader's walk,
// for the well-known types the walk reads differently from plain messages, and the problems' resource names.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { protoSchema } from '../../src/config-loader/proto-schema.ts';
import { anyToJson, jsonToStruct } from '../../src/xds/proto-json.ts';
import { checkResource } from '../../src/xds/validate-resource.ts';
import { CLUSTER_TYPE_URL, LISTENER_TYPE_URL } from '../../src/xds/resource-types.ts';

function encode(fullName: string, obj: Record<string, unknown>): Uint8Array {
  const t = protoSchema().lookupMessage(fullName)!.type;
  protoSchema().lookupMessage('envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
  return t.encode(t.fromObject(obj)).finish();
}

const CLUSTER = {
  name: 'c1',
  type: 'STRICT_DNS',
  connect_timeout: { seconds: 1, nanos: 500_000_000 },
  per_connection_buffer_limit_bytes: { value: 32768 },
  metadata: { filter_metadata: { 'envoy.lb': jsonToStruct({ canary: true, weight: 2, tags: ['a', 'b'], nested: { x: null } }) } },
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: { max_concurrent_streams: { value: 7 } } },
    },
  },
  load_assignment: {
    cluster_name: 'c1',
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'example.test', port_value: 443 } } } }] }],
  },
};

describe('xds: resources off the wire', () => {
  it('decodes durations, wrappers, Struct, enums, maps and nested Any to proto3 JSON', () => {
    const json = anyToJson(CLUSTER_TYPE_URL, encode('envoy.config.cluster.v3.Cluster', CLUSTER));
    assert.equal(json['@type'], CLUSTER_TYPE_URL);
    assert.equal(json['type'], 'STRICT_DNS');
    assert.equal(json['connect_timeout'], '1.5s');
    assert.equal(json['per_connection_buffer_limit_bytes'], 32768);
    assert.deepEqual(json['metadata'], { filter_metadata: { 'envoy.lb': { canary: true, weight: 2, tags: ['a', 'b'], nested: { x: null } } } });
    const tepo = (json['typed_extension_protocol_options'] as Record<string, Record<string, unknown>>)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']!;
    assert.equal(tepo['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.deepEqual(tepo['explicit_http_config'], { http2_protocol_options: { max_concurrent_streams: 7 } });
  });

  it('checks a resource with the config loader and gives its normalized form', () => {
    const r = checkResource('cds', CLUSTER_TYPE_URL, encode('envoy.config.cluster.v3.Cluster', CLUSTER), undefined);
    assert.ok(r.ok, r.ok ? '' : r.problems.join('\n'));
    assert.equal(r.name, 'c1');
    assert.equal(r.value['connect_timeout'], 1500);
  });

  it('names the resource and the field path in each problem', () => {
    const bad = { ...CLUSTER, name: 'c2', upstream_connection_options: { tcp_keepalive: {} }, dns_lookup_family: 'V4_ONLY', lb_policy: 'RING_HASH', ring_hash_lb_config: {} };
    const r = checkResource('cds', CLUSTER_TYPE_URL, encode('envoy.config.cluster.v3.Cluster', bad), undefined);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.ok(r.problems.includes("Cluster 'c2' upstream_connection_options: not supported yet"), r.problems.join('\n'));
    assert.ok(r.problems.every((p) => p.startsWith("Cluster 'c2' ")), r.problems.join('\n'));
  });

  it('refuses a resource of another type, one without a name, and a delta name that is not the resource', () => {
    const cluster = encode('envoy.config.cluster.v3.Cluster', CLUSTER);
    const wrongType = checkResource('lds', CLUSTER_TYPE_URL, cluster, undefined);
    assert.ok(!wrongType.ok && /in a .*Listener response/.test(wrongType.problems[0]!));
    const unnamed = checkResource('lds', LISTENER_TYPE_URL, encode('envoy.config.listener.v3.Listener', {}), undefined);
    assert.ok(!unnamed.ok && /needs a non-empty name/.test(unnamed.problems[0]!));
    const renamed = checkResource('cds', CLUSTER_TYPE_URL, cluster, 'other');
    assert.ok(!renamed.ok && /sent under the name 'other'/.test(renamed.problems[0]!));
  });

  it('refuses an rds or eds_config that names another config source than ADS', () => {
    protoSchema().lookupMessage('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    protoSchema().lookupMessage('envoy.extensions.filters.http.router.v3.Router');
    const listener = {
      name: 'l1',
      address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'x',
        rds: { route_config_name: 'r', config_source: { path_config_source: { path: '/tmp/r.yaml' } } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      } }] }],
    };
    const r = checkResource('lds', LISTENER_TYPE_URL, encode('envoy.config.listener.v3.Listener', listener), undefined);
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, ["Listener 'l1' filter_chains[0].filters[0].typed_config.rds.config_source: not supported yet: a config source other than ads: {} here"]);
    const c = checkResource('cds', CLUSTER_TYPE_URL, encode('envoy.config.cluster.v3.Cluster', { name: 'e', type: 'EDS', eds_cluster_config: { eds_config: { path_config_source: { path: '/tmp/e.yaml' } } } }), undefined);
    assert.ok(!c.ok && c.problems[0]!.startsWith("Cluster 'e' eds_cluster_config.eds_config: not supported yet"));
  });
  it('refuses a TypeScript filter from a control plane: only the bootstrap may load code into the proxy', () => {
    const listener = {
      name: 'ingress',
      address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
      filter_chains: [{ filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'ingress',
          rds: { route_config_name: 'r', config_source: { ads: {} } },
          http_filters: [
            // As a control plane sends it: the Any's type URL and the message's bytes.
            { name: 'mine', typed_config: { type_url: 'type.googleapis.com/legate.filters.http.typescript.v1.TypeScriptFilter', value: encode('legate.filters.http.typescript.v1.TypeScriptFilter', { filter_path: '/tmp/evil.ts' }) } },
            { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
          ],
        },
      }] }],
    };
    const r = checkResource('lds', LISTENER_TYPE_URL, encode('envoy.config.listener.v3.Listener', listener), undefined);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.problems.join('\n'), /^Listener 'ingress' filter_chains\[0\]\.filters\[0\]\.typed_config\.http_filters\[0\]\.typed_config: a TypeScript filter loads code into the proxy/m);
  });
});
