// End to end: TLS termination on a listener filter chain (transport_socket envoy.transport_sockets.tls with a
// DownstreamTlsContext), driven by curl over HTTPS to a real upstream; plaintext on the TLS port gets no answer.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';

describe('downstream TLS', { skip }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  let pki: TestPki;

  before(async () => {
    pki = TestPki.create();
    const cert = pki.issue('edge', { sans: ['DNS:edge.test', 'IP:127.0.0.1'] });
    up = await startUpstream('tls');
    port = await freePort();
    const listener = tlsListener({ name: 'https', port, certPath: cert.certPath, keyPath: cert.keyPath, alpn: ['http/1.1'], filters: routeAllHcm('https', 'backend') });
    legate = await startLegate({
      config: bootstrap([listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
      concurrency: 2,
    });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('terminates TLS (verified against the CA, SNI edge.test) and proxies with x-forwarded-proto https', async () => {
    const r = await curl(['--cacert', pki.ca.certPath, '--resolve', `edge.test:${port}:127.0.0.1`, `https://edge.test:${port}/echo/secure`]);
    assert.equal(r.exitCode, 0);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/echo/secure');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    // Keep-alive over TLS: two requests on one connection.
    const two = await curl(['--cacert', pki.ca.certPath, `https://127.0.0.1:${port}/a`, `https://127.0.0.1:${port}/b`]);
    assert.equal(two.exitCode, 0);
    assert.equal(up.seen.filter((s) => s.url === '/a' || s.url === '/b').length, 2);
  });

  it('plaintext HTTP on the TLS port is not served, and the listener keeps serving TLS', async () => {
    const before = up.seen.length;
    const plain = await curl(['--max-time', '5', `http://127.0.0.1:${port}/plain`]);
    assert.notEqual(plain.status, 200);
    assert.equal(up.seen.length, before);
    const r = await curl(['--cacert', pki.ca.certPath, `https://127.0.0.1:${port}/again`]);
    assert.equal(r.status, 200);
    const stats = await legate.statsMap();
    assert.equal(stats.get(`listener.127.0.0.1_${port}.downstream_cx_active`), 0);
  });
});
