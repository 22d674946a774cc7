// End to end: an aggregate cluster (cluster_type envoy.clusters.aggregate) through bin/legate with two workers.
// Requests go to the first member cluster with healthy hosts: when the primary member's only host fails its
// active health check, traffic fails over to the secondary member, and comes back when the host passes again.
// Also: the config refusals (an unknown cluster_type, an aggregate with endpoints of its own).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';

class Upstream {
  readonly name: string;
  readonly server: http.Server;
  healthStatus = 200;
  served = 0;
  port = 0;

  constructor(name: string) {
    this.name = name;
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/healthz') {
          res.writeHead(this.healthStatus);
          res.end();
          return;
        }
        this.served++;
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

function get(port: number): Promise<{ status: number; upstream: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers['x-upstream'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Eight requests (over fresh connections, so both workers serve some): which upstreams answered. */
async function upstreamsOf(port: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await get(port);
    out.push(r.status === 200 ? r.upstream : `status ${r.status}`);
  }
  return [...new Set(out)].sort();
}

const HEALTH_CHECK = `    health_checks:
    - timeout: 1s
      interval: 0.1s
      no_traffic_interval: 0.1s
      unhealthy_threshold: 1
      healthy_threshold: 1
      http_health_check: { path: /healthz }
`;

function aggregateCluster(name: string, members: string[], extra = ''): string {
  return `  - name: ${name}
    connect_timeout: 1s
    lb_policy: CLUSTER_PROVIDED
${extra}    cluster_type:
      name: envoy.clusters.aggregate
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig
        clusters: ${JSON.stringify(members)}
`;
}

describe('aggregate cluster: failover by priority across member clusters', () => {
  let legate: LegateProcess;
  let a: Upstream;
  let b: Upstream;
  let port: number;

  before(async () => {
    a = await new Upstream('a').listen();
    b = await new Upstream('b').listen();
    const primary = cluster({ name: 'primary', endpoints: [{ address: '127.0.0.1', port: a.port }], extra: HEALTH_CHECK });
    const secondary = cluster({ name: 'secondary', endpoints: [{ address: '127.0.0.1', port: b.port }] });
    const listener = hcmListener({ name: 'ingress', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: agg }' }] });
    legate = await startLegate({ config: bootstrap([listener], [primary, secondary, aggregateCluster('agg', ['primary', 'secondary'])]), concurrency: 2 });
    port = await legate.listenerPort('ingress');
  });

  after(async () => {
    await legate?.stop();
    await a?.close();
    await b?.close();
  });

  it('sends everything to the first member while its host is healthy', async () => {
    let seen: string[] = [];
    await waitUntil(async () => {
      seen = await upstreamsOf(port);
      return seen.length === 1 && seen[0] === 'a';
    }, () => `traffic never settled on the primary member: ${seen.join(', ')}`);
  });

  it('fails over to the second member when the first one\'s only host fails its health check, and comes back', async () => {
    a.healthStatus = 503;
    let seen: string[] = [];
    await waitUntil(async () => {
      seen = await upstreamsOf(port);
      return seen.length === 1 && seen[0] === 'b';
    }, () => `traffic never failed over to the secondary member: ${seen.join(', ')}`);
    a.healthStatus = 200;
    await waitUntil(async () => {
      seen = await upstreamsOf(port);
      return seen.length === 1 && seen[0] === 'a';
    }, () => `traffic never came back to the primary member: ${seen.join(', ')}`);
  });

  it('counts the requests on the member cluster that served them', async () => {
    const stats = (await legate.admin('/stats', { signal: AbortSignal.timeout(10_000) })).body;
    const total = (c: string): number => Number(new RegExp(`^cluster\\.${c}\\.upstream_rq_total: (\\d+)$`, 'm').exec(stats)?.[1] ?? -1);
    assert.ok(total('primary') > 0, stats);
    assert.ok(total('secondary') > 0, stats);
  });
});

describe('aggregate cluster config', () => {
  const base = { name: 'agg', connect_timeout: 1, lb_policy: 'CLUSTER_PROVIDED' };
  const aggregate = { name: 'envoy.clusters.aggregate', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig', clusters: ['x', 'y'] } };

  it('compiles the member list in order', () => {
    const r = compileCluster({ ...base, cluster_type: aggregate }, 'clusters[0]');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.cluster?.aggregateClusters, ['x', 'y']);
  });

  it('refuses another cluster type as not supported yet, with its position', () => {
    const r = compileCluster({ ...base, cluster_type: { name: 'envoy.clusters.redis', typed_config: {} } }, 'clusters[0]');
    assert.equal(r.cluster, null);
    assert.equal(r.problems[0]?.code, 'not_supported');
    assert.equal(r.problems[0]?.path, 'clusters[0].cluster_type');
  });

  it('refuses an aggregate with endpoints of its own, or listing nothing', () => {
    const withEndpoints = compileCluster({
      ...base, cluster_type: aggregate,
      load_assignment: { cluster_name: 'agg', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] },
    }, 'clusters[0]');
    assert.equal(withEndpoints.cluster, null);
    assert.equal(withEndpoints.problems[0]?.path, 'clusters[0].load_assignment');
    const empty = compileCluster({ ...base, cluster_type: { ...aggregate, typed_config: { ...aggregate.typed_config, clusters: [] } } }, 'clusters[0]');
    assert.equal(empty.cluster, null);
    assert.equal(empty.problems[0]?.code, 'missing_field');
  });
});
