// xxHash64 against the official vectors of the xxHash project (cli/xsum_sanity_check.c: its generated sanity
// buffer, lengths across every branch of the algorithm, seeds 0 and PRIME32), plus seeds above 32 bits.

import test from 'node:test';
import assert from 'node:assert/strict';
import { Hash64, hash64BigInt, hash64Hex, xxHash64 } from '../../src/common/xxhash64.ts';

const PRIME32 = 2654435761;
const M64 = (1n << 64n) - 1n;

function sanityBuffer(length: number): Buffer {
  const b = Buffer.alloc(length);
  let gen = BigInt(PRIME32);
  for (let i = 0; i < length; i++) {
    b[i] = Number(gen >> 56n);
    gen = (gen * 11400714785074694797n) & M64;
  }
  return b;
}

const VECTORS: ReadonlyArray<[number, number, bigint]> = [
  [0, 0, 0xEF46DB3751D8E999n],
  [0, PRIME32, 0xAC75FDA2929B17EFn],
  [1, 0, 0xE934A84ADB052768n],
  [1, PRIME32, 0x5014607643A9B4C3n],
  [4, 0, 0x9136A0DCA57457EEn],
  [14, 0, 0x8282DCC4994E35C8n],
  [14, PRIME32, 0xC3BD6BF63DEB6DF0n],
  [222, 0, 0xB641AE8CB691C174n],
  [222, PRIME32, 0x20CB8AB7AE10C14An],
];

test('xxHash64: the official sanity vectors', () => {
  const buf = sanityBuffer(222);
  const out = new Hash64();
  for (const [len, seed, expected] of VECTORS) {
    assert.equal(hash64BigInt(xxHash64(buf.subarray(0, len), out, 0, seed)), expected, `len ${len} seed ${seed}`);
  }
});

test('xxHash64: strings hash as their UTF-8 bytes', () => {
  const out = new Hash64();
  assert.equal(hash64Hex(xxHash64('', out)), 'ef46db3751d8e999');
  assert.equal(hash64Hex(xxHash64('abc', out)), '44bc2cf5ad770999');
  assert.equal(hash64Hex(xxHash64('Nobody inspects the spammish repetition', out)), 'fbcea83c8a378bf1');
  const text = 'héllo wörld ✓ '.repeat(40);
  assert.equal(hash64BigInt(xxHash64(text, out)), hash64BigInt(xxHash64(Buffer.from(text, 'utf8'), new Hash64())));
});

/** A straightforward BigInt XXH64, the reference for seeds beyond the official vectors. */
function referenceXxh64(b: Uint8Array, seed: bigint): bigint {
  const P1 = 0x9E3779B185EBCA87n, P2 = 0xC2B2AE3D27D4EB4Fn, P3 = 0x165667B19E3779F9n, P4 = 0x85EBCA77C2B2AE63n, P5 = 0x27D4EB2F165667C5n;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
  const rd64 = (i: number): bigint => Buffer.from(b.buffer, b.byteOffset, b.length).readBigUInt64LE(i);
  const rd32 = (i: number): bigint => BigInt(Buffer.from(b.buffer, b.byteOffset, b.length).readUInt32LE(i));
  const round = (acc: bigint, input: bigint): bigint => (rotl((acc + input * P2) & M64, 31n) * P1) & M64;
  const merge = (acc: bigint, v: bigint): bigint => (((acc ^ round(0n, v)) * P1) + P4) & M64;
  let i = 0;
  let h: bigint;
  if (b.length >= 32) {
    let v1 = (seed + P1 + P2) & M64, v2 = (seed + P2) & M64, v3 = seed, v4 = (seed - P1) & M64;
    for (; i + 32 <= b.length; i += 32) {
      v1 = round(v1, rd64(i)); v2 = round(v2, rd64(i + 8)); v3 = round(v3, rd64(i + 16)); v4 = round(v4, rd64(i + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(b.length)) & M64;
  for (; i + 8 <= b.length; i += 8) h = ((rotl(h ^ round(0n, rd64(i)), 27n) * P1) + P4) & M64;
  if (i + 4 <= b.length) { h = ((rotl(h ^ ((rd32(i) * P1) & M64), 23n) * P2) + P3) & M64; i += 4; }
  for (; i < b.length; i++) h = (rotl(h ^ ((BigInt(b[i]!) * P5) & M64), 11n) * P1) & M64;
  h ^= h >> 33n; h = (h * P2) & M64; h ^= h >> 29n; h = (h * P3) & M64; h ^= h >> 32n;
  return h;
}

test('the BigInt reference agrees with the official vectors', () => {
  const buf = sanityBuffer(222);
  for (const [len, seed, expected] of VECTORS) assert.equal(referenceXxh64(buf.subarray(0, len), BigInt(seed)), expected);
});

test('xxHash64: every length 0..300 and 64-bit seeds agree with the reference', () => {
  const buf = sanityBuffer(300);
  const out = new Hash64();
  let seed = 0x0123456789abcdefn;
  for (let len = 0; len <= 300; len++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & M64;
    const hi = Number(seed >> 32n), lo = Number(seed & 0xffffffffn);
    assert.equal(hash64BigInt(xxHash64(buf.subarray(0, len), out, hi, lo)), referenceXxh64(buf.subarray(0, len), seed), `len ${len}`);
  }
});
