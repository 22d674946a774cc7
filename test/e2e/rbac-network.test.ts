// End to end: envoy.filters.network.rbac through bin/legate, before tcp_proxy and http_connection_manager, with real
// TCP peers, curl, and mTLS client certificates. Allowed connections reach the terminal filter; denied ones are closed
// before it (tcp_proxy never connects upstream). Counted in <stat_prefix>.rbac.{allowed,denied} and
// <stat_prefix>.rbac.<shadow_rules_stat_prefix>shadow_{allowed,denied}.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { backendBootstrap, bootstrap, cluster, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable, type IssuedCert } from '../tls/support/test-pki.ts';
import { issueMtlsPeers, curlWithCert } from '../support/mtls-peers.ts';

const NRBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';

/** A network RBAC filter entry (6-space indent) with `body` as its typed_config's other fields (10-space indent). */
function rbacFilter(body: string): string {
  return `      - name: envoy.filters.network.rbac
        typed_config:
          "@type": ${NRBAC}
${body}`;
}

function tcpProxy(statPrefix: string, clusterName: string): string {
  return `      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${statPrefix}
          cluster: ${clusterName}
`;
}

function plainListener(name: string, port: number, filters: string): string {
  return `  - name: ${name}
    address:
      socket_address: { address: 127.0.0.1, port_value: ${port} }
    filter_chains:
    - filters:
${filters}`;
}

interface Echo {
  port: number;
  accepted: number;
  close(): Promise<void>;
}

async function echoServer(): Promise<Echo> {
  const sockets = new Set<net.Socket>();
  const e = { port: 0, accepted: 0, close: async () => {} };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    e.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  e.port = (server.address() as net.AddressInfo).port;
  e.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return e;
}

/** Sends `data` and a FIN; resolves with what came back once the proxy closes (bounded). */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = net.connect({ host: '127.0.0.1', port }, () => c.end(data));
    c.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.on('error', () => {});
    c.on('close', () => resolve(got));
    c.setTimeout(20_000, () => {
      c.destroy();
      reject(new Error(`no close from 127.0.0.1:${port}`));
    });
  });
}

describe('network RBAC before tcp_proxy and the connection manager', () => {
  let legate: LegateProcess;
  let echo: Echo;
  let up: TestUpstream;
  let allowedPort: number;
  let deniedPort: number;
  let httpPort: number;
  let httpDeniedPort: number;

  before(async () => {
    echo = await echoServer();
    up = await startUpstream('nrbac');
    allowedPort = await freePort();
    deniedPort = await freePort();
    httpPort = await freePort();
    httpDeniedPort = await freePort();
    const listeners = [
      plainListener('tcp_allowed', allowedPort, rbacFilter(`          stat_prefix: tcp_allowed
          rules:
            policies:
              local-clients:
                permissions: [{ destination_port: ${allowedPort} }]
                principals: [{ remote_ip: { address_prefix: 127.0.0.0, prefix_len: 8 } }]
          shadow_rules_stat_prefix: audit.
          shadow_rules:
            action: DENY
            policies:
              would-deny-loopback:
                permissions: [{ any: true }]
                principals: [{ direct_remote_ip: { address_prefix: 127.0.0.1, prefix_len: 32 } }]
`) + tcpProxy('tcp_allowed', 'echo')),
      plainListener('tcp_denied', deniedPort, rbacFilter(`          stat_prefix: tcp_denied
          enforcement_type: CONTINUOUS
          rules:
            action: ALLOW
            policies:
              other-network:
                permissions: [{ any: true }]
                principals: [{ source_ip: { address_prefix: 10.0.0.0, prefix_len: 8 } }]
`) + tcpProxy('tcp_denied', 'echo')),
      plainListener('http_allowed', httpPort, rbacFilter(`          stat_prefix: http_allowed
          rules:
            action: DENY
            policies:
              not-this-port:
                permissions: [{ not_rule: { destination_port_range: { start: ${httpPort}, end: ${httpPort + 1} } } }]
                principals: [{ any: true }]
`) + routeAllHcm('http_allowed', 'backend')),
      plainListener('http_denied', httpDeniedPort, rbacFilter(`          stat_prefix: http_denied
          rules:
            action: DENY
            policies:
              everyone:
                permissions: [{ destination_ip: { address_prefix: 127.0.0.0, prefix_len: 8 } }]
                principals: [{ any: true }]
`) + routeAllHcm('http_denied', 'backend')),
    ];
    const clusters = [
      cluster({ name: 'echo', endpoints: [{ address: '127.0.0.1', port: echo.port }] }),
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
    ];
    legate = await startLegate({ config: bootstrap(listeners, clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await echo?.close();
    await up?.close();
  });

  it('tcp_proxy: an allowed connection is proxied; a denied one is closed before any upstream connection', async () => {
    assert.equal(await exchange(allowedPort, 'hello'), 'hello');
    assert.equal(echo.accepted, 1);
    assert.equal(await exchange(deniedPort, 'hello'), '');
    assert.equal(echo.accepted, 1, 'the denied connection never reached the upstream');
    const stats = await legate.statsMap();
    assert.equal(stats.get('tcp_allowed.rbac.allowed'), 1);
    assert.equal(stats.get('tcp_allowed.rbac.audit.shadow_denied'), 1);
    assert.equal(stats.get('tcp_denied.rbac.denied'), 1);
    assert.equal(stats.get('tcp_denied.rbac.allowed') ?? 0, 0);
    assert.equal(stats.get(`listener.127.0.0.1_${deniedPort}.downstream_cx_active`), 0);
  });

  it('http_connection_manager: allowed requests are served; a denied connection gets no response', async () => {
    const ok = await curl([`http://127.0.0.1:${httpPort}/x`]);
    assert.equal(ok.status, 200);
    const denied = await curl([`http://127.0.0.1:${httpDeniedPort}/x`]);
    assert.equal(denied.status, 0);
    assert.notEqual(denied.exitCode, 0);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http_allowed.rbac.allowed'), 1);
    assert.equal(stats.get('http_denied.rbac.denied'), 1);
    assert.equal(up.seen.length, 1);
  });
});

describe('network RBAC: authenticated principals on a TLS chain', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let pki: TestPki;
  let port: number;
  let alice: IssuedCert;
  let bob: IssuedCert;

  before(async () => {
    up = await startUpstream('nrbac-mtls');
    pki = TestPki.create();
    const peers = issueMtlsPeers(pki);
    alice = peers.alice;
    bob = peers.bob;
    port = await freePort();
    const listener = tlsListener({
      name: 'mtls', port, certPath: peers.server.certPath, keyPath: peers.server.keyPath, clientCaPath: pki.ca.certPath,
      filters: rbacFilter(`          stat_prefix: mtls
          rules:
            policies:
              alice-only:
                permissions: [{ requested_server_name: { exact: edge.test } }]
                principals: [{ authenticated: { principal_name: { prefix: "spiffe://legate.test/alice" } } }]
`) + routeAllHcm('mtls', 'backend'),
    });
    legate = await startLegate({ config: backendBootstrap([listener], up.port), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    pki?.remove();
  });

  const get = (who: IssuedCert) => curlWithCert(who, ['--resolve', `edge.test:${port}:127.0.0.1`, `https://edge.test:${port}/`]);

  it('lets the named client certificate (URI SAN) with the right SNI in, closes the others', async () => {
    assert.equal((await get(alice)).status, 200);
    const b = await get(bob);
    assert.equal(b.status, 0);
    const noSni = await curlWithCert(alice, [`https://127.0.0.1:${port}/`]);
    assert.equal(noSni.status, 0);
    const stats = await legate.statsMap();
    assert.equal(stats.get('mtls.rbac.allowed'), 1);
    assert.equal(stats.get('mtls.rbac.denied'), 2);
    assert.equal(up.seen.length, 1);
  });
});
