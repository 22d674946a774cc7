// Fuzz target: src/tls/client-hello.ts (tls_inspector's ClientHello parser) on arbitrary first bytes of a
// connection. Invariants: never throws; a status of ClientHelloStatus; a TLS verdict carries a lower-case
// printable server name and non-empty ALPN names; and the verdict does not depend on how the bytes arrived: the
// inspector calls again with a longer buffer after NEED_MORE, so once a prefix gives a final verdict, every longer
// prefix (and the whole input) gives the same one. The same holds under a small maxBytes (and past it: the parser
// never looks beyond maxBytes, a bug this target found).

import { ClientHelloStatus, parseClientHello, type ClientHelloResult } from '../../../src/tls/client-hello.ts';
import { check, hashOf, show } from './common.ts';

const { NEED_MORE, TLS, NOT_TLS, TOO_LARGE } = ClientHelloStatus;

function verdict(r: ClientHelloResult): string {
  return r.status === TLS ? `TLS ${JSON.stringify(r.serverName)} ${JSON.stringify(r.alpn)}` : String(r.status);
}

function checkOne(data: Buffer, maxBytes: number): void {
  const full = parseClientHello(data, maxBytes);
  const s = full.status;
  check(s === NEED_MORE || s === TLS || s === NOT_TLS || s === TOO_LARGE, () => `status ${s} for ${show(data)}`);
  if (s === TLS) {
    check(/^[\x01-\x7e]*$/.test(full.serverName) && full.serverName === full.serverName.toLowerCase(),
      () => `server name ${JSON.stringify(full.serverName)} for ${show(data)}`);
    check(full.alpn.every((a) => typeof a === 'string' && a.length > 0), () => `alpn ${JSON.stringify(full.alpn)} for ${show(data)}`);
  }
  // Prefixes: a hash-chosen sample of at most 64, plus the bytes around each record boundary.
  const n = data.length;
  const ks = new Set<number>();
  const step = Math.max(1, Math.ceil(n / 64));
  for (let k = 1 + (hashOf(data) % step); k <= n; k += step) ks.add(k);
  for (let off = 0; off + 5 <= n; off += 5 + data.readUInt16BE(off + 3)) {
    for (const k of [off + 1, off + 4, off + 5, off + 6, off + 9]) if (k <= n) ks.add(k);
  }
  let first = -1;
  let firstVerdict = '';
  for (const k of [...ks].sort((x, y) => x - y)) {
    const r = parseClientHello(data.subarray(0, k), maxBytes);
    if (r.status === NEED_MORE) {
      check(first === -1, () => `NEED_MORE at ${k} bytes after the verdict ${firstVerdict} at ${first} (maxBytes ${maxBytes}): ${show(data)}`);
      continue;
    }
    const v = verdict(r);
    if (first === -1) {
      first = k;
      firstVerdict = v;
    } else {
      check(v === firstVerdict, () => `${k} bytes give ${v}, ${first} bytes gave ${firstVerdict} (maxBytes ${maxBytes}): ${show(data)}`);
    }
  }
  if (first !== -1 && data.length <= maxBytes) check(verdict(full) === firstVerdict, () => `whole input gives ${verdict(full)}, ${first} bytes gave ${firstVerdict}: ${show(data)}`);
}

export function fuzz(data: Buffer): void {
  checkOne(data, 64 * 1024);
  checkOne(data, 512);
}
