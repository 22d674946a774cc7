// Tests of Legate's HPACK (RFC 7541) decoder, encoder and Huffman code: every Appendix C example (fields and
// dynamic table after each block), Huffman round trips and known strings, each COMPRESSION_ERROR case, the
// stream-level limits keeping the table in sync, encoder↔decoder round trips with table size changes, and interop
// both ways with nghttp2 (inside node:http2) over real sockets.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { HpackDecodeResult, HpackDecoder } from '../../src/http2/hpack-decoder.ts';
import { HpackEncoder } from '../../src/http2/hpack-encoder.ts';
import { HUFFMAN_BITS, HUFFMAN_CODES, STATIC_NAMES, STATIC_VALUES } from '../../src/http2/hpack-tables.ts';
import { huffmanDecode, huffmanDecodedCapacity, huffmanEncode, huffmanEncodedLength } from '../../src/http2/huffman.ts';
import { prng } from '../http1/harness.ts';
import {
  CONNECTION_PREFACE,
  encodeFrame,
  FrameFlag,
  FrameReader,
  FrameType,
  settingsFrame,
} from '../support/h2-raw-client.ts';

const { OK, COMPRESSION_ERROR, HEADER_LIST_TOO_LARGE, TOO_MANY_HEADERS } = HpackDecodeResult;

/** Hex as printed in RFC 7541 Appendix C (spaces and line breaks ignored). */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeBlock(decoder: HpackDecoder, block: Buffer): { result: number; fields: string[] } {
  const fields: string[] = [];
  // Decode from the middle of a larger buffer, as the codec does, so start/end are honoured.
  const framed = Buffer.concat([Buffer.from([0xde, 0xad]), block, Buffer.from([0xbe, 0xef])]);
  const result = decoder.decode(framed, 2, 2 + block.length, fields);
  return { result, fields };
}

function encodeBlock(encoder: HpackEncoder, fields: readonly string[]): Buffer {
  const bound = encoder.maxEncodedBytes(fields, 0, fields.length);
  const target = Buffer.alloc(bound + 4);
  const end = encoder.encode(fields, 0, fields.length, target, 2);
  assert.ok(end - 2 <= bound, `encoded ${end - 2} bytes, bound ${bound}`);
  return target.subarray(2, end);
}

function huffman(str: string): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(str));
  assert.equal(huffmanEncode(str, out, 0), out.length);
  return out;
}

function unhuffman(bytes: Buffer): string | null {
  const out = Buffer.alloc(huffmanDecodedCapacity(bytes.length));
  const n = huffmanDecode(bytes, 0, bytes.length, out);
  return n < 0 ? null : out.toString('latin1', 0, n);
}

interface Step {
  block: string;
  fields: string[];
  /** The dynamic table after the block, newest first, as name, value pairs. */
  table: string[];
  size: number;
}

function runSteps(decoder: HpackDecoder, steps: readonly Step[]): void {
  for (const [i, step] of steps.entries()) {
    const { result, fields } = decodeBlock(decoder, hex(step.block));
    assert.equal(result, OK, `block ${i + 1}`);
    assert.deepEqual(fields, step.fields, `fields of block ${i + 1}`);
    assert.deepEqual(decoder.table.list(), step.table, `table after block ${i + 1}`);
    assert.equal(decoder.table.size, step.size, `table size after block ${i + 1}`);
  }
}

// ---- RFC 7541 Appendix C ---------------------------------------------------------------------------------

const REQ1 = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'];
const REQ2 = [...REQ1, 'cache-control', 'no-cache'];
const REQ3 = [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com',
  'custom-key', 'custom-value'];
const REQ_TABLES = [
  { table: [':authority', 'www.example.com'], size: 57 },
  { table: ['cache-control', 'no-cache', ':authority', 'www.example.com'], size: 110 },
  { table: ['custom-key', 'custom-value', 'cache-control', 'no-cache', ':authority', 'www.example.com'], size: 164 },
];
const C3 = ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865',
  '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'];
const C4 = ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'];

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RES1 = [':status', '302', 'cache-control', 'private', 'date', DATE1, 'location', LOCATION];
const RES2 = [':status', '307', 'cache-control', 'private', 'date', DATE1, 'location', LOCATION];
const RES3 = [':status', '200', 'cache-control', 'private', 'date', DATE2, 'location', LOCATION,
  'content-encoding', 'gzip', 'set-cookie', COOKIE];
const RES_TABLES = [
  { table: ['location', LOCATION, 'date', DATE1, 'cache-control', 'private', ':status', '302'], size: 222 },
  { table: [':status', '307', 'location', LOCATION, 'date', DATE1, 'cache-control', 'private'], size: 222 },
  { table: ['set-cookie', COOKIE, 'content-encoding', 'gzip', 'date', DATE2], size: 215 },
];
const C5 = [
  '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d' +
  '546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '4803 3330 37c1 c0bf',
  '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f' +
  '6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b' +
  '2076 6572 7369 6f6e 3d31',
];
const C6 = [
  '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7' +
  '8f0b 97c8 e9ae 82ae 43d3',
  '4883 640e ffc1 c0bf',
  '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335' +
  'dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
];
/** A block holding only a size update to 256 (5-bit prefix: 31, then 225 as e1 01), for the C.5/C.6 decoders. */
const RESIZE_256 = '3fe101';

function steps(blocks: readonly string[], fields: readonly string[][], tables: readonly { table: string[]; size: number }[]): Step[] {
  return blocks.map((block, i) => ({ block, fields: fields[i], table: tables[i].table, size: tables[i].size }));
}

function responseDecoder(): HpackDecoder {
  const decoder = new HpackDecoder(256, 64 * 1024, 100);
  const { result, fields } = decodeBlock(decoder, hex(RESIZE_256));
  assert.equal(result, OK);
  assert.deepEqual(fields, []);
  assert.equal(decoder.table.capacity, 256);
  return decoder;
}

describe('RFC 7541 Appendix C examples', () => {
  it('C.1: integers with a prefix (through size updates): 10, 1337 with a 5-bit prefix', () => {
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    assert.equal(decodeBlock(decoder, hex('2a')).result, OK);
    assert.equal(decoder.table.capacity, 10);
    assert.equal(decodeBlock(decoder, hex('3f9a0a')).result, OK);
    assert.equal(decoder.table.capacity, 1337);
    const encoder = new HpackEncoder();
    encoder.setPeerMaxTableSize(1337);
    assert.equal(encodeBlock(encoder, []).toString('hex'), '3f9a0a');
    assert.equal(encodeBlock(encoder, []).length, 0, 'the update is sent once');
  });

  it('C.2.1: literal field with indexing', () => {
    runSteps(new HpackDecoder(4096, 64 * 1024, 100), [{
      block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
      fields: ['custom-key', 'custom-header'], table: ['custom-key', 'custom-header'], size: 55,
    }]);
  });

  it('C.2.2: literal field without indexing', () => {
    runSteps(new HpackDecoder(4096, 64 * 1024, 100), [{
      block: '040c 2f73 616d 706c 652f 7061 7468', fields: [':path', '/sample/path'], table: [], size: 0,
    }]);
  });

  it('C.2.3: literal field never indexed', () => {
    runSteps(new HpackDecoder(4096, 64 * 1024, 100), [{
      block: '1008 7061 7373 776f 7264 0673 6563 7265 74', fields: ['password', 'secret'], table: [], size: 0,
    }]);
  });

  it('C.2.4: indexed field', () => {
    runSteps(new HpackDecoder(4096, 64 * 1024, 100), [{ block: '82', fields: [':method', 'GET'], table: [], size: 0 }]);
  });

  it('C.3: requests without Huffman', () => {
    runSteps(new HpackDecoder(4096, 64 * 1024, 100), steps(C3, [REQ1, REQ2, REQ3], REQ_TABLES));
  });

  it('C.4: requests with Huffman', () => {
    runSteps(new HpackDecoder(4096, 64 * 1024, 100), steps(C4, [REQ1, REQ2, REQ3], REQ_TABLES));
  });

  it('C.4: our encoder produces the RFC blocks byte for byte', () => {
    const encoder = new HpackEncoder();
    for (const [i, fields] of [REQ1, REQ2, REQ3].entries()) {
      assert.equal(encodeBlock(encoder, fields).toString('hex'), C4[i].replace(/\s+/g, ''), `request ${i + 1}`);
      assert.deepEqual(encoder.table.list(), REQ_TABLES[i].table);
      assert.equal(encoder.table.size, REQ_TABLES[i].size);
    }
  });

  it('C.5: responses without Huffman, table size 256 with eviction', () => {
    runSteps(responseDecoder(), steps(C5, [RES1, RES2, RES3], RES_TABLES));
  });

  it('C.6: responses with Huffman, table size 256 with eviction', () => {
    runSteps(responseDecoder(), steps(C6, [RES1, RES2, RES3], RES_TABLES));
  });

  it('static table: 61 entries, spot checks', () => {
    assert.equal(STATIC_NAMES.length, 62);
    assert.equal(STATIC_VALUES.length, 62);
    assert.deepEqual([STATIC_NAMES[1], STATIC_NAMES[8], STATIC_VALUES[8], STATIC_NAMES[16], STATIC_VALUES[16]],
      [':authority', ':status', '200', 'accept-encoding', 'gzip, deflate']);
    assert.deepEqual([STATIC_NAMES[28], STATIC_NAMES[55], STATIC_NAMES[61]], ['content-length', 'set-cookie', 'www-authenticate']);
    // Every static entry decodes through the indexed representation.
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    for (let i = 1; i <= 61; i++) {
      assert.deepEqual(decodeBlock(decoder, Buffer.from([0x80 | i])).fields, [STATIC_NAMES[i], STATIC_VALUES[i]]);
    }
  });
});

// ---- Huffman -----------------------------------------------------------------------------------------------

describe('Huffman code', () => {
  it('the code table is a complete prefix code with EOS = 30 one-bits', () => {
    let kraft = 0;
    for (let s = 0; s <= 256; s++) kraft += 2 ** -HUFFMAN_BITS[s];
    assert.equal(kraft, 1);
    assert.equal(HUFFMAN_CODES[256], 0x3fffffff);
    assert.equal(HUFFMAN_BITS[256], 30);
    assert.deepEqual([HUFFMAN_CODES[48], HUFFMAN_BITS[48], HUFFMAN_CODES[0], HUFFMAN_BITS[0]], [0x0, 5, 0x1ff8, 13]);
  });

  it('encodes the RFC 7541 Appendix C strings', () => {
    const known: [string, string][] = [
      ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
      ['no-cache', 'a8eb 1064 9cbf'],
      ['custom-key', '25a8 49e9 5ba9 7d7f'],
      ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
      ['302', '6402'],
      ['307', '640e ff'],
      ['private', 'aec3 771a 4b'],
      [DATE1, 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
      [DATE2, 'd07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff'],
      [LOCATION, '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
      ['gzip', '9bd9 ab'],
      [COOKIE, '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'],
    ];
    for (const [str, bytes] of known) {
      assert.equal(huffman(str).toString('hex'), bytes.replace(/\s+/g, ''), str);
      assert.equal(unhuffman(hex(bytes)), str);
    }
  });

  it('round-trips every byte 0..255 alone, all of them together, and random strings', () => {
    let all = '';
    for (let b = 0; b < 256; b++) {
      const s = String.fromCharCode(b);
      all += s;
      assert.equal(unhuffman(huffman(s)), s, `byte ${b}`);
      assert.equal(unhuffman(huffman(s + s + s)), s + s + s, `byte ${b} x3`);
    }
    assert.equal(unhuffman(huffman(all)), all);
    assert.equal(unhuffman(Buffer.alloc(0)), '');
    const rnd = prng(7541);
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rnd() * 64);
      const ascii = rnd() < 0.7;
      let s = '';
      for (let j = 0; j < len; j++) s += String.fromCharCode(ascii ? 0x20 + Math.floor(rnd() * 95) : Math.floor(rnd() * 256));
      const bytes = huffman(s);
      assert.equal(unhuffman(bytes), s, JSON.stringify(s));
    }
  });

  it('rejects EOS inside a string, padding longer than 7 bits, and padding that is not all 1s', () => {
    // 'a' is 00011; then 30 one-bits (EOS) and 5 bits of padding.
    assert.equal(unhuffman(hex('1fffffffff')), null, 'EOS');
    // 'a' then 11 one-bits of padding.
    assert.equal(unhuffman(hex('1fff')), null, 'padding of 11 bits');
    // "302" ends on a byte boundary; a whole extra byte of 1s is 8 bits of padding.
    assert.equal(unhuffman(hex('6402ff')), null, 'padding of 8 bits');
    assert.equal(unhuffman(hex('6402')), '302');
    // 'a' then 000: a prefix of '0' (00000), not of EOS.
    assert.equal(unhuffman(hex('18')), null, 'padding of 0s');
    assert.equal(unhuffman(hex('1f')), 'a', 'padding of three 1s is fine');
    assert.equal(unhuffman(hex('ff')), null, 'a lone byte of padding');
  });
});

// ---- decoder errors and limits --------------------------------------------------------------------------

describe('HpackDecoder errors', () => {
  const cases: [string, string][] = [
    ['index 0', '80'],
    ['indexed field beyond the (empty) dynamic table', 'be'],
    ['literal name index beyond the table', '7e 01 61'],
    ['literal without indexing, name index beyond the table', '0f 2f 01 61'],
    ['integer with 6 continuation bytes', 'ff ff ff ff ff ff 0f'],
    ['integer above 2^32', 'ff 80 80 80 80 10'],
    ['truncated integer', 'ff 80'],
    ['truncated string', '40 05 61 62'],
    ['string length far beyond the block', '40 7f ff ff ff 0f'],
    ['literal with a missing value', '40 01 61'],
    ['bad Huffman padding in a name', '40 82 1fff 01 61'],
    ['Huffman padding of 0s in a value', '41 81 18'],
    ['EOS inside a Huffman value', '41 85 1fffffffff'],
    ['size update above the advertised maximum', '3f e1 1f 82'],
    ['size update after a field', '82 20'],
    ['size update after a field, then a field', '82 3f e1 01 82'],
  ];
  for (const [name, block] of cases) {
    it(`${name} → COMPRESSION_ERROR`, () => {
      const decoder = new HpackDecoder(256, 64 * 1024, 100);
      assert.equal(decodeBlock(decoder, hex(block)).result, COMPRESSION_ERROR);
    });
  }

  it('accepts the largest allowed integers and two size updates in a row at the start', () => {
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    // 0 then 256, then a field; the table takes the last size.
    assert.deepEqual(decodeBlock(decoder, hex('20 3fe101 82')), { result: OK, fields: [':method', 'GET'] });
    assert.equal(decoder.table.capacity, 256);
    // An update to exactly the maximum is fine; one above it is not.
    assert.equal(decodeBlock(decoder, hex('3fe11f')).result, OK);
    assert.equal(decoder.table.capacity, 4096);
    assert.equal(decodeBlock(decoder, hex('3fe21f')).result, COMPRESSION_ERROR);
  });

  it('the table starts at 4096 whatever we advertise, until the peer sends an update (≤ what we advertise)', () => {
    const decoder = new HpackDecoder(0, 64 * 1024, 100);
    assert.equal(decoder.table.capacity, 4096);
    // A peer that has not seen our SETTINGS yet still indexes with the default size.
    runSteps(decoder, steps(C3, [REQ1, REQ2, REQ3], REQ_TABLES));
    assert.equal(decodeBlock(decoder, hex('21')).result, COMPRESSION_ERROR, 'update to 1 > 0 advertised');
    const acked = new HpackDecoder(0, 64 * 1024, 100);
    runSteps(acked, steps(C3, [REQ1, REQ2, REQ3], REQ_TABLES));
    assert.deepEqual(decodeBlock(acked, hex('20 82')), { result: OK, fields: [':method', 'GET'] });
    assert.equal(acked.table.size, 0);
    assert.deepEqual(decodeBlock(acked, hex('40 01 61 01 62')), { result: OK, fields: ['a', 'b'] });
    assert.deepEqual(acked.table.list(), [], 'nothing fits a 0-size table');
  });

  it('a size update evicts, and indexes into the evicted part are errors', () => {
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    runSteps(decoder, steps(C3, [REQ1, REQ2, REQ3], REQ_TABLES));
    // Down to 111 keeps the two newest (54 + 53 = 107); then to 0 empties it.
    assert.equal(decodeBlock(decoder, hex('3f50')).result, OK);
    assert.deepEqual(decoder.table.list(), ['custom-key', 'custom-value', 'cache-control', 'no-cache']);
    assert.equal(decoder.table.size, 107);
    assert.deepEqual(decodeBlock(decoder, hex('bf')).fields, ['cache-control', 'no-cache']);
    assert.equal(decodeBlock(decoder, hex('c0')).result, COMPRESSION_ERROR);
    const empty = new HpackDecoder(4096, 64 * 1024, 100);
    runSteps(empty, steps(C3, [REQ1, REQ2, REQ3], REQ_TABLES));
    assert.equal(decodeBlock(empty, hex('20')).result, OK);
    assert.equal(empty.table.size, 0);
    assert.equal(decodeBlock(empty, hex('be')).result, COMPRESSION_ERROR);
  });

  it('an entry larger than the table empties it and is not added', () => {
    const decoder = responseDecoder();
    runSteps(decoder, steps(C5.slice(0, 1), [RES1], RES_TABLES));
    const big = 'v'.repeat(300);
    const block = Buffer.concat([hex('40 01 78 7f ad 01'), Buffer.from(big, 'latin1')]); // x: 300 bytes of v
    assert.deepEqual(decodeBlock(decoder, block), { result: OK, fields: ['x', big] });
    assert.deepEqual(decoder.table.list(), []);
    assert.equal(decoder.table.size, 0);
  });

  it('HEADER_LIST_TOO_LARGE still decodes the whole block, so later blocks indexing it work', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 200, 100);
    const big = ['x-a', 'a'.repeat(120), 'x-b', 'b'.repeat(40), 'x-c', 'c'.repeat(10)];
    const first = decodeBlock(decoder, encodeBlock(encoder, big));
    assert.equal(first.result, HEADER_LIST_TOO_LARGE);
    assert.deepEqual(first.fields, big.slice(0, 2), 'fields up to the limit only');
    assert.deepEqual(decoder.table.list(), encoder.table.list());
    const later = ['x-c', 'c'.repeat(10), 'x-b', 'b'.repeat(40)];
    const block = encodeBlock(encoder, later);
    assert.equal(block.length, 2, 'both fields are dynamic table hits');
    assert.deepEqual(decodeBlock(decoder, block), { result: OK, fields: later });
  });

  it('TOO_MANY_HEADERS still decodes the whole block, so later blocks indexing it work', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 64 * 1024, 3);
    const many = [':status', '200', 'x-1', 'one', 'x-2', 'two', 'x-3', 'three', 'x-4', 'four'];
    const first = decodeBlock(decoder, encodeBlock(encoder, many));
    assert.equal(first.result, TOO_MANY_HEADERS);
    assert.deepEqual(first.fields, many.slice(0, 6));
    const later = ['x-4', 'four', 'x-3', 'three'];
    const block = encodeBlock(encoder, later);
    assert.equal(block.length, 2);
    assert.deepEqual(decodeBlock(decoder, block), { result: OK, fields: later });
  });

  it('indexed static and dynamic hits decode repeatedly without changing the table', () => {
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    decodeBlock(decoder, hex(C3[0]));
    const a = decodeBlock(decoder, hex('be 88')).fields;
    const b = decodeBlock(decoder, hex('be 88')).fields;
    assert.deepEqual(a, [':authority', 'www.example.com', ':status', '200']);
    assert.deepEqual(b, a);
    assert.equal(decoder.table.size, 57);
  });
});

// ---- encoder ---------------------------------------------------------------------------------------------

function roundTrip(encoder: HpackEncoder, decoder: HpackDecoder, fields: readonly string[]): Buffer {
  const block = encodeBlock(encoder, fields);
  assert.deepEqual(decodeBlock(decoder, block), { result: OK, fields: [...fields] });
  assert.deepEqual(decoder.table.list(), encoder.table.list());
  assert.equal(decoder.table.size, encoder.table.size);
  assert.ok(encoder.table.size <= encoder.table.capacity);
  return block;
}

describe('HpackEncoder', () => {
  it('round-trips random header lists across many blocks and table size changes', () => {
    const rnd = prng(42);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
    const names = [':status', ':method', ':path', ':authority', 'content-type', 'cache-control', 'server', 'vary',
      'content-length', 'date', 'etag', 'set-cookie', 'cookie', 'authorization', 'accept', 'accept-encoding',
      'x-custom', 'x-trace', 'x-envoy-upstream-service-time', 'x-a-rather-long-custom-header-name', 'www-authenticate'];
    const values = ['200', '404', 'GET', '/', '/index.html', 'text/html', 'application/json', 'no-cache',
      'gzip, deflate', 'legate', '', 'a', 'session=abc', 'x'.repeat(100), 'y'.repeat(1500)];
    const randomValue = (): string => {
      if (rnd() < 0.6) return pick(values);
      let s = '';
      const len = Math.floor(rnd() * 40);
      for (let i = 0; i < len; i++) s += String.fromCharCode(rnd() < 0.9 ? 0x20 + Math.floor(rnd() * 95) : 0x80 + Math.floor(rnd() * 128));
      return s;
    };
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 1 << 20, 1000);
    const sizes = [0, 256, 4096, 100_000, 64, 1024];
    for (let block = 0; block < 600; block++) {
      if (rnd() < 0.05) encoder.setPeerMaxTableSize(pick(sizes));
      if (rnd() < 0.02) { encoder.setPeerMaxTableSize(0); encoder.setPeerMaxTableSize(pick(sizes)); }
      const fields: string[] = [];
      const n = Math.floor(rnd() * 20);
      for (let i = 0; i < n; i++) fields.push(pick(names), randomValue());
      roundTrip(encoder, decoder, fields);
    }
  });

  it('setPeerMaxTableSize: 0 then back emits the minimum first; 256 evicts; above 4096 keeps 4096', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    const fields = ['x-one', 'v'.repeat(100), 'x-two', 'w'.repeat(100), 'x-three', 'z'.repeat(100)];
    roundTrip(encoder, decoder, fields);
    assert.equal(encoder.table.list().length, 6);
    encoder.setPeerMaxTableSize(0);
    encoder.setPeerMaxTableSize(4096);
    const block = roundTrip(encoder, decoder, []);
    assert.equal(block.toString('hex'), '20' + '3fe11f');
    assert.equal(decoder.table.size, 0);
    roundTrip(encoder, decoder, fields);
    encoder.setPeerMaxTableSize(256);
    assert.equal(roundTrip(encoder, decoder, fields.slice(0, 2))[0], 0x3f, 'starts with the size update');
    assert.equal(decoder.table.capacity, 256);
    assert.ok(encoder.table.size <= 256);
    encoder.setPeerMaxTableSize(100_000);
    assert.equal(encoder.table.capacity, 4096);
    assert.equal(roundTrip(encoder, decoder, [])[0], 0x3f, '256 → 4096 is signaled');
    encoder.setPeerMaxTableSize(65_536);
    assert.equal(roundTrip(encoder, decoder, []).length, 0, 'no change, no update');
    encoder.setPeerMaxTableSize(0);
    roundTrip(encoder, decoder, fields);
    assert.deepEqual(encoder.table.list(), [], 'nothing is inserted into a 0-size table');
    roundTrip(encoder, decoder, fields);
  });

  it('repeated response headers compress to one byte per indexed field', () => {
    const indexable = [':status', '200', 'content-type', 'application/json', 'server', 'legate',
      'cache-control', 'private, max-age=0', 'vary', 'accept-encoding', 'access-control-allow-origin', '*',
      'strict-transport-security', 'max-age=31536000; includeSubDomains'];
    const volatile = ['content-length', '1234', 'date', 'Tue, 03 Nov 2026 10:00:00 GMT',
      'x-envoy-upstream-service-time', '3'];
    const response = [...indexable, ...volatile];
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    const first = roundTrip(encoder, decoder, response);
    const second = roundTrip(encoder, decoder, response);
    assert.ok(second.length * 2 < first.length, `${second.length} vs ${first.length}`);
    assert.equal(roundTrip(encoder, decoder, indexable).length, indexable.length / 2);
    // The volatile ones never enter the table, so they do not churn it.
    assert.equal(encoder.table.list().length, indexable.length - 2, 'all but the static :status 200');
  });

  it('sends credentials and short cookies never-indexed, volatile values without indexing', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    const firstByte = (fields: string[]): number => roundTrip(encoder, decoder, fields)[0];
    assert.equal(firstByte(['authorization', 'Bearer abc']) & 0xf0, 0x10);
    assert.equal(firstByte(['proxy-authorization', 'Basic Zm9vOmJhcg==']) & 0xf0, 0x10);
    assert.equal(firstByte(['set-cookie', 'id=1']) & 0xf0, 0x10);
    assert.equal(firstByte(['cookie', 'short=1']) & 0xf0, 0x10);
    assert.equal(firstByte(['content-length', '42']) & 0xf0, 0x00);
    assert.equal(firstByte(['date', DATE1]) & 0xf0, 0x00);
    assert.equal(firstByte(['x-request-id', 'abc']) & 0xf0, 0x00);
    assert.deepEqual(encoder.table.list(), []);
    assert.equal(firstByte(['cookie', 'session=0123456789abcdef']) & 0xc0, 0x40, 'a long cookie is indexed');
    assert.deepEqual(encoder.table.list(), ['cookie', 'session=0123456789abcdef']);
    // Larger than half the table: not inserted.
    assert.equal(firstByte(['x-big', 'b'.repeat(2100)]) & 0xf0, 0x00);
    assert.equal(encoder.table.list().length, 2);
  });

  it('uses the dynamic table for names too', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder(4096, 64 * 1024, 100);
    roundTrip(encoder, decoder, ['x-custom-name', 'one']);
    const block = roundTrip(encoder, decoder, ['x-custom-name', 'two']);
    assert.equal(block[0], 0x40 | 62, 'name from dynamic index 62');
    assert.equal(block.length, 1 + 1 + 3, 'name index, then "two" raw (Huffman is not shorter)');
  });
});

// ---- interop with nghttp2 ----------------------------------------------------------------------------------

/** The header block fragment of a HEADERS frame: without padding and priority fields (RFC 9113 §6.2). */
function headersFragment(flags: number, payload: Buffer): Buffer {
  let from = 0;
  let to = payload.length;
  if ((flags & FrameFlag.PADDED) !== 0) {
    to -= payload[0];
    from = 1;
  }
  if ((flags & FrameFlag.PRIORITY) !== 0) from += 5;
  return payload.subarray(from, to);
}

const REQUEST = [':method', 'GET', ':scheme', 'http', ':path', '/x?y=1', ':authority', 'example.test',
  'user-agent', 'legate-hpack-test/1.0', 'accept', '*/*',
  'x-custom', 'a fairly long custom value: ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 ~!@#$%^&*()'];

/**
 * Every byte nghttp2 accepts in a field value (HTAB, visible ASCII, 0x80-0xff), behind enough 'e's that Huffman is
 * the shorter encoding: it checks our code table against nghttp2's, including the long codes of high bytes.
 */
const ALL_VALUE_BYTES = ((): string => {
  let s = 'e'.repeat(2000) + '\t';
  for (let b = 0x20; b < 0x7f; b++) s += String.fromCharCode(b);
  for (let b = 0x80; b < 0x100; b++) s += String.fromCharCode(b);
  return s;
})();

function sortedPairs(flat: readonly string[]): string[] {
  const pairs: string[] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push(`${flat[i]}: ${flat[i + 1]}`);
  return pairs.sort();
}

describe('interop with nghttp2 (node:http2)', () => {
  it('node:http2 server decodes requests from our encoder (dynamic table hits, Huffman of every value byte)', { timeout: 5000 }, async () => {
    const server = http2.createServer();
    const seen: string[][] = [];
    const done = new Promise<void>((resolve, reject) => {
      server.on('sessionError', reject);
      server.on('stream', (stream, _headers, _flags, rawHeaders: string[]) => {
        seen.push(rawHeaders);
        stream.respond({ ':status': 200 });
        stream.end();
        if (seen.length === 3) resolve();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    const reader = new FrameReader();
    const errors: string[] = [];
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (frame.type === FrameType.SETTINGS && (frame.flags & FrameFlag.ACK) === 0) socket.write(settingsFrame([], true));
        if (frame.type === FrameType.GOAWAY || frame.type === FrameType.RST_STREAM) errors.push(frame.payload.toString('hex'));
      }
    });
    try {
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      const encoder = new HpackEncoder();
      const block1 = encodeBlock(encoder, REQUEST);
      const block2 = encodeBlock(encoder, REQUEST);
      assert.ok(block2.length < 10, `second block is indexed (${block2.length} bytes)`);
      const third = [...REQUEST, 'x-bytes', ALL_VALUE_BYTES];
      const block3 = encodeBlock(encoder, third);
      assert.ok(block3.length < ALL_VALUE_BYTES.length, 'the long value went out Huffman-encoded');
      const flags = FrameFlag.END_HEADERS | FrameFlag.END_STREAM;
      socket.write(Buffer.concat([CONNECTION_PREFACE, settingsFrame(), encodeFrame(FrameType.HEADERS, flags, 1, block1),
        encodeFrame(FrameType.HEADERS, flags, 3, block2), encodeFrame(FrameType.HEADERS, flags, 5, block3)]));
      await done;
      assert.deepEqual(errors, []);
      assert.deepEqual(seen[0], REQUEST);
      assert.deepEqual(seen[1], REQUEST);
      assert.deepEqual(seen[2], third);
    } finally {
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('our decoder decodes requests from node:http2 client (Huffman of every value byte, dynamic table)', { timeout: 5000 }, async () => {
    const blocks: Buffer[] = [];
    let sockets: net.Socket[] = [];
    let gotBoth: () => void = () => {};
    const both = new Promise<void>((resolve) => { gotBoth = resolve; });
    const server = net.createServer((socket) => {
      sockets.push(socket);
      let preface = false;
      let pending = Buffer.alloc(0);
      const reader = new FrameReader();
      let fragment: Buffer[] | null = null;
      socket.write(settingsFrame());
      socket.on('data', (chunk: Buffer) => {
        let data = chunk;
        if (!preface) {
          pending = Buffer.concat([pending, chunk]);
          if (pending.length < CONNECTION_PREFACE.length) return;
          assert.ok(pending.subarray(0, CONNECTION_PREFACE.length).equals(CONNECTION_PREFACE));
          data = pending.subarray(CONNECTION_PREFACE.length);
          preface = true;
        }
        for (const frame of reader.push(data)) {
          if (frame.type === FrameType.SETTINGS && (frame.flags & FrameFlag.ACK) === 0) socket.write(settingsFrame([], true));
          if (frame.type === FrameType.HEADERS) fragment = [headersFragment(frame.flags, frame.payload)];
          else if (frame.type === FrameType.CONTINUATION && fragment !== null) fragment.push(frame.payload);
          else continue;
          if ((frame.flags & FrameFlag.END_HEADERS) !== 0 && fragment !== null) {
            blocks.push(Buffer.concat(fragment));
            fragment = null;
            if (blocks.length === 2) gotBoth();
          }
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    const common = { 'user-agent': 'node-interop/1.0', accept: 'application/json', 'x-custom': 'alpha beta gamma',
      'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736' };
    try {
      const first = client.request({ ':path': '/one?x=1', ...common, 'x-only-first': 'yes' });
      first.on('error', () => {});
      const second = client.request({ ':path': '/two', ...common, 'x-only-second': 'ZZZ~{|}', 'x-bytes': ALL_VALUE_BYTES });
      second.on('error', () => {});
      await both;
      const decoder = new HpackDecoder(4096, 64 * 1024, 100);
      const authority = `127.0.0.1:${port}`;
      const expected = (path: string, extra: string[]): string[] => sortedPairs([':method', 'GET', ':authority', authority,
        ':scheme', 'http', ':path', path, ...Object.entries(common).flat(), ...extra]);
      const one = decodeBlock(decoder, blocks[0]);
      assert.equal(one.result, OK);
      assert.deepEqual(sortedPairs(one.fields), expected('/one?x=1', ['x-only-first', 'yes']));
      const two = decodeBlock(decoder, blocks[1]);
      assert.equal(two.result, OK);
      assert.deepEqual(sortedPairs(two.fields), expected('/two', ['x-only-second', 'ZZZ~{|}', 'x-bytes', ALL_VALUE_BYTES]));
      assert.ok(blocks[1].length < ALL_VALUE_BYTES.length, `nghttp2 sent the long value Huffman-encoded`);
      // The shared fields came from the dynamic table: the second block is little more than its new fields.
      assert.ok(blocks[1].length < blocks[0].length / 2 + huffmanEncodedLength(ALL_VALUE_BYTES),
        `second block ${blocks[1].length} B vs ${blocks[0].length} B`);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      sockets = [];
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
