// Listeners with `port_value: 0`, as Envoy: the kernel picks one port, every worker's SO_REUSEPORT socket shares it,
// /listeners shows it (text and JSON), and a reload that keeps the listener keeps the port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, directResponseHcm } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';

function listener(name: string, body: string): string {
  return `  - name: ${name}
    stat_prefix: ${name}_stats
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${directResponseHcm(name, body)}`;
}

async function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  // A new connection per request (no keep-alive agent), so the kernel spreads them over the workers' sockets.
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

async function workerCx(lp: LegateProcess, index: number): Promise<number> {
  return (await lp.statsMap()).get(`worker_${index}.downstream_cx_total`) ?? 0;
}

test('port_value 0: one real port shared by every worker, shown by /listeners, kept across a reload', { timeout: 60_000 }, async () => {
  const lp = await startLegate({ config: bootstrap([listener('alpha', 'a1'), listener('beta', 'b1')], []), concurrency: 2 });
  try {
    const ports = await lp.listenerPorts();
    const alpha = ports['alpha']!;
    const beta = ports['beta']!;
    assert.ok(alpha > 0 && beta > 0, `real ports in /listeners?format=json: ${JSON.stringify(ports)}`);
    assert.notEqual(alpha, beta, 'two port-0 listeners get two ports');

    const text = await lp.admin('/listeners');
    assert.match(text.body, new RegExp(`^alpha::127\\.0\\.0\\.1:${alpha}$`, 'm'));
    assert.match(text.body, new RegExp(`^beta::127\\.0\\.0\\.1:${beta}$`, 'm'));
    assert.match(lp.stderr, new RegExp(`listener 'alpha' on 127\\.0\\.0\\.1:${alpha}`));

    // Both workers accept on the same port: with SO_REUSEPORT the kernel spreads new connections over them.
    for (let i = 0; i < 40; i++) assert.deepEqual(await get(alpha), { status: 200, body: 'a1' });
    assert.deepEqual(await get(beta), { status: 200, body: 'b1' });
    await waitUntil(async () => (await workerCx(lp, 0)) > 0 && (await workerCx(lp, 1)) > 0,
      () => 'both workers to accept connections on the one port', 10_000);
    // Several listeners on port 0 tell their stats apart by the listener's stat_prefix, as in Envoy.
    const stats = await lp.statsMap();
    assert.equal(stats.get('listener.alpha_stats.downstream_cx_total'), 40);
    assert.equal(stats.get('listener.beta_stats.downstream_cx_total'), 1);

    // A reload that keeps the listeners keeps their ports (the workers keep their sockets).
    lp.writeConfig(bootstrap([listener('alpha', 'a2'), listener('beta', 'b2'), listener('gamma', 'g1')], []));
    assert.equal(await lp.reload(), true);
    const after = await lp.listenerPorts();
    assert.equal(after['alpha'], alpha);
    assert.equal(after['beta'], beta);
    const gamma = after['gamma']!;
    assert.ok(gamma > 0 && gamma !== alpha && gamma !== beta, `the added listener has a port of its own: ${JSON.stringify(after)}`);
    assert.deepEqual(await get(alpha), { status: 200, body: 'a2' });
    const before = [await workerCx(lp, 0), await workerCx(lp, 1)];
    for (let i = 0; i < 40; i++) assert.deepEqual(await get(gamma), { status: 200, body: 'g1' });
    await waitUntil(async () => (await workerCx(lp, 0)) > before[0]! && (await workerCx(lp, 1)) > before[1]!,
      () => 'both workers to accept connections on the added listener\'s port', 10_000);

    // A listener removed and added back binds afresh.
    lp.writeConfig(bootstrap([listener('alpha', 'a3')], []));
    assert.equal(await lp.reload(), true);
    assert.deepEqual(Object.keys(await lp.listenerPorts()), ['alpha']);
    assert.equal(await lp.listenerPort('alpha'), alpha);
  } finally {
    await lp.stop();
  }
});

test('port_value 0 after a worker is replaced: the replacement binds the same port', { timeout: 60_000 }, async () => {
  const lp = await startLegate({ config: bootstrap([listener('only', 'o1')], []), concurrency: 2 });
  try {
    const port = await lp.listenerPort('only');
    assert.ok(port > 0);
    const res = await lp.admin('/listeners?format=json');
    assert.deepEqual(JSON.parse(res.body), {
      listener_statuses: [{ name: 'only', local_address: { socket_address: { address: '127.0.0.1', port_value: port } } }],
    });
    const from = lp.stderr.length;
    lp.proc.kill('SIGUSR2'); // test hook: worker 0 throws; its replacement replays the config
    await lp.waitForLog(/worker 0: replacement serving/, 10_000, from);
    assert.equal(await lp.listenerPort('only'), port);
    const before = await workerCx(lp, 0);
    for (let i = 0; i < 40; i++) assert.deepEqual(await get(port), { status: 200, body: 'o1' });
    await waitUntil(async () => (await workerCx(lp, 0)) > before, () => 'the replacement worker to accept on the same port', 10_000);
  } finally {
    await lp.stop();
  }
});
