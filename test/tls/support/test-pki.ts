// Test support: a throwaway PKI made with the openssl CLI at test time (a CA, then server and client certificates
// with the SANs a test needs), in a temp directory removed by remove().

import { execFile, execFileSync } from 'node:child_process';
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface IssueOptions {
  /** Subject CN; default the first DNS SAN, else the name. */
  cn?: string;
  /** openssl SAN entries: 'DNS:a.test', 'IP:127.0.0.1', 'URI:spiffe://x/y', 'email:a@b'. */
  sans?: string[];
  /** Validity in days from now; negative makes a certificate that has already expired. Default 30. */
  days?: number;
  /** Signed by this CA instead of the PKI's own (for "unknown CA" tests). */
  ca?: TestCa;
  /** Encrypt the private key with this password. */
  password?: string;
  /** 'ec' (P-256, default: fast) or 'rsa' (2048). */
  keyType?: 'ec' | 'rsa';
}

export interface IssuedCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  /** As node:crypto prints it (upper-case hex), for comparing with a peer certificate. */
  serialNumber: string;
  x509: X509Certificate;
}

export interface TestCa {
  certPath: string;
  keyPath: string;
  certPem: string;
}

function keyArgs(keyType: 'ec' | 'rsa'): string[] {
  return keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

export class TestPki {
  readonly dir: string;
  readonly ca: TestCa;
  private n = 0;

  private constructor(dir: string) {
    this.dir = dir;
    this.ca = this.makeCa('Legate Test CA');
  }

  static create(): TestPki {
    return new TestPki(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-tls-')));
  }

  /** Another, unrelated CA. */
  makeCa(cn: string): TestCa {
    const base = path.join(this.dir, `ca-${this.n++}`);
    openssl([
      'req', '-x509', ...keyArgs('ec'), '-nodes', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '3650',
      '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { certPath: `${base}.crt`, keyPath: `${base}.key`, certPem: fs.readFileSync(`${base}.crt`, 'utf8') };
  }

  /** A leaf certificate usable for both server and client auth. */
  issue(name: string, opts: IssueOptions = {}): IssuedCert {
    const base = path.join(this.dir, `${name}-${this.n++}`);
    const sans = opts.sans ?? [];
    const firstDns = sans.find((s) => s.startsWith('DNS:'));
    const cn = opts.cn ?? (firstDns !== undefined ? firstDns.slice(4) : name);
    const ca = opts.ca ?? this.ca;
    openssl(['req', '-new', ...keyArgs(opts.keyType ?? 'ec'), '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
    // A section, so that values may hold commas.
    const ext = ['extendedKeyUsage=serverAuth,clientAuth', 'basicConstraints=CA:FALSE'];
    if (sans.length > 0) {
      ext.push('subjectAltName=@alt', '[alt]');
      const counts: Record<string, number> = {};
      for (const s of sans) {
        const i = s.indexOf(':');
        const type = s.slice(0, i);
        counts[type] = (counts[type] ?? 0) + 1;
        ext.push(`${type}.${counts[type]}=${s.slice(i + 1)}`);
      }
    }
    fs.writeFileSync(`${base}.ext`, `${ext.join('\n')}\n`);
    const serial = `0x${crypto.randomBytes(8).toString('hex')}`;
    openssl([
      'x509', '-req', '-in', `${base}.csr`, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', serial,
      '-days', String(opts.days ?? 30), '-out', `${base}.crt`, '-extfile', `${base}.ext`,
    ]);
    if (opts.password !== undefined) {
      openssl(['pkey', '-in', `${base}.key`, '-aes256', '-passout', `pass:${opts.password}`, '-out', `${base}.enc.key`]);
      fs.renameSync(`${base}.enc.key`, `${base}.key`);
    }
    const certPem = fs.readFileSync(`${base}.crt`, 'utf8');
    const x509 = new X509Certificate(certPem);
    return { certPath: `${base}.crt`, keyPath: `${base}.key`, certPem, keyPem: fs.readFileSync(`${base}.key`, 'utf8'), serialNumber: x509.serialNumber, x509 };
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface OpensslClientResult {
  code: number;
  output: string;
}

/**
 * `openssl s_client` against 127.0.0.1:port (asynchronously: the server under test runs in this process).
 * stdin is closed, so it exits right after the handshake.
 */
export function opensslClient(port: number, args: string[]): Promise<OpensslClientResult> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, output: `${stdout}\n${stderr}` });
    });
    child.stdin?.end();
  });
}
