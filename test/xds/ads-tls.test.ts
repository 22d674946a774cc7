// End to end: the ADS stream over mTLS, with the ADS cluster's UpstreamTlsContext (trusted_ca, a client
// certificate, sni): the control plane requires and checks Legate's certificate, Legate checks the control plane's.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';
import { XdsControlPlane, adsBootstrap, exitWithin, edsCluster, loadAssignment, rdsListener, routeConfig } from '../support/xds-control-plane.ts';

describe('xds: ADS over mTLS', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  let pki: TestPki;
  let cp: XdsControlPlane;
  let legate: LegateProcess | undefined;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    pki = TestPki.create();
    const server = pki.issue('xds-server', { sans: ['DNS:xds.test'] });
    up = await startUpstream('a');
    port = await freePort();
    cp = await new XdsControlPlane().start(0, grpc.ServerCredentials.createSsl(
      Buffer.from(pki.ca.certPem), [{ private_key: Buffer.from(server.keyPem), cert_chain: Buffer.from(server.certPem) }], true,
    ));
    cp.setSnapshot({
      version: 't1',
      resources: {
        lds: [rdsListener('ingress', port, 'r')], rds: [routeConfig('r', 'backend', 't1')],
        cds: [edsCluster('backend')], eds: [loadAssignment('backend', [up.port])],
      },
    });
  });

  after(async () => {
    await legate?.stop();
    cp?.stop();
    up?.server.close();
    pki?.remove();
  });

  it('takes its resources from a control plane that requires a client certificate', async () => {
    const client = pki.issue('legate-client', { sans: ['DNS:legate.test'] });
    const bootstrap = adsBootstrap(cp.port, { tls: { ca: pki.ca.certPath, cert: client.certPath, key: client.keyPath, sni: 'xds.test' } });
    legate = await startLegate({ config: bootstrap, concurrency: 1 });
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-route-tag'), 't1');
    assert.equal(cp.requests[0]!.node?.['id'], 'legate-test');
  });

  it('refuses a control-plane TLS context without trusted_ca, with its position', async () => {
    const text = adsBootstrap(cp.port, { tls: { ca: pki.ca.certPath } }).replace(/          validation_context:\n            trusted_ca: \{ filename: [^}]+\}\n/, '          alpn_protocols: [h2]\n');
    const l = await startLegate({ config: text, concurrency: 1, waitReady: false });
    const code = await exitWithin(l);
    assert.notEqual(code, 0);
    assert.match(l.stderr, /:\d+:\d+: static_resources\.clusters\[0\]\.transport_socket\.typed_config\.common_tls_context: TLS to the xDS control plane needs validation_context\.trusted_ca/);
  });
});
