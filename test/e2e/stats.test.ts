// End to end: stats written by every worker into shared memory and summed by the primary are exact.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
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
