// Micro bench: ns per HPACK header block for Legate's decoder (request blocks as curl/h2load/browsers send them,
// the first on a connection and the repeats that hit the dynamic table) and encoder (response blocks). Not a test.
// Run: node_modules/.bin/node bench/micro/hpack.ts

import { HpackDecoder } from '../../src/http2/hpack-decoder.ts';
import { HpackEncoder } from '../../src/http2/hpack-encoder.ts';

const CURL = [':method', 'GET', ':scheme', 'https', ':authority', 'api.example.com', ':path', '/api/v1/items/12345?expand=true',
  'user-agent', 'curl/8.5.0', 'accept', '*/*'];
const H2LOAD = [':method', 'GET', ':scheme', 'https', ':authority', '127.0.0.1:10000', ':path', '/',
  'user-agent', 'h2load nghttp2/1.59.0'];
const BROWSER = [':method', 'GET', ':authority', 'www.example.com', ':scheme', 'https', ':path', '/static/app.3f9c1b.js',
  'sec-ch-ua', '"Chromium";v="124", "Not-A.Brand";v="99"', 'sec-ch-ua-mobile', '?0',
  'user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'sec-ch-ua-platform', '"Linux"', 'accept', '*/*', 'sec-fetch-site', 'same-origin', 'sec-fetch-mode', 'no-cors',
  'sec-fetch-dest', 'script', 'referer', 'https://www.example.com/', 'accept-encoding', 'gzip, deflate, br, zstd',
  'accept-language', 'en-US,en;q=0.9', 'cookie', 'session=7f3a9c2e41b84d0f; theme=dark; _ga=GA1.2.1234567890.1700000000'];
const RESPONSE = [':status', '200', 'content-type', 'application/json', 'content-length', '1234',
  'date', 'Tue, 03 Nov 2026 10:00:00 GMT', 'server', 'legate', 'x-envoy-upstream-service-time', '3'];

let sink = 0;

const ROUNDS = 5;

/** Best of ROUNDS after a warm-up: the figures are short enough for scheduler noise to matter. */
function time(name: string, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(iterations, 200_000); i++) fn(); // warm-up
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  console.log(`${name.padEnd(52)} ${best.toFixed(1).padStart(8)} ns/block`);
}

function encodeOnce(encoder: HpackEncoder, fields: readonly string[]): Buffer {
  const out = Buffer.alloc(encoder.maxEncodedBytes(fields, 0, fields.length));
  return out.subarray(0, encoder.encode(fields, 0, fields.length, out, 0));
}

/** The peer's first and second block of the same request, as an encoder like nghttp2's would send them. */
function blocks(fields: readonly string[]): { first: Buffer; repeat: Buffer } {
  const encoder = new HpackEncoder();
  const first = encodeOnce(encoder, fields);
  return { first, repeat: encodeOnce(encoder, fields) };
}

function decodeFirst(fields: readonly string[]): () => void {
  // Each decode inserts the block's entries again, so the table fills and then evicts: the literal path.
  const { first } = blocks(fields);
  const decoder = new HpackDecoder(4096, 64 * 1024, 100);
  return () => {
    const out: string[] = [];
    sink += decoder.decode(first, 0, first.length, out) + out.length;
  };
}

function decodeRepeat(fields: readonly string[]): () => void {
  // Every field a table hit; the table never changes, as on a connection carrying the same request over and over.
  const { first, repeat } = blocks(fields);
  const decoder = new HpackDecoder(4096, 64 * 1024, 100);
  decoder.decode(first, 0, first.length, []);
  return () => {
    const out: string[] = []; // a new list per block, as the codec hands each stream its own
    sink += decoder.decode(repeat, 0, repeat.length, out) + out.length;
  };
}

function encodeRepeat(fields: readonly string[]): () => void {
  const encoder = new HpackEncoder();
  const target = Buffer.alloc(encoder.maxEncodedBytes(fields, 0, fields.length));
  return () => {
    sink += encoder.encode(fields, 0, fields.length, target, 0);
  };
}

function encodeVarying(): () => void {
  // What a proxy actually sends: content-length and upstream time change from response to response (date only
  // once a second, so it stays).
  const variants: string[][] = [];
  for (let i = 0; i < 64; i++) {
    const fields = RESPONSE.slice();
    fields[5] = String(1000 + i * 37);
    fields[11] = String(i % 10);
    variants.push(fields);
  }
  const encoder = new HpackEncoder();
  const target = Buffer.alloc(4096);
  let n = 0;
  return () => {
    const fields = variants[n++ & 63];
    sink += encoder.encode(fields, 0, fields.length, target, 0);
  };
}

function sizes(name: string, fields: readonly string[]): void {
  const { first, repeat } = blocks(fields);
  let raw = 0;
  for (const s of fields) raw += s.length;
  console.log(`${name.padEnd(20)} ${fields.length / 2} fields, ${raw} B of names+values: first block ${first.length} B, repeat ${repeat.length} B`);
}

sizes('curl request', CURL);
sizes('h2load request', H2LOAD);
sizes('browser request', BROWSER);
sizes('response', RESPONSE);
console.log('');

const N = 1_000_000;
time('decode request  curl, first on connection', N, decodeFirst(CURL));
time('decode request  curl, repeat (table hits)', N, decodeRepeat(CURL));
time('decode request  h2load, first on connection', N, decodeFirst(H2LOAD));
time('decode request  h2load, repeat (table hits)', N, decodeRepeat(H2LOAD));
time('decode request  browser (16 fields), first', N / 4, decodeFirst(BROWSER));
time('decode request  browser (16 fields), repeat', N / 4, decodeRepeat(BROWSER));
time('encode response (6 fields), repeat', N, encodeRepeat(RESPONSE));
time('encode response (6 fields), varying length/time', N, encodeVarying());
time('encode request  curl, repeat', N, encodeRepeat(CURL));
if (sink === -1) console.log('');
