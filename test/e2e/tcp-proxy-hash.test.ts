// End to end: tcp_proxy hash_policy (source_ip) over RING_HASH and MAGLEV clusters through bin/legate with two
// workers and three real TCP upstreams that each write their name and close. Clients bind different loopback
// addresses (127.0.0.2 ...): every connection from one address reaches the same upstream, whichever worker the
// kernel hands it to, and the addresses spread over more than one upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';

interface Peer { port: number; close(): Promise<void> }

async function bannerPeer(name: string): Promise<Peer> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

/** Connects from `localAddress` and returns what the upstream wrote before closing. */
function banner(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect({ host: '127.0.0.1', port, localAddress });
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', () => {});
    c.on('close', () => resolve(Buffer.concat(chunks).toString()));
    c.setTimeout(10_000, () => {
      c.destroy();
      reject(new Error(`no banner via ${port} from ${localAddress}`));
    });
  });
}

function tcpListener(name: string, clusterName: string, hashPolicy: string): string {
  return `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: ${clusterName}
${hashPolicy}`;
}

function hashedCluster(name: string, policy: string, ports: number[]): string {
  return `
  - name: ${name}
    connect_timeout: 1s
    lb_policy: ${policy}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
${ports.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}`;
}

const SOURCE_IP = `          hash_policy:
          - source_ip: {}`;

describe('tcp_proxy hash_policy end to end (2 workers, 3 upstreams)', () => {
  let legate: LegateProcess;
  let peers: Peer[];

  before(async () => {
    peers = await Promise.all(['up-a', 'up-b', 'up-c'].map((n) => bannerPeer(n)));
    const ports = peers.map((p) => p.port);
    const config = `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${tcpListener('ring', 'ring', SOURCE_IP)}${tcpListener('maglev', 'maglev', SOURCE_IP)}
  clusters:${hashedCluster('ring', 'RING_HASH', ports)}${hashedCluster('maglev', 'MAGLEV', ports)}
`;
    legate = await startLegate({ config, concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    await Promise.all((peers ?? []).map((p) => p.close()));
  });

  const SOURCES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);

  async function checkSticky(listener: string): Promise<void> {
    const port = await legate.listenerPort(listener);
    const reached = new Set<string>();
    for (const src of SOURCES) {
      const first = await banner(port, src);
      assert.match(first, /^up-[abc]$/);
      reached.add(first);
      for (let i = 0; i < 5; i++) assert.equal(await banner(port, src), first, `${listener} from ${src} (try ${i})`);
    }
    assert.ok(reached.size >= 2, `source addresses spread over upstreams: ${[...reached].join(',')}`);
  }

  it('RING_HASH by source_ip: one client address always reaches one upstream, over both workers', async () => {
    await checkSticky('ring');
    const { body } = await legate.admin('/stats?filter=^worker_');
    for (const w of [0, 1]) {
      const m = new RegExp(`worker_${w}\\.downstream_cx_total: (\\d+)`).exec(body);
      assert.ok(m !== null && Number(m[1]) > 0, `worker_${w} served connections:\n${body}`);
    }
  });

  it('MAGLEV by source_ip: one client address always reaches one upstream', async () => {
    await checkSticky('maglev');
  });

});
