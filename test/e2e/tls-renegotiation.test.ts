// End to end: TLS 1.2 renegotiation is refused both ways, as Envoy does. A client that renegotiates (testssl's
// "client-initiated renegotiation", `openssl s_client -legacy_renegotiation` then `R`) gets a no_renegotiation
// alert, its handshake fails and the connection ends without another request being served; an upstream that
// asks Legate to renegotiate (HelloRequest) is refused the same way and the request fails instead.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, directResponseHcm, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';

/**
 * `openssl s_client -tls1_2 -legacy_renegotiation` on `port`: sends `R` (renegotiate) once the handshake is done,
 * then a request once it says RENEGOTIATING. Resolves with everything it printed when it exits (killed after 10 s).
 */
function renegotiatingClient(port: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-legacy_renegotiation', '-crlf'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let step = 0;
    const onData = (d: Buffer): void => {
      out += d.toString('latin1');
      if (step === 0 && out.includes('---\n') && /Verify return code/.test(out)) {
        step = 1;
        child.stdin.write('R\n');
      } else if (step === 1 && out.includes('RENEGOTIATING')) {
        step = 2;
        // Sent once renegotiation started: served only if it was allowed to finish.
        setTimeout(() => child.stdin.write('GET / HTTP/1.1\nHost: x\n\n'), 200);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => undefined);
    const killer = setTimeout(() => child.kill(), 10_000);
    child.on('close', () => {
      clearTimeout(killer);
      resolve(out);
    });
  });
}

describe('TLS renegotiation is refused', { skip }, () => {
  let legate: LegateProcess;
  let pki: TestPki;
  let edge: number;
  let routed: number;
  let upstream: https.Server;
  const upstreamOutcomes: string[] = [];

  before(async () => {
    pki = TestPki.create();
    const cert = pki.issue('edge', { sans: ['DNS:edge.test'] });
    // An upstream that asks for renegotiation (TLS 1.2 HelloRequest) before it answers.
    upstream = https.createServer({ cert: cert.certPem, key: cert.keyPem, maxVersion: 'TLSv1.2' }, (req, res) => {
      const socket = req.socket as tls.TLSSocket;
      // A refusal fails the server's handshake: the socket errors (the callback only runs on success).
      socket.once('error', () => upstreamOutcomes.push('refused'));
      socket.renegotiate({ rejectUnauthorized: false }, (err) => {
        if (err !== null) return;
        upstreamOutcomes.push('renegotiated');
        res.end('renegotiated');
      });
    });
    upstream.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamPort = (upstream.address() as net.AddressInfo).port;
    const config = bootstrap(
      [
        // Its own listener stat_prefix: every listener binds port 0, so listener.127.0.0.1_0.* would be both listeners'.
        tlsListener({ name: 'edge', certPath: cert.certPath, keyPath: cert.keyPath, filters: directResponseHcm('edge', 'served') })
          .replace('    address:\n', '    stat_prefix: edge\n    address:\n'),
        tlsListener({ name: 'routed', certPath: cert.certPath, keyPath: cert.keyPath, filters: routeAllHcm('routed', 'renegotiating') }),
      ],
      [
        cluster({
          name: 'renegotiating',
          endpoints: [{ address: '127.0.0.1', port: upstreamPort }],
          extra: `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
`,
        }),
      ],
    );
    legate = await startLegate({ config, concurrency: 1 });
    edge = await legate.listenerPort('edge');
    routed = await legate.listenerPort('routed');
  });

  after(async () => {
    await legate?.stop();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => (upstream === undefined ? r() : upstream.close(() => r())));
    pki?.remove();
  });

  it('a client renegotiating over TLS 1.2 gets no_renegotiation and the connection ends unserved', async () => {
    const out = await renegotiatingClient(edge);
    assert.match(out, /RENEGOTIATING/);
    assert.match(out, /no renegotiation/);
    assert.doesNotMatch(out, /served/);
    // The listener goes on serving, and the refused connection is gone.
    const r = await curl(['-k', `https://127.0.0.1:${edge}/`]);
    assert.equal(r.body, 'served');
    await waitUntil(async () => (await legate.statsMap()).get('listener.edge.downstream_cx_active') === 0, () => 'connections still active');
  });

  it('an upstream asking Legate to renegotiate is refused: the request fails, it is never renegotiated', async () => {
    const r = await curl(['-k', `https://127.0.0.1:${routed}/`]);
    assert.equal(r.status, 503);
    await waitUntil(() => upstreamOutcomes.length > 0, () => 'the upstream saw no outcome');
    assert.deepEqual(upstreamOutcomes, ['refused']);
  });
});
