// The ClientHello parser behind the tls_inspector: real hellos captured from openssl s_client, curl and Node
// (test/tls/fixtures/capture-client-hellos.ts), each also cut at every byte and re-framed over many small records,
// then truncated, malformed and oversized ones.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ClientHelloStatus, MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../../src/tls/client-hello.ts';

const DIR = path.join(import.meta.dirname, 'fixtures', 'client-hello');

function fixture(name: string): Buffer {
  return Buffer.from(fs.readFileSync(path.join(DIR, `${name}.hex`), 'utf8').replace(/\s+/g, ''), 'hex');
}

/** The same handshake bytes in records of at most `size` bytes (a client may fragment its hello like this). */
function reframe(hello: Buffer, size: number): Buffer {
  const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const parts: Buffer[] = [];
  for (let i = 0; i < handshake.length; i += size) {
    const chunk = handshake.subarray(i, Math.min(i + size, handshake.length));
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(chunk.length, 3);
    parts.push(header, chunk);
  }
  return Buffer.concat(parts);
}

const REAL = [
  { name: 'openssl-tls13-sni-alpn', sni: 'a.example.test', alpn: ['h2', 'http/1.1'] },
  { name: 'openssl-tls12-no-sni', sni: '', alpn: [] },
  // s_client sent "B.Example.Test": names are matched lower-cased.
  { name: 'openssl-tls12-sni-alpn', sni: 'b.example.test', alpn: ['http/1.1'] },
  { name: 'curl-sni-alpn', sni: 'curl.example.test', alpn: ['h2', 'http/1.1'] },
  { name: 'node-sni-alpn', sni: 'node.example.test', alpn: ['h2', 'http/1.1'] },
  { name: 'node-no-sni', sni: '', alpn: [] },
];

for (const c of REAL) {
  test(`real ClientHello ${c.name}: SNI '${c.sni}', ALPN ${JSON.stringify(c.alpn)}, in one read, cut anywhere, re-framed`, () => {
    const hello = fixture(c.name);
    const r = parseClientHello(hello);
    assert.equal(r.status, ClientHelloStatus.TLS, r.reason);
    assert.equal(r.serverName, c.sni);
    assert.deepEqual(r.alpn, c.alpn);
    // Bytes after the hello (early data, the next record) change nothing.
    assert.deepEqual(parseClientHello(Buffer.concat([hello, Buffer.from([0x17, 0x03, 0x03, 0, 1, 0])])), r);
    // Every strict prefix asks for more.
    for (let n = 0; n < hello.length; n++) {
      assert.equal(parseClientHello(hello.subarray(0, n)).status, ClientHelloStatus.NEED_MORE, `prefix of ${n} bytes`);
    }
    for (const size of [1, 3, 50, 512]) {
      const framed = reframe(hello, size);
      const f = parseClientHello(framed);
      assert.equal(f.status, ClientHelloStatus.TLS, `records of ${size}: ${f.reason}`);
      assert.equal(f.serverName, c.sni);
      assert.deepEqual(f.alpn, c.alpn);
      const step = Math.max(1, Math.floor(framed.length / 97));
      for (let n = 0; n < framed.length; n += step) {
        assert.equal(parseClientHello(framed.subarray(0, n)).status, ClientHelloStatus.NEED_MORE, `records of ${size}, prefix ${n}`);
      }
    }
  });
}

/** A minimal ClientHello with the given extensions block (already encoded, including its 2-byte length). */
function hello(extensions: Buffer | null, opts: { sessionId?: number; suites?: number; compression?: number } = {}): Buffer {
  const sid = Buffer.alloc(opts.sessionId ?? 0);
  const suites = Buffer.alloc(opts.suites ?? 2, 0x13);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]), Buffer.alloc(32, 7),
    Buffer.from([sid.length]), sid,
    u16(suites.length), suites,
    Buffer.from([opts.compression ?? 1]), Buffer.alloc(opts.compression ?? 1),
    extensions ?? Buffer.alloc(0),
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

function exts(...list: Buffer[]): Buffer {
  const all = Buffer.concat(list);
  return Buffer.concat([u16(all.length), all]);
}

function sni(name: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const entry = Buffer.concat([Buffer.from([0]), u16(n.length), n]);
  return ext(0, Buffer.concat([u16(entry.length), entry]));
}

function alpn(...names: string[]): Buffer {
  const list = Buffer.concat(names.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])));
  return ext(16, Buffer.concat([u16(list.length), list]));
}

const S = ClientHelloStatus;
const TABLE: { name: string; bytes: Buffer; status: ClientHelloStatus; sni?: string; alpn?: string[] }[] = [
  { name: 'plaintext HTTP', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), status: S.NOT_TLS },
  { name: 'one plaintext byte', bytes: Buffer.from('G'), status: S.NOT_TLS },
  { name: 'one handshake byte', bytes: Buffer.from([0x16]), status: S.NEED_MORE },
  { name: 'SSLv2-compatible hello', bytes: Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]), status: S.NOT_TLS },
  { name: 'an alert record', bytes: Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]), status: S.NOT_TLS },
  { name: 'record version 2.0', bytes: Buffer.from([0x16, 0x02, 0x00, 0x00, 0x10]), status: S.NOT_TLS },
  { name: 'empty handshake record', bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), status: S.NOT_TLS },
  { name: 'record longer than 2^14', bytes: Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01, 0x01]), status: S.NOT_TLS },
  { name: 'a ServerHello', bytes: Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]), status: S.NOT_TLS },
  { name: 'no extensions: TLS, no SNI, no ALPN', bytes: hello(null), status: S.TLS, sni: '', alpn: [] },
  { name: 'SNI and ALPN', bytes: hello(exts(sni('Api.Example.COM'), alpn('h2', 'http/1.1'))), status: S.TLS, sni: 'api.example.com', alpn: ['h2', 'http/1.1'] },
  { name: 'unknown extensions skipped', bytes: hello(exts(ext(0xfe0d, Buffer.alloc(40, 1)), alpn('x'), ext(0x0a0a, Buffer.alloc(0)))), status: S.TLS, sni: '', alpn: ['x'] },
  { name: 'session id of 33 bytes', bytes: hello(null, { sessionId: 33 }), status: S.NOT_TLS },
  { name: 'odd cipher_suites length', bytes: hello(null, { suites: 3 }), status: S.NOT_TLS },
  { name: 'no compression methods', bytes: hello(null, { compression: 0 }), status: S.NOT_TLS },
  { name: 'extensions length past the end', bytes: hello(Buffer.concat([u16(100), sni('a')])), status: S.NOT_TLS },
  { name: 'extension overrunning the block', bytes: hello(exts(Buffer.concat([u16(0), u16(50), Buffer.alloc(4)]))), status: S.NOT_TLS },
  { name: 'empty ALPN list', bytes: hello(exts(ext(16, u16(0)))), status: S.NOT_TLS },
  { name: 'empty ALPN name', bytes: hello(exts(ext(16, Buffer.from([0, 2, 0, 0x61])))), status: S.NOT_TLS },
  { name: 'empty host name', bytes: hello(exts(ext(0, Buffer.from([0, 3, 0, 0, 0])))), status: S.NOT_TLS },
  { name: 'NUL in the host name', bytes: hello(exts(sni('a\0b'))), status: S.NOT_TLS },
  { name: 'two server_name extensions', bytes: hello(exts(sni('a'), sni('b'))), status: S.NOT_TLS },
  { name: 'a ClientHello declaring 70000 bytes', bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x11, 0x70]), status: S.TOO_LARGE },
];

for (const c of TABLE) {
  test(`ClientHello table: ${c.name}`, () => {
    const r = parseClientHello(c.bytes);
    assert.equal(r.status, c.status, r.reason);
    if (c.sni !== undefined) assert.equal(r.serverName, c.sni);
    if (c.alpn !== undefined) assert.deepEqual(r.alpn, c.alpn);
  });
}

test('a hello that has not ended within the limit is too large; within the limit it is still waiting', () => {
  const real = fixture('node-sni-alpn');
  // Declared longer than the limit: known at once.
  assert.equal(parseClientHello(real, 1000).status, ClientHelloStatus.TOO_LARGE);
  // Tiny records: 1612 bytes of hello take more than 2000 bytes on the wire.
  const framed = reframe(real, 8);
  assert.ok(framed.length > 2000);
  assert.equal(parseClientHello(framed.subarray(0, 1999), 2000).status, ClientHelloStatus.NEED_MORE);
  assert.equal(parseClientHello(framed.subarray(0, 2000), 2000).status, ClientHelloStatus.TOO_LARGE);
  assert.equal(parseClientHello(framed).status, ClientHelloStatus.TLS);
  assert.equal(MAX_CLIENT_HELLO_BYTES, 65536);
});

test('a plaintext record inside a fragmented hello is not TLS', () => {
  const framed = reframe(fixture('openssl-tls12-no-sni'), 50);
  const broken = Buffer.from(framed);
  broken[55] = 0x17; // the second record's content type
  assert.equal(parseClientHello(broken).status, ClientHelloStatus.NOT_TLS);
});

// Found by fuzzing (test/fuzz/targets/tls-client-hello.ts): the verdict on a fragmented hello that ends past the
// limit depends on how much of it one read brought: its first `maxBytes` bytes are TOO_LARGE, but all of it in one
// buffer was TLS, since parseClientHello walked records beyond maxBytes. Envoy's inspector never looks past the
// limit (it peeks at most that much), so such a hello is too large however it arrives.
test('a hello that ends past the limit is too large however much of it one read brings', () => {
  const framed = reframe(fixture('node-sni-alpn'), 8);
  assert.ok(framed.length > 2000);
  assert.equal(parseClientHello(framed.subarray(0, 2000), 2000).status, ClientHelloStatus.TOO_LARGE);
  assert.equal(parseClientHello(framed, 2000).status, ClientHelloStatus.TOO_LARGE);
  assert.equal(parseClientHello(framed.subarray(0, 2100), 2000).status, ClientHelloStatus.TOO_LARGE);
});
