// Fuzz target: src/http1 RequestParser on arbitrary client bytes. Invariants: nothing but the parser's own typed
// errors (one of HTTP1_ERROR_CODES, reported once, through onRequestError, never thrown); no callback after an
// error; the same record whether the bytes come in one piece, in random pieces, one byte at a time, or with the
// consumer pausing at every callback and resuming late (test/http1/harness.ts checks the callback order).

import { HTTP1_ERROR_CODES } from '../../../src/http1/errors.ts';
import { RequestParser } from '../../../src/http1/request-parser.ts';
import type { Http1Limits, Http1ParseError, Http1RequestCallbacks, RequestHead } from '../../../src/http1/types.ts';
import type { HeaderList } from '../../../src/http/stream-info.ts';
import { bytewise, runRequests } from '../../http1/harness.ts';
import { check, show, splitByHash } from './common.ts';

/** Small limits, so inputs of a few KiB reach them. */
const LIMITS: Http1Limits = Object.freeze({ maxHeadBytes: 1024, maxHeadersCount: 16 });
const CODES = new Set(HTTP1_ERROR_CODES);

/** A consumer that pauses in every callback when `pausing`; the driver then resumes only every other chunk. */
class Consumer implements Http1RequestCallbacks {
  readonly log: string[] = [];
  readonly parser: RequestParser;
  private readonly pausing: boolean;
  private body: Buffer[] = [];

  constructor(pausing: boolean) {
    this.pausing = pausing;
    this.parser = new RequestParser(LIMITS, this);
  }
  onRequestHead(h: RequestHead): void {
    this.log.push(`head ${h.method} ${JSON.stringify(h.target)} 1.${h.versionMinor} ${JSON.stringify(h.headers)} ` +
      `cl=${h.contentLength} chunked=${h.chunked} ka=${h.keepAlive} up=${h.upgrade}`);
    if (this.pausing) this.parser.pause();
  }
  onRequestBody(chunk: Buffer): void {
    this.body.push(Buffer.from(chunk));
    if (this.pausing) this.parser.pause();
  }
  onRequestComplete(trailers: HeaderList | null): void {
    this.flush();
    this.log.push(`complete ${JSON.stringify(trailers)}`);
    if (this.pausing) this.parser.pause();
  }
  onRequestError(err: Http1ParseError): void {
    this.flush();
    this.log.push(`error ${err.code}`);
  }
  flush(): void {
    if (this.body.length > 0) this.log.push(`body ${JSON.stringify(Buffer.concat(this.body).toString('latin1'))}`);
    this.body = [];
  }
}

/** Feeds `chunks`; a paused parser is resumed after every other chunk only, so input queues while paused. */
function runConsumer(chunks: readonly Buffer[], pausing: boolean): string {
  const c = new Consumer(pausing);
  const parser = c.parser;
  for (let i = 0; i < chunks.length; i++) {
    parser.execute(chunks[i]!);
    if (i % 2 === 1) while (parser.isPaused()) parser.resume();
  }
  while (parser.isPaused()) parser.resume();
  parser.finish();
  while (parser.isPaused()) parser.resume();
  c.flush();
  return JSON.stringify(c.log);
}

export function fuzz(data: Buffer): void {
  const whole = runRequests([data], true, LIMITS);
  check(whole.error === null || CODES.has(whole.error.code), () => `untyped error ${JSON.stringify(whole.error)}`);
  const expected = JSON.stringify(whole.log);
  const pieces = splitByHash(data, 4);
  const split = runRequests(pieces, true, LIMITS);
  check(JSON.stringify(split.log) === expected, () => `split input differs\n  input ${show(data)}\n  whole ${expected}\n  split ${JSON.stringify(split.log)}`);
  if (data.length <= 1024) {
    const bytes = runRequests(bytewise(data), true, LIMITS);
    check(JSON.stringify(bytes.log) === expected, () => `bytewise input differs\n  input ${show(data)}\n  whole ${expected}\n  bytes ${JSON.stringify(bytes.log)}`);
  }
  const reference = runConsumer(pieces, false);
  const paused = runConsumer(pieces, true);
  check(paused === reference, () => `pausing consumer differs\n  input ${show(data)}\n  plain  ${reference}\n  paused ${paused}`);
}
