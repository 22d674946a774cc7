// Any thread (pure). HPACK Huffman coding (RFC 7541 §5.2, Appendix B) of latin1 strings: one byte per char.

import * as tables from './hpack-tables.ts';

// Module-local aliases of the imported tables and constants: TurboFan folds a module's own consts into constants
// (no reload, no bounds check against a 0xff-masked index), which it does not do for imported bindings. Measured:
// about 1.4x on a 29-char encode.
const CODES = tables.HUFFMAN_CODES;
const LENGTHS = tables.HUFFMAN_BITS;
const DECODE = tables.HUFFMAN_DECODE;
const HUFFMAN_DECODE_ACCEPT = tables.HUFFMAN_DECODE_ACCEPT;
const HUFFMAN_DECODE_FAIL = tables.HUFFMAN_DECODE_FAIL;
const HUFFMAN_DECODE_STATE_MASK = tables.HUFFMAN_DECODE_STATE_MASK;
const HUFFMAN_DECODE_SYM1_SHIFT = tables.HUFFMAN_DECODE_SYM1_SHIFT;
const HUFFMAN_DECODE_SYM2_SHIFT = tables.HUFFMAN_DECODE_SYM2_SHIFT;
const HUFFMAN_DECODE_COUNT_SHIFT = tables.HUFFMAN_DECODE_COUNT_SHIFT;

/**
 * How many bytes decoding `encodedLength` Huffman bytes can produce, plus the slack huffmanDecode needs (it
 * stores two symbols per input byte and then advances by how many were real). The shortest code is 5 bits.
 */
export function huffmanDecodedCapacity(encodedLength: number): number {
  return ((encodedLength * 8) / 5 | 0) + 2;
}

/**
 * Decodes src[start, end) into dst from 0; dst must hold huffmanDecodedCapacity(end - start) bytes. Returns the
 * decoded length, or -1 when the input is not a valid HPACK Huffman string: EOS inside it, padding longer than
 * 7 bits, or padding that is not the leading bits of EOS (all 1s).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let state = 0;
  let entry = HUFFMAN_DECODE_ACCEPT; // the empty string is valid
  let o = 0;
  for (let i = start; i < end; i++) {
    entry = DECODE[(state << 8) | src[i]];
    if ((entry & HUFFMAN_DECODE_FAIL) !== 0) return -1;
    // Branch-free: store both symbol slots, keep as many as the byte completed.
    dst[o] = entry >>> HUFFMAN_DECODE_SYM1_SHIFT;
    dst[o + 1] = entry >>> HUFFMAN_DECODE_SYM2_SHIFT;
    o += (entry >>> HUFFMAN_DECODE_COUNT_SHIFT) & 3;
    state = entry & HUFFMAN_DECODE_STATE_MASK;
  }
  return (entry & HUFFMAN_DECODE_ACCEPT) !== 0 ? o : -1;
}

/** The Huffman-encoded length in bytes of a latin1 string (chars above 0xff count as their low byte). */
export function huffmanEncodedLength(str: string): number {
  let bits = 0;
  for (let i = 0; i < str.length; i++) bits += LENGTHS[str.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/**
 * Huffman-encodes a latin1 string into target at offset; returns the offset after it. target must have
 * huffmanEncodedLength(str) bytes free there.
 */
export function huffmanEncode(str: string, target: Uint8Array, offset: number): number {
  let o = offset;
  // Pending bits are right-aligned in `acc`, fewer than 8 between symbols, so a code of up to 24 bits fits in
  // 31 bits. Bits above `pending` are stale and never read: byte stores keep only the low 8 bits of acc >>> n.
  let acc = 0;
  let pending = 0;
  const n = str.length;
  for (let i = 0; i < n; i++) {
    const sym = str.charCodeAt(i) & 0xff;
    const bits = LENGTHS[sym];
    const code = CODES[sym];
    if (bits <= 24) {
      acc = (acc << bits) | code;
      pending += bits;
    } else {
      // Rare (control and some high bytes): the top bits first, so at most 23 bits are pending before the
      // low 16 go in.
      acc = (acc << (bits - 16)) | (code >>> 16);
      pending += bits - 16;
      if (pending >= 16) {
        pending -= 8;
        target[o++] = acc >>> pending;
      }
      if (pending >= 8) {
        pending -= 8;
        target[o++] = acc >>> pending;
      }
      acc = (acc << 16) | (code & 0xffff);
      pending += 16;
    }
    // Unrolled: up to 3 whole bytes are ready (fewer than 8 pending + at most 24 new).
    if (pending >= 8) {
      pending -= 8;
      target[o++] = acc >>> pending;
      if (pending >= 8) {
        pending -= 8;
        target[o++] = acc >>> pending;
        if (pending >= 8) {
          pending -= 8;
          target[o++] = acc >>> pending;
        }
      }
    }
  }
  // Pad with the most significant bits of EOS: all 1s (§5.2).
  if (pending > 0) target[o++] = (acc << (8 - pending)) | (0xff >>> pending);
  return o;
}
