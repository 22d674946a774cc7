// A cluster's transport_socket as the snapshot compiler sees it: envoy.transport_sockets.tls with an
// UpstreamTlsContext compiles to the cluster's transportSocket spec (files read once); raw_buffer is plaintext; a
// file that cannot be read is a problem naming the field path and its line.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot } from '../../src/snapshot/compile-snapshot.ts';
import { formatConfigProblem } from '../../src/config-loader/config-error.ts';
import { TestPki, opensslAvailable } from './support/test-pki.ts';

const skip = opensslAvailable() ? false : 'the openssl CLI is not installed';
let pki: TestPki;

before(() => {
  if (skip === false) pki = TestPki.create();
});
after(() => pki?.remove());

function compile(transportSocket: string) {
  const yaml = `static_resources:
  clusters:
  - name: up
    connect_timeout: 1s
    transport_socket:
${transportSocket}    load_assignment: { cluster_name: up }
`;
  return compileSnapshot(loadConfig({ configPath: undefined, configYaml: yaml }), 1);
}

test('UpstreamTlsContext compiles into the cluster; raw_buffer is plaintext; a missing file names its field', { skip }, () => {
  const client = pki.issue('client', { cn: 'legate' });
  const tls = compile(`      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: backend.test
        common_tls_context:
          alpn_protocols: [h2, http/1.1]
          tls_certificates:
          - certificate_chain: { filename: ${client.certPath} }
            private_key: { filename: ${client.keyPath} }
          validation_context:
            trusted_ca: { filename: ${pki.ca.certPath} }
`);
  assert.deepEqual(tls.problems, []);
  const spec = tls.snapshot.clusters[0]!.transportSocket!;
  assert.equal(spec.kind, 'upstream');
  assert.equal(spec.sni, 'backend.test');
  assert.equal(spec.id, 'static_resources.clusters[0].transport_socket.typed_config');
  assert.deepEqual(spec.common.alpnProtocols, ['h2', 'http/1.1']);
  assert.equal(spec.common.certificates[0]!.leaf.commonName, 'legate');
  assert.equal(spec.common.validation!.trustedCa!.filename, pki.ca.certPath);

  const raw = compile(`      name: envoy.transport_sockets.raw_buffer
      typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer }
`);
  assert.deepEqual(raw.problems, []);
  assert.equal(raw.snapshot.clusters[0]!.transportSocket, null);

  const missing = compile(`      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          validation_context:
            trusted_ca: { filename: /nonexistent/ca.pem }
`);
  assert.deepEqual(missing.problems.map(formatConfigProblem), [
    "--config-yaml:11:27: static_resources.clusters[0].transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.filename: cannot read trusted_ca '/nonexistent/ca.pem': ENOENT",
  ]);
});
