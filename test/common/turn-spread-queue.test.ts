// TurnSpreadQueue: bursts of work (a slowloris wave's header timeouts) run a bounded number per event-loop turn,
// in order, with other callbacks of the loop in between.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnSpreadQueue } from '../../src/common/turn-spread-queue.ts';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('runs at most perTurn items per turn, in order, letting the loop turn in between', async () => {
  const ran: number[] = [];
  const q = new TurnSpreadQueue<number, string>((n, tag) => ran.push(tag === 'x' ? n : -1), 8);
  for (let i = 0; i < 20; i++) q.push(i, 'x');
  assert.equal(ran.length, 0, 'nothing runs in the turn that queued it');
  await nextTurn();
  assert.equal(ran.length, 8);
  await nextTurn();
  assert.equal(ran.length, 16);
  await nextTurn();
  assert.deepEqual(ran, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(q.length, 0);
  // Drained: a later push starts again.
  q.push(99, 'x');
  await nextTurn();
  assert.equal(ran.at(-1), 99);
});
