// End to end: active health checking (cluster health_checks) through bin/legate with two workers. The checks run
// once per host on the primary and the verdict reaches every worker: a host failing its HTTP check gets no request
// from any worker, and comes back after healthy_threshold passes. TCP (send/receive payloads, a closed port) and
// gRPC (grpc.health.v1.Health/Check on a real grpc-js server) checks; the event log; stats; /clusters flags;
// x-envoy-immediate-health-check-fail from an upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

/** An HTTP upstream whose health path answers `healthStatus`; counts the other requests it serves. */
class HealthUpstream {
  readonly name: string;
  readonly server: http.Server;
  healthStatus = 200;
  /** Answer the health path with x-envoy-degraded. */
  degraded = false;
  /** x-envoy-upstream-healthchecked-cluster on the health response ('' = none). */
  servesCluster = '';
  /** Answer every non-health request with x-envoy-immediate-health-check-fail. */
  failImmediately = false;
  healthChecks = 0;
  failedHealthChecks = 0;
  served = 0;
  lastHealthHeaders: http.IncomingHttpHeaders = {};
  port = 0;

  constructor(name: string) {
    this.name = name;
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/healthz') {
          this.healthChecks++;
          this.lastHealthHeaders = req.headers;
          if (this.healthStatus !== 200) this.failedHealthChecks++;
          const headers: Record<string, string> = this.degraded ? { 'x-envoy-degraded': 'true' } : {};
          if (this.servesCluster !== '') headers['x-envoy-upstream-healthchecked-cluster'] = this.servesCluster;
          res.writeHead(this.healthStatus, headers);
          res.end();
          return;
        }
        this.served++;
        const headers: Record<string, string> = { 'x-upstream': this.name };
        if (this.failImmediately) headers['x-envoy-immediate-health-check-fail'] = 'true';
        res.writeHead(200, headers);
        res.end(this.name);
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A TCP peer answering "pong" to "ping" (hex 70696e67 / 706f6e67). */
function startTcpPeer(): Promise<{ server: net.Server; port: number; pings: () => number }> {
  let pings = 0;
  const server = net.createServer((s) => {
    s.on('data', (d) => {
      if (d.toString().includes('ping')) {
        pings++;
        s.write('pong');
      }
    });
    s.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, pings: () => pings })));
}

/** A grpc-js server with grpc.health.v1.Health/Check answering `status` (1 SERVING, 2 NOT_SERVING). */
async function startGrpcHealth(status: number): Promise<{ server: grpc.Server; port: number; services: string[] }> {
  const services: string[] = [];
  const server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    { Check: { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    {
      Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        // HealthCheckRequest { string service = 1; }: tag 0x0a, one-byte length for the short names used here.
        const req = call.request;
        services.push(req.length > 2 ? req.subarray(2, 2 + req[1]!).toString() : '');
        cb(null, Buffer.from([0x08, status]));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err !== null ? reject(err) : resolve(p)));
  });
  return { server, port, services };
}

function get(port: number, urlPath = '/'): Promise<{ status: number; upstream: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers['x-upstream'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function hostFlags(clustersText: string, clusterName: string, port: number): string {
  const m = new RegExp(`^${clusterName}::127\\.0\\.0\\.1:${port}::health_flags::(.*)$`, 'm').exec(clustersText);
  return m === null ? '(absent)' : m[1]!;
}

const HC_TIMING = `      timeout: 1s
      interval: 0.1s
      no_traffic_interval: 0.1s
      unhealthy_threshold: 2
      healthy_threshold: 2
`;

describe('active health checks, two workers, one verdict', () => {
  let legate: LegateProcess;
  let ups: HealthUpstream[];
  let tcpPeer: Awaited<ReturnType<typeof startTcpPeer>>;
  let closedPort: number;
  let grpcServing: Awaited<ReturnType<typeof startGrpcHealth>>;
  let grpcNotServing: Awaited<ReturnType<typeof startGrpcHealth>>;
  let eventLog: string;
  let port: number;

  before(async () => {
    ups = await Promise.all(['a', 'b', 'c'].map((n) => new HealthUpstream(n).listen()));
    tcpPeer = await startTcpPeer();
    closedPort = await freePort();
    grpcServing = await startGrpcHealth(1);
    grpcNotServing = await startGrpcHealth(2);
    eventLog = path.join(tempDir('legate-hc-'), 'hc-events.log');
    const web = cluster({
      name: 'web',
      endpoints: ups.map((u) => ({ address: '127.0.0.1', port: u.port })),
      extra: `    health_checks:
    - ${HC_TIMING.trimStart()}      event_log_path: ${eventLog}
      http_health_check:
        path: /healthz
        retriable_statuses: [{ start: 503, end: 504 }]
        request_headers_to_add: [{ header: { key: x-hc, value: legate } }]
`,
    });
    const tcp = cluster({
      name: 'tcp',
      endpoints: [{ address: '127.0.0.1', port: tcpPeer.port }, { address: '127.0.0.1', port: closedPort }],
      extra: `    health_checks:
    - ${HC_TIMING.trimStart()}      tcp_health_check: { send: { text: "70696e67" }, receive: [{ text: "706f6e67" }] }
`,
    });
    const grpcCluster = cluster({
      name: 'grpc',
      endpoints: [{ address: '127.0.0.1', port: grpcServing.port }, { address: '127.0.0.1', port: grpcNotServing.port }],
      extra: `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    health_checks:
    - ${HC_TIMING.trimStart()}      grpc_health_check: { service_name: legate.Echo }
`,
    });
    const listener = hcmListener({ name: 'ingress', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }] });
    legate = await startLegate({ config: bootstrap([listener], [web, tcp, grpcCluster]), concurrency: 2 });
    port = await legate.listenerPort('ingress');
  });

  after(async () => {
    await legate?.stop();
    await Promise.all((ups ?? []).map((u) => u.close()));
    tcpPeer?.server.close();
    grpcServing?.server.forceShutdown();
    grpcNotServing?.server.forceShutdown();
  });

  async function clustersText(): Promise<string> {
    return (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body;
  }

  it('checks every host once, with the cluster name as Host and the configured headers; all start healthy', async () => {
    await waitUntil(async () => hostFlags(await clustersText(), 'web', ups[2]!.port) === 'healthy', () => 'web hosts never became healthy');
    const h = ups[0]!.lastHealthHeaders;
    assert.equal(h['host'], 'web');
    assert.equal(h['user-agent'], 'Envoy/HC');
    assert.equal(h['x-hc'], 'legate');
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add((await get(port)).upstream);
    assert.deepEqual([...seen].sort(), ['a', 'b', 'c']);
  });

  it('a host answering 503 (retriable) is ejected after unhealthy_threshold failures; no worker routes to it', async () => {
    const c = ups[2]!;
    c.healthStatus = 503;
    await waitUntil(async () => hostFlags(await clustersText(), 'web', c.port) === '/failed_active_hc', () => 'c was never ejected');
    assert.ok(c.failedHealthChecks >= 2, `ejected after ${c.failedHealthChecks} failed checks (threshold 2)`);
    // The verdict reaches the workers within one interval: let one more check pass before counting.
    const checks = c.failedHealthChecks;
    await waitUntil(() => c.failedHealthChecks > checks, () => 'no further health check of c');
    const before = c.served;
    const hits: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const r = await get(port);
      assert.equal(r.status, 200);
      hits[r.upstream] = (hits[r.upstream] ?? 0) + 1;
    }
    assert.equal(c.served, before, `c served ${c.served - before} requests while ejected: ${JSON.stringify(hits)}`);
    assert.ok((hits['a'] ?? 0) > 0 && (hits['b'] ?? 0) > 0, JSON.stringify(hits));
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.web.membership_total'), 3);
    assert.equal(stats.get('cluster.web.membership_healthy'), 2);
    assert.equal(stats.get('cluster.web.health_check.healthy'), 2);
    assert.ok((stats.get('cluster.web.health_check.failure') ?? 0) >= 2);
    const json = JSON.parse((await legate.admin('/clusters?format=json')).body) as {
      cluster_statuses: { name: string; host_statuses: { address: { socket_address: { port_value: number } }; health_status: Record<string, unknown> }[] }[];
    };
    const webJson = json.cluster_statuses.find((s) => s.name === 'web')!;
    const cJson = webJson.host_statuses.find((hs) => hs.address.socket_address.port_value === c.port)!;
    assert.equal(cJson.health_status['failed_active_health_check'], true);
    assert.equal(cJson.health_status['eds_health_status'], 'HEALTHY');
  });

  it('the host comes back after healthy_threshold passes and takes traffic again', async () => {
    const c = ups[2]!;
    c.healthStatus = 200;
    await waitUntil(async () => hostFlags(await clustersText(), 'web', c.port) === 'healthy', () => 'c never came back');
    const before = c.served;
    await waitUntil(async () => {
      await get(port);
      return c.served > before;
    }, () => 'c got no request after recovering');
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.web.membership_healthy'), 3);
    assert.ok((stats.get('cluster.web.health_check.attempt') ?? 0) >= (stats.get('cluster.web.health_check.success') ?? 0));
  });

  it('writes Envoy\'s HealthCheckEvent JSON lines to event_log_path', async () => {
    const c = ups[2]!;
    await waitUntil(() => fs.existsSync(eventLog) && fs.readFileSync(eventLog, 'utf8').includes('"first_check":false'), () => 'no add_healthy_event after recovery');
    const events = fs.readFileSync(eventLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const ofC = events.filter((e) => (e['host'] as { socket_address: { port_value: number } }).socket_address.port_value === c.port);
    const kinds = ofC.map((e) => Object.keys(e).find((k) => k.endsWith('_event')));
    assert.deepEqual(kinds, ['add_healthy_event', 'eject_unhealthy_event', 'add_healthy_event'], JSON.stringify(ofC));
    assert.deepEqual(ofC[0]!['add_healthy_event'], { first_check: true });
    assert.deepEqual(ofC[1]!['eject_unhealthy_event'], { failure_type: 'ACTIVE' });
    assert.equal(ofC[1]!['health_checker_type'], 'HTTP');
    assert.equal(ofC[1]!['cluster_name'], 'web');
    assert.deepEqual(ofC[1]!['host'], { socket_address: { protocol: 'TCP', address: '127.0.0.1', resolver_name: '', ipv4_compat: false, port_value: c.port } });
    assert.match(String(ofC[1]!['timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('TCP check: the payload peer is healthy, a closed port fails with network failures', async () => {
    let text = '';
    await waitUntil(async () => {
      text = await clustersText();
      return hostFlags(text, 'tcp', tcpPeer.port) === 'healthy' && hostFlags(text, 'tcp', closedPort) === '/failed_active_hc';
    }, () => `tcp flags: ${text.split('\n').filter((l) => l.startsWith('tcp::') && l.includes('health_flags')).join(' | ')}`);
    assert.ok(tcpPeer.pings() >= 1);
    const stats = await legate.statsMap();
    assert.ok((stats.get('cluster.tcp.health_check.network_failure') ?? 0) >= 1);
    assert.equal(stats.get('cluster.tcp.membership_healthy'), 1);
  });

  it('gRPC check: SERVING is healthy, NOT_SERVING is failed, the service name is sent', async () => {
    await waitUntil(async () => {
      const text = await clustersText();
      return hostFlags(text, 'grpc', grpcServing.port) === 'healthy' && hostFlags(text, 'grpc', grpcNotServing.port) === '/failed_active_hc';
    }, () => 'grpc hosts not as expected');
    assert.equal(grpcServing.services[0], 'legate.Echo');
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.grpc.health_check.healthy'), 1);
  });

  it('x-envoy-immediate-health-check-fail from an upstream fails the host at once on every worker (passive)', async () => {
    const b = ups[1]!;
    b.failImmediately = true;
    // The health path still passes: the host comes back after healthy_threshold checks, so look at the counter.
    await waitUntil(async () => {
      await get(port);
      const stats = await legate.statsMap();
      return (stats.get('cluster.web.health_check.passive_failure') ?? 0) >= 1;
    }, () => 'no passive failure counted');
    b.failImmediately = false;
    // Ejected at once (threshold 2 not waited for), as a PASSIVE failure in the event log.
    await waitUntil(() => fs.readFileSync(eventLog, 'utf8').includes('"failure_type":"PASSIVE"'), () => 'no PASSIVE ejection logged');
    const line = fs.readFileSync(eventLog, 'utf8').split('\n').find((l) => l.includes('"failure_type":"PASSIVE"'))!;
    const event = JSON.parse(line) as { host: { socket_address: { port_value: number } }; eject_unhealthy_event: unknown };
    assert.equal(event.host.socket_address.port_value, b.port);
    assert.deepEqual(event.eject_unhealthy_event, { failure_type: 'PASSIVE' });
  });

  it('x-envoy-degraded on the health response marks the host degraded (still serving), as Envoy', async () => {
    const a = ups[0]!;
    a.degraded = true;
    let text = '';
    await waitUntil(async () => hostFlags(text = await clustersText(), 'web', a.port) === '/degraded_active_hc', () => text);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.web.membership_degraded'), 1);
    assert.equal(stats.get('cluster.web.health_check.degraded'), 1);
    a.degraded = false;
    await waitUntil(async () => hostFlags(text = await clustersText(), 'web', a.port) === 'healthy', () => text);
  });

  it('below healthy_panic_threshold (50%) the workers balance over every host again (panic), counting lb_healthy_panic', async () => {
    const [a, b] = [ups[0]!, ups[1]!];
    a.healthStatus = 500;
    b.healthStatus = 500;
    let text = '';
    await waitUntil(async () => {
      text = await clustersText();
      return hostFlags(text, 'web', a.port) === '/failed_active_hc' && hostFlags(text, 'web', b.port) === '/failed_active_hc';
    }, () => text);
    const before = a.served + b.served;
    await waitUntil(async () => {
      await get(port);
      return a.served + b.served > before;
    }, () => 'no request reached a failed host in panic mode');
    const stats = await legate.statsMap();
    assert.ok((stats.get('cluster.web.lb_healthy_panic') ?? 0) >= 1);
    a.healthStatus = 200;
    b.healthStatus = 200;
  });
});

/** An HTTPS peer answering 200 on /healthz (and counting the checks it saw, with their SNI). */
async function startHttpsHealth(pki: TestPki, ca: 'trusted' | 'other'): Promise<{ server: https.Server; port: number; snis: string[] }> {
  const cert = pki.issue('backend', { sans: ['DNS:backend.test'], ca: ca === 'trusted' ? pki.ca : pki.makeCa('Other CA') });
  const snis: string[] = [];
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    snis.push((req.socket as import('node:tls').TLSSocket).servername || '');
    res.writeHead(req.url === '/healthz' ? 200 : 404);
    res.end();
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, snis };
}

describe('active health checks across a reload: removed hosts wait for a failed check (ignore_health_on_host_removal false); TLS clusters', () => {
  let legate: LegateProcess;
  let ups: HealthUpstream[];
  const withTls = opensslAvailable();
  let pki: TestPki | null = null;
  let trusted: Awaited<ReturnType<typeof startHttpsHealth>> | null = null;
  let untrusted: Awaited<ReturnType<typeof startHttpsHealth>> | null = null;

  function secureCluster(): string {
    if (pki === null) return '';
    return cluster({
      name: 'secure',
      endpoints: [{ address: '127.0.0.1', port: trusted!.port }, { address: '127.0.0.1', port: untrusted!.port }],
      extra: `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: backend.test
        common_tls_context:
          validation_context:
            trusted_ca: { filename: ${pki.ca.certPath} }
    health_checks:
    - ${HC_TIMING.trimStart()}      http_health_check: { path: /healthz }
`,
    });
  }

  let alt: HealthUpstream;
  let h2: { server: http2.Http2Server; port: number; paths: string[] };
  let altTarget: number;
  let sinkLog: string;

  /** A cluster whose endpoint is a closed port, checked on another port and host name (health_check_config). */
  function altCluster(): string {
    return `  - name: alt
    type: STATIC
    connect_timeout: 1s
    health_checks:
    - ${HC_TIMING.trimStart()}      http_health_check: { path: /healthz, service_name_matcher: { prefix: alt- } }
      event_logger:
      - name: envoy.health_check.event_sink.file
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink
          event_log_path: ${sinkLog}
    load_assignment:
      cluster_name: alt
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: { socket_address: { address: 127.0.0.1, port_value: ${altTarget} } }
            health_check_config: { port_value: ${alt.port}, hostname: alt.internal }
  - name: h2
    type: STATIC
    connect_timeout: 1s
    health_checks:
    - ${HC_TIMING.trimStart()}      http_health_check: { path: /healthz, host: h2.example, codec_client_type: HTTP2, expected_statuses: [{ start: 200, end: 300 }], receive: [{ text: "616c6c" }, { text: "6f6b" }] }
    load_assignment:
      cluster_name: h2
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${h2.port} } } }
`;
  }

  function config(hosts: HealthUpstream[]): string {
    const web = cluster({
      name: 'web',
      endpoints: hosts.map((u) => ({ address: '127.0.0.1', port: u.port })),
      extra: `    health_checks:
    - ${HC_TIMING.trimStart()}      http_health_check: { path: /healthz }
`,
    });
    const listener = hcmListener({ name: 'ingress', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }] });
    return bootstrap([listener], pki === null ? [web, altCluster()] : [web, altCluster(), secureCluster()]);
  }

  before(async () => {
    ups = await Promise.all(['x', 'y'].map((n) => new HealthUpstream(n).listen()));
    alt = await new HealthUpstream('alt').listen();
    alt.servesCluster = 'alt-service';
    sinkLog = path.join(tempDir('legate-hc-'), 'sink.log');
    altTarget = await freePort();
    const paths: string[] = [];
    const h2server = http2.createServer((req, res) => {
      paths.push(`${req.headers[':authority']} ${req.url}`);
      // "all ok": the check's receive payloads ("all", then "ok").
      res.writeHead(203);
      res.end('all is ok');
    });
    await new Promise<void>((r) => h2server.listen(0, '127.0.0.1', r));
    h2 = { server: h2server, port: (h2server.address() as net.AddressInfo).port, paths };
    if (withTls) {
      pki = TestPki.create();
      trusted = await startHttpsHealth(pki, 'trusted');
      untrusted = await startHttpsHealth(pki, 'other');
    }
    legate = await startLegate({ config: config(ups), concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    await Promise.all((ups ?? []).map((u) => u.close()));
    await alt?.close();
    h2?.server.close();
    trusted?.server.closeAllConnections();
    trusted?.server.close();
    untrusted?.server.closeAllConnections();
    untrusted?.server.close();
    pki?.remove();
  });

  it('health_check_config port_value and hostname; an HTTP/2 check with host, an expected range and receive payloads', async () => {
    let text = '';
    await waitUntil(async () => {
      text = (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body;
      return hostFlags(text, 'alt', altTarget) === 'healthy' && hostFlags(text, 'h2', h2.port) === 'healthy';
    }, () => text);
    assert.equal(alt.lastHealthHeaders['host'], 'alt.internal');
    assert.equal(h2.paths[0], 'h2.example /healthz');
    // service_name_matcher checked (verify_cluster), events through the file event sink.
    const stats = await legate.statsMap();
    assert.ok((stats.get('cluster.alt.health_check.verify_cluster') ?? 0) >= 1);
    await waitUntil(() => fs.existsSync(sinkLog) && fs.readFileSync(sinkLog, 'utf8').includes('"add_healthy_event"'), () => 'no event in the sink file');
    // An upstream naming another service fails at once.
    alt.servesCluster = 'other';
    await waitUntil(async () => {
      text = (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body;
      return hostFlags(text, 'alt', altTarget) === '/failed_active_hc';
    }, () => text);
  });

  it('a TLS cluster is checked over its transport socket: a peer failing verification is failed', { skip: withTls ? false : 'openssl is not installed' }, async () => {
    let text = '';
    await waitUntil(async () => {
      text = (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body;
      return hostFlags(text, 'secure', trusted!.port) === 'healthy' && hostFlags(text, 'secure', untrusted!.port) === '/failed_active_hc';
    }, () => text);
    assert.equal(trusted!.snis[0], 'backend.test');
    const stats = await legate.statsMap();
    assert.ok((stats.get('cluster.secure.health_check.network_failure') ?? 0) >= 1);
  });

  it('a removed host that passes stays as /pending_dynamic_removal, and leaves once it fails a check', async () => {
    const [x, y] = [ups[0]!, ups[1]!];
    let text = '';
    const clusters = async (): Promise<string> => (text = (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body);
    await waitUntil(async () => hostFlags(await clusters(), 'web', y.port) === 'healthy', () => text);
    legate.writeConfig(config([x]));
    assert.equal(await legate.reload(), true);
    await waitUntil(async () => hostFlags(await clusters(), 'web', y.port) === '/pending_dynamic_removal', () => text);
    assert.equal(hostFlags(text, 'web', x.port), 'healthy');
    // A non-expected status fails the host at once (no threshold), and a pending removal then leaves.
    y.healthStatus = 500;
    await waitUntil(async () => hostFlags(await clusters(), 'web', y.port) === '(absent)', () => text);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.web.membership_total'), 1);
    assert.equal(stats.get('cluster.web.health_check.healthy'), 1);
  });
});
