// Fuzz target: src/http2 HpackDecoder on arbitrary header blocks, in sequence on one connection's decoder (the
// dynamic table carries over). Input: byte 0 picks the limits; then blocks, each a 2-byte big-endian length and
// that many bytes. Invariants: decode() never throws and returns an HpackDecodeResult; name/value pairs only;
// the limits hold; the dynamic table stays within its capacity and the advertised maximum; and whatever decodes
// OK, re-encoded by Legate's HpackEncoder, decodes back to the same fields on a second decoder that follows it.

import { HpackDecodeResult, HpackDecoder } from '../../../src/http2/hpack-decoder.ts';
import { HpackEncoder } from '../../../src/http2/hpack-encoder.ts';
import { check, show } from './common.ts';

const { OK, COMPRESSION_ERROR, HEADER_LIST_TOO_LARGE, TOO_MANY_HEADERS } = HpackDecodeResult;
const TABLE_SIZES = [4096, 256, 0, 65536];

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const b = data[0]!;
  const maxTableSize = TABLE_SIZES[b & 3]!;
  const maxListBytes = (b & 4) !== 0 ? 512 : 16384;
  const maxHeaders = (b & 8) !== 0 ? 8 : 100;
  const decoder = new HpackDecoder(maxTableSize, maxListBytes, maxHeaders);
  const encoder = new HpackEncoder();
  const mirror = new HpackDecoder(4096, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  let p = 1;
  for (let block = 0; p < data.length; block++) {
    const length = p + 1 < data.length ? data.readUInt16BE(p) : data.length - p;
    p += 2;
    const end = Math.min(data.length, p + length);
    const out: string[] = [];
    const r = decoder.decode(data, p, end, out);
    const where = (): string => `block ${block} ${show(data.subarray(p, end))} (limits ${maxTableSize}/${maxListBytes}/${maxHeaders})`;
    p = end;
    check(r === OK || r === COMPRESSION_ERROR || r === HEADER_LIST_TOO_LARGE || r === TOO_MANY_HEADERS, () => `result ${r}: ${where()}`);
    if (r === COMPRESSION_ERROR) return; // a connection error: the table is no longer usable
    check(out.length % 2 === 0 && out.every((s) => typeof s === 'string'), () => `fields ${JSON.stringify(out)}: ${where()}`);
    const t = decoder.table;
    check(t.size <= t.capacity && t.capacity <= Math.max(maxTableSize, 4096), () => `table ${t.size}/${t.capacity}: ${where()}`);
    if (r !== OK) continue;
    let listBytes = 0;
    for (let i = 0; i < out.length; i += 2) listBytes += out[i]!.length + out[i + 1]!.length + 32;
    check(out.length / 2 <= maxHeaders && listBytes <= maxListBytes, () => `limits exceeded (${out.length / 2} fields, ${listBytes} bytes): ${where()}`);
    const target = Buffer.alloc(encoder.maxEncodedBytes(out, 0, out.length));
    const n = encoder.encode(out, 0, out.length, target, 0);
    check(n <= target.length, () => `encoder wrote ${n} bytes past its bound ${target.length}: ${where()}`);
    const back: string[] = [];
    const r2 = mirror.decode(target, 0, n, back);
    check(r2 === OK && JSON.stringify(back) === JSON.stringify(out),
      () => `re-encoded block decodes to ${r2} ${JSON.stringify(back)}, not ${JSON.stringify(out)}: ${where()}`);
  }
}
