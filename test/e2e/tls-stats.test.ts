// End to end: the TLS handshake details Envoy counts, through bin/legate: listener.<prefix>.ssl.versions.<v> and
// ssl.ciphers.<name> for downstream handshakes (TLS 1.3 and a TLS 1.2 client pinned to one suite), and
// cluster.<name>.ssl.versions/ciphers/curves for an upstream HTTPS peer; with Envoy's Prometheus tags.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';

/** One HTTPS request with `options`; resolves with the cipher and protocol the client negotiated. */
function httpsGet(port: number, ca: string, options: tls.ConnectionOptions): Promise<{ status: number; cipher: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/', ca, agent: false, ...options } as https.RequestOptions, (res) => {
      const s = res.socket as tls.TLSSocket;
      const cipher = s.getCipher().name;
      const protocol = s.getProtocol() ?? '';
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, cipher, protocol }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

describe('TLS handshake stats', { skip }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let peer: https.Server;
  let port: number;
  let pki: TestPki;
  let plainPort: number;

  before(async () => {
    pki = TestPki.create();
    const cert = pki.issue('edge', { sans: ['IP:127.0.0.1'] });
    up = await startUpstream('plain');
    peer = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('tls upstream'));
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const peerPort = (peer.address() as net.AddressInfo).port;
    const secureCluster = cluster({
      name: 'secure',
      endpoints: [{ address: '127.0.0.1', port: peerPort }],
      extra: `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          validation_context:
            trusted_ca: { filename: ${pki.ca.certPath} }
`,
    });
    legate = await startLegate({
      concurrency: 1,
      config: bootstrap(
        [
          tlsListener({ name: 'https', listenerStatPrefix: 'edge', certPath: cert.certPath, keyPath: cert.keyPath, filters: routeAllHcm('edge', 'backend') }),
          hcmListener({ name: 'to_secure', port: 0, statPrefix: 'to_secure', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: secure }' }] }),
        ],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }), secureCluster],
      ),
    });
    port = await legate.listenerPort('https');
    plainPort = await legate.listenerPort('to_secure');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    peer?.closeAllConnections();
    await new Promise((r) => peer?.close(r));
  });

  it('counts the downstream TLS versions and cipher suites negotiated', async () => {
    const ca = pki.ca.certPem;
    const v13 = await httpsGet(port, ca, { minVersion: 'TLSv1.3' });
    const v12 = await httpsGet(port, ca, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256' });
    assert.equal(v13.status, 200);
    assert.equal(v13.protocol, 'TLSv1.3');
    assert.equal(v12.protocol, 'TLSv1.2');
    const stats = await legate.statsMap();
    assert.equal(stats.get('listener.edge.ssl.handshake'), 2);
    assert.equal(stats.get('listener.edge.ssl.versions.TLSv1.3'), 1);
    assert.equal(stats.get('listener.edge.ssl.versions.TLSv1.2'), 1);
    assert.equal(stats.get(`listener.edge.ssl.ciphers.${v13.cipher}`), 1);
    assert.equal(stats.get(`listener.edge.ssl.ciphers.${v12.cipher}`), 1);
    assert.equal(stats.get('listener.edge.ssl.versions.TLSv1.1'), undefined, 'a version never negotiated is not listed');
    const prom = (await legate.admin('/stats/prometheus')).body;
    assert.match(prom, new RegExp(`envoy_listener_ssl_ciphers\\{envoy_ssl_cipher="${v12.cipher}",envoy_listener_address="edge"\\} 1\\n`));
    assert.match(prom, /envoy_listener_ssl_versions\{envoy_ssl_version="TLSv1.3",envoy_listener_address="edge"\} 1\n/);
  });

  it('counts the upstream TLS version, cipher suite and key exchange curve', async () => {
    const res = await fetch(`http://127.0.0.1:${plainPort}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'tls upstream');
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.secure.ssl.handshake'), 1);
    assert.equal(stats.get('cluster.secure.ssl.versions.TLSv1.3'), 1);
    const curves = [...stats.entries()].filter(([k]) => k.startsWith('cluster.secure.ssl.curves.'));
    assert.deepEqual(curves.map(([, v]) => v), [1], `one curve counted: ${JSON.stringify(curves)}`);
    const ciphers = [...stats.entries()].filter(([k]) => k.startsWith('cluster.secure.ssl.ciphers.'));
    assert.deepEqual(ciphers.map(([, v]) => v), [1], `one cipher counted: ${JSON.stringify(ciphers)}`);
  });
});
