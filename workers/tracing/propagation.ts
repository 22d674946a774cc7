// Worker thread (pure functions). Trace context in request headers: W3C trace context (`traceparent`, with
// `tracestate` passed on untouched) for OpenTelemetry, B3 (`x-b3-*` and the single `b3` header) for Zipkin. Read
// when a request's span starts (continue the incoming trace), written into the upstream request.

import { getHeader, type HeaderList } from '../../src/http/stream-info.ts';
import { setHeader, removeHeader } from '../../src/http/header-list.ts';

export const TRACEPARENT = 'traceparent';
export const B3 = 'b3';
export const B3_TRACE_ID = 'x-b3-traceid';
export const B3_SPAN_ID = 'x-b3-spanid';
export const B3_PARENT_SPAN_ID = 'x-b3-parentspanid';
export const B3_SAMPLED = 'x-b3-sampled';
export const B3_FLAGS = 'x-b3-flags';

/** An incoming trace context: ids as lower-case hex (trace id 32 digits), and its sampling state. */
export interface IncomingContext {
  traceId: string;
  spanId: string;
  /** 1 sampled, 0 not sampled, -1 not said (B3 without x-b3-sampled: the proxy decides). */
  sampled: number;
  /** B3's parent span id (x-b3-parentspanid, or the single header's fourth field); null when absent or W3C. */
  parentSpanId: string | null;
}

/** The sampling state of the request's headers alone (B3 may say it with no ids): 1, 0 or -1. */
export interface ParsedContext {
  context: IncomingContext | null;
  sampled: number;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

function isLowerHex(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** W3C traceparent `00-<trace-id 32>-<parent-id 16>-<flags 2>` (a later version: its first four fields); null when invalid. */
export function parseTraceparent(v: string): IncomingContext | null {
  // Lower-case hex only, as W3C trace context requires.
  if (v.length < 55) return null;
  const s = v;
  if (s.charCodeAt(2) !== 45 || s.charCodeAt(35) !== 45 || s.charCodeAt(52) !== 45) return null;
  if (!isLowerHex(s, 0, 2) || !isLowerHex(s, 3, 35) || !isLowerHex(s, 36, 52) || !isLowerHex(s, 53, 55)) return null;
  const version = s.slice(0, 2);
  if (version === 'ff' || (version === '00' && s.length !== 55) || (s.length > 55 && s.charCodeAt(55) !== 45)) return null;
  const traceId = s.slice(3, 35);
  const spanId = s.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, sampled: (parseInt(s.slice(53, 55), 16) & 1) === 1 ? 1 : 0, parentSpanId: null };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** A B3 trace id of 16 or 32 hex digits, as 32 (a 64-bit id gets 16 leading zeros); null when invalid. */
function b3TraceId(v: string): string | null {
  const s = v.toLowerCase();
  if ((s.length !== 16 && s.length !== 32) || !isLowerHex(s, 0, s.length)) return null;
  const id = s.length === 16 ? ZERO_SPAN + s : s;
  return id === ZERO_TRACE ? null : id;
}

function b3SpanId(v: string): string | null {
  const s = v.toLowerCase();
  return s.length === 16 && isLowerHex(s, 0, 16) && s !== ZERO_SPAN ? s : null;
}

function b3Sampled(v: string | undefined): number {
  if (v === undefined) return -1;
  if (v === '1' || v === 'd' || v === 'true') return 1;
  if (v === '0' || v === 'false') return 0;
  return -1;
}

/** B3: the single `b3` header wins over the x-b3-* headers, as Envoy reads them. */
export function parseB3(headers: HeaderList): ParsedContext {
  const single = getHeader(headers, B3);
  if (single !== undefined) {
    const parts = single.split('-');
    if (parts.length === 1) return { context: null, sampled: b3Sampled(parts[0]) };
    const traceId = b3TraceId(parts[0]!);
    const spanId = b3SpanId(parts[1] ?? '');
    const sampled = b3Sampled(parts[2]);
    if (traceId === null || spanId === null) return { context: null, sampled };
    return { context: { traceId, spanId, sampled, parentSpanId: parts[3] === undefined ? null : b3SpanId(parts[3]) }, sampled };
  }
  let sampled = b3Sampled(getHeader(headers, B3_SAMPLED));
  if (getHeader(headers, B3_FLAGS) === '1') sampled = 1;
  const t = getHeader(headers, B3_TRACE_ID);
  const s = getHeader(headers, B3_SPAN_ID);
  if (t === undefined || s === undefined) return { context: null, sampled };
  const traceId = b3TraceId(t);
  const spanId = b3SpanId(s);
  if (traceId === null || spanId === null) return { context: null, sampled };
  const parent = getHeader(headers, B3_PARENT_SPAN_ID);
  return { context: { traceId, spanId, sampled, parentSpanId: parent === undefined ? null : b3SpanId(parent) }, sampled };
}

/** Writes B3 multi headers (and rewrites a single `b3` header the client sent, so the two never disagree). */
export function injectB3(headers: HeaderList, traceId: string, spanId: string, parentSpanId: string | null, sampled: boolean, traceId128: boolean): void {
  const tid = !traceId128 && traceId.startsWith(ZERO_SPAN) ? traceId.slice(16) : traceId;
  setHeader(headers, B3_TRACE_ID, tid);
  setHeader(headers, B3_SPAN_ID, spanId);
  if (parentSpanId !== null) setHeader(headers, B3_PARENT_SPAN_ID, parentSpanId);
  else removeHeader(headers, B3_PARENT_SPAN_ID);
  setHeader(headers, B3_SAMPLED, sampled ? '1' : '0');
  if (getHeader(headers, B3) !== undefined) {
    setHeader(headers, B3, `${tid}-${spanId}-${sampled ? '1' : '0'}${parentSpanId !== null ? '-' + parentSpanId : ''}`);
  }
}
