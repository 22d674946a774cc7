// End to end (issue 9, the HTTP/1.1 request side): the exact reproducer bytes of the attack-tool findings on raw
// sockets through a real Legate process, with upstreams that record what reached them. Each case checks what the
// client got, that nothing smuggled or pipelined behind a refused request reached an upstream, and whether the
// connection was closed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { rawExchange } from '../support/upstreams.ts';
import { settle, waitUntil } from '../support/polling.ts';

const PREFIX = 'hardening';

/** Status codes of every response in `data`, in order. */
function statuses(data: string): number[] {
  return [...data.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** The head of the first response in `data`, lower-cased. */
function firstHead(data: string): string {
  return data.slice(0, data.indexOf('\r\n\r\n')).toLowerCase();
}

/**
 * Sends `bytes` and waits until `responses` responses (status lines) arrived; reports whether the server had
 * closed the connection by then. For cases where the connection must stay open.
 */
async function exchangeKeepingOpen(port: number, bytes: string, responses: number): Promise<{ data: string; closed: boolean }> {
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => (data += d));
  sock.on('error', () => {});
  sock.on('end', () => (closed = true));
  sock.on('close', () => (closed = true));
  sock.write(bytes);
  try {
    await waitUntil(() => closed || statuses(data).length >= responses, () => `${responses} responses in ${JSON.stringify(data)}`);
    return { data, closed };
  } finally {
    sock.destroy();
  }
}

/**
 * A raw upstream answering every request with the same exact bytes (a response whose Connection header nominates
 * fields that must not reach the client).
 */
async function rawUpstream(response: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buffered = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buffered += d;
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        sock.write(response, 'latin1');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('HTTP/1.1 request hardening (issue 9)', () => {
  let legate: LegateProcess;
  let up: RecordingUpstream;
  let raw: { port: number; close(): Promise<void> };
  let port: number;

  before(async () => {
    up = await new RecordingUpstream().listen();
    raw = await rawUpstream('HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nX-Internal: secret\r\n' +
      'X-Public: 1\r\nContent-Length: 2\r\n\r\nok');
    const config = bootstrap(
      [
        hcmListener({
          name: 'ingress',
          statPrefix: PREFIX,
          routes: [
            { match: '{ prefix: "/direct" }', action: 'direct_response: { status: 200, body: { inline_string: "direct" } }' },
            { match: '{ prefix: "/raw" }', action: 'route: { cluster: raw }' },
            { match: '{ prefix: "/up" }', action: 'route: { cluster: backend }' },
            { match: '{ prefix: "/smuggled" }', action: 'route: { cluster: backend }' },
          ],
        }),
      ],
      [
        cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
        cluster({ name: 'raw', endpoints: [{ address: '127.0.0.1', port: raw.port }] }),
      ],
    );
    legate = await startLegate({ config, concurrency: 1 });
    port = await legate.listenerPort('ingress');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await raw?.close();
  });

  /** Waits until the upstream is quiet, then asserts it never saw a request for `prefix`. */
  async function assertNeverForwarded(prefix: string): Promise<void> {
    await settle(() => up.received);
    assert.equal(up.count(prefix), 0, `${prefix} reached the upstream: ${JSON.stringify(up.seen.map((r) => r.url))}`);
  }

  /** A request pipelined behind the one under test: it must never reach the upstream. */
  const smuggled = (tag: string): string => `GET /smuggled-${tag} HTTP/1.1\r\nHost: h\r\n\r\n`;

  it('finding 3: an invalid Host is a 400 that closes, never forwarded (and counted)', async () => {
    const before = (await legate.statsMap()).get(`http.${PREFIX}.downstream_rq_invalid_host`) ?? 0;
    const hosts = ['a b', 'a.example/b', 'u@a.example', 'a.example, b.example'];
    for (const host of hosts) {
      const r = await rawExchange(port, `GET /up/host HTTP/1.1\r\nHost: ${host}\r\n\r\n${smuggled('host')}`);
      assert.deepEqual(statuses(r.data), [400], `Host: ${host}: ${r.data}`);
      assert.match(firstHead(r.data), /\r\nconnection: close/);
      assert.ok(r.closedByServer, `Host: ${host}: connection left open`);
    }
    // The authority of an absolute-form target is held to the same rule.
    const abs = await rawExchange(port, `GET http://a.example:80:80/up/host HTTP/1.1\r\nHost: a.example\r\n\r\n${smuggled('host')}`);
    assert.deepEqual(statuses(abs.data), [400], abs.data);
    assert.ok(abs.closedByServer);
    await assertNeverForwarded('/up/host');
    await assertNeverForwarded('/smuggled-host');
    const after = (await legate.statsMap()).get(`http.${PREFIX}.downstream_rq_invalid_host`) ?? 0;
    assert.equal(after - before, hosts.length + 1);
  });

  it('finding 3: a valid Host with a port, an IP literal or an absolute-form target is forwarded', async () => {
    const r = await rawExchange(port, 'GET /up/valid-host-1 HTTP/1.1\r\nHost: a.example:8080\r\n\r\n' +
      'GET /up/valid-host-2 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n' +
      'GET http://127.0.0.1/up/valid-host-3 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statuses(r.data), [200, 200, 200], r.data);
    assert.equal(up.request('/up/valid-host-1')?.headers.host, 'a.example:8080');
    assert.equal(up.request('/up/valid-host-2')?.headers.host, '[::1]:443');
    assert.equal(up.request('/up/valid-host-3')?.headers.host, '127.0.0.1');
  });

  it('finding 3: HTTP/2 :authority is held to the same rule (a 400 on the stream, the connection goes on)', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const status = (authority: string, path: string): Promise<number> => new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'GET', ':path': path, ':authority': authority });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    try {
      assert.equal(await status('u@a.example', '/up/h2-userinfo'), 400);
      assert.equal(await status('a.example/b', '/up/h2-path'), 400);
      assert.equal(await status('a.example:8443', '/up/h2-valid'), 200);
    } finally {
      session.close();
    }
    await assertNeverForwarded('/up/h2-userinfo');
    await assertNeverForwarded('/up/h2-path');
    assert.equal(up.request('/up/h2-valid')?.headers.host, 'a.example:8443');
  });

  it('finding 7: fields named in Connection never reach the upstream; X-Forwarded-For may not be named', async () => {
    const r = await rawExchange(port, 'GET /up/nominated HTTP/1.1\r\nHost: h\r\nConnection: X-Secret, keep-alive\r\n' +
      'X-Secret: 1\r\nx-secret: 2\r\nX-Other: 3\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statuses(r.data), [200], r.data);
    const seen = up.request('/up/nominated');
    assert.ok(seen !== undefined);
    assert.equal(seen.headers['x-secret'], undefined);
    assert.equal(seen.headers['x-other'], '3');
    assert.equal(seen.headers['connection'] === undefined || !/secret/i.test(String(seen.headers['connection'])), true);

    // Envoy refuses a request that would strip the client address the proxy adds for the next hop.
    const xff = await rawExchange(port, `GET /up/nominate-xff HTTP/1.1\r\nHost: h\r\nConnection: X-Forwarded-For\r\n\r\n${smuggled('xff')}`);
    assert.deepEqual(statuses(xff.data), [400], xff.data);
    assert.ok(xff.closedByServer);
    await assertNeverForwarded('/up/nominate-xff');
    await assertNeverForwarded('/smuggled-xff');
  });

  it('finding 7: fields the upstream names in its Connection header never reach the client', async () => {
    const r = await rawExchange(port, 'GET /raw/nominated HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statuses(r.data), [200], r.data);
    const head = firstHead(r.data);
    assert.doesNotMatch(head, /x-internal/);
    assert.match(head, /\r\nx-public: 1/);
    assert.ok(r.data.endsWith('\r\n\r\nok'), r.data);
  });

  it('finding 8: after a local 400 for a missing Host, the pipelined request is never read', async () => {
    const r = await rawExchange(port, `GET /up/no-host HTTP/1.1\r\n\r\n${smuggled('no-host')}`);
    assert.deepEqual(statuses(r.data), [400], r.data);
    assert.match(firstHead(r.data), /\r\nconnection: close/);
    assert.ok(r.closedByServer);
    await assertNeverForwarded('/up/no-host');
    await assertNeverForwarded('/smuggled-no-host');
  });

  it('finding 8: after the 426 to HTTP/1.0 (even keep-alive), the pipelined request is never read', async () => {
    const r = await rawExchange(port, `GET /up/http10 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n${smuggled('http10')}`);
    assert.deepEqual(statuses(r.data), [426], r.data);
    assert.match(firstHead(r.data), /\r\nconnection: close/);
    assert.ok(r.closedByServer);
    await assertNeverForwarded('/up/http10');
    await assertNeverForwarded('/smuggled-http10');
  });

  it('finding 8: ordinary local replies (404 no route, direct_response) keep the connection', async () => {
    const r = await exchangeKeepingOpen(port, 'GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\nGET /direct HTTP/1.1\r\nHost: h\r\n\r\n' +
      'GET /up/after-local HTTP/1.1\r\nHost: h\r\n\r\n', 3);
    assert.deepEqual(statuses(r.data), [404, 200, 200], r.data);
    assert.equal(r.closed, false, 'closed after an ordinary local reply');
    assert.equal(up.count('/up/after-local'), 1);
  });

  it('finding 9: a 70,000-byte request-target gets 414, a head over the limit 431', async () => {
    const long = await rawExchange(port, `GET /up/long-${'a'.repeat(70_000)} HTTP/1.1\r\nHost: h\r\n\r\n`);
    assert.deepEqual(statuses(long.data), [414], long.data.slice(0, 200));
    assert.ok(long.closedByServer);
    const big = await rawExchange(port, `GET /up/big-head HTTP/1.1\r\nHost: h\r\nX-Big: ${'b'.repeat(70_000)}\r\n\r\n`);
    assert.deepEqual(statuses(big.data), [431], big.data.slice(0, 200));
    await assertNeverForwarded('/up/long-');
    await assertNeverForwarded('/up/big-head');
  });

  it('finding 10: RFC-valid Transfer-Encoding lists and chunk-extension BWS are accepted, the body intact', async () => {
    const cases: [string, string, string][] = [
      ['te-htab', 'chunked\t', '5\r\nhello\r\n0\r\n\r\n'],
      ['te-trailing-comma', 'chunked,', '5\r\nhello\r\n0\r\n\r\n'],
      ['te-leading-comma', ', chunked', '5\r\nhello\r\n0\r\n\r\n'],
      ['ext-sp', 'chunked', '5 ;a=b\r\nhello\r\n0\r\n\r\n'],
      ['ext-htab', 'chunked', '5\t;a\r\nhello\r\n0\r\n\r\n'],
    ];
    for (const [name, te, body] of cases) {
      const r = await rawExchange(port, `POST /up/${name} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ${te}\r\nConnection: close\r\n\r\n${body}`);
      assert.deepEqual(statuses(r.data), [200], `${name}: ${r.data}`);
      await waitUntil(() => up.request(`/up/${name}`)?.body != null, () => `the body of /up/${name}`);
      assert.equal(up.request(`/up/${name}`)!.body!.toString('latin1'), 'hello', name);
    }
  });

  it('finding 10: ambiguous framing is still refused, always with a response, never a silent close', async () => {
    const cases: [string, string, string][] = [
      ['te-twice', 'chunked, chunked', '0\r\n\r\n'],
      ['te-not-last', 'chunked, gzip', '0\r\n\r\n'],
      ['te-comma-only', ',', '0\r\n\r\n'],
      ['ext-bws-before-crlf', 'chunked', '5;a \r\nhello\r\n0\r\n\r\n'],
      ['size-then-junk', 'chunked', '5 x\r\nhello\r\n0\r\n\r\n'],
    ];
    for (const [name, te, body] of cases) {
      const r = await rawExchange(port, `POST /up/bad-${name} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ${te}\r\n\r\n${body}${smuggled('framing')}`);
      assert.deepEqual(statuses(r.data), [400], `${name}: ${JSON.stringify(r.data)}`);
      assert.ok(r.closedByServer, name);
    }
    await assertNeverForwarded('/smuggled-framing');
    for (const [name] of cases.slice(0, 3)) assert.equal(up.count(`/up/bad-${name}`), 0, name);
  });
});
