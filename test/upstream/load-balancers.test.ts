// Load balancers: one conformance suite that every registered policy runs, then each policy's own behaviour
// (exact rotation, weighted ratios, least-request preference). Randomness is seeded: no flakiness, no timing.

import test from 'node:test';
import assert from 'node:assert/strict';
import { LOAD_BALANCERS, createLoadBalancer, type LbHost, type LbOptions } from '../../workers/upstream/load-balancers.ts';
import { seededRandom } from './fixtures/stats.ts';

class Host implements LbHost {
  readonly name: string;
  /** What the hashing policies hash a host by (Envoy: its address). */
  readonly addressString: string;
  weight: number;
  activeRequests: number;
  constructor(name: string, weight = 1, activeRequests = 0) {
    this.name = name;
    this.addressString = `${name}.test:80`;
    this.weight = weight;
    this.activeRequests = activeRequests;
  }
}

function options(seed = 1, extra: Partial<LbOptions> = {}): LbOptions {
  // A ring larger than the default 1024 points, so that a share of it is close to the weight's share.
  return { random: seededRandom(seed), choiceCount: 2, activeRequestBias: 1, ringHash: { minimumRingSize: 16384, maximumRingSize: 8388608 }, ...extra };
}

function counts(policy: string, hosts: Host[], picks: number, opts = options()): Map<string, number> {
  const lb = createLoadBalancer(policy, hosts, opts);
  const out = new Map<string, number>(hosts.map((h) => [h.name, 0]));
  for (let i = 0; i < picks; i++) {
    const h = lb.chooseHost();
    assert.ok(h !== null);
    assert.ok(hosts.includes(h), 'picked a host that is not in the list');
    out.set(h.name, out.get(h.name)! + 1);
  }
  return out;
}

/** What each policy promises about weights. */
// RING_HASH and MAGLEV are asked without a hash here: a random point of the ring or table, so a host's share is
// its share of the ring or table, which follows its weight.
const HONOURS_WEIGHTS: Record<string, boolean> = { ROUND_ROBIN: true, LEAST_REQUEST: true, RANDOM: false, RING_HASH: true, MAGLEV: true };

test('every registered policy is covered by this suite', () => {
  assert.deepEqual([...LOAD_BALANCERS.keys()].sort(), Object.keys(HONOURS_WEIGHTS).sort());
});

for (const policy of LOAD_BALANCERS.keys()) {
  test(`conformance ${policy}: no hosts -> null, always`, () => {
    const lb = createLoadBalancer<Host>(policy, [], options());
    for (let i = 0; i < 5; i++) assert.equal(lb.chooseHost(), null);
  });

  test(`conformance ${policy}: one host -> that host, always`, () => {
    const only = new Host('only', 7, 3);
    const lb = createLoadBalancer(policy, [only], options());
    for (let i = 0; i < 20; i++) assert.equal(lb.chooseHost(), only);
  });

  test(`conformance ${policy}: equal weights and load spread evenly over every host`, () => {
    const hosts = ['a', 'b', 'c', 'd'].map((n) => new Host(n));
    const n = 4000;
    for (const [name, c] of counts(policy, hosts, n)) {
      assert.ok(c > (n / 4) * 0.8 && c < (n / 4) * 1.2, `${name}: ${c} of ${n}`);
    }
  });

  test(`conformance ${policy}: weights ${HONOURS_WEIGHTS[policy] ? 'set the ratio' : 'are ignored'}`, () => {
    const hosts = [new Host('w1', 1), new Host('w2', 2), new Host('w5', 5)];
    const n = 8000;
    const c = counts(policy, hosts, n);
    const expected = HONOURS_WEIGHTS[policy] ? [1 / 8, 2 / 8, 5 / 8] : [1 / 3, 1 / 3, 1 / 3];
    hosts.forEach((h, i) => {
      const share = c.get(h.name)! / n;
      assert.ok(Math.abs(share - expected[i]!) < 0.03, `${h.name}: share ${share}, expected ${expected[i]}`);
    });
  });

  test(`conformance ${policy}: the list given is not modified`, () => {
    const hosts = [new Host('a', 1), new Host('b', 3)];
    const copy = [...hosts];
    counts(policy, hosts, 50);
    assert.deepEqual(hosts, copy);
  });
}

test('ROUND_ROBIN with equal weights: exact rotation from a random start', () => {
  const hosts = ['a', 'b', 'c'].map((n) => new Host(n));
  const starts = new Set<string>();
  for (let seed = 1; seed <= 12; seed++) {
    const lb = createLoadBalancer('ROUND_ROBIN', hosts, options(seed));
    const seq = Array.from({ length: 9 }, () => lb.chooseHost()!.name);
    starts.add(seq[0]!);
    const i0 = hosts.findIndex((h) => h.name === seq[0]);
    assert.deepEqual(seq, Array.from({ length: 9 }, (_, i) => hosts[(i0 + i) % 3]!.name));
  }
  assert.ok(starts.size > 1, 'workers should not all start on the same host');
});

test('ROUND_ROBIN with weights: exact ratios, smoothly interleaved (EDF)', () => {
  const hosts = [new Host('a', 1), new Host('b', 2), new Host('c', 3)];
  const lb = createLoadBalancer('ROUND_ROBIN', hosts, options());
  const seq = Array.from({ length: 600 }, () => lb.chooseHost()!.name);
  const count = (name: string, s: string[]) => s.filter((x) => x === name).length;
  assert.deepEqual([count('a', seq), count('b', seq), count('c', seq)], [100, 200, 300]);
  // Smooth: every window of 6 consecutive picks holds each host in proportion, within one.
  for (let i = 0; i + 6 <= seq.length; i += 6) {
    const w = seq.slice(i, i + 6);
    assert.ok(Math.abs(count('a', w) - 1) <= 1 && Math.abs(count('b', w) - 2) <= 1 && Math.abs(count('c', w) - 3) <= 1, w.join(''));
  }
  // Never the same host three times in a row with these weights (not bursty).
  assert.ok(!/(.)\1\1/.test(seq.join('')));
});

test('LEAST_REQUEST prefers the less loaded host (power of two choices)', () => {
  const hosts = [new Host('busy1', 1, 10), new Host('idle', 1, 0), new Host('busy2', 1, 10)];
  const n = 3000;
  const c = counts('LEAST_REQUEST', hosts, n);
  // With 2 choices out of 3 the idle host wins whenever it is drawn: 1 - (2/3)^2 = 5/9 of picks.
  assert.ok(c.get('idle')! / n > 0.5, `idle got ${c.get('idle')}`);
  assert.ok(c.get('idle')! > c.get('busy1')! + c.get('busy2')!);
  // More choices: the idle host nearly always.
  const c10 = counts('LEAST_REQUEST', hosts, n, options(2, { choiceCount: 10 }));
  assert.ok(c10.get('idle')! / n > 0.95, `idle got ${c10.get('idle')} with 10 choices`);
});

test('LEAST_REQUEST follows load as it changes', () => {
  const a = new Host('a');
  const b = new Host('b');
  const lb = createLoadBalancer('LEAST_REQUEST', [a, b], options(3, { choiceCount: 5 }));
  a.activeRequests = 5;
  let picksOfB = 0;
  for (let i = 0; i < 100; i++) if (lb.chooseHost() === b) picksOfB++;
  assert.ok(picksOfB > 90);
  a.activeRequests = 0;
  b.activeRequests = 5;
  let picksOfA = 0;
  for (let i = 0; i < 100; i++) if (lb.chooseHost() === a) picksOfA++;
  assert.ok(picksOfA > 90);
});

test('LEAST_REQUEST with weights: weight / (active + 1) ^ bias', () => {
  const heavy = new Host('heavy', 2, 3); // effective 2 / 4 = 0.5
  const light = new Host('light', 1, 0); // effective 1
  const c = counts('LEAST_REQUEST', [heavy, light], 3000);
  assert.ok(Math.abs(c.get('light')! / 3000 - 2 / 3) < 0.02, `light: ${c.get('light')}`);
  // Bias 0: load is ignored, weights alone decide.
  const c0 = counts('LEAST_REQUEST', [heavy, light], 3000, options(1, { activeRequestBias: 0 }));
  assert.ok(Math.abs(c0.get('heavy')! / 3000 - 2 / 3) < 0.02, `heavy: ${c0.get('heavy')}`);
});

test('an unknown policy is a bug, not a silent default', () => {
  assert.throws(() => createLoadBalancer('CLUSTER_PROVIDED', [], options()), /CLUSTER_PROVIDED/);
});
