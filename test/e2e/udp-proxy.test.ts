// End to end: envoy.filters.udp_listener.udp_proxy through bin/legate (two workers) with real UDP peers: an echo
// upstream serving many client sockets at once (each gets exactly its own answers, each is its own session with
// its own upstream socket), a DNS query answered by a tiny DNS responder, sessions closed by a short idle timeout,
// source_ip hashing over a RING_HASH cluster, and the udp.<stat_prefix>.* / cluster.<name>.udp.* stats.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { waitUntil } from '../support/polling.ts';

// ---- peers ----

interface UdpPeer {
  port: number;
  socket: dgram.Socket;
  /** Source "address port" of every datagram received. */
  sources: string[];
  close(): Promise<void>;
}

async function udpPeer(answer: (msg: Buffer) => Buffer | null): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4');
  const sources: string[] = [];
  socket.on('message', (msg, r) => {
    sources.push(`${r.address} ${r.port}`);
    const reply = answer(msg);
    if (reply !== null) socket.send(reply, r.port, r.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, socket, sources, close: () => new Promise((r) => socket.close(() => r())) };
}

/** Answers every DNS query with one A record, 192.0.2.53, for the name asked (hand-built RFC 1035 packets). */
function dnsAnswer(q: Buffer): Buffer | null {
  if (q.length < 12) return null;
  let i = 12;
  while (i < q.length && q[i] !== 0) i += q[i]! + 1;
  const question = q.subarray(12, i + 5); // name, its 0 byte, QTYPE, QCLASS
  const head = Buffer.alloc(12);
  q.copy(head, 0, 0, 2); // ID
  head.writeUInt16BE(0x8180, 2); // response, recursion desired + available, no error
  head.writeUInt16BE(1, 4); // QDCOUNT
  head.writeUInt16BE(1, 6); // ANCOUNT
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53]);
  return Buffer.concat([head, question, answer]);
}

function dnsQuery(id: number, name: string): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2); // recursion desired
  head.writeUInt16BE(1, 4);
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** The A record of a response: its last four bytes (one answer, as dnsAnswer builds it), and the ID. */
function parseDnsAnswer(r: Buffer): { id: number; ancount: number; ip: string } {
  return { id: r.readUInt16BE(0), ancount: r.readUInt16BE(6), ip: [...r.subarray(r.length - 4)].join('.') };
}

// ---- clients ----

interface Client {
  socket: dgram.Socket;
  received: Buffer[];
  close(): void;
}

async function client(localAddress = '127.0.0.1'): Promise<Client> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.bind(0, localAddress, r));
  return { socket, received, close: () => socket.close() };
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function udpListener(name: string, port: number, statPrefix: string, proxy: string): string {
  return `
  - name: ${name}
    address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: ${port} } }
    listener_filters:
    - name: envoy.filters.udp_listener.udp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig
        stat_prefix: ${statPrefix}
${proxy}`;
}

function cluster(name: string, ports: number[], lb = 'ROUND_ROBIN'): string {
  return `
  - name: ${name}
    connect_timeout: 1s
    lb_policy: ${lb}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
${ports.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}`;
}

describe('udp_proxy end to end (2 workers)', () => {
  let legate: LegateProcess;
  let echo: UdpPeer;
  let dns: UdpPeer;
  let tagged: UdpPeer[];
  const ports = { echo: 0, dns: 0, idle: 0, hashed: 0, noroute: 0, limited: 0, small: 0, perpacket: 0 };
  const clients: Client[] = [];
  let config = '';

  async function stats(filter: string): Promise<Record<string, number>> {
    const { body } = await legate.admin(`/stats?filter=${encodeURIComponent(filter)}`);
    const out: Record<string, number> = {};
    for (const line of body.split('\n')) {
      const m = /^(\S+): (\d+)$/.exec(line);
      if (m !== null) out[m[1]!] = Number(m[2]);
    }
    return out;
  }

  async function newClient(localAddress?: string): Promise<Client> {
    const c = await client(localAddress);
    clients.push(c);
    return c;
  }

  before(async () => {
    echo = await udpPeer((m) => Buffer.concat([Buffer.from('echo:'), m]));
    dns = await udpPeer(dnsAnswer);
    tagged = await Promise.all(['a', 'b', 'c'].map((n) => udpPeer(() => Buffer.from(n))));
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freeUdpPort();
    config = `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${udpListener('udp_echo', ports.echo, 'echo', '        cluster: echo')}${udpListener('udp_dns', ports.dns, 'dns', `        matcher:
          on_no_match:
            action:
              name: route
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route
                cluster: dns`)}${udpListener('udp_idle', ports.idle, 'idle', `        cluster: echo
        idle_timeout: 0.3s`)}${udpListener('udp_hashed', ports.hashed, 'hashed', `        cluster: tagged
        hash_policies: [ { source_ip: true } ]`)}${udpListener('udp_noroute', ports.noroute, 'noroute', '        cluster: missing')}${udpListener('udp_limited', ports.limited, 'limited', '        cluster: limited')}${udpListener('udp_small', ports.small, 'small', `        cluster: echo_small
        upstream_socket_config: { max_rx_datagram_size: 100 }`)}
    udp_listener_config: { downstream_socket_config: { max_rx_datagram_size: 100 } }${udpListener('udp_perpacket', ports.perpacket, 'perpacket', `        cluster: tagged_rr
        use_per_packet_load_balancing: true`)}
  clusters:${cluster('echo', [echo.port])}${cluster('dns', [dns.port])}${cluster('tagged', tagged.map((t) => t.port), 'RING_HASH')}${cluster('tagged_rr', tagged.map((t) => t.port))}${cluster('echo_small', [echo.port])}${cluster('limited', [echo.port])}
    circuit_breakers: { thresholds: [ { max_connections: 2 } ] }
`;
    legate = await startLegate({ config, concurrency: 2 });
  });

  after(async () => {
    for (const c of clients) c.close();
    await legate?.stop();
    await Promise.all([echo, dns, ...(tagged ?? [])].filter((p) => p !== undefined).map((p) => p.close()));
  });

  it('many client sockets each get their own echoes, one session (and upstream socket) each', async () => {
    const N = 16;
    const PER = 4;
    const cs = await Promise.all(Array.from({ length: N }, () => newClient()));
    cs.forEach((c, i) => {
      for (let j = 0; j < PER; j++) c.socket.send(`c${i}-m${j}`, ports.echo, '127.0.0.1');
    });
    await waitUntil(() => cs.every((c) => c.received.length >= PER), () => `echoes: ${cs.map((c) => c.received.length).join(',')}`, 10_000);
    cs.forEach((c, i) => {
      const got = c.received.map((b) => b.toString()).sort();
      assert.deepEqual(got, Array.from({ length: PER }, (_, j) => `echo:c${i}-m${j}`).sort(), `client ${i}`);
    });
    // One upstream socket per session: the echo server saw N distinct sources.
    assert.equal(new Set(echo.sources).size, N);
    let s: Record<string, number> = {};
    await waitUntil(async () => {
      s = await stats('^(udp\\.echo|cluster\\.echo\\.udp)\\.');
      return s['udp.echo.downstream_sess_tx_datagrams'] === N * PER;
    }, () => JSON.stringify(s), 10_000);
    assert.equal(s['udp.echo.downstream_sess_total'], N);
    assert.equal(s['udp.echo.downstream_sess_active'], N);
    assert.equal(s['udp.echo.downstream_sess_rx_datagrams'], N * PER);
    assert.equal(s['udp.echo.downstream_sess_rx_bytes'], cs.reduce((n, _c, i) => n + Array.from({ length: PER }, (_x, j) => `c${i}-m${j}`.length).reduce((a, b) => a + b, 0), 0));
    assert.equal(s['udp.echo.downstream_sess_tx_bytes'], s['udp.echo.downstream_sess_rx_bytes']! + 5 * N * PER);
    assert.equal(s['cluster.echo.udp.sess_tx_datagrams'], N * PER);
    assert.equal(s['cluster.echo.udp.sess_rx_datagrams'], N * PER);
    assert.equal(s['udp.echo.downstream_sess_no_route'], 0);
  });

  it('a DNS query through the proxy is answered by the DNS responder (matcher on_no_match cluster)', async () => {
    const c = await newClient();
    c.socket.send(dnsQuery(0x1234, 'legate.example.com'), ports.dns, '127.0.0.1');
    await waitUntil(() => c.received.length > 0, () => 'a DNS answer', 10_000);
    const a = parseDnsAnswer(c.received[0]!);
    assert.deepEqual(a, { id: 0x1234, ancount: 1, ip: '192.0.2.53' });
    assert.ok(c.received[0]!.includes(Buffer.from('\x06legate\x07example\x03com\x00', 'latin1')));
  });

  it('a session closes at its idle timeout; the next datagram opens a new one', async () => {
    const c = await newClient();
    const before = echo.sources.length;
    c.socket.send('first', ports.idle, '127.0.0.1');
    await waitUntil(() => c.received.length === 1, () => 'the first echo', 10_000);
    let s: Record<string, number> = {};
    await waitUntil(async () => {
      s = await stats('^udp\\.idle\\.');
      return s['udp.idle.idle_timeout'] === 1 && s['udp.idle.downstream_sess_active'] === 0;
    }, () => JSON.stringify(s), 10_000);
    c.socket.send('second', ports.idle, '127.0.0.1');
    await waitUntil(() => c.received.length === 2, () => 'the second echo', 10_000);
    assert.equal(c.received[1]!.toString(), 'echo:second');
    s = await stats('^udp\\.idle\\.');
    assert.equal(s['udp.idle.downstream_sess_total'], 2);
    // The new session went out of a new upstream socket.
    const mine = echo.sources.slice(before);
    assert.equal(mine.length, 2);
    assert.notEqual(mine[0], mine[1]);
  });

  it('hash_policies source_ip: every socket of one client address reaches the same upstream', async () => {
    const reached = new Set<string>();
    for (let ip = 2; ip <= 9; ip++) {
      const answers = new Set<string>();
      for (let k = 0; k < 3; k++) {
        const c = await newClient(`127.0.0.${ip}`);
        c.socket.send('who', ports.hashed, '127.0.0.1');
        await waitUntil(() => c.received.length === 1, () => `an answer for 127.0.0.${ip}`, 10_000);
        answers.add(c.received[0]!.toString());
      }
      assert.equal(answers.size, 1, `127.0.0.${ip} reached ${[...answers].join(',')}`);
      reached.add([...answers][0]!);
    }
    assert.ok(reached.size >= 2, `addresses spread over upstreams: ${[...reached].join(',')}`);
  });

  it('no cluster: downstream_sess_no_route; over max_connections: upstream_cx_overflow, no session', async () => {
    const c = await newClient();
    c.socket.send('lost', ports.noroute, '127.0.0.1');
    let s: Record<string, number> = {};
    await waitUntil(async () => {
      s = await stats('^udp\\.noroute\\.');
      return s['udp.noroute.downstream_sess_no_route'] === 1;
    }, () => JSON.stringify(s), 10_000);
    assert.equal(s['udp.noroute.downstream_sess_total'], 0);

    const cs = await Promise.all([newClient(), newClient()]);
    for (const k of cs) k.socket.send('in', ports.limited, '127.0.0.1');
    await waitUntil(() => cs.every((k) => k.received.length === 1), () => 'two sessions answered', 10_000);
    const third = await newClient();
    third.socket.send('over', ports.limited, '127.0.0.1');
    await waitUntil(async () => {
      s = await stats('^(udp\\.limited|cluster\\.limited)\\.');
      return s['cluster.limited.upstream_cx_overflow'] === 1;
    }, () => JSON.stringify(s), 10_000);
    assert.equal(s['udp.limited.downstream_sess_total'], 2);
    assert.equal(third.received.length, 0);
  });

  it('datagrams above max_rx_datagram_size are dropped, from the client and from the upstream', async () => {
    const c = await newClient();
    c.socket.send(Buffer.alloc(200, 0x61), ports.small, '127.0.0.1'); // over the listener's 100
    c.socket.send(Buffer.alloc(98, 0x62), ports.small, '127.0.0.1'); // its echo (103 bytes) is over the upstream's 100
    c.socket.send(Buffer.alloc(50, 0x63), ports.small, '127.0.0.1');
    await waitUntil(() => c.received.length === 1, () => 'the small echo', 10_000);
    assert.equal(c.received[0]!.length, 55);
    let s: Record<string, number> = {};
    await waitUntil(async () => {
      s = await stats(`^(listener\\.127\\.0\\.0\\.1_${ports.small}\\.udp|cluster\\.echo_small\\.udp|udp\\.small)\\.`);
      return s['cluster.echo_small.udp.sess_rx_datagrams_dropped'] === 1;
    }, () => JSON.stringify(s), 10_000);
    assert.equal(s[`listener.127.0.0.1_${ports.small}.udp.downstream_rx_datagram_dropped`], 1);
    assert.equal(s['udp.small.downstream_sess_rx_datagrams'], 2);
    assert.equal(s['cluster.echo_small.udp.sess_rx_datagrams'], 1);
  });

  it('use_per_packet_load_balancing: one session, its datagrams spread over the hosts', async () => {
    const c = await newClient();
    for (let i = 0; i < 6; i++) c.socket.send(`p${i}`, ports.perpacket, '127.0.0.1');
    await waitUntil(() => c.received.length === 6, () => `six answers (got ${c.received.length})`, 10_000);
    const hosts = new Set(c.received.map((b) => b.toString()));
    assert.ok(hosts.size >= 2, `answers from ${[...hosts].join(',')}`);
    const s = await stats('^udp\\.perpacket\\.');
    assert.equal(s['udp.perpacket.downstream_sess_total'], 1);
  });

  it('a reload keeps the socket and the sessions in flight; new sessions take the new config', async () => {
    const old = await newClient();
    old.socket.send('before', ports.echo, '127.0.0.1');
    await waitUntil(() => old.received.length === 1, () => 'an echo before the reload', 10_000);
    // udp_echo now routes to the DNS responder.
    legate.writeConfig(config.replace(`stat_prefix: echo
        cluster: echo`, `stat_prefix: echo
        cluster: dns`));
    assert.ok(await legate.reload(), legate.stderr.slice(-2000));
    old.socket.send('after', ports.echo, '127.0.0.1');
    await waitUntil(() => old.received.length === 2, () => 'an echo after the reload', 10_000);
    assert.equal(old.received[1]!.toString(), 'echo:after');
    const fresh = await newClient();
    fresh.socket.send(dnsQuery(7, 'after.reload'), ports.echo, '127.0.0.1');
    await waitUntil(() => fresh.received.length === 1, () => 'a DNS answer after the reload', 10_000);
    assert.deepEqual(parseDnsAnswer(fresh.received[0]!), { id: 7, ancount: 1, ip: '192.0.2.53' });
  });
});

describe('udp_proxy and active health checking', () => {
  let legate: LegateProcess;
  const hosts: { name: string; udp: UdpPeer; tcp: net.Server; sockets: Set<net.Socket> }[] = [];
  let port = 0;

  /** A UDP peer answering its name, with a TCP server on the same port number for the health checker. */
  async function checkedHost(name: string): Promise<(typeof hosts)[number]> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const udp = await udpPeer(() => Buffer.from(name));
      const sockets = new Set<net.Socket>();
      const tcp = net.createServer((c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
        c.on('error', () => {});
      });
      const ok = await new Promise<boolean>((r) => {
        tcp.once('error', () => r(false));
        tcp.listen(udp.port, '127.0.0.1', () => r(true));
      });
      if (ok) return { name, udp, tcp, sockets };
      await udp.close();
    }
    throw new Error('no port free for both UDP and TCP');
  }

  async function gauge(name: string): Promise<number> {
    const { body } = await legate.admin(`/stats?filter=${encodeURIComponent(`^${name.replaceAll('.', '\\.')}$`)}`);
    const m = /: (\d+)/.exec(body);
    return m === null ? -1 : Number(m[1]);
  }

  before(async () => {
    hosts.push(await checkedHost('h1'), await checkedHost('h2'));
    port = await freeUdpPort();
    const config = `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${udpListener('udp_hc', port, 'hc', '        cluster: checked')}
  clusters:${cluster('checked', hosts.map((h) => h.udp.port))}
    health_checks:
    - timeout: 1s
      interval: 0.1s
      no_traffic_interval: 0.1s
      unhealthy_threshold: 1
      healthy_threshold: 1
      tcp_health_check: {}
`;
    legate = await startLegate({ config, concurrency: 2 });
    await waitUntil(async () => (await gauge('cluster.checked.membership_healthy')) === 2, () => 'both hosts healthy', 10_000);
  });

  after(async () => {
    await legate?.stop();
    for (const h of hosts) {
      for (const c of h.sockets) c.destroy();
      h.tcp.close();
      await h.udp.close();
    }
  });

  it('a session whose host turns unhealthy moves to a healthy host on its next datagram (a new session)', async () => {
    const c = await client();
    try {
      c.socket.send('one', port, '127.0.0.1');
      await waitUntil(() => c.received.length === 1, () => 'a first answer', 10_000);
      const first = c.received[0]!.toString();
      const host = hosts.find((h) => h.name === first)!;
      for (const s of host.sockets) s.destroy();
      await new Promise<void>((r) => host.tcp.close(() => r()));
      await waitUntil(async () => (await gauge('cluster.checked.membership_healthy')) === 1, () => `${first} unhealthy`, 10_000);
      c.socket.send('two', port, '127.0.0.1');
      await waitUntil(() => c.received.length === 2, () => 'a second answer', 10_000);
      assert.notEqual(c.received[1]!.toString(), first);
      assert.equal(await gauge('udp.hc.downstream_sess_total'), 2);
    } finally {
      c.close();
    }
  });
});

