// Test helper (main thread of the test process). Drives Legate's RequestParser / ResponseParser over an input cut
// into chunks and records what the callbacks saw, in a form that does not depend on the chunking: body pieces are
// joined per message, so the same bytes split differently must give an identical record.

import type { HeaderList } from '../../src/http/stream-info.ts';
import { RequestParser } from '../../src/http1/request-parser.ts';
import { ResponseParser } from '../../src/http1/response-parser.ts';
import type { Http1Limits, Http1ParseError, RequestHead, ResponseHead } from '../../src/http1/types.ts';

export const DEFAULT_LIMITS: Http1Limits = Object.freeze({ maxHeadBytes: 60 * 1024, maxHeadersCount: 100 });

export interface ParsedRequest {
  head: RequestHead;
  body: Buffer;
  trailers: HeaderList | null;
  /** onRequestComplete was called. */
  complete: boolean;
  /** Offset just past the message (for a tunnel: where the tunnel bytes start); -1 when fed in larger chunks. */
  end: number;
}

export interface RequestRun {
  messages: ParsedRequest[];
  error: Http1ParseError | null;
  /** Every callback in order, bodies joined: the chunking-independent record. */
  log: string[];
}

/** Cuts `input` at the given offsets (sorted, inside the buffer). */
export function cut(input: Buffer, at: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of at) {
    if (p > prev && p < input.length) {
      out.push(input.subarray(prev, p));
      prev = p;
    }
  }
  out.push(input.subarray(prev));
  return out;
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same sequence, in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `input` at up to `pieces - 1` random offsets. */
export function randomCuts(input: Buffer, rnd: () => number, pieces: number): Buffer[] {
  const at: number[] = [];
  for (let i = 1; i < pieces; i++) at.push(1 + Math.floor(rnd() * Math.max(1, input.length - 1)));
  at.sort((x, y) => x - y);
  return cut(input, at);
}

/** Every byte on its own. */
export function bytewise(input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i++) out.push(input.subarray(i, i + 1));
  return out;
}

function headLine(h: RequestHead): string {
  return `head ${h.method} ${JSON.stringify(h.target)} 1.${h.versionMinor} ${JSON.stringify(h.headers)} ` +
    `cl=${h.contentLength} chunked=${h.chunked} ka=${h.keepAlive} up=${h.upgrade}`;
}

/**
 * Feeds `chunks` to a new RequestParser (then finish() when `finish`), recording everything. Each byte position
 * is tracked so a 1-byte chunking yields exact message end offsets.
 */
export function runRequests(chunks: readonly Buffer[], finish = false, limits: Http1Limits = DEFAULT_LIMITS): RequestRun {
  const messages: ParsedRequest[] = [];
  const log: string[] = [];
  let error: Http1ParseError | null = null;
  let cur: ParsedRequest | null = null;
  let parts: Buffer[] = [];
  let offset = 0;
  let chunkEnd = 0;
  const exact = chunks.every((c) => c.length <= 1);
  const flushBody = (): void => {
    if (cur !== null && parts.length > 0) {
      const b = Buffer.concat(parts);
      cur.body = Buffer.concat([cur.body, b]);
      log.push(`body ${JSON.stringify(b.toString('latin1'))}`);
      parts = [];
    }
  };
  const parser = new RequestParser(limits, {
    onRequestHead(head) {
      if (error !== null) throw new Error('callback after error');
      cur = { head, body: Buffer.alloc(0), trailers: null, complete: false, end: -1 };
      messages.push(cur);
      if (head.upgrade && exact) cur.end = chunkEnd;
      log.push(headLine(head));
    },
    onRequestBody(chunk) {
      if (error !== null) throw new Error('callback after error');
      if (cur === null) throw new Error('body without head');
      if (chunk.length === 0) throw new Error('empty body chunk');
      parts.push(Buffer.from(chunk));
    },
    onRequestComplete(trailers) {
      if (error !== null) throw new Error('callback after error');
      if (cur === null) throw new Error('complete without head');
      flushBody();
      cur.trailers = trailers;
      cur.complete = true;
      if (!cur.head.upgrade && exact) cur.end = chunkEnd;
      log.push(`complete ${JSON.stringify(trailers)}`);
      cur = null;
    },
    onRequestError(err) {
      if (error !== null) throw new Error(`second error ${err.code} after ${error.code}`);
      flushBody();
      error = err;
      log.push(`error ${err.code} ${err.status}`);
    },
  });
  for (const c of chunks) {
    chunkEnd = offset + c.length;
    parser.execute(c);
    offset = chunkEnd;
  }
  if (finish) parser.finish();
  flushBody();
  return { messages, error, log };
}

export interface ParsedResponse {
  head: ResponseHead;
  body: Buffer;
  trailers: HeaderList | null;
  complete: boolean;
}

export interface ResponseRun {
  /** Final and interim heads, in order. */
  messages: ParsedResponse[];
  error: Http1ParseError | null;
  errors: number;
  log: string[];
}

/**
 * Feeds `chunks` to a new ResponseParser. `methods` are the request methods, one per expected response, passed
 * to expectResponse() before the first head and after each completed response; 'UPGRADE' is a GET that asked for
 * an upgrade (a 101 may open a tunnel).
 */
export function runResponses(
  chunks: readonly Buffer[], methods: readonly string[], finish = false, limits: Http1Limits = DEFAULT_LIMITS,
): ResponseRun {
  const messages: ParsedResponse[] = [];
  const log: string[] = [];
  let error: Http1ParseError | null = null;
  let errors = 0;
  let cur: ParsedResponse | null = null;
  let parts: Buffer[] = [];
  let next = 0;
  const flushBody = (): void => {
    if (cur !== null && parts.length > 0) {
      const b = Buffer.concat(parts);
      cur.body = Buffer.concat([cur.body, b]);
      log.push(`body ${JSON.stringify(b.toString('latin1'))}`);
      parts = [];
    }
  };
  const parser: ResponseParser = new ResponseParser(limits, {
    onResponseHead(head) {
      if (error !== null) throw new Error('callback after error');
      cur = { head, body: Buffer.alloc(0), trailers: null, complete: false };
      messages.push(cur);
      log.push(`head ${head.statusCode} ${JSON.stringify(head.reason)} 1.${head.versionMinor} ` +
        `${JSON.stringify(head.headers)} cl=${head.contentLength} chunked=${head.chunked} ka=${head.keepAlive} ` +
        `eof=${head.readUntilClose}`);
    },
    onResponseBody(chunk) {
      if (error !== null) throw new Error('callback after error');
      if (cur === null) throw new Error('body without head');
      if (chunk.length === 0) throw new Error('empty body chunk');
      parts.push(Buffer.from(chunk));
    },
    onResponseComplete(trailers) {
      if (error !== null) throw new Error('callback after error');
      if (cur === null) throw new Error('complete without head');
      flushBody();
      cur.trailers = trailers;
      cur.complete = true;
      log.push(`complete ${JSON.stringify(trailers)}`);
      cur = null;
      if (next < methods.length) expectNext();
    },
    onResponseError(err) {
      errors++;
      flushBody();
      error = err;
      log.push(`error ${err.code} ${err.status}`);
    },
  });
  const expectNext = (): void => {
    const m = methods[next++]!;
    parser.expectResponse(m === 'UPGRADE' ? 'GET' : m, m === 'UPGRADE');
  };
  if (next < methods.length) expectNext();
  for (const c of chunks) parser.execute(c);
  if (finish) parser.finish();
  flushBody();
  return { messages, error, errors, log };
}
