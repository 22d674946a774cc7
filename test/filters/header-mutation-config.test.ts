// envoy.filters.http.header_mutation's config, in process (pure): each mutation applies in config order (unlike a
// route's headers_to_add, where removes come first), with HeaderValueOption's append actions.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHeaderMutation } from '../../src/filters/header-mutation-config.ts';
import type { FilterConfigProblem } from '../../src/filters/http-filter-config.ts';
import { StreamInfo } from '../../src/http/stream-info.ts';

describe('header_mutation config', () => {
  it('runs request mutations in order: append, remove, append leaves the last', () => {
    const problems: FilterConfigProblem[] = [];
    const c = compileHeaderMutation({
      mutations: {
        request_mutations: [
          { append: { header: { key: 'x-a', value: '1' } } },
          { remove: 'x-a' },
          { append: { header: { key: 'x-a', value: '2' } } },
          { append: { header: { key: 'x-b', value: 'new' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } },
          { append: { header: { key: 'x-c', value: 'no' }, append_action: 'OVERWRITE_IF_EXISTS' } },
        ],
      },
    }, 'hm', problems);
    assert.equal(problems.length, 0, JSON.stringify(problems));
    const headers = ['x-a', '0', 'x-b', 'old'];
    c.mutations.request!.apply(headers, new StreamInfo());
    assert.deepEqual(headers, ['x-b', 'new', 'x-a', '2']);
    assert.equal(c.mutations.response, null);
    assert.equal(c.mostSpecificWins, false);
  });

  it('reports problems at the mutation\'s own path', () => {
    const problems: FilterConfigProblem[] = [];
    compileHeaderMutation({ mutations: { response_mutations: [{ remove: 'host' }, {}] } }, 'hm', problems);
    assert.deepEqual(problems.map((p) => p.path), ['hm.mutations.response_mutations[0].remove', 'hm.mutations.response_mutations[1]']);
  });
});
