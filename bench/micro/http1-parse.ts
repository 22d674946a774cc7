// Micro bench: ns per message for Legate's HTTP/1.1 parsers against Node's llhttp (the parser behind node:http,
// driven through the same internal binding node:http uses). Not a test.
// Run: node_modules/.bin/node bench/micro/http1-parse.ts

import { createRequire } from 'node:module';
import { RequestParser } from '../../src/http1/request-parser.ts';
import { ResponseParser } from '../../src/http1/response-parser.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import type { RequestHead, ResponseHead } from '../../src/http1/types.ts';

const require = createRequire(import.meta.url);
// node:http's own parser binding; the deprecation-free internal module node:http itself loads.
const { HTTPParser } = require('_http_common') as { HTTPParser: LlhttpParserClass };

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(buf: Buffer): number | Error;
  [key: number]: unknown;
}
interface LlhttpParserClass {
  new (): LlhttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

const CURL = 'GET /api/v1/items/12345?expand=true HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: curl/8.5.0\r\n' +
  'Accept: */*\r\n\r\n';
const WRK = 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:10000\r\n\r\n';
const BROWSER = 'GET /static/app.3f9c1b.js HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\n' +
  'sec-ch-ua: "Chromium";v="124", "Not-A.Brand";v="99"\r\nsec-ch-ua-mobile: ?0\r\n' +
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\r\n' +
  'sec-ch-ua-platform: "Linux"\r\nAccept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\n' +
  'Sec-Fetch-Dest: script\r\nReferer: https://www.example.com/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n' +
  'Accept-Language: en-US,en;q=0.9\r\nCookie: session=7f3a9c2e41b84d0f; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\r\n';
const BODY_16K = Buffer.alloc(16 * 1024, 0x61);
const RESPONSE_16K = Buffer.concat([
  Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 16384\r\n' +
    'Date: Tue, 03 Nov 2026 10:00:00 GMT\r\nServer: nginx\r\n\r\n', 'latin1'),
  BODY_16K,
]);
const LIMITS = { maxHeadBytes: 60 * 1024, maxHeadersCount: 100 };

let sink = 0;

function time(name: string, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(iterations, 200_000); i++) fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(48)} ${ns.toFixed(1).padStart(8)} ns/msg`);
}

function legateRequest(raw: string): () => void {
  const buf = Buffer.from(raw, 'latin1');
  const parser = new RequestParser(LIMITS, {
    onRequestHead(head: RequestHead) { sink += head.headers.length; },
    onRequestBody(chunk: Buffer) { sink += chunk.length; },
    onRequestComplete(_t: HeaderList | null) { sink++; },
    onRequestError() { throw new Error('unexpected parse error'); },
  });
  return () => parser.execute(buf);
}

function llhttpRequest(raw: string): () => void {
  const buf = Buffer.from(raw, 'latin1');
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  parser[HTTPParser.kOnHeaders] = (h: string[]) => { sink += h.length; };
  parser[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, h: string[]) => { sink += h.length; return 0; };
  parser[HTTPParser.kOnBody] = (b: Buffer) => { sink += b.length; };
  parser[HTTPParser.kOnMessageComplete] = () => { sink++; };
  return () => { parser.execute(buf); };
}

function legateResponse(): () => void {
  const parser = new ResponseParser(LIMITS, {
    onResponseHead(head: ResponseHead) { sink += head.headers.length; },
    onResponseBody(chunk: Buffer) { sink += chunk.length; },
    onResponseComplete() { sink++; },
    onResponseError() { throw new Error('unexpected parse error'); },
  });
  return () => {
    parser.expectResponse('GET');
    parser.execute(RESPONSE_16K);
  };
}

function llhttpResponse(): () => void {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
  parser[HTTPParser.kOnHeaders] = (h: string[]) => { sink += h.length; };
  parser[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, h: string[]) => { sink += h.length; return 0; };
  parser[HTTPParser.kOnBody] = (b: Buffer) => { sink += b.length; };
  parser[HTTPParser.kOnMessageComplete] = () => { sink++; };
  return () => { parser.execute(RESPONSE_16K); };
}

const N = 2_000_000;
time('legate request  curl (3 headers)', N, legateRequest(CURL));
time('llhttp request  curl (3 headers)', N, llhttpRequest(CURL));
time('legate request  wrk (1 header)', N, legateRequest(WRK));
time('llhttp request  wrk (1 header)', N, llhttpRequest(WRK));
time('legate request  browser (15 headers)', N / 4, legateRequest(BROWSER));
time('llhttp request  browser (15 headers)', N / 4, llhttpRequest(BROWSER));
time('legate response 16 KiB body (5 headers)', N / 2, legateResponse());
time('llhttp response 16 KiB body (5 headers)', N / 2, llhttpResponse());
if (sink === -1) console.log('');
