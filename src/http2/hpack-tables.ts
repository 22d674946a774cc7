// Any thread (pure). HPACK constants (RFC 7541): the static table (Appendix A), the Huffman code (Appendix B), and
// the byte-at-a-time Huffman decoding state machine derived from the code once at module load.

/** Number of static table entries; dynamic table indexes start after it (RFC 7541 §2.3.3). */
export const STATIC_TABLE_LENGTH = 61;

// Index 0 is unused (index 0 is a decoding error) so the arrays are indexed by HPACK index directly. The strings
// are literals, so every decoder returns the same interned constants for static hits.
export const STATIC_NAMES: readonly string[] = [
  '',
  ':authority', ':method', ':method', ':path', ':path', ':scheme', ':scheme',
  ':status', ':status', ':status', ':status', ':status', ':status', ':status',
  'accept-charset', 'accept-encoding', 'accept-language', 'accept-ranges', 'accept',
  'access-control-allow-origin', 'age', 'allow', 'authorization', 'cache-control',
  'content-disposition', 'content-encoding', 'content-language', 'content-length', 'content-location',
  'content-range', 'content-type', 'cookie', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match',
  'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified',
  'link', 'location', 'max-forwards', 'proxy-authenticate', 'proxy-authorization',
  'range', 'referer', 'refresh', 'retry-after', 'server',
  'set-cookie', 'strict-transport-security', 'transfer-encoding', 'user-agent', 'vary',
  'via', 'www-authenticate',
];

export const STATIC_VALUES: readonly string[] = [
  '',
  '', 'GET', 'POST', '/', '/index.html', 'http', 'https',
  '200', '204', '206', '304', '400', '404', '500',
  '', 'gzip, deflate', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '', '', '', '',
  '', '',
];

// The Huffman code of RFC 7541 Appendix B as (code, bit length) per symbol 0..256; 256 is EOS. Building the decode
// table below checks that it is a complete prefix code (a typo here throws at load).
const HUFFMAN_TABLE: readonly number[] = [
  0x1ff8, 13, 0x7fffd8, 23, 0xfffffe2, 28, 0xfffffe3, 28, // 0-3
  0xfffffe4, 28, 0xfffffe5, 28, 0xfffffe6, 28, 0xfffffe7, 28, // 4-7
  0xfffffe8, 28, 0xffffea, 24, 0x3ffffffc, 30, 0xfffffe9, 28, // 8-11
  0xfffffea, 28, 0x3ffffffd, 30, 0xfffffeb, 28, 0xfffffec, 28, // 12-15
  0xfffffed, 28, 0xfffffee, 28, 0xfffffef, 28, 0xffffff0, 28, // 16-19
  0xffffff1, 28, 0xffffff2, 28, 0x3ffffffe, 30, 0xffffff3, 28, // 20-23
  0xffffff4, 28, 0xffffff5, 28, 0xffffff6, 28, 0xffffff7, 28, // 24-27
  0xffffff8, 28, 0xffffff9, 28, 0xffffffa, 28, 0xffffffb, 28, // 28-31
  0x14, 6, 0x3f8, 10, 0x3f9, 10, 0xffa, 12, // 32-35
  0x1ff9, 13, 0x15, 6, 0xf8, 8, 0x7fa, 11, // 36-39
  0x3fa, 10, 0x3fb, 10, 0xf9, 8, 0x7fb, 11, // 40-43
  0xfa, 8, 0x16, 6, 0x17, 6, 0x18, 6, // 44-47
  0x0, 5, 0x1, 5, 0x2, 5, 0x19, 6, // 48-51
  0x1a, 6, 0x1b, 6, 0x1c, 6, 0x1d, 6, // 52-55
  0x1e, 6, 0x1f, 6, 0x5c, 7, 0xfb, 8, // 56-59
  0x7ffc, 15, 0x20, 6, 0xffb, 12, 0x3fc, 10, // 60-63
  0x1ffa, 13, 0x21, 6, 0x5d, 7, 0x5e, 7, // 64-67
  0x5f, 7, 0x60, 7, 0x61, 7, 0x62, 7, // 68-71
  0x63, 7, 0x64, 7, 0x65, 7, 0x66, 7, // 72-75
  0x67, 7, 0x68, 7, 0x69, 7, 0x6a, 7, // 76-79
  0x6b, 7, 0x6c, 7, 0x6d, 7, 0x6e, 7, // 80-83
  0x6f, 7, 0x70, 7, 0x71, 7, 0x72, 7, // 84-87
  0xfc, 8, 0x73, 7, 0xfd, 8, 0x1ffb, 13, // 88-91
  0x7fff0, 19, 0x1ffc, 13, 0x3ffc, 14, 0x22, 6, // 92-95
  0x7ffd, 15, 0x3, 5, 0x23, 6, 0x4, 5, // 96-99
  0x24, 6, 0x5, 5, 0x25, 6, 0x26, 6, // 100-103
  0x27, 6, 0x6, 5, 0x74, 7, 0x75, 7, // 104-107
  0x28, 6, 0x29, 6, 0x2a, 6, 0x7, 5, // 108-111
  0x2b, 6, 0x76, 7, 0x2c, 6, 0x8, 5, // 112-115
  0x9, 5, 0x2d, 6, 0x77, 7, 0x78, 7, // 116-119
  0x79, 7, 0x7a, 7, 0x7b, 7, 0x7ffe, 15, // 120-123
  0x7fc, 11, 0x3ffd, 14, 0x1ffd, 13, 0xffffffc, 28, // 124-127
  0xfffe6, 20, 0x3fffd2, 22, 0xfffe7, 20, 0xfffe8, 20, // 128-131
  0x3fffd3, 22, 0x3fffd4, 22, 0x3fffd5, 22, 0x7fffd9, 23, // 132-135
  0x3fffd6, 22, 0x7fffda, 23, 0x7fffdb, 23, 0x7fffdc, 23, // 136-139
  0x7fffdd, 23, 0x7fffde, 23, 0xffffeb, 24, 0x7fffdf, 23, // 140-143
  0xffffec, 24, 0xffffed, 24, 0x3fffd7, 22, 0x7fffe0, 23, // 144-147
  0xffffee, 24, 0x7fffe1, 23, 0x7fffe2, 23, 0x7fffe3, 23, // 148-151
  0x7fffe4, 23, 0x1fffdc, 21, 0x3fffd8, 22, 0x7fffe5, 23, // 152-155
  0x3fffd9, 22, 0x7fffe6, 23, 0x7fffe7, 23, 0xffffef, 24, // 156-159
  0x3fffda, 22, 0x1fffdd, 21, 0xfffe9, 20, 0x3fffdb, 22, // 160-163
  0x3fffdc, 22, 0x7fffe8, 23, 0x7fffe9, 23, 0x1fffde, 21, // 164-167
  0x7fffea, 23, 0x3fffdd, 22, 0x3fffde, 22, 0xfffff0, 24, // 168-171
  0x1fffdf, 21, 0x3fffdf, 22, 0x7fffeb, 23, 0x7fffec, 23, // 172-175
  0x1fffe0, 21, 0x1fffe1, 21, 0x3fffe0, 22, 0x1fffe2, 21, // 176-179
  0x7fffed, 23, 0x3fffe1, 22, 0x7fffee, 23, 0x7fffef, 23, // 180-183
  0xfffea, 20, 0x3fffe2, 22, 0x3fffe3, 22, 0x3fffe4, 22, // 184-187
  0x7ffff0, 23, 0x3fffe5, 22, 0x3fffe6, 22, 0x7ffff1, 23, // 188-191
  0x3ffffe0, 26, 0x3ffffe1, 26, 0xfffeb, 20, 0x7fff1, 19, // 192-195
  0x3fffe7, 22, 0x7ffff2, 23, 0x3fffe8, 22, 0x1ffffec, 25, // 196-199
  0x3ffffe2, 26, 0x3ffffe3, 26, 0x3ffffe4, 26, 0x7ffffde, 27, // 200-203
  0x7ffffdf, 27, 0x3ffffe5, 26, 0xfffff1, 24, 0x1ffffed, 25, // 204-207
  0x7fff2, 19, 0x1fffe3, 21, 0x3ffffe6, 26, 0x7ffffe0, 27, // 208-211
  0x7ffffe1, 27, 0x3ffffe7, 26, 0x7ffffe2, 27, 0xfffff2, 24, // 212-215
  0x1fffe4, 21, 0x1fffe5, 21, 0x3ffffe8, 26, 0x3ffffe9, 26, // 216-219
  0xffffffd, 28, 0x7ffffe3, 27, 0x7ffffe4, 27, 0x7ffffe5, 27, // 220-223
  0xfffec, 20, 0xfffff3, 24, 0xfffed, 20, 0x1fffe6, 21, // 224-227
  0x3fffe9, 22, 0x1fffe7, 21, 0x1fffe8, 21, 0x7ffff3, 23, // 228-231
  0x3fffea, 22, 0x3fffeb, 22, 0x1ffffee, 25, 0x1ffffef, 25, // 232-235
  0xfffff4, 24, 0xfffff5, 24, 0x3ffffea, 26, 0x7ffff4, 23, // 236-239
  0x3ffffeb, 26, 0x7ffffe6, 27, 0x3ffffec, 26, 0x3ffffed, 26, // 240-243
  0x7ffffe7, 27, 0x7ffffe8, 27, 0x7ffffe9, 27, 0x7ffffea, 27, // 244-247
  0x7ffffeb, 27, 0xffffffe, 28, 0x7ffffec, 27, 0x7ffffed, 27, // 248-251
  0x7ffffee, 27, 0x7ffffef, 27, 0x7fffff0, 27, 0x3ffffee, 26, // 252-255
  0x3fffffff, 30, // 256
];

export const HUFFMAN_EOS = 256;

/** Code of each symbol, right-aligned (the low `HUFFMAN_BITS[sym]` bits). */
export const HUFFMAN_CODES = new Uint32Array(257);
/** Bit length of each symbol's code (5..30). */
export const HUFFMAN_BITS = new Uint8Array(257);
for (let s = 0; s <= HUFFMAN_EOS; s++) {
  HUFFMAN_CODES[s] = HUFFMAN_TABLE[2 * s];
  HUFFMAN_BITS[s] = HUFFMAN_TABLE[2 * s + 1];
}

// The decoder consumes one input byte per step. A state is an internal node of the code tree (there are exactly
// 256 for 257 leaves, so a state fits a byte); the root is state 0. Each entry of HUFFMAN_DECODE, indexed by
// (state << 8) | byte, packs what walking those 8 bits from that node does: the node it ends on, the symbols it
// completes (at most two, since the shortest code is 5 bits), whether the end state is a valid place for the
// string to stop, and whether the walk hit EOS.
export const HUFFMAN_DECODE_STATE_MASK = 0xff;
export const HUFFMAN_DECODE_SYM1_SHIFT = 8;
export const HUFFMAN_DECODE_SYM2_SHIFT = 16;
export const HUFFMAN_DECODE_COUNT_SHIFT = 24;
/** The string may end here: no partial code, or only up to 7 bits of a code's leading 1s (padding, §5.2). */
export const HUFFMAN_DECODE_ACCEPT = 1 << 26;
/** EOS was decoded: always an error inside a string (§5.2). */
export const HUFFMAN_DECODE_FAIL = 1 << 27;

function buildDecodeTable(): Uint32Array {
  // Children of internal node n: child[2n] for bit 0, child[2n+1] for bit 1. A child >= 0 is an internal node,
  // -1 - sym a leaf, and NONE a hole (only while building; a complete code leaves none).
  const NONE = 0x7fffffff;
  const child = new Int32Array(512).fill(NONE);
  let nodes = 1;
  for (let s = 0; s <= HUFFMAN_EOS; s++) {
    const code = HUFFMAN_CODES[s];
    const bits = HUFFMAN_BITS[s];
    let node = 0;
    for (let b = bits - 1; b >= 0; b--) {
      const slot = 2 * node + ((code >>> b) & 1);
      if (b === 0) {
        if (child[slot] !== NONE) throw new Error(`HPACK Huffman table: code of symbol ${s} is not prefix-free`);
        child[slot] = -1 - s;
      } else {
        let next = child[slot];
        if (next === NONE) {
          if (nodes === 256) throw new Error('HPACK Huffman table: more than 256 internal nodes');
          next = nodes++;
          child[slot] = next;
        } else if (next < 0) {
          throw new Error(`HPACK Huffman table: code of symbol ${s} extends another code`);
        }
        node = next;
      }
    }
  }
  if (nodes !== 256) throw new Error('HPACK Huffman table: the code is not complete');
  for (let i = 0; i < 512; i++) if (child[i] === NONE) throw new Error('HPACK Huffman table: the code has a hole');

  // Valid end states: the root and the nodes reached by 1..7 one-bits from it (§5.2 padding).
  const accept = new Uint8Array(256);
  accept[0] = 1;
  for (let node = 0, depth = 1; depth <= 7; depth++) {
    node = child[2 * node + 1];
    accept[node] = 1;
  }

  const table = new Uint32Array(256 * 256);
  for (let state = 0; state < 256; state++) {
    for (let byte = 0; byte < 256; byte++) {
      let node = state;
      let count = 0;
      let sym1 = 0;
      let sym2 = 0;
      let fail = false;
      for (let b = 7; b >= 0; b--) {
        const next = child[2 * node + ((byte >>> b) & 1)];
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = -1 - next;
        if (sym === HUFFMAN_EOS) {
          fail = true;
          break;
        }
        if (count === 0) sym1 = sym;
        else sym2 = sym;
        count++;
        node = 0;
      }
      table[(state << 8) | byte] = fail
        ? HUFFMAN_DECODE_FAIL
        : node | (sym1 << HUFFMAN_DECODE_SYM1_SHIFT) | (sym2 << HUFFMAN_DECODE_SYM2_SHIFT) |
          (count << HUFFMAN_DECODE_COUNT_SHIFT) | (accept[node] === 1 ? HUFFMAN_DECODE_ACCEPT : 0);
    }
  }
  return table;
}

export const HUFFMAN_DECODE: Uint32Array = buildDecodeTable();
