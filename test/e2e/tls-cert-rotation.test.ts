// End to end: certificate rotation without a reload, through bin/legate. A certificate file replaced by rename, and
// a Kubernetes-style secret volume whose `..data` symlink is swapped to a new directory: openssl s_client sees the
// new certificate's serial without SIGHUP, an established connection goes on untouched, /certs and
// server.days_until_first_cert_expiring follow, and a bad new file logs an error and keeps the old certificate.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, directResponseHcm, tlsListener } from '../support/config-builder.ts';
import { TestPki, opensslAvailable, opensslClient, type IssuedCert } from '../tls/support/test-pki.ts';

const skip = opensslAvailable() ? false : 'openssl is not installed';
const DAY_MS = 86_400_000;

/** A TLS listener answering with its own name. */
function namedTlsListener(name: string, certPath: string, keyPath: string): string {
  return tlsListener({ name, certPath, keyPath, filters: directResponseHcm(name, name) });
}

/** The serial of the certificate the server presented to openssl s_client (upper-case hex, as node:crypto prints). */
async function servedSerial(port: number): Promise<string> {
  const r = await opensslClient(port, []);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(r.output)?.[0];
  return pem === undefined ? '' : new X509Certificate(pem).serialNumber;
}

/** Polls s_client until the server presents `serial` (bounded; nothing here asserts how long it took). */
async function untilServed(port: number, serial: string): Promise<string> {
  let seen = '';
  for (let i = 0; i < 100; i++) {
    seen = await servedSerial(port);
    if (seen === serial) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

function copyAtomically(from: string, to: string): void {
  const tmp = `${to}.tmp-${process.pid}`;
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, to);
}

/** An HTTPS connection kept open, one request at a time over it. */
class KeptConnection {
  readonly socket: tls.TLSSocket;
  private data = '';
  private waiter: (() => void) | null = null;
  constructor(port: number) {
    this.socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.data += d;
      this.waiter?.();
    });
    this.socket.on('error', () => {});
  }
  ready(): Promise<void> {
    return new Promise((r) => this.socket.once('secureConnect', () => r()));
  }
  async get(): Promise<string> {
    this.data = '';
    this.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    while (!/\r\n\r\n[\s\S]*$/.test(this.data) || !this.data.includes('content-length')) await new Promise<void>((r) => (this.waiter = r));
    const len = Number(/content-length: (\d+)/i.exec(this.data)![1]);
    while (this.data.length < this.data.indexOf('\r\n\r\n') + 4 + len) await new Promise<void>((r) => (this.waiter = r));
    return this.data.slice(this.data.indexOf('\r\n\r\n') + 4);
  }
}

describe('certificate rotation', { skip }, () => {
  let legate: LegateProcess;
  let pki: TestPki;
  let filePort: number;
  let k8sPort: number;
  let dir: string;
  let secret: string;
  let certs: IssuedCert[];

  before(async () => {
    pki = TestPki.create();
    dir = tempDir('legate-rotation-');
    // [0] file listener now, [1] file listener after the rename, [2] k8s now (10 days: the first to expire),
    // [3] k8s after the swap.
    certs = [
      pki.issue('file-a', { sans: ['DNS:file.test'] }),
      pki.issue('file-b', { sans: ['DNS:file.test'] }),
      pki.issue('k8s-a', { sans: ['DNS:k8s.test'], days: 10 }),
      pki.issue('k8s-b', { sans: ['DNS:k8s.test'], days: 20 }),
    ];
    fs.copyFileSync(certs[0]!.certPath, path.join(dir, 'server.crt'));
    fs.copyFileSync(certs[0]!.keyPath, path.join(dir, 'server.key'));
    // What the kubelet makes of a Secret: a timestamped directory, ..data pointing at it, files through ..data.
    secret = path.join(dir, 'secret');
    fs.mkdirSync(path.join(secret, '..2024_01_01'), { recursive: true });
    fs.copyFileSync(certs[2]!.certPath, path.join(secret, '..2024_01_01', 'tls.crt'));
    fs.copyFileSync(certs[2]!.keyPath, path.join(secret, '..2024_01_01', 'tls.key'));
    fs.symlinkSync('..2024_01_01', path.join(secret, '..data'));
    fs.symlinkSync('..data/tls.crt', path.join(secret, 'tls.crt'));
    fs.symlinkSync('..data/tls.key', path.join(secret, 'tls.key'));
    legate = await startLegate({
      concurrency: 2,
      config: bootstrap([
        namedTlsListener('file', path.join(dir, 'server.crt'), path.join(dir, 'server.key')),
        namedTlsListener('k8s', path.join(secret, 'tls.crt'), path.join(secret, 'tls.key')),
      ], []),
    });
    filePort = await legate.listenerPort('file');
    k8sPort = await legate.listenerPort('k8s');
  });

  after(async () => {
    await legate?.stop();
    pki?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the configured certificates; /certs and the expiry gauge show them', async () => {
    assert.equal(await servedSerial(filePort), certs[0]!.serialNumber);
    assert.equal(await servedSerial(k8sPort), certs[2]!.serialNumber);
    const r = await legate.admin('/certs');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { certificates: { ca_cert: unknown[]; cert_chain: { path: string; serial_number: string; subject_alt_names: unknown[] }[] }[] };
    assert.deepEqual(body.certificates.map((c) => c.cert_chain.map((x) => x.serial_number)), [
      [certs[0]!.serialNumber.toLowerCase()],
      [certs[2]!.serialNumber.toLowerCase()],
    ]);
    assert.equal(body.certificates[1]!.cert_chain[0]!.path, path.join(secret, 'tls.crt'));
    assert.deepEqual(body.certificates[1]!.cert_chain[0]!.subject_alt_names, [{ dns: 'k8s.test' }]);
    assert.deepEqual(body.certificates[0]!.ca_cert, []);
    const days = Math.floor((certs[2]!.x509.validToDate.getTime() - Date.now()) / DAY_MS);
    assert.equal((await legate.statsMap()).get('server.days_until_first_cert_expiring'), days);
  });

  it('a certificate file replaced by rename is served to new connections without a reload; an open one goes on', async () => {
    const kept = new KeptConnection(filePort);
    await kept.ready();
    assert.equal(await kept.get(), 'file');
    const logFrom = legate.stderr.length;
    // Key first, then the certificate: in between the pair does not match, and the old one is kept meanwhile.
    copyAtomically(certs[1]!.keyPath, path.join(dir, 'server.key'));
    copyAtomically(certs[1]!.certPath, path.join(dir, 'server.crt'));
    assert.equal(await untilServed(filePort, certs[1]!.serialNumber), certs[1]!.serialNumber);
    // The connection made before the rotation still works, on its original certificate.
    assert.equal(await kept.get(), 'file');
    assert.equal(kept.socket.getPeerX509Certificate()!.serialNumber, certs[0]!.serialNumber);
    kept.socket.destroy();
    assert.doesNotMatch(legate.stderr.slice(logFrom), /reloaded: config version/);
    assert.equal((await legate.statsMap()).get('server.reload_success'), 0);
  });

  it('a Kubernetes ..data symlink swap is picked up; /certs and the gauge follow', async () => {
    fs.mkdirSync(path.join(secret, '..2024_02_02'));
    fs.copyFileSync(certs[3]!.certPath, path.join(secret, '..2024_02_02', 'tls.crt'));
    fs.copyFileSync(certs[3]!.keyPath, path.join(secret, '..2024_02_02', 'tls.key'));
    // The kubelet's atomic swap: a new symlink renamed over ..data, then the old directory removed.
    fs.symlinkSync('..2024_02_02', path.join(secret, '..data_tmp'));
    fs.renameSync(path.join(secret, '..data_tmp'), path.join(secret, '..data'));
    fs.rmSync(path.join(secret, '..2024_01_01'), { recursive: true });
    assert.equal(await untilServed(k8sPort, certs[3]!.serialNumber), certs[3]!.serialNumber);
    const body = JSON.parse((await legate.admin('/certs')).body) as { certificates: { cert_chain: { serial_number: string }[] }[] };
    assert.equal(body.certificates[1]!.cert_chain[0]!.serial_number, certs[3]!.serialNumber.toLowerCase());
    // The first to expire is now k8s-b (20 days, was 10): recomputed every second, so wait for the value to move.
    const want = Math.floor((certs[3]!.x509.validToDate.getTime() - Date.now()) / DAY_MS);
    let got = -1;
    for (let i = 0; i < 50 && got !== want; i++) {
      got = (await legate.statsMap()).get('server.days_until_first_cert_expiring') ?? -1;
      if (got !== want) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got, want);
  });

  it('a bad new file logs an error and the old certificate stays', async () => {
    const logFrom = legate.stderr.length;
    const garbage = path.join(dir, 'garbage.crt');
    fs.writeFileSync(garbage, 'this is not a certificate\n');
    copyAtomically(garbage, path.join(dir, 'server.crt'));
    await legate.waitForLog(/\[error\]\[main\] tls: .*certificate reload failed, keeping the current certificates/, 20_000, logFrom);
    assert.equal(await servedSerial(filePort), certs[1]!.serialNumber);
  });
});
