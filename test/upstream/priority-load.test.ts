// Priority load and panic mode, as Envoy computes them (overprovisioning factor 1.4, panic threshold).

import test from 'node:test';
import assert from 'node:assert/strict';
import { computePriorityLoad } from '../../workers/upstream/priority-load.ts';

function load(healthy: number[], total: number[], threshold = 50): { loads: number[]; panic: boolean[] } {
  return computePriorityLoad(healthy, total, threshold);
}

test('a healthy priority 0 takes everything', () => {
  assert.deepEqual(load([3], [3]), { loads: [100], panic: [false] });
  assert.deepEqual(load([4, 2], [4, 2]), { loads: [100, 0], panic: [false, false] });
  // 3 of 4 healthy is still 100% after overprovisioning (75% * 1.4 > 100%).
  assert.deepEqual(load([3, 2], [4, 2]), { loads: [100, 0], panic: [false, false] });
});

test('a degraded priority 0 spills over to priority 1', () => {
  assert.deepEqual(load([5, 4], [10, 4]), { loads: [70, 30], panic: [false, false] });
  // 1 of 4 is below the panic threshold, but the levels together are 100% healthy: no panic.
  assert.deepEqual(load([1, 4], [4, 4]), { loads: [35, 65], panic: [false, false] });
  assert.deepEqual(load([0, 2], [3, 2]), { loads: [0, 100], panic: [false, false] });
});

test('not enough health overall: load is normalized; levels under the threshold are in panic', () => {
  // 50% healthy is not below a 50% threshold; the empty-of-healthy level is.
  assert.deepEqual(load([2, 0], [4, 2]), { loads: [100, 0], panic: [false, true] });
});

test('every level in panic: load by host count, balancing over all hosts', () => {
  assert.deepEqual(load([0, 0], [3, 2]), { loads: [60, 40], panic: [true, true] });
  assert.deepEqual(load([1, 1], [4, 4]), { loads: [50, 50], panic: [true, true] });
  assert.deepEqual(load([0], [3]), { loads: [100], panic: [true] });
  assert.deepEqual(load([0, 0, 0], [1, 1, 1]), { loads: [34, 33, 33], panic: [true, true, true] });
});

test('panic threshold 0 disables panic: nothing healthy means no load at all', () => {
  assert.deepEqual(load([0], [3], 0), { loads: [0], panic: [false] });
  assert.deepEqual(load([1, 1], [4, 4], 0), { loads: [50, 50], panic: [false, false] });
});

test('no hosts at all', () => {
  assert.deepEqual(load([], []), { loads: [], panic: [] });
  assert.deepEqual(load([0], [0]), { loads: [0], panic: [true] });
});
