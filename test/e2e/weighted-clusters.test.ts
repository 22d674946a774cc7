// End to end: RouteAction.weighted_clusters and cluster_header through bin/legate with three real upstreams. The
// weights hold over 600 requests (within a wide tolerance, never a timing); each cluster's header mutations, host
// rewrite and typed_per_filter_config apply only to requests sent to it; header_name picks deterministically;
// cluster_header routes by a request header (503 NC when missing or unknown). The pick itself, the compile
// problems and the support check are tested in process.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { writeConfig, problemsOf, brief } from '../config-loader/support.ts';
import { checkRouteConfig } from '../../src/router/check-route-config.ts';
import { headerValueModulo, WeightedClusters } from '../../src/router/weighted-clusters.ts';
import type { Route } from '../../src/router/route-types.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot } from '../../src/snapshot/compile-snapshot.ts';

const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('weighted_clusters: the pick', () => {
  const routes = ['a', 'b', 'c'].map((name) => ({ clusterName: name }) as unknown as Route);

  it('header_name: a valid unsigned 64-bit value modulo the total picks by cumulative weight', () => {
    const w = new WeightedClusters(routes, [1, 0, 3], 'x-pick');
    const pick = (v: string): string => w.pick(['x-pick', v]).clusterName;
    assert.equal(pick('0'), 'a');
    assert.equal(pick('1'), 'c'); // the zero-weight cluster is never picked
    assert.equal(pick('3'), 'c');
    assert.equal(pick('4'), 'a'); // 4 % 4
    assert.equal(pick('18446744073709551615'), 'c'); // (2^64 - 1) % 4 = 3
    assert.equal(headerValueModulo('18446744073709551616', 4), -1); // over UINT64_MAX: a fresh draw instead
    assert.equal(headerValueModulo('-1', 4), -1);
    assert.equal(headerValueModulo('', 4), -1);
    assert.equal(headerValueModulo('12a', 4), -1);
    for (let i = 0; i < 50; i++) assert.notEqual(w.pick(['x-pick', 'junk']).clusterName, 'b');
  });

  it('compile problems, each at its field path', () => {
    const P = 'rc';
    const rc = (wc: unknown): Record<string, unknown> => ({
      virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: wc } }] }],
    });
    const at = `${P}.virtual_hosts[0].routes[0].route.weighted_clusters`;
    const check = (wc: unknown): string[] => checkRouteConfig(rc(wc), P).map((p) => `${p.path}: ${p.message}`);
    assert.deepEqual(check({ clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }] }), []);
    assert.deepEqual(check({ clusters: [{ name: 'a', weight: 0 }] }), [`${at}.clusters: the sum of the cluster weights must be greater than 0`]);
    assert.deepEqual(check({ clusters: [{ weight: 1 }] }), [`${at}.clusters[0]: one of name, cluster_header is required`]);
    assert.deepEqual(check({ clusters: [{ name: 'a', cluster_header: 'x', weight: 1 }] }), [`${at}.clusters[0]: only one of name, cluster_header may be set`]);
    assert.deepEqual(check({ clusters: [{ name: 'a', weight: 1, request_headers_to_remove: [':path'] }] }), [
      `${at}.clusters[0].request_headers_to_remove[0]: ':path': ':'-prefixed headers and host may not be removed`,
    ]);
    const both = checkRouteConfig({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a', cluster_header: 'x' } }] }] }, P);
    assert.deepEqual(both.map((p) => p.message), ['only one of cluster, cluster_header, weighted_clusters may be set']);
  });

  it('validate_clusters (on for a static route table) checks weighted and mirror clusters by name', () => {
    const yaml = (validate: string): string => `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 1 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config:
            ${validate}
            virtual_hosts:
            - name: v
              domains: ["*"]
              request_mirror_policies: [{ cluster: ghost_vh }]
              routes:
              - match: { prefix: "/" }
                route:
                  weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: ghost, weight: 1 }, { cluster_header: x-c, weight: 1 }] }
                  request_mirror_policies: [{ cluster: ghost_m }, { cluster_header: x-m }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - { name: a, connect_timeout: 1s, load_assignment: { cluster_name: a } }
`;
    const problems = compileSnapshot(loadConfig({ configPath: undefined, configYaml: yaml('name: r') }), 1).problems.map((p) => `${p.path}: ${p.message}`);
    const rc = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]';
    assert.deepEqual(problems.sort(), [
      `${rc}.request_mirror_policies[0].cluster: mirror cluster 'ghost_vh' is not defined in static_resources.clusters`,
      `${rc}.routes[0].route.request_mirror_policies[0].cluster: mirror cluster 'ghost_m' is not defined in static_resources.clusters`,
      `${rc}.routes[0].route.weighted_clusters.clusters[1].name: weighted cluster 'ghost' is not defined in static_resources.clusters`,
    ]);
    assert.deepEqual(compileSnapshot(loadConfig({ configPath: undefined, configYaml: yaml('validate_clusters: false') }), 1).problems, []);
  });

  it('the support check refuses what is not implemented, with its position', () => {
    const file = writeConfig('wc.yaml', `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 1 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  weighted_clusters:
                    total_weight: 2
                    runtime_key_prefix: some.key
                    clusters:
                    - { name: a, weight: 1, metadata_match: { filter_metadata: { envoy.lb: { v: "1" } } } }
                    - { name: a, weight: 1 }
                  request_mirror_policies: [{ cluster: a, trace_sampled: true }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: a
    connect_timeout: 1s
`);
    const lines = problemsOf(file).map(brief);
    // A cluster's metadata_match is supported (subset load balancing, test/e2e/subset-lb.test.ts).
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^24:\d+ not_supported .*route\.request_mirror_policies\[0\]\.trace_sampled: not supported yet/);
  });
});

describe('weighted_clusters and cluster_header through bin/legate', () => {
  let legate: LegateProcess;
  const ups: Record<string, TestUpstream> = {};
  let port = 0;
  /** A listener whose TypeScript filter notes the route's cluster, then clears the route cache. */
  let tsPort = 0;
  let dir = '';

  before(async () => {
    for (const name of ['a', 'b', 'c']) ups[name] = await startUpstream(name);
    port = await freePort();
    tsPort = await freePort();
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'reroute.ts'), `
import { defineFilter, FilterHeadersStatus, PassThroughFilter, type HeaderList, type UserFilterCallbacks } from ${JSON.stringify(path.join(ROOT, 'src/filter-api/index.ts'))};
export default defineFilter({
  create() {
    return (cb: UserFilterCallbacks) => new (class extends PassThroughFilter {
      override decodeHeaders(headers: HeaderList): number {
        cb.headers(headers).set('x-first-cluster', cb.route()?.clusterName ?? '');
        cb.clearRouteCache();
        return FilterHeadersStatus.Continue;
      }
    })();
  },
});
`);
    const hv = (k: string, v: string): string => `{ header: { key: ${k}, value: "${v}" } }`;
    const routeLrl = `{ "@type": ${LRL}, stat_prefix: only_b, token_bucket: { max_tokens: 1, fill_interval: 3600s }, filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } } }`;
    const routes = [
      { match: '{ prefix: "/w" }', action: 'route: { weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: b, weight: 2 }, { name: c, weight: 3 }] } }' },
      {
        match: '{ prefix: "/m" }',
        action: `route:
                  weighted_clusters:
                    header_name: x-pick
                    clusters:
                    - name: a
                      weight: 1
                      host_rewrite_literal: a.example
                      request_headers_to_add: [${hv('x-cluster', 'a')}, ${hv('x-route', 'from-cluster')}]
                      request_headers_to_remove: [x-drop]
                      response_headers_to_add: [${hv('x-picked', 'a')}]
                    - name: b
                      weight: 1
                      request_headers_to_add: [${hv('x-cluster', 'b')}]
                      response_headers_to_add: [${hv('x-picked', 'b')}]
                request_headers_to_add: [{ header: { key: x-route, value: "yes" }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }]
                response_headers_to_add: [${hv('x-route-resp', 'yes')}]`,
      },
      {
        match: '{ prefix: "/rl" }',
        action: `route:
                  weighted_clusters:
                    header_name: x-pick
                    clusters:
                    - { name: a, weight: 1 }
                    - name: b
                      weight: 1
                      typed_per_filter_config:
                        lrl: ${routeLrl}`,
      },
      { match: '{ prefix: "/ch" }', action: 'route: { cluster_header: X-Target }' },
      { match: '{ prefix: "/xh" }', action: 'route: { weighted_clusters: { clusters: [{ cluster_header: x-target, weight: 1, response_headers_to_add: [{ header: { key: x-by, value: header } }] }] } }' },
    ];
    const listener = hcmListener({ name: 'wc', port, routes, httpFilters: `          - name: lrl
            disabled: true
            typed_config:
              "@type": ${LRL}
              stat_prefix: unused
` });
    const tsListener = hcmListener({
      name: 'wc_ts', port: tsPort,
      routes: [{ match: '{ prefix: "/" }', action: 'route: { weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: b, weight: 1 }] } }' }],
      httpFilters: filter('reroute', 'type.googleapis.com/legate.filters.http.typescript.v1.TypeScriptFilter', `              filter_path: ${path.join(dir, 'reroute.ts')}
`),
    });
    const clusters = ['a', 'b', 'c'].map((name) => cluster({ name, endpoints: [{ address: '127.0.0.1', port: ups[name]!.port }] }));
    legate = await startLegate({ config: bootstrap([listener, tsListener], clusters), concurrency: 1 });
  });

  after(async () => {
    agent.destroy();
    await legate?.stop();
    for (const u of Object.values(ups)) await u.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('spreads requests by weight (1:2:3 over 600 requests, within a wide tolerance)', async () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let batch = 0; batch < 60; batch++) {
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => get(port, `/w/${batch * 10 + i}`)));
      for (const r of replies) {
        assert.equal(r.status, 200);
        counts[String(r.headers['x-upstream'])]!++;
      }
    }
    // Expected 100 / 200 / 300; each bound is more than four standard deviations away.
    assert.ok(counts['a']! > 55 && counts['a']! < 145, JSON.stringify(counts));
    assert.ok(counts['b']! > 140 && counts['b']! < 260, JSON.stringify(counts));
    assert.ok(counts['c']! > 230 && counts['c']! < 370, JSON.stringify(counts));
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.a.upstream_rq_total')! + stats.get('cluster.b.upstream_rq_total')! + stats.get('cluster.c.upstream_rq_total')!, 600);
  });

  it("applies the chosen cluster's header mutations and host rewrite (before the route's), and only its own", async () => {
    const a = await get(port, '/m/a', { 'x-pick': '0', 'x-drop': 'gone?' });
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-upstream'], 'a');
    assert.equal(a.headers['x-picked'], 'a');
    assert.equal(a.headers['x-route-resp'], 'yes');
    const seenA = ups['a']!.seen.find((s) => s.url === '/m/a')!;
    assert.equal(seenA.headers['x-cluster'], 'a');
    assert.equal(seenA.headers['host'], 'a.example');
    assert.equal(seenA.headers['x-drop'], undefined);
    // The cluster's level is evaluated first, so the route's overwrite wins (Envoy's default order).
    assert.equal(seenA.headers['x-route'], 'yes');

    // 2^64 - 1 is odd: the second cluster.
    const b = await get(port, '/m/b', { 'x-pick': '18446744073709551615', 'x-drop': 'kept' });
    assert.equal(b.headers['x-upstream'], 'b');
    assert.equal(b.headers['x-picked'], 'b');
    const seenB = ups['b']!.seen.find((s) => s.url === '/m/b')!;
    assert.equal(seenB.headers['x-cluster'], 'b');
    assert.equal(seenB.headers['x-drop'], 'kept');
    assert.equal(seenB.headers['host'], `127.0.0.1:${port}`);
  });

  it("a cluster's typed_per_filter_config is the most specific: the rate limit applies to that cluster only", async () => {
    const b1 = await get(port, '/rl/1', { 'x-pick': '1' });
    const b2 = await get(port, '/rl/2', { 'x-pick': '1' });
    assert.equal(b1.status, 200);
    assert.equal(b2.status, 429);
    for (let i = 0; i < 5; i++) assert.equal((await get(port, `/rl/a${i}`, { 'x-pick': '0' })).status, 200);
    const stats = await legate.statsMap();
    assert.equal(stats.get('only_b.http_local_rate_limit.rate_limited'), 1);
    assert.equal(stats.get('only_b.http_local_rate_limit.ok'), 1);
  });

  it('a route matched again after clearRouteCache() keeps the cluster it chose for the stream (Envoy picks with the stream id)', async () => {
    for (let i = 0; i < 40; i++) {
      const r = await get(tsPort, `/again/${i}`);
      assert.equal(r.status, 200);
      const up = String(r.headers['x-upstream']);
      const seen = ups[up]!.seen.find((s) => s.url === `/again/${i}`)!;
      assert.equal(seen.headers['x-first-cluster'], up, `request ${i}`);
    }
  });

  it('cluster_header: the cluster a request header names; missing or unknown is 503 NC', async () => {
    const b = await get(port, '/ch/1', { 'x-target': 'b' });
    assert.equal(b.status, 200);
    assert.equal(b.headers['x-upstream'], 'b');
    const c = await get(port, '/ch/2', { 'x-target': 'c' });
    assert.equal(c.headers['x-upstream'], 'c');
    const before = (await legate.statsMap()).get('http.wc.no_cluster') ?? 0;
    assert.equal((await get(port, '/ch/3')).status, 503);
    assert.equal((await get(port, '/ch/4', { 'x-target': 'nope' })).status, 503);
    assert.equal((await legate.statsMap()).get('http.wc.no_cluster'), before + 2);
    // A cluster weight may name its cluster by a request header too.
    const w = await get(port, '/xh/1', { 'x-target': 'a' });
    assert.equal(w.headers['x-upstream'], 'a');
    assert.equal(w.headers['x-by'], 'header');
    assert.equal((await get(port, '/xh/2')).status, 503);
  });
});
