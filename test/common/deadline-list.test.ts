// DeadlineLists (src/common/deadline-list.ts): timeouts that share a duration kept as one intrusive list with one
// Node timer. Checked by order of expiry, never by elapsed time.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineLists, type DeadlineEntry } from '../../src/common/deadline-list.ts';
import { waitUntil } from '../support/polling.ts';

class Item implements DeadlineEntry {
  deadlineAt = 0;
  deadlinePrev: DeadlineEntry | null = null;
  deadlineNext: DeadlineEntry | null = null;
  deadlineList: DeadlineEntry['deadlineList'] = null;
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

function expiring(): { lists: DeadlineLists<Item>; expired: string[] } {
  const expired: string[] = [];
  return { lists: new DeadlineLists<Item>((item) => expired.push(item.name)), expired };
}

describe('DeadlineLists', () => {
  it('expires entries of one duration in the order they were armed, and each only once', async () => {
    const { lists, expired } = expiring();
    const items = ['a', 'b', 'c', 'd'].map((n) => new Item(n));
    for (const it of items) lists.arm(it, 15);
    await waitUntil(() => expired.length === 4, () => `expired: ${expired}`);
    assert.deepEqual(expired, ['a', 'b', 'c', 'd']);
    for (const it of items) assert.equal(it.deadlineList, null);
    // The empty list let go of itself once its timer fired.
    await waitUntil(() => lists.listCount() === 0, () => 'the empty list was not released');
  });

  it('a cancelled entry never expires (one armed after it does)', async () => {
    const { lists, expired } = expiring();
    const a = new Item('a');
    const b = new Item('b');
    lists.arm(a, 15);
    lists.arm(b, 15);
    lists.cancel(a);
    lists.cancel(a); // twice: nothing
    await waitUntil(() => expired.includes('b'), () => `expired: ${expired}`);
    assert.deepEqual(expired, ['b']);
  });

  it('refresh moves an entry behind those armed after it', async () => {
    const { lists, expired } = expiring();
    const a = new Item('a');
    const b = new Item('b');
    lists.arm(a, 15);
    lists.arm(b, 15);
    lists.refresh(a);
    await waitUntil(() => expired.length === 2, () => `expired: ${expired}`);
    assert.deepEqual(expired, ['b', 'a']);
    // Refreshing an entry that is not armed leaves it so.
    lists.refresh(a);
    assert.equal(a.deadlineList, null);
  });

  it('keeps one list per duration; a shorter duration armed later expires first', async () => {
    const { lists, expired } = expiring();
    const long = new Item('long');
    const short = new Item('short');
    lists.arm(long, 60);
    lists.arm(short, 5);
    assert.equal(lists.listCount(), 2);
    await waitUntil(() => expired.length === 2, () => `expired: ${expired}`);
    assert.deepEqual(expired, ['short', 'long']);
  });

  it('re-arming moves an entry to another duration', async () => {
    const { lists, expired } = expiring();
    const a = new Item('a');
    const b = new Item('b');
    lists.arm(a, 5);
    lists.arm(a, 80);
    lists.arm(b, 10);
    await waitUntil(() => expired.length === 2, () => `expired: ${expired}`);
    assert.deepEqual(expired, ['b', 'a']);
  });

  it('an exception in one expiry does not stop the others', async () => {
    const expired: string[] = [];
    const lists = new DeadlineLists<Item>((item) => {
      expired.push(item.name);
      if (item.name === 'a') throw new Error('boom (expected in this test)');
    });
    // The exception is logged as an internal error (one line on stderr).
    lists.arm(new Item('a'), 5);
    lists.arm(new Item('b'), 5);
    await waitUntil(() => expired.length === 2, () => `expired: ${expired}`);
    assert.deepEqual(expired, ['a', 'b']);
  });

  it('an expiry may arm entries again (the list keeps running)', async () => {
    let rounds = 0;
    const lists: DeadlineLists<Item> = new DeadlineLists<Item>((item) => {
      rounds++;
      if (rounds < 3) lists.arm(item, 5);
    });
    lists.arm(new Item('a'), 5);
    await waitUntil(() => rounds === 3, () => `rounds: ${rounds}`);
  });
});
