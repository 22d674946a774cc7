// The admin server on 127.0.0.1 port 0 with a fake AdminContext: every endpoint's status and content type,
// the POST-only rule, 404 with the endpoint list, stats filters and formats, and the context calls made.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.ts';
import type { AdminContext, ClusterView, ServerStateName } from '../../src/admin/admin-context.ts';
import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { SharedRegions } from '../../src/stats/shared-regions.ts';

class FakeContext implements AdminContext {
  state: ServerStateName = 'LIVE';
  healthCheckFailed = false;
  quits = 0;
  drains: { inboundOnly: boolean; graceful: boolean }[] = [];
  statsCalls = 0;
  readonly regions: SharedRegions;

  constructor() {
    const r = new StatRegistry({ maxValueSlots: 64 });
    this.regions = new SharedRegions(r);
    this.regions.primaryStore.values[r.counter('cluster.backend.upstream_rq_total', [['envoy_cluster_name', 'backend']])] = 5;
    r.counter('cluster.backend.upstream_rq_5xx', [['envoy_cluster_name', 'backend']]);
    this.regions.primaryStore.values[r.gauge('server.live')] = 1;
    this.regions.primaryStore.record(r.histogram('cluster.backend.upstream_rq_time', [['envoy_cluster_name', 'backend']]), 4);
  }
  async stats() {
    this.statsCalls++;
    return this.regions.snapshot();
  }
  serverInfo() {
    return { version: 'legate/0.1.0', state: this.state, command_line_options: { concurrency: 2 } };
  }
  configDump() {
    return { configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump' }] };
  }
  clusters(): ClusterView[] {
    const limits = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
    return [
      {
        name: 'backend',
        observabilityName: 'backend',
        addedViaApi: false,
        defaultPriority: limits,
        highPriority: limits,
        hosts: [
          {
            address: '127.0.0.1', port: 8080, hostname: '', counters: { rq_total: 5, cx_total: 2 }, gauges: { cx_active: 1 },
            healthFlags: 'healthy', weight: 1, region: '', zone: '', subZone: '', canary: false, priority: 0,
            successRate: -1, localOriginSuccessRate: -1,
          },
        ],
      },
    ];
  }
  listeners() {
    return [{ name: 'web', address: '0.0.0.0', port: 10000 }, { name: 'v6', address: '::1', port: 10001 }];
  }
  isLive() {
    return this.state === 'LIVE' && !this.healthCheckFailed;
  }
  serverState(): ServerStateName {
    return this.healthCheckFailed ? 'DRAINING' : this.state;
  }
  setHealthCheckFailed(failed: boolean) {
    this.healthCheckFailed = failed;
  }
  quit() {
    this.quits++;
  }
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean }) {
    this.drains.push(opts);
  }
}

describe('admin server', () => {
  let server: AdminServer;
  let ctx: FakeContext;
  let base: string;

  before(async () => {
    ctx = new FakeContext();
    server = await startAdminServer({ address: '127.0.0.1', port: 0, context: ctx });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server.close();
  });

  async function get(path: string, init?: RequestInit): Promise<{ status: number; type: string; body: string }> {
    const res = await fetch(base + path, init);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  }

  it('listens on the port it reports', () => {
    assert.ok(server.port > 0);
    assert.equal(server.address, '127.0.0.1');
  });

  it('/ is an HTML page listing the endpoints; /help the same as text', async () => {
    const home = await get('/');
    assert.equal(home.status, 200);
    assert.match(home.type, /^text\/html/);
    assert.match(home.body, /href="\/stats\/prometheus"/);
    assert.match(home.body, /<form method="post" action="\/quitquitquit">/);
    const help = await get('/help');
    assert.match(help.body, /^admin commands are:\n/);
    assert.match(help.body, /  \/clusters: /);
  });

  it('/ready: 200 LIVE, else 503 with the state', async () => {
    let r = await get('/ready');
    assert.deepEqual([r.status, r.body], [200, 'LIVE\n']);
    assert.match(r.type, /^text\/plain/);
    ctx.state = 'PRE_INITIALIZING';
    r = await get('/ready');
    assert.deepEqual([r.status, r.body], [503, 'PRE_INITIALIZING\n']);
    ctx.state = 'LIVE';
  });

  it('mutating endpoints answer 405 to GET, saying to use POST, and do nothing', async () => {
    for (const p of ['/healthcheck/fail', '/healthcheck/ok', '/quitquitquit', '/drain_listeners']) {
      const r = await get(p);
      assert.equal(r.status, 405, p);
      assert.equal(r.body, 'Method GET not allowed, POST required.\n');
    }
    assert.equal(ctx.healthCheckFailed, false);
    assert.equal(ctx.quits, 0);
    assert.equal(ctx.drains.length, 0);
  });

  it('/healthcheck/fail and /healthcheck/ok flip readiness', async () => {
    const fail = await get('/healthcheck/fail', { method: 'POST' });
    assert.deepEqual([fail.status, fail.body], [200, 'OK\n']);
    assert.deepEqual([(await get('/ready')).status, (await get('/ready')).body], [503, 'DRAINING\n']);
    assert.equal((await get('/healthcheck/ok', { method: 'POST' })).status, 200);
    assert.equal((await get('/ready')).status, 200);
  });

  it('/drain_listeners passes inboundonly and graceful; /quitquitquit quits after answering', async () => {
    assert.equal((await get('/drain_listeners?inboundonly&graceful', { method: 'POST' })).status, 200);
    assert.equal((await get('/drain_listeners', { method: 'POST' })).status, 200);
    assert.deepEqual(ctx.drains, [{ inboundOnly: true, graceful: true }, { inboundOnly: false, graceful: false }]);
    const r = await get('/quitquitquit', { method: 'POST' });
    assert.deepEqual([r.status, r.body], [200, 'OK\n']);
    assert.equal(ctx.quits, 1);
  });

  it('unknown paths are 404 with the endpoint list', async () => {
    const r = await get('/nope');
    assert.equal(r.status, 404);
    assert.match(r.body, /^invalid path\. admin commands are:\n/);
    assert.match(r.body, /\/stats: /);
    assert.equal((await get('/stats/nope')).status, 404);
  });

  it('/stats: text with filter and usedonly, json, prometheus, and 400 for a bad regex', async () => {
    const before = ctx.statsCalls;
    const text = await get('/stats?filter=upstream_rq_total');
    assert.equal(text.status, 200);
    assert.match(text.type, /^text\/plain/);
    assert.equal(text.body, 'cluster.backend.upstream_rq_total: 5\n');
    assert.ok(ctx.statsCalls > before, 'stats() is asked for fresh data');
    const used = await get('/stats?usedonly');
    assert.doesNotMatch(used.body, /upstream_rq_5xx/);
    assert.match(used.body, /cluster\.backend\.upstream_rq_time: P0\(4,4\)/);
    const json = await get('/stats?format=json&filter=server');
    assert.equal(json.type, 'application/json');
    assert.deepEqual(JSON.parse(json.body), { stats: [{ name: 'server.live', value: 1 }] });
    const prom = await get('/stats?format=prometheus&filter=server');
    assert.equal(prom.body, '# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n\n');
    const bad = await get('/stats?filter=(');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /Invalid regex/);
  });

  it('/stats/prometheus: text exposition content type, counters with labels, histograms', async () => {
    const r = await get('/stats/prometheus');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="backend"\} 5$/m);
    assert.match(r.body, /^envoy_cluster_upstream_rq_time_count\{envoy_cluster_name="backend"\} 1$/m);
    assert.match(r.body, /^envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="backend",le="5"\} 1$/m);
    const used = await get('/stats/prometheus?usedonly');
    assert.doesNotMatch(used.body, /upstream_rq_xx|rq_5xx/);
  });

  it('/clusters in Envoy\'s text form and as JSON', async () => {
    const r = await get('/clusters');
    assert.equal(r.status, 200);
    const lines = r.body.split('\n');
    assert.equal(lines[0], 'backend::observability_name::backend');
    assert.ok(lines.includes('backend::default_priority::max_connections::1024'));
    assert.ok(lines.includes('backend::high_priority::max_retries::3'));
    assert.ok(lines.includes('backend::added_via_api::false'));
    const host = lines.filter((l) => l.startsWith('backend::127.0.0.1:8080::'));
    assert.deepEqual(host.slice(0, 5), [
      'backend::127.0.0.1:8080::cx_active::1',
      'backend::127.0.0.1:8080::cx_total::2',
      'backend::127.0.0.1:8080::rq_total::5',
      'backend::127.0.0.1:8080::hostname::',
      'backend::127.0.0.1:8080::health_flags::healthy',
    ]);
    assert.ok(host.includes('backend::127.0.0.1:8080::weight::1'));
    assert.ok(host.includes('backend::127.0.0.1:8080::success_rate::-1'));
    const json = await get('/clusters?format=json');
    assert.equal(json.type, 'application/json');
    const doc = JSON.parse(json.body) as { cluster_statuses: { name: string; host_statuses: { address: unknown; stats: unknown[]; health_status: unknown }[] }[] };
    assert.equal(doc.cluster_statuses[0]!.name, 'backend');
    const h = doc.cluster_statuses[0]!.host_statuses[0]!;
    assert.deepEqual(h.address, { socket_address: { address: '127.0.0.1', port_value: 8080 } });
    assert.deepEqual(h.stats, [{ value: '5', name: 'rq_total' }, { value: '2', name: 'cx_total' }, { type: 'GAUGE', value: '1', name: 'cx_active' }]);
    assert.deepEqual(h.health_status, { eds_health_status: 'HEALTHY' });
  });

  it('/listeners as name::address lines and as JSON', async () => {
    const r = await get('/listeners');
    assert.equal(r.body, 'web::0.0.0.0:10000\nv6::[::1]:10001\n');
    const json = JSON.parse((await get('/listeners?format=json')).body) as unknown;
    assert.deepEqual(json, {
      listener_statuses: [
        { name: 'web', local_address: { socket_address: { address: '0.0.0.0', port_value: 10000 } } },
        { name: 'v6', local_address: { socket_address: { address: '::1', port_value: 10001 } } },
      ],
    });
  });

  it('/server_info and /config_dump are the context\'s JSON', async () => {
    const info = await get('/server_info');
    assert.equal(info.type, 'application/json');
    assert.equal((JSON.parse(info.body) as { state: string }).state, 'LIVE');
    const dump = JSON.parse((await get('/config_dump')).body) as { configs: { '@type': string }[] };
    assert.match(dump.configs[0]!['@type'], /BootstrapConfigDump$/);
  });

  it('a failing context answers 500 and the server keeps serving', async () => {
    const original = ctx.stats;
    ctx.stats = () => Promise.reject(new Error('workers did not answer'));
    const r = await get('/stats');
    assert.equal(r.status, 500);
    assert.match(r.body, /workers did not answer/);
    ctx.stats = original;
    assert.equal((await get('/ready')).status, 200);
  });
});

describe('startAdminServer', () => {
  it('rejects with a typed error when the port is taken', async () => {
    const first = await startAdminServer({ address: '127.0.0.1', port: 0, context: new FakeContext() });
    try {
      await assert.rejects(
        startAdminServer({ address: '127.0.0.1', port: first.port, context: new FakeContext() }),
        (err: unknown) => (err as { code?: string }).code === 'ADMIN_LISTEN_FAILED',
      );
    } finally {
      await first.close();
    }
  });
});
