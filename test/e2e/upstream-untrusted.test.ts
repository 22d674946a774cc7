// End to end: upstreams are untrusted. A raw upstream on `net` sends exact bytes through a real Legate: a 101 to a
// request that asked for no upgrade (502 UPE, the worker lives), an upgrade the upstream declines while the client
// already sent more bytes (never forwarded: no smuggled request), early data held until the 101, interim 1xx heads
// (forwarded, from HTTP/1.1 and HTTP/2 upstreams), a 1xx or 204 framing a body (502), a 304 or HEAD response
// followed by body bytes (no poisoned next response), and Expect: 100-continue answered by Legate itself (HTTP/1.1
// and HTTP/2 clients) or relayed from the upstream with proxy_100_continue.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { FrameFlag, FrameType, H2RawClient } from '../support/h2-raw-client.ts';
import { HpackDecoder, HpackDecodeResult } from '../../src/http2/hpack-decoder.ts';

// ---- a scripted upstream: raw bytes in, exact bytes out ----

interface UpstreamRequestSeen {
  conn: number;
  line: string;
  head: string;
  body: string;
}

interface UpstreamConn {
  id: number;
  socket: net.Socket;
  /** Every byte received, in order. */
  raw: string;
  closed: boolean;
  /** Bytes that came after the upgrade head and before the upstream wrote its 101 (must stay empty). */
  earlyBeforeSwitch: number;
}

/**
 * Parses requests (Content-Length bodies only) and answers by path:
 *   /switch-close  101 with no upgrade asked, then FIN       /switch-open  101 with no upgrade asked, kept open
 *   /chat          declines an upgrade: 200, keeps parsing   /ws           accepts an upgrade (101) after a pause, then echoes
 *   /interim       102, 103, 100, then 200                   /interim-framing  a 103 carrying Content-Length, then 200
 *   /no-content    204 with a Content-Length body that looks like a response
 *   /not-modified  304 with a Content-Length and, after it, bytes that look like a response
 *   /head-body     (to a HEAD) 200 with a Content-Length and, after it, a body that looks like a response
 *   /expect        (proxy_100_continue) 100 Continue when asked, then 200 after the body
 *   anything else  200 with the path as body
 */
class ScriptedUpstream {
  readonly server: net.Server;
  readonly seen: UpstreamRequestSeen[] = [];
  readonly conns: UpstreamConn[] = [];
  port = 0;

  constructor() {
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  lines(): string[] {
    return this.seen.map((r) => r.line);
  }

  private onConnection(socket: net.Socket): void {
    const conn: UpstreamConn = { id: this.conns.length, socket, raw: '', closed: false, earlyBeforeSwitch: -1 };
    this.conns.push(conn);
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.closed = true;
    });
    let buf = '';
    let tunnel = false;
    let waitingBody: { line: string; head: string; need: number } | null = null;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      conn.raw += text;
      if (tunnel) {
        socket.write(chunk);
        return;
      }
      buf += text;
      for (;;) {
        if (waitingBody !== null) {
          if (buf.length < waitingBody.need) return;
          const body = buf.slice(0, waitingBody.need);
          buf = buf.slice(waitingBody.need);
          const w = waitingBody;
          waitingBody = null;
          this.seen.push({ conn: conn.id, line: w.line, head: w.head, body });
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${`got ${body.length}`.length}\r\n\r\ngot ${body.length}`);
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        const line = head.slice(0, head.indexOf('\r\n'));
        const target = line.split(' ')[1] ?? '';
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
        if (target === '/expect' || length > 0) {
          if (/\r\nexpect: *100-continue/i.test(head)) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
          waitingBody = { line, head, need: length };
          continue;
        }
        this.seen.push({ conn: conn.id, line, head, body: '' });
        if (target === '/switch-close') {
          socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
          return;
        }
        if (target === '/switch-open') {
          socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
          return;
        }
        if (target === '/ws') {
          tunnel = true;
          // Give a proxy that forwards early data every chance to do so before the 101 goes out.
          setTimeout(() => {
            conn.earlyBeforeSwitch = buf.length;
            socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
            if (buf.length > 0) socket.write(buf);
            buf = '';
          }, 300);
          return;
        }
        if (target === '/chat') {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ndeclined');
          continue;
        }
        if (target === '/interim') {
          socket.write('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' +
            'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          continue;
        }
        if (target === '/interim-framing') {
          socket.write('HTTP/1.1 103 Early Hints\r\nContent-Length: 7\r\nLink: </b.js>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          continue;
        }
        if (target === '/head-body') {
          const poison = 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON';
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${poison.length}\r\n\r\n${poison}`);
          continue;
        }
        if (target === '/no-content' || target === '/not-modified') {
          const poison = 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON';
          const status = target === '/no-content' ? '204 No Content' : '304 Not Modified';
          socket.write(`HTTP/1.1 ${status}\r\nContent-Length: ${poison.length}\r\n\r\n${poison}`);
          continue;
        }
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${target.length}\r\n\r\n${target}`);
      }
    });
  }

  close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

// ---- a raw client ----

class RawClient {
  readonly socket: net.Socket;
  text = '';
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.text += c.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: string): void {
    this.socket.write(bytes, 'latin1');
  }

  async waitFor(check: (text: string) => boolean, what: string): Promise<void> {
    await waitUntil(() => check(this.text) || this.closed, () => `${what}; got ${JSON.stringify(this.text)}`);
    if (!check(this.text)) throw new Error(`connection closed before ${what}; got ${JSON.stringify(this.text)}`);
  }

  /**
   * Waits for `n` complete final responses with Content-Length bodies (none for 204, 304, or all when `head`:
   * responses to HEAD); returns them and consumes them.
   */
  async responses(n: number, head = false): Promise<{ interim: string[]; status: number; head: string; body: string }[]> {
    let parsed: ReturnType<typeof parseResponses> = [];
    await this.waitFor((t) => (parsed = parseResponses(t, head)).length >= n, `${n} responses`);
    const used = parsed.slice(0, n);
    this.text = this.text.slice(used.reduce((sum, r) => sum + r.length, 0));
    return used;
  }

  waitClosed(): Promise<void> {
    return waitUntil(() => this.closed, () => 'the connection to close');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Complete responses at the start of `text` (interim heads grouped with their final response). */
function parseResponses(text: string, headOnly: boolean): { interim: string[]; status: number; head: string; body: string; length: number }[] {
  const out: { interim: string[]; status: number; head: string; body: string; length: number }[] = [];
  let pos = 0;
  for (;;) {
    const interim: string[] = [];
    let p = pos;
    for (;;) {
      const end = text.indexOf('\r\n\r\n', p);
      if (end < 0) return out;
      const head = text.slice(p, end + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      p = end + 4;
      if (status >= 100 && status < 200) {
        interim.push(head);
        continue;
      }
      const bodiless = headOnly || status === 204 || status === 304;
      const length = bodiless ? 0 : Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
      if (text.length < p + length) return out;
      out.push({ interim, status, head, body: text.slice(p, p + length), length: p + length - pos });
      pos = p + length;
      break;
    }
  }
}

/** The decoded header blocks the server sent on `streamId`, in order (one HPACK decoder for the connection). */
function headerBlocks(c: H2RawClient, streamId: number): string[][] {
  const decoder = new HpackDecoder(4096, 1 << 20, 1000);
  const out: string[][] = [];
  for (const f of c.frames) {
    if (f.type !== FrameType.HEADERS) continue;
    // Legate sends neither padding, priority nor CONTINUATION for these small heads.
    assert.ok((f.flags & FrameFlag.END_HEADERS) !== 0);
    const fields: string[] = [];
    assert.equal(decoder.decode(f.payload, 0, f.payload.length, fields), HpackDecodeResult.OK);
    if (f.streamId === streamId) out.push(fields);
  }
  return out;
}

const UPGRADE_HEAD = (target: string): string =>
  `GET ${target} HTTP/1.1\r\nHost: t.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

describe('untrusted upstreams', () => {
  let legate: LegateProcess;
  let upstream: ScriptedUpstream;
  let h2upstream: http2.Http2Server;
  let edgePort: number;
  let relayPort: number;
  let logPath: string;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    // An HTTP/2 upstream that sends a 103 Early Hints before its 200.
    h2upstream = http2.createServer();
    h2upstream.on('stream', (stream) => {
      stream.additionalHeaders({ ':status': 103, link: '</c.css>; rel=preload' });
      stream.respond({ ':status': 200, 'content-length': '2' });
      stream.end('h2');
    });
    await new Promise<void>((r) => h2upstream.listen(0, '127.0.0.1', r));
    logPath = path.join(tempDir(), 'access.log');
    const accessLog = `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n"
`;
    const routes = [
      { match: '{ prefix: "/admin" }', action: 'direct_response: { status: 403, body: { inline_string: "forbidden" } }' },
      { match: '{ prefix: "/h2/" }', action: 'route: { cluster: h2 }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: raw }' },
    ];
    const listeners = [
      hcmListener({
        name: 'edge',
        routes,
        hcmExtra: `          upgrade_configs:\n          - upgrade_type: websocket\n          http_protocol_options: { accept_http_10: true }\n${accessLog}`,
      }),
      hcmListener({ name: 'relay', routes, hcmExtra: '          proxy_100_continue: true\n' }),
    ];
    const h2port = (h2upstream.address() as net.AddressInfo).port;
    const clusters = [
      cluster({ name: 'raw', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }),
      cluster({ name: 'h2', endpoints: [{ address: '127.0.0.1', port: h2port }], extra: '    http2_protocol_options: {}\n' }),
    ];
    // One worker: one connection pool, so connection reuse is observable.
    legate = await startLegate({ config: bootstrap(listeners, clusters), concurrency: 1 });
    edgePort = await legate.listenerPort('edge');
    relayPort = await legate.listenerPort('relay');
  });

  after(async () => {
    await legate?.stop();
    await upstream?.close();
    await new Promise<void>((r) => (h2upstream === undefined ? r() : h2upstream.close(() => r())));
  });

  it('a 101 to a request that asked for no upgrade is a 502 UPE, the upstream connection is closed, the worker lives', async () => {
    const client = await RawClient.connect(edgePort);
    const openConns = upstream.conns.length;
    for (let i = 0; i < 6; i++) {
      client.send(`GET /switch-close HTTP/1.1\r\nHost: t.example\r\n\r\nGET /after-${i} HTTP/1.1\r\nHost: t.example\r\n\r\n`);
      const [bad, good] = await client.responses(2);
      assert.equal(bad!.status, 502, bad!.head);
      assert.match(bad!.body, /protocol error/);
      assert.equal(good!.status, 200, 'the same client connection goes on');
      assert.equal(good!.body, `/after-${i}`);
    }
    client.send('GET /switch-open HTTP/1.1\r\nHost: t.example\r\n\r\n');
    const [open] = await client.responses(1);
    assert.equal(open!.status, 502);
    // The upstream connection that sent the 101 is not kept (nor used again).
    await waitUntil(() => upstream.conns.slice(openConns).every((c) => c.closed || !c.raw.includes('/switch')),
      () => 'the connections that sent a 101 to close');
    client.destroy();
    const stats = await legate.statsMap();
    assert.equal(stats.get('server.worker_restarts'), 0);
    assert.ok(stats.get('cluster.raw.upstream_cx_protocol_error')! >= 7, `upstream_cx_protocol_error ${stats.get('cluster.raw.upstream_cx_protocol_error')}`);
    await waitUntil(() => (fs.readFileSync(logPath, 'latin1').match(/\/switch-close 502 UPE/g) ?? []).length === 6,
      () => `six "/switch-close 502 UPE" lines in ${fs.readFileSync(logPath, 'latin1')}`);
  });

  it('a declined upgrade: the bytes sent after the upgrade head never reach the upstream (no smuggled request)', async () => {
    const before = upstream.seen.length;
    const client = await RawClient.connect(edgePort);
    client.send(`${UPGRADE_HEAD('/chat')}GET /admin HTTP/1.1\r\nHost: t.example\r\n\r\n`);
    const [res] = await client.responses(1);
    assert.equal(res!.status, 200);
    assert.equal(res!.body, 'declined');
    assert.match(res!.head, /\r\nconnection: close\r\n/i, 'the connection ends with the declined upgrade');
    await client.waitClosed();
    const lines = upstream.seen.slice(before).map((r) => r.line);
    assert.deepEqual(lines, ['GET /chat HTTP/1.1']);
    assert.ok(!upstream.conns.some((c) => c.raw.includes('/admin')), 'GET /admin reached the upstream');
    // The upstream connection that declined the upgrade is closed, not pooled.
    const chatConn = upstream.conns[upstream.seen[before]!.conn]!;
    await waitUntil(() => chatConn.closed, () => 'the declined upgrade connection to close');
  });

  it('early data after an allowed upgrade head waits for the 101, then goes through in order', async () => {
    const client = await RawClient.connect(edgePort);
    client.send(`${UPGRADE_HEAD('/ws')}early-1|`);
    client.send('early-2|');
    await client.waitFor((t) => t.startsWith('HTTP/1.1 101') && t.includes('early-1|early-2|'), '101 then the echoed early data');
    const conn = upstream.conns[upstream.seen.at(-1)!.conn]!;
    assert.equal(conn.earlyBeforeSwitch, 0, 'the upstream saw bytes of the tunnel before it said 101');
    client.send('after');
    await client.waitFor((t) => t.endsWith('after'), 'tunnelled bytes after the 101');
    client.destroy();
  });

  it('interim 1xx: 102 and 103 are forwarded in order, the upstream\'s own 100 is not (Legate owns 100-continue)', async () => {
    const client = await RawClient.connect(edgePort);
    client.send('GET /interim HTTP/1.1\r\nHost: t.example\r\n\r\nGET /interim-framing HTTP/1.1\r\nHost: t.example\r\n\r\n');
    const [a, b] = await client.responses(2);
    assert.deepEqual(a!.interim.map((h) => h.split('\r\n')[0]), ['HTTP/1.1 102 Processing', 'HTTP/1.1 103 Early Hints']);
    assert.match(a!.interim[1]!, /\r\nlink: <\/a\.css>; rel=preload\r\n/i);
    assert.equal(a!.status, 200);
    assert.equal(a!.body, 'ok');
    // A 1xx that frames a body (Content-Length, Transfer-Encoding) is a protocol error, as in Envoy: 502 UPE.
    assert.deepEqual(b!.interim, []);
    assert.equal(b!.status, 502);
    assert.match(b!.body, /protocol error/);
    client.destroy();

    // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
    const old = await RawClient.connect(edgePort);
    old.send('GET /interim HTTP/1.0\r\nHost: t.example\r\nConnection: keep-alive\r\n\r\n');
    const [c] = await old.responses(1);
    assert.deepEqual(c!.interim, []);
    assert.equal(c!.body, 'ok');
    old.destroy();
  });

  it('a 103 from an HTTP/2 upstream reaches an HTTP/1.1 client before the final response', async () => {
    const client = await RawClient.connect(edgePort);
    client.send('GET /h2/hints HTTP/1.1\r\nHost: t.example\r\n\r\n');
    const [res] = await client.responses(1);
    assert.deepEqual(res!.interim.map((h) => h.split('\r\n')[0]), ['HTTP/1.1 103 Early Hints']);
    assert.match(res!.interim[0]!, /\r\nlink: <\/c\.css>; rel=preload\r\n/i);
    assert.equal(res!.status, 200);
    assert.equal(res!.body, 'h2');
    client.destroy();
  });

  it('a 304 or HEAD response followed by body bytes: they close that upstream connection, never answer the next request', async () => {
    const client = await RawClient.connect(edgePort);
    const errorsBefore = (await legate.statsMap()).get('cluster.raw.upstream_cx_protocol_error')!;
    for (let i = 0; i < 3; i++) {
      client.send('GET /not-modified HTTP/1.1\r\nHost: t.example\r\n\r\n');
      const [nm] = await client.responses(1);
      assert.equal(nm!.status, 304);
      client.send(`GET /next-${i} HTTP/1.1\r\nHost: t.example\r\n\r\n`);
      const [next] = await client.responses(1);
      assert.equal(next!.status, 200);
      assert.equal(next!.body, `/next-${i}`, 'the next request got its own response');
    }
    client.send('HEAD /head-body HTTP/1.1\r\nHost: t.example\r\n\r\n');
    const [hb] = await client.responses(1, true);
    assert.equal(hb!.status, 200);
    client.send('GET /after-head HTTP/1.1\r\nHost: t.example\r\n\r\n');
    const [next] = await client.responses(1);
    assert.equal(next!.body, '/after-head', 'the next request got its own response');
    const stats = await legate.statsMap();
    // Counted when the bytes came in the read that completed the response (a later read finds the connection idle,
    // which closes it too, uncounted).
    assert.ok(stats.get('cluster.raw.upstream_cx_protocol_error')! > errorsBefore);
    client.destroy();
  });

  it('a 204 with a Content-Length body is a 502 UPE (Envoy\'s strict 1xx/204 rule); the next request is answered by its own', async () => {
    const client = await RawClient.connect(edgePort);
    client.send('GET /no-content HTTP/1.1\r\nHost: t.example\r\n\r\nGET /after-204 HTTP/1.1\r\nHost: t.example\r\n\r\n');
    const [nc, next] = await client.responses(2);
    assert.equal(nc!.status, 502);
    assert.equal(next!.body, '/after-204');
    client.destroy();
  });

  it('Expect: 100-continue: Legate answers 100 itself before the body and strips Expect', async () => {
    const before = upstream.seen.length;
    const client = await RawClient.connect(edgePort);
    client.send('POST /upload HTTP/1.1\r\nHost: t.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await client.waitFor((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 'a 100 Continue before the body was sent');
    client.send('hello');
    const [res] = await client.responses(1);
    assert.equal(res!.interim.length, 1);
    assert.equal(res!.status, 200);
    assert.equal(res!.body, 'got 5');
    const seen = upstream.seen.slice(before);
    assert.equal(seen.length, 1);
    assert.doesNotMatch(seen[0]!.head, /\r\nexpect:/i, 'Expect is not forwarded');
    client.destroy();

    // curl waits for the 100 (a missing one would leave it waiting 60 s, past its --max-time of 20 s).
    const file = path.join(tempDir(), 'body.bin');
    fs.writeFileSync(file, Buffer.alloc(100_000, 'x'));
    const r = await curl(['--expect100-timeout', '60', '-H', 'Expect: 100-continue', '--data-binary', `@${file}`, `http://127.0.0.1:${edgePort}/curl-upload`]);
    assert.equal(r.exitCode, 0);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'got 100000');
    const stats = await legate.statsMap();
    assert.ok(stats.get('http.edge.downstream_rq_1xx')! >= 2);
  });

  it('proxy_100_continue: Expect goes upstream and the upstream\'s 100 is relayed once', async () => {
    const before = upstream.seen.length;
    const client = await RawClient.connect(relayPort);
    client.send('POST /expect HTTP/1.1\r\nHost: t.example\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
    await client.waitFor((t) => t.startsWith('HTTP/1.1 100 Continue\r\n'), 'the upstream\'s 100 Continue');
    client.send('abc');
    const [res] = await client.responses(1);
    assert.equal(res!.interim.length, 1, 'exactly one 100');
    assert.equal(res!.body, 'got 3');
    assert.match(upstream.seen[before]!.head, /\r\nexpect: 100-continue\r\n/i);
    client.destroy();
  });

  it('HTTP/2: a request with expect: 100-continue gets a 100 HEADERS before it sends its body', async () => {
    const c = await H2RawClient.connect({ port: edgePort });
    await c.waitForSettings();
    c.request(1, '/h2-upload', { method: 'POST', endStream: false, extra: [['content-length', '4'], ['expect', '100-continue']] });
    await c.waitFor(() => (c.streams.get(1)?.headers ?? 0) >= 1, 'the 100 HEADERS');
    const first = headerBlocks(c, 1)[0]!;
    assert.deepEqual(first.slice(0, 2), [':status', '100']);
    assert.equal(c.streams.get(1)!.ended, false);
    c.data(1, 'data', { endStream: true });
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, null);
    const blocks = headerBlocks(c, 1);
    assert.equal(blocks.length, 2);
    assert.deepEqual(blocks[1]!.slice(0, 2), [':status', '200']);
    c.destroy();
  });
});
