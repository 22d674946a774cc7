// ConnectionPool against real TCP servers on 127.0.0.1: reuse, LIFO, failures, idle handling, limits, drain and
// close, with every stat checked exactly.

import test from 'node:test';
import assert from 'node:assert/strict';
import { Backend, closedPort, makePool, Requester, stuckListener, until } from './fixtures/pool-harness.ts';

test('a new connection, then reuse of the idle one (synchronously)', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, host, stats } = makePool(backend.port);
  const r1 = new Requester();
  const handle = pool.acquire(r1);
  assert.ok(handle !== null, 'no idle connection: the request waits');
  assert.equal(r1.conn, null);
  assert.equal(host.activeRequests, 1);
  assert.equal(stats.get('upstream_rq_pending_active'), 1);
  await r1.settled;
  const conn = r1.conn!;
  assert.equal(conn.host, host);
  assert.equal(conn.pool, pool);
  assert.equal(stats.get('upstream_rq_pending_active'), 0);
  pool.release(conn, true);
  assert.equal(pool.idleCount, 1);
  assert.equal(host.activeRequests, 0);

  const r2 = new Requester();
  assert.equal(pool.acquire(r2), null, 'handed over at once');
  assert.equal(r2.conn, conn, 'the same connection, before acquire() returned');
  conn.socket.write('ping');
  await until(() => backend.received === 'ping');
  pool.release(conn, true);
  assert.equal(backend.sockets.length, 1);
  assert.deepEqual(stats.nonZero(), { upstream_cx_total: 1, upstream_cx_http1_total: 1, upstream_cx_active: 1 });
  assert.equal(stats.recorded('upstream_cx_connect_ms').length, 1);
  pool.close();
  await until(() => stats.get('upstream_cx_active') === 0);
  assert.deepEqual(stats.nonZero(), {
    upstream_cx_total: 1, upstream_cx_http1_total: 1, upstream_cx_destroy: 1, upstream_cx_destroy_local: 1, upstream_cx_tx_bytes_total: 4,
  });
  assert.equal(stats.recorded('upstream_cx_length_ms').length, 1);
  await backend.close();
});

test('idle connections are reused most recently used first (LIFO)', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool } = makePool(backend.port);
  const a = new Requester();
  const b = new Requester();
  const c = new Requester();
  pool.acquire(a);
  pool.acquire(b);
  pool.acquire(c);
  await Promise.all([a.settled, b.settled, c.settled]);
  assert.equal(new Set([a.conn, b.conn, c.conn]).size, 3, 'one connection per concurrent request');
  pool.release(b.conn!, true);
  pool.release(a.conn!, true);
  pool.release(c.conn!, true);
  const order: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = new Requester();
    pool.acquire(r);
    order.push(r.conn!.id);
  }
  assert.deepEqual(order, [c.conn!.id, a.conn!.id, b.conn!.id]);
  pool.close();
  await backend.close();
});

test('socket events go to the current handler; a close in use is a remote destroy', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, host, stats } = makePool(backend.port);
  const r = new Requester();
  pool.acquire(r);
  await r.settled;
  await backend.accepted(1);
  backend.sockets[0]!.write('hello');
  await until(() => r.data === 'hello');
  backend.sockets[0]!.end('bye');
  await r.closedPromise;
  assert.equal(r.data, 'hellobye');
  assert.equal(r.ended, true);
  assert.equal(r.closed, false);
  assert.equal(r.conn!.handler, null);
  assert.equal(host.activeRequests, 0);
  pool.release(r.conn!, true); // already gone: a no-op
  assert.equal(pool.idleCount, 0);
  assert.deepEqual(stats.nonZero(), {
    upstream_cx_total: 1, upstream_cx_http1_total: 1, upstream_cx_destroy: 1, upstream_cx_destroy_remote: 1, upstream_cx_rx_bytes_total: 8,
  });
  await backend.close();
});

test('connect refused -> connection_failure for every waiter', { timeout: 10_000 }, async () => {
  const { pool, host, stats } = makePool(await closedPort());
  const r1 = new Requester();
  const r2 = new Requester();
  pool.acquire(r1);
  pool.acquire(r2);
  await Promise.all([r1.settled, r2.settled]);
  assert.equal(r1.failure, 'connection_failure');
  assert.equal(r2.failure, 'connection_failure');
  await until(() => stats.get('upstream_cx_active') === 0);
  assert.equal(host.activeRequests, 0);
  // Two waiters, two connects; the first failure fails both waiters, the second has nobody left to fail.
  assert.deepEqual(stats.nonZero(), {
    upstream_cx_total: 2, upstream_cx_http1_total: 2, upstream_cx_connect_fail: 2, upstream_cx_destroy: 2, upstream_cx_destroy_remote: 2,
  });
});

test('connect timeout (a listener that never accepts) -> connect_timeout', { timeout: 10_000 }, async () => {
  const stuck = await stuckListener();
  try {
    const { pool, host, stats } = makePool(stuck.port, { connectTimeoutMs: 200 });
    const r = new Requester();
    pool.acquire(r);
    await r.settled;
    assert.equal(r.failure, 'connect_timeout');
    await until(() => stats.get('upstream_cx_active') === 0);
    assert.equal(host.activeRequests, 0);
    assert.deepEqual(stats.nonZero(), {
      upstream_cx_total: 1, upstream_cx_http1_total: 1, upstream_cx_connect_timeout: 1, upstream_cx_connect_fail: 1,
      upstream_cx_destroy: 1, upstream_cx_destroy_local: 1,
    });
  } finally {
    await stuck.close();
  }
});

test('an idle connection closed by the peer is discarded; the next request gets a new one', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, stats } = makePool(backend.port);
  const r = new Requester();
  pool.acquire(r);
  await r.settled;
  const first = r.conn!;
  pool.release(first, true);
  await backend.accepted(1);
  backend.sockets[0]!.end();
  await until(() => stats.get('upstream_cx_destroy') === 1);
  assert.equal(pool.idleCount, 0);
  assert.equal(stats.get('upstream_cx_destroy_remote'), 1);
  const r2 = new Requester();
  assert.notEqual(pool.acquire(r2), null, 'nothing idle any more');
  await r2.settled;
  assert.notEqual(r2.conn, first);
  pool.close();
  await backend.close();
});

test('an idle connection that receives bytes is discarded as a remote destroy', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, stats } = makePool(backend.port);
  const r = new Requester();
  pool.acquire(r);
  await r.settled;
  pool.release(r.conn!, true);
  await backend.accepted(1);
  backend.sockets[0]!.write('unexpected');
  await until(() => stats.get('upstream_cx_destroy') === 1);
  assert.equal(pool.idleCount, 0);
  assert.equal(stats.get('upstream_cx_destroy_remote'), 1);
  assert.equal(stats.get('upstream_cx_active'), 0);
  await backend.close();
});

test('idle timeout closes idle connections, locally', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, stats } = makePool(backend.port, { idleTimeoutMs: 50 });
  const a = new Requester();
  const b = new Requester();
  pool.acquire(a);
  pool.acquire(b);
  await Promise.all([a.settled, b.settled]);
  pool.release(a.conn!, true);
  pool.release(b.conn!, true);
  await until(() => stats.get('upstream_cx_destroy') === 2);
  assert.equal(pool.idleCount, 0);
  assert.deepEqual(stats.nonZero(), {
    upstream_cx_total: 2, upstream_cx_http1_total: 2, upstream_cx_idle_timeout: 2, upstream_cx_destroy: 2, upstream_cx_destroy_local: 2,
  });
  await backend.close();
});

test('release(conn, false) closes it; max_requests_per_connection retires a connection', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, stats } = makePool(backend.port, { maxRequestsPerConnection: 2 });
  const r = new Requester();
  pool.acquire(r);
  await r.settled;
  pool.release(r.conn!, false);
  await until(() => stats.get('upstream_cx_destroy_local') === 1);
  assert.equal(pool.idleCount, 0);

  const r1 = new Requester();
  pool.acquire(r1);
  await r1.settled;
  pool.release(r1.conn!, true);
  const r2 = new Requester();
  pool.acquire(r2);
  assert.equal(r2.conn, r1.conn, 'second request on the same connection');
  pool.release(r2.conn!, true);
  assert.equal(pool.idleCount, 0, 'two requests served: retired');
  await until(() => stats.get('upstream_cx_destroy_local') === 2);
  await backend.close();
});

test('cancel() of a waiting request: no callback, the connection becomes idle', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, host, stats } = makePool(backend.port);
  const r = new Requester();
  const handle = pool.acquire(r)!;
  handle.cancel();
  handle.cancel();
  assert.equal(host.activeRequests, 0);
  assert.equal(stats.get('upstream_rq_pending_active'), 0);
  await until(() => pool.idleCount === 1);
  assert.equal(r.conn, null);
  assert.equal(r.failure, null);
  pool.close();
  await backend.close();
});

test('limits: max pending -> overflow at once; max connections -> waiters share released connections', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, host, stats } = makePool(backend.port, { maxConnections: 1, maxPendingRequests: 2 });
  const a = new Requester();
  const b = new Requester();
  const c = new Requester();
  pool.acquire(a);
  pool.acquire(b);
  assert.equal(pool.acquire(c), null);
  assert.equal(c.failure, 'overflow', 'answered before acquire() returned');
  assert.equal(stats.get('upstream_rq_pending_overflow'), 1);
  assert.equal(stats.get('upstream_cx_overflow'), 1, 'b could not get a connection of its own');
  assert.equal(pool.connectingConnections, 1);
  await a.settled;
  assert.equal(b.conn, null);
  pool.release(a.conn!, true);
  assert.equal(b.conn, null, 'handed to the waiter on the next tick, not inside release()');
  await b.settled;
  assert.equal(b.conn, a.conn);
  assert.equal(host.activeRequests, 1);
  pool.release(b.conn!, true);
  assert.equal(host.activeRequests, 0);
  assert.equal(stats.get('upstream_cx_total'), 1);
  pool.close();
  await backend.close();
});

test('a closed busy connection makes room for a waiter (max connections)', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, stats } = makePool(backend.port, { maxConnections: 1 });
  const a = new Requester();
  const b = new Requester();
  pool.acquire(a);
  pool.acquire(b);
  await a.settled;
  pool.release(a.conn!, false);
  await b.settled;
  assert.notEqual(b.conn, a.conn);
  assert.equal(b.failure, null);
  assert.equal(stats.get('upstream_cx_total'), 2);
  pool.close();
  await backend.close();
});

test('drain(): idle closes now, busy on release, then onDrained; no new requests', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, stats } = makePool(backend.port);
  const a = new Requester();
  const b = new Requester();
  pool.acquire(a);
  pool.acquire(b);
  await Promise.all([a.settled, b.settled]);
  pool.release(a.conn!, true);
  let drained = 0;
  pool.onDrained = () => drained++;
  pool.drain();
  await until(() => stats.get('upstream_cx_destroy') === 1);
  assert.equal(drained, 0, 'b still uses its connection');
  const late = new Requester();
  assert.equal(pool.acquire(late), null);
  assert.equal(late.failure, 'connection_failure');
  pool.release(b.conn!, true);
  await until(() => drained === 1);
  assert.equal(stats.get('upstream_cx_destroy_local'), 2);
  assert.equal(stats.get('upstream_cx_active'), 0);
  await backend.close();
});

test('close(): waiters fail, busy handlers see the close', { timeout: 10_000 }, async () => {
  const stuck = await stuckListener();
  const backend = await new Backend().listen();
  try {
    const busy = makePool(backend.port);
    const r = new Requester();
    busy.pool.acquire(r);
    await r.settled;
    busy.pool.close();
    await r.closedPromise;
    assert.equal(busy.host.activeRequests, 0);
    assert.equal(busy.stats.get('upstream_cx_destroy_local'), 1);

    const waiting = makePool(stuck.port);
    const w = new Requester();
    waiting.pool.acquire(w);
    waiting.pool.close();
    assert.equal(w.failure, 'connection_failure');
    await until(() => waiting.stats.get('upstream_cx_active') === 0);
    assert.equal(waiting.stats.get('upstream_cx_connect_fail'), 0, 'closing our own pool is not a connect failure');
    assert.equal(waiting.host.activeRequests, 0);
  } finally {
    await stuck.close();
    await backend.close();
  }
});

/** How the backend's side of its first accepted connection ended: 'rst' (ECONNRESET) or 'fin'. */
function endOf(backend: Backend): Promise<'rst' | 'fin'> {
  const s = backend.sockets[0]!;
  return new Promise((resolve) => {
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNRESET' ? 'rst' : 'fin'));
    s.on('end', () => resolve('fin'));
  });
}

test('reset(): an abandoned exchange ends with a RST and never returns to the pool; release(false) with a FIN', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, host, stats } = makePool(backend.port);
  const a = new Requester();
  pool.acquire(a);
  await a.settled;
  await backend.accepted(1);
  a.conn!.socket.write('POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\nhalf');
  await until(() => backend.received.endsWith('half'));
  const ended = endOf(backend);
  pool.reset(a.conn!);
  assert.equal(await ended, 'rst');
  await until(() => stats.get('upstream_cx_active') === 0);
  assert.equal(a.closed, null, 'a reset connection is no longer its requester\'s: no close callback');
  assert.equal(pool.idleCount, 0);
  assert.equal(host.activeRequests, 0);
  assert.equal(stats.get('upstream_cx_destroy_local'), 1);
  pool.reset(a.conn!); // a no-op once closed

  const backend2 = await new Backend().listen();
  const p2 = makePool(backend2.port);
  const b = new Requester();
  p2.pool.acquire(b);
  await b.settled;
  await backend2.accepted(1);
  const ended2 = endOf(backend2);
  p2.pool.release(b.conn!, false);
  assert.equal(await ended2, 'fin');
  await backend.close();
  await backend2.close();
});

test('an exception in a handler resets its request and its connection only; the pool keeps serving', { timeout: 10_000 }, async () => {
  const backend = await new Backend().listen();
  const { pool, host, stats } = makePool(backend.port);
  const r = new Requester();
  r.onUpstreamData = () => {
    throw new Error('handler bug');
  };
  pool.acquire(r);
  await r.settled;
  await backend.accepted(1);
  const ended = endOf(backend);
  backend.sockets[0]!.write('HTTP/1.1 200 OK\r\n\r\n');
  assert.equal(await ended, 'rst');
  assert.equal(r.internalErrors.length, 1);
  assert.equal((r.internalErrors[0] as Error).message, 'handler bug');
  assert.equal(stats.get('internal_error'), 0, 'the request counts it (http.<prefix>.internal_error), not the cluster');
  await until(() => stats.get('upstream_cx_active') === 0);
  assert.equal(host.activeRequests, 0);

  // A requester whose onPoolReady throws: its connection is reset, the next requester gets a new one.
  const bad = new Requester();
  bad.onPoolReady = () => {
    throw new Error('ready bug');
  };
  pool.acquire(bad);
  await until(() => bad.internalErrors.length === 1);
  await until(() => stats.get('upstream_cx_active') === 0);
  const good = new Requester();
  pool.acquire(good);
  await good.settled;
  assert.ok(good.conn !== null);
  pool.release(good.conn!, true);
  assert.equal(pool.idleCount, 1);
  pool.close();
  await backend.close();
});
