// The pieces under loadConfig: the schema walk on values without positions (as xDS gives them), well-known
// types inside an Any, the overlay merge of maps, and position-index paths.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mergeOverlay } from '../../src/config-loader/overlay-merge.ts';
import { MapPositionIndex, parentPath } from '../../src/config-loader/position-index.ts';
import { protoSchema } from '../../src/config-loader/proto-schema.ts';
import { walkDocument } from '../../src/config-loader/schema-walk.ts';
import { sourceNodeFromValue } from '../../src/config-loader/source-node.ts';
import { parseYamlSource } from '../../src/config-loader/yaml-source.ts';

const T = 'type.googleapis.com/';

function walk(type: string, value: unknown, checkSupport = false) {
  const schema = protoSchema();
  const info = schema.lookupMessage(type);
  assert.ok(info, type);
  return walkDocument(sourceNodeFromValue(value), info, schema, { checkSupport });
}

test('well-known types inside an Any, int64 as a string, bytes, and a type URL with another host', () => {
  const r = walk('envoy.service.discovery.v3.DiscoveryResponse', {
    version_info: 'v1',
    resources: [
      { '@type': `${T}google.protobuf.Timestamp`, value: '2024-01-01T10:00:00.5+02:00' },
      { '@type': `${T}google.protobuf.Struct`, value: { a: 1, b: [true, null] } },
      { '@type': `${T}google.protobuf.UInt32Value`, value: 5 },
      { '@type': `${T}google.protobuf.Duration`, value: '0.000001s' },
      { '@type': `${T}envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig`, max_heap_size_bytes: '2147483648' },
      { '@type': `${T}envoy.config.core.v3.DataSource`, inline_bytes: 'aGVsbG8=' },
      { '@type': 'example.com/types/envoy.config.core.v3.HeaderValue', key: 'k' },
    ],
  });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.value, {
    version_info: 'v1',
    resources: [
      { '@type': `${T}google.protobuf.Timestamp`, value: '2024-01-01T08:00:00.500Z' },
      { '@type': `${T}google.protobuf.Struct`, value: { a: 1, b: [true, null] } },
      { '@type': `${T}google.protobuf.UInt32Value`, value: 5 },
      { '@type': `${T}google.protobuf.Duration`, value: 0.001 },
      { '@type': `${T}envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig`, max_heap_size_bytes: 2147483648 },
      { '@type': `${T}envoy.config.core.v3.DataSource`, inline_bytes: 'aGVsbG8=' },
      { '@type': `${T}envoy.config.core.v3.HeaderValue`, key: 'k' },
    ],
  });
});

test('values without positions (xDS) get paths and no position; a field that fails is not also "missing"', () => {
  const r = walk('envoy.service.discovery.v3.DiscoveryResponse', {
    resources: [
      { '@type': `${T}google.protobuf.Timestamp`, value: 'yesterday' },
      { '@type': `${T}envoy.config.core.v3.DataSource`, inline_bytes: '***' },
      { '@type': `${T}envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig`, max_heap_size_bytes: -1 },
      { '@type': `${T}envoy.config.core.v3.HeaderValue`, key: 'k', value: 1.5 },
      { '@type': `${T}google.protobuf.UInt32Value`, value: { value: 'x' } },
    ],
  });
  assert.deepEqual(r.problems.map((p) => [p.code, p.path, p.position, p.message]), [
    ['bad_value', 'resources[0].value', undefined, 'expected an RFC 3339 timestamp like "2024-01-01T00:00:00Z", got "yesterday"'],
    ['bad_value', 'resources[1].inline_bytes', undefined, 'expected base64 data'],
    ['bad_value', 'resources[2].max_heap_size_bytes', undefined, '-1 is out of range for uint64 (0 to 18446744073709551615)'],
    ['wrong_type', 'resources[3].value', undefined, 'expected a string, got number 1.5'],
    ['wrong_type', 'resources[4].value.value', undefined, 'expected an integer (uint32), got string "x"'],
  ]);
});

test('the walk alone can skip the "not supported yet" checks (schema only) or make them', () => {
  const cluster = { name: 'c', circuit_breakers: { per_host_thresholds: [{}] }, upstream_connection_options: { set_local_interface_name_on_upstream_connections: true } };
  assert.deepEqual(walk('envoy.config.cluster.v3.Cluster', cluster).problems, []);
  assert.deepEqual(walk('envoy.config.cluster.v3.Cluster', cluster, true).problems.map((p) => p.message), [
    'not supported yet: circuit_breakers.per_host_thresholds',
    'not supported yet: upstream_connection_options',
  ]);
  // A root message Legate has no entry for is reported once, as a whole.
  assert.deepEqual(walk('envoy.config.cluster.v3.UpstreamConnectionOptions', { set_local_interface_name_on_upstream_connections: true }, true).problems.map((p) => p.message), [
    'not supported yet: envoy.config.cluster.v3.UpstreamConnectionOptions',
  ]);
});

test('the overlay merge: maps merge by key, the file entry replaced whole; Any and Struct are replaced', () => {
  const schema = protoSchema();
  const bootstrap = schema.lookupMessage('envoy.config.bootstrap.v3.Bootstrap')!;
  const base = parseYamlSource(`node:
  metadata: { x: 1 }
  dynamic_parameters:
    a: { params: { x: "1", y: "2" } }
    b: { params: { z: "3" } }
`, 'file.yaml').root!;
  const overlay = parseYamlSource('node: { metadata: { y: 2 }, dynamic_parameters: { a: { params: { w: "0" } }, c: {} } }', '--config-yaml').root!;
  const merged = walkDocument(mergeOverlay(base, overlay, bootstrap, schema), bootstrap, schema, { checkSupport: false });
  assert.deepEqual(merged.problems, []);
  assert.deepEqual(merged.value, {
    node: {
      metadata: { y: 2 },
      dynamic_parameters: { a: { params: { w: '0' } }, b: { params: { z: '3' } }, c: {} },
    },
  });
  assert.equal(merged.positions.at('node.dynamic_parameters["a"].params["w"]')?.file, '--config-yaml');
  assert.equal(merged.positions.at('node.dynamic_parameters["b"].params["z"]')?.file, 'file.yaml');
});

test('position paths: parents of fields, items and map entries; lookups fall back to the nearest ancestor', () => {
  assert.equal(parentPath('a.b[0]["k.x"]'), 'a.b[0]');
  assert.equal(parentPath('a.b[0]'), 'a.b');
  assert.equal(parentPath('a.b'), 'a');
  assert.equal(parentPath('a'), '');
  const index = new MapPositionIndex();
  const pos = { file: 'f', line: 3, column: 4 };
  index.record('a.b[0]', pos);
  index.record('a.b[0]', { file: 'f', line: 9, column: 9 }); // first record wins
  assert.deepEqual(index.at('a.b[0]["k.x"].deep'), pos);
  assert.equal(index.at('z'), undefined);
});
