// End to end: common_lb_config.locality_weighted_lb_config through bin/legate with two workers. Real upstreams in
// localities weighted 3:1 share the traffic about 3:1 (per worker the locality pick is a weighted round robin, so
// the band is loose only for the split across workers); a locality whose hosts are all unhealthy and one with no
// load_balancing_weight get nothing; a locality that loses some hosts has its weight scaled by its healthy share
// (× 1.4). The weight arithmetic and the pick are tested in process too.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { effectiveLocalityWeight, LocalityWeightedLoadBalancer } from '../../workers/upstream/locality-lb.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';

interface Locality {
  zone: string;
  weight?: number;
  hosts: { port: number; health?: string }[];
}

function localityCluster(name: string, localities: Locality[], lbPolicy = 'ROUND_ROBIN'): string {
  const eps = localities.map((l) => {
    const hosts = l.hosts.map((h) => `        - endpoint:\n            address:\n              socket_address: { address: 127.0.0.1, port_value: ${h.port} }\n${h.health === undefined ? '' : `          health_status: ${h.health}\n`}`).join('');
    return `      - locality: { region: r1, zone: ${l.zone} }\n${l.weight === undefined ? '' : `        load_balancing_weight: ${l.weight}\n`}        lb_endpoints:\n${hosts}`;
  }).join('');
  return `  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    lb_policy: ${lbPolicy}
    common_lb_config:
      locality_weighted_lb_config: {}
    load_assignment:
      cluster_name: ${name}
      endpoints:
${eps}`;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

/** `n` requests, 8 at a time. */
async function load(port: number, path: string, n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      assert.equal(await get(port, path), 200);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

describe('locality weighted load balancing (two workers)', () => {
  const ups: TestUpstream[] = [];
  let legate: LegateProcess;
  let port = 0;
  const N = 400;

  before(async () => {
    for (let i = 0; i < 9; i++) ups.push(await startUpstream(`u${i}`));
    const [a1, a2, b1, c1, d1, e1, e2, e3, f1] = ups.map((u) => u.port) as number[];
    legate = await startLegate({
      config: bootstrap(
        [hcmListener({
          name: 'main',
          routes: [
            { match: '{ prefix: "/weighted" }', action: 'route: { cluster: weighted }' },
            { match: '{ prefix: "/degraded" }', action: 'route: { cluster: degraded }' },
          ],
        })],
        [
          localityCluster('weighted', [
            { zone: 'a', weight: 3, hosts: [{ port: a1! }, { port: a2! }] },
            { zone: 'b', weight: 1, hosts: [{ port: b1! }] },
            // All unhealthy: no share however large its weight.
            { zone: 'c', weight: 8, hosts: [{ port: c1!, health: 'UNHEALTHY' }] },
            // No weight: no share when locality weighting is on.
            { zone: 'd', hosts: [{ port: d1! }] },
          ]),
          // Zone e has 1 of 3 hosts healthy: effective weight 1 × 1.4/3 ≈ 0.467 against f's 1 (about 32% : 68%).
          localityCluster('degraded', [
            { zone: 'e', weight: 1, hosts: [{ port: e1! }, { port: e2!, health: 'UNHEALTHY' }, { port: e3!, health: 'UNHEALTHY' }] },
            { zone: 'f', weight: 1, hosts: [{ port: f1! }] },
          ], 'LEAST_REQUEST'),
        ],
      ),
      concurrency: 2,
    });
    port = await legate.listenerPort('main');
  });

  after(async () => {
    await legate?.stop();
    for (const u of ups) await u.close();
  });

  it('localities weighted 3:1 share the requests about 3:1; unhealthy and unweighted localities get none', async () => {
    await load(port, '/weighted', N);
    const [a1, a2, b1, c1, d1] = ups.map((u) => u.seen.length);
    assert.equal(a1! + a2! + b1! + c1! + d1!, N);
    assert.equal(c1, 0, 'the locality whose hosts are all unhealthy got requests');
    assert.equal(d1, 0, 'the locality without load_balancing_weight got requests');
    const shareA = (a1! + a2!) / N;
    assert.ok(shareA > 0.65 && shareA < 0.85, `locality a (weight 3) got ${shareA} of the requests`);
    // Within a locality, the cluster's lb_policy (round robin) spreads over its hosts.
    assert.ok(a1! > 0 && a2! > 0, `a's hosts got ${a1} and ${a2}`);
  });

  it('a locality\'s weight is scaled by its healthy share × 1.4', async () => {
    await load(port, '/degraded', N);
    const e1 = ups[5]!.seen.length;
    const f1 = ups[8]!.seen.length;
    assert.equal(e1 + f1, N);
    assert.equal(ups[6]!.seen.length + ups[7]!.seen.length, 0);
    const shareE = e1 / N;
    assert.ok(shareE > 0.22 && shareE < 0.42, `locality e (1 of 3 healthy) got ${shareE} of the requests`);
  });
});

describe('locality weights in process', () => {
  interface H {
    readonly name: string;
    readonly weight: number;
    readonly activeRequests: number;
  }
  const host = (name: string): H => ({ name, weight: 1, activeRequests: 0 });
  const options = { random: () => 0.5, choiceCount: 2, activeRequestBias: 1 };

  it('effective weight follows Envoy\'s table (X weight 1 vs Y weight 2)', () => {
    // Percent of traffic to X for X's healthy share, Y fully healthy: 100% -> 33, 70% -> 33, 50% -> 26, 25% -> 15, 0 -> 0
    // (Envoy's table also lists 69% -> 32, from an availability rounded to whole percent; the weight itself is a double).
    const share = (healthy: number): number => {
      const x = effectiveLocalityWeight(1, healthy, 100);
      return Math.round((100 * x) / (x + effectiveLocalityWeight(2, 100, 100)));
    };
    assert.deepEqual([100, 70, 50, 25, 0].map(share), [33, 33, 26, 15, 0]);
    assert.equal(effectiveLocalityWeight(0, 5, 5), 0);
  });

  it('picks localities by weighted round robin, then a host by the policy within', () => {
    const a = [host('a1'), host('a2')];
    const b = [host('b1')];
    const lb = LocalityWeightedLoadBalancer.build('ROUND_ROBIN', [
      { weight: 3, hosts: a, healthy: a },
      { weight: 1, hosts: b, healthy: b },
      { weight: 0, hosts: [host('z')], healthy: [host('z')] },
    ], options)!;
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const h = lb.chooseHost()!;
      counts.set(h.name, (counts.get(h.name) ?? 0) + 1);
    }
    assert.equal(counts.get('b1'), 100);
    assert.equal((counts.get('a1') ?? 0) + (counts.get('a2') ?? 0), 300);
    assert.equal(counts.get('z'), undefined);
    // No locality with an effective weight: null (the level then balances over its healthy hosts).
    assert.equal(LocalityWeightedLoadBalancer.build('ROUND_ROBIN', [{ weight: 0, hosts: b, healthy: b }], options), null);
  });

  it('compiles each endpoint\'s locality and weight; refused with a hashing policy', () => {
    const la = {
      cluster_name: 'x',
      endpoints: [
        { load_balancing_weight: 5, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] },
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 2 } } } }] },
      ],
    };
    const r = compileCluster({ name: 'x', common_lb_config: { locality_weighted_lb_config: {} }, load_assignment: la }, 'c');
    assert.deepEqual(r.problems, []);
    assert.equal(r.cluster!.localityWeightedLb, true);
    assert.deepEqual(r.cluster!.endpoints.map((e) => [e.locality, e.localityWeight]), [[0, 5], [1, 0]]);
    const hashed = compileCluster({ name: 'x', lb_policy: 'MAGLEV', common_lb_config: { locality_weighted_lb_config: {} }, load_assignment: la }, 'c');
    assert.deepEqual(hashed.problems.map((p) => p.code), ['not_supported']);
  });
});
