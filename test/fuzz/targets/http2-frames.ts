// Fuzz target: the HTTP/2 frame reader, i.e. workers/http2/server-codec.ts's input path (preface, frame headers
// and payloads, CONTINUATION assembly, HPACK, stream states, flow control, the flood limits), which is not
// separable from the codec: the codec runs on a socket-free stand-in (it only needs on/write/cork/end/destroy) and
// a tiny owner that answers, resets or leaves each stream. Byte 0: bit 0 prepends the client preface and an empty
// SETTINGS (so inputs start deep), bit 1 is stream_error_on_invalid_http_messaging, bit 2 small limits; the rest is
// what the client sends, fed in hash-chosen pieces. Invariants: no exception out of a read, nor one the codec's
// guards caught; what the codec writes is a well-formed frame sequence starting with SETTINGS whose header blocks
// decode (HPACK) on a client-side decoder; each stream closes at most once and gets no callbacks after; active
// streams stay within the limit.

import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { CLIENT_PREFACE, ErrorCode, FrameFlag, FrameType } from '../../../src/http2/frames.ts';
import { HpackDecodeResult, HpackDecoder } from '../../../src/http2/hpack-decoder.ts';
import { HTTP2_DEFAULTS } from '../../../src/snapshot/http2-options.ts';
import type { Http2Settings } from '../../../src/snapshot/snapshot-types.ts';
import { Http2ServerCodec, type Http2ServerCallbacks, type Http2ServerStream } from '../../../workers/http2/server-codec.ts';
import { check, show, splitByHash } from './common.ts';

const PREFIX = Buffer.concat([CLIENT_PREFACE, Buffer.from([0, 0, 0, FrameType.SETTINGS, 0, 0, 0, 0, 0])]);
const SMALL: Http2Settings = Object.freeze({
  ...HTTP2_DEFAULTS, maxConcurrentStreams: 3, initialStreamWindowSize: 100, maxOutboundFrames: 20, maxOutboundControlFrames: 8,
  maxConsecutiveInboundFramesWithEmptyPayload: 2, maxInboundPriorityFramesPerStream: 3, hpackTableSize: 64,
});
const RESPONSE = [':status', '200', 'content-type', 'text/plain', 'x-long', 'v'.repeat(300)];
const TRAILERS = ['grpc-status', '0'];
const BODY = Buffer.alloc(200, 'b');

/** The socket as the codec uses it: writes are collected, and everything written counts as drained at once. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  readonly out: Buffer[] = [];
  write(b: Buffer | string): boolean {
    this.out.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  resume(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

class Owner implements Http2ServerCallbacks {
  codec: Http2ServerCodec | null = null;
  readonly closedIds = new Set<number>();
  failure = '';
  connectionError = false;

  onRequest(stream: Http2ServerStream, fields: string[], endStream: boolean): void {
    if (this.connectionError) this.fail(`request on stream ${stream.id} after a connection error`);
    if (fields.length % 2 !== 0) this.fail(`odd field list ${JSON.stringify(fields)}`);
    const codec = this.codec!;
    switch (stream.id % 8) {
      case 1: // a whole response at once
        codec.respond(stream, RESPONSE, false);
        codec.writeData(stream, BODY);
        codec.end(stream, null);
        break;
      case 3: // reset by us
        codec.reset(stream, ErrorCode.CANCEL);
        break;
      case 5: // head only, body never comes; and the request is read slowly
        codec.respond(stream, RESPONSE, endStream);
        codec.pause(stream);
        break;
      default: // response with trailers
        codec.respond(stream, RESPONSE, false);
        codec.end(stream, TRAILERS);
    }
  }
  onRequestData(stream: Http2ServerStream, chunk: Buffer): void {
    if (this.closedIds.has(stream.id)) this.fail(`data on closed stream ${stream.id}`);
    if (chunk.length === 0) this.fail(`empty data chunk on stream ${stream.id}`);
  }
  onRequestEnd(stream: Http2ServerStream, trailers: string[] | null): void {
    if (this.closedIds.has(stream.id)) this.fail(`end on closed stream ${stream.id}`);
    if (trailers !== null && trailers.length % 2 !== 0) this.fail('odd trailer list');
    if (stream.id % 8 === 5) this.codec!.resume(stream);
  }
  onStreamClose(stream: Http2ServerStream): void {
    if (this.closedIds.has(stream.id)) this.fail(`stream ${stream.id} closed twice`);
    this.closedIds.add(stream.id);
  }
  onStreamWritable(): void {}
  onPeerGoaway(): void {}
  onConnectionError(): void {
    this.connectionError = true;
  }
  count(): void {}
  onClose(): void {}
  // The codec's exception guards: any exception it caught is a bug for the fuzzer.
  onStreamInternalError(stream: Http2ServerStream, err: unknown): void {
    this.fail(`exception on stream ${stream.id}: ${(err as Error).stack ?? String(err)}`);
  }
  onInternalError(err: unknown): void {
    this.fail(`exception: ${(err as Error).stack ?? String(err)}`);
  }
  private fail(why: string): void {
    if (this.failure === '') this.failure = why;
  }
}

/** Walks what the codec wrote: whole frames only, SETTINGS first, header blocks decodable in order. */
function checkOutput(out: Buffer, what: () => string): void {
  const decoder = new HpackDecoder(4096, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  let p = 0;
  let block: Buffer[] | null = null;
  let first = true;
  while (p < out.length) {
    check(out.length - p >= 9, () => `a partial frame header at ${p} of ${out.length}: ${what()}`);
    const length = out.readUIntBE(p, 3);
    const type = out[p + 3]!;
    const flags = out[p + 4]!;
    const end = p + 9 + length;
    check(end <= out.length, () => `a frame of ${length} bytes overruns the output at ${p}: ${what()}`);
    check(!first || type === FrameType.SETTINGS, () => `the first frame is type ${type}, not SETTINGS: ${what()}`);
    first = false;
    if (type === FrameType.HEADERS || type === FrameType.CONTINUATION) {
      check((type === FrameType.HEADERS) === (block === null), () => `CONTINUATION out of place at ${p}: ${what()}`);
      if (block === null) block = [];
      block.push(out.subarray(p + 9, end));
      if ((flags & FrameFlag.END_HEADERS) !== 0) {
        const fields: string[] = [];
        const r = decoder.decode(Buffer.concat(block), 0, Buffer.concat(block).length, fields);
        check(r === HpackDecodeResult.OK, () => `our header block does not decode (${r}) at ${p}: ${what()}`);
        block = null;
      }
    } else {
      check(block === null, () => `frame type ${type} inside a header block at ${p}: ${what()}`);
    }
    p = end;
  }
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const b = data[0]!;
  const input = (b & 1) !== 0 ? Buffer.concat([PREFIX, data.subarray(1)]) : data.subarray(1);
  const settings = (b & 4) !== 0 ? SMALL : HTTP2_DEFAULTS;
  const socket = new FakeSocket();
  const owner = new Owner();
  const codec = new Http2ServerCodec(socket as unknown as net.Socket, {
    settings, maxHeaderListBytes: (b & 4) !== 0 ? 256 : 60 * 1024, maxHeaders: (b & 4) !== 0 ? 4 : 100,
    streamErrorOnInvalidMessaging: (b & 2) !== 0, bufferLimitBytes: 1024 * 1024,
  }, owner);
  owner.codec = codec;
  codec.start(null);
  for (const piece of splitByHash(input, 3)) {
    socket.emit('data', piece);
    check(owner.failure === '', () => `${owner.failure}: ${show(data)}`);
    check(codec.activeStreams >= 0 && codec.activeStreams <= settings.maxConcurrentStreams,
      () => `${codec.activeStreams} active streams: ${show(data)}`);
  }
  codec.flush();
  socket.emit('end');
  socket.emit('close');
  check(owner.failure === '', () => `${owner.failure}: ${show(data)}`);
  checkOutput(Buffer.concat(socket.out), () => show(data));
}
