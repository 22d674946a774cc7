// ClusterMembership on the primary: STATIC host sets, STRICT_DNS/LOGICAL_DNS through the system resolver
// (localhost via /etc/hosts, nonexistent.invalid never resolves), change detection, last-good on failure,
// failure back-off and stop().

import test from 'node:test';
import assert from 'node:assert/strict';
import { compileCluster, type CompiledCluster } from '../../src/upstream/cluster-config.ts';
import { ClusterMembership, resolveForFamily, systemLookup, type HostSet, type LookupFunction } from '../../src/upstream/cluster-membership.ts';
import { TestStats } from './fixtures/stats.ts';

function cluster(config: Record<string, unknown>): CompiledCluster {
  const r = compileCluster({ name: 'c', ...config }, 'clusters[0]');
  assert.deepEqual(r.problems, []);
  return r.cluster!;
}

function lbEndpoints(...list: [string, number, Record<string, unknown>?][]): Record<string, unknown> {
  return {
    endpoints: [{ lb_endpoints: list.map(([address, port, extra]) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra })) }],
  };
}

/** Runs a membership, collecting every host set it emits. */
function run(c: CompiledCluster, lookup?: LookupFunction): { m: ClusterMembership; stats: TestStats; updates: HostSet[] } {
  const stats = new TestStats();
  const updates: HostSet[] = [];
  const m = new ClusterMembership(c, stats, stats.slots, (u) => updates.push(u), lookup);
  return { m, stats, updates };
}

test('STATIC: one host set at start, with health, weights and gauges', async () => {
  const c = cluster({
    load_assignment: {
      endpoints: [
        { lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } }, hostname: 'one' }, load_balancing_weight: 5 },
          { endpoint: { address: { socket_address: { address: '127.0.0.2', port_value: 2 } } }, health_status: 'UNHEALTHY' },
          { endpoint: { address: { socket_address: { address: '127.0.0.3', port_value: 3 } } }, health_status: 'DEGRADED' },
        ] },
        { priority: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '::1', port_value: 4 } } } }] },
      ],
    },
  });
  const { m, stats, updates } = run(c);
  assert.equal(m.initialized, false);
  await m.start();
  assert.equal(m.initialized, true);
  assert.equal(updates.length, 1);
  assert.equal(updates[0]!.cluster, 'c');
  assert.deepEqual(updates[0]!.hosts, [
    { address: '127.0.0.1', port: 1, weight: 5, priority: 0, healthy: true, degraded: false, hostname: 'one' },
    { address: '127.0.0.2', port: 2, weight: 1, priority: 0, healthy: false, degraded: false, hostname: '' },
    { address: '127.0.0.3', port: 3, weight: 1, priority: 0, healthy: true, degraded: true, hostname: '' },
    { address: '::1', port: 4, weight: 1, priority: 1, healthy: true, degraded: false, hostname: '' },
  ]);
  assert.deepEqual(m.current, updates[0]);
  assert.deepEqual(stats.nonZero(), { membership_total: 4, membership_healthy: 2, membership_degraded: 1 });
  m.stop();
  assert.deepEqual(stats.nonZero(), {});
});

test('STRICT_DNS resolves localhost through /etc/hosts; the DNS name is the host name', async () => {
  for (const family of ['V4_ONLY', 'AUTO', 'V4_PREFERRED', 'ALL']) {
    const { m, stats, updates } = run(cluster({ type: 'STRICT_DNS', dns_lookup_family: family, load_assignment: lbEndpoints(['localhost', 8080]) }));
    await m.start();
    m.stop();
    assert.equal(updates.length, 1, family);
    const hosts = updates[0]!.hosts;
    assert.ok(hosts.length >= 1, family);
    assert.ok(hosts.some((h) => h.address === '127.0.0.1' || h.address === '::1'), family);
    for (const h of hosts) assert.deepEqual({ ...h, address: '' }, { address: '', port: 8080, weight: 1, priority: 0, healthy: true, degraded: false, hostname: 'localhost' });
    assert.equal(stats.get('update_attempt'), 1);
    assert.equal(stats.get('update_success'), 1);
    assert.equal(stats.get('update_failure'), 0);
  }
});

test('STRICT_DNS: an unresolvable name counts a failure; the set is the union of what resolved', async () => {
  const { m, stats, updates } = run(cluster({
    type: 'STRICT_DNS', dns_lookup_family: 'V4_ONLY',
    load_assignment: lbEndpoints(['nonexistent.invalid', 80], ['localhost', 81], ['127.0.0.1', 81]),
  }));
  await m.start();
  m.stop();
  assert.equal(updates.length, 1, 'initialized after every endpoint was tried once');
  // localhost and 127.0.0.1 name the same address:port: one host, the first endpoint's.
  assert.deepEqual(updates[0]!.hosts, [{ address: '127.0.0.1', port: 81, weight: 1, priority: 0, healthy: true, degraded: false, hostname: 'localhost' }]);
  assert.equal(stats.get('update_attempt'), 3);
  assert.equal(stats.get('update_success'), 2);
  assert.equal(stats.get('update_failure'), 1);
});

test('STRICT_DNS: only unresolvable names still initialize, with an empty set', async () => {
  const { m, stats, updates } = run(cluster({ type: 'STRICT_DNS', load_assignment: lbEndpoints(['nonexistent.invalid', 80]) }));
  await m.start();
  m.stop();
  assert.deepEqual(updates.map((u) => u.hosts), [[]]);
  assert.equal(stats.get('update_failure'), 1);
  assert.equal(stats.get('membership_total'), 0);
});

/** A lookup that answers from a script (real resolver for names), and lets the test wait for the n-th call. */
class ScriptedLookup {
  calls = 0;
  answers: (string[] | string)[];
  private waiters: { n: number; resolve: () => void }[] = [];
  constructor(answers: (string[] | string)[]) {
    this.answers = answers;
  }
  readonly lookup: LookupFunction = async (_host, family) => {
    const answer = this.answers[Math.min(this.calls, this.answers.length - 1)]!;
    this.calls++;
    try {
      // A string is a name for the real resolver (e.g. nonexistent.invalid to fail); an array is the answer.
      return typeof answer === 'string' ? await systemLookup(answer, family) : answer;
    } finally {
      for (const w of this.waiters.filter((x) => x.n <= this.calls)) w.resolve();
      this.waiters = this.waiters.filter((x) => x.n > this.calls);
    }
  };
  /** Resolves once `n` lookups have completed and their results were processed. */
  async called(n: number): Promise<void> {
    if (this.calls < n) await new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
    await new Promise((r) => setImmediate(r));
  }
}

test('STRICT_DNS re-resolves and emits only when the set changed; failures keep the last good set', async () => {
  const script = new ScriptedLookup([
    ['127.0.0.2'],
    ['127.0.0.2'],
    ['127.0.0.2', '127.0.0.3'],
    ['127.0.0.3', '127.0.0.2'], // same set, other order: no update
    'nonexistent.invalid', // failure: keep the last set
    ['127.0.0.3'],
  ]);
  const { m, stats, updates } = run(cluster({ type: 'STRICT_DNS', dns_lookup_family: 'V4_ONLY', dns_refresh_rate: 5, dns_failure_refresh_rate: { base_interval: 5 }, load_assignment: lbEndpoints(['svc', 80]) }), script.lookup);
  await m.start();
  await script.called(6);
  m.stop();
  assert.deepEqual(updates.map((u) => u.hosts.map((h) => h.address)), [['127.0.0.2'], ['127.0.0.2', '127.0.0.3'], ['127.0.0.3']]);
  assert.ok(updates[0]!.version < updates[1]!.version && updates[1]!.version < updates[2]!.version, 'versions increase');
  assert.equal(stats.get('update_attempt'), 6);
  assert.equal(stats.get('update_success'), 5);
  assert.equal(stats.get('update_failure'), 1);
});

test('a failed refresh keeps the hosts resolved before', async () => {
  const script = new ScriptedLookup(['localhost', 'nonexistent.invalid']);
  const { m, stats, updates } = run(cluster({ type: 'STRICT_DNS', dns_lookup_family: 'V4_ONLY', dns_refresh_rate: 5, load_assignment: lbEndpoints(['svc', 80]) }), script.lookup);
  await m.start();
  await script.called(3);
  m.stop();
  assert.equal(updates.length, 1);
  assert.deepEqual(updates[0]!.hosts.map((h) => h.address), ['127.0.0.1']);
  assert.equal(stats.get('update_failure'), 2);
});

test('LOGICAL_DNS uses the first address only', async () => {
  const script = new ScriptedLookup([['127.0.0.7', '127.0.0.8'], ['127.0.0.7', '127.0.0.9'], ['127.0.0.8', '127.0.0.7']]);
  const { m, updates } = run(cluster({ type: 'LOGICAL_DNS', dns_refresh_rate: 5, load_assignment: lbEndpoints(['svc', 80]) }), script.lookup);
  await m.start();
  await script.called(3);
  m.stop();
  assert.deepEqual(updates.map((u) => u.hosts.map((h) => `${h.address}:${h.port}/${h.hostname}`)), [['127.0.0.7:80/svc'], ['127.0.0.8:80/svc']]);
});

test('stop(): no more lookups, late answers dropped, start() settles', async () => {
  let release: (v: string[]) => void = () => {};
  let calls = 0;
  const lookup: LookupFunction = () => {
    calls++;
    return new Promise<string[]>((r) => (release = r));
  };
  const { m, stats, updates } = run(cluster({ type: 'STRICT_DNS', dns_refresh_rate: 5, load_assignment: lbEndpoints(['svc', 80]) }), lookup);
  const started = m.start();
  m.stop();
  await started; // must not hang
  release(['127.0.0.1']);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(calls, 1);
  assert.deepEqual(updates, []);
  assert.equal(stats.get('update_success'), 0);
});

test('lookup families: AUTO is v6 then v4, V4_PREFERRED the reverse, ALL asks for both', async () => {
  const asked: number[] = [];
  const answers: Record<number, string[] | null> = { 4: ['127.0.0.1'], 6: ['::1'], 0: ['127.0.0.1', '::1'] };
  const lookup: LookupFunction = async (_h, family) => {
    asked.push(family);
    const a = answers[family];
    if (a === null || a === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return a;
  };
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'AUTO'), ['::1']);
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'V4_PREFERRED'), ['127.0.0.1']);
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'ALL'), ['127.0.0.1', '::1']);
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'V6_ONLY'), ['::1']);
  answers[6] = null;
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'AUTO'), ['127.0.0.1']);
  answers[6] = [];
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'AUTO'), ['127.0.0.1']);
  answers[4] = null;
  answers[6] = ['::1'];
  assert.deepEqual(await resolveForFamily(lookup, 'h', 'V4_PREFERRED'), ['::1']);
  await assert.rejects(resolveForFamily(lookup, 'h', 'V4_ONLY'));
  assert.deepEqual(asked, [6, 4, 0, 6, 6, 4, 6, 4, 4, 6, 4]);
});

test('failed resolutions back off from base_interval, doubling up to max_interval; success returns to dns_refresh_rate', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let fail = true;
  let calls = 0;
  const lookup: LookupFunction = async () => {
    calls++;
    if (fail) throw new Error('ENOTFOUND');
    return ['127.0.0.1'];
  };
  const { m } = run(cluster({ type: 'STRICT_DNS', dns_refresh_rate: 1000, dns_failure_refresh_rate: { base_interval: 100, max_interval: 300 }, load_assignment: lbEndpoints(['svc', 80]) }), lookup);
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  await m.start();
  /** Advances the mocked clock until the next lookup and returns how far that was. */
  const nextDelay = async (): Promise<number> => {
    const before = calls;
    for (let ms = 1; ms <= 5000; ms++) {
      t.mock.timers.tick(1);
      await settle();
      if (calls > before) return ms;
    }
    return -1;
  };
  assert.deepEqual([await nextDelay(), await nextDelay(), await nextDelay(), await nextDelay()], [100, 200, 300, 300]);
  fail = false;
  await nextDelay(); // this one succeeds
  assert.equal(await nextDelay(), 1000);
  m.stop();
});

