// envoy.filters.http.buffer's config, in process (pure): Buffer and BufferPerRoute as Envoy validates them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileBuffer, compileBufferPerRoute } from '../../src/filters/buffer-config.ts';
import type { FilterConfigProblem } from '../../src/filters/http-filter-config.ts';

describe('buffer config', () => {
  it('max_request_bytes is required and above 0', () => {
    const problems: FilterConfigProblem[] = [];
    assert.deepEqual(compileBuffer({ max_request_bytes: 10 }, 'b', problems), { disabled: false, maxRequestBytes: 10 });
    compileBuffer({}, 'b', problems);
    compileBuffer({ max_request_bytes: 0 }, 'b', problems);
    assert.deepEqual(problems.map((p) => p.path), ['b.max_request_bytes', 'b.max_request_bytes']);
  });

  it('BufferPerRoute: disabled (true only) or a buffer of its own, exactly one', () => {
    const problems: FilterConfigProblem[] = [];
    assert.equal(compileBufferPerRoute({ disabled: true }, 'r', problems).disabled, true);
    assert.equal(compileBufferPerRoute({ buffer: { max_request_bytes: 5 } }, 'r', problems).maxRequestBytes, 5);
    assert.equal(problems.length, 0, JSON.stringify(problems));
    compileBufferPerRoute({}, 'r', problems);
    compileBufferPerRoute({ disabled: false }, 'r', problems);
    assert.deepEqual(problems.map((p) => p.path), ['r', 'r.disabled']);
  });
});
