// /config_dump's message printing (src/admin/proto-json.ts): the loader's normalized form back to Envoy's proto3
// JSON, with Envoy's redaction of sensitive fields.

import test from 'node:test';
import assert from 'node:assert/strict';
import { durationJson, timestampJson, toProtoJson } from '../../src/admin/proto-json.ts';

test('durations and timestamps as protobuf prints them', () => {
  assert.deepEqual([durationJson(1000), durationJson(250), durationJson(1500), durationJson(0.001), durationJson(0)], ['1s', '0.250s', '1.500s', '0.000001s', '0s']);
  assert.deepEqual([timestampJson(0), timestampJson(1234)], ['1970-01-01T00:00:00Z', '1970-01-01T00:00:01.234Z']);
});

test('64-bit integers as strings, scalars at their default left out, wrappers and oneofs kept', () => {
  assert.deepEqual(toProtoJson({ max_heap_size_bytes: 2147483648 }, 'envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig'), { max_heap_size_bytes: '2147483648' });
  assert.deepEqual(
    toProtoJson({ name: 'c', connect_timeout: 5000, per_connection_buffer_limit_bytes: 0, respect_dns_ttl: false, type: 'STATIC' }, 'envoy.config.cluster.v3.Cluster'),
    { name: 'c', connect_timeout: '5s', per_connection_buffer_limit_bytes: 0, type: 'STATIC' },
  );
});

test('sensitive fields redacted as Envoy: strings "[redacted]", bytes its base64, inside Any too', () => {
  const tls = {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    common_tls_context: {
      tls_certificates: [{ certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: 'KEY' }, password: { inline_bytes: 'cGFzcw==' } }],
    },
    session_ticket_keys: { keys: [{ filename: '/keys/ticket' }] },
  };
  const out = toProtoJson({ name: 'tls', transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: tls } }, 'envoy.config.listener.v3.FilterChain');
  assert.deepEqual(out, {
    name: 'tls',
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: '[redacted]' }, password: { inline_bytes: 'W3JlZGFjdGVkXQ==' } }],
        },
        session_ticket_keys: { keys: [{ filename: '[redacted]' }] },
      },
    },
  });
});
