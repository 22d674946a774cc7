// End to end: TLS termination on a listener filter chain (transport_socket envoy.transport_sockets.tls with a
// DownstreamTlsContext), driven by curl over HTTPS to a real upstream; plaintext on the TLS port gets no answer;
// ALPN picks HTTP/2 or HTTP/1.1 on one port (curl, nghttp, h2load).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';
const run = promisify(execFile);

describe('downstream TLS', { skip }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  let h2Port: number;
  let pki: TestPki;

  before(async () => {
    pki = TestPki.create();
    const cert = pki.issue('edge', { sans: ['DNS:edge.test', 'IP:127.0.0.1'] });
    up = await startUpstream('tls');
    const listener = tlsListener({ name: 'https', listenerStatPrefix: 'https', certPath: cert.certPath, keyPath: cert.keyPath, alpn: ['http/1.1'], filters: routeAllHcm('https', 'backend') });
    const h2Listener = tlsListener({ name: 'h2s', certPath: cert.certPath, keyPath: cert.keyPath, alpn: ['h2', 'http/1.1'], filters: routeAllHcm('h2s', 'backend') });
    legate = await startLegate({
      config: bootstrap([listener, h2Listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
      concurrency: 2,
    });
    port = await legate.listenerPort('https');
    h2Port = await legate.listenerPort('h2s');
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
    assert.equal(stats.get('listener.https.downstream_cx_active'), 0);
  });

  it('ALPN on one port: HTTP/2 for clients offering h2 (curl, nghttp, h2load), HTTP/1.1 for the others', async () => {
    const h2 = await curl(['--http2', '--cacert', pki.ca.certPath, '-w', '\n%{http_version}', `https://127.0.0.1:${h2Port}/echo/alpn-h2`]);
    assert.equal(h2.exitCode, 0);
    assert.equal(h2.status, 200);
    assert.ok(h2.body.endsWith('\n2'), `curl saw HTTP version ${h2.body.slice(h2.body.lastIndexOf('\n') + 1)}`);
    const seen = JSON.parse(h2.body.slice(0, h2.body.lastIndexOf('\n'))) as { url: string; headers: Record<string, string> };
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    const h1 = await curl(['--http1.1', '--cacert', pki.ca.certPath, '-w', '\n%{http_version}', `https://127.0.0.1:${h2Port}/echo/alpn-h1`]);
    assert.equal(h1.status, 200);
    assert.ok(h1.body.endsWith('\n1.1'), h1.body);
    const { stdout } = await run('nghttp', ['-v', '-n', '-t', '10', '-m', '5', `https://127.0.0.1:${h2Port}/nghttp-tls`]);
    assert.match(stdout, /The negotiated protocol: h2/);
    assert.equal((stdout.match(/recv \(stream_id=\d+\) :status: 200/g) ?? []).length, 5, stdout.slice(0, 3000));
    const load = await run('h2load', ['-n', '200', '-c', '4', '-m', '10', `https://127.0.0.1:${h2Port}/h2load-tls`]);
    assert.match(load.stdout, /Application protocol: h2/);
    assert.match(load.stdout, /requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored/, load.stdout);
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.h2s.downstream_rq_http2_total') ?? 0) >= 206, 'counted as HTTP/2 requests');
    assert.ok((stats.get('http.h2s.downstream_rq_http1_total') ?? 0) >= 1, 'and the HTTP/1.1 one as HTTP/1.1');
  });
});
