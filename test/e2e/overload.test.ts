// End to end: the overload manager (bootstrap overload_manager) and the connection_limit network filter through
// bin/legate. A fixed_heap monitor whose limit is far below any real heap is saturated from its first refresh,
// which drives each action deterministically: stop_accepting_requests (503 "envoy overloaded", OM),
// disable_http_keepalive, reject_incoming_connections, stop_accepting_connections, reduce_timeouts. The
// global_downstream_max_connections monitor is counted across workers in shared memory, and its pressure drives a
// scaled trigger. The admin answers throughout.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, directResponseHcm } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { rawExchange } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';

const HEAP = 'envoy.resource_monitors.fixed_heap';
const CX = 'envoy.resource_monitors.global_downstream_max_connections';

function heapMonitor(maxBytes: number): string {
  return `  - name: ${HEAP}
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
      max_heap_size_bytes: ${maxBytes}
`;
}

function cxMonitor(max: number): string {
  return `  - name: ${CX}
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: ${max}
`;
}

function action(name: string, trigger: string, extra = ''): string {
  return `  - name: envoy.overload_actions.${name}
    triggers:
    - ${trigger}
${extra}`;
}

function overload(monitors: string, actions: string): string {
  return `overload_manager:
  refresh_interval: 0.05s
  resource_monitors:
${monitors}  actions:
${actions}`;
}

/** A listener answering "served"; `hcmExtra`/`preFilter` shape its connection manager and network filters. */
function listener(port: number, opts: { hcmExtra?: string; preFilter?: string } = {}): string {
  let hcm = directResponseHcm('edge', 'served');
  if (opts.hcmExtra !== undefined) hcm = hcm.replace('          stat_prefix: edge\n', `          stat_prefix: edge\n${opts.hcmExtra}`);
  return `  - name: edge
    address:
      socket_address: { address: 127.0.0.1, port_value: ${port} }
    filter_chains:
    - filters:
${opts.preFilter ?? ''}${hcm}`;
}

const saturated = `name: ${HEAP}\n      threshold: { value: 0.5 }`;

async function start(port: number, overloadYaml: string, opts: { hcmExtra?: string; preFilter?: string } = {}): Promise<LegateProcess> {
  return startLegate({ config: overloadYaml + bootstrap([listener(port, opts)], []), concurrency: 2 });
}

async function stat(legate: LegateProcess, name: string): Promise<number | undefined> {
  return (await legate.statsMap()).get(name);
}

/** Resolves once the server closes the connection (true) or after the client gives up (false). */
function connectAndWaitClose(port: number, timeoutMs = 20_000): Promise<{ closed: boolean; error: string }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let error = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closed: false, error });
    }, timeoutMs);
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, error });
    });
  });
}

describe('overload manager', () => {
  it('stop_accepting_requests: 503 envoy overloaded with OM; reduce_timeouts closes idle connections early', async () => {
    const port = await freePort();
    const actions = action('stop_accepting_requests', saturated) + action('reduce_timeouts', saturated, `    typed_config:
      "@type": type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig
      timer_scale_factors:
      - timer: HTTP_DOWNSTREAM_CONNECTION_IDLE
        min_timeout: 0.2s
`);
    const legate = await start(port, overload(heapMonitor(1), actions), {
      hcmExtra: '          common_http_protocol_options: { idle_timeout: 3600s }\n',
    });
    try {
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.stop_accepting_requests.active')) === 1, () => 'action never active');
      const r = await curl(['-H', 'x: 1', `http://127.0.0.1:${port}/`]);
      assert.equal(r.status, 503);
      assert.equal(r.body, 'envoy overloaded');
      assert.equal(await stat(legate, 'http.edge.downstream_rq_overload_close'), 1);
      assert.equal(await stat(legate, 'overload.envoy.overload_actions.stop_accepting_requests.scale_percent'), 100);
      assert.ok(((await stat(legate, `overload.${HEAP}.pressure`)) ?? 0) > 100);
      // An hour's idle_timeout, scaled down to its 0.2 s minimum while the action is saturated.
      const idle = await connectAndWaitClose(port);
      assert.equal(idle.closed, true);
      await waitUntil(async () => (await stat(legate, 'http.edge.downstream_cx_idle_timeout')) === 1, () => 'no idle timeout counted');
    } finally {
      await legate.stop();
    }
  });

  it('disable_http_keepalive: responses carry connection: close', async () => {
    const port = await freePort();
    const legate = await start(port, overload(heapMonitor(1), action('disable_http_keepalive', saturated)));
    try {
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.disable_http_keepalive.active')) === 1, () => 'action never active');
      const r = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(r.data, /^HTTP\/1\.1 200 /);
      assert.match(r.data, /\r\nconnection: close\r\n/i);
      assert.equal(await stat(legate, 'http.edge.downstream_cx_overload_disable_keepalive'), 1);
    } finally {
      await legate.stop();
    }
  });

  it('reject_incoming_connections: new connections are reset and counted; the admin answers', async () => {
    const port = await freePort();
    const legate = await start(port, overload(heapMonitor(1), action('reject_incoming_connections', saturated)));
    try {
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.reject_incoming_connections.active')) === 1, () => 'action never active');
      const c = await connectAndWaitClose(port);
      assert.equal(c.closed, true);
      assert.equal(c.error, 'ECONNRESET');
      assert.equal(await stat(legate, `listener.127.0.0.1_${port}.downstream_cx_overload_reject`), 1);
      assert.equal(await stat(legate, `listener.127.0.0.1_${port}.downstream_cx_total`), 0);
    } finally {
      await legate.stop();
    }
  });

  it('stop_accepting_connections: the listen sockets close (connections refused), and reopen when it clears', async () => {
    const port = await freePort();
    const legate = await start(port, overload(heapMonitor(1), action('stop_accepting_connections', saturated)));
    try {
      await waitUntil(async () => (await connectAndWaitClose(port, 5000)).error === 'ECONNREFUSED', () => 'still accepting');
      assert.equal((await legate.admin('/ready')).status, 200);
      // A reload to a limit the heap is far below clears the action: the listeners accept again.
      const from = legate.stderr.length;
      legate.writeConfig(overload(heapMonitor(1e15), action('stop_accepting_connections', saturated)) + bootstrap([listener(port)], []));
      assert.equal(await legate.reload(), true);
      await legate.waitForLog(/accepting connections again/, 10_000, from);
      await waitUntil(async () => (await curl([`http://127.0.0.1:${port}/`])).body === 'served', () => 'not serving again');
    } finally {
      await legate.stop();
    }
  });

  it('global_downstream_max_connections: counted over every worker; past it connections are refused; its pressure scales a trigger', async () => {
    const port = await freePort();
    const scaled = `name: ${CX}\n      scaled: { scaling_threshold: 0.25, saturation_threshold: 0.75 }`;
    const actions = action('reduce_timeouts', scaled, `    typed_config:
      "@type": type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig
      timer_scale_factors:
      - timer: HTTP_DOWNSTREAM_STREAM_IDLE
        min_scale: { value: 50 }
`);
    const legate = await start(port, overload(cxMonitor(4), actions));
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await waitUntil(async () => (await stat(legate, `listener.127.0.0.1_${port}.downstream_cx_active`)) === 2, () => 'connections not up');
      // 2 of 4: pressure 50 %, halfway between the scaled trigger's thresholds.
      await waitUntil(async () => (await stat(legate, `overload.${CX}.pressure`)) === 50, () => 'pressure not 50');
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.reduce_timeouts.scale_percent')) === 50, () => 'scale not 50');
      assert.equal(await stat(legate, 'overload.envoy.overload_actions.reduce_timeouts.active'), 0);
      for (let i = 0; i < 3; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await waitUntil(async () => (await stat(legate, `listener.127.0.0.1_${port}.downstream_global_cx_overflow`)) === 1, () => 'no overflow counted');
      assert.equal(await stat(legate, `listener.127.0.0.1_${port}.downstream_cx_active`), 4);
      assert.equal((await legate.admin('/ready')).status, 200);
      for (const s of sockets) s.destroy();
      await waitUntil(async () => (await stat(legate, `listener.127.0.0.1_${port}.downstream_cx_active`)) === 0, () => 'connections not closed');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    } finally {
      for (const s of sockets) s.destroy();
      await legate.stop();
    }
  });

  it('a worker that dies gives back the connections it held', async () => {
    const port = await freePort();
    const legate = await startLegate({ config: overload(cxMonitor(2), '') + bootstrap([listener(port)], []), concurrency: 1 });
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await waitUntil(async () => (await stat(legate, `overload.${CX}.pressure`)) === 100, () => 'pressure not 100');
      const from = legate.stderr.length;
      legate.proc.kill('SIGUSR2'); // test hook: worker 0 throws; its connections die with it
      await legate.waitForLog(/worker 0: replacement serving/, 10_000, from);
      await waitUntil(async () => (await stat(legate, `overload.${CX}.pressure`)) === 0, () => 'connections of the dead worker still counted');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    } finally {
      for (const s of sockets) s.destroy();
      await legate.stop();
    }
  });
});

describe('connection_limit network filter', () => {
  it('limits a filter chain across workers, counts limited_connections, and frees slots on close', async () => {
    const port = await freePort();
    const preFilter = `      - name: envoy.filters.network.connection_limit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit
          stat_prefix: edge_limit
          max_connections: 2
          delay: 0.05s
`;
    const legate = await startLegate({ config: bootstrap([listener(port, { preFilter })], []), concurrency: 2 });
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await waitUntil(async () => (await stat(legate, 'connection_limit.edge_limit.active_connections')) === 2, () => 'not 2 active');
      const third = await connectAndWaitClose(port);
      assert.equal(third.closed, true);
      assert.equal(await stat(legate, 'connection_limit.edge_limit.limited_connections'), 1);
      sockets[0]!.destroy();
      await waitUntil(async () => (await stat(legate, 'connection_limit.edge_limit.active_connections')) === 1, () => 'slot not freed');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    } finally {
      for (const s of sockets) s.destroy();
      await legate.stop();
    }
  });
});
