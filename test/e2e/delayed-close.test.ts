// Envoy's delayed close on HTTP/1.1: after a whole, length-delimited response that said `connection: close`,
// Legate sends no FIN of its own; the client closes first (downstream_cx_destroy_remote), or
// delayed_close_timeout closes a client that does not (downstream_cx_destroy_local). A response whose end is the
// end of the connection (HTTP/1.0, no length) is closed at once: only the FIN delimits it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';

interface RawExchange {
  readonly socket: net.Socket;
  text(): string;
  /** Our FIN arrived ('end'). */
  ended(): boolean;
  closed(): boolean;
}

function exchange(port: number, request: string): RawExchange {
  const socket = net.connect(port, '127.0.0.1');
  socket.allowHalfOpen = true;
  let text = '';
  let ended = false;
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('end', () => (ended = true));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write(request);
  return { socket, text: () => text, ended: () => ended, closed: () => closed };
}

describe('delayed close after connection: close', () => {
  let legate: LegateProcess;
  let upstream: http.Server;
  let waiting: number;
  let quick: number;

  before(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/unsized') {
        // No length: chunked to Legate, close-delimited to an HTTP/1.0 client.
        res.write('hello ');
        res.end('unsized');
      } else {
        res.end('hello');
      }
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: up }' }];
    legate = await startLegate({
      config: bootstrap(
        [
          hcmListener({ name: 'waiting', routes, hcmExtra: '          delayed_close_timeout: 30s\n          http_protocol_options: { accept_http_10: true }\n' }),
          hcmListener({ name: 'quick', routes, hcmExtra: '          delayed_close_timeout: 0.3s\n' }),
        ],
        [cluster({ name: 'up', endpoints: [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port }] })],
      ),
      concurrency: 1,
    });
    waiting = await legate.listenerPort('waiting');
    quick = await legate.listenerPort('quick');
  });

  after(async () => {
    await legate?.stop();
    upstream?.close();
  });

  async function stat(name: string): Promise<number> {
    return (await legate.statsMap()).get(name) ?? 0;
  }

  it('waits for the client to close first, sending no FIN before it (destroyed remotely)', async () => {
    const remote = await stat('http.waiting.downstream_cx_destroy_remote');
    const local = await stat('http.waiting.downstream_cx_destroy_local');
    const c = exchange(waiting, 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await waitUntil(() => c.text().endsWith('\r\n\r\nhello'), () => `response: ${JSON.stringify(c.text())}`);
    assert.match(c.text(), /\r\nconnection: close\r\n/i);
    // Legate is waiting for us: our FIN ends the connection, and its own follows.
    assert.equal(c.ended(), false, 'Legate sent its FIN before the client closed');
    c.socket.end();
    await waitUntil(() => c.closed(), () => 'Legate never closed after the client did');
    await waitUntil(async () => (await stat('http.waiting.downstream_cx_destroy_remote')) === remote + 1, () => 'destroy_remote');
    assert.equal(await stat('http.waiting.downstream_cx_destroy_local'), local);
  });

  it('closes a client that does not close after delayed_close_timeout (destroyed locally)', async () => {
    const local = await stat('http.quick.downstream_cx_destroy_local');
    const c = exchange(quick, 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await waitUntil(() => c.ended(), () => 'Legate never closed the connection');
    assert.ok(c.text().endsWith('\r\n\r\nhello'), `response: ${JSON.stringify(c.text())}`);
    c.socket.destroy();
    await waitUntil(async () => (await stat('http.quick.downstream_cx_destroy_local')) === local + 1, () => 'destroy_local');
  });

  it('ends a close-delimited HTTP/1.0 response with its FIN at once (no waiting for the client)', async () => {
    const c = exchange(waiting, 'GET /unsized HTTP/1.0\r\nhost: x\r\n\r\n');
    // With a 30 s delayed close, only an immediate FIN ends this within the wait.
    await waitUntil(() => c.ended(), () => `no FIN after the close-delimited body: ${JSON.stringify(c.text())}`, 10_000);
    assert.ok(c.text().endsWith('\r\n\r\nhello unsized'), `response: ${JSON.stringify(c.text())}`);
    assert.doesNotMatch(c.text(), /content-length|transfer-encoding/i);
    c.socket.destroy();
  });

  it('a keep-alive request is not closed at all', async () => {
    const c = exchange(waiting, 'GET / HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await waitUntil(() => (c.text().match(/hello/g) ?? []).length === 2, () => `responses: ${JSON.stringify(c.text())}`);
    assert.equal(c.ended(), false);
    c.socket.destroy();
  });
});
