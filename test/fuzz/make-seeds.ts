// Test tool (main thread, run by hand): writes the committed seed corpora in test/fuzz/corpus/<target>/ from
// their sources, so they can be regenerated and reviewed:
//   node test/fuzz/make-seeds.ts
// http1-request: hand-written requests and generated ones (test/http1/request-generator.ts); http1-response:
// responses of every framing; hpack-decoder: RFC 7541 Appendix C; http2-frames: client frame sequences
// (test/support/h2-raw-client.ts); tls-client-hello: the real ClientHellos in test/tls/fixtures (openssl, curl,
// Node); config-loader: the example configs in config/; route-matcher: requests for the target's tables.
// Files are named after their content's hash; seeds found by fuzzing (and minimized crash inputs) are added by
// hand beside them.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { prng } from '../http1/harness.ts';
import { generateCase } from '../http1/request-generator.ts';
import {
  dataFrame, encodeFrame, FrameFlag, FrameType, goawayFrame, headersFrame, pingFrame, priorityFrame, requestHeaders,
  rstStreamFrame, Setting, settingsFrame, windowUpdateFrame,
} from '../support/h2-raw-client.ts';
import { FUZZ_DIR, ROOT } from './fuzz-run.ts';

function write(target: string, name: string, bytes: Buffer): void {
  const dir = path.join(FUZZ_DIR, 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  const hash = createHash('sha1').update(bytes).digest('hex').slice(0, 12);
  fs.writeFileSync(path.join(dir, `${name}-${hash}`), bytes);
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

function http1Requests(): void {
  const hand: Record<string, string> = {
    get: 'GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n',
    'post-length': 'POST /submit?a=1 HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    'post-chunked-trailers': 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n' +
      '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n',
    pipelined: 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    websocket: 'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\n\x81\x05hello',
    connect: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01',
    options: 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
    absolute: 'GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    expect: 'PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
    smuggle: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n',
  };
  for (const [name, raw] of Object.entries(hand)) write('http1-request', name, latin1(raw));
  const rnd = prng(0xf022);
  for (let i = 0; i < 24; i++) write('http1-request', 'generated', generateCase(rnd).raw);
}

function http1Responses(): void {
  // First byte: the methods the responses answer (2 bits each: GET, HEAD, POST, CONNECT), see the target.
  const GET = 0x00;
  const HEAD_FIRST = 0x01;
  const CONNECT_FIRST = 0x03;
  const hand: [string, number, string][] = [
    ['length', GET, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello'],
    ['chunked-trailers', GET, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nGrpc-Status: 0\r\n\r\n'],
    ['no-body', GET, 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['head', HEAD_FIRST, 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
    ['interim', GET, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'],
    ['switching', GET, 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi'],
    ['until-close', GET, 'HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until the connection closes'],
    ['connect', CONNECT_FIRST, 'HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03\x00\x01\x02'],
    ['keep-alive', GET, 'HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot foundHTTP/1.1 500 \r\nConnection: close\r\nContent-Length: 0\r\n\r\n'],
  ];
  for (const [name, methods, raw] of hand) write('http1-response', name, Buffer.concat([Buffer.from([methods]), latin1(raw)]));
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function hpackBlocks(): void {
  const blocks = (first: number, list: readonly string[]): Buffer => Buffer.concat([
    Buffer.from([first]),
    ...list.map((h) => {
      const b = hex(h);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length);
      return Buffer.concat([len, b]);
    }),
  ]);
  // RFC 7541 Appendix C.3 (requests), C.4 (requests, Huffman), C.5/C.6 (responses, table size 256, preceded by
  // the size update a decoder gets from its SETTINGS).
  const C3 = ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865',
    '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'];
  const C4 = ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'];
  const C5 = [
    '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54' +
    '6e1768747470733a2f2f7777772e6578616d706c652e636f6d',
    '4803333037c1c0bf',
    '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d41' +
    '53444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
  ];
  const C6 = [
    '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
    '4883640effc1c0bf',
    '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
  ];
  write('hpack-decoder', 'rfc7541-c3', blocks(0, C3));
  write('hpack-decoder', 'rfc7541-c4', blocks(0, C4));
  write('hpack-decoder', 'rfc7541-c5', blocks(0, ['3fe101', ...C5]));
  write('hpack-decoder', 'rfc7541-c6', blocks(1, ['3fe101', ...C6]));
  write('hpack-decoder', 'c1-integers', blocks(0, ['2a', '3f9a0a']));
}

function http2Frames(): void {
  const PREFIXED = 1; // the target prepends the preface and an empty SETTINGS
  const get = headersFrame(1, requestHeaders({ path: '/', authority: 'example.com' }), { endStream: true });
  write('http2-frames', 'get', Buffer.concat([Buffer.from([PREFIXED]), get]));
  write('http2-frames', 'post', Buffer.concat([
    Buffer.from([PREFIXED]),
    headersFrame(1, requestHeaders({ path: '/up', method: 'POST', authority: 'a', extra: [['content-length', '10']] })),
    dataFrame(1, 'hello'), windowUpdateFrame(0, 1000), dataFrame(1, 'world', { endStream: true }),
    pingFrame(7), settingsFrame([], true),
  ]));
  // Full preface here, SETTINGS with values, a header block over CONTINUATION, PRIORITY, RST_STREAM, GOAWAY.
  const block = headersFrame(3, requestHeaders({ path: '/c', authority: 'a', extra: [['x-long', 'z'.repeat(120)]] }), { endStream: true, maxFrameSize: 40 });
  write('http2-frames', 'continuation', Buffer.concat([
    Buffer.from([0]), latin1('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    settingsFrame([[Setting.HEADER_TABLE_SIZE, 256], [Setting.INITIAL_WINDOW_SIZE, 10], [Setting.MAX_FRAME_SIZE, 20000]]),
    block, priorityFrame(5, 3, 200), rstStreamFrame(3, 8), goawayFrame(3, 0, 'bye'),
  ]));
  const streams: Buffer[] = [Buffer.from([PREFIXED | 4])];
  for (const id of [1, 3, 5, 7, 9]) {
    streams.push(headersFrame(id, requestHeaders({ path: `/s${id}`, method: 'POST', authority: 'a' })), dataFrame(id, 'x'.repeat(id * 30)));
  }
  streams.push(headersFrame(1, [['grpc-status', '0']], { endStream: true }), rstStreamFrame(5, 8), dataFrame(7, '', { endStream: true }));
  write('http2-frames', 'streams-small-limits', Buffer.concat(streams));
  write('http2-frames', 'bad-messaging', Buffer.concat([
    Buffer.from([PREFIXED | 2]),
    headersFrame(1, requestHeaders({ path: '/', authority: 'a', extra: [['X-Upper', '1'], ['connection', 'close']] }), { endStream: true }),
    headersFrame(3, requestHeaders({ path: '/', authority: 'a' }), { endStream: true }),
    encodeFrame(FrameType.DATA, FrameFlag.PADDED | FrameFlag.END_STREAM, 3, Buffer.from([2, 0x61, 0, 0])),
  ]));
}

/** The real ClientHellos test/tls keeps (captured from openssl s_client, curl and Node), and one re-framed. */
function clientHellos(): void {
  const dir = path.join(ROOT, 'test/tls/fixtures/client-hello');
  for (const f of fs.readdirSync(dir)) {
    const hello = Buffer.from(fs.readFileSync(path.join(dir, f), 'utf8').replace(/\s+/g, ''), 'hex');
    write('tls-client-hello', path.basename(f, '.hex'), hello);
    if (f.startsWith('openssl-tls12-sni')) {
      // The same handshake over records of 7 bytes (a client may fragment its hello).
      const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
      const parts: Buffer[] = [];
      for (let i = 0; i < handshake.length; i += 7) {
        const chunk = handshake.subarray(i, i + 7);
        parts.push(Buffer.from([0x16, 0x03, 0x01, 0, chunk.length]), chunk);
      }
      write('tls-client-hello', 'reframed', Buffer.concat(parts));
    }
  }
  write('tls-client-hello', 'plaintext', latin1('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
}

function configs(): void {
  for (const f of fs.readdirSync(path.join(ROOT, 'config'))) {
    if (f.endsWith('.yaml')) write('config-loader', path.basename(f, '.yaml'), fs.readFileSync(path.join(ROOT, 'config', f)));
  }
  write('config-loader', 'json-overlay', latin1(
    'admin: {address: {socket_address: {address: 127.0.0.1, port_value: 9901}}}\n\0' +
    '{"static_resources": {"clusters": [{"name": "c", "connect_timeout": "0.25s", "type": "STATIC", ' +
    '"load_assignment": {"cluster_name": "c", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": ' +
    '{"socket_address": {"address": "127.0.0.1", "port_value": 8080}}}}]}]}}]}}'));
}

function routes(): void {
  const reqs: [number, string][] = [
    [0, 'api.example.com\nGET\n/users/12?q=abc&p\nx-a:a\nx-b:bb\nx-c:cc\nx-d:d\nx-e:hello\nx-f:1\nx-r:5\nx-host:h'],
    [0, 'API.example.com:8080\nGET\n/V1/items?x=1'],
    [0, 'x.api.example.com\nPOST\n/g/svc.Method\ncontent-type:application/grpc+proto'],
    [0, 'api.example.com\nGET\n/sep/a?z'],
    [0, 'api.test\nGET\n/reXYZ'],
    [0, 'www.example.com\nGET\n/aab?k=123'],
    [0, 'pre-x\nHEAD\n/q?k=1&k=22'],
    [0, '[::1]:443\nGET\n/old/path'],
    [1, 'one.test\nGET\n/x/y'],
  ];
  for (const [table, text] of reqs) write('route-matcher', 'request', Buffer.concat([Buffer.from([table]), latin1(text)]));
}

http1Requests();
http1Responses();
hpackBlocks();
http2Frames();
clientHellos();
configs();
routes();
console.log('seed corpora written under test/fuzz/corpus/');
