// End to end: envoy.filters.listener.tls_inspector through bin/legate. One port, five filter chains: two TLS
// chains chosen by SNI (curl --resolve, openssl s_client -servername), one TLS chain chosen by ALPN, a TLS chain
// for any other hello, and a raw_buffer chain (tcp_proxy) for plain TCP. The bytes the inspector read reach the
// chain unchanged; a client that speaks only after the server does reaches the raw_buffer chain once
// listener_filters_timeout passes (continue_on_listener_filters_timeout); tls_inspector.* counts all of it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, directResponseHcm } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { TestPki, opensslAvailable, opensslClient, type IssuedCert } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';

const TLS_CTX = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

function tlsSocket(cert: IssuedCert, alpn: string[] = []): string {
  return `      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": ${TLS_CTX}
          common_tls_context:
            alpn_protocols: ${JSON.stringify(alpn)}
            tls_certificates:
            - certificate_chain: { filename: ${cert.certPath} }
              private_key: { filename: ${cert.keyPath} }
`;
}

function directChain(name: string, match: string, socket: string): string {
  return `    - name: ${name}
      filter_chain_match: ${match}
${socket}      filters:
${directResponseHcm(name, name)}`;
}

/** Writes a greeting first (a server-speaks-first protocol), then echoes. */
async function greetingEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write('220 ready\n');
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Connects, optionally writes, and resolves once `want` has arrived (or the connection closed). */
function tcpUntil(port: number, write: string | null, want: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const c = net.connect({ host: '127.0.0.1', port }, () => {
      if (write !== null) c.write(write);
    });
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      got += d;
      if (got.includes(want)) c.destroy();
    });
    c.on('error', () => {});
    c.on('close', () => resolve(got));
  });
}

function subjectOf(output: string): string {
  return /subject=.*?CN\s*=\s*([^\n,]+)/.exec(output)?.[1]?.trim() ?? '';
}

describe('tls_inspector', { skip }, () => {
  let legate: LegateProcess;
  let pki: TestPki;
  let port: number;
  let peer: { port: number; close(): Promise<void> };
  let certs: Record<string, IssuedCert>;

  before(async () => {
    pki = TestPki.create();
    certs = {
      a: pki.issue('a', { sans: ['DNS:a.test'] }),
      b: pki.issue('b', { sans: ['DNS:b.test'] }),
      alpn: pki.issue('alpn', { sans: ['DNS:alpn.test'] }),
      other: pki.issue('other', { sans: ['DNS:other.test'] }),
    };
    peer = await greetingEcho();
    const listener = `  - name: multi
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector
    listener_filters_timeout: 1s
    continue_on_listener_filters_timeout: true
    filter_chains:
${directChain('chain-a', '{ server_names: [a.test] }', tlsSocket(certs.a!))}${directChain('chain-b', '{ server_names: ["*.b.test", b.test] }', tlsSocket(certs.b!))}${directChain('chain-alpn', '{ transport_protocol: tls, application_protocols: [legate-test] }', tlsSocket(certs.alpn!, ['legate-test', 'http/1.1']))}${directChain('chain-tls', '{ transport_protocol: tls }', tlsSocket(certs.other!))}    - name: chain-raw
      filter_chain_match: { transport_protocol: raw_buffer }
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: raw
          cluster: greeter
`;
    legate = await startLegate({
      config: bootstrap([listener], [cluster({ name: 'greeter', endpoints: [{ address: '127.0.0.1', port: peer.port }] })]),
      concurrency: 2,
    });
    port = await legate.listenerPort('multi');
  });

  after(async () => {
    await legate?.stop();
    await peer?.close();
    pki?.remove();
  });

  it('has no "does not inspect" warning any more', () => {
    assert.doesNotMatch(legate.stderr, /does not inspect|needs the envoy\.filters\.listener\.tls_inspector/);
  });

  it('chooses the TLS chain by SNI (curl --resolve): a.test, b.test and a *.b.test name', async () => {
    for (const [host, body] of [['a.test', 'chain-a'], ['b.test', 'chain-b'], ['x.b.test', 'chain-b'], ['A.TEST', 'chain-a']] as const) {
      const r = await curl(['-k', '--resolve', `${host}:${port}:127.0.0.1`, `https://${host}:${port}/`]);
      assert.equal(r.exitCode, 0, host);
      assert.equal(r.body, body, host);
    }
    // Verified against the CA: the chain served a.test's own certificate.
    const v = await curl(['--cacert', pki.ca.certPath, '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`]);
    assert.equal(v.body, 'chain-a');
  });

  it('chooses by SNI with openssl s_client -servername, and by ALPN, and any other hello gets the plain TLS chain', async () => {
    const b = await opensslClient(port, ['-servername', 'b.test']);
    assert.equal(subjectOf(b.output), 'b.test', b.output);
    const alpn = await opensslClient(port, ['-servername', 'nothing.test', '-alpn', 'legate-test']);
    assert.equal(subjectOf(alpn.output), 'alpn.test', alpn.output);
    assert.match(alpn.output, /ALPN protocol: legate-test/);
    const other = await opensslClient(port, ['-servername', 'nothing.test', '-alpn', 'h2,http/1.1']);
    assert.equal(subjectOf(other.output), 'other.test', other.output);
    const none = await opensslClient(port, ['-noservername']);
    assert.equal(subjectOf(none.output), 'other.test', none.output);
  });

  it('plain TCP goes to the raw_buffer chain with its first bytes intact', async () => {
    const got = await tcpUntil(port, 'hello over plain tcp\n', 'hello over plain tcp\n');
    assert.equal(got, '220 ready\nhello over plain tcp\n');
  });

  it('a client waiting for the server to speak first reaches the raw_buffer chain after listener_filters_timeout', async () => {
    const before = (await legate.statsMap()).get('listener.127.0.0.1_0.downstream_pre_cx_timeout') ?? 0;
    const got = await tcpUntil(port, null, '220 ready\n');
    assert.equal(got, '220 ready\n');
    const stats = await legate.statsMap();
    assert.equal(stats.get('listener.127.0.0.1_0.downstream_pre_cx_timeout'), before + 1);
  });

  it('counts tls_inspector.* as Envoy does', async () => {
    const stats = await legate.statsMap();
    const s = (n: string): number => stats.get(`tls_inspector.${n}`) ?? -1;
    // 5 curl + 4 s_client TLS hellos; 1 plain TCP connection with bytes (the silent one timed out before any).
    assert.equal(s('tls_found'), 9);
    assert.equal(s('tls_not_found'), 1);
    assert.equal(s('sni_found'), 8);
    assert.equal(s('sni_not_found'), 1);
    // curl offers h2,http/1.1; s_client without -alpn offers none (b.test, -noservername).
    assert.equal(s('alpn_found'), 7);
    assert.equal(s('alpn_not_found'), 2);
    assert.equal(s('client_hello_too_large'), 0);
    assert.equal(stats.get('listener.127.0.0.1_0.downstream_pre_cx_active'), 0);
    assert.equal(stats.get('listener.127.0.0.1_0.no_filter_chain_match'), 0);
  });

  it('a ClientHello that does not end within 64 KiB is too large: the connection closes, others are served', async () => {
    const stats0 = await legate.statsMap();
    const before = stats0.get('tls_inspector.client_hello_too_large') ?? 0;
    // A hello declaring 60 KiB: one record of 16 KiB, then 1-byte records (6 bytes each on the wire), so 64 KiB
    // arrive long before the hello ends.
    const got = await new Promise<string>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        const records: Buffer[] = [Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0xf0, 0x00]), Buffer.alloc(0x4000 - 4)];
        const tiny = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, 0x00]);
        for (let i = 0; i < 9000; i++) records.push(tiny);
        c.write(Buffer.concat(records));
      });
      let data = '';
      c.on('data', (d) => (data += d.toString('latin1')));
      c.on('error', () => {});
      c.on('close', () => resolve(data));
    });
    assert.equal(got, '');
    const r = await curl(['-k', '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`]);
    assert.equal(r.body, 'chain-a');
    const stats = await legate.statsMap();
    assert.equal(stats.get('tls_inspector.client_hello_too_large'), before + 1);
  });
});
