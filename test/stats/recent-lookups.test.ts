// RecentLookups (/stats/recentlookups): Envoy's bounded most-recent list, the total counted while disabled, and
// StatRegistry recording every name it allocates.

import test from 'node:test';
import assert from 'node:assert/strict';
import { RecentLookups, formatRecentLookups } from '../../src/stats/recent-lookups.ts';
import { StatRegistry } from '../../src/stats/stat-registry.ts';

test('disabled: only the total counts; enabled: the most recent names, the oldest evicted past capacity', () => {
  const r = new RecentLookups();
  r.lookup('a');
  assert.deepEqual([r.entries(), r.total, r.enabled], [[], 1, false]);
  r.setCapacity(2);
  r.lookup('a');
  r.lookup('b');
  r.lookup('a'); // a is the most recent now
  r.lookup('c'); // evicts b, the oldest
  assert.deepEqual(r.entries(), [['c', 1], ['a', 2]]);
  assert.equal(r.total, 5);
  r.setCapacity(1);
  assert.deepEqual(r.entries(), [['c', 1]]);
  r.clear();
  assert.deepEqual([r.entries(), r.total], [[], 0]);
  assert.equal(formatRecentLookups(r), '   Count Lookup\n\ntotal: 0\n');
});

test('StatRegistry looks up each name it allocates, again on a reload', () => {
  const reg = new StatRegistry({ maxValueSlots: 16 });
  reg.recentLookups.setCapacity(100);
  reg.counter('cluster.a.upstream_rq_total');
  reg.counter('cluster.a.upstream_rq_total');
  reg.gauge('server.live');
  assert.deepEqual(reg.recentLookups.entries(), [['server.live', 1], ['cluster.a.upstream_rq_total', 2]]);
  assert.deepEqual(Array.from(reg.counterSlots()), [0]);
});
