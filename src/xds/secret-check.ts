// Primary thread (pure but for reading files a secret names). An SDS Secret's TLS material is checked when it
// arrives, so a control plane sending a certificate that does not parse gets a NACK naming the secret and the field
// ("Secret 'server_cert' tls_certificate.certificate_chain: not a PEM certificate ...") rather than a compile
// problem in whichever listener uses it.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import { certificateBlocks } from '../tls/certificates.ts';

type Obj = Record<string, unknown>;
type Problem = { path: string; message: string; suggestion: undefined };

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

/** A DataSource's text, or a problem. */
function textOf(v: unknown, path: string, out: Problem[]): string | null {
  const ds = obj(v);
  if (typeof ds['inline_string'] === 'string') return ds['inline_string'];
  if (typeof ds['inline_bytes'] === 'string') return Buffer.from(ds['inline_bytes'], 'base64').toString('utf8');
  if (typeof ds['filename'] === 'string') {
    try {
      return fs.readFileSync(ds['filename'], 'utf8');
    } catch (err) {
      out.push({ path, message: `cannot read '${ds['filename']}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, suggestion: undefined });
      return null;
    }
  }
  out.push({ path, message: 'one of filename, inline_string, inline_bytes is required', suggestion: undefined });
  return null;
}

/** The chain's certificates (the leaf first), or null after a problem. */
function checkCertificates(v: unknown, path: string, out: Problem[]): X509Certificate[] | null {
  const text = textOf(v, path, out);
  if (text === null) return null;
  const blocks = certificateBlocks(text);
  if (blocks.length === 0) {
    out.push({ path, message: 'not a PEM certificate (no -----BEGIN CERTIFICATE----- block)', suggestion: undefined });
    return null;
  }
  const certs: X509Certificate[] = [];
  blocks.forEach((b, i) => {
    try {
      certs.push(new X509Certificate(b));
    } catch (err) {
      out.push({ path, message: `certificate ${i + 1} does not parse: ${(err as Error).message}`, suggestion: undefined });
    }
  });
  return certs.length === blocks.length ? certs : null;
}

/** Problems of a normalized Secret's tls_certificate / validation_context, with field paths inside the secret. */
export function secretProblems(secret: Obj): Problem[] {
  const out: Problem[] = [];
  const tc = secret['tls_certificate'];
  const vc = secret['validation_context'];
  if (tc === undefined && vc === undefined) {
    out.push({ path: '', message: 'a secret needs tls_certificate or validation_context (the types supported yet)', suggestion: undefined });
  }
  if (tc !== undefined) {
    const t = obj(tc);
    if (t['certificate_chain'] === undefined || t['private_key'] === undefined) {
      out.push({ path: 'tls_certificate', message: 'needs certificate_chain and private_key', suggestion: undefined });
    } else {
      const chain = checkCertificates(t['certificate_chain'], 'tls_certificate.certificate_chain', out);
      const key = textOf(t['private_key'], 'tls_certificate.private_key', out);
      if (key !== null) {
        const passphrase = typeof obj(t['password'])['inline_string'] === 'string' ? (obj(t['password'])['inline_string'] as string) : undefined;
        try {
          const k = createPrivateKey(passphrase === undefined ? key : { key, passphrase });
          // As Envoy refuses a key that is not the certificate's (a rotation that swapped one file and not the other).
          if (chain !== null && chain[0] !== undefined && !chain[0].checkPrivateKey(k)) {
            out.push({ path: 'tls_certificate.private_key', message: 'the private key does not match the certificate_chain\'s first certificate', suggestion: undefined });
          }
        } catch (err) {
          // The key's text is never echoed: a NACK travels to the control plane and into logs.
          out.push({ path: 'tls_certificate.private_key', message: `not a usable private key: ${(err as Error).message}`, suggestion: undefined });
        }
      }
    }
  }
  if (vc !== undefined && obj(vc)['trusted_ca'] !== undefined) checkCertificates(obj(vc)['trusted_ca'], 'validation_context.trusted_ca', out);
  return out;
}
