// End to end: file descriptors run out (bin/legate under a real `ulimit -n`). Without a configured global limit
// Legate derives one from the fd limit, so past it connections are refused by Legate itself
// (listener.<addr>.downstream_global_cx_overflow) while the admin keeps answering; with a limit configured above
// the fd limit accept() itself fails with EMFILE, and the process (primary, admin, workers) survives it and
// serves again once connections close.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLegate } from '../support/legate-process.ts';
import { bootstrap, directResponseHcm } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

function listener(): string {
  return `  - name: edge
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${directResponseHcm('edge', 'served')}`;
}

const OVERLOAD_HIGH_LIMIT = `overload_manager:
  resource_monitors:
  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 100000
`;

/** Opens `n` idle connections; `closed` counts those the server closed. */
function openIdle(port: number, n: number): { sockets: net.Socket[]; closed: () => number } {
  let closed = 0;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    sockets.push(s);
  }
  return { sockets, closed: () => closed };
}

describe('file descriptor exhaustion', () => {
  it('without a configured limit, connections past the fd budget are refused and counted; the admin answers', async () => {
    const legate = await startLegate({ config: bootstrap([listener()], []), concurrency: 1, fdLimit: 256 });
    const port = await legate.listenerPort('edge');
    try {
      const m = /downstream connections limited to (\d+)/.exec(legate.stderr);
      assert.ok(m !== null, legate.stderr);
      const budget = Number(m[1]);
      assert.ok(budget > 0 && budget < 128);
      const idle = openIdle(port, budget + 50);
      await waitUntil(() => idle.closed() >= 50, () => `closed ${idle.closed()}`);
      const stats = await legate.statsMap();
      assert.equal(stats.get('listener.127.0.0.1_0.downstream_global_cx_overflow'), 50);
      assert.equal(stats.get('listener.127.0.0.1_0.downstream_cx_active'), budget);
      for (const s of idle.sockets) s.destroy();
      await waitUntil(async () => (await legate.statsMap()).get('listener.127.0.0.1_0.downstream_cx_active') === 0, () => 'still active');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
      assert.equal(legate.exitCode, null);
    } finally {
      await legate.stop();
    }
  });

  it('with a limit above the fd limit, EMFILE at accept does not kill the primary; it serves again after', async () => {
    const config = OVERLOAD_HIGH_LIMIT + bootstrap([listener()], []);
    const legate = await startLegate({ config, concurrency: 1, fdLimit: 256 });
    const port = await legate.listenerPort('edge');
    try {
      const idle = openIdle(port, 400);
      // Some were accepted, the rest refused by libuv once descriptors ran out.
      await waitUntil(() => idle.closed() >= 100, () => `closed ${idle.closed()}`);
      // Out of descriptors across the primary's 1 s stats refresh (which used to throw EMFILE and exit).
      await sleep(1500);
      assert.equal(legate.exitCode, null, legate.stderr);
      for (const s of idle.sockets) s.destroy();
      await waitUntil(async () => {
        try {
          return (await legate.statsMap()).get('listener.127.0.0.1_0.downstream_cx_active') === 0;
        } catch {
          return false;
        }
      }, () => 'admin not answering or connections still active');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
      assert.equal(legate.exitCode, null);
    } finally {
      await legate.stop();
    }
  });
});
