// Any thread (pure). xxHash64 (Yann Collet's XXH64), the hash Envoy uses for consistent hashing (HashUtil::xxHash64):
// ring hash and Maglev tables, route hash_policy values. Computed without BigInt: every 64-bit value is two unsigned
// 32-bit halves (hi, lo), so hashing a header value allocates nothing.

/** A 64-bit value as two unsigned 32-bit halves. Reused by callers (one per hash computation site). */
export class Hash64 {
  hi: number;
  lo: number;
  constructor(hi = 0, lo = 0) {
    this.hi = hi;
    this.lo = lo;
  }
}

// The five 64-bit primes of XXH64, split.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

const TWO32 = 4294967296;

// Result registers of the 64-bit helpers. A typed array, not module-level variables: a uint32 above 2^30 stored
// in a module variable is boxed (a heap number per store), in a Uint32Array it is not.
const R = new Uint32Array(2);

/**
 * (ah,al) * (bh,bl) mod 2^64 into R[0]!/R[1]!, over 16-bit limbs with the carries taken in an order that keeps every
 * partial sum below 2^32 (the schoolbook product as goog.math.Long does it): small-integer arithmetic only.
 */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a48 = ah >>> 16, a32 = ah & 0xffff, a16 = al >>> 16, a00 = al & 0xffff;
  const b48 = bh >>> 16, b32 = bh & 0xffff, b16 = bl >>> 16, b00 = bl & 0xffff;
  let c00 = a00 * b00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * b00;
  let c32 = c16 >>> 16;
  c16 &= 0xffff;
  c16 += a00 * b16;
  c32 += c16 >>> 16;
  c16 &= 0xffff;
  c32 += a32 * b00;
  let c48 = c32 >>> 16;
  c32 &= 0xffff;
  c32 += a16 * b16;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c32 += a00 * b32;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c48 += a48 * b00 + a32 * b16 + a16 * b32 + a00 * b48;
  c48 &= 0xffff;
  R[0] = ((c48 << 16) | c32) >>> 0;
  R[1] = ((c16 << 16) | c00) >>> 0;
}

/** (ah,al) + (bh,bl) mod 2^64 into R[0]!/R[1]!. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const low = al + bl;
  R[1] = low >>> 0;
  R[0] = (ah + bh + (low >= TWO32 ? 1 : 0)) >>> 0;
}

/** rotl64((h,l), r) for 0 < r < 32 into R[0]!/R[1]!. */
function rotl(h: number, l: number, r: number): void {
  R[0] = ((h << r) | (l >>> (32 - r))) >>> 0;
  R[1] = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** XXH64's round: rotl(acc + input * P2, 31) * P1, into R[0]!/R[1]!. */
function round(acch: number, accl: number, inh: number, inl: number): void {
  mul(inh, inl, P2H, P2L);
  add(acch, accl, R[0]!, R[1]!);
  rotl(R[0]!, R[1]!, 31);
  mul(R[0]!, R[1]!, P1H, P1L);
}

let scratch = Buffer.allocUnsafe(256);

function read32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/**
 * XXH64 of `input` (a string is hashed as its UTF-8 bytes) with a 64-bit seed given as halves, into `out`.
 * Returns `out`.
 */
export function xxHash64(input: string | Uint8Array, out: Hash64, seedHi = 0, seedLo = 0): Hash64 {
  let b: Uint8Array;
  let len: number;
  if (typeof input === 'string') {
    const n = input.length;
    if (n * 3 > scratch.length) scratch = Buffer.allocUnsafe(n * 3);
    // ASCII (header values, addresses) is copied in JS; anything else goes through the UTF-8 encoder.
    let k = 0;
    for (; k < n; k++) {
      const c = input.charCodeAt(k);
      if (c >= 0x80) break;
      scratch[k] = c;
    }
    len = k === n ? n : scratch.write(input, 0, 'utf8');
    b = scratch;
  } else {
    b = input;
    len = input.length;
  }
  return xxHash64Bytes(b, len, out, seedHi, seedLo);
}

/** XXH64 of the first `len` bytes of `b` (no subarray needed), seeded, into `out`. Returns `out`. */
export function xxHash64Bytes(b: Uint8Array, len: number, out: Hash64, seedHi = 0, seedLo = 0): Hash64 {
  let i = 0;
  let hh: number, hl: number;
  if (len >= 32) {
    add(seedHi, seedLo, P1H, P1L); add(R[0]!, R[1]!, P2H, P2L);
    let v1h = R[0]!, v1l = R[1]!;
    add(seedHi, seedLo, P2H, P2L);
    let v2h = R[0]!, v2l = R[1]!;
    let v3h = seedHi, v3l = seedLo;
    // seed - P1 = seed + (2^64 - P1)
    add(seedHi, seedLo, (~P1H) >>> 0, (~P1L) >>> 0); add(R[0]!, R[1]!, 0, 1);
    let v4h = R[0]!, v4l = R[1]!;
    const limit = len - 32;
    do {
      round(v1h, v1l, read32(b, i + 4), read32(b, i)); v1h = R[0]!; v1l = R[1]!;
      round(v2h, v2l, read32(b, i + 12), read32(b, i + 8)); v2h = R[0]!; v2l = R[1]!;
      round(v3h, v3l, read32(b, i + 20), read32(b, i + 16)); v3h = R[0]!; v3l = R[1]!;
      round(v4h, v4l, read32(b, i + 28), read32(b, i + 24)); v4h = R[0]!; v4l = R[1]!;
      i += 32;
    } while (i <= limit);
    rotl(v1h, v1l, 1); hh = R[0]!; hl = R[1]!;
    rotl(v2h, v2l, 7); add(hh, hl, R[0]!, R[1]!); hh = R[0]!; hl = R[1]!;
    rotl(v3h, v3l, 12); add(hh, hl, R[0]!, R[1]!); hh = R[0]!; hl = R[1]!;
    rotl(v4h, v4l, 18); add(hh, hl, R[0]!, R[1]!); hh = R[0]!; hl = R[1]!;
    // merge rounds: h = (h ^ round(0, v)) * P1 + P4
    round(0, 0, v1h, v1l); mul((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, P1H, P1L); add(R[0]!, R[1]!, P4H, P4L); hh = R[0]!; hl = R[1]!;
    round(0, 0, v2h, v2l); mul((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, P1H, P1L); add(R[0]!, R[1]!, P4H, P4L); hh = R[0]!; hl = R[1]!;
    round(0, 0, v3h, v3l); mul((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, P1H, P1L); add(R[0]!, R[1]!, P4H, P4L); hh = R[0]!; hl = R[1]!;
    round(0, 0, v4h, v4l); mul((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, P1H, P1L); add(R[0]!, R[1]!, P4H, P4L); hh = R[0]!; hl = R[1]!;
  } else {
    add(seedHi, seedLo, P5H, P5L); hh = R[0]!; hl = R[1]!;
  }
  // h += len (len < 2^32 here)
  add(hh, hl, 0, len); hh = R[0]!; hl = R[1]!;
  while (i + 8 <= len) {
    round(0, 0, read32(b, i + 4), read32(b, i));
    rotl((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, 27);
    mul(R[0]!, R[1]!, P1H, P1L); add(R[0]!, R[1]!, P4H, P4L); hh = R[0]!; hl = R[1]!;
    i += 8;
  }
  if (i + 4 <= len) {
    mul(0, read32(b, i), P1H, P1L);
    rotl((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, 23);
    mul(R[0]!, R[1]!, P2H, P2L); add(R[0]!, R[1]!, P3H, P3L); hh = R[0]!; hl = R[1]!;
    i += 4;
  }
  while (i < len) {
    mul(0, b[i]!, P5H, P5L);
    rotl((hh ^ R[0]!) >>> 0, (hl ^ R[1]!) >>> 0, 11);
    mul(R[0]!, R[1]!, P1H, P1L); hh = R[0]!; hl = R[1]!;
    i++;
  }
  // avalanche
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul(hh, hl, P2H, P2L); hh = R[0]!; hl = R[1]!;
  hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0;
  hh = (hh ^ (hh >>> 29)) >>> 0;
  mul(hh, hl, P3H, P3L); hh = R[0]!; hl = R[1]!;
  hl = (hl ^ hh) >>> 0;
  out.hi = hh;
  out.lo = hl;
  return out;
}

/** 16 lower-case hex digits of a 64-bit value (Envoy's Hex::uint64ToHex). */
export function hash64Hex(h: Hash64): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
}

/** The value as a BigInt (tests and tools only; never on the request path). */
export function hash64BigInt(h: Hash64): bigint {
  return (BigInt(h.hi) << 32n) | BigInt(h.lo);
}
