// In process: a listener with port_value 0 in two workers (two ListenerManagers). The first binds port 0 and
// reports the port; the second, given it as the primary would, binds the same port with SO_REUSEPORT; a worker
// closing and reopening its socket (stop_accepting_connections) binds that port again, not a new one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessWorker } from '../support/in-process-worker.ts';
import { bootstrap, directResponseHcm } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';

const CONFIG = bootstrap([`  - name: zero
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${directResponseHcm('zero', 'served')}`], []);

async function get(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
  return res.text();
}

test('port_value 0: the first worker picks the port, the next binds it, a reopened socket keeps it', { timeout: 30_000 }, async () => {
  const first = await InProcessWorker.start({ config: CONFIG });
  let second: InProcessWorker | null = null;
  let alone: InProcessWorker | null = null;
  try {
    const reported = first.boundPorts();
    const keys = Object.keys(reported);
    assert.deepEqual(keys, ['127.0.0.1:0/zero'], 'a port-0 listener\'s bind key carries its name');
    const port = reported[keys[0]!]!;
    assert.ok(port > 0);
    assert.equal(first.listenerPort('zero'), port);

    second = await InProcessWorker.start({ config: CONFIG, listenerPorts: reported });
    assert.equal(second.listenerPort('zero'), port, 'the second worker binds the port the first reported');
    // Without the port a worker binds one of its own: what the primary's hand-off prevents.
    alone = await InProcessWorker.start({ config: CONFIG });
    assert.notEqual(alone.listenerPort('zero'), port);

    // Both sockets accept on the port (the kernel spreads new connections over the SO_REUSEPORT group).
    const total = (): number => first.stat('worker_0.downstream_cx_total') + second!.stat('worker_0.downstream_cx_total');
    for (let i = 0; i < 30; i++) assert.equal(await get(port), 'served');
    await waitUntil(() => first.stat('listener.127.0.0.1_0.downstream_cx_total') > 0 && second!.stat('listener.127.0.0.1_0.downstream_cx_total') > 0,
      () => `both workers to accept (${first.stat('listener.127.0.0.1_0.downstream_cx_total')}, ${second!.stat('listener.127.0.0.1_0.downstream_cx_total')}; ${total()})`, 10_000);

    // stop_accepting_connections closes the first worker's socket; cleared, it binds the same port again.
    first.setOverloadStopAccepting(true);
    first.setOverloadStopAccepting(false);
    const before = first.stat('listener.127.0.0.1_0.downstream_cx_total');
    await waitUntil(async () => {
      assert.equal(await get(port), 'served');
      return first.stat('listener.127.0.0.1_0.downstream_cx_total') > before;
    }, () => 'the first worker to accept again on the port', 10_000);
    assert.equal(first.listenerPort('zero'), port);
    assert.deepEqual(first.boundPorts(), reported);
  } finally {
    await first.stop();
    await second?.stop();
    await alone?.stop();
  }
});
