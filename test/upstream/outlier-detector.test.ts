// Unit: the primary's outlier detector (src/upstream/outlier-detector.ts) and its config (outlier-config.ts), with a
// fake clock: consecutive 5xx over batches from several workers, gateway failures, success rate and failure
// percentage judged per interval, max_ejection_percent, ejection time growing with repeated ejections and
// shrinking back, enforcing_* percentages, and the host sets it passes on.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector, type HostResults } from '../../src/upstream/outlier-detector.ts';
import { compileOutlierDetection, type CompiledOutlierDetection, type OutlierProblem } from '../../src/upstream/outlier-config.ts';
import type { HostSet } from '../../src/upstream/cluster-membership.ts';

function config(raw: Record<string, unknown>): CompiledOutlierDetection {
  const problems: OutlierProblem[] = [];
  const c = compileOutlierDetection(raw, 'od', problems);
  assert.deepEqual(problems, []);
  return c!;
}

function hostSet(n: number): HostSet {
  const hosts = [];
  for (let i = 0; i < n; i++) hosts.push({ address: `10.0.0.${i + 1}`, port: 80, weight: 1, priority: 0, healthy: true, degraded: false, hostname: '' });
  return { cluster: 'c', version: 1, hosts };
}

function results(i: number, statuses: number[]): HostResults {
  let trailing5xx = 0;
  let trailingGateway = 0;
  let allGateway = true;
  let failed5xx = 0;
  for (const s of statuses) {
    if (s >= 500) {
      failed5xx++;
      trailing5xx++;
    } else trailing5xx = 0;
    if (s >= 502 && s <= 504) trailingGateway++;
    else {
      trailingGateway = 0;
      allGateway = false;
    }
  }
  return { address: `10.0.0.${i + 1}`, port: 80, total: statuses.length, failed5xx, trailing5xx, trailingGateway, allGateway, localTotal: statuses.length, localFailed: 0, trailingLocal: 0 };
}

function harness(raw: Record<string, unknown>, hosts = 10, random = 0) {
  let now = 1_000_000;
  const counters = new Map<string, number>();
  let active = 0;
  let last: HostSet | null = null;
  const events: Record<string, unknown>[] = [];
  const d = new OutlierDetector('c', config(raw), {
    now: () => now,
    random: () => random,
    startTimer: false,
    emit: (s) => {
      last = s;
    },
    stats: { inc: (n) => counters.set(n, (counters.get(n) ?? 0) + 1), setActive: (n) => (active = n) },
    event: (e) => events.push(e),
  });
  d.setBase(hostSet(hosts));
  return {
    d,
    counters,
    events,
    active: () => active,
    advance: (ms: number) => (now += ms),
    ejected: () => last!.hosts.filter((h) => !h.healthy).map((h) => h.address),
    flags: (i: number) => last!.hosts[i]!.healthFlags,
  };
}

describe('outlier detection config', () => {
  it("has Envoy's defaults", () => {
    const c = config({});
    assert.equal(c.consecutive5xx, 5);
    assert.equal(c.intervalMs, 10_000);
    assert.equal(c.baseEjectionTimeMs, 30_000);
    assert.equal(c.maxEjectionTimeMs, 300_000);
    assert.equal(c.maxEjectionPercent, 10);
    assert.equal(c.enforcingConsecutiveGatewayFailure, 0);
    assert.equal(c.successRateStdevFactor, 1900);
  });

  it('refuses fields not implemented and bad values with their position', () => {
    const problems: OutlierProblem[] = [];
    assert.equal(compileOutlierDetection({ successful_active_health_check_uneject_host: true, max_ejection_percent: 101 }, 'od', problems), null);
    assert.deepEqual(problems.map((p) => [p.code, p.path]), [['not_supported', 'od.successful_active_health_check_uneject_host'], ['bad_value', 'od.max_ejection_percent']]);
  });

  it('reads split_external_local_origin_errors and the local-origin settings with their defaults', () => {
    const c = config({ split_external_local_origin_errors: true, consecutive_local_origin_failure: 3 });
    assert.equal(c.splitExternalLocalOriginErrors, true);
    assert.equal(c.consecutiveLocalOriginFailure, 3);
    assert.equal(c.enforcingConsecutiveLocalOriginFailure, 100);
    assert.equal(c.enforcingFailurePercentageLocalOrigin, 0);
  });
});

/** A batch of local-origin results: true = a failure (connect, reset, timeout), false = a response came back. */
function local(i: number, failures: boolean[]): HostResults {
  let trailingLocal = 0;
  let localFailed = 0;
  for (const f of failures) {
    if (f) {
      localFailed++;
      trailingLocal++;
    } else trailingLocal = 0;
  }
  return { address: `10.0.0.${i + 1}`, port: 80, total: 0, failed5xx: 0, trailing5xx: 0, trailingGateway: 0, allGateway: true, localTotal: failures.length, localFailed, trailingLocal };
}

describe('outlier detector', () => {
  it('split_external_local_origin_errors: consecutive local-origin failures eject apart from 5xx', () => {
    const h = harness({ split_external_local_origin_errors: true, consecutive_local_origin_failure: 3, consecutive_5xx: 3, max_ejection_percent: 100 });
    h.d.report([local(0, [true, true])]);
    h.d.report([local(0, [false, true])]); // a response in between: the run starts again
    h.d.report([local(0, [true])]);
    assert.deepEqual(h.ejected(), []);
    h.d.report([local(0, [true])]);
    assert.deepEqual(h.ejected(), ['10.0.0.1']);
    assert.equal(h.counters.get('ejections_enforced_consecutive_local_origin_failure'), 1);
    assert.equal(h.counters.get('ejections_detected_consecutive_5xx'), undefined);
    assert.equal(h.events.at(-1)!['type'], 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE');
  });

  it('without the split, local-origin counts are ignored by the primary (workers fold them into 5xx)', () => {
    const h = harness({ consecutive_local_origin_failure: 1, max_ejection_percent: 100 });
    h.d.report([local(0, [true, true, true])]);
    assert.deepEqual(h.ejected(), []);
  });

  it('local-origin success rate is judged apart and shown as local_origin_success_rate', () => {
    const h = harness({ split_external_local_origin_errors: true, consecutive_local_origin_failure: 0, success_rate_minimum_hosts: 3, success_rate_request_volume: 10, success_rate_stdev_factor: 1000 }, 4);
    const ok = Array(20).fill(false);
    h.d.report([local(0, ok), local(1, ok), local(2, ok), local(3, [...Array(10).fill(true), ...Array(10).fill(false)])]);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), ['10.0.0.4']);
    assert.equal(h.counters.get('ejections_enforced_local_origin_success_rate'), 1);
    assert.equal(h.d.hostInfo('10.0.0.4', 80)?.localOriginSuccessRate, 50);
    assert.equal(h.d.hostInfo('10.0.0.4', 80)?.successRate, -1);
  });

  it('ejects after consecutive_5xx spread over batches of two workers; a success in between resets the run', () => {
    const h = harness({ consecutive_5xx: 4, max_ejection_percent: 100 });
    h.d.report([results(0, [503, 500])]);
    h.d.report([results(0, [200, 500])]); // worker 2: a success, then one 5xx: run is 1
    assert.deepEqual(h.ejected(), []);
    h.d.report([results(0, [500, 500])]);
    assert.deepEqual(h.ejected(), []);
    h.d.report([results(0, [500])]);
    assert.deepEqual(h.ejected(), ['10.0.0.1']);
    assert.equal(h.flags(0), '/failed_outlier_check');
    assert.equal(h.counters.get('ejections_enforced_consecutive_5xx'), 1);
    assert.equal(h.counters.get('ejections_detected_consecutive_5xx'), 1);
    assert.equal(h.counters.get('ejections_enforced_total'), 1);
    assert.equal(h.active(), 1);
    assert.equal(h.events[0]!['action'], 'EJECT');
    assert.equal(h.events[0]!['type'], 'CONSECUTIVE_5XX');
  });

  it('un-ejects after base_ejection_time; a second ejection lasts twice as long, capped by max_ejection_time', () => {
    const h = harness({ consecutive_5xx: 1, base_ejection_time: 1000, max_ejection_time: 1500, interval: 100, max_ejection_percent: 100 });
    h.d.report([results(0, [500])]);
    assert.deepEqual(h.ejected(), ['10.0.0.1']);
    h.advance(999);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), ['10.0.0.1']);
    h.advance(1);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), []);
    assert.equal(h.active(), 0);
    h.d.report([results(0, [500])]);
    h.advance(1499);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), ['10.0.0.1'], 'second ejection: min(2 x 1000, 1500) ms');
    h.advance(1);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), []);
    // Healthy long enough: the multiplier comes back down, the next ejection is short again.
    for (let i = 0; i < 4; i++) {
      h.advance(1000);
      h.d.runInterval();
    }
    h.d.report([results(0, [500])]);
    h.advance(1000);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), []);
  });

  it('respects max_ejection_percent (one host can always go) and counts ejections_overflow', () => {
    const h = harness({ consecutive_5xx: 1, max_ejection_percent: 20 }, 10);
    h.d.report([results(0, [500]), results(1, [500]), results(2, [500])]);
    assert.deepEqual(h.ejected(), ['10.0.0.1', '10.0.0.2']);
    assert.equal(h.counters.get('ejections_overflow'), 1);
    assert.equal(h.active(), 2);
  });

  it('enforcing_consecutive_5xx 0 detects without ejecting', () => {
    const h = harness({ consecutive_5xx: 1, enforcing_consecutive_5xx: 0 });
    h.d.report([results(0, [500])]);
    assert.deepEqual(h.ejected(), []);
    assert.equal(h.counters.get('ejections_detected_consecutive_5xx'), 1);
    assert.equal(h.counters.get('ejections_enforced_consecutive_5xx'), undefined);
  });

  it('consecutive_gateway_failure when enforced; a 500 breaks the gateway run', () => {
    const h = harness({ consecutive_5xx: 100, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100 });
    h.d.report([results(0, [502, 503, 500, 504, 503])]);
    assert.deepEqual(h.ejected(), []);
    h.d.report([results(0, [502])]);
    assert.deepEqual(h.ejected(), ['10.0.0.1']);
    assert.equal(h.counters.get('ejections_enforced_consecutive_gateway_failure'), 1);
  });

  it('success rate: the host below mean - stdev x factor is ejected at the interval', () => {
    const h = harness({ consecutive_5xx: 0, success_rate_minimum_hosts: 5, success_rate_request_volume: 10, success_rate_stdev_factor: 1000 }, 6);
    const ok = Array(20).fill(200);
    const bad = [...Array(10).fill(200), ...Array(10).fill(500).map((s, i) => (i % 2 === 0 ? s : 200))];
    // host 5 has 75% success, the others 100%; too few requests from host 4 to count.
    h.d.report([results(0, ok), results(1, ok), results(2, ok), results(3, ok), results(4, [200]), results(5, bad)]);
    h.d.report([results(4, ok)]);
    assert.deepEqual(h.ejected(), []);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), ['10.0.0.6']);
    assert.equal(h.counters.get('ejections_enforced_success_rate'), 1);
    assert.equal(h.d.hostInfo('10.0.0.6', 80)?.successRate, 75);
    assert.equal(h.d.hostInfo('10.0.0.1', 80)?.successRate, 100);
  });

  it('success rate needs success_rate_minimum_hosts hosts with the request volume', () => {
    const h = harness({ consecutive_5xx: 0, success_rate_minimum_hosts: 5, success_rate_request_volume: 10 }, 6);
    h.d.report([results(0, Array(20).fill(200)), results(5, Array(20).fill(500))]);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), []);
    assert.equal(h.counters.get('ejections_detected_success_rate'), undefined);
  });

  it('failure percentage when enforced', () => {
    const h = harness({ consecutive_5xx: 0, enforcing_failure_percentage: 100, failure_percentage_minimum_hosts: 2, failure_percentage_request_volume: 5, failure_percentage_threshold: 50 }, 3);
    h.d.report([results(0, Array(10).fill(200)), results(1, [200, 200, 200, 500, 500, 500, 500, 500])]);
    h.d.runInterval();
    assert.deepEqual(h.ejected(), ['10.0.0.2']);
    assert.equal(h.counters.get('ejections_enforced_failure_percentage'), 1);
  });

  it('a host leaving the set stops counting as ejected', () => {
    const h = harness({ consecutive_5xx: 1, max_ejection_percent: 100 }, 3);
    h.d.report([results(2, [500])]);
    assert.equal(h.active(), 1);
    h.d.setBase(hostSet(2));
    assert.equal(h.active(), 0);
    assert.deepEqual(h.ejected(), []);
  });
});
