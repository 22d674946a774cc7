// End to end: WebSocket upgrades (HCM upgrade_configs) tunnelled through a real Legate between a real `ws` client
// and server; an upgrade the connection manager does not allow is answered 403 and never reaches the upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';

/** Messages are queued from the start: the first one may arrive in the same read as the 101. */
const inbox = new WeakMap<WebSocket, { queue: Buffer[]; waiters: ((b: Buffer) => void)[] }>();

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const box = { queue: [] as Buffer[], waiters: [] as ((b: Buffer) => void)[] };
    inbox.set(ws, box);
    ws.on('message', (data: Buffer) => {
      const w = box.waiters.shift();
      if (w !== undefined) w(data);
      else box.queue.push(data);
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<Buffer> {
  const box = inbox.get(ws)!;
  const queued = box.queue.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  return new Promise((resolve) => box.waiters.push(resolve));
}

describe('WebSocket', () => {
  let legate: LegateProcess;
  let server: WebSocketServer;
  let upstreamPort: number;
  let wsPort: number;
  let plainPort: number;
  let perRoutePort: number;
  let upgradesSeen = 0;

  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', () => r()));
    upstreamPort = (server.address() as net.AddressInfo).port;
    server.on('connection', (ws, req) => {
      upgradesSeen++;
      ws.send(`hello ${req.url}`);
      ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    });
    const route = [{ match: '{ prefix: "/" }', action: 'route: { cluster: ws_backend }' }];
    const listeners = [
      hcmListener({ name: 'ws', routes: route, hcmExtra: '          upgrade_configs:\n          - upgrade_type: websocket\n' }),
      hcmListener({ name: 'plain', routes: route }),
      // Off for the connection manager, on for one route (Envoy's per-route override).
      hcmListener({
        name: 'perroute',
        hcmExtra: '          upgrade_configs:\n          - { upgrade_type: websocket, enabled: false }\n',
        routes: [
          { match: '{ prefix: "/ws" }', action: 'route: { cluster: ws_backend, upgrade_configs: [{ upgrade_type: websocket }] }' },
          ...route,
        ],
      }),
    ];
    const clusters = [cluster({ name: 'ws_backend', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] })];
    legate = await startLegate({ config: bootstrap(listeners, clusters), concurrency: 2 });
    wsPort = await legate.listenerPort('ws');
    plainPort = await legate.listenerPort('plain');
    perRoutePort = await legate.listenerPort('perroute');
  });

  after(async () => {
    await legate?.stop();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('tunnels an upgraded connection both ways, large messages intact, until the client closes', async () => {
    const ws = await open(`ws://127.0.0.1:${wsPort}/chat?room=1`);
    assert.equal((await nextMessage(ws)).toString(), 'hello /chat?room=1');
    ws.send('ping');
    assert.equal((await nextMessage(ws)).toString(), 'ping');
    const big = crypto.randomBytes(3 * 1024 * 1024);
    ws.send(big);
    const echoed = await nextMessage(ws);
    assert.equal(echoed.length, big.length);
    assert.ok(echoed.equals(big), 'the 3 MiB binary message came back byte for byte');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.close(1000, 'done');
    assert.equal(await closed, 1000);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ws.downstream_cx_upgrades_total'), 1);
    assert.equal(stats.get('cluster.ws_backend.upstream_rq_1xx'), 1);
  });

  it('answers 403 to an upgrade the connection manager does not allow, without reaching the upstream', async () => {
    const before = upgradesSeen;
    await assert.rejects(open(`ws://127.0.0.1:${plainPort}/chat`), /unexpected response 403/);
    assert.equal(upgradesSeen, before);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.plain.downstream_rq_ws_on_non_ws_route'), 1);
  });

  it('route upgrade_configs override the connection manager: on for /ws, off elsewhere', async () => {
    const ws = await open(`ws://127.0.0.1:${perRoutePort}/ws/live`);
    assert.equal((await nextMessage(ws)).toString(), 'hello /ws/live');
    ws.close();
    const before = upgradesSeen;
    await assert.rejects(open(`ws://127.0.0.1:${perRoutePort}/other`), /unexpected response 403/);
    assert.equal(upgradesSeen, before);
  });
});
