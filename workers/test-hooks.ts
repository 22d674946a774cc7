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

import { ActiveStream } from './http/active-stream.ts';
import { UpstreamRequest } from './router/upstream-request.ts';
import { TcpProxySession } from './tcp/tcp-proxy-session.ts';
import { getHeader } from '../src/http/stream-info.ts';
import type { ResponseHead } from '../src/http1/types.ts';

const HEADER = 'x-legate-test-throw';
const TCP_MARKER = 'LEGATE-TEST-THROW';

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
}
