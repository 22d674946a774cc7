// Worker thread, tests only. Installed by worker-main.ts when the process runs with test hooks (LEGATE_TEST_HOOKS=1,
// the same gate as the test_crash message) and LEGATE_TEST_THROW=1; never otherwise, so production code paths are
// untouched. It makes chosen handlers throw, the way a bug would, so tests can prove that an exception at a
// boundary resets only the connection or stream concerned, is counted, and leaves the worker serving:
// - request header `x-legate-test-throw: decode-headers`: ActiveStream.decodeHeaders throws (HTTP/1.1: inside the
//   connection's socket 'data' handler);
// - request header `x-legate-test-throw: route-timeout`: the route timeout's handler throws (a timer);
// - response header `x-legate-test-throw: response-head`: UpstreamRequest.onResponseHead throws (inside the upstream
//   socket's 'data' handler, or an HTTP/2 stream's 'response');
// - tcp_proxy: client bytes containing `LEGATE-TEST-THROW`: the session's downstream 'data' handler throws.
// HTTP/2 (Legate's codec and Http2Connection):
// - request header `x-legate-test-throw: h2-request`: Http2Connection.onRequest throws (the codec's callback about a
//   new stream, inside its socket read, before the connection keeps anything for that stream);
// - request header `x-legate-test-throw: h2-request-data`: Http2Connection.onRequestData throws on the request's
//   DATA (inside the codec's socket read; once the stream started, its upstream request is in flight);
// - a PING whose 8 bytes are `LGTTHROW`: the codec's PING handling throws (frame handling, connection level);
// - a response header `x-legate-test-throw: h2-encode` (e.g. from response_headers_to_add): the codec's HPACK
//   encoder throws half-way through that header block;
// - an HTTP/2 connection of a connection manager whose stat_prefix is `test_throw_idle`: its idle timeout's handler
//   throws; `test_throw_keepalive`: its keepalive timeout's handler throws (a PING went unanswered).

import { ActiveStream } from './http/active-stream.ts';
import { UpstreamRequest } from './router/upstream-request.ts';
import { TcpProxySession } from './tcp/tcp-proxy-session.ts';
import { Http2Connection } from './http/http2-connection.ts';
import { Http2ServerCodec, type Http2ServerStream } from './http2/server-codec.ts';
import { HpackEncoder } from '../src/http2/hpack-encoder.ts';
import { getHeader } from '../src/http/stream-info.ts';
import type { ResponseHead } from '../src/http1/types.ts';

const HEADER = 'x-legate-test-throw';
const TCP_MARKER = 'LEGATE-TEST-THROW';
const PING_MARKER = 'LGTTHROW';

/** The value of `name` in a flat HTTP/2 field list [name, value, ...] within [from, to), or undefined. */
function fieldValue(fields: readonly string[], name: string, from = 0, to = fields.length): string | undefined {
  for (let i = from; i < to; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export function installTestThrowHooks(): void {
  const stream = ActiveStream.prototype;
  const decodeHeaders = stream.decodeHeaders;
  stream.decodeHeaders = function (this: ActiveStream): void {
    if (getHeader(this.headers, HEADER) === 'decode-headers') throw new Error('test hook: decodeHeaders throws');
    decodeHeaders.call(this);
  };

  const upstream = UpstreamRequest.prototype;
  const onTimeout = upstream.onTimeout;
  upstream.onTimeout = function (this: UpstreamRequest): void {
    if (getHeader(this.stream.headers, HEADER) === 'route-timeout') throw new Error('test hook: route timeout throws');
    onTimeout.call(this);
  };
  const onResponseHead = upstream.onResponseHead;
  upstream.onResponseHead = function (this: UpstreamRequest, head: ResponseHead): void {
    if (getHeader(head.headers, HEADER) === 'response-head') throw new Error('test hook: onResponseHead throws');
    onResponseHead.call(this, head);
  };

  const session = TcpProxySession.prototype as unknown as { onDownstreamData(chunk: Buffer): void };
  const onDownstreamData = session.onDownstreamData;
  session.onDownstreamData = function (this: TcpProxySession, chunk: Buffer): void {
    if (chunk.includes(TCP_MARKER)) throw new Error('test hook: tcp_proxy downstream data throws');
    onDownstreamData.call(this, chunk);
  };

  const h2conn = Http2Connection.prototype;
  const onRequest = h2conn.onRequest;
  h2conn.onRequest = function (this: Http2Connection, h2s: Http2ServerStream, fields: string[], endStream: boolean): void {
    if (fieldValue(fields, HEADER) === 'h2-request') throw new Error('test hook: HTTP/2 onRequest throws');
    onRequest.call(this, h2s, fields, endStream);
  };
  const onRequestData = h2conn.onRequestData;
  h2conn.onRequestData = function (this: Http2Connection, h2s: Http2ServerStream, chunk: Buffer): void {
    const state = h2s.user as { stream: ActiveStream | null; fields: string[] | null } | null;
    const value = state === null ? undefined
      : state.stream !== null ? getHeader(state.stream.headers, HEADER)
      : state.fields !== null ? fieldValue(state.fields, HEADER) : undefined;
    if (value === 'h2-request-data') throw new Error('test hook: HTTP/2 onRequestData throws');
    onRequestData.call(this, h2s, chunk);
  };

  const onIdleTimeout = h2conn.onIdleTimeout;
  h2conn.onIdleTimeout = function (this: Http2Connection): void {
    if (this.hcm.config.statPrefix === 'test_throw_idle') throw new Error('test hook: HTTP/2 idle timeout throws');
    onIdleTimeout.call(this);
  };
  const count = h2conn.count;
  h2conn.count = function (this: Http2Connection, stat: string): void {
    if (stat === 'keepalive_timeout' && this.hcm.config.statPrefix === 'test_throw_keepalive') throw new Error('test hook: HTTP/2 keepalive timeout throws');
    count.call(this, stat);
  };

  const codec = Http2ServerCodec.prototype as unknown as { onPingFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void };
  const onPingFrame = codec.onPingFrame;
  codec.onPingFrame = function (this: Http2ServerCodec, flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (end - p === 8 && buf.toString('latin1', p, end) === PING_MARKER) throw new Error('test hook: HTTP/2 PING handling throws');
    onPingFrame.call(this, flags, sid, buf, p, end);
  };

  const encoder = HpackEncoder.prototype;
  const encode = encoder.encode;
  encoder.encode = function (this: HpackEncoder, fields: readonly string[], from: number, to: number, target: Buffer, offset: number): number {
    for (let i = from; i < to; i += 2) {
      if (fields[i] !== HEADER || fields[i + 1] !== 'h2-encode') continue;
      // Half-way: the fields before it advance the HPACK table as a real failure would.
      encode.call(this, fields, from, i, target, offset);
      throw new Error('test hook: HPACK encoding throws');
    }
    return encode.call(this, fields, from, to, target, offset);
  };
}
