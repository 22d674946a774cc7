// IdTable: live streams / connections by id. Randomized against a Map (the reference), with the probe runs and
// wrap-around that backward-shift deletion must get right; and the property it exists for: no retention of
// deleted items.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdTable } from '../../src/common/id-table.ts';

describe('IdTable', () => {
  it('agrees with a Map over 200,000 random inserts, lookups and deletes of odd, increasing ids', () => {
    const table = new IdTable<{ id: number }>(8, true);
    const ref = new Map<number, { id: number }>();
    let next = 1;
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const open: number[] = [];
    for (let step = 0; step < 200_000; step++) {
      const op = rand(10);
      if (op < 4 || open.length === 0) {
        // Open: mostly the next id; sometimes a jump, so ids far apart share slots.
        next += rand(20) === 0 ? 2 * (1 + rand(5000)) : 2;
        const item = { id: next };
        table.set(next, item);
        ref.set(next, item);
        open.push(next);
      } else if (op < 8) {
        const at = rand(open.length);
        const id = open[at]!;
        open[at] = open[open.length - 1]!;
        open.pop();
        table.delete(id);
        ref.delete(id);
      } else {
        const id = 1 + 2 * rand((next + 1) / 2);
        assert.equal(table.get(id), ref.get(id), `get(${id}) at step ${step}`);
      }
      if (step % 997 === 0) {
        assert.equal(table.size, ref.size);
        for (const id of open) assert.equal(table.get(id), ref.get(id), `open ${id} at step ${step}`);
      }
      // Keep the open set bounded, as max_concurrent_streams does.
      while (open.length > 300) {
        const id = open.shift()!;
        table.delete(id);
        ref.delete(id);
      }
    }
    assert.deepEqual(table.values().map((x) => x.id).sort((a, b) => a - b), [...ref.keys()].sort((a, b) => a - b));
  });

  it('deleting from a full probe run that wraps the end of the slots keeps every other entry reachable', () => {
    const table = new IdTable<number>(8, true); // 16 slots: ids 29, 31 hash to slots 14, 15; 61, 63 wrap to 14, 15 too
    for (const id of [29, 31, 61, 63, 93, 95]) table.set(id, id);
    table.delete(29);
    for (const id of [31, 61, 63, 93, 95]) assert.equal(table.get(id), id);
    table.delete(63);
    for (const id of [31, 61, 93, 95]) assert.equal(table.get(id), id);
    assert.equal(table.get(29), undefined);
    assert.equal(table.size, 4);
  });

  it('sequential ids (connections) agree with a Map too', () => {
    const table = new IdTable<number>();
    const ref = new Map<number, number>();
    for (let id = 1; id <= 50_000; id++) {
      table.set(id, id);
      ref.set(id, id);
      if (id % 3 !== 0) {
        const gone = id - (id % 7);
        if (gone > 0 && ref.has(gone)) {
          assert.equal(table.delete(gone), true);
          ref.delete(gone);
        }
      }
      if (id % 5 === 0 && ref.has(id - 4)) {
        assert.equal(table.delete(id - 4), true);
        ref.delete(id - 4);
      }
    }
    assert.equal(table.size, ref.size);
    for (let id = 1; id <= 50_000; id++) assert.equal(table.get(id), ref.get(id), `id ${id}`);
  });

  it('clear() and delete() drop the references to the items', () => {
    const table = new IdTable<object>(4);
    table.set(1, {});
    table.set(3, {});
    assert.equal(table.delete(1), true);
    assert.equal(table.delete(1), false, 'a second delete finds nothing');
    table.clear();
    assert.equal(table.size, 0);
    assert.deepEqual(table.values(), []);
    assert.equal(table.get(3), undefined);
  });
});
