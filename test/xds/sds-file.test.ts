// End to end: SDS from files (sds_config path_config_source / path), with a static bootstrap. A listener's certificate
// comes from a secret file: node:tls sees cert A; cert B renamed into place is served to new connections (no reload)
// while a connection opened before keeps working; a file whose key is not the certificate's is refused with
// file:line:col and field path, counted, and B stays; /config_dump shows the secrets with the key redacted. An
// upstream TLS cluster's validation context from a secret file: rotating the CA makes the upstream's certificate
// stop verifying (503) and start again.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { waitUntil } from '../support/polling.ts';
import { KeptTlsConnection } from '../support/kept-tls-connection.ts';
import { TestPki, opensslAvailable, type IssuedCert, type TestCa } from '../tls/support/test-pki.ts';
import { XdsControlPlane, SDS_TYPE_URL, adsBootstrap, type XdsSnapshot } from '../support/xds-control-plane.ts';

const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

function certSecretFile(version: string, cert: string, key: string): string {
  // JSON is YAML: one key a line, so a problem's line says which field.
  return `${JSON.stringify({
    version_info: version,
    resources: [{ '@type': SECRET, name: 'server_cert', tls_certificate: { certificate_chain: { inline_string: cert }, private_key: { inline_string: key } } }],
  }, null, 2)}\n`;
}

function caSecretFile(version: string, ca: string): string {
  return `${JSON.stringify({ version_info: version, resources: [{ '@type': SECRET, name: 'upstream_ca', validation_context: { trusted_ca: { inline_string: ca } } }] }, null, 2)}\n`;
}

/** Written aside and renamed into place, as cert-manager and most tools do. */
function replaceFile(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * A Kubernetes secret volume's update: the files go into a new timestamped directory, then the `..data` symlink is
 * swapped to it by a rename (the file the config names is `<dir>/server.yaml` -> `..data/server.yaml`).
 */
function kubernetesSwap(dir: string, generation: string, files: Record<string, string>): void {
  const target = path.join(dir, `..${generation}`);
  fs.mkdirSync(target);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(target, name), text);
  fs.symlinkSync(`..${generation}`, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
}

function secureListener(dir: string): string {
  return `  - name: secure
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificate_sds_secret_configs:
            - name: server_cert
              sds_config: { path: ${dir}/server.yaml }
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: secure
          route_config: { name: local, virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, direct_response: { status: 200, body: { inline_string: secret ok } } }] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`;
}

function bootstrap(dir: string, upstreamPort: number): string {
  return `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
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
              sds_config:
                path_config_source: { path: ${dir}/server.yaml, watched_directory: { path: ${dir} } }
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: secure
          route_config: { name: local, virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, direct_response: { status: 200, body: { inline_string: secret ok } } }] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  - name: plain
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: plain
          route_config: { name: up, virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: tls_up } }] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  clusters:
  - name: tls_up
    connect_timeout: 2s
    type: STATIC
    load_assignment: { cluster_name: tls_up, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } } }] }] }
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          validation_context_sds_secret_config: { name: upstream_ca, sds_config: { path: ${dir}/ca.yaml } }
`;
}

async function servedSerial(port: number, ca: string): Promise<string> {
  const c = await KeptTlsConnection.open(port, ca, 'sds.test', 'secret ok');
  const serial = c.serial;
  c.close();
  return serial;
}

async function statusThroughPlain(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return res.status;
}

describe('xds: SDS secrets from files', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  let pki: TestPki;
  let certA: IssuedCert;
  let certB: IssuedCert;
  let upstreamCert: IssuedCert;
  let otherCa: TestCa;
  let upstream: https.Server;
  let legate: LegateProcess;
  let dir: string;
  let securePort: number;
  let plainPort: number;

  before(async () => {
    pki = TestPki.create();
    certA = pki.issue('a', { sans: ['DNS:sds.test'] });
    certB = pki.issue('b', { sans: ['DNS:sds.test'] });
    upstreamCert = pki.issue('up', { sans: ['IP:127.0.0.1'] });
    otherCa = pki.makeCa('Another CA');
    // Each response closes its connection: every request makes a new upstream handshake (Envoy, too, keeps pooled
    // connections across a secret rotation; only new ones use the new CA).
    upstream = https.createServer({ cert: upstreamCert.certPem, key: upstreamCert.keyPem }, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('upstream ok');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    dir = tempDir('legate-sds-file-');
    kubernetesSwap(dir, 'v1', { 'server.yaml': certSecretFile('a', certA.certPem, certA.keyPem) });
    fs.symlinkSync('..data/server.yaml', path.join(dir, 'server.yaml'));
    fs.writeFileSync(path.join(dir, 'ca.yaml'), caSecretFile('ca1', pki.ca.certPem));
    legate = await startLegate({ config: bootstrap(dir, (upstream.address() as AddressInfo).port), concurrency: 2, args: ['--drain-time-s', '0'] });
    securePort = await legate.listenerPort('secure');
    plainPort = await legate.listenerPort('plain');
  });

  after(async () => {
    await legate?.stop();
    upstream?.close();
    pki?.remove();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the certificate of the secret file', async () => {
    assert.equal(await servedSerial(securePort, pki.ca.certPem), certA.serialNumber);
    const stats = await legate.statsMap();
    assert.equal(stats.get('sds.server_cert.update_success'), 1);
    assert.equal(stats.get('sds.server_cert.update_attempt'), 1);
    assert.equal(stats.get('sds.upstream_ca.update_success'), 1);
  });

  it('rotates to a certificate swapped in (watched_directory, a Kubernetes ..data swap) for new connections; a connection opened before keeps working', async () => {
    const old = await KeptTlsConnection.open(securePort, pki.ca.certPem, 'sds.test', 'secret ok');
    assert.match(await old.get('sds.test'), /200 OK/);
    kubernetesSwap(dir, 'v2', { 'server.yaml': certSecretFile('b', certB.certPem, certB.keyPem) });
    // Both workers: several new connections in a row, each must see B.
    await waitUntil(async () => {
      for (let i = 0; i < 4; i++) if (await servedSerial(securePort, pki.ca.certPem) !== certB.serialNumber) return false;
      return true;
    }, () => 'the new certificate was not served', 10_000);
    assert.match(await old.get('sds.test'), /200 OK/);
    assert.equal(old.serial, certA.serialNumber);
    old.close();
    await waitUntil(async () => (await legate.statsMap()).get('sds.server_cert.update_success') === 2, () => 'update_success 2', 5000);
  });

  it('refuses a file renamed into place whose key is not the certificate\'s (file:line:col, field path), counts it, keeps B', async () => {
    const from = legate.stderr.length;
    const before = (await legate.statsMap()).get('sds.server_cert.update_rejected') ?? 0;
    replaceFile(path.join(dir, 'server.yaml'), certSecretFile('bad', certA.certPem, certB.keyPem));
    const m = await legate.waitForLog(/server\.yaml:(\d+):(\d+): resources\[0\]\.tls_certificate\.private_key: the private key does not match/, 10_000, from);
    assert.ok(Number(m[1]) > 1);
    await waitUntil(async () => (await legate.statsMap()).get('sds.server_cert.update_rejected') === before + 1, () => 'update_rejected counted', 5000);
    assert.ok(!legate.stderr.slice(from).includes('PRIVATE KEY'), 'the key is never logged');
    assert.equal(await servedSerial(securePort, pki.ca.certPem), certB.serialNumber);
    // An unparseable file too.
    replaceFile(path.join(dir, 'server.yaml'), '{ resources: [ nope');
    await waitUntil(async () => (await legate.statsMap()).get('sds.server_cert.update_rejected') === before + 2, () => 'the unparseable file counted', 5000);
    assert.equal(await servedSerial(securePort, pki.ca.certPem), certB.serialNumber);
  });

  it('shows the secrets in /config_dump with the private key redacted', async () => {
    const dump = JSON.parse((await legate.admin('/config_dump')).body) as { configs: Record<string, unknown>[] };
    const secrets = dump.configs.find((c) => String(c['@type']).endsWith('SecretsConfigDump')) as { dynamic_active_secrets: Record<string, unknown>[] };
    const server = secrets.dynamic_active_secrets.find((s) => s['name'] === 'server_cert')!;
    assert.equal(server['version_info'], 'b');
    const text = JSON.stringify(server);
    assert.match(text, /\[redacted\]/);
    assert.ok(!text.includes('PRIVATE KEY'));
    assert.ok(secrets.dynamic_active_secrets.some((s) => s['name'] === 'upstream_ca'));
    // The refused file (the last one was unparseable) is the secret's error_state.
    const errorState = server['error_state'] as { details: string } | undefined;
    assert.ok(errorState !== undefined && errorState.details.includes('server.yaml'), text);
    assert.equal(server['client_status'], 'NACKED');
  });

  it('verifies the upstream with the CA from a secret file, and follows its rotation', async () => {
    assert.equal(await statusThroughPlain(plainPort), 200);
    replaceFile(path.join(dir, 'ca.yaml'), caSecretFile('ca2', otherCa.certPem));
    await waitUntil(async () => (await statusThroughPlain(plainPort)) === 503, () => 'the upstream still verified with the old CA', 10_000);
    replaceFile(path.join(dir, 'ca.yaml'), caSecretFile('ca3', pki.ca.certPem));
    await waitUntil(async () => (await statusThroughPlain(plainPort)) === 200, () => 'the upstream did not verify again with the CA back', 10_000);
  });
});

describe('xds: SDS secrets from files beside an ADS stream', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  it('serves a static listener\'s certificate from a file (not asked of the control plane) and follows its rotation', async () => {
    const pki = TestPki.create();
    const dir = tempDir('legate-sds-file-ads-');
    const cp = await new XdsControlPlane().start();
    let legate: LegateProcess | undefined;
    try {
      const a = pki.issue('a', { sans: ['DNS:sds.test'] });
      const b = pki.issue('b', { sans: ['DNS:sds.test'] });
      fs.writeFileSync(path.join(dir, 'server.yaml'), certSecretFile('a', a.certPem, a.keyPem));
      cp.setSnapshot({ version: 'v1', resources: { lds: [], cds: [] } as unknown as XdsSnapshot['resources'] });
      const text = adsBootstrap(cp.port, { initialFetchTimeout: '5s' }).replace('static_resources:\n', `static_resources:\n  listeners:\n${secureListener(dir)}`);
      legate = await startLegate({ config: text, concurrency: 1, args: ['--drain-time-s', '0'] });
      const port = await legate.listenerPort('secure');
      assert.equal(await servedSerial(port, pki.ca.certPem), a.serialNumber);
      replaceFile(path.join(dir, 'server.yaml'), certSecretFile('b', b.certPem, b.keyPem));
      await waitUntil(async () => (await servedSerial(port, pki.ca.certPem)) === b.serialNumber, () => 'the new certificate was not served', 10_000);
      assert.ok(!cp.requests.some((q) => q.typeUrl === SDS_TYPE_URL && q.resourceNames.includes('server_cert')), 'a secret from a file is not subscribed to over ADS');
      const stats = await legate.statsMap();
      assert.equal(stats.get('sds.server_cert.update_success'), 2);
    } finally {
      await legate?.stop();
      cp.stop();
      pki.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('xds: SDS secrets from files named by file-based LDS', { skip: opensslAvailable() ? false : 'no openssl CLI' }, () => {
  it('reads the secret a listener from an LDS file names, and the new one a changed LDS file names', async () => {
    const pki = TestPki.create();
    const dir = tempDir('legate-sds-file-lds-');
    let legate: LegateProcess | undefined;
    try {
      const a = pki.issue('a', { sans: ['DNS:sds.test'] });
      const b = pki.issue('b', { sans: ['DNS:sds.test'] });
      fs.writeFileSync(path.join(dir, 'server.yaml'), certSecretFile('a', a.certPem, a.keyPem));
      fs.writeFileSync(path.join(dir, 'other.yaml'), certSecretFile('b', b.certPem, b.keyPem).replace('"server_cert"', '"other_cert"'));
      // The static listener's YAML as an LDS resource: the list item becomes the resource, the secret and file swapped.
      const lds = (secret: string, file: string): string => `version_info: "${secret}"
resources:
${secureListener(dir).replace('  - name: secure', '  - "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n    name: secure')
    .replace('name: server_cert', `name: ${secret}`).replace(`${dir}/server.yaml`, `${dir}/${file}`)}`;
      fs.writeFileSync(path.join(dir, 'lds.yaml'), lds('server_cert', 'server.yaml'));
      const config = `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
dynamic_resources:
  lds_config: { path_config_source: { path: ${dir}/lds.yaml } }
`;
      legate = await startLegate({ config, concurrency: 1, args: ['--drain-time-s', '0'] });
      const port = await legate.listenerPort('secure');
      assert.equal(await servedSerial(port, pki.ca.certPem), a.serialNumber);
      replaceFile(path.join(dir, 'lds.yaml'), lds('other_cert', 'other.yaml'));
      await waitUntil(async () => (await servedSerial(port, pki.ca.certPem)) === b.serialNumber, () => 'the secret the new LDS file names was not served', 10_000);
      const stats = await legate.statsMap();
      assert.equal(stats.get('sds.other_cert.update_success'), 1);
    } finally {
      await legate?.stop();
      pki.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
