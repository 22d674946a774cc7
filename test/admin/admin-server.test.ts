// The admin server on 127.0.0.1 port 0 with a fake AdminContext: every endpoint's status and content type,
// the POST-only rule, 404 with the endpoint list, stats filters and formats, and the context calls made.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.ts';
import type { AdminContext, ClusterView, ServerStateName } from '../../src/admin/admin-context.ts';
import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { SharedRegions } from '../../src/stats/shared-regions.ts';
import { LoggerLevels } from '../../src/admin/logging-levels.ts';
import { mergeAdminValues, runtimeView } from '../../src/admin/format-runtime.ts';
import type { ConfigDumpInput } from '../../src/admin/config-dump.ts';
import type { MemorySample } from '../../src/admin/format-memory.ts';
import { RecentLookups } from '../../src/stats/recent-lookups.ts';
import { Readable } from 'node:stream';

class FakeContext implements AdminContext {
  state: ServerStateName = 'LIVE';
  healthCheckFailed = false;
  quits = 0;
  drains: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }[] = [];
  statsCalls = 0;
  readonly regions: SharedRegions;
  readonly loggers = new LoggerLevels('info', []);
  loggingMessages: string[] = [];
  readonly adminRuntime = new Map<string, string>();
  withAdminLayer = true;
  counterResets = 0;
  reopens = 0;
  readonly lookups = new RecentLookups();
  readonly profiling = { cpu: false, heap: false };
  bootstrap: Record<string, unknown> = {
    static_resources: { clusters: [{ name: 'backend', connect_timeout: 250, type: 'STATIC' }, { name: 'other', connect_timeout: 1000 }] },
    layered_runtime: { layers: [{ name: 'static', static_layer: { a: { b: 1 } } }, { name: 'admin', admin_layer: {} }] },
  };

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
  configDumpInput(): ConfigDumpInput {
    return { bootstrap: this.bootstrap, lastUpdatedMs: 0, clusters: [] };
  }
  runtime() {
    return runtimeView(this.bootstrap, this.adminRuntime);
  }
  runtimeModify(changes: readonly [string, string][]): string | null {
    if (!this.withAdminLayer) return 'No admin layer specified';
    mergeAdminValues(this.adminRuntime, changes);
    return null;
  }
  loggingChanged(messages: readonly string[]) {
    this.loggingMessages.push(...messages);
  }
  reopenLogs() {
    this.reopens++;
  }
  async resetCounters() {
    this.counterResets++;
  }
  async memory(): Promise<MemorySample> {
    const heap = { usedHeapSize: 10, totalHeapSize: 16, externalMemory: 2, mallocedMemory: 1 };
    return { threads: [{ thread: 'main', heap }, { thread: 'worker_0', heap }], rssBytes: 1000 };
  }
  recentLookups() {
    return this.lookups;
  }
  heapSnapshot(worker: number | null) {
    return worker === null || worker === 0 ? Promise.resolve(Readable.from([`{"snapshot":${worker ?? '"main"'}}`])) : null;
  }
  profilerRunning(kind: 'cpu' | 'heap') {
    return this.profiling[kind];
  }
  async setProfiler(kind: 'cpu' | 'heap', enable: boolean) {
    this.profiling[kind] = enable;
    return { files: enable ? [] : [`/tmp/p.main.${kind}profile`], errors: [] };
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
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }) {
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

  it('mutating endpoints answer 405 to GET, saying to use POST (Envoy\'s words), and do nothing', async () => {
    const mutating = [
      '/healthcheck/fail', '/healthcheck/ok', '/quitquitquit', '/drain_listeners', '/logging', '/reset_counters', '/runtime_modify',
      '/reopen_logs', '/cpuprofiler', '/heapprofiler', '/stats/recentlookups/clear', '/stats/recentlookups/enable', '/stats/recentlookups/disable',
    ];
    for (const p of mutating) {
      const r = await get(`${p}?level=debug&enable=y`);
      assert.equal(r.status, 405, p);
      assert.equal(r.body, 'Method GET not allowed, POST required.');
    }
    assert.equal(ctx.loggers.effective, 'info');
    assert.equal(ctx.counterResets, 0);
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
    assert.deepEqual(ctx.drains, [{ inboundOnly: true, graceful: true, skipExit: false }, { inboundOnly: false, graceful: false, skipExit: false }]);
    const skip = await get('/drain_listeners?skip_exit', { method: 'POST' });
    assert.deepEqual([skip.status, skip.body], [400, 'skip_exit requires graceful\n']);
    assert.equal(ctx.drains.length, 2);
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
    // No flush interval has completed yet: the interval value is nan, the cumulative one the recorded 4 (as Envoy).
    assert.match(used.body, /cluster\.backend\.upstream_rq_time: P0\(nan,4\)/);
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
    assert.deepEqual(dump.configs.map((c) => c['@type'].replace('type.googleapis.com/envoy.admin.v3.', '')), [
      'BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'ScopedRoutesConfigDump', 'RoutesConfigDump', 'SecretsConfigDump',
    ]);
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

  // The endpoints issue 13 §5 added, as Envoy answers them.
  const call = get;
  const post = (path: string, init: RequestInit = {}) => get(path, { ...init, method: 'POST' });

  it('/help: "  /path (POST): help" and one line per parameter, enum choices listed', async () => {
    const help = (await call('/help')).body;
    assert.match(help, /^  \/quitquitquit \(POST\): exit the server$/m);
    assert.match(help, /^  \/memory: print current allocation\/heap usage$/m);
    assert.match(help, /^      enable: enables the CPU profiler; One of \(y, n\)$/m);
    assert.match(help, /^      inboundonly: Drains all inbound listeners\./m);
  });

  it('/logging lists every logger; ?level= sets all, ?<name>= one, ?paths= several; bad input is 400 with the usage', async () => {
    let r = await post('/logging');
    assert.equal(r.status, 200);
    assert.match(r.body, /^active loggers:\n/);
    assert.match(r.body, /^  main: info$/m);
    assert.match(r.body, /^  http: info$/m);
    r = await post('/logging?level=debug');
    assert.equal(r.status, 200);
    assert.match(r.body, /^  upstream: debug$/m);
    assert.equal(ctx.loggers.effective, 'debug');
    assert.deepEqual(ctx.loggingMessages, ["change all log levels: level='debug'"]);
    r = await post('/logging?main=warning');
    assert.match(r.body, /^  main: warning$/m);
    assert.equal(ctx.loggers.effective, 'warn');
    r = await post('/logging?paths=main:error,http:trace');
    assert.match(r.body, /^  main: error$/m);
    assert.match(r.body, /^  http: trace$/m);
    for (const [q, error] of [
      ['level=loud', 'unknown logger level'],
      ['nosuchlogger=debug', 'unknown logger name'],
      ['paths=main:', 'empty logger name or empty logger level'],
      ['main=debug&http=debug', 'invalid number of parameters'],
      ['main=warn', 'unknown logger level'],
    ] as const) {
      r = await post(`/logging?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.body, new RegExp(`^error: ${error}\n\nusage: /logging\\?<name>=<level> \\(change single level\\)\n`), q);
      assert.match(r.body, /^levels: trace debug info warning error critical off \n/m);
    }
    assert.equal(ctx.loggers.effective, 'error', 'a refused change changes nothing');
  });

  it('parameters may come as a form body when the query has none (as Envoy)', async () => {
    const r = await post('/logging', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'level=info' });
    assert.equal(r.status, 200);
    assert.equal(ctx.loggers.effective, 'info');
    const big = await post('/logging', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x'.repeat(70_000) });
    assert.equal(big.status, 413);
  });

  it('/runtime_modify sets and removes admin-layer keys that /runtime shows; no params is 400, no admin layer 503', async () => {
    let r = await post('/runtime_modify?x.y=3&a.b=2');
    assert.deepEqual([r.status, r.body], [200, 'OK\n']);
    let rt = JSON.parse((await call('/runtime')).body) as { layers: string[]; entries: Record<string, { layer_values: string[]; final_value: string }> };
    assert.deepEqual(rt.layers, ['static', 'admin']);
    assert.deepEqual(rt.entries['a.b'], { layer_values: ['1', '2'], final_value: '2' });
    assert.deepEqual(rt.entries['x.y'], { layer_values: ['', '3'], final_value: '3' });
    r = await post('/runtime_modify', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x.y=' });
    assert.equal(r.status, 200);
    rt = JSON.parse((await call('/runtime')).body) as typeof rt;
    assert.equal(rt.entries['x.y'], undefined);
    r = await post('/runtime_modify');
    assert.equal(r.status, 400);
    assert.match(r.body, /^usage: \/runtime_modify\?key1=value1&key2=value2&keyN=valueN\n/);
    ctx.withAdminLayer = false;
    r = await post('/runtime_modify?k=v');
    assert.deepEqual([r.status, r.body], [503, 'No admin layer specified']);
    ctx.withAdminLayer = true;
  });

  it('/stats/recentlookups: off by default; enable, clear and disable', async () => {
    ctx.lookups.lookup('cluster.a.x');
    let r = await call('/stats/recentlookups');
    assert.equal(r.body, 'Lookup tracking is not enabled. Use /stats/recentlookups/enable to enable.\n\ntotal: 1\n');
    assert.equal((await post('/stats/recentlookups/enable')).body, 'OK\n');
    r = await call('/stats/recentlookups');
    assert.equal(r.body, '   Count Lookup\n\ntotal: 1\n');
    ctx.lookups.lookup('cluster.b.x');
    ctx.lookups.lookup('cluster.b.x');
    ctx.lookups.lookup('cluster.a.x');
    r = await call('/stats/recentlookups');
    assert.equal(r.body, '   Count Lookup\n       1 cluster.a.x\n       2 cluster.b.x\n\ntotal: 4\n');
    await post('/stats/recentlookups/clear');
    assert.equal((await call('/stats/recentlookups')).body, '   Count Lookup\n\ntotal: 0\n');
    await post('/stats/recentlookups/disable');
    assert.match((await call('/stats/recentlookups')).body, /^Lookup tracking is not enabled/);
  });

  it('/memory: Envoy\'s Memory fields as strings; ?per_thread adds each thread', async () => {
    const r = await call('/memory');
    assert.equal(r.type, 'application/json');
    assert.deepEqual(JSON.parse(r.body), {
      allocated: '24', heap_size: '36', pageheap_unmapped: '0', pageheap_free: '12', total_thread_cache: '0', total_physical_bytes: '1000',
    });
    const threads = (JSON.parse((await call('/memory?per_thread')).body) as { legate_threads: { thread: string }[] }).legate_threads;
    assert.deepEqual(threads.map((t) => t.thread), ['main', 'worker_0']);
  });

  it('/hot_restart_version, /init_dump, /reset_counters, /reopen_logs', async () => {
    assert.deepEqual([(await call('/hot_restart_version')).body], ['disabled']);
    assert.deepEqual(JSON.parse((await call('/init_dump')).body), {});
    assert.deepEqual([(await post('/reset_counters')).body, ctx.counterResets], ['OK\n', 1]);
    assert.deepEqual([(await post('/reopen_logs')).body, ctx.reopens], ['OK\n', 1]);
  });

  it('/cpuprofiler and /heapprofiler: ?enable=y|n only, Envoy\'s answers', async () => {
    assert.equal((await post('/cpuprofiler')).status, 400);
    assert.equal((await post('/cpuprofiler?enable=yes')).body, '?enable=<y|n>\n');
    assert.equal((await post('/cpuprofiler?enable=y')).body, 'OK\n');
    assert.equal(ctx.profiling.cpu, true);
    assert.equal((await post('/cpuprofiler?enable=y')).body, 'OK\n');
    assert.equal((await post('/cpuprofiler?enable=n')).body, 'OK\n');
    assert.equal(ctx.profiling.cpu, false);
    let r = await post('/heapprofiler?enable=n');
    assert.deepEqual([r.status, r.body], [400, 'Fail to stop heap profiler: not started']);
    r = await post('/heapprofiler?enable=y');
    assert.deepEqual([r.status, r.body], [200, 'Starting heap profiler']);
    r = await post('/heapprofiler?enable=y');
    assert.deepEqual([r.status, r.body], [400, 'Fail to start heap profiler: already started']);
    r = await post('/heapprofiler?enable=n');
    assert.equal(r.status, 200);
    assert.match(r.body, /^Heap profiler stopped and data written to \/tmp\/p\.main\.heapprofile\./);
  });

  it('/heap_dump streams the snapshot of the primary or of ?worker=<i>; a worker not running is 404', async () => {
    assert.equal((await call('/heap_dump')).body, '{"snapshot":"main"}');
    assert.equal((await call('/heap_dump?worker=0')).body, '{"snapshot":0}');
    assert.equal((await call('/heap_dump?worker=7')).status, 404);
    assert.equal((await call('/heap_dump?worker=x')).status, 400);
  });

  it('/config_dump: ?resource=, ?mask=, ?name_regex= as Envoy, durations as strings', async () => {
    const all = JSON.parse((await call('/config_dump')).body) as { configs: Record<string, unknown>[] };
    const clusters = all.configs[1] as { static_clusters: { cluster: Record<string, unknown> }[] };
    assert.deepEqual(clusters.static_clusters[0]!.cluster, {
      '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'backend', connect_timeout: '0.250s', type: 'STATIC',
    });
    let r = await call('/config_dump?resource=static_clusters&mask=cluster.name&name_regex=back.*');
    assert.deepEqual(JSON.parse(r.body), {
      configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster', cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'backend' } }],
    });
    r = await call('/config_dump?mask=static_clusters');
    assert.deepEqual((JSON.parse(r.body) as { configs: { '@type': string }[] }).configs.map((c) => c['@type']), ['type.googleapis.com/envoy.admin.v3.ClustersConfigDump']);
    r = await call('/config_dump?name_regex=back');
    assert.equal((JSON.parse(r.body) as { configs: { static_clusters?: unknown[] }[] }).configs[1]!.static_clusters, undefined, 'the regex matches whole names');
    r = await call('/config_dump?resource=bootstrap');
    assert.deepEqual([r.status, r.body], [400, 'bootstrap is not a repeated field. Use ?mask=bootstrap to get only this field']);
    r = await call('/config_dump?resource=no_such_field');
    assert.deepEqual([r.status, r.body], [404, 'no_such_field not found in config dump']);
    r = await call('/config_dump?mask=no_such_field');
    assert.deepEqual([r.status, r.body], [400, 'FieldMask no_such_field could not be successfully applied to any configs.']);
    r = await call('/config_dump?resource=static_clusters&mask=cluster.nope');
    assert.equal(r.status, 400);
    r = await call('/config_dump?name_regex=(a');
    assert.equal(r.status, 400);
    assert.match(r.body, /^INVALID_ARGUMENT: Error while parsing name_regex from \(a: /);
  });
});

describe('admin token (--admin-token-path)', () => {
  it('endpoints that change state and /heap_dump need the bearer token: 401 without, 403 with another', async () => {
    const ctx = new FakeContext();
    const server = await startAdminServer({ address: '127.0.0.1', port: 0, context: ctx, token: 's3cret' });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      let res = await fetch(`${base}/healthcheck/fail`, { method: 'POST' });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="legate-admin"');
      res = await fetch(`${base}/healthcheck/fail`, { method: 'POST', headers: { authorization: 'Bearer wrong' } });
      assert.equal(res.status, 403);
      assert.equal((await fetch(`${base}/heap_dump`)).status, 401);
      assert.equal(ctx.healthCheckFailed, false);
      res = await fetch(`${base}/healthcheck/fail`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } });
      assert.equal(res.status, 200);
      assert.equal(ctx.healthCheckFailed, true);
      assert.equal((await fetch(`${base}/stats`)).status, 200, 'reading needs no token');
      assert.equal((await fetch(`${base}/quitquitquit`)).status, 405, 'a GET is refused for its method first');
    } finally {
      await server.close();
    }
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
