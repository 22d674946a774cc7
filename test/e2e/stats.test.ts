// End to end: stats written by every worker into shared memory and summed by the primary are exact.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { startLegate, freePort, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { waitUntil } from '../support/polling.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';

function get(port: number, path: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
}

describe('stats across workers', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream('backend');
    port = await freePort();
    legate = await startLegate({
      concurrency: 2,
      config: bootstrap(
        [
          hcmListener({
            name: 'stats_listener',
            port,
            statPrefix: 'ingress',
            routes: [
              { match: '{ prefix: "/missing" }', action: 'route: { cluster: backend, prefix_rewrite: "/status/404" }' },
              { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
            ],
          }),
        ],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })],
      ),
    });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('counts every request, connection and status class exactly, over many connections', async () => {
    const oks = 120;
    const notFound = 30;
    const fresh = 40; // requests on a new connection each
    const agents = Array.from({ length: 8 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const work: Promise<number>[] = [];
    for (let i = 0; i < oks; i++) work.push(get(port, '/ok', agents[i % agents.length]!));
    for (let i = 0; i < notFound; i++) work.push(get(port, '/missing', agents[i % agents.length]!));
    for (let i = 0; i < fresh; i++) work.push(get(port, '/ok', false));
    const statuses = await Promise.all(work);
    assert.equal(statuses.filter((s) => s === 200).length, oks + fresh);
    assert.equal(statuses.filter((s) => s === 404).length, notFound);
    for (const a of agents) a.destroy();
    await new Promise((r) => setTimeout(r, 300)); // let the closes land

    const stats = await legate.statsMap();
    const total = oks + notFound + fresh;
    assert.equal(stats.get('http.ingress.downstream_rq_total'), total);
    assert.equal(stats.get('http.ingress.downstream_rq_2xx'), oks + fresh);
    assert.equal(stats.get('http.ingress.downstream_rq_4xx'), notFound);
    // The connection manager's counts per listener (listener.<address>.http.<prefix>.*).
    assert.equal(stats.get(`listener.127.0.0.1_${port}.http.ingress.downstream_rq_2xx`), oks + fresh);
    assert.equal(stats.get(`listener.127.0.0.1_${port}.http.ingress.downstream_rq_4xx`), notFound);
    assert.equal(stats.get(`listener.127.0.0.1_${port}.http.ingress.downstream_rq_completed`), total);
    assert.equal(stats.get('http.ingress.downstream_rq_active'), 0);
    assert.equal(stats.get('cluster.backend.upstream_rq_total'), total);
    assert.equal(stats.get('cluster.backend.upstream_rq_2xx'), oks + fresh);
    assert.equal(stats.get('cluster.backend.upstream_rq_4xx'), notFound);
    assert.equal(stats.get('cluster.backend.upstream_rq_active'), 0);
    assert.equal(stats.get('cluster.backend.membership_total'), 1);
    assert.equal(stats.get('cluster.backend.membership_healthy'), 1);
    const cx = stats.get('listener.127.0.0.1_' + port + '.downstream_cx_total');
    assert.ok(cx !== undefined && cx >= fresh + 1 && cx <= fresh + agents.length, `listener downstream_cx_total ${cx}`);
    assert.equal(stats.get('http.ingress.downstream_cx_total'), cx);
    assert.equal(stats.get('listener.127.0.0.1_' + port + '.downstream_cx_active'), 0);
    // Per worker and listener (listener.<address>.worker_<n>.*): they add up to the listener's.
    const lw = [0, 1].map((i) => stats.get(`listener.127.0.0.1_${port}.worker_${i}.downstream_cx_total`) ?? 0);
    assert.equal(lw[0]! + lw[1]!, cx);
    assert.equal(stats.get(`listener.127.0.0.1_${port}.worker_0.downstream_cx_active`), 0);
    assert.equal(stats.get(`listener.127.0.0.1_${port}.worker_1.downstream_cx_active`), 0);
    // Per-worker request counts add up to the total (imbalance is visible, the sum is exact).
    const perWorker = [0, 1].map((i) => stats.get(`worker_${i}.downstream_rq_total`) ?? 0);
    assert.equal(perWorker[0]! + perWorker[1]!, total);
    assert.equal(stats.get('server.concurrency'), 2);
    assert.equal(stats.get('server.live'), 1);
  });

  it('merges latency histograms from every worker', async () => {
    const { body } = await legate.admin('/stats?filter=downstream_rq_time');
    assert.match(body, /http\.ingress\.downstream_rq_time: P0\(/);
    const prom = await legate.admin('/stats/prometheus');
    assert.match(prom.body, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="backend"\} \d+/);
    const count = /envoy_http_downstream_rq_time_count\{envoy_http_conn_manager_prefix="ingress"\} (\d+)/.exec(prom.body);
    assert.ok(count !== null, 'downstream_rq_time histogram in prometheus output');
    assert.equal(Number(count[1]), 190);
  });
});

describe('stats that move as things happen (issue 13 §6)', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  const config = (connectTimeout: string, extraCluster: boolean) => bootstrap(
    [
      hcmListener({
        name: 'moving',
        port: 0,
        statPrefix: 'moving',
        routes: [
          { match: '{ prefix: "/missing" }', action: 'route: { cluster: backend, prefix_rewrite: "/status/404" }' },
          { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
        ],
      }),
    ],
    [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }).replace('connect_timeout: 1s', `connect_timeout: ${connectTimeout}`),
      ...(extraCluster ? [cluster({ name: 'other', endpoints: [{ address: '127.0.0.1', port: up.port }] })] : []),
    ],
  );

  before(async () => {
    up = await startUpstream('backend');
    legate = await startLegate({ concurrency: 2, config: config('1s', false) });
    port = await legate.listenerPort('moving');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('server.total_connections counts open connections; upstream bytes count while the connection stays open', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal(await get(port, '/ok', agent), 200);
    const open = await legate.statsMap();
    assert.equal(open.get('server.total_connections'), 1);
    // The upstream connection is kept for reuse: its bytes are counted already.
    assert.equal(open.get('cluster.backend.upstream_cx_active'), 1);
    assert.ok((open.get('cluster.backend.upstream_cx_rx_bytes_total') ?? 0) > 0, 'upstream rx bytes while open');
    assert.ok((open.get('cluster.backend.upstream_cx_tx_bytes_total') ?? 0) > 0, 'upstream tx bytes while open');
    // The client closes its connection: destroyed by the remote side.
    agent.destroy();
    await waitUntil(async () => (await legate.statsMap()).get('http.moving.downstream_cx_destroy') === 1, () => 'the connection closed');
    const closed = await legate.statsMap();
    assert.equal(closed.get('server.total_connections'), 0);
    assert.equal(closed.get('http.moving.downstream_cx_destroy_remote'), 1);
    assert.equal(closed.get('http.moving.downstream_cx_destroy_local'), 0);
    // connection: close from the client: as Envoy's delayed close, Legate waits for the client to close after the
    // response (it does, having read it all), so this too is destroyed remotely.
    assert.equal(await get(port, '/ok', false), 200);
    await waitUntil(async () => (await legate.statsMap()).get('http.moving.downstream_cx_destroy') === 2, () => 'the second connection closed');
    assert.equal((await legate.statsMap()).get('http.moving.downstream_cx_destroy_remote'), 2);
    assert.equal((await legate.statsMap()).get('http.moving.downstream_cx_destroy_local'), 0);
  });

  it('counts a connection the client drops with a request in flight as destroyed remotely with an active request', async () => {
    const before = await legate.statsMap();
    await new Promise<void>((resolve) => {
      // A reset (RST), not a half close: Legate finishes a response to a client that only half-closed.
      const req = http.get({ host: '127.0.0.1', port, path: '/delay/5000', agent: false });
      req.on('error', () => resolve());
      req.on('socket', (socket) => socket.on('connect', () => setTimeout(() => {
        socket.resetAndDestroy();
        resolve();
      }, 200)));
    });
    await waitUntil(async () => (await legate.statsMap()).get('http.moving.downstream_cx_destroy_remote_active_rq') === 1,
      () => 'downstream_cx_destroy_remote_active_rq', 10_000);
    const after = await legate.statsMap();
    assert.equal(after.get('http.moving.downstream_cx_destroy_active_rq'), 1);
    assert.equal(after.get('http.moving.downstream_cx_destroy_remote'), (before.get('http.moving.downstream_cx_destroy_remote') ?? 0) + 1);
  });

  it('counts each upstream status code, and shows only the codes seen', async () => {
    for (let i = 0; i < 3; i++) assert.equal(await get(port, '/missing', false), 404);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.backend.upstream_rq_404'), 3);
    assert.ok((stats.get('cluster.backend.upstream_rq_200') ?? 0) >= 2);
    assert.equal(stats.get('cluster.backend.upstream_rq_418'), undefined, 'a code never seen is not listed');
    const prom = (await legate.admin('/stats/prometheus')).body;
    assert.match(prom, /envoy_cluster_upstream_rq\{envoy_response_code="404",envoy_cluster_name="backend"\} 3\n/);
    assert.match(prom, /envoy_cluster_upstream_rq_xx\{envoy_response_code_class="4",envoy_cluster_name="backend"\} 3\n/);
  });

  it('counts the admin\'s own requests under http.admin.*', async () => {
    assert.equal((await legate.admin('/no_such_endpoint')).status, 404);
    await legate.admin('/ready');
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.admin.downstream_rq_2xx') ?? 0) >= 1, 'admin 2xx');
    assert.ok((stats.get('http.admin.downstream_rq_4xx') ?? 0) >= 1, 'admin 4xx');
    assert.ok((stats.get('http.admin.downstream_rq_total') ?? 0) >= 3, 'admin requests');
    assert.ok((stats.get('http.admin.downstream_cx_total') ?? 0) >= 1, 'admin connections');
    assert.match((await legate.admin('/stats/prometheus')).body, /envoy_http_downstream_rq_xx\{envoy_response_code_class="4",envoy_http_conn_manager_prefix="admin"\} [1-9]/);
  });

  it('reports server.version and the memory gauges', async () => {
    const stats = await legate.statsMap();
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
    if (head.status === 0) assert.equal(stats.get('server.version'), Number.parseInt(head.stdout.trim().slice(0, 6), 16));
    const allocated = stats.get('server.memory_allocated') ?? 0;
    assert.ok(allocated > 0, 'memory_allocated');
    assert.ok((stats.get('server.memory_heap_size') ?? 0) >= allocated, 'memory_heap_size >= memory_allocated');
    assert.ok((stats.get('server.memory_physical_size') ?? 0) > 0, 'memory_physical_size');
  });

  it('counts clusters and listeners added, modified and removed by the cluster and listener managers', async () => {
    const start = await legate.statsMap();
    assert.equal(start.get('cluster_manager.cluster_added'), 1);
    assert.equal(start.get('cluster_manager.active_clusters'), 1);
    assert.equal(start.get('listener_manager.listener_added'), 1);
    assert.equal(start.get('listener_manager.total_listeners_active'), 1);
    assert.equal(start.get('listener_manager.listener_create_success'), 2, 'one per worker');
    legate.writeConfig(config('2s', true));
    assert.equal(await legate.reload(), true);
    const added = await legate.statsMap();
    assert.equal(added.get('cluster_manager.cluster_added'), 2);
    assert.equal(added.get('cluster_manager.cluster_modified'), 1, 'backend connect_timeout changed');
    assert.equal(added.get('cluster_manager.active_clusters'), 2);
    assert.equal(added.get('listener_manager.listener_modified'), 0, 'the listener did not change');
    legate.writeConfig(config('2s', false));
    assert.equal(await legate.reload(), true);
    const removed = await legate.statsMap();
    assert.equal(removed.get('cluster_manager.cluster_removed'), 1);
    assert.equal(removed.get('cluster_manager.active_clusters'), 1);
  });
});
