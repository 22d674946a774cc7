// Primary thread (bench harness). The run's self-signed certificate for the HTTP/2-over-TLS scenario, made with
// openssl in the run's temp dir: an ECDSA P-256 key (cheap handshakes; h2load keeps its connections open anyway).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface BenchCert {
  readonly certPath: string;
  readonly keyPath: string;
  /** Certificate then key in one file (HAProxy's `crt`). */
  readonly pemPath: string;
}

export class CertError extends Error {
  override name = 'CertError';
  readonly code = 'BENCH_CERT_FAILED';
}

export function makeSelfSignedCert(openssl: string, dir: string): BenchCert {
  const certPath = path.join(dir, 'bench-cert.pem');
  const keyPath = path.join(dir, 'bench-key.pem');
  const pemPath = path.join(dir, 'bench-cert-and-key.pem');
  const r = spawnSync(
    openssl,
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new CertError(`openssl req failed (${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  fs.writeFileSync(pemPath, fs.readFileSync(certPath, 'utf8') + fs.readFileSync(keyPath, 'utf8'), { mode: 0o600 });
  return { certPath, keyPath, pemPath };
}
