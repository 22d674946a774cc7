// Fuzz target: src/http1 ResponseParser on arbitrary upstream bytes. The first byte picks the methods of the
// requests the responses answer (HEAD and CONNECT change the body rules); the rest is the upstream's byte stream.
// Invariants: only the parser's own typed errors (status 502, one of HTTP1_ERROR_CODES), at most one, reported
// through onResponseError and never thrown; no callback after it; the same record whether the bytes come in one
// piece, in random pieces or one byte at a time (test/http1/harness.ts checks the callback order).

import { HTTP1_ERROR_CODES } from '../../../src/http1/errors.ts';
import type { Http1Limits } from '../../../src/http1/types.ts';
import { bytewise, runResponses } from '../../http1/harness.ts';
import { check, show, splitByHash } from './common.ts';

const LIMITS: Http1Limits = Object.freeze({ maxHeadBytes: 1024, maxHeadersCount: 16 });
const CODES = new Set(HTTP1_ERROR_CODES);
const METHODS = ['GET', 'HEAD', 'POST', 'CONNECT'];

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const b = data[0]!;
  const methods: string[] = [];
  for (let i = 0; i < 8; i++) methods.push(METHODS[(b >> ((i % 4) * 2)) & 3]!);
  const input = data.subarray(1);
  const whole = runResponses([input], methods, true, LIMITS);
  check(whole.errors <= 1, () => `${whole.errors} errors reported\n  input ${show(data)}`);
  check(whole.error === null || (CODES.has(whole.error.code) && whole.error.status === 502),
    () => `untyped error ${JSON.stringify(whole.error)}\n  input ${show(data)}`);
  const expected = JSON.stringify(whole.log);
  const split = runResponses(splitByHash(input, 4), methods, true, LIMITS);
  check(JSON.stringify(split.log) === expected,
    () => `split input differs (methods ${methods})\n  input ${show(input)}\n  whole ${expected}\n  split ${JSON.stringify(split.log)}`);
  if (input.length <= 1024) {
    const bytes = runResponses(bytewise(input), methods, true, LIMITS);
    check(JSON.stringify(bytes.log) === expected,
      () => `bytewise input differs (methods ${methods})\n  input ${show(input)}\n  whole ${expected}\n  bytes ${JSON.stringify(bytes.log)}`);
  }
}
