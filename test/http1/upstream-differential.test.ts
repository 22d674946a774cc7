// Differential test, upstream side: what Legate forwards must be framed the same by three parsers that share no
// code: Node's llhttp in strict mode (llhttp-oracle.ts, as node:http parses it), a hand-checked RFC 9112 framing
// (rfc-framing-oracle.ts, stricter than any server need be: it checks what a careful sender emits), and Legate's
// own RequestParser. For every generated request stream (request-generator.ts, as in differential.test.ts) that
// Legate accepts, each request goes through the upstream half of the proxy in process (hop-by-hop fields dropped,
// the hop framed by Content-Length or re-chunked, src/http1/serializer.ts), and a sample goes through a real
// bin/legate to a raw upstream that records the bytes. All three parsers must accept those bytes without error and
// agree on every message: method, target, version, fields, body, trailers and where it ends; and the upstream must
// get the method, path and body the client sent.
//
// Why these parsers: llhttp is what most upstreams (node:http) and the first differential use; the RFC framing is
// written from the grammar alone, so a mistake shared by llhttp and Legate (both hand-rolled state machines) does
// not hide; Legate's parser is what a Legate upstream of Legate would see.
//
// UPSTREAM_DIFF_SEED=<n> and UPSTREAM_DIFF_CASES=<n> override the seed and the number of in-process cases.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isHopByHop } from '../../src/http/header-names.ts';
import { setHeader } from '../../src/http/header-list.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import { serializeRequestHead } from '../../src/http1/serializer.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { prng, randomCuts, runRequests, type ParsedRequest } from './harness.ts';
import { llhttpParseRequests } from './llhttp-oracle.ts';
import { frameRequests, type FramedRequest } from './rfc-framing-oracle.ts';
import { generateCase } from './request-generator.ts';

const SEED = Number(process.env.UPSTREAM_DIFF_SEED ?? 0x0b5e7);
const CASES = Number(process.env.UPSTREAM_DIFF_CASES ?? 4000);
/** Requests sent through a real Legate (each on its own client connection). */
const PROXY_CASES = 300;

/** One message as all three parsers must report it. */
interface Framed {
  method: string;
  target: string;
  version: string;
  headers: string[];
  body: string;
  trailers: string[];
  end: number;
}

const lower = (list: readonly string[]): string[] => list.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v));

function fromRfc(m: FramedRequest): Framed {
  return { method: m.method, target: m.target, version: m.version, headers: m.headers, body: m.body.toString('latin1'), trailers: m.trailers, end: m.end };
}

/**
 * Frames `bytes` with all three parsers; returns the agreed messages, or why they disagree or refuse. A stream
 * may end inside nothing: every message must be complete.
 */
export function frameThreeWays(bytes: Buffer): { messages: Framed[]; problem: string } {
  const rfc = frameRequests(bytes);
  const ll = llhttpParseRequests(bytes);
  const legate = runRequests(bytes.length <= 1 ? [bytes] : [...bytes].map((_, i) => bytes.subarray(i, i + 1)), true);
  const problems: string[] = [];
  if (rfc.error !== '' || rfc.incomplete || rfc.tunnel) problems.push(`RFC framing: ${rfc.error || (rfc.incomplete ? 'incomplete' : 'tunnel')}`);
  if (ll.error !== '' || ll.incomplete || ll.upgraded) problems.push(`llhttp: ${ll.error ? `${ll.error} (${ll.errorReason})` : ll.incomplete ? 'incomplete' : 'upgrade'}`);
  if (legate.error !== null) problems.push(`Legate: ${legate.error.code}`);
  const a = rfc.messages.map(fromRfc);
  const b: Framed[] = ll.messages.map((m) => ({
    method: m.method, target: m.target, version: `${m.versionMajor}.${m.versionMinor}`, headers: lower(m.rawHeaders),
    body: m.body.toString('latin1'), trailers: lower(m.rawTrailers), end: m.end,
  }));
  const c: Framed[] = legate.messages.map((m: ParsedRequest) => ({
    method: m.head.method, target: m.head.target, version: `1.${m.head.versionMinor}`, headers: m.head.headers,
    body: m.body.toString('latin1'), trailers: m.trailers ?? [], end: m.end,
  }));
  const ja = JSON.stringify(a);
  if (JSON.stringify(b) !== ja) problems.push(`llhttp frames differently:\n    rfc    ${ja}\n    llhttp ${JSON.stringify(b)}`);
  if (JSON.stringify(c) !== ja) problems.push(`Legate frames differently:\n    rfc    ${ja}\n    legate ${JSON.stringify(c)}`);
  return { messages: a, problem: problems.join('\n  ') };
}

/**
 * The upstream half of the proxy for one accepted HTTP/1.1 request, as ActiveStream.decodeHeaders and
 * UpstreamRequest.onPoolReady do it: hop-by-hop fields dropped (te: trailers kept), the hop framed by the length
 * when known, else re-chunked (one chunk per piece of body read), the head from the serializer.
 */
function forwardInProcess(m: ParsedRequest, pieces: readonly Buffer[]): Buffer {
  const headers: HeaderList = [];
  const h = m.head.headers;
  for (let i = 0; i < h.length; i += 2) {
    if (isHopByHop(h[i]!) && !(h[i] === 'te' && h[i + 1]!.trim().toLowerCase() === 'trailers')) continue;
    headers.push(h[i]!, h[i + 1]!);
  }
  const out: Buffer[] = [];
  if (m.head.contentLength >= 0) {
    setHeader(headers, 'content-length', String(m.head.contentLength));
    out.push(Buffer.from(serializeRequestHead(m.head.method, m.head.target, headers), 'latin1'), m.body);
  } else if (m.head.chunked) {
    headers.push('transfer-encoding', 'chunked');
    out.push(Buffer.from(serializeRequestHead(m.head.method, m.head.target, headers), 'latin1'));
    for (const p of pieces) out.push(Buffer.from(p.length.toString(16) + '\r\n', 'latin1'), p, Buffer.from('\r\n', 'latin1'));
    out.push(Buffer.from('0\r\n\r\n', 'latin1'));
  } else {
    out.push(Buffer.from(serializeRequestHead(m.head.method, m.head.target, headers), 'latin1'));
  }
  return Buffer.concat(out);
}

/** Requests Legate's connection manager sends upstream as they are: HTTP/1.1, origin-form, with a Host, no tunnel. */
function proxiable(m: ParsedRequest): boolean {
  const h = m.head;
  return m.complete && !h.upgrade && h.versionMinor === 1 && h.target.startsWith('/') && h.headers.includes('host');
}

/** The path an absolute-form target is forwarded with (origin-form targets as they are). */
function originForm(target: string): string {
  const m = /^https?:\/\/[^/?]*(.*)$/i.exec(target);
  if (m === null) return target;
  return m[1] === '' || m[1]!.startsWith('?') ? `/${m[1]}` : m[1]!;
}

/** Parses `raw` in one piece; each message's body is re-chunked upstream in up to 3 pieces, as reads would cut it. */
function parseWithPieces(raw: Buffer, rnd: () => number): { messages: ParsedRequest[]; pieces: Buffer[][] } {
  const run = runRequests([raw], true);
  const pieces = run.messages.map((m) => (m.body.length === 0 ? [] : randomCuts(m.body, rnd, 3)));
  return { messages: run.messages, pieces };
}

describe('differential, upstream side: what Legate forwards frames the same in llhttp, RFC 9112 and Legate', () => {
  it(`in process: ${CASES} generated request streams (seed ${SEED}) through the upstream half of the proxy`, () => {
    const rnd = prng(SEED);
    const failures: string[] = [];
    let forwarded = 0;
    let chunked = 0;
    for (let k = 0; k < CASES && failures.length < 5; k++) {
      const c = generateCase(rnd);
      const { messages, pieces } = parseWithPieces(c.raw, rnd);
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        if (!proxiable(m)) break;
        const bytes = forwardInProcess(m, pieces[i]!);
        const r = frameThreeWays(bytes);
        const one = r.messages[0];
        if (r.problem === '' && (r.messages.length !== 1 || one!.body !== m.body.toString('latin1') || one!.method !== m.head.method)) {
          r.problem = `forwarded ${JSON.stringify(r.messages)} for ${JSON.stringify(m.head)} with body ${JSON.stringify(m.body.toString('latin1'))}`;
        }
        if (r.problem !== '') {
          failures.push(`case ${k} message ${i}: ${r.problem}\n  client ${JSON.stringify(c.raw.toString('latin1'))}\n  upstream ${JSON.stringify(bytes.toString('latin1'))}`);
          break;
        }
        forwarded++;
        if (m.head.chunked) chunked++;
      }
    }
    assert.deepEqual(failures, [], `seed ${SEED} (UPSTREAM_DIFF_SEED=${SEED} to replay)`);
    assert.ok(forwarded > CASES / 4 && chunked > CASES / 100, `only ${forwarded} requests forwarded, ${chunked} chunked`);
    console.log(`seed ${SEED}, ${CASES} cases: ${forwarded} requests forwarded (${chunked} re-chunked), framed alike three ways`);
  });

  it('the three framings catch a forwarded message they must refuse', () => {
    // Each is a way a proxy's output goes wrong: a smuggling pair, a doubled length, a stray line, obs-fold.
    const bad = [
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab',
      'GET / HTTP/1.1\r\nhost: a\r\n\r\n\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nhost: a\r\nx: 1\r\n 2\r\n\r\n',
      'GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n',
      'POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n',
    ];
    for (const raw of bad) assert.notEqual(frameThreeWays(Buffer.from(raw, 'latin1')).problem, '', raw);
    const good = 'POST /p?q HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3;x="y"\r\nabc\r\n0\r\nx-sum: 1\r\n\r\nGET / HTTP/1.1\r\nhost: b\r\n\r\n';
    const r = frameThreeWays(Buffer.from(good, 'latin1'));
    assert.equal(r.problem, '');
    assert.equal(r.messages.length, 2);
    assert.equal(r.messages[0]!.body, 'abc');
  });
});

/** An upstream that records the raw bytes of each connection and answers each request llhttp frames. */
class RawRecordingUpstream {
  readonly server: net.Server;
  readonly connections: Buffer[][] = [];
  port = 0;

  constructor() {
    const require = createRequire(import.meta.url);
    const { HTTPParser } = require('_http_common') as { HTTPParser: LlhttpParserCtor };
    this.server = net.createServer((sock) => {
      const chunks: Buffer[] = [];
      this.connections.push(chunks);
      const parser = new HTTPParser();
      parser.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
      parser[HTTPParser.kOnMessageComplete] = () => {
        sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      };
      sock.on('data', (d: Buffer) => {
        chunks.push(Buffer.from(d));
        const r = parser.execute(d);
        // A request llhttp cannot frame: stop answering; the recorded bytes say why.
        if (typeof r !== 'number') sock.destroy();
      });
      sock.on('error', () => {});
      sock.on('close', () => parser.close());
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

interface LlhttpParserCtor {
  new (): { initialize(t: number, r: object, max: number, lenient: number): void; execute(b: Buffer): unknown; close(): void; [k: number]: unknown };
  REQUEST: number;
  kOnMessageComplete: number;
  kLenientNone: number;
}

/** Writes `bytes`, half-closes, and waits for the connection to close (Legate answers, then closes). */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (data += d));
    sock.on('error', () => {});
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.end(bytes);
  });
}

describe('differential, upstream side: through a real bin/legate', () => {
  let legate: LegateProcess;
  let upstream: RawRecordingUpstream;
  let port = 0;

  before(async () => {
    upstream = await new RawRecordingUpstream().listen();
    legate = await startLegate({
      concurrency: 1,
      config: bootstrap(
        [hcmListener({ name: 'diff', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: up }' }] })],
        [cluster({ name: 'up', endpoints: [{ address: '127.0.0.1', port: upstream.port }] })],
      ),
    });
    port = await legate.listenerPort('diff');
  });

  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  it(`${PROXY_CASES} generated requests: the upstream's bytes frame the same three ways, with the client's method, path and body`, async () => {
    const rnd = prng(SEED ^ 0x9e0);
    const sent = new Map<string, ParsedRequest>();
    let k = 0;
    for (let tries = 0; sent.size < PROXY_CASES && tries < PROXY_CASES * 20; tries++) {
      const c = generateCase(rnd);
      // Any complete request but a tunnel (HTTP/1.0, absolute-form, no Host...): Legate decides what it forwards.
      const first = runRequests([c.raw], true).messages[0];
      if (first === undefined || !first.complete || first.head.upgrade) continue;
      // Tag the request (a field after the request-line) so the upstream's copy can be matched to it.
      const id = `c${k++}`;
      const lineEnd = c.raw.indexOf('\r\n') + 2;
      const tagged = Buffer.concat([c.raw.subarray(0, lineEnd), Buffer.from(`x-case: ${id}\r\n`, 'latin1'), c.raw.subarray(lineEnd)]);
      const parsed = runRequests([tagged], true).messages[0];
      if (parsed === undefined || !parsed.complete || parsed.head.upgrade) continue;
      const end = runRequests([...tagged].map((_, i) => tagged.subarray(i, i + 1)), true).messages[0]!.end;
      sent.set(id, parsed);
      await exchange(port, tagged.subarray(0, end));
    }
    assert.equal(sent.size, PROXY_CASES);
    const failures: string[] = [];
    const seen = new Set<string>();
    for (const chunks of upstream.connections) {
      const bytes = Buffer.concat(chunks);
      if (bytes.length === 0) continue;
      const r = frameThreeWays(bytes);
      if (r.problem !== '') {
        failures.push(`upstream connection: ${r.problem}\n  bytes ${JSON.stringify(bytes.toString('latin1'))}`);
        continue;
      }
      for (const m of r.messages) {
        const tag = m.headers[m.headers.indexOf('x-case') + 1];
        const client = tag === undefined ? undefined : sent.get(tag);
        if (client === undefined) {
          failures.push(`an upstream request that no client sent: ${JSON.stringify(m)}`);
          continue;
        }
        seen.add(tag!);
        if (m.method !== client.head.method || m.target !== originForm(client.head.target) || m.body !== client.body.toString('latin1')) {
          failures.push(`${tag}: upstream got ${m.method} ${m.target} ${JSON.stringify(m.body)}; ` +
            `the client sent ${client.head.method} ${client.head.target} ${JSON.stringify(client.body.toString('latin1'))}`);
        }
      }
    }
    assert.deepEqual(failures, []);
    // Most generated requests are proxied (the rest get a local reply: HTTP/1.0, a bad or missing Host, ...).
    assert.ok(seen.size > PROXY_CASES / 2, `only ${seen.size} of ${PROXY_CASES} reached the upstream`);
    console.log(`${seen.size} of ${PROXY_CASES} requests reached the upstream over ${upstream.connections.length} connections, framed alike three ways`);
  });
});
