// End to end: Envoy's connection and stream debug/trace lines, by logger (conn_handler, http, router, pool,
// connection) and level (-l / --component-log-level): a new connection, the request head (its fields at trace),
// the route's cluster, the upstream connection being made and attached, the response head, the stream's end,
// a client reset, each close with Envoy's close type, the filter chain chosen and a TLS handshake. At -l info none
// of them is written. The per-thread
// component switches are checked in process.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { TestPki } from '../tls/support/test-pki.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { componentLogger, configureLogger, DEFAULT_LOG_FORMAT, setLogLevel } from '../../src/common/logger.ts';

const ROUTES = [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }];

function config(upPort: number, extraListeners: string[] = []): string {
  return bootstrap([hcmListener({ name: 'l', routes: ROUTES }), ...extraListeners], [cluster({ name: 'web', endpoints: [{ address: '127.0.0.1', port: upPort }] })]);
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('connection logs: component loggers', () => {
  after(() => configureLogger({ level: 'info', componentLevels: [], format: { kind: 'text', pattern: DEFAULT_LOG_FORMAT }, escaped: false, path: undefined }));

  it('each logger has its own level: --log-level, or its --component-log-level entry; /logging?level= sets them all', () => {
    const pool = componentLogger('pool');
    const http = componentLogger('http');
    configureLogger({ level: 'info', componentLevels: [['pool', 'debug'], ['http', 'trace']], format: { kind: 'text', pattern: DEFAULT_LOG_FORMAT }, escaped: false, path: undefined });
    assert.deepEqual([pool.debug, pool.trace, http.debug, http.trace], [true, false, true, true]);
    assert.equal(componentLogger('connection').debug, false, 'not named: at --log-level (info)');
    assert.equal(componentLogger('pool'), pool, 'one logger per name');
    setLogLevel('error');
    assert.deepEqual([pool.debug, http.trace, pool.enabled('error'), pool.enabled('warn')], [false, false, true, false]);
  });
});

describe('connection logs: -l debug with http at trace', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  let tlsPort: number;

  before(async () => {
    up = await startUpstream('web');
    const pki = TestPki.create();
    const cert = pki.issue('edge', { sans: ['IP:127.0.0.1'] });
    const tlsL = tlsListener({ name: 'tls', certPath: cert.certPath, keyPath: cert.keyPath, filters: routeAllHcm('tls', 'web') });
    legate = await startLegate({ config: config(up.port, [tlsL]), concurrency: 1, args: ['-l', 'debug', '--component-log-level', 'http:trace'] });
    port = await legate.listenerPort('l');
    tlsPort = await legate.listenerPort('tls');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('one request: accept, head, route, upstream connect and attach, response, end, close', async () => {
    const from = legate.stderr.length;
    const r = await curl([`http://127.0.0.1:${port}/echo`]);
    assert.equal(r.status, 200);
    await legate.waitForLog(/\]\[debug\]\[conn_handler\] listener 'l': filter chain 'filter_chains\[0\]' for the connection from 127\.0\.0\.1:\d+\n/, 10_000, from);
    const accepted = await legate.waitForLog(/\]\[debug\]\[conn_handler\] \[C(\d+)\] new connection from 127\.0\.0\.1:\d+\n/, 10_000, from);
    const c = accepted[1]!;
    const head = await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[http\\] \\[C${c}\\]\\[S(\\d+)\\] request headers complete \\(end_stream=true\\):\\n`), 10_000, from);
    const tag = esc(`[C${c}][S${head[1]}] `);
    await legate.waitForLog(new RegExp(`\\]\\[trace\\]\\[http\\] ${tag}':path', '/echo'\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[trace\\]\\[http\\] ${tag}'user-agent', 'curl/`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[router\\] ${tag}cluster 'web' match for URL '/echo'`), 10_000, from);
    await legate.waitForLog(/\]\[debug\]\[pool\] creating a new connection/, 10_000, from);
    const connecting = await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[connection\\] \\[C(\\d+)\\] connecting to 127\\.0\\.0\\.1:${up.port}\\n`), 10_000, from);
    assert.notEqual(connecting[1], c, 'one id sequence for downstream and upstream connections');
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[connection\\] \\[C${connecting[1]}\\] connected\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[pool\\] \\[C${connecting[1]}\\] attaching to next stream\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[http\\] ${tag}encoding headers via codec \\(end_stream=false\\):\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[trace\\]\\[http\\] ${tag}':status', '200'\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[http\\] ${tag}Codec completed encoding stream\\.\\n`), 10_000, from);
    // curl closed its connection: a remote close (Envoy's close type 0).
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[connection\\] \\[C${c}\\] remote close\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[connection\\] \\[C${c}\\] closing socket: 0\\n`), 10_000, from);
  });

  it('a TLS connection: its handshake is logged with the version and cipher', async () => {
    const from = legate.stderr.length;
    const r = await curl(['-k', `https://127.0.0.1:${tlsPort}/echo`]);
    assert.equal(r.status, 200);
    await legate.waitForLog(/\]\[debug\]\[connection\] \[C\d+\] handshake complete: TLSv1\.[23] \S+\n/, 10_000, from);
  });

  it('a client that resets mid-request: the stream reset and the remote close are logged', async () => {
    const from = legate.stderr.length;
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /delay/1500 HTTP/1.1\r\nhost: x\r\n\r\n');
    const m = await legate.waitForLog(/\[C(\d+)\]\[S(\d+)\] ':path', '\/delay\/1500'\n/, 10_000, from);
    const tag = esc(`[C${m[1]}][S${m[2]}] `);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[router\\] ${tag}(pool ready|cluster 'web')`), 10_000, from);
    sock.resetAndDestroy();
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[http\\] ${tag}stream reset: reset reason: connection termination\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[http\\] ${tag}doEndStream\\(\\) resetting stream\\n`), 10_000, from);
    await legate.waitForLog(new RegExp(`\\]\\[debug\\]\\[connection\\] \\[C${m[1]}\\] closing socket: 0\\n`), 10_000, from);
  });
});

describe('connection logs: -l info', () => {
  let legate: LegateProcess;
  let up: TestUpstream;

  before(async () => {
    up = await startUpstream('web');
    legate = await startLegate({ config: config(up.port), concurrency: 1, args: ['-l', 'info'] });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('writes none of those lines', async () => {
    const port = await legate.listenerPort('l');
    const r = await curl([`http://127.0.0.1:${port}/echo`]);
    assert.equal(r.status, 200);
    await legate.stop();
    assert.doesNotMatch(legate.stderr, /\]\[(debug|trace)\]\[/);
    assert.doesNotMatch(legate.stderr, /new connection from|request headers complete|connecting to|closing socket/);
  });
});
