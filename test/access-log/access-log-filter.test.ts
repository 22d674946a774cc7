// Envoy's AccessLogFilter kinds evaluated on a StreamInfo (the e2e cases are in test/e2e/access-log.test.ts).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AccessLogFilter, compileAccessLogFilter, type AccessLogFilterProblem } from '../../src/access-log/access-log-filter.ts';
import { StreamInfo } from '../../src/http/stream-info.ts';

function build(f: Record<string, unknown>): AccessLogFilter {
  const problems: AccessLogFilterProblem[] = [];
  const data = compileAccessLogFilter(f, 'filter', problems);
  assert.deepEqual(problems, []);
  return new AccessLogFilter(data!);
}

describe('AccessLogFilter', () => {
  it('not_health_check_filter drops what the health_check filter marked a health check', () => {
    const filter = build({ not_health_check_filter: {} });
    const info = new StreamInfo();
    assert.equal(filter.evaluate(info, null), true);
    info.healthCheck = true;
    assert.equal(filter.evaluate(info, null), false);
  });

  it('status_code_filter with and/or nesting', () => {
    const filter = build({
      or_filter: { filters: [
        { status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } } },
        { and_filter: { filters: [{ not_health_check_filter: {} }, { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 404, runtime_key: 'k' } } } }] } },
      ] },
    });
    const info = new StreamInfo();
    info.responseCode = 503;
    assert.equal(filter.evaluate(info, null), true);
    info.responseCode = 404;
    assert.equal(filter.evaluate(info, null), true);
    info.healthCheck = true;
    assert.equal(filter.evaluate(info, null), false);
    info.responseCode = 200;
    info.healthCheck = false;
    assert.equal(filter.evaluate(info, null), false);
  });
});
