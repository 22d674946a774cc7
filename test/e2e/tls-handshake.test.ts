// End to end: downstream TLS handshakes that go wrong, through bin/legate. transport_socket_connect_timeout closes
// a client that stalls mid-handshake while another client is served; garbage instead of a ClientHello, a missing
// or wrong client certificate are refused and counted under listener.<address>.ssl.* as Envoy names them, and
// never disturb the other connections.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, directResponseHcm } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable, opensslClient, type IssuedCert } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';


/** A listener on port 0 with its name as its stat_prefix (listener.<name>.*). */
function listener(name: string, cert: IssuedCert, tlsExtra: string, chainExtra: string): string {
  return `  - name: ${name}
    stat_prefix: ${name}
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - ${chainExtra}transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
${tlsExtra}          common_tls_context:
            tls_certificates:
            - certificate_chain: { filename: ${cert.certPath} }
              private_key: { filename: ${cert.keyPath} }
            validation_context:
              trusted_ca: { filename: ${'CA_PATH'} }
              match_typed_subject_alt_names:
              - san_type: DNS
                matcher: { exact: good-client.test }
      filters:
${directResponseHcm(name, 'served')}`;
}

/** Opens a TCP connection, writes `bytes`, and resolves (with what came back) when the server closes it. */
function rawUntilClosed(port: number, bytes: Buffer): { closed: Promise<string>; socket: net.Socket } {
  const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
  let got = '';
  const closed = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
  });
  return { closed, socket };
}

const FIXTURE = path.join(import.meta.dirname, '../tls/fixtures/client-hello/openssl-tls13-sni-alpn.hex');

describe('downstream TLS handshakes that fail', { skip }, () => {
  let legate: LegateProcess;
  let pki: TestPki;
  let lenient: number;
  let strict: number;
  let good: IssuedCert;
  let bad: IssuedCert;

  before(async () => {
    pki = TestPki.create();
    const server = pki.issue('edge', { sans: ['DNS:edge.test'] });
    good = pki.issue('good-client', { sans: ['DNS:good-client.test'] });
    bad = pki.issue('bad-client', { sans: ['DNS:bad-client.test'] });
    const config = bootstrap([
      // Client certificates verified when sent; a stalled handshake is closed after 0.5 s.
      listener('lenient', server, '', 'transport_socket_connect_timeout: 0.5s\n      '),
      listener('strict', server, '          require_client_certificate: true\n', ''),
    ], []).replaceAll('CA_PATH', pki.ca.certPath);
    legate = await startLegate({ config, concurrency: 1 });
    lenient = await legate.listenerPort('lenient');
    strict = await legate.listenerPort('strict');
  });

  const statPrefix = (port: number): string => (port === lenient ? 'lenient' : 'strict');

  after(async () => {
    await legate?.stop();
    pki?.remove();
  });

  const stat = async (port: number, name: string): Promise<number> => (await legate.statsMap()).get(`listener.${statPrefix(port)}.${name}`) ?? -1;

  it('closes a client stalled mid-handshake at transport_socket_connect_timeout while another is served', async () => {
    const hello = Buffer.from(fs.readFileSync(FIXTURE, 'utf8').replace(/\s+/g, ''), 'hex');
    const stalled = rawUntilClosed(lenient, hello.subarray(0, 40));
    // Served while the stalled handshake is still open.
    const r = await curl(['-k', `https://127.0.0.1:${lenient}/`]);
    assert.equal(r.body, 'served');
    assert.equal(await stalled.closed, '');
    assert.equal(await stat(lenient, 'downstream_cx_transport_socket_connect_timeout'), 1);
    assert.equal(await stat(lenient, 'ssl.handshake'), 1);
    assert.equal(await stat(lenient, 'downstream_cx_active'), 0);
  });

  it('garbage instead of a ClientHello is ssl.connection_error, and the listener goes on serving', async () => {
    const garbage = rawUntilClosed(lenient, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage.closed;
    const r = await curl(['-k', `https://127.0.0.1:${lenient}/`]);
    assert.equal(r.body, 'served');
    assert.equal(await stat(lenient, 'ssl.connection_error'), 1);
    assert.equal(await stat(lenient, 'ssl.no_certificate'), 2);
  });

  it('client certificates: a wrong SAN is ssl.fail_verify_san; none when required is ssl.fail_verify_no_cert', async () => {
    const ok = await opensslClient(strict, ['-cert', good.certPath, '-key', good.keyPath, '-servername', 'edge.test']);
    assert.match(ok.output, /Verification|Peer signing digest|subject=/);
    const wrongSan = await opensslClient(lenient, ['-cert', bad.certPath, '-key', bad.keyPath]);
    const none = await opensslClient(strict, []);
    assert.ok(wrongSan.output.length > 0 && none.output.length > 0);
    const stats = await legate.statsMap();
    const s = (port: number, n: string): number => stats.get(`listener.${statPrefix(port)}.ssl.${n}`) ?? -1;
    assert.equal(s(lenient, 'fail_verify_san'), 1);
    assert.equal(s(strict, 'fail_verify_no_cert'), 1);
    assert.equal(s(strict, 'handshake'), 1);
    assert.equal(s(strict, 'no_certificate'), 0);
    // Still serving with a good certificate.
    const r = await curl(['-k', '--cert', good.certPath, '--key', good.keyPath, `https://127.0.0.1:${strict}/`]);
    assert.equal(r.body, 'served');
  });
});
