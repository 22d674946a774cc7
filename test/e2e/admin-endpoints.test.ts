// End to end: the admin endpoints Envoy operators use (issue 13 §5) on a real Legate: what each changes in the
// running server (log levels, counters, readiness, runtime's admin layer, listeners, log files, profiles) and
// the shapes Envoy answers in. Two processes: one for the endpoints that leave the server serving, one that drains
// (and runs with --admin-token-path, --log-path and the admin bound beyond loopback).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, rawExchange, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

const POST = { method: 'POST' } as const;

/** An HTTP/2 client that breaks the protocol at once (DATA on stream 0): the worker closes with GOAWAY and logs it at debug. */
function h2ProtocolError(port: number): Promise<unknown> {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
  const dataOnStream0 = Buffer.from([0, 0, 1, 0x0, 0, 0, 0, 0, 0, 0x61]);
  return rawExchange(port, Buffer.concat([preface, settings, dataOnStream0]));
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('admin endpoints (Envoy\'s), on a serving Legate', { skip: !opensslAvailable() && 'openssl is needed for the TLS listener' }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  let tlsPort: number;
  let pki: TestPki;
  let dir: string;

  before(async () => {
    pki = TestPki.create();
    const cert = pki.issue('edge', { sans: ['DNS:edge.test'] });
    up = await startUpstream('backend');
    dir = tempDir('legate-admin-');
    const tls = tlsListener({ name: 'tls', certPath: cert.certPath, keyPath: cert.keyPath, filters: routeAllHcm('tls', 'backend') })
      // One key inline, for the redaction check.
      .replace(`private_key: { filename: ${cert.keyPath} }`, `private_key: { inline_string: ${JSON.stringify(cert.keyPem)} }`);
    const config =
      bootstrap(
        [hcmListener({ name: 'web', statPrefix: 'web', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }] }), tls],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })],
      ).replace('admin:\n', `admin:\n  profile_path: ${path.join(dir, 'legate.prof')}\n`) +
      'layered_runtime:\n  layers:\n  - name: static\n    static_layer: { a: { b: 1 } }\n  - name: admin\n    admin_layer: {}\n';
    legate = await startLegate({ concurrency: 2, config });
    port = await legate.listenerPort('web');
    tlsPort = await legate.listenerPort('tls');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    pki?.remove();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a GET on an endpoint that changes state is 405 "Method GET not allowed, POST required." and changes nothing', async () => {
    for (const p of ['/quitquitquit', '/logging?level=trace', '/reset_counters', '/healthcheck/fail', '/runtime_modify?k=v']) {
      const r = await legate.admin(p);
      assert.deepEqual([r.status, r.body], [405, 'Method GET not allowed, POST required.'], p);
    }
    assert.equal((await legate.admin('/ready')).status, 200);
    assert.equal(legate.exitCode, null);
  });

  it('/reset_counters zeroes the counters of every worker (gauges stay), as Envoy', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await curl([`http://127.0.0.1:${port}/`])).status, 200);
    let stats = await legate.statsMap();
    assert.equal(stats.get('cluster.backend.upstream_rq_total'), 6);
    assert.equal(stats.get('http.web.downstream_rq_total'), 6);
    assert.deepEqual([(await legate.admin('/reset_counters', POST)).body], ['OK\n']);
    stats = await legate.statsMap();
    assert.equal(stats.get('cluster.backend.upstream_rq_total'), 0);
    assert.equal(stats.get('http.web.downstream_rq_total'), 0);
    assert.equal(stats.get('server.concurrency'), 2, 'gauges are not counters');
    assert.equal(stats.get('server.live'), 1);
    // Counting goes on from zero.
    await curl([`http://127.0.0.1:${port}/`]);
    stats = await legate.statsMap();
    assert.equal(stats.get('cluster.backend.upstream_rq_total'), 1);
  });

  it('/logging?level=debug makes every thread log debug lines; ?level=info stops them again', async () => {
    const line = 'closing with GOAWAY(1)';
    await h2ProtocolError(port); // at info: not logged
    let r = await legate.admin('/logging?level=debug', POST);
    assert.equal(r.status, 200);
    assert.match(r.body, /^  main: debug$/m);
    assert.match(legate.stderr, /change all log levels: level='debug'/);
    await h2ProtocolError(port);
    await legate.waitForLog(/closing with GOAWAY\(1\)/);
    assert.equal(count(legate.stderr, line), 1, 'only the exchange made at debug was logged');
    r = await legate.admin('/logging?paths=main:info', POST);
    assert.match(r.body, /^  main: info$/m);
    await h2ProtocolError(port);
    // The /logging answer below is logged after the exchange (whole lines, in order): it bounds the wait.
    r = await legate.admin('/logging?nosuch=debug', POST);
    assert.equal(r.status, 400);
    assert.match(r.body, /^error: unknown logger name\n/);
    await legate.admin('/logging?level=info', POST);
    await legate.waitForLog(/change all log levels: level='info'/);
    assert.equal(count(legate.stderr, line), 1, 'back at info, no more debug lines');
  });

  it('/healthcheck/fail: /ready 503 DRAINING, server.live 0, server.state 1 (DRAINING); /healthcheck/ok undoes it', async () => {
    assert.equal((await legate.admin('/healthcheck/fail', POST)).body, 'OK\n');
    const ready = await legate.admin('/ready');
    assert.deepEqual([ready.status, ready.body], [503, 'DRAINING\n']);
    let stats = await legate.statsMap();
    assert.equal(stats.get('server.live'), 0);
    assert.equal(stats.get('server.state'), 1);
    assert.equal((JSON.parse((await legate.admin('/server_info')).body) as { state: string }).state, 'DRAINING');
    assert.equal((await curl([`http://127.0.0.1:${port}/`])).status, 200, 'the listeners still serve');
    await legate.admin('/healthcheck/ok', POST);
    assert.deepEqual([(await legate.admin('/ready')).body], ['LIVE\n']);
    stats = await legate.statsMap();
    assert.equal(stats.get('server.live'), 1);
    assert.equal(stats.get('server.state'), 0);
  });

  it('/runtime_modify writes the admin layer /runtime shows', async () => {
    assert.equal((await legate.admin('/runtime_modify?a.b=7&x=on', POST)).body, 'OK\n');
    const rt = JSON.parse((await legate.admin('/runtime')).body) as { layers: string[]; entries: Record<string, { layer_values: string[]; final_value: string }> };
    assert.deepEqual(rt.layers, ['static', 'admin']);
    assert.deepEqual(rt.entries['a.b'], { layer_values: ['1', '7'], final_value: '7' });
    assert.deepEqual(rt.entries['x'], { layer_values: ['', 'on'], final_value: 'on' });
    await legate.waitForLog(/a\.b, x set in the admin layer: shown by \/runtime, without effect/);
  });

  it('/memory: Envoy\'s fields from the V8 heaps of every thread and the RSS', async () => {
    const m = JSON.parse((await legate.admin('/memory?per_thread')).body) as Record<string, unknown> & { legate_threads: { thread: string; used_heap_size: string }[] };
    for (const f of ['allocated', 'heap_size', 'pageheap_unmapped', 'pageheap_free', 'total_thread_cache', 'total_physical_bytes']) {
      assert.equal(typeof m[f], 'string', f);
    }
    assert.ok(Number(m['allocated']) > 0);
    assert.ok(Number(m['heap_size']) >= Number(m['allocated']));
    assert.ok(Number(m['total_physical_bytes']) > 0);
    assert.deepEqual(m.legate_threads.map((t) => t.thread), ['main', 'worker_0', 'worker_1']);
    const threadSum = m.legate_threads.reduce((s, t) => s + Number(t.used_heap_size), 0);
    assert.ok(threadSum > 0 && threadSum <= Number(m['allocated']));
  });

  it('/config_dump: Envoy\'s dumps, durations as strings, the private key redacted; ?resource, ?mask, ?name_regex', async () => {
    const raw = (await legate.admin('/config_dump')).body;
    assert.ok(!raw.includes('PRIVATE KEY'), 'no key material in the dump');
    const dump = JSON.parse(raw) as { configs: Record<string, unknown>[] };
    assert.deepEqual(dump.configs.map((c) => String(c['@type']).replace('type.googleapis.com/envoy.admin.v3.', '')), [
      'BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'ScopedRoutesConfigDump', 'RoutesConfigDump', 'SecretsConfigDump',
    ]);
    const clusters = dump.configs[1] as { static_clusters: { cluster: { connect_timeout: string } }[] };
    assert.equal(clusters.static_clusters[0]!.cluster.connect_timeout, '1s');
    const tls = await legate.admin('/config_dump?resource=static_listeners&name_regex=tls');
    const listeners = JSON.parse(tls.body) as { configs: { '@type': string; listener: { name: string; filter_chains: { transport_socket: { typed_config: { common_tls_context: { tls_certificates: { private_key: unknown }[] } } } }[] } }[] };
    assert.equal(listeners.configs.length, 1);
    assert.equal(listeners.configs[0]!['@type'], 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump.StaticListener');
    const key = listeners.configs[0]!.listener.filter_chains[0]!.transport_socket.typed_config.common_tls_context.tls_certificates[0]!.private_key;
    assert.deepEqual(key, { inline_string: '[redacted]' });
    const masked = JSON.parse((await legate.admin('/config_dump?resource=static_clusters&mask=cluster.name')).body) as { configs: { cluster: unknown }[] };
    assert.deepEqual(masked.configs.map((c) => c.cluster), [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'backend' }]);
    const eds = JSON.parse((await legate.admin('/config_dump?resource=static_endpoint_configs&include_eds')).body) as { configs: { endpoint_config: { cluster_name: string; endpoints: { lb_endpoints: { endpoint: { address: unknown } }[] }[] } }[] };
    assert.equal(eds.configs[0]!.endpoint_config.cluster_name, 'backend');
    assert.deepEqual(eds.configs[0]!.endpoint_config.endpoints[0]!.lb_endpoints[0]!.endpoint.address, { socket_address: { address: '127.0.0.1', port_value: up.port } });
  });

  it('/stats/recentlookups records the stat names a reload looks up once enabled', async () => {
    assert.match((await legate.admin('/stats/recentlookups')).body, /^Lookup tracking is not enabled/);
    await legate.admin('/stats/recentlookups/enable', POST);
    assert.ok(await legate.reload());
    const text = (await legate.admin('/stats/recentlookups')).body;
    assert.match(text, /^   Count Lookup\n/);
    // Sorted by name and capped (Envoy keeps the most recent lookups): an early name of the cluster is listed.
    assert.match(text, /^ {7}1 cluster\.backend\.membership_total$/m);
    await legate.admin('/stats/recentlookups/clear', POST);
    assert.equal((await legate.admin('/stats/recentlookups')).body, '   Count Lookup\n\ntotal: 0\n');
    await legate.admin('/stats/recentlookups/disable', POST);
  });

  it('/cpuprofiler and /heapprofiler write one V8 profile per thread under admin.profile_path', async () => {
    assert.equal((await legate.admin('/cpuprofiler?enable=y', POST)).body, 'OK\n');
    await curl([`http://127.0.0.1:${port}/`]);
    assert.equal((await legate.admin('/cpuprofiler?enable=n', POST)).body, 'OK\n');
    for (const t of ['main', 'worker_0', 'worker_1']) {
      const profile = JSON.parse(fs.readFileSync(path.join(dir, `legate.prof.${t}.cpuprofile`), 'utf8')) as { nodes: unknown[]; startTime: number };
      assert.ok(profile.nodes.length > 0, t);
    }
    assert.equal((await legate.admin('/heapprofiler?enable=y', POST)).body, 'Starting heap profiler');
    const stopped = await legate.admin('/heapprofiler?enable=n', POST);
    assert.match(stopped.body, /^Heap profiler stopped and data written to /);
    for (const t of ['main', 'worker_0', 'worker_1']) {
      const profile = JSON.parse(fs.readFileSync(path.join(dir, `legate.prof.${t}.heapprofile`), 'utf8')) as { head: unknown };
      assert.ok(profile.head !== undefined, t);
    }
  });

  it('/heap_dump streams V8\'s heap snapshot (of a worker with ?worker=)', async () => {
    const res = await fetch(`http://127.0.0.1:${legate.adminPort}/heap_dump?worker=1`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(Buffer.from(first.value!).toString('latin1'), /^\{"snapshot":\{"meta":/);
    await reader.cancel();
    // The first dump ended (its client went away): another may start.
    await waitUntil(async () => (await legate.admin('/heap_dump?worker=9')).status === 404, () => 'a dump to be possible again');
  });

  it('/hot_restart_version and /init_dump', async () => {
    assert.equal((await legate.admin('/hot_restart_version')).body, 'disabled');
    assert.equal((await legate.admin('/init_dump')).body, '{}\n');
  });
});

describe('admin: drain_listeners, reopen_logs, the admin token and a non-loopback bind', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let inboundPort: number;
  let outboundPort: number;
  let dir: string;
  let logPath: string;
  const token = 'test-admin-token';
  const auth = { method: 'POST', headers: { authorization: `Bearer ${token}` } } as const;

  before(async () => {
    up = await startUpstream('backend');
    dir = tempDir('legate-admin-drain-');
    logPath = path.join(dir, 'legate.log');
    const addressPath = path.join(dir, 'admin.address');
    fs.writeFileSync(path.join(dir, 'token'), `${token}\n`);
    const route = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }];
    const config = bootstrap(
      [
        hcmListener({ name: 'inbound', routes: route }).replace('    address:\n', '    traffic_direction: INBOUND\n    address:\n'),
        hcmListener({ name: 'outbound', routes: route }).replace('    address:\n', '    traffic_direction: OUTBOUND\n    address:\n'),
      ],
      [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })],
    ).replace('socket_address: { address: 127.0.0.1, port_value: 0 }', 'socket_address: { address: 0.0.0.0, port_value: 0 }');
    legate = await startLegate({
      concurrency: 2,
      config,
      waitReady: false,
      args: ['--drain-time-s', '3', '--log-path', logPath, '--admin-address-path', addressPath, '--admin-token-path', path.join(dir, 'token')],
    });
    await waitUntil(() => fs.existsSync(addressPath) && fs.readFileSync(addressPath, 'utf8').includes('\n'), () => 'the admin address file');
    legate.adminPort = Number(/:(\d+)\n/.exec(fs.readFileSync(addressPath, 'utf8'))![1]);
    await waitUntil(() => fs.readFileSync(logPath, 'utf8').includes('legate started'), () => `legate started in ${logPath}`);
    inboundPort = await legate.listenerPort('inbound');
    outboundPort = await legate.listenerPort('outbound');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('warns that the admin listens beyond loopback', () => {
    assert.match(fs.readFileSync(logPath, 'utf8'), /admin: listening on 0\.0\.0\.0:\d+, which is not a loopback address/);
  });

  it('with --admin-token-path a POST needs the bearer token: 401 without it, 403 with another', async () => {
    let r = await legate.admin('/healthcheck/fail', POST);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="legate-admin"');
    r = await legate.admin('/healthcheck/fail', { method: 'POST', headers: { authorization: 'Bearer nope' } });
    assert.equal(r.status, 403);
    assert.equal((await legate.admin('/ready')).status, 200, 'nothing changed');
    assert.equal((await legate.admin('/stats')).status, 200, 'reading needs no token');
  });

  it('/reopen_logs reopens --log-path (after logrotate\'s rename, lines go to a new file)', async () => {
    fs.renameSync(logPath, `${logPath}.1`);
    assert.equal((await legate.admin('/reopen_logs', auth)).body, 'OK\n');
    await waitUntil(() => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').includes('/reopen_logs: reopened'), () => 'the new log file');
    assert.ok(!fs.readFileSync(`${logPath}.1`, 'utf8').includes('/reopen_logs: reopened'));
  });

  it('/drain_listeners?inboundonly stops only the INBOUND listeners', async () => {
    assert.equal((await legate.admin('/drain_listeners?inboundonly', auth)).body, 'OK\n');
    await waitUntil(async () => (await curl([`http://127.0.0.1:${inboundPort}/`])).status === 0, () => 'the inbound listener to stop accepting');
    assert.equal((await curl([`http://127.0.0.1:${outboundPort}/`])).status, 200, 'the outbound listener still serves');
  });

  it('/drain_listeners?graceful drains connections but keeps accepting for --drain-time-s, then stops', async () => {
    // An idle keep-alive connection from before the drain: closed by it.
    const idle = net.connect(outboundPort, '127.0.0.1');
    let idleClosed = false;
    idle.on('close', () => {
      idleClosed = true;
    });
    idle.on('error', () => undefined);
    idle.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise<void>((resolve) => idle.once('data', () => resolve()));
    assert.equal((await legate.admin('/drain_listeners?graceful', auth)).body, 'OK\n');
    await waitUntil(() => idleClosed, () => 'the drain to close the idle connection');
    // Still accepting during the drain period.
    const during = await curl([`http://127.0.0.1:${outboundPort}/`]);
    assert.equal(during.status, 200);
    // After it, refused.
    await waitUntil(async () => (await curl([`http://127.0.0.1:${outboundPort}/`])).status === 0, () => 'the listener to stop accepting', 20_000, 200);
    assert.equal((await legate.admin('/ready')).status, 200, 'draining listeners is not failing health checks');
  });
});
