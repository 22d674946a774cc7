// Test support: the certificates of an mTLS test (a server 'edge' for edge.test, clients alice and bob with SPIFFE
// URI SANs under spiffe://legate.test/) issued by a TestPki, and curl presenting one of them.

import { curl, type CurlResult } from './curl.ts';
import type { IssuedCert, TestPki } from '../tls/support/test-pki.ts';

export interface MtlsPeers {
  server: IssuedCert;
  alice: IssuedCert;
  bob: IssuedCert;
}

export function issueMtlsPeers(pki: TestPki): MtlsPeers {
  return {
    server: pki.issue('edge', { sans: ['DNS:edge.test'] }),
    alice: pki.issue('alice', { sans: ['URI:spiffe://legate.test/alice'] }),
    bob: pki.issue('bob', { sans: ['URI:spiffe://legate.test/bob'] }),
  };
}

/** curl -k presenting `who`'s client certificate, then `args`. */
export function curlWithCert(who: IssuedCert, args: string[]): Promise<CurlResult> {
  return curl(['-k', '--cert', who.certPath, '--key', who.keyPath, ...args]);
}
