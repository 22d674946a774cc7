// envoy.filters.http.fault's config, in process (pure): FractionalPercent sampling, the header that lowers a
// percentage, header-controlled delay and abort values, and what the compiler refuses.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileFault, FaultPercentage, parseUnsigned } from '../../src/filters/fault-config.ts';
import type { FilterConfigProblem } from '../../src/filters/http-filter-config.ts';

describe('fault config', () => {
  it('a header lowers the configured numerator, never raises it; an unreadable one leaves it', () => {
    const p = new FaultPercentage(50, 100, 'x-p');
    assert.equal(p.numeratorFor(['x-p', '10']), 10);
    assert.equal(p.numeratorFor(['x-p', '90']), 50);
    assert.equal(p.numeratorFor(['x-p', 'ten']), 50);
    assert.equal(p.numeratorFor([]), 50);
    // A draw in [0, denominator) below the numerator picks the request.
    assert.equal(p.sample([], 0.49), true);
    assert.equal(p.sample([], 0.5), false);
    assert.equal(new FaultPercentage(0, 100, '').sample([], 0), false);
    assert.equal(new FaultPercentage(1, 1_000_000, '').sample([], 0.0000009), true);
    assert.equal(new FaultPercentage(1, 1_000_000, '').sample([], 0.000001), false);
  });

  it('reads header values as absl::SimpleAtoi does', () => {
    assert.equal(parseUnsigned(' +42 '), 42);
    assert.equal(parseUnsigned('-1'), -1);
    assert.equal(parseUnsigned('4x'), -1);
    assert.equal(parseUnsigned(undefined), -1);
  });

  it('header_delay and header_abort take their values from the request; out-of-range values mean no fault', () => {
    const problems: FilterConfigProblem[] = [];
    const s = compileFault({
      delay: { header_delay: {}, percentage: { numerator: 100 } },
      abort: { header_abort: {}, percentage: { numerator: 100 } },
    }, 'f', problems);
    assert.equal(problems.length, 0, JSON.stringify(problems));
    assert.equal(s.delay!.durationMs(['x-envoy-fault-delay-request', '250']), 250);
    assert.equal(s.delay!.durationMs(['x-envoy-fault-delay-request', '0']), -1);
    assert.equal(s.delay!.durationMs([]), -1);
    assert.equal(s.abort!.httpStatusFor(['x-envoy-fault-abort-request', '503']), 503);
    assert.equal(s.abort!.httpStatusFor(['x-envoy-fault-abort-request', '600']), 0);
    assert.equal(s.abort!.httpStatusFor(['x-envoy-fault-abort-request', '199']), 0);
    assert.equal(s.abort!.grpcStatusFor(['x-envoy-fault-abort-grpc-request', '16']), 16);
    assert.equal(s.abort!.grpcStatusFor(['x-envoy-fault-abort-grpc-request', '17']), -1);
    // The percentage header of each, over the configured denominator.
    assert.equal(s.abort!.percentage.numeratorFor(['x-envoy-fault-abort-request-percentage', '3']), 3);
    assert.equal(s.delay!.percentage.numeratorFor(['x-envoy-fault-delay-request-percentage', '7']), 7);
    assert.equal(s.maxActiveFaults, Infinity);
  });

  it('a fixed fault ignores the headers; an absent percentage is 0%', () => {
    const s = compileFault({ abort: { http_status: 418 }, delay: { fixed_delay: 10 }, max_active_faults: 3 }, 'f', []);
    assert.equal(s.abort!.httpStatusFor(['x-envoy-fault-abort-request', '503']), 418);
    assert.equal(s.delay!.durationMs(['x-envoy-fault-delay-request', '99']), 10);
    assert.equal(s.abort!.percentage.sample([], 0), false);
    assert.equal(s.maxActiveFaults, 3);
  });

  it('refuses response_rate_limit and filter_metadata as not supported yet, and a bad abort', () => {
    const problems: FilterConfigProblem[] = [];
    compileFault({ response_rate_limit: { fixed_limit: { limit_kbps: 1 } }, filter_metadata: { a: 1 }, abort: { http_status: 700 } }, 'f', problems);
    assert.deepEqual(problems.map((p) => `${p.code ?? 'bad_value'} ${p.path}`), [
      'not_supported f.response_rate_limit', 'not_supported f.filter_metadata', 'bad_value f.abort.http_status',
    ]);
  });
});
