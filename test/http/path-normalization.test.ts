// Unit: the connection manager's normalize_path and merge_slashes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeSlashes, normalizePath } from '../../src/http/path-normalization.ts';

test('normalizePath removes dot segments (RFC 3986 5.2.4) and keeps the query', () => {
  const cases: [string, string][] = [
    ['/a/b/../c', '/a/c'],
    ['/a/./b/.', '/a/b/'],
    ['/../../x', '/x'],
    ['/a/b/..', '/a/'],
    ['/a\\b\\..\\c', '/a/c'],
    ['/a/../b?x=/../y', '/b?x=/../y'],
    ['/plain?q=1', '/plain?q=1'],
    ['/', '/'],
    ['/a..b/c.', '/a..b/c.'],
  ];
  for (const [input, want] of cases) assert.equal(normalizePath(input), want, input);
});

test('mergeSlashes collapses runs of slashes in the path only', () => {
  assert.equal(mergeSlashes('//a///b/c//'), '/a/b/c/');
  assert.equal(mergeSlashes('/a//b?next=//x'), '/a/b?next=//x');
  assert.equal(mergeSlashes('/a/b'), '/a/b');
});
