// End to end: the overload manager (bootstrap overload_manager) and the connection_limit network filter through
// bin/legate. A fixed_heap monitor whose limit is far below any real heap is saturated from its first refresh,
// which drives each action deterministically: stop_accepting_requests (503 "envoy overloaded", OM),
// disable_http_keepalive, reject_incoming_connections, stop_accepting_connections, reduce_timeouts. The
// global_downstream_max_connections monitor is counted across workers in shared memory, and its pressure drives a
// scaled trigger. The admin answers throughout. reset_high_memory_stream resets the streams that hold the most
// bytes (a download nobody reads, an upload nobody takes) and no other; shrink_heap's periodic GC is counted.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, directResponseHcm, hcmListener } from '../support/config-builder.ts';
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
function listener(opts: { hcmExtra?: string; preFilter?: string } = {}): string {
  let hcm = directResponseHcm('edge', 'served');
  if (opts.hcmExtra !== undefined) hcm = hcm.replace('          stat_prefix: edge\n', `          stat_prefix: edge\n${opts.hcmExtra}`);
  return `  - name: edge
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${opts.preFilter ?? ''}${hcm}`;
}

const saturated = `name: ${HEAP}\n      threshold: { value: 0.5 }`;

async function start(overloadYaml: string, opts: { hcmExtra?: string; preFilter?: string } = {}): Promise<LegateProcess> {
  return startLegate({ config: overloadYaml + bootstrap([listener(opts)], []), concurrency: 2 });
}

/**
 * Runs `fn` with the Legate `starting` resolves to, its 'edge' listener's port and a list for the client sockets
 * `fn` opens; after it, destroys those sockets and stops Legate.
 */
async function withLegate(starting: Promise<LegateProcess>, fn: (legate: LegateProcess, port: number, sockets: net.Socket[]) => Promise<void>): Promise<void> {
  const legate = await starting;
  const sockets: net.Socket[] = [];
  try {
    await fn(legate, await legate.listenerPort('edge'), sockets);
  } finally {
    for (const s of sockets) s.destroy();
    await legate.stop();
  }
}

/** Opens `n` connections to `port` (errors ignored), kept in `sockets`. */
function connectMany(port: number, n: number, sockets: net.Socket[]): void {
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    sockets.push(s);
  }
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
    const actions = action('stop_accepting_requests', saturated) + action('reduce_timeouts', saturated, `    typed_config:
      "@type": type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig
      timer_scale_factors:
      - timer: HTTP_DOWNSTREAM_CONNECTION_IDLE
        min_timeout: 0.2s
`);
    await withLegate(start(overload(heapMonitor(1), actions), {
      hcmExtra: '          common_http_protocol_options: { idle_timeout: 3600s }\n',
    }), async (legate, port) => {
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
    });
  });

  it('disable_http_keepalive: responses carry connection: close', async () => {
    await withLegate(start(overload(heapMonitor(1), action('disable_http_keepalive', saturated))), async (legate, port) => {
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.disable_http_keepalive.active')) === 1, () => 'action never active');
      const r = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(r.data, /^HTTP\/1\.1 200 /);
      assert.match(r.data, /\r\nconnection: close\r\n/i);
      assert.equal(await stat(legate, 'http.edge.downstream_cx_overload_disable_keepalive'), 1);
    });
  });

  it('reject_incoming_connections: new connections are reset and counted; the admin answers', async () => {
    await withLegate(start(overload(heapMonitor(1), action('reject_incoming_connections', saturated))), async (legate, port) => {
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.reject_incoming_connections.active')) === 1, () => 'action never active');
      const c = await connectAndWaitClose(port);
      assert.equal(c.closed, true);
      assert.equal(c.error, 'ECONNRESET');
      assert.equal(await stat(legate, 'listener.127.0.0.1_0.downstream_cx_overload_reject'), 1);
      assert.equal(await stat(legate, 'listener.127.0.0.1_0.downstream_cx_total'), 0);
    });
  });

  it('stop_accepting_connections: the listen sockets close (connections refused), and reopen when it clears', async () => {
    await withLegate(start(overload(heapMonitor(1), action('stop_accepting_connections', saturated))), async (legate, port) => {
      await waitUntil(async () => (await connectAndWaitClose(port, 5000)).error === 'ECONNREFUSED', () => 'still accepting');
      assert.equal((await legate.admin('/ready')).status, 200);
      // A reload to a limit the heap is far below clears the action: the listeners accept again.
      const from = legate.stderr.length;
      legate.writeConfig(overload(heapMonitor(1e15), action('stop_accepting_connections', saturated)) + bootstrap([listener()], []));
      assert.equal(await legate.reload(), true);
      await legate.waitForLog(/accepting connections again/, 10_000, from);
      await waitUntil(async () => (await curl([`http://127.0.0.1:${port}/`])).body === 'served', () => 'not serving again');
    });
  });

  it('global_downstream_max_connections: counted over every worker; past it connections are refused; its pressure scales a trigger', async () => {
    const scaled = `name: ${CX}\n      scaled: { scaling_threshold: 0.25, saturation_threshold: 0.75 }`;
    const actions = action('reduce_timeouts', scaled, `    typed_config:
      "@type": type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig
      timer_scale_factors:
      - timer: HTTP_DOWNSTREAM_STREAM_IDLE
        min_scale: { value: 50 }
`);
    await withLegate(start(overload(cxMonitor(4), actions)), async (legate, port, sockets) => {
      connectMany(port, 2, sockets);
      await waitUntil(async () => (await stat(legate, 'listener.127.0.0.1_0.downstream_cx_active')) === 2, () => 'connections not up');
      // 2 of 4: pressure 50 %, halfway between the scaled trigger's thresholds.
      await waitUntil(async () => (await stat(legate, `overload.${CX}.pressure`)) === 50, () => 'pressure not 50');
      await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.reduce_timeouts.scale_percent')) === 50, () => 'scale not 50');
      assert.equal(await stat(legate, 'overload.envoy.overload_actions.reduce_timeouts.active'), 0);
      connectMany(port, 3, sockets);
      await waitUntil(async () => (await stat(legate, 'listener.127.0.0.1_0.downstream_global_cx_overflow')) === 1, () => 'no overflow counted');
      assert.equal(await stat(legate, 'listener.127.0.0.1_0.downstream_cx_active'), 4);
      assert.equal((await legate.admin('/ready')).status, 200);
      for (const s of sockets) s.destroy();
      await waitUntil(async () => (await stat(legate, 'listener.127.0.0.1_0.downstream_cx_active')) === 0, () => 'connections not closed');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    });
  });

  it('a worker that dies gives back the connections it held', async () => {
    await withLegate(startLegate({ config: overload(cxMonitor(2), '') + bootstrap([listener()], []), concurrency: 1 }), async (legate, port, sockets) => {
      connectMany(port, 2, sockets);
      await waitUntil(async () => (await stat(legate, `overload.${CX}.pressure`)) === 100, () => 'pressure not 100');
      const from = legate.stderr.length;
      legate.proc.kill('SIGUSR2'); // test hook: worker 0 throws; its connections die with it
      await legate.waitForLog(/worker 0: replacement serving/, 10_000, from);
      await waitUntil(async () => (await stat(legate, `overload.${CX}.pressure`)) === 0, () => 'connections of the dead worker still counted');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    });
  });
});

describe('connection_limit network filter', () => {
  it('limits a filter chain across workers, counts limited_connections, and frees slots on close', async () => {
    const preFilter = `      - name: envoy.filters.network.connection_limit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit
          stat_prefix: edge_limit
          max_connections: 2
          delay: 0.05s
`;
    await withLegate(startLegate({ config: bootstrap([listener({ preFilter })], []), concurrency: 2 }), async (legate, port, sockets) => {
      connectMany(port, 2, sockets);
      await waitUntil(async () => (await stat(legate, 'connection_limit.edge_limit.active_connections')) === 2, () => 'not 2 active');
      const third = await connectAndWaitClose(port);
      assert.equal(third.closed, true);
      assert.equal(await stat(legate, 'connection_limit.edge_limit.limited_connections'), 1);
      sockets[0]!.destroy();
      await waitUntil(async () => (await stat(legate, 'connection_limit.edge_limit.active_connections')) === 1, () => 'slot not freed');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    });
  });
});

/**
 * An HTTP/1.1 upstream for reset_high_memory_stream: /endless answers a body that never ends (written as fast as the
 * connection takes it), /sink reads the request head and never the body nor answers, anything else is 200 "small".
 */
class MemoryHungryUpstream {
  readonly server: http.Server;
  port = 0;
  /** /sink requests whose connection Legate has closed (seen once the sink reads again: see readSinks). */
  sinksClosed = 0;
  sinksSeen = 0;
  private readonly sinks: http.IncomingMessage[] = [];

  constructor() {
    this.server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => {
      res.on('error', () => undefined);
      req.on('error', () => undefined);
      if (req.url === '/endless') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 'e');
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        pump();
      } else if (req.url === '/sink') {
        this.sinksSeen++;
        this.sinks.push(req);
        req.pause();
        req.socket.on('close', () => this.sinksClosed++);
      } else {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('small');
        });
      }
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The sinks read again (a socket that does not read does not see its peer close). */
  readSinks(): void {
    for (const req of this.sinks) req.resume();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const RESET_COUNT = 'envoy.overload_actions.reset_high_memory_stream.count';

/**
 * Legate routing to `upstreamPort` with reset_high_memory_stream saturated from the start (a fixed_heap limit of one
 * byte) and buffer_factory_config's smallest minimum (2^10): any stream holding 1 KiB or more is reset, a stream
 * whose bytes all went out holds none. Access log: path, response flags, details.
 */
async function startResetting(upstreamPort: number, accessLog: string): Promise<LegateProcess> {
  const om = `overload_manager:
  refresh_interval: 0.05s
  buffer_factory_config: { minimum_account_to_track_power_of_two: 10 }
  resource_monitors:
${heapMonitor(1)}  actions:
${action('reset_high_memory_stream', saturated)}`;
  const listenerYaml = hcmListener({
    name: 'edge',
    routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }],
    hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${accessLog}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n"
`,
  });
  const legate = await startLegate({ config: om + bootstrap([listenerYaml], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: upstreamPort }] })]), concurrency: 2 });
  await waitUntil(async () => (await stat(legate, 'overload.envoy.overload_actions.reset_high_memory_stream.active')) === 1, () => 'action never active');
  return legate;
}

function readLog(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** What a reset_high_memory_stream test gets: the upstream, Legate in front of it, its port and access log. */
interface Resetting {
  upstream: MemoryHungryUpstream;
  legate: LegateProcess;
  port: number;
  accessLog: string;
}

/** Runs `fn` against a MemoryHungryUpstream and a Legate started by startResetting; stops both after it. */
async function withResettingLegate(fn: (r: Resetting) => Promise<void>): Promise<void> {
  const upstream = await new MemoryHungryUpstream().listen();
  try {
    const accessLog = path.join(tempDir(), 'access.log');
    await withLegate(startResetting(upstream.port, accessLog), (legate, port) => fn({ upstream, legate, port, accessLog }));
  } finally {
    await upstream.close();
  }
}

describe('reset_high_memory_stream', () => {
  it('HTTP/1.1: a download the client does not read is reset (its connection closed), flag OM; a small request is served', () => withResettingLegate(async ({ legate, port, accessLog }) => {
    const client = net.connect(port, '127.0.0.1');
    try {
      assert.equal(await stat(legate, RESET_COUNT), 0);
      // The client asks for an endless body and reads nothing: Legate's buffers towards it fill.
      client.on('error', () => undefined);
      client.pause();
      client.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n');
      const small = await curl([`http://127.0.0.1:${port}/small`]);
      assert.equal(small.status, 200);
      assert.equal(small.body, 'small');
      await waitUntil(async () => (await stat(legate, RESET_COUNT)) === 1, () => 'the download was never reset');
      // Reading now, the client gets what was already in flight, then the end of the connection.
      let received = 0;
      let closed = false;
      client.on('close', () => (closed = true));
      client.on('data', (d: Buffer) => (received += d.length));
      client.resume();
      await waitUntil(() => closed, () => `the client connection is still open (${received} bytes read)`);
      assert.ok(received > 0);
      assert.equal(await stat(legate, 'http.edge.downstream_rq_rx_reset'), 1);
      await waitUntil(() => /^\/endless OM overload$/m.test(readLog(accessLog)), () => `access log: ${readLog(accessLog)}`);
      await waitUntil(() => /^\/small - via_upstream$/m.test(readLog(accessLog)), () => `access log: ${readLog(accessLog)}`);
      assert.equal((await curl([`http://127.0.0.1:${port}/small`])).body, 'small');
      assert.equal(await stat(legate, RESET_COUNT), 1);
    } finally {
      client.destroy();
    }
  }));

  it('HTTP/1.1: an upload to an upstream that does not read is reset, and so is its upstream connection', () => withResettingLegate(async ({ upstream, legate, port, accessLog }) => {
    const client = net.connect(port, '127.0.0.1');
    try {
      let clientClosed = false;
      client.on('error', () => undefined);
      client.on('close', () => (clientClosed = true));
      client.write('POST /sink HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n');
      // The request reaches the upstream first: what fills up is then the upstream connection's write queue (a
      // flood sent at once can be reset while the upstream connection is still being made, holding nothing there).
      await waitUntil(() => upstream.sinksSeen === 1, () => 'the upstream never saw the request head');
      const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'u'), Buffer.from('\r\n')]);
      const pump = (): void => {
        while (!client.destroyed && client.write(chunk));
      };
      client.on('drain', pump);
      pump();
      assert.equal((await curl([`http://127.0.0.1:${port}/small`])).body, 'small');
      await waitUntil(async () => (await stat(legate, RESET_COUNT)) === 1, () => 'the upload was never reset');
      await waitUntil(() => clientClosed, () => 'the client connection is still open');
      upstream.readSinks();
      await waitUntil(() => upstream.sinksClosed === 1, () => 'the upstream connection is still open');
      await waitUntil(() => /^\/sink OM overload$/m.test(readLog(accessLog)), () => `access log: ${readLog(accessLog)}`);
      assert.equal((await curl([`http://127.0.0.1:${port}/small`])).body, 'small');
    } finally {
      client.destroy();
    }
  }));

  it('HTTP/2: only the stream that holds the bytes is reset (RST_STREAM); the connection serves on', () => withResettingLegate(async ({ legate, port, accessLog }) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    const get = (p: string): Promise<string> => new Promise((resolve, reject) => {
      const req = session.request({ ':path': p });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve(body));
      req.on('error', reject);
      // After 'end' this changes nothing; without it (a reset, no answer in 10 s) the request fails.
      req.on('close', () => reject(new Error(`${p}: stream closed (RST_STREAM ${req.rstCode})`)));
      req.setTimeout(10_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    });
    try {
      // A connection window big enough that the stuck stream cannot starve the others of it.
      let connected = false;
      session.once('connect', () => (connected = true));
      await waitUntil(() => connected, () => 'no HTTP/2 session');
      session.setLocalWindowSize(8 << 20);
      // Never read: its stream window fills, then Legate's codec queues its data.
      const big = session.request({ ':path': '/endless' });
      big.on('error', () => undefined);
      let bigRstCode = -1;
      big.on('close', () => (bigRstCode = big.rstCode));
      assert.equal(await get('/small'), 'small');
      await waitUntil(async () => (await stat(legate, RESET_COUNT)) === 1, () => 'the stream was never reset');
      await waitUntil(() => bigRstCode >= 0, () => 'the stream is still open');
      assert.equal(bigRstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
      assert.equal(await get('/small'), 'small');
      assert.equal(session.destroyed, false);
      assert.equal(await stat(legate, 'http.edge.downstream_cx_http2_active'), 1);
      await waitUntil(() => /^\/endless OM overload$/m.test(readLog(accessLog)), () => `access log: ${readLog(accessLog)}`);
    } finally {
      session.destroy();
    }
  }));
});

describe('shrink_heap', () => {
  it('while saturated, every thread runs a full GC each interval (10 s; shortened by a test hook), counted in shrink_count', async () => {
    await withLegate(startLegate({
      config: overload(heapMonitor(1), action('shrink_heap', saturated)) + bootstrap([listener()], []),
      concurrency: 2,
      env: { LEGATE_TEST_SHRINK_HEAP_INTERVAL_MS: '300' },
    }), async (legate, port) => {
      await waitUntil(async () => ((await stat(legate, 'overload.envoy.overload_actions.shrink_heap.shrink_count')) ?? 0) >= 2, () => 'no shrink counted');
      assert.equal(await stat(legate, 'overload.envoy.overload_actions.shrink_heap.active'), 1);
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
    });
  });
});
