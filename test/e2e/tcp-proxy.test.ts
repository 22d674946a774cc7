// End to end: envoy.filters.network.tcp_proxy and filter chain selection through a real Legate, with real TCP
// peers: an echo server (large transfers both ways, checksums, backpressure), half-close in both directions,
// refused upstreams (UF,URX), connect retries, idle timeout, weighted clusters, a client reset passed on, access
// logs, and filter_chain_match on destination_port and source_prefix_ranges (clients bind 127.0.0.2 / 127.0.0.3).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { startLegate, freePort, tempDir, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, directResponseHcm } from '../support/config-builder.ts';

// ---- peers ----

interface Peer {
  port: number;
  server: net.Server;
  close(): Promise<void>;
}

async function listenPeer(handler: (s: net.Socket) => void, allowHalfOpen = false): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Echoes every byte; a FIN from the client is answered with a FIN once everything is echoed. */
const echoPeer = (): Promise<Peer> => listenPeer((s) => s.pipe(s), true);

/** Writes its name and closes: tells which cluster a connection reached. */
const bannerPeer = (name: string): Promise<Peer> => listenPeer((s) => s.end(name));

// ---- clients ----

interface Exchange {
  received: Buffer;
  /** The proxy sent a FIN (as opposed to only closing/resetting). */
  ended: boolean;
}

/** Connects, sends `data` then a FIN, and collects everything until the connection closes. */
function exchange(port: number, data: Buffer | string, localAddress?: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const c = net.connect({ host: '127.0.0.1', port, localAddress }, () => c.end(data));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      ended = true;
    });
    c.on('error', () => {});
    c.on('close', () => resolve({ received: Buffer.concat(chunks), ended }));
    c.setTimeout(30_000, () => reject(new Error(`no close from 127.0.0.1:${port}`)));
  });
}

function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  // Bounded so a broken proxy fails with a message instead of hanging; nothing here asserts how long it took.
  for (let i = 0; i < 400; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function tcpProxyFilter(statPrefix: string, body: string): string {
  return `      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${statPrefix}
${body}`;
}

function accessLog(file: string, format: string, indent: string): string {
  return `${indent}access_log:
${indent}- name: envoy.access_loggers.file
${indent}  typed_config:
${indent}    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
${indent}    path: ${file}
${indent}    log_format:
${indent}      text_format_source:
${indent}        inline_string: "${format}\\n"
`;
}

/** A listener with one tcp_proxy chain. */
function tcpListener(name: string, port: number, proxyBody: string): string {
  return `  - name: ${name}
    address:
      socket_address: { address: 127.0.0.1, port_value: ${port} }
    filter_chains:
    - filters:
${tcpProxyFilter(name, proxyBody)}`;
}

const LOG_FORMAT = '%UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESPONSE_FLAGS% %PROTOCOL% %UPSTREAM_TRANSPORT_FAILURE_REASON% %UPSTREAM_REQUEST_ATTEMPT_COUNT%';

describe('tcp_proxy', () => {
  let legate: LegateProcess;
  let echo: Peer;
  let bannerA: Peer;
  let bannerB: Peer;
  let two: Peer;
  let portChain: Peer;
  let other: Peer;
  let halfCloser: Peer;
  let counter: Peer;
  let slow: Peer;
  let slowSockets: net.Socket[];
  let halfCloserReceived: number[];
  let deadPort: number;
  const ports: Record<string, number> = {};
  let logFile: string;

  before(async () => {
    echo = await echoPeer();
    bannerA = await bannerPeer('a');
    bannerB = await bannerPeer('b');
    two = await bannerPeer('two');
    portChain = await bannerPeer('port');
    other = await bannerPeer('other');
    halfCloserReceived = [];
    // Sends a greeting and its FIN first, then keeps reading what the client sends after that.
    halfCloser = await listenPeer((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => {
        n += d.length;
      });
      s.on('end', () => halfCloserReceived.push(n));
      s.end('hello');
    }, true);
    // Answers only once the client has sent its FIN: how many bytes it got.
    counter = await listenPeer((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => {
        n += d.length;
      });
      s.on('end', () => s.end(`got ${n}`));
    }, true);
    slowSockets = [];
    // Does not read until told to: the upstream side backs up.
    slow = await listenPeer((s) => {
      s.pause();
      slowSockets.push(s);
    }, true);
    deadPort = await unusedPort();
    // These two match on their own port (destination_port), so the config must name it before Legate binds it: they
    // keep a port picked beforehand (freePort, racy). Every other listener binds port 0 and is read back below.
    for (const n of ['chains', 'nomatch']) ports[n] = await freePort();
    logFile = path.join(tempDir(), 'tcp.log');
    const log = (prefix: string): string => accessLog(logFile, `${prefix} ${LOG_FORMAT}`, '          ');
    const chainsPort = ports['chains']!;
    const listeners = [
      tcpListener('echo', 0, `          cluster: echo\n${log('echo')}`),
      tcpListener('bp', 0, '          cluster: echo_bp\n'),
      tcpListener('refused', 0, `          cluster: dead\n${log('refused')}`),
      tcpListener('retry', 0, `          cluster: half_dead\n          max_connect_attempts: 2\n${log('retry')}`),
      tcpListener('idle', 0, '          cluster: echo\n          idle_timeout: 0.3s\n'),
      tcpListener('maxdur', 0, '          cluster: echo\n          max_downstream_connection_duration: 0.4s\n'),
      tcpListener('weighted', 0, `          weighted_clusters:
            clusters:
            - { name: banner_a, weight: 1 }
            - { name: banner_b, weight: 3 }
`),
      tcpListener('halfclose', 0, '          cluster: half_closer\n'),
      tcpListener('counter', 0, '          cluster: counter\n'),
      tcpListener('flush', 0, '          cluster: slow\n'),
      tcpListener('noroute', 0, '          cluster: not_defined\n'),
      // Several chains on one listener: destination port first, then source IP; an HTTP chain among them.
      `  - name: chains
    address:
      socket_address: { address: 127.0.0.1, port_value: ${chainsPort} }
    filter_chains:
    - name: from-two
      filter_chain_match:
        destination_port: ${chainsPort}
        source_prefix_ranges: [{ address_prefix: 127.0.0.2, prefix_len: 32 }]
      filters:
${tcpProxyFilter('from_two', '          cluster: two\n')}    - name: port
      filter_chain_match: { destination_port: ${chainsPort} }
      filters:
${tcpProxyFilter('port', '          cluster: port\n')}    - name: other-port
      filter_chain_match: { destination_port: ${chainsPort === 65535 ? 1 : chainsPort + 1} }
      filters:
${tcpProxyFilter('other', '          cluster: other\n')}    - name: http
      filter_chain_match:
        destination_port: ${chainsPort}
        source_prefix_ranges: [{ address_prefix: 127.0.0.3, prefix_len: 32 }]
      filters:
${directResponseHcm('chains_http', 'hcm')}`,
      // Only a chain for another port and no default chain: every connection is closed.
      `  - name: nomatch
    address:
      socket_address: { address: 127.0.0.1, port_value: ${ports['nomatch']} }
${accessLog(logFile, 'nomatch %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %DOWNSTREAM_LOCAL_ADDRESS%', '    ')}    filter_chains:
    - filter_chain_match: { destination_port: ${ports['nomatch'] === 65535 ? 1 : ports['nomatch']! + 1} }
      filters:
${tcpProxyFilter('nomatch', '          cluster: echo\n')}`,
    ];
    const ep = (p: Peer | number): { address: string; port: number } => ({ address: '127.0.0.1', port: typeof p === 'number' ? p : p.port });
    const clusters = [
      cluster({ name: 'echo', endpoints: [ep(echo)] }),
      cluster({ name: 'echo_bp', endpoints: [ep(echo)] }),
      cluster({ name: 'dead', endpoints: [ep(deadPort)] }),
      cluster({ name: 'half_dead', endpoints: [ep(deadPort), ep(echo)] }),
      cluster({ name: 'banner_a', endpoints: [ep(bannerA)] }),
      cluster({ name: 'banner_b', endpoints: [ep(bannerB)] }),
      cluster({ name: 'half_closer', endpoints: [ep(halfCloser)] }),
      cluster({ name: 'counter', endpoints: [ep(counter)] }),
      cluster({ name: 'slow', endpoints: [ep(slow)], extra: '    per_connection_buffer_limit_bytes: 67108864\n' }),
      cluster({ name: 'two', endpoints: [ep(two)] }),
      cluster({ name: 'port', endpoints: [ep(portChain)] }),
      cluster({ name: 'other', endpoints: [ep(other)] }),
    ];
    legate = await startLegate({ config: bootstrap(listeners, clusters), concurrency: 1 });
    for (const n of ['echo', 'bp', 'refused', 'retry', 'idle', 'maxdur', 'weighted', 'halfclose', 'counter', 'flush', 'noroute']) {
      ports[n] = await legate.listenerPort(n);
    }
  });

  after(async () => {
    await legate?.stop();
    for (const p of [echo, bannerA, bannerB, two, portChain, other, halfCloser, counter, slow]) await p?.close();
  });

  function logLines(prefix: string): string[] {
    if (!fs.existsSync(logFile)) return [];
    return fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith(`${prefix} `));
  }

  it('warns at start-up about a tcp_proxy cluster that does not exist', () => {
    assert.match(legate.stderr, /tcp_proxy names cluster 'not_defined', which is not defined/);
  });

  it('carries several MiB both ways intact, on several connections at once, and logs each session', async () => {
    const payloads = [0, 1, 2, 3].map((i) => crypto.randomBytes(6 * 1024 * 1024 + i * 4099));
    const results = await Promise.all(payloads.map((p) => exchange(ports['echo']!, p)));
    results.forEach((r, i) => {
      assert.equal(r.received.length, payloads[i]!.length);
      assert.equal(sha256(r.received), sha256(payloads[i]!), `connection ${i} echoed intact`);
      assert.equal(r.ended, true, 'the echo FIN is forwarded');
    });
    const total = payloads.reduce((s, p) => s + p.length, 0);
    const stats = await legate.statsMap();
    assert.equal(stats.get('tcp.echo.downstream_cx_total'), 4);
    assert.equal(stats.get('tcp.echo.downstream_cx_rx_bytes_total'), total);
    assert.equal(stats.get('tcp.echo.downstream_cx_tx_bytes_total'), total);
    assert.equal(stats.get('cluster.echo.upstream_cx_total'), 4);
    assert.equal(stats.get('cluster.echo.upstream_cx_tx_bytes_total'), total);
    assert.equal(stats.get('cluster.echo.upstream_cx_rx_bytes_total'), total);
    const lines = await until('4 echo log lines', () => (logLines('echo').length >= 4 ? logLines('echo') : undefined));
    const sizes = payloads.map((p) => p.length).sort();
    const logged: number[] = [];
    for (const line of lines) {
      const [, clusterName, host, rx, tx, duration, flags, protocol, reason] = line.split(' ');
      assert.equal(clusterName, 'echo');
      assert.equal(host, `127.0.0.1:${echo.port}`);
      assert.equal(rx, tx);
      logged.push(Number(rx));
      assert.match(duration!, /^\d+$/);
      assert.equal(flags, '-');
      assert.equal(protocol, '-');
      assert.equal(reason, '-');
    }
    assert.deepEqual(logged.sort(), sizes);
  });

  it('applies backpressure both ways: a client that does not read pauses the upstream, and then the client', async () => {
    const payload = crypto.randomBytes(48 * 1024 * 1024);
    const chunks: Buffer[] = [];
    const c = net.connect({ host: '127.0.0.1', port: ports['bp']! });
    c.pause();
    c.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise<void>((r) => c.on('close', () => r()));
    c.on('connect', () => c.end(payload));
    const paused = await until('both directions paused', async () => {
      const s = await legate.statsMap();
      const down = s.get('tcp.bp.downstream_flow_control_paused_reading_total') ?? 0;
      const up = s.get('cluster.echo_bp.upstream_flow_control_paused_reading_total') ?? 0;
      return down >= 1 && up >= 1 ? s : undefined;
    });
    assert.ok(paused.get('tcp.bp.downstream_cx_rx_bytes_total')! < payload.length, 'the client was not read to the end while paused');
    c.resume();
    await closed;
    const received = Buffer.concat(chunks);
    assert.equal(sha256(received), sha256(payload));
    const s = await legate.statsMap();
    assert.ok(s.get('tcp.bp.downstream_flow_control_resumed_reading_total')! >= 1);
    assert.ok(s.get('cluster.echo_bp.upstream_flow_control_resumed_reading_total')! >= 1);
  });

  it('half-close from the client: its FIN reaches the upstream, which still answers', async () => {
    const r = await exchange(ports['counter']!, Buffer.alloc(300_000, 7));
    assert.equal(r.received.toString(), 'got 300000');
    assert.equal(r.ended, true);
  });

  it('half-close from the upstream: its FIN reaches the client, which can still send', async () => {
    const before = halfCloserReceived.length;
    const got = await new Promise<{ data: string; sawEnd: boolean }>((resolve) => {
      let data = '';
      let sawEnd = false;
      const c = net.connect({ host: '127.0.0.1', port: ports['halfclose']!, allowHalfOpen: true });
      c.setEncoding('utf8');
      c.on('data', (d: string) => {
        data += d;
      });
      c.on('end', () => {
        sawEnd = true;
        // Our side is still open: send, then close it.
        c.end(Buffer.alloc(12_345, 1));
      });
      c.on('close', () => resolve({ data, sawEnd }));
    });
    assert.equal(got.data, 'hello');
    assert.equal(got.sawEnd, true);
    const received = await until('the upstream to see the client FIN', () => halfCloserReceived[before]);
    assert.equal(received, 12_345, 'bytes sent after the upstream FIN arrived');
  });

  it('closes the client when the upstream refuses, with UF,URX and upstream_cx_connect_fail', async () => {
    const r = await exchange(ports['refused']!, 'anyone?');
    assert.equal(r.received.length, 0);
    const s = await legate.statsMap();
    assert.equal(s.get('cluster.dead.upstream_cx_connect_fail'), 1);
    assert.equal(s.get('cluster.dead.upstream_cx_connect_attempts_exceeded'), 1);
    assert.equal(s.get('tcp.refused.downstream_cx_total'), 1);
    const [line] = await until('the refused log line', () => (logLines('refused').length > 0 ? logLines('refused') : undefined));
    const [, clusterName, host, rx, tx, , flags, , reason] = line!.split(' ');
    assert.equal(clusterName, 'dead');
    assert.equal(host, `127.0.0.1:${deadPort}`);
    assert.equal(rx, '0');
    assert.equal(tx, '0');
    assert.equal(flags, 'UF,URX');
    assert.equal(reason, 'ECONNREFUSED');
  });

  it('retries a refused connect on another host (max_connect_attempts: 2)', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await exchange(ports['retry']!, `ping ${i}`);
      assert.equal(r.received.toString(), `ping ${i}`, `connection ${i} reached the echo host`);
    }
    const s = await legate.statsMap();
    // Round robin over [dead, echo] from one worker: every other connection tries the dead host first.
    assert.ok(s.get('cluster.half_dead.upstream_cx_connect_fail')! >= 1);
    assert.equal(s.get('cluster.half_dead.upstream_cx_connect_attempts_exceeded'), 0);
    // %UPSTREAM_REQUEST_ATTEMPT_COUNT% counts the connects: 2 where the dead host came first, else 1.
    const lines = await until('4 retry log lines', () => (logLines('retry').length >= 4 ? logLines('retry') : undefined));
    const attempts = lines.map((l) => l.split(' ').at(-1)).sort();
    assert.ok(attempts.includes('2'), attempts.join(','));
    assert.ok(attempts.every((a) => a === '1' || a === '2'), attempts.join(','));
  });

  it('closes both sides at max_downstream_connection_duration even while bytes keep flowing', async () => {
    const c = net.connect({ host: '127.0.0.1', port: ports['maxdur']! });
    let echoed = 0;
    c.on('data', (d: Buffer) => (echoed += d.length));
    c.on('error', () => {});
    // Keep the connection busy (the idle timeout of 1 h never applies): only the duration can end it.
    const ticker = setInterval(() => c.write('tick'), 50);
    await new Promise<void>((r) => c.on('close', () => r()));
    clearInterval(ticker);
    assert.ok(echoed > 0, 'the session carried bytes before it was cut');
    const s = await legate.statsMap();
    assert.equal(s.get('tcp.maxdur.max_downstream_connection_duration'), 1);
  });

  it('closes both sides after idle_timeout without traffic', async () => {
    const c = net.connect({ host: '127.0.0.1', port: ports['idle']! });
    let echoed = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      echoed += d;
    });
    c.write('still there?');
    await new Promise<void>((r) => c.on('close', () => r()));
    assert.equal(echoed, 'still there?');
    const s = await legate.statsMap();
    assert.equal(s.get('tcp.idle.idle_timeout'), 1);
  });

  it('spreads connections over weighted_clusters', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const r = await exchange(ports['weighted']!, '');
      seen.set(r.received.toString(), (seen.get(r.received.toString()) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['a', 'b']);
    const s = await legate.statsMap();
    assert.equal((s.get('cluster.banner_a.upstream_cx_total') ?? 0) + (s.get('cluster.banner_b.upstream_cx_total') ?? 0), 40);
  });

  it('a client that resets while its upload is still buffered for the upstream: the upstream is reset too, not flushed', async () => {
    // The slow cluster's buffer limit is large, so Legate reads the whole upload and holds what the upstream has not
    // taken yet; then the client resets. As Envoy's propagate_downstream_rst_to_upstream, the RST goes on as a RST:
    // a flush then a FIN would tell the upstream the stream ended, when it was cut off.
    const size = 8 * 1024 * 1024;
    const before = await legate.statsMap();
    const c = net.connect({ host: '127.0.0.1', port: ports['flush']! });
    c.on('error', () => {});
    c.write(crypto.randomBytes(size));
    await until('the upload to be read', async () => ((await legate.statsMap()).get('tcp.flush.downstream_cx_rx_bytes_total') === size ? true : undefined));
    const up = slowSockets[slowSockets.length - 1]!;
    let reset = false;
    let upstreamGot = 0;
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true;
    });
    up.on('data', (d: Buffer) => {
      upstreamGot += d.length;
    });
    c.resetAndDestroy();
    await until('the upstream connection to be closed', async () => ((await legate.statsMap()).get('cluster.slow.upstream_cx_active') === 0 ? true : undefined));
    up.resume();
    await until('the upstream to see the reset', () => (reset ? true : undefined));
    assert.ok(upstreamGot < size, 'what Legate still held for the upstream was dropped, not flushed');
    const after = await legate.statsMap();
    assert.equal(after.get('tcp.flush.upstream_flush_total'), before.get('tcp.flush.upstream_flush_total'));
    assert.equal(after.get('tcp.flush.upstream_flush_active'), 0);
  });

  it('closes the connection when the cluster does not exist (downstream_cx_no_route)', async () => {
    const r = await exchange(ports['noroute']!, 'x');
    assert.equal(r.received.length, 0);
    const s = await legate.statsMap();
    assert.equal(s.get('tcp.noroute.downstream_cx_no_route'), 1);
  });

  it('selects filter chains by destination_port, then source_prefix_ranges (TCP and HTTP chains side by side)', async () => {
    const port = ports['chains']!;
    assert.equal((await exchange(port, '', '127.0.0.2')).received.toString(), 'two', 'source 127.0.0.2/32 on this port');
    assert.equal((await exchange(port, '', '127.0.0.1')).received.toString(), 'port', 'this port, any source');
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', localAddress: '127.0.0.3', agent: false }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            b += d;
          });
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    assert.equal(body, 'hcm', 'source 127.0.0.3/32 gets the HTTP chain');
    const s = await legate.statsMap();
    assert.equal(s.get('tcp.from_two.downstream_cx_total'), 1);
    assert.equal(s.get('tcp.port.downstream_cx_total'), 1);
    assert.equal(s.get('tcp.other.downstream_cx_total') ?? 0, 0);
    assert.equal(s.get('http.chains_http.downstream_rq_total'), 1);
    assert.equal(s.get(`listener.127.0.0.1_${port}.downstream_cx_total`), 3);
  });

  it('closes a connection no filter chain matches, counts no_filter_chain_match and logs NR', async () => {
    const r = await exchange(ports['nomatch']!, 'hello?');
    assert.equal(r.received.length, 0);
    const s = await legate.statsMap();
    const addr = `127.0.0.1_${ports['nomatch']}`;
    assert.equal(s.get(`listener.${addr}.no_filter_chain_match`), 1);
    assert.equal(s.get(`listener.${addr}.downstream_cx_total`), 0);
    const [line] = await until('the no-match log line', () => (logLines('nomatch').length > 0 ? logLines('nomatch') : undefined));
    assert.equal(line, `nomatch NR filter_chain_not_found 127.0.0.1:${ports['nomatch']}`);
  });
});

describe('tcp_proxy across a reload', () => {
  let legate: LegateProcess;
  let echo: Peer;
  let bannerA: Peer;
  let bannerB: Peer;
  let port: number;

  function config(banner: string): string {
    return bootstrap(
      [
        `  - name: reloaded
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filter_chain_match:
        source_prefix_ranges: [{ address_prefix: 127.0.0.2, prefix_len: 32 }]
      filters:
${tcpProxyFilter('reload_echo', '          cluster: echo\n')}    default_filter_chain:
      filters:
${tcpProxyFilter('reload_banner', `          cluster: ${banner}\n`)}`,
      ],
      [
        cluster({ name: 'echo', endpoints: [{ address: '127.0.0.1', port: echo.port }] }),
        cluster({ name: 'banner_a', endpoints: [{ address: '127.0.0.1', port: bannerA.port }] }),
        cluster({ name: 'banner_b', endpoints: [{ address: '127.0.0.1', port: bannerB.port }] }),
      ],
    );
  }

  before(async () => {
    echo = await echoPeer();
    bannerA = await bannerPeer('a');
    bannerB = await bannerPeer('b');
    legate = await startLegate({ config: config('banner_a'), concurrency: 2 });
    port = await legate.listenerPort('reloaded');
  });

  after(async () => {
    await legate?.stop();
    for (const p of [echo, bannerA, bannerB]) await p?.close();
  });

  it('keeps the socket and sessions in flight; new connections take the new chains', async () => {
    assert.equal((await exchange(port, '')).received.toString(), 'a');
    // A session that stays open across the reload.
    const held = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    held.setEncoding('utf8');
    let echoed = '';
    held.on('data', (d: string) => {
      echoed += d;
    });
    held.write('before ');
    await until('the first echo', () => (echoed === 'before ' ? true : undefined));

    legate.writeConfig(config('banner_b'));
    assert.equal(await legate.reload(), true);
    assert.equal((await exchange(port, '')).received.toString(), 'b', 'a new connection uses the new default chain');

    const closed = new Promise<void>((r) => held.on('close', () => r()));
    held.end('after');
    await closed;
    assert.equal(echoed, 'before after', 'the session accepted before the reload kept working');
  });
});
