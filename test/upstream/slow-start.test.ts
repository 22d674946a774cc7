// Slow start (round_robin_lb_config / least_request_lb_config slow_start_config): the weight function against
// Envoy's formula, the balancer with an injected clock (no timing), the config, and one run through bin/legate
// where a host added by a reload gets a small share while the hosts it joined keep theirs.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { slowStartWeight, SlowStartLoadBalancer } from '../../workers/upstream/slow-start.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';
import { StatsHub } from '../../src/primary/stats-hub.ts';
import { decodeMessage, encodeMessage } from '../../src/messages/thread-messages.ts';
import { deepFreeze } from '../../src/common/deep-freeze.ts';
import type { Snapshot } from '../../src/snapshot/snapshot-types.ts';
import type { HostDescription } from '../../src/upstream/cluster-membership.ts';
import { WorkerStats } from '../../src/stats/worker-stats.ts';
import { WorkerClusterManager } from '../../workers/upstream/cluster-manager.ts';

const S = { windowMs: 10_000, aggression: 1, minWeightPercent: 10 };

describe('slow start weight', () => {
  it('ramps linearly with aggression 1, never under min_weight_percent, full after the window', () => {
    assert.equal(slowStartWeight(10, 0, S), 1, 'at the start: 10% of the weight');
    assert.equal(slowStartWeight(10, 500, S), 1, 'time factor 0.05 is under the 10% floor');
    assert.equal(slowStartWeight(10, 5_000, S), 5);
    assert.equal(slowStartWeight(10, 7_500, S), 7.5);
    assert.equal(slowStartWeight(10, 10_000, S), 10);
    assert.equal(slowStartWeight(10, 60_000, S), 10);
  });

  it('aggression bends the ramp: time_factor ^ (1 / aggression)', () => {
    const fast = { ...S, aggression: 2 };
    assert.ok(Math.abs(slowStartWeight(100, 2_500, fast) - 50) < 1e-9, 'sqrt(0.25) = 0.5');
    const slow = { ...S, aggression: 0.5, minWeightPercent: 0 };
    assert.ok(Math.abs(slowStartWeight(100, 5_000, slow) - 25) < 1e-9, '0.5 ^ 2 = 0.25');
    // A time factor counts at least 1 ms.
    assert.equal(slowStartWeight(1000, 0, { ...S, minWeightPercent: 0 }), 0.1);
  });

  it('the balancer gives a host in its window its ramped share, then the full one', () => {
    let now = 1000;
    const hosts = [{ name: 'old1', weight: 1, activeRequests: 0 }, { name: 'old2', weight: 1, activeRequests: 0 }, { name: 'new', weight: 1, activeRequests: 0 }];
    const lb = new SlowStartLoadBalancer(hosts, [-Infinity, -Infinity, 1000 - 5_000], S, (h) => h.weight, () => now);
    const share = (picks: number): number => {
      let n = 0;
      for (let i = 0; i < picks; i++) if (lb.chooseHost()!.name === 'new') n++;
      return n / picks;
    };
    // Half way: weight 0.5 against 1 + 1, a share of 0.2.
    const half = share(1000);
    assert.ok(Math.abs(half - 0.2) < 0.02, `share half way through the window: ${half}`);
    assert.ok(lb.inSlowStart);
    now += 10_000;
    const full = share(3000);
    assert.ok(Math.abs(full - 1 / 3) < 0.02, `share after the window: ${full}`);
    assert.equal(lb.inSlowStart, false);
  });

  it('compiles slow_start_config with Envoy\'s defaults; a zero window turns it off', () => {
    const c = compileCluster({ name: 'a', round_robin_lb_config: { slow_start_config: { slow_start_window: 30_000 } } }, 'c');
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.cluster!.slowStart, { windowMs: 30_000, aggression: 1, minWeightPercent: 10 });
    const lr = compileCluster({
      name: 'a',
      lb_policy: 'LEAST_REQUEST',
      least_request_lb_config: { slow_start_config: { slow_start_window: 1000, aggression: { default_value: 2, runtime_key: 'k' }, min_weight_percent: { value: 25 } } },
    }, 'c');
    assert.deepEqual(lr.cluster!.slowStart, { windowMs: 1000, aggression: 2, minWeightPercent: 25 });
    assert.equal(compileCluster({ name: 'a', round_robin_lb_config: { slow_start_config: {} } }, 'c').cluster!.slowStart, null);
    const bad = compileCluster({ name: 'a', round_robin_lb_config: { slow_start_config: { slow_start_window: 1000, aggression: { default_value: 0 } } } }, 'c');
    assert.deepEqual(bad.problems.map((p) => p.path), ['c.round_robin_lb_config.slow_start_config.aggression']);
  });
});

/** A worker's cluster manager over one compiled cluster, fed host sets by hand. */
function workerCluster(clusterYaml: string): { manager: WorkerClusterManager; share(name: string, picks: number, port: number): number } {
  const result = runConfigPipeline({ configPath: undefined, configYaml: `static_resources:\n  clusters:\n${clusterYaml}` }, 1);
  if (!result.ok) throw new Error(result.message);
  const hub = new StatsHub(1);
  hub.assignSlots(result.snapshot);
  const snapshot = deepFreeze(decodeMessage<Snapshot>(encodeMessage(result.snapshot)));
  const manager = new WorkerClusterManager(new WorkerStats(hub.regionFor(0)));
  manager.applyClusters(snapshot.clusters, snapshot.clusterSlots);
  return {
    manager,
    share(name, picks, port) {
      let n = 0;
      for (let i = 0; i < picks; i++) if (manager.get(name)!.chooseHost()!.port === port) n++;
      return n / picks;
    },
  };
}

function hostAt(port: number, healthy: boolean, locality?: number, localityWeight?: number): HostDescription {
  const h: HostDescription = { address: '127.0.0.1', port, weight: 1, priority: 0, healthy, degraded: false, hostname: '' };
  if (locality !== undefined) {
    h.locality = locality;
    h.localityWeight = localityWeight;
  }
  return h;
}

describe('slow start in a worker\'s cluster', () => {
  const yaml = (extra: string): string => `  - name: w
    type: STATIC
    connect_timeout: 1s
${extra}    load_assignment: { cluster_name: w, endpoints: [] }
`;

  it('first hosts are not ramped; one turning healthy again is (and none without slow_start_config)', () => {
    const { manager, share } = workerCluster(yaml('    round_robin_lb_config: { slow_start_config: { slow_start_window: 600s } }\n'));
    manager.applyHostSet({ cluster: 'w', version: 1, hosts: [hostAt(1, true), hostAt(2, true), hostAt(3, true)] });
    assert.ok(Math.abs(share('w', 3000, 3) - 1 / 3) < 0.01);
    manager.applyHostSet({ cluster: 'w', version: 2, hosts: [hostAt(1, true), hostAt(2, true), hostAt(3, false)] });
    assert.equal(share('w', 300, 3), 0);
    manager.applyHostSet({ cluster: 'w', version: 3, hosts: [hostAt(1, true), hostAt(2, true), hostAt(3, true)] });
    // Back at 10% of its weight: 0.1 / 2.1.
    const ramped = share('w', 4200, 3);
    assert.ok(ramped > 0.02 && ramped < 0.08, `the host back to healthy got ${ramped}`);
    // An unrelated change (a host joining, itself ramped) leaves it in its window.
    manager.applyHostSet({ cluster: 'w', version: 4, hosts: [hostAt(1, true), hostAt(2, true), hostAt(3, true), hostAt(4, true)] });
    assert.ok(share('w', 6200, 3) < 0.08);

    const plain = workerCluster(yaml(''));
    plain.manager.applyHostSet({ cluster: 'w', version: 1, hosts: [hostAt(1, true), hostAt(2, true)] });
    plain.manager.applyHostSet({ cluster: 'w', version: 2, hosts: [hostAt(1, true), hostAt(2, true), hostAt(3, true)] });
    assert.ok(Math.abs(plain.share('w', 3000, 3) - 1 / 3) < 0.01);
  });

  it('with locality weighting, applies within the host\'s locality', () => {
    const { manager, share } = workerCluster(yaml('    round_robin_lb_config: { slow_start_config: { slow_start_window: 600s } }\n    common_lb_config: { locality_weighted_lb_config: {} }\n'));
    manager.applyHostSet({ cluster: 'w', version: 1, hosts: [hostAt(1, true, 0, 1), hostAt(2, true, 1, 1)] });
    manager.applyHostSet({ cluster: 'w', version: 2, hosts: [hostAt(1, true, 0, 1), hostAt(2, true, 1, 1), hostAt(3, true, 1, 1)] });
    // Locality 1 keeps half the picks; within it host 3 is at 0.1 against host 2's 1.
    assert.ok(Math.abs(share('w', 4000, 1) - 0.5) < 0.01);
    const added = share('w', 4400, 3);
    assert.ok(added > 0.02 && added < 0.07, `the added host got ${added}`);
  });
});

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

describe('slow start through bin/legate (two workers)', () => {
  const ups: TestUpstream[] = [];
  let legate: LegateProcess;

  const config = (ports: number[]): string => bootstrap(
    [hcmListener({ name: 'main', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: warm }' }] })],
    [`  - name: warm
    type: STATIC
    connect_timeout: 1s
    round_robin_lb_config:
      slow_start_config: { slow_start_window: 60s, min_weight_percent: { value: 10 } }
    load_assignment:
      cluster_name: warm
      endpoints:
      - lb_endpoints:
${ports.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }\n`).join('')}`],
  );

  before(async () => {
    for (let i = 0; i < 3; i++) ups.push(await startUpstream(`s${i}`));
    legate = await startLegate({ config: config([ups[0]!.port, ups[1]!.port]), concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    for (const u of ups) await u.close();
  });

  it('a host added by a reload ramps up from min_weight_percent while the hosts it joined keep full weights', async () => {
    const port = await legate.listenerPort('main');
    for (let i = 0; i < 40; i++) assert.equal(await get(port), 200);
    assert.equal(ups[0]!.seen.length + ups[1]!.seen.length, 40);
    assert.ok(ups[0]!.seen.length > 0 && ups[1]!.seen.length > 0);
    legate.writeConfig(config([ups[0]!.port, ups[1]!.port, ups[2]!.port]));
    assert.ok(await legate.reload());
    const port2 = await legate.listenerPort('main');
    const before0 = ups[0]!.seen.length + ups[1]!.seen.length;
    const N = 300;
    let next = 0;
    await Promise.all(Array.from({ length: 6 }, async () => {
      while (next < N) {
        next++;
        assert.equal(await get(port2), 200);
      }
    }));
    const added = ups[2]!.seen.length;
    assert.equal(ups[0]!.seen.length + ups[1]!.seen.length - before0 + added, N);
    // Weight 0.1 (seconds into a 60 s window) against 1 + 1: about 5%; without slow start a third.
    assert.ok(added > 0 && added < 0.15 * N, `the added host got ${added} of ${N}`);
  });
});
