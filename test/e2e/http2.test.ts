// End to end: HTTP/2 through bin/legate with real peers — curl --http2-prior-knowledge and h2load downstream,
// node:http2 servers upstream — in every direction (h1->h2, h2->h1, h2->h2), with header conversion, trailers,
// stats, a GOAWAY'd upstream whose refused streams are retried, an upstream reset, and gRPC-style local replies.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, listenOnPortZero, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { CONNECTION_PREFACE, H2RawClient, FrameType, settingsFrame } from '../support/h2-raw-client.ts';

const run = promisify(execFile);

const H2_CLUSTER = `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
`;

interface Seen {
  method: string;
  path: string;
  authority: string;
  headers: http2.IncomingHttpHeaders | http.IncomingHttpHeaders;
  body: number;
  session: number;
}

/** An HTTP/2 upstream recording what it sees; /trailers answers with trailers, /reset resets the stream. */
async function startH2Upstream(): Promise<{ port: number; seen: Seen[]; server: http2.Http2Server; goawayAfter: { n: number }; pings: { n: number } }> {
  const pings = { n: 0 };
  const seen: Seen[] = [];
  const goawayAfter = { n: 0 };
  const goaway: { session: http2.ServerHttp2Session | null; count: number; firstId: number } = { session: null, count: 0, firstId: -1 };
  let sessions = 0;
  const server = http2.createServer();
  server.on('session', (session) => {
    (session as unknown as { legateId: number }).legateId = ++sessions;
    session.on('ping', () => pings.n++);
  });
  server.on('stream', (stream, headers) => {
    const session = stream.session as unknown as { legateId: number } & http2.ServerHttp2Session;
    let body = 0;
    stream.on('data', (d: Buffer) => (body += d.length));
    stream.on('error', () => {});
    const path = String(headers[':path']);
    // GOAWAY test: the first session to see /goaway streams answers only the first; at the Nth it sends
    // GOAWAY with that first stream as the last it will process, refusing the others.
    if (path.startsWith('/goaway') && goawayAfter.n > 0) {
      if (goaway.session === null) goaway.session = session;
      if (goaway.session === session) {
        goaway.count++;
        if (goaway.firstId < 0) goaway.firstId = stream.id ?? 1;
        else {
          if (goaway.count === goawayAfter.n) session.goaway(http2.constants.NGHTTP2_NO_ERROR, goaway.firstId);
          return;
        }
      }
    }
    stream.on('end', () => {
      seen.push({ method: String(headers[':method']), path, authority: String(headers[':authority']), headers, body, session: session.legateId });
      if (path === '/reset') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if (path === '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'kept' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
        return;
      }
      const out = `h2 ${String(headers[':method'])} ${path} body=${body}`;
      stream.respond({ ':status': 200, 'x-upstream': 'h2', 'set-cookie': ['a=1', 'b=2'] });
      stream.end(out);
    });
  });
  const port = await listenOnPortZero(server);
  return { port, seen, server, goawayAfter, pings };
}

async function startH1Upstream(): Promise<{ port: number; seen: Seen[]; server: http.Server }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = 0;
    req.on('data', (d: Buffer) => (body += d.length));
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, authority: req.headers.host ?? '', headers: req.headers, body, session: 0 });
      res.setHeader('x-upstream', 'h1');
      // No content-length: the body is chunked towards an HTTP/1.1 client, plain DATA towards HTTP/2.
      res.write(`h1 ${req.method} ${req.url} `);
      res.end(`body=${body}`);
    });
  });
  const port = await listenOnPortZero(server);
  return { port, seen, server };
}

/** One request with node:http2 as the client; resolves with status, headers, body and trailers. */
function h2request(port: number, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders | null; rst: number }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const req = client.request(headers, { endStream: body === undefined });
    let status = 0;
    let rh: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      rh = h;
      status = Number(h[':status']);
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', () => {});
    req.on('close', () => {
      client.close();
      resolve({ status, headers: rh, body: Buffer.concat(chunks), trailers, rst: req.rstCode ?? 0 });
    });
    if (body !== undefined) req.end(body);
  });
}

describe('HTTP/2', () => {
  let legate: LegateProcess;
  let h2up: Awaited<ReturnType<typeof startH2Upstream>>;
  let h1up: Awaited<ReturnType<typeof startH1Upstream>>;
  let autoPort: number;
  let h2OnlyPort: number;
  let slow: http.Server;
  let keepalivePort: number;

  before(async () => {
    h2up = await startH2Upstream();
    h1up = await startH1Upstream();
    const refusedPort = await unusedPort();
    const routes = [
      { match: '{ prefix: "/ka-upstream" }', action: 'route: { cluster: h2_keepalive }' },
      { match: '{ prefix: "/max-rq" }', action: 'route: { cluster: h2_max_rq }' },
      { match: '{ prefix: "/h1" }', action: 'route: { cluster: h1 }' },
      { match: '{ prefix: "/grpc-timeout" }', action: 'route: { cluster: h1_slow, max_stream_duration: { grpc_timeout_header_max: 0s } }' },
      { match: '{ prefix: "/refused" }', action: 'route: { cluster: nowhere }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: h2 }' },
    ];
    const listeners = [
      hcmListener({ name: 'auto', routes }),
      hcmListener({ name: 'h2only', routes, hcmExtra: '          codec_type: HTTP2\n          http2_protocol_options: { max_concurrent_streams: 50 }\n' }),
      hcmListener({ name: 'keepalive', routes, hcmExtra: '          http2_protocol_options: { connection_keepalive: { interval: 0.2s, timeout: 0.3s } }\n' }),
    ];
    slow = http.createServer(() => {
      // never answers: the grpc-timeout must end the stream
    });
    const slowPort = await listenOnPortZero(slow);
    legate = await startLegate({
      config: bootstrap(listeners, [
        cluster({ name: 'h2', endpoints: [{ address: '127.0.0.1', port: h2up.port }], extra: H2_CLUSTER }),
        cluster({ name: 'h1', endpoints: [{ address: '127.0.0.1', port: h1up.port }] }),
        cluster({ name: 'h2_max_rq', endpoints: [{ address: '127.0.0.1', port: h2up.port }], extra: H2_CLUSTER.replace('explicit_http_config:', 'common_http_protocol_options: { max_requests_per_connection: 2 }\n        explicit_http_config:') }),
        cluster({ name: 'h2_keepalive', endpoints: [{ address: '127.0.0.1', port: h2up.port }], extra: H2_CLUSTER.replace('http2_protocol_options: {}', 'http2_protocol_options: { connection_keepalive: { interval: 0.1s, timeout: 1s } }') }),
        cluster({ name: 'h1_slow', endpoints: [{ address: '127.0.0.1', port: slowPort }] }),
        cluster({ name: 'nowhere', endpoints: [{ address: '127.0.0.1', port: refusedPort }], extra: H2_CLUSTER }),
      ]),
      concurrency: 1,
    });
    autoPort = await legate.listenerPort('auto');
    h2OnlyPort = await legate.listenerPort('h2only');
    keepalivePort = await legate.listenerPort('keepalive');
  });

  after(async () => {
    await legate?.stop();
    h2up?.server.close();
    h1up?.server.close();
    slow?.closeAllConnections();
    slow?.close();
  });

  it('AUTO serves h2c prior knowledge and HTTP/1.1 on the same port; HTTP/1.1 to an HTTP/2 upstream (h1->h2)', async () => {
    const h1 = await curl([`http://127.0.0.1:${autoPort}/a?q=1`, '-H', 'cookie: x=1']);
    assert.equal(h1.status, 200);
    assert.equal(h1.body, 'h2 GET /a?q=1 body=0');
    const last = h2up.seen.at(-1)!;
    assert.equal(last.authority, `127.0.0.1:${autoPort}`, 'host became :authority');
    assert.equal(last.headers['host'], undefined, 'no host header on HTTP/2');
    assert.equal(last.headers['x-forwarded-proto'], 'http');
    const h2 = await curl(['--http2-prior-knowledge', '-w', '%{http_version}', `http://127.0.0.1:${autoPort}/b`]);
    assert.equal(h2.status, 200);
    assert.equal(h2.body, 'h2 GET /b body=02', 'body, then curl saying HTTP version 2');
    assert.deepEqual(h2.headers.get('set-cookie'), ['a=1', 'b=2']);
  });

  it('AUTO recognises the h2c preface even when it arrives split over several reads', async () => {
    const c = await H2RawClient.connect({ port: autoPort, preface: false });
    for (const piece of [CONNECTION_PREFACE.subarray(0, 3), CONNECTION_PREFACE.subarray(3, 17), Buffer.concat([CONNECTION_PREFACE.subarray(17), settingsFrame()])]) {
      c.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 30)); // separate writes, so separate reads
    }
    c.request(1, '/split');
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, null, c.describe());
    assert.equal(s.dataBytes, 'h2 GET /split body=0'.length, c.describe());
    c.destroy();
  });

  it('HTTP/2 client to an HTTP/1.1 upstream (h2->h1): host from :authority, cookies joined, body re-framed', async () => {
    const r = await h2request(autoPort, { ':method': 'POST', ':path': '/h1/up', cookie: ['a=1', 'b=2'] }, Buffer.alloc(3000, 120));
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'h1 POST /h1/up body=3000');
    const last = h1up.seen.at(-1)!;
    assert.equal(last.authority, `127.0.0.1:${autoPort}`);
    assert.equal(last.headers['cookie'], 'a=1; b=2');
    // No content-length from the client: the HTTP/1.1 hop is chunked.
    assert.equal(last.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['transfer-encoding'], undefined);
    assert.equal(r.headers['x-upstream'], 'h1');
  });

  it('completed HTTP/2 streams count as completed 2xx/4xx, not as client resets (h2 and h1 upstreams, local replies)', async () => {
    const stats = async (): Promise<Map<string, number>> => legate.statsMap();
    const before = await stats();
    const get = (m: Map<string, number>, name: string): number => m.get(`http.auto.${name}`) ?? 0;
    const h2 = await h2request(autoPort, { ':method': 'GET', ':path': '/counted' });
    const h1 = await h2request(autoPort, { ':method': 'POST', ':path': '/h1/counted' }, Buffer.alloc(10, 1));
    const local = await h2request(autoPort, { ':method': 'GET', ':path': '/refused' });
    assert.deepEqual([h2.status, h1.status, local.status], [200, 200, 503]);
    let after = await stats();
    for (let i = 0; i < 50 && get(after, 'downstream_rq_completed') - get(before, 'downstream_rq_completed') < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await stats();
    }
    const delta = (name: string): number => get(after, name) - get(before, name);
    assert.equal(delta('downstream_rq_completed'), 3, 'every stream completed');
    assert.equal(delta('downstream_rq_2xx'), 2);
    assert.equal(delta('downstream_rq_5xx'), 1);
    assert.equal(delta('downstream_rq_rx_reset'), 0, 'no stream counted as reset by the client');
    assert.equal((after.get('http2.rx_reset') ?? 0) - (before.get('http2.rx_reset') ?? 0), 0);
  });

  it('nghttp (nghttp2\'s client): 20 multiplexed GETs with PRIORITY anchors, and a 100 KB POST with request trailers over a 1 KiB window', async () => {
    const nghttp = async (args: string[]): Promise<string> => {
      const { stdout } = await run('nghttp', ['-v', '-n', '-t', '10', ...args], { maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    };
    // -m 20: the same URI 20 times on one connection; nghttp also sends PRIORITY frames on idle streams 3..11.
    const gets = await nghttp(['-m', '20', `http://127.0.0.1:${autoPort}/nghttp`]);
    assert.equal((gets.match(/recv \(stream_id=\d+\) :status: 200/g) ?? []).length, 20, gets.slice(0, 4000));
    assert.match(gets, /send PRIORITY frame/);
    assert.doesNotMatch(gets, /recv (RST_STREAM|GOAWAY) frame/, 'no stream or connection error');
    const body = Buffer.alloc(100_000, 0x61);
    const file = join(tmpdir(), `legate-nghttp-body-${process.pid}.bin`);
    await writeFile(file, body);
    const before = h1up.seen.length;
    const post = await nghttp(['-w', '10', '-d', file, '--trailer', 'x-checksum: 1', `http://127.0.0.1:${autoPort}/h1/nghttp-post`]);
    assert.match(post, /recv \(stream_id=\d+\) :status: 200/, post.slice(-3000));
    assert.match(post, /send HEADERS frame <length=\d+, flags=0x05/, 'the trailers went out as HEADERS with END_STREAM');
    assert.doesNotMatch(post, /recv GOAWAY frame/, post.slice(-3000));
    // The upstream read the whole body, so the response came after the request ended: no RST_STREAM needed.
    assert.doesNotMatch(post, /recv RST_STREAM frame/, post.slice(-3000));
    assert.equal(h1up.seen.length, before + 1);
    assert.equal(h1up.seen.at(-1)!.body, 100_000, 'the whole body reached the HTTP/1.1 upstream');
    await rm(file, { force: true });
  });

  it('HTTP/2 to HTTP/2 (h2->h2) keeps trailers and the message bytes', async () => {
    const r = await h2request(autoPort, { ':method': 'POST', ':path': '/trailers', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.from([0, 0, 0, 0, 1, 7]));
    assert.equal(r.status, 200);
    assert.deepEqual([...r.body], [0, 0, 0, 0, 2, 8, 1]);
    assert.equal(r.trailers?.['grpc-status'], '0');
    assert.equal(r.trailers?.['x-trailer'], 'kept');
    assert.equal(h2up.seen.at(-1)!.headers['te'], 'trailers');
  });

  it('codec_type HTTP2 serves h2load 10 connections x 10 streams, all multiplexed over few upstream connections', async () => {
    const { stdout } = await run('h2load', ['-n', '2000', '-c', '10', '-m', '10', `http://127.0.0.1:${h2OnlyPort}/load`]);
    assert.match(stdout, /2000 succeeded/);
    assert.match(stdout, /status codes: 2000 2xx/);
    const stats = await legate.statsMap();
    assert.ok(stats.get('http.h2only.downstream_cx_http2_total')! >= 10);
    assert.ok(stats.get('http.h2only.downstream_rq_http2_total')! >= 2000);
    // 100 concurrent streams at most (10 x 10) over connections of up to 100 streams: a handful, not one per request.
    assert.ok(stats.get('cluster.h2.upstream_cx_http2_total')! <= 5, `upstream connections: ${stats.get('cluster.h2.upstream_cx_http2_total')}`);
  });

  it('streams an upstream refused after its GOAWAY are retried on a new connection', async () => {
    h2up.goawayAfter.n = 3;
    const before = h2up.seen.length;
    // Several concurrent requests on one downstream connection share one upstream connection; that connection's
    // GOAWAY(last stream 1) refuses the rest, which must be answered from a second upstream connection.
    const client = http2.connect(`http://127.0.0.1:${autoPort}`);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => new Promise<number>((resolve) => {
      const req = client.request({ ':path': `/goaway/${i}` });
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.resume();
      req.on('error', () => {});
      req.on('close', () => resolve(status));
    })));
    client.close();
    h2up.goawayAfter.n = 0;
    assert.deepEqual(results, [200, 200, 200, 200, 200, 200]);
    const answered = h2up.seen.slice(before).filter((s) => s.path.startsWith('/goaway'));
    assert.equal(answered.length, 6);
    assert.ok(answered.some((s) => s.session !== answered[0]!.session), 'refused streams were answered on another connection');
    const stats = await legate.statsMap();
    assert.ok(stats.get('cluster.h2.upstream_cx_close_notify')! >= 1);
  });

  it('an upstream stream reset before the response is a 503 UR; a refused connection a 503', async () => {
    const r = await h2request(autoPort, { ':path': '/reset' });
    assert.equal(r.status, 503);
    assert.match(r.body.toString(), /remote reset/);
    const refused = await h2request(autoPort, { ':path': '/refused' });
    assert.equal(refused.status, 503);
  });

  it('gRPC clients get local replies as gRPC errors; grpc-timeout ends the stream with DEADLINE_EXCEEDED', async () => {
    const grpc = { 'content-type': 'application/grpc', te: 'trailers' };
    const refused = await h2request(autoPort, { ':method': 'POST', ':path': '/refused', ...grpc }, Buffer.from([0, 0, 0, 0, 0]));
    assert.equal(refused.status, 200);
    assert.equal(refused.headers['grpc-status'], '14');
    const timedOut = await h2request(autoPort, { ':method': 'POST', ':path': '/grpc-timeout', 'grpc-timeout': '300m', ...grpc }, Buffer.from([0, 0, 0, 0, 0]));
    assert.equal(timedOut.status, 200);
    assert.equal(timedOut.headers['grpc-status'], '4', String(timedOut.headers['grpc-message']));
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.auto.downstream_rq_max_duration_reached'), 1);
  });

  it('connection_keepalive: PINGs a client every interval and closes a connection whose PINGs go unanswered', async () => {
    const before = (await legate.statsMap()).get('http2.keepalive_timeout') ?? 0;
    const answering = await H2RawClient.connect({ port: keepalivePort });
    const silent = await H2RawClient.connect({ port: keepalivePort, autoAckPing: false });
    await silent.waitFor(() => silent.closed, 'the unanswered connection to close', 10_000);
    // The answering client saw several PINGs by then and is still open.
    await answering.waitFor(() => answering.count(FrameType.PING) >= 3, 'three PINGs', 10_000);
    assert.equal(answering.closed, false, answering.describe());
    assert.ok(silent.count(FrameType.PING) >= 1, silent.describe());
    answering.destroy();
    const after = (await legate.statsMap()).get('http2.keepalive_timeout') ?? 0;
    assert.ok(after > before, `http2.keepalive_timeout ${before} -> ${after}`);
  });

  it('max_requests_per_connection counts HTTP/2 streams: every two requests take a new upstream connection', async () => {
    const before = h2up.seen.length;
    for (let i = 0; i < 6; i++) assert.equal((await h2request(autoPort, { ':path': `/max-rq/${i}` })).status, 200);
    const sessions = new Set(h2up.seen.slice(before).filter((x) => x.path.startsWith('/max-rq')).map((x) => x.session));
    assert.equal(sessions.size, 3, `upstream sessions: ${[...sessions].join(',')}`);
  });

  it('connection_keepalive on an HTTP/2 cluster PINGs the upstream connection', async () => {
    const r = await h2request(autoPort, { ':path': '/ka-upstream' });
    assert.equal(r.status, 200);
    // Without keepalive nothing PINGs this idle upstream connection; with it, PINGs keep coming.
    const start = h2up.pings.n;
    for (let i = 0; i < 200 && h2up.pings.n - start < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(h2up.pings.n - start >= 2, `upstream saw ${h2up.pings.n - start} PINGs`);
  });

  it('an HTTP/1.1 Upgrade: h2c request is served as plain HTTP/1.1 and the upgrade never reaches the upstream', async () => {
    const r = await curl(['--http2', '-w', '%{http_version}', `http://127.0.0.1:${autoPort}/h1/upgrade`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'h1 GET /h1/upgrade body=01.1', 'body, then curl saying HTTP version 1.1');
    const last = h1up.seen.at(-1)!;
    assert.equal(last.path, '/h1/upgrade');
    assert.equal(last.headers['upgrade'], undefined);
    assert.equal(last.headers['http2-settings'], undefined);
  });
});

describe('HTTP/2 across reload and shutdown', () => {
  it('an open HTTP/2 connection takes the new routes after SIGHUP, and SIGTERM lets a stream in flight finish', async () => {
    let release: (() => void) | null = null;
    const slowServer = http.createServer((req, res) => {
      // The slow upstream answers when the test says so (after SIGTERM went out).
      release = () => res.end(`slow ${req.url}`);
    });
    const slowPort = await listenOnPortZero(slowServer);
    const config = (body: string): string => bootstrap(
      [hcmListener({ name: 'gen', routes: [
        { match: '{ prefix: "/slow" }', action: 'route: { cluster: slow }' },
        { match: '{ prefix: "/" }', action: `direct_response: { status: 200, body: { inline_string: "${body}" } }` },
      ] })],
      [cluster({ name: 'slow', endpoints: [{ address: '127.0.0.1', port: slowPort }] })],
    );
    const legate = await startLegate({ config: config('v1'), concurrency: 1 });
    const port = await legate.listenerPort('gen');
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const get = (path: string): Promise<{ status: number; body: string }> => new Promise((resolve) => {
      const req = client.request({ ':path': path });
      let status = 0;
      let body = '';
      req.setEncoding('utf8');
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: string) => (body += d));
      req.on('error', () => {});
      req.on('close', () => resolve({ status, body }));
    });
    try {
      assert.deepEqual(await get('/'), { status: 200, body: 'v1' });
      legate.writeConfig(config('v2'));
      assert.equal(await legate.reload(), true);
      // Same HTTP/2 connection, new request: the new route table.
      assert.deepEqual(await get('/'), { status: 200, body: 'v2' });
      const inFlight = get('/slow/x');
      for (let i = 0; i < 200 && release === null; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(release !== null, 'the slow request reached the upstream');
      const exited = legate.stop('SIGTERM');
      // The drain sends GOAWAY; the stream in flight still completes.
      await new Promise((r) => setTimeout(r, 200));
      (release as unknown as () => void)();
      assert.deepEqual(await inFlight, { status: 200, body: 'slow /slow/x' });
      assert.equal(await exited, 0);
    } finally {
      client.destroy();
      slowServer.closeAllConnections();
      slowServer.close();
      await legate.stop();
    }
  });
});

/**
 * Writes `chunk` to `out` until `total` bytes went out, waiting for 'drain' whenever a write says the buffer is
 * full (so the count stops where backpressure stops it), then ends. `counted(n)` sees every chunk handed over.
 */
function pumpUntil(out: { write(b: Buffer): boolean; once(e: 'drain', f: () => void): unknown; end(): unknown }, chunk: Buffer, total: number, counted: (n: number) => number): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += chunk.length;
      counted(chunk.length);
      if (!out.write(chunk)) {
        out.once('drain', pump);
        return;
      }
    }
    out.end();
  };
  pump();
}

describe('HTTP/2 flow control end to end', () => {
  const TOTAL = 64 * 1024 * 1024;
  const BOUND = 24 * 1024 * 1024; // far below TOTAL: kernel buffers, windows and per-connection limits only

  /** Resolves once `progress()` has not moved for `quietMs` (the writer is stalled), with its last value. */
  async function stalled(progress: () => number, quietMs = 600, maxMs = 20_000): Promise<number> {
    let last = -1;
    let since = Date.now();
    const start = Date.now();
    for (;;) {
      const now = progress();
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) return now;
      if (Date.now() - start > maxMs) return now;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('a client that does not read its response stops the upstream (download), and an upstream that does not read stops the client (upload)', async (t) => {
    let written = 0;
    let readByUpstream = 0;
    const held: http.IncomingMessage[] = [];
    const upstream = http.createServer((req, res) => {
      if (req.url === '/download') {
        pumpUntil(res, Buffer.alloc(64 * 1024, 97), TOTAL, (n) => (written += n));
      } else {
        // /upload: read nothing (the request body backs up), answer never.
        req.pause();
        held.push(req);
        req.on('data', (d: Buffer) => (readByUpstream += d.length));
      }
    });
    const upPort = await listenOnPortZero(upstream);
    const legate = await startLegate({
      config: bootstrap([hcmListener({ name: 'fc', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: up, timeout: 0s }' }] })],
        [cluster({ name: 'up', endpoints: [{ address: '127.0.0.1', port: upPort }] })]),
      concurrency: 1,
    });
    const port = await legate.listenerPort('fc');
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    try {
      // Download: the response is never read; Legate must stop reading the upstream.
      const down = client.request({ ':path': '/download' });
      down.on('error', () => {});
      down.pause();
      const stalledAt = await stalled(() => written);
      t.diagnostic(`download stalled at ${stalledAt} bytes`);
      assert.ok(stalledAt < BOUND, `the upstream wrote ${stalledAt} bytes of ${TOTAL} to a client that reads nothing`);
      // Upload: the upstream reads nothing; the client's writes must stall.
      const upReq = client.request({ ':method': 'POST', ':path': '/upload' });
      upReq.on('error', () => {});
      let sent = 0;
      pumpUntil(upReq, Buffer.alloc(64 * 1024, 98), TOTAL, (n) => (sent += n));
      const sentAt = await stalled(() => sent);
      t.diagnostic(`upload stalled at ${sentAt} bytes`);
      assert.ok(sentAt < BOUND, `the client sent ${sentAt} bytes of ${TOTAL} towards an upstream that reads nothing`);
      // Both resume once the slow side reads: the download drains to its end.
      let got = 0;
      down.on('data', (d: Buffer) => (got += d.length));
      down.resume();
      await new Promise<void>((r) => down.on('end', () => r()));
      assert.equal(got, TOTAL);
    } finally {
      client.destroy();
      for (const r of held) r.socket.destroy();
      upstream.closeAllConnections();
      upstream.close();
      await legate.stop();
    }
  });
});
