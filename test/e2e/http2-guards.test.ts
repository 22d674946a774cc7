// End to end: exception guards at the HTTP/2 connection's entry points (issue 9, finding 17), through a real Legate
// (LEGATE_TEST_THROW=1 makes chosen handlers throw: workers/test-hooks.ts) and the raw HTTP/2 client. An exception
// about one stream resets that stream only and the same connection serves the next; one in the codec's own
// processing ends that connection only (GOAWAY INTERNAL_ERROR); each is counted in http.<prefix>.internal_error,
// logged once, and the worker is never replaced.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { waitUntil } from '../support/polling.ts';
import { ErrorCode, H2RawClient, type HeaderField } from '../support/h2-raw-client.ts';

const THROW = 'x-legate-test-throw';

describe('HTTP/2 exception guards', { timeout: 120_000 }, () => {
  let legate: LegateProcess;
  let up: RecordingUpstream;
  let port = 0;
  let idlePort = 0;
  let keepalivePort = 0;
  const clients: H2RawClient[] = [];

  const connect = async (opts: { port?: number; autoAckPing?: boolean } = {}): Promise<H2RawClient> => {
    const c = await H2RawClient.connect({ port: opts.port ?? port, autoAckPing: opts.autoAckPing ?? true });
    clients.push(c);
    return c;
  };
  const stat = async (name: string): Promise<number> => (await legate.statsMap()).get(name) ?? 0;
  const logged = (text: string): number => legate.stderr.split(text).length - 1;

  /** A GET on `streamId` that must come back as a whole response. */
  async function assertServed(c: H2RawClient, streamId: number, path: string): Promise<void> {
    c.request(streamId, path);
    const s = await c.waitForStreamEnd(streamId);
    assert.ok(s.ended && s.rstCode === null && s.headers === 1, `stream ${streamId}: ${c.describe()}`);
  }

  /** After a throw: the worker was not replaced and a new connection is served. */
  async function assertWorkerServing(path: string): Promise<void> {
    const c = await connect();
    await assertServed(c, 1, path);
    assert.equal(await stat('server.worker_restarts'), 0, `a worker was replaced; legate stderr:\n${legate.stderr}`);
    assert.equal(legate.exitCode, null);
  }

  before(async () => {
    up = await new RecordingUpstream().listen();
    const routes = [
      {
        match: '{ prefix: "/encode-throw" }',
        action: 'direct_response: { status: 200, body: { inline_string: "never" } }\n' +
          `                response_headers_to_add: [{ header: { key: ${THROW}, value: h2-encode } }]`,
      },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    legate = await startLegate({
      config: bootstrap(
        [
          hcmListener({ name: 'h2g', routes, hcmExtra: '          codec_type: AUTO\n' }),
          // The test hooks make these connection managers' timer handlers throw (by stat_prefix).
          hcmListener({
            name: 'h2idle', statPrefix: 'test_throw_idle', routes,
            hcmExtra: '          codec_type: HTTP2\n          common_http_protocol_options: { idle_timeout: 0.2s }\n',
          }),
          hcmListener({
            name: 'h2keepalive', statPrefix: 'test_throw_keepalive', routes,
            hcmExtra: '          codec_type: HTTP2\n          http2_protocol_options: { connection_keepalive: { interval: 0.1s, timeout: 0.2s } }\n',
          }),
        ],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })],
      ),
      concurrency: 1,
      env: { LEGATE_TEST_THROW: '1' },
    });
    port = await legate.listenerPort('h2g');
    idlePort = await legate.listenerPort('h2idle');
    keepalivePort = await legate.listenerPort('h2keepalive');
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await legate?.stop();
    await up?.close();
  });

  it('a throw in the callback for a new stream resets that stream only; the same connection serves the next', async () => {
    const before = await stat('http.h2g.internal_error');
    const c = await connect();
    const extra: HeaderField[] = [[THROW, 'h2-request']];
    c.request(1, '/new-stream-throw', { extra });
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, ErrorCode.INTERNAL_ERROR, c.describe());
    await assertServed(c, 3, '/after-new-stream-throw');
    assert.equal(c.goaways.length, 0, c.describe());
    assert.equal(up.count('/new-stream-throw'), 0, 'nothing went upstream');
    assert.equal(await stat('http.h2g.internal_error'), before + 1);
    assert.equal(logged('test hook: HTTP/2 onRequest throws'), 1, 'the stack is logged once');
    await assertWorkerServing('/after-new-stream-throw-2');
  });

  it('a throw on a started stream\'s request DATA resets that stream and its upstream request only', async () => {
    const before = await stat('http.h2g.internal_error');
    const c = await connect();
    const extra: HeaderField[] = [[THROW, 'h2-request-data']];
    c.request(1, '/data-throw', { method: 'POST', endStream: false, extra });
    // The stream started: its request head reached the upstream, whose request now waits for the body.
    await waitUntil(() => up.request('/data-throw') !== undefined, () => 'the request head upstream');
    const activeBefore = up.active;
    c.data(1, 'body', { endStream: true });
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, ErrorCode.INTERNAL_ERROR, c.describe());
    // The upstream request was reset, never completed.
    await waitUntil(() => up.active < activeBefore, () => `the upstream request to be reset (active ${up.active})`);
    assert.equal(up.request('/data-throw')!.body, null, 'the upstream never saw the request end');
    await assertServed(c, 3, '/after-data-throw');
    assert.equal(c.goaways.length, 0, c.describe());
    assert.equal(await stat('http.h2g.internal_error'), before + 1);
    await assertWorkerServing('/after-data-throw-2');
  });

  it('a throw in a deferred stream start (the request head\'s processing) resets that stream only; counted', async () => {
    const before = await stat('http.h2g.internal_error');
    const c = await connect();
    const extra: HeaderField[] = [[THROW, 'decode-headers']];
    c.request(1, '/start-throw', { extra });
    const s = await c.waitForStreamEnd(1);
    assert.equal(s.rstCode, ErrorCode.INTERNAL_ERROR, c.describe());
    await assertServed(c, 3, '/after-start-throw');
    assert.equal(await stat('http.h2g.internal_error'), before + 1);
    await assertWorkerServing('/after-start-throw-2');
  });

  it('a throw in frame handling ends that connection only (GOAWAY INTERNAL_ERROR), resetting its streams upstream', async () => {
    const before = await stat('http.h2g.internal_error');
    const c = await connect();
    c.request(1, '/hold-conn-throw');
    await waitUntil(() => up.heldCount === 1, () => 'the held request upstream');
    c.ping(Buffer.from('LGTTHROW', 'latin1'));
    const g = await c.waitForGoaway();
    assert.equal(g.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
    await c.waitForClose();
    // The stream in flight went with the connection, and its upstream request with it.
    await waitUntil(() => up.heldCount === 0, () => 'the held upstream request to be reset');
    assert.equal(await stat('http.h2g.internal_error'), before + 1);
    assert.equal(logged('test hook: HTTP/2 PING handling throws'), 1, 'the stack is logged once');
    await assertWorkerServing('/after-conn-throw');
  });

  it('a throw half-way through a header block ends the connection (HPACK state in doubt); others are served', async () => {
    const before = await stat('http.h2g.internal_error');
    const c = await connect();
    c.request(1, '/encode-throw');
    const g = await c.waitForGoaway();
    assert.equal(g.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
    await c.waitForClose();
    assert.equal(c.streams.get(1)?.headers ?? 0, 0, 'no response head went out');
    assert.equal(await stat('http.h2g.internal_error'), before + 1);
    await assertWorkerServing('/after-encode-throw');
  });

  it('a throw in the connection\'s idle timer ends that connection only (GOAWAY INTERNAL_ERROR); counted', async () => {
    const before = await stat('http.test_throw_idle.internal_error');
    const c = await connect({ port: idlePort });
    const g = await c.waitForGoaway();
    assert.equal(g.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
    await c.waitForClose();
    assert.equal(await stat('http.test_throw_idle.internal_error'), before + 1);
    await assertWorkerServing('/after-idle-throw');
  });

  it('a throw in the keepalive timer (an unanswered PING) ends that connection only; counted', async () => {
    const before = await stat('http.test_throw_keepalive.internal_error');
    const c = await connect({ port: keepalivePort, autoAckPing: false });
    const g = await c.waitForGoaway();
    assert.equal(g.errorCode, ErrorCode.INTERNAL_ERROR, c.describe());
    await c.waitForClose();
    assert.equal(await stat('http.test_throw_keepalive.internal_error'), before + 1);
    await assertWorkerServing('/after-keepalive-throw');
  });
});
