// End to end: SDS over ADS. A listener from LDS whose DownstreamTlsContext names its certificate by
// tls_certificate_sds_secret_configs (sds_config: ads) is served once the Secret arrives (curl with the CA); a new
// version of the secret is served to new connections while a connection opened before keeps working; a secret whose
// PEM does not parse is NACKed with a readable error_detail and the last good certificate stays; /config_dump shows
// the secrets with the private key "[redacted]"; sds.<name>.* stats as Envoy.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { KeptTlsConnection } from '../support/kept-tls-connection.ts';
import { TestPki, opensslAvailable, type IssuedCert } from '../tls/support/test-pki.ts';
import { XdsControlPlane, SDS_TYPE_URL, adsBootstrap, exitWithin, type XdsSnapshot } from '../support/xds-control-plane.ts';

type Obj = Record<string, unknown>;
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

function tlsListener(port: number): Obj {
  return {
    name: 'secure',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      transport_socket: {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': DOWNSTREAM_TLS,
          common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'server_cert', sds_config: { ads: {}, resource_api_version: 'V3' } }] },
        },
      },
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM,
          stat_prefix: 'secure',
          route_config: { name: 'local', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'secret ok' } } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
        },
      }],
    }],
  };
}

function secret(cert: { certPem: string; keyPem: string }): Obj {
  return { name: 'server_cert', tls_certificate: { certificate_chain: { inline_string: cert.certPem }, private_key: { inline_string: cert.keyPem } } };
}

function snapshot(version: string, port: number, s: Obj): XdsSnapshot {
  return { version, resources: { lds: [tlsListener(port)], cds: [], sds: [s] } as XdsSnapshot['resources'] };
}

describe('xds: SDS secrets over ADS', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  let pki: TestPki;
  let certA: IssuedCert;
  let certB: IssuedCert;
  let cp: XdsControlPlane;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    pki = TestPki.create();
    certA = pki.issue('a', { sans: ['DNS:sds.test'] });
    certB = pki.issue('b', { sans: ['DNS:sds.test'] });
    port = await freePort();
    cp = await new XdsControlPlane().start();
    cp.setSnapshot(snapshot('v1', port, secret(certA)));
    legate = await startLegate({ config: adsBootstrap(cp.port, { initialFetchTimeout: '5s' }), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    cp?.stop();
    pki?.remove();
  });

  it('subscribes to the secret a listener names and serves its certificate (curl with the CA)', async () => {
    const sds = await cp.waitForRequest((q) => q.typeUrl === SDS_TYPE_URL && q.resourceNames.includes('server_cert'));
    assert.deepEqual(sds.resourceNames, ['server_cert']);
    await cp.waitForRequest((q) => q.typeUrl === SDS_TYPE_URL && q.versionInfo === 'v1' && q.errorDetail === null && q.responseNonce !== '');
    const r = await curl(['--cacert', pki.ca.certPath, '--resolve', `sds.test:${port}:127.0.0.1`, `https://sds.test:${port}/`]);
    assert.equal(r.exitCode, 0);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'secret ok');
    const c = await KeptTlsConnection.open(port, pki.ca.certPem, 'sds.test', 'secret ok');
    assert.equal(c.serial, certA.serialNumber);
    c.close();
    const stats = await legate.statsMap();
    assert.equal(stats.get('sds.server_cert.update_success'), 1);
  });

  it('rotates to a new version of the secret for new connections; an open connection keeps working', async () => {
    const old = await KeptTlsConnection.open(port, pki.ca.certPem, 'sds.test', 'secret ok');
    assert.match(await old.get('sds.test'), /200 OK/);
    cp.setSnapshot(snapshot('v2', port, secret(certB)));
    await cp.waitForRequest((q) => q.typeUrl === SDS_TYPE_URL && q.versionInfo === 'v2' && q.errorDetail === null);
    await waitUntil(async () => {
      const c = await KeptTlsConnection.open(port, pki.ca.certPem, 'sds.test', 'secret ok');
      const serial = c.serial;
      c.close();
      return serial === certB.serialNumber;
    }, () => 'the new certificate served', 10_000);
    assert.match(await old.get('sds.test'), /200 OK/);
    assert.equal(old.serial, certA.serialNumber);
    old.close();
  });

  it('NACKs a secret whose PEM does not parse, with a readable error_detail; the last good certificate stays', async () => {
    const from = cp.requests.length;
    cp.setSnapshot(snapshot('v3', port, { name: 'server_cert', tls_certificate: { certificate_chain: { inline_string: 'not a certificate' }, private_key: { inline_string: certB.keyPem } } }));
    const nack = await cp.waitForRequest((q) => q.typeUrl === SDS_TYPE_URL && q.errorDetail !== null, 10_000, from);
    assert.equal(nack.versionInfo, 'v2');
    assert.match(nack.errorDetail!.message, /Secret 'server_cert' tls_certificate\.certificate_chain: not a PEM certificate/);
    const c = await KeptTlsConnection.open(port, pki.ca.certPem, 'sds.test', 'secret ok');
    assert.equal(c.serial, certB.serialNumber);
    assert.match(await c.get('sds.test'), /200 OK/);
    c.close();
    const stats = await legate.statsMap();
    assert.equal(stats.get('sds.server_cert.update_rejected'), 1);
    assert.equal(stats.get('sds.server_cert.update_success'), 2);
  });

  it('shows the secrets in /config_dump with the private key redacted', async () => {
    const res = await legate.admin('/config_dump?resource=dynamic_active_secrets');
    assert.equal(res.status, 200, res.body);
    assert.ok(!res.body.includes('PRIVATE KEY'), 'a private key leaked into /config_dump');
    const configs = (JSON.parse(res.body) as { configs: Obj[] }).configs;
    assert.equal(configs.length, 1);
    const s = configs[0]!;
    assert.equal(s['name'], 'server_cert');
    assert.equal(s['version_info'], 'v2');
    const tc = (s['secret'] as Obj)['tls_certificate'] as Obj;
    assert.deepEqual(tc['private_key'], { inline_string: '[redacted]' });
    assert.equal((tc['certificate_chain'] as Obj)['inline_string'], certB.certPem);
    assert.equal(s['client_status'], 'NACKED');
    assert.match(String((s['error_state'] as Obj)['details']), /not a PEM certificate/);
  });
});

describe('xds: SDS secret configs without an ADS stream', () => {
  it('refuses sds_config ads: {} without ads_config, and another config source as not supported yet, with positions', async () => {
    const config = (sdsConfig: string): string => `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: secure
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificate_sds_secret_configs:
            - name: server_cert
              sds_config: ${sdsConfig}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: secure
          route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, direct_response: { status: 200 } }] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`;
    const path = 'static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config';
    const a = await startLegate({ config: config('{ ads: {} }'), concurrency: 1, waitReady: false });
    assert.notEqual(await exitWithin(a), 0);
    assert.ok(a.stderr.includes(path) && a.stderr.includes('ads: {} needs dynamic_resources.ads_config'), a.stderr);
    // SDS from files works (test/xds/sds-file.test.ts); another config source is refused.
    const b = await startLegate({ config: config('{ self: {} }'), concurrency: 1, waitReady: false });
    assert.notEqual(await exitWithin(b), 0);
    assert.match(b.stderr, /:\d+:\d+: not supported yet: .*tls_certificate_sds_secret_configs\[0\]\.sds_config\.self/);
  });
});

describe('xds: SDS for a static listener', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  it('starts with a static TLS listener whose certificate comes over SDS (ADS), served once it arrived', async () => {
    const pki = TestPki.create();
    const cp = await new XdsControlPlane().start();
    let legate: LegateProcess | undefined;
    try {
      const cert = pki.issue('s', { sans: ['DNS:sds.test'] });
      const port = await freePort();
      cp.setSnapshot({ version: 's1', resources: { lds: [], cds: [], sds: [secret(cert)] } as XdsSnapshot['resources'] });
      const listener = tlsListener(port);
      const text = adsBootstrap(cp.port).replace('static_resources:\n', `static_resources:\n  listeners: [${JSON.stringify(listener)}]\n`);
      legate = await startLegate({ config: text, concurrency: 1 });
      const r = await curl(['--cacert', pki.ca.certPath, '--resolve', `sds.test:${port}:127.0.0.1`, `https://sds.test:${port}/`]);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'secret ok');
      const c = await KeptTlsConnection.open(port, pki.ca.certPem, 'sds.test', 'secret ok');
      assert.equal(c.serial, cert.serialNumber);
      c.close();
    } finally {
      await legate?.stop();
      cp.stop();
      pki.remove();
    }
  });
});

describe('xds: SDS for a cluster (UpstreamTlsContext validation context)', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  it('verifies the upstream against the CA an SDS secret holds, and follows a new version of it', async () => {
    const pki = TestPki.create();
    const other = pki.makeCa('other-ca');
    const cp = await new XdsControlPlane().start();
    const upCert = pki.issue('up', { sans: ['DNS:up.test'] });
    const upstream = https.createServer({ cert: upCert.certPem, key: upCert.keyPem }, (_req, res) => {
      // Every request a new upstream connection: each is verified against the CA held then.
      res.setHeader('connection', 'close');
      res.end('from tls upstream');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    let legate: LegateProcess | undefined;
    try {
      const port = await freePort();
      const upPort = (upstream.address() as AddressInfo).port;
      const snap = (version: string, caPem: string): XdsSnapshot => ({
        version,
        resources: {
          lds: [{
            name: 'plain', address: { socket_address: { address: '127.0.0.1', port_value: port } },
            filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
              '@type': HCM, stat_prefix: 'plain',
              route_config: { name: 'l', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'secure_backend' } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
            } }] }],
          }],
          cds: [{
            name: 'secure_backend', type: 'STATIC', connect_timeout: { seconds: 1 },
            load_assignment: { cluster_name: 'secure_backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upPort } } } }] }] },
            transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'up.test',
              common_tls_context: { validation_context_sds_secret_config: { name: 'upstream_ca', sds_config: { ads: {}, resource_api_version: 'V3' } } },
            } },
          }],
          sds: [{ name: 'upstream_ca', validation_context: { trusted_ca: { inline_string: caPem } } }],
        } as XdsSnapshot['resources'],
      });
      cp.setSnapshot(snap('u1', pki.ca.certPem));
      legate = await startLegate({ config: adsBootstrap(cp.port), concurrency: 1 });
      const get = async (): Promise<{ status: number; body: string }> => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
        return { status: res.status, body: await res.text() };
      };
      assert.deepEqual(await get(), { status: 200, body: 'from tls upstream' });
      // A CA that did not sign the upstream's certificate: verification fails, as it should.
      cp.setSnapshot(snap('u2', other.certPem));
      await cp.waitForRequest((q) => q.typeUrl === SDS_TYPE_URL && q.versionInfo === 'u2' && q.errorDetail === null);
      await waitUntil(async () => (await get()).status === 503, () => 'a 503 once the trusted CA no longer matches', 10_000);
    } finally {
      await legate?.stop();
      cp.stop();
      upstream.close();
      pki.remove();
    }
  });
});
