// End to end: clusters with transport_socket envoy.transport_sockets.tls (UpstreamTlsContext) through bin/legate
// to real Node https servers: verified against trusted_ca with SAN matching, SNI and ALPN sent as configured; a
// wrong CA or a SAN mismatch is a connect failure (503 UF, upstream_cx_connect_fail, cluster ssl.* counters,
// %UPSTREAM_TRANSPORT_FAILURE_REASON% says why); an upstream requiring mTLS is served with the client certificate.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable, type IssuedCert, type TestCa } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';

interface HttpsPeer {
  port: number;
  close(): Promise<void>;
}

/** Answers JSON: the SNI and ALPN it saw and the client certificate's CN ('' without one). */
async function httpsPeer(cert: IssuedCert, opts: https.ServerOptions = {}): Promise<HttpsPeer> {
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ['http/1.1'], ...opts }, (req, res) => {
    const s = req.socket as tls.TLSSocket;
    const peer = s.getPeerX509Certificate();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ sni: s.servername || '', alpn: s.alpnProtocol || '', client: peer?.subject.replace(/^CN=/, '') ?? '' }));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function tlsCluster(name: string, port: number, ctx: string): string {
  return cluster({
    name,
    endpoints: [{ address: '127.0.0.1', port }],
    extra: `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
${ctx}`,
  });
}

function validation(ca: TestCa, san: string): string {
  return `          validation_context:
            trusted_ca: { filename: ${ca.certPath} }
            match_typed_subject_alt_names:
            - san_type: DNS
              matcher: { exact: ${san} }
`;
}

describe('upstream TLS', { skip }, () => {
  let legate: LegateProcess;
  let pki: TestPki;
  let port: number;
  let good: HttpsPeer;
  let mtls: HttpsPeer;
  let logPath: string;
  let otherCa: TestCa;
  let h2peer: http2.Http2SecureServer;
  let tcpPort: number;

  before(async () => {
    pki = TestPki.create();
    otherCa = pki.makeCa('Some Other CA');
    const serverCert = pki.issue('backend', { sans: ['DNS:backend.test'] });
    const clientCert = pki.issue('legate-client', { cn: 'legate-client' });
    good = await httpsPeer(serverCert);
    // An HTTP/2 upstream over TLS (ALPN h2 only): answers with the protocol and SNI it saw.
    h2peer = http2.createSecureServer({ cert: serverCert.certPem, key: serverCert.keyPem, ALPNProtocols: ['h2'] }, (req, res) => {
      const s = req.stream.session?.socket as tls.TLSSocket;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: req.httpVersion, alpn: s.alpnProtocol || '', sni: s.servername || '', scheme: req.headers[':scheme'] }));
    });
    await new Promise<void>((r) => h2peer.listen(0, '127.0.0.1', r));
    mtls = await httpsPeer(serverCert, { requestCert: true, rejectUnauthorized: true, ca: pki.ca.certPem });
    logPath = path.join(tempDir(), 'access.log');
    const routes = ['ok', 'wrong_ca', 'san', 'mtls', 'mtls_nocert', 'h2tls', 'auto_h2', 'auto_h1'].map((c) => ({
      match: `{ path: "/${c}" }`,
      action: `route: { cluster: ${c} }`,
    }));
    const listener = hcmListener({
      name: 'edge',
      routes,
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\\n"
`,
    });
    const sni = '        sni: backend.test\n';
    const common = (v: string, extra = ''): string => `        common_tls_context:\n          alpn_protocols: [http/1.1]\n${extra}${v}`;
    const clientCertYaml = `          tls_certificates:
          - certificate_chain: { filename: ${clientCert.certPath} }
            private_key: { filename: ${clientCert.keyPath} }
`;
    const tcpListener = `  - name: tcp_tls
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp_tls
          cluster: ok
`;
    const h2Options = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
`;
    const h2tls = tlsCluster('h2tls', (h2peer.address() as net.AddressInfo).port, sni + `        common_tls_context:\n${validation(pki.ca, 'backend.test')}`)
      .replace('    load_assignment:', `${h2Options}    load_assignment:`);
    const autoOptions = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        auto_config: { http2_protocol_options: {} }
`;
    const autoCluster = (name: string, peerPort: number): string => tlsCluster(name, peerPort, sni + `        common_tls_context:\n${validation(pki.ca, 'backend.test')}`)
      .replace('    load_assignment:', `${autoOptions}    load_assignment:`);
    legate = await startLegate({
      concurrency: 2,
      config: bootstrap([listener, tcpListener], [
        h2tls,
        autoCluster('auto_h2', (h2peer.address() as net.AddressInfo).port),
        autoCluster('auto_h1', good.port),
        tlsCluster('ok', good.port, sni + common(validation(pki.ca, 'backend.test'))),
        tlsCluster('wrong_ca', good.port, sni + common(validation(otherCa, 'backend.test'))),
        tlsCluster('san', good.port, sni + common(validation(pki.ca, 'nope.test'))),
        tlsCluster('mtls', mtls.port, common(validation(pki.ca, 'backend.test'), clientCertYaml)),
        tlsCluster('mtls_nocert', mtls.port, common(validation(pki.ca, 'backend.test'))),
      ]),
    });
    port = await legate.listenerPort('edge');
    tcpPort = await legate.listenerPort('tcp_tls');
  });

  after(async () => {
    await legate?.stop();
    await good?.close();
    h2peer?.close();
    await mtls?.close();
    pki?.remove();
  });

  it('proxies over TLS verified against trusted_ca and the SAN matcher, with the configured SNI and ALPN', async () => {
    const r = await curl([`http://127.0.0.1:${port}/ok`]);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { sni: 'backend.test', alpn: 'http/1.1', client: '' });
    // The connection is pooled and reused like a plaintext one.
    const again = await curl([`http://127.0.0.1:${port}/ok`, `http://127.0.0.1:${port}/ok`]);
    assert.equal(again.exitCode, 0);
  });

  it('an HTTP/2 cluster over TLS negotiates h2 by ALPN, verified like any TLS cluster', async () => {
    const r = await curl([`http://127.0.0.1:${port}/h2tls`]);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { version: '2.0', alpn: 'h2', sni: 'backend.test', scheme: 'https' });
  });

  it('auto_config: ALPN picks HTTP/2 with an h2 upstream and HTTP/1.1 with an http/1.1-only one', async () => {
    const h2 = await curl([`http://127.0.0.1:${port}/auto_h2`]);
    assert.equal(h2.status, 200, h2.body);
    assert.equal((JSON.parse(h2.body) as { version: string }).version, '2.0');
    // The first request to the HTTP/1.1 host learns its protocol (one extra handshake); later ones go straight on.
    for (let i = 0; i < 3; i++) {
      const h1 = await curl([`http://127.0.0.1:${port}/auto_h1`]);
      assert.equal(h1.status, 200, h1.body);
      assert.deepEqual(JSON.parse(h1.body), { sni: 'backend.test', alpn: 'http/1.1', client: '' });
    }
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.auto_h1.upstream_cx_http2_total'), 0);
    assert.ok((stats.get('cluster.auto_h1.upstream_cx_http1_total') ?? 0) >= 1);
    assert.ok((stats.get('cluster.auto_h2.upstream_cx_http2_total') ?? 0) >= 1);
  });

  it('tcp_proxy to a TLS cluster speaks TLS upstream (plaintext in, TLS out)', async () => {
    const r = await curl([`http://127.0.0.1:${tcpPort}/ok`]);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { sni: 'backend.test', alpn: 'http/1.1', client: '' });
  });

  it('an upstream signed by another CA is a connect failure: 503 UF, and the log says why', async () => {
    const r = await curl([`http://127.0.0.1:${port}/wrong_ca`]);
    assert.equal(r.status, 503);
    assert.match(r.body, /upstream connect error/);
  });

  it('a SAN that does not match is a connect failure: 503', async () => {
    const r = await curl([`http://127.0.0.1:${port}/san`]);
    assert.equal(r.status, 503);
  });

  it('an upstream requiring mTLS is served with the client certificate, and refuses the cluster without one', async () => {
    const r = await curl([`http://127.0.0.1:${port}/mtls`]);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { client: string }).client, 'legate-client');
    const refused = await curl([`http://127.0.0.1:${port}/mtls_nocert`]);
    assert.equal(refused.status, 503);
  });

  it('counts cluster ssl.* and upstream_cx_connect_fail, and logs UF with the TLS reason', async () => {
    const stats = await legate.statsMap();
    assert.ok((stats.get('cluster.ok.ssl.handshake') ?? 0) >= 1);
    assert.equal(stats.get('cluster.ok.upstream_cx_connect_fail'), 0);
    assert.equal(stats.get('cluster.wrong_ca.ssl.fail_verify_error'), 1);
    assert.equal(stats.get('cluster.wrong_ca.upstream_cx_connect_fail'), 1);
    assert.equal(stats.get('cluster.san.ssl.fail_verify_san'), 1);
    assert.equal(stats.get('cluster.san.upstream_cx_connect_fail'), 1);
    assert.ok((stats.get('cluster.mtls.ssl.handshake') ?? 0) >= 1);
    // TLS 1.3: the client's handshake is done before the server refuses the missing certificate, so (as with
    // Envoy) the refusal is a reset of the connection in use (UC), not a connect failure.
    assert.equal(stats.get('cluster.mtls_nocert.upstream_cx_connect_fail'), 0);
    // 3 × /ok, /h2tls, /auto_h2, 3 × /auto_h1, then one line per failing or mTLS request.
    const lines = await waitForLines(logPath, 12);
    const line = (p: string): string => lines.find((l) => l.startsWith(`${p} `)) ?? '';
    assert.match(line('/wrong_ca'), /^\/wrong_ca 503 UF TLS_error:\|UNABLE_TO_VERIFY_LEAF_SIGNATURE:.*:TLS_error_end$/);
    assert.match(line('/san'), /^\/san 503 UF TLS_error:\|ERR_LEGATE_TLS_PEER_REJECTED:.*fail_verify_san.*:TLS_error_end$/);
    assert.match(line('/ok'), /^\/ok 200 - -$/);
    assert.match(line('/mtls_nocert'), /^\/mtls_nocert 503 UC /);
  });
});

async function waitForLines(file: string, n: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
    if (lines.length >= n) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
}
