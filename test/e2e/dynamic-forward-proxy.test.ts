// End to end: the dynamic forward proxy (envoy.filters.http.dynamic_forward_proxy + envoy.clusters.dynamic_forward_proxy)
// through bin/legate. The upstream is the request's Host, resolved through the named DNS cache (real upstreams on
// 127.0.0.1 reached as `localhost:<port>` and `127.0.0.1:<port>`; no external network); per-route host rewrite
// (literal and from a header); an unresolvable host is 503 with Envoy's body, details and DF flag; max_hosts
// overflow is 503 dns_cache_overflow; dns_cache.<name>.* stats; over TLS, SNI and the certificate check use the
// request host. One worker, so one cache sees every request.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type net from 'node:net';
import path from 'node:path';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';
import { TestPki, opensslAvailable } from '../tls/support/test-pki.ts';

class Upstream {
  readonly name: string;
  readonly server: http.Server;
  lastHost = '';
  port = 0;
  constructor(name: string) {
    this.name = name;
    this.server = http.createServer((req, res) => {
      this.lastHost = String(req.headers.host ?? '');
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'x-upstream': this.name });
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

function request(port: number, host: string, urlPath = '/', headers: Record<string, string> = {}): Promise<{ status: number; upstream: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 8000, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers['x-upstream'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The DnsCacheConfig both the filter and the cluster name, as a flow mapping. */
const CACHE = 'dns_cache_config: { name: dfp_cache, dns_lookup_family: V4_ONLY, max_hosts: 4, dns_cache_circuit_breaker: { max_pending_requests: 100 } }';

function config(accessLog: string, rewritePort: number, clusterExtra = ''): string {
  const listener = `  - name: proxy
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: proxy
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${accessLog}
              log_format: { text_format_source: { inline_string: "%REQ(:AUTHORITY)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %RESPONSE_FLAGS%\\n" } }
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/rewrite-literal" }
                route: { cluster: dfp }
                typed_per_filter_config:
                  envoy.filters.http.dynamic_forward_proxy:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.PerRouteConfig
                    host_rewrite_literal: 127.0.0.1:${rewritePort}
              - match: { prefix: "/rewrite-header" }
                route: { cluster: dfp }
                typed_per_filter_config:
                  envoy.filters.http.dynamic_forward_proxy:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.PerRouteConfig
                    host_rewrite_header: x-target
              - match: { prefix: "/" }
                route: { cluster: dfp }
          http_filters:
          - name: envoy.filters.http.dynamic_forward_proxy
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig
              ${CACHE}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`;
  const cluster = `  - name: dfp
    connect_timeout: 1s
    lb_policy: CLUSTER_PROVIDED
${clusterExtra}    cluster_type:
      name: envoy.clusters.dynamic_forward_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig
        ${CACHE}
`;
  return bootstrap([listener], [cluster]);
}

describe('dynamic forward proxy', () => {
  let legate: LegateProcess;
  let a: Upstream;
  let b: Upstream;
  let port: number;
  let accessLog: string;

  before(async () => {
    a = await new Upstream('a').listen();
    b = await new Upstream('b').listen();
    accessLog = path.join(tempDir('legate-dfp-'), 'access.log');
    legate = await startLegate({ config: config(accessLog, b.port), concurrency: 1 });
    port = await legate.listenerPort('proxy');
  });

  after(async () => {
    await legate?.stop();
    await a?.close();
    await b?.close();
  });

  async function stat(name: string): Promise<number> {
    const body = (await legate.admin('/stats', { signal: AbortSignal.timeout(10_000) })).body;
    return Number(new RegExp(`^dns_cache\\.dfp_cache\\.${name}: (\\d+)$`, 'm').exec(body)?.[1] ?? -1);
  }

  it('sends each request to the host it names: localhost:<port> and 127.0.0.1:<port>', async () => {
    const r1 = await request(port, `localhost:${a.port}`);
    assert.deepEqual([r1.status, r1.upstream], [200, 'a'], r1.body);
    assert.equal(a.lastHost, `localhost:${a.port}`);
    const r2 = await request(port, `127.0.0.1:${b.port}`);
    assert.deepEqual([r2.status, r2.upstream], [200, 'b'], r2.body);
    // Cached: served again without a new query.
    const r3 = await request(port, `localhost:${a.port}`);
    assert.equal(r3.upstream, 'a');
    assert.equal(await stat('dns_query_attempt'), 2);
    assert.equal(await stat('dns_query_success'), 2);
    assert.equal(await stat('host_added'), 2);
    assert.equal(await stat('num_hosts'), 2);
  });

  it('rewrites the host per route: a literal, or a request header', async () => {
    const r1 = await request(port, `localhost:${a.port}`, '/rewrite-literal');
    assert.deepEqual([r1.status, r1.upstream], [200, 'b']);
    assert.equal(b.lastHost, `127.0.0.1:${b.port}`);
    const r2 = await request(port, `127.0.0.1:${b.port}`, '/rewrite-header', { 'x-target': `localhost:${a.port}` });
    assert.deepEqual([r2.status, r2.upstream], [200, 'a']);
  });

  it('answers 503 DNS resolution failure (DF) for a host that does not resolve', async () => {
    const r = await request(port, 'nonexistent.invalid');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'DNS resolution failure');
    assert.equal(await stat('dns_query_failure'), 1);
    await waitUntil(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('nonexistent.invalid'), () => 'no access log line');
    const line = fs.readFileSync(accessLog, 'utf8').split('\n').find((l) => l.startsWith('nonexistent.invalid'))!;
    assert.match(line, /^nonexistent\.invalid 503 dns_resolution_failure\{enotfound\} DF$/);
  });

  it('refuses a host over max_hosts: 503 dns_cache_overflow', async () => {
    // Cached so far: localhost:A, 127.0.0.1:B, nonexistent.invalid:80; max_hosts 4.
    const ok = await request(port, `127.0.0.2:${a.port}`);
    assert.notEqual(ok.body, 'DNS cache overflow');
    const r = await request(port, `127.0.0.3:${a.port}`);
    assert.equal(r.status, 503);
    assert.equal(r.body, 'DNS cache overflow');
    assert.equal(await stat('host_overflow'), 1);
  });
});

describe('dynamic forward proxy over TLS: SNI and certificate check by the request host', { skip: !opensslAvailable() }, () => {
  let legate: LegateProcess;
  let pki: TestPki;
  let server: https.Server;
  let serverPort: number;
  let port: number;
  const serverNames: string[] = [];

  before(async () => {
    pki = TestPki.create();
    const cert = pki.issue('localhost', { sans: ['DNS:localhost'] });
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      serverNames.push(String((req.socket as tls.TLSSocket).servername));
      req.resume();
      res.writeHead(200, { 'x-upstream': 'tls' });
      res.end('tls');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverPort = (server.address() as net.AddressInfo).port;
    const tlsSocket = `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          validation_context: { trusted_ca: { filename: ${pki.ca.certPath} } }
`;
    legate = await startLegate({ config: config(path.join(tempDir('legate-dfp-tls-'), 'access.log'), serverPort, tlsSocket), concurrency: 1 });
    port = await legate.listenerPort('proxy');
  });

  after(async () => {
    await legate?.stop();
    server?.closeAllConnections();
    server?.close();
    pki?.remove();
  });

  it('names the request host in SNI and accepts a certificate for it', async () => {
    const r = await request(port, `localhost:${serverPort}`);
    assert.deepEqual([r.status, r.upstream], [200, 'tls'], r.body);
    assert.deepEqual(serverNames, ['localhost']);
  });

  it('refuses the same server reached by an address its certificate does not name', async () => {
    const r = await request(port, `127.0.0.1:${serverPort}`);
    assert.equal(r.status, 503);
    assert.equal(serverNames.length, 1);
  });
});

describe('dynamic forward proxy cluster config', () => {
  const dfp = { name: 'envoy.clusters.dynamic_forward_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig', dns_cache_config: { name: 'c', max_hosts: 7 } } };

  it('compiles the DNS cache with Envoy\'s defaults', () => {
    const r = compileCluster({ name: 'dfp', lb_policy: 'CLUSTER_PROVIDED', cluster_type: dfp }, 'clusters[0]');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.cluster?.dynamicForwardProxy, {
      cache: { name: 'c', lookupFamily: 'AUTO', refreshRateMs: 60_000, hostTtlMs: 300_000, maxHosts: 7, maxPendingRequests: 1024 },
      allowInsecureClusterOptions: false,
    });
  });

  it('refuses what it does not implement, with its position', () => {
    const r = compileCluster({ name: 'dfp', cluster_type: { ...dfp, typed_config: { ...dfp.typed_config, dns_cache_config: { name: 'c', preresolve_hostnames: [{ address: 'x' }] } } } }, 'clusters[0]');
    assert.equal(r.cluster, null);
    assert.deepEqual(r.problems.map((p) => [p.code, p.path]), [['not_supported', 'clusters[0].cluster_type.typed_config.dns_cache_config.preresolve_hostnames']]);
  });
});
