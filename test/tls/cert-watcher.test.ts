// CertificateWatcher over real files: a Kubernetes-style `..data` symlink swap and in-place rewrites reach a
// running ServerTlsContext without a config reload; a half-written file keeps the old certificate and counts a
// failure.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CertificateWatcher } from '../../src/tls/cert-watcher.ts';
import type { TlsConfigProblem, TlsSpec } from '../../src/tls/tls-spec.ts';
import { TestPki, opensslAvailable, type IssuedCert } from './support/test-pki.ts';
import { downstream, handshake, serve } from './support/tls-harness.ts';

const skip = opensslAvailable() ? false : 'the openssl CLI is not installed';

let pki: TestPki;
before(() => {
  if (skip === false) pki = TestPki.create();
});
after(() => pki?.remove());

/** Callbacks as queues, so the test waits for events instead of time. */
function recorder(): {
  updates: TlsSpec[];
  failures: TlsConfigProblem[][];
  nextUpdate(): Promise<TlsSpec>;
  nextFailure(): Promise<TlsConfigProblem[]>;
  onUpdate(spec: TlsSpec): void;
  onFailure(id: string, problems: readonly TlsConfigProblem[]): void;
} {
  const updates: TlsSpec[] = [];
  const failures: TlsConfigProblem[][] = [];
  let updateWaiter: ((s: TlsSpec) => void) | null = null;
  let failureWaiter: ((p: TlsConfigProblem[]) => void) | null = null;
  return {
    updates,
    failures,
    nextUpdate: () => new Promise((resolve) => (updateWaiter = resolve)),
    nextFailure: () => new Promise((resolve) => (failureWaiter = resolve)),
    onUpdate(spec) {
      updates.push(spec);
      const w = updateWaiter;
      updateWaiter = null;
      w?.(spec);
    },
    onFailure(_id, problems) {
      failures.push([...problems]);
      const w = failureWaiter;
      failureWaiter = null;
      w?.([...problems]);
    },
  };
}

/** Writes a Kubernetes secret volume: <dir>/<ts>/{tls.crt,tls.key}, ..data -> <ts>, tls.crt -> ..data/tls.crt. */
function writeSecretVersion(dir: string, version: string, cert: IssuedCert): void {
  const ts = path.join(dir, `..${version}`);
  fs.mkdirSync(ts);
  fs.copyFileSync(cert.certPath, path.join(ts, 'tls.crt'));
  fs.copyFileSync(cert.keyPath, path.join(ts, 'tls.key'));
  const tmp = path.join(dir, '..data_tmp');
  fs.symlinkSync(`..${version}`, tmp);
  fs.renameSync(tmp, path.join(dir, '..data')); // atomic replace, as kubelet does
}

test('a ..data symlink swap is picked up: the next handshake shows the new certificate', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(pki.dir, 'secret-'));
  const first = pki.issue('rot1', { sans: ['DNS:rotate.test'] });
  const second = pki.issue('rot2', { sans: ['DNS:rotate.test'] });
  writeSecretVersion(dir, '2026_01_01_00_00_00.1', first);
  fs.symlinkSync('..data/tls.crt', path.join(dir, 'tls.crt'));
  fs.symlinkSync('..data/tls.key', path.join(dir, 'tls.key'));

  const spec = downstream({
    common_tls_context: {
      tls_certificates: [
        { certificate_chain: { filename: path.join(dir, 'tls.crt') }, private_key: { filename: path.join(dir, 'tls.key') } },
      ],
    },
  });
  const srv = await serve(spec);
  const rec = recorder();
  const watcher = new CertificateWatcher([spec], {
    debounceMs: 20,
    onUpdate: (s) => {
      assert.equal(s.kind, 'downstream');
      if (s.kind === 'downstream') assert.ok(srv.ctx.update(s));
      rec.onUpdate(s);
    },
    onFailure: rec.onFailure,
  });
  watcher.start();
  try {
    assert.equal((await handshake(srv.port, { servername: 'rotate.test' })).peerSerial, first.serialNumber);

    const updated = rec.nextUpdate();
    writeSecretVersion(dir, '2026_01_02_00_00_00.2', second);
    fs.rmSync(path.join(dir, '..2026_01_01_00_00_00.1'), { recursive: true });
    const next = await updated;
    assert.equal(next.common.certificates[0]!.leaf.serialNumber, second.serialNumber.toLowerCase());
    assert.equal(watcher.current(spec.id), next);

    // With SNI (the SNI callback's context) and without (the tls.Server's default context).
    assert.equal((await handshake(srv.port, { servername: 'rotate.test' })).peerSerial, second.serialNumber);
    assert.equal((await handshake(srv.port, {})).peerSerial, second.serialNumber);
    assert.equal(watcher.stats.reloads, 1);
    assert.equal(rec.failures.length, 0);
  } finally {
    watcher.stop();
    await srv.close();
  }
});

test('a half-written file keeps the old certificate and counts a failure; the finished one is used', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(pki.dir, 'plain-'));
  const first = pki.issue('hw1', { sans: ['DNS:hw.test'] });
  const second = pki.issue('hw2', { sans: ['DNS:hw.test'] });
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  fs.writeFileSync(certPath, first.certPem);
  fs.writeFileSync(keyPath, first.keyPem);
  const spec = downstream({ common_tls_context: { tls_certificates: [{ certificate_chain: { filename: certPath }, private_key: { filename: keyPath } }] } });
  const srv = await serve(spec);
  const rec = recorder();
  const watcher = new CertificateWatcher([spec], {
    debounceMs: 20,
    retryMs: 60_000, // this test drives every reload with an event
    onUpdate: (s) => {
      if (s.kind === 'downstream') srv.ctx.update(s);
      rec.onUpdate(s);
    },
    onFailure: rec.onFailure,
  });
  watcher.start();
  try {
    const failed = rec.nextFailure();
    fs.writeFileSync(certPath, second.certPem.slice(0, second.certPem.length / 2));
    const problems = await failed;
    assert.equal(problems[0]!.path, `${spec.common.certificates[0]!.configPath}.certificate_chain.filename`);
    assert.ok(watcher.stats.failures >= 1);
    assert.equal((await handshake(srv.port, {})).peerSerial, first.serialNumber);

    // The rest arrives: the new certificate, then its key (a mismatch in between is one more kept-old failure).
    fs.writeFileSync(certPath, second.certPem);
    fs.writeFileSync(keyPath, second.keyPem);
    let latest = await rec.nextUpdate();
    while (latest.common.certificates[0]!.leaf.serialNumber !== second.serialNumber.toLowerCase()) latest = await rec.nextUpdate();
    assert.equal((await handshake(srv.port, {})).peerSerial, second.serialNumber);

    // Same contents again: nothing to update.
    const before = watcher.stats.reloads;
    watcher.checkNow();
    assert.equal(watcher.stats.reloads, before);
    assert.ok(watcher.stats.unchanged >= 1);
  } finally {
    watcher.stop();
    await srv.close();
  }
});

test('after stop() no callback runs', { skip }, () => {
  const cert = pki.issue('stop', { sans: ['DNS:stop.test'] });
  const spec = downstream({ common_tls_context: { tls_certificates: [{ certificate_chain: { filename: cert.certPath }, private_key: { filename: cert.keyPath } }] } });
  let calls = 0;
  const watcher = new CertificateWatcher([spec], { onUpdate: () => calls++, onFailure: () => calls++ });
  watcher.start();
  watcher.stop();
  fs.writeFileSync(cert.certPath, 'garbage');
  watcher.checkNow();
  assert.equal(calls, 0);
  assert.equal(watcher.current(spec.id), spec);
});
