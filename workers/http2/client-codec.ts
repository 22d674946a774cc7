// Worker thread. Legate's own HTTP/2 client codec (RFC 9113) for one upstream connection, on the same src/http2
// parts as the server codec (frames, frame writer, HPACK, message validation): client preface and SETTINGS, odd
// stream ids, header blocks with CONTINUATION, flow control both ways, trailers both ways, RST_STREAM, GOAWAY
// (streams above its last stream id are refused), PING (keepalive), the peer's SETTINGS_MAX_CONCURRENT_STREAMS,
// SETTINGS_MAX_FRAME_SIZE and SETTINGS_MAX_HEADER_LIST_SIZE. A protocol error from the peer is a connection error
// (GOAWAY, then the socket ends): its streams are reset with Envoy's reset reason protocol_error.
//
// It knows nothing of pools or routing: a stream is a plain Http2ClientStream whose `handler` (the owner's object,
// one per request, no closures) hears onHeaders/onData/onTrailers/onEnd/onReset/onWritable; the connection's owner
// (the pool) hears Http2ClientConnectionCallbacks. Output of one read (and of one event-loop turn) goes out in one
// write.
//
// Exceptions (bugs) stop at the codec's entry points: one thrown by a stream's handler resets that stream
// (RST_STREAM INTERNAL_ERROR, onStreamInternalError) and the read goes on; anywhere else the connection ends
// (GOAWAY INTERNAL_ERROR, socket destroyed, onInternalError). The worker keeps serving every other connection.

import type net from 'node:net';
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, FRAME_HEADER_BYTES, FrameFlag, FrameType,
  SettingId,
} from '../../src/http2/frames.ts';
import { HpackDecoder, HpackDecodeResult } from '../../src/http2/hpack-decoder.ts';
import { checkResponseFields, checkTrailerFields } from '../../src/http2/message-validation.ts';
import { IdTable } from '../../src/common/id-table.ts';
import { destroySocket, writeSegments } from './write-segments.ts';
import { ERROR_CLOSE_GRACE_MS, Http2CodecBase, Http2StreamBase } from './codec-base.ts';

/**
 * Envoy's StreamResetReason for a stream the codec ends (Http2ClientStream.resetReason; RESET_REASON_NAMES for
 * access logs and details).
 */
export const Http2ResetReason = {
  /** We reset it (the owner's reset(), or a stream error we found). */
  LOCAL_RESET: 0,
  /** The peer reset it (RST_STREAM other than REFUSED_STREAM). */
  REMOTE_RESET: 1,
  /** Never processed by the peer: RST_STREAM REFUSED_STREAM, or above a GOAWAY's last stream id. Safe to retry. */
  REMOTE_REFUSED_STREAM_RESET: 2,
  /** The connection closed under it. */
  CONNECTION_TERMINATION: 3,
  /** The peer broke the protocol (a connection error), or its response was malformed (a stream error). */
  PROTOCOL_ERROR: 4,
  /** The connection never came up (closed before the peer's SETTINGS). */
  CONNECTION_FAILURE: 5,
} as const;
export type Http2ResetReason = (typeof Http2ResetReason)[keyof typeof Http2ResetReason];

/** Envoy's words for each reset reason (StreamResetReason's string form). */
export const RESET_REASON_NAMES: readonly string[] = [
  'local reset', 'remote reset', 'remote refused stream reset', 'connection termination', 'protocol error', 'connection failure',
];

/** Streams a fresh connection may open before the peer's SETTINGS say how many (node:http2's and Envoy's 100). */
const PRE_SETTINGS_MAX_STREAMS = 100;
/** The largest stream id (2^31 - 1): a connection that runs out of ids takes no new streams. */
const MAX_STREAM_ID = 0x7fffffff;
const EMPTY = Buffer.alloc(0);

export interface Http2ClientCodecOptions {
  /** http2_protocol_options.initial_stream_window_size: our SETTINGS_INITIAL_WINDOW_SIZE. */
  readonly initialStreamWindowSize: number;
  /** initial_connection_window_size: the connection's receive window (a WINDOW_UPDATE on stream 0 raises it). */
  readonly initialConnectionWindowSize: number;
  /** The cluster's max_concurrent_streams: at most this many streams whatever the peer allows. */
  readonly maxConcurrentStreams: number;
  /** max_response_headers_kb in bytes: our SETTINGS_MAX_HEADER_LIST_SIZE; a larger response head resets its stream. */
  readonly maxHeaderListBytes: number;
  /** max_response_headers_count (pseudo-headers not counted). */
  readonly maxHeaders: number;
  /** per_connection_buffer_limit_bytes: request bytes buffered for the socket above which writes say "full". */
  readonly bufferLimitBytes: number;
}

/**
 * What a stream's owner hears, synchronously from the socket's read (or from the codec's own calls). Each stream
 * hears at most one of onEnd / onReset as its last word about the response; after onReset nothing more. The owner
 * may call back into the codec from any of them. An exception thrown here resets the stream (INTERNAL_ERROR).
 */
export interface Http2ClientStreamHandler {
  /** A response head (1xx informational ones too: the owner reads :status); `fields` flat pairs, :status first. */
  onHeaders(stream: Http2ClientStream, fields: string[], endStream: boolean): void;
  /** Response body bytes: a view of the read buffer (copy to keep it past the next read). */
  onData(stream: Http2ClientStream, chunk: Buffer): void;
  /** Response trailers (valid, no pseudo-headers); onEnd follows at once. */
  onTrailers(stream: Http2ClientStream, fields: string[]): void;
  /** The response ended (END_STREAM). */
  onEnd(stream: Http2ClientStream): void;
  /** The stream was reset before its response ended: stream.resetReason (Http2ResetReason), stream.resetCode. */
  onReset(stream: Http2ClientStream): void;
  /** A stream whose writeData returned false may write again. */
  onWritable(stream: Http2ClientStream): void;
}

/** What the connection's owner hears. Must not throw into the codec (it is a bug: the connection ends). */
export interface Http2ClientConnectionCallbacks {
  /** The peer's SETTINGS arrived (the first one: the connection is up; later ones may change capacity()). */
  onRemoteSettings(codec: Http2ClientCodec): void;
  /** The peer sent GOAWAY: no new streams; streams above lastStreamId were refused (onReset) before this call. */
  onGoaway(codec: Http2ClientCodec, code: number, lastStreamId: number): void;
  /** A stream left the connection (ended both ways or reset): a slot is free. */
  onStreamClose(codec: Http2ClientCodec, stream: Http2ClientStream): void;
  /** We close the connection for the peer's protocol error (GOAWAY `code` sent). */
  onConnectionError(codec: Http2ClientCodec, code: number, detail: string): void;
  /** A counted protocol event, as the http2.* stat it names: rx_reset, tx_reset, header_overflow, rx_messaging_error, trailers. */
  count(stat: string): void;
  /** The socket closed; every stream has heard onReset or onEnd. */
  onClose(codec: Http2ClientCodec): void;
  /** An exception escaped a stream handler (a bug): the stream is reset with INTERNAL_ERROR. */
  onStreamInternalError(stream: Http2ClientStream, err: unknown): void;
  /** An exception escaped the codec (a bug): the connection has ended. */
  onInternalError(codec: Http2ClientCodec, err: unknown): void;
}

/** One request/response exchange (the sending side's fields in Http2StreamBase). Its fields are the codec's; `user` is the owner's. */
export class Http2ClientStream extends Http2StreamBase {
  handler: Http2ClientStreamHandler;
  user: unknown;
  recvWindow: number;
  /** Response bytes delivered and not yet returned to the peer in a WINDOW_UPDATE. */
  recvUnacked: number;
  /** A final (non-1xx) response head came. */
  headersReceived: boolean;
  remoteEnded: boolean;
  /** Http2ResetReason when reset, else -1. */
  resetReason: number;
  /** The RST_STREAM or GOAWAY code that ended it, or -1. */
  resetCode: number;
  /** No WINDOW_UPDATEs for this stream while paused (the owner cannot take more yet). */
  paused: boolean;
  /** The request is not HEAD: a response body may come, and must agree with content-length (RFC 9113 §8.1.1). */
  bodyAllowed: boolean;
  /** The response's content-length, or -1; and the DATA bytes received. */
  contentLength: number;
  receivedBytes: number;

  constructor(id: number, handler: Http2ClientStreamHandler, sendWindow: number, recvWindow: number) {
    super(id, sendWindow);
    this.handler = handler;
    this.user = null;
    this.recvWindow = recvWindow;
    this.recvUnacked = 0;
    this.headersReceived = false;
    this.remoteEnded = false;
    this.resetReason = -1;
    this.resetCode = -1;
    this.paused = false;
    this.bodyAllowed = true;
    this.contentLength = -1;
    this.receivedBytes = 0;
  }
}

export class Http2ClientCodec extends Http2CodecBase<Http2ClientStream> {
  private readonly options: Http2ClientCodecOptions;
  private readonly callbacks: Http2ClientConnectionCallbacks;
  /** The owner's (the pool's connection object). */
  user: unknown;
  private readonly decoder: HpackDecoder;
  private readonly streams: IdTable<Http2ClientStream>;
  activeStreams: number;
  /** Streams opened on this connection ever (max_requests_per_connection is the owner's). */
  streamsOpened: number;
  /** The peer's first SETTINGS arrived. */
  remoteSettingsReceived: boolean;
  /** The peer sent GOAWAY: no new streams. */
  goawayReceived: boolean;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS (PRE_SETTINGS_MAX_STREAMS before its SETTINGS). */
  peerMaxConcurrentStreams: number;
  /** The peer's SETTINGS_MAX_HEADER_LIST_SIZE (unlimited until it says). */
  peerMaxHeaderListBytes: number;
  private nextStreamId: number;
  private carry: Buffer | null;
  private reading: boolean;
  private flushScheduled: boolean;
  private started: boolean;
  private goawaySent: boolean;
  // Flow control (the sending side's in Http2CodecBase).
  private localSettingsAcked: boolean;
  private closeTimer: NodeJS.Timeout | null;
  private readonly onDataBound: (chunk: Buffer) => void;
  private readonly onDrainBound: () => void;
  private readonly onEndBound: () => void;
  private readonly onCloseBound: () => void;

  constructor(socket: net.Socket, options: Http2ClientCodecOptions, callbacks: Http2ClientConnectionCallbacks) {
    // The connection window is given back in steps of half of it.
    const connectionWindow = Math.max(DEFAULT_WINDOW_SIZE, options.initialConnectionWindowSize);
    super(socket, options.bufferLimitBytes, connectionWindow, connectionWindow >>> 1);
    this.options = options;
    this.callbacks = callbacks;
    this.user = null;
    // +1 pair for :status beyond max_headers_count.
    this.decoder = new HpackDecoder(4096, options.maxHeaderListBytes, options.maxHeaders + 1);
    this.streams = new IdTable<Http2ClientStream>(Math.min(options.maxConcurrentStreams, 128), true);
    this.activeStreams = 0;
    this.streamsOpened = 0;
    this.remoteSettingsReceived = false;
    this.goawayReceived = false;
    this.peerMaxConcurrentStreams = PRE_SETTINGS_MAX_STREAMS;
    this.peerMaxHeaderListBytes = Number.MAX_SAFE_INTEGER;
    this.nextStreamId = 1;
    this.carry = null;
    this.reading = false;
    this.flushScheduled = false;
    this.started = false;
    this.goawaySent = false;
    this.localSettingsAcked = false;
    this.closeTimer = null;
    this.onDataBound = this.onSocketData.bind(this);
    this.onDrainBound = this.onSocketDrain.bind(this);
    this.onEndBound = this.onSocketEnd.bind(this);
    this.onCloseBound = this.onSocketClose.bind(this);
  }

  /** Sends the preface and our SETTINGS (queued by the socket until it connects) and starts reading. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const o = this.options;
    this.writer.settings([
      SettingId.ENABLE_PUSH, 0,
      SettingId.INITIAL_WINDOW_SIZE, o.initialStreamWindowSize,
      SettingId.MAX_HEADER_LIST_SIZE, o.maxHeaderListBytes,
    ]);
    this.announceConnectionWindow();
    const socket = this.socket;
    socket.on('data', this.onDataBound);
    socket.on('drain', this.onDrainBound);
    socket.on('end', this.onEndBound);
    socket.on('close', this.onCloseBound);
    // A socket error is followed by 'close', where the streams hear of it.
    socket.on('error', ignoreError);
    socket.write(CLIENT_PREFACE);
    this.flush();
  }

  /** Streams this connection may open now: the peer's limit and the cluster's, less those open; 0 once draining. */
  capacity(): number {
    if (this.closed || this.goawayReceived || this.goawaySent || this.nextStreamId > MAX_STREAM_ID) return 0;
    const peer = this.peerMaxConcurrentStreams;
    const local = this.options.maxConcurrentStreams;
    return (peer < local ? peer : local) - this.activeStreams;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  // ---- streams (the owner's calls) ----

  /**
   * Opens a stream with a request head (fields: flat pairs, pseudo-headers first, lowercase names). Null when the
   * connection takes no new stream (capacity() is 0) or the head is over the peer's SETTINGS_MAX_HEADER_LIST_SIZE:
   * the owner goes elsewhere or fails the request.
   */
  request(handler: Http2ClientStreamHandler, fields: readonly string[], endStream: boolean): Http2ClientStream | null {
    if (this.capacity() <= 0) return null;
    if (this.peerMaxHeaderListBytes !== Number.MAX_SAFE_INTEGER && headerListBytes(fields) > this.peerMaxHeaderListBytes) return null;
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new Http2ClientStream(id, handler, this.peerInitialWindow, this.localSettingsAcked ? this.options.initialStreamWindowSize : Math.max(this.options.initialStreamWindowSize, DEFAULT_WINDOW_SIZE));
    // :method comes first among the pseudo-headers a request head starts with.
    for (let i = 0; i < fields.length && fields[i]!.charCodeAt(0) === 58; i += 2) {
      if (fields[i] === ':method') {
        s.bodyAllowed = fields[i + 1] !== 'HEAD';
        break;
      }
    }
    this.streams.set(id, s);
    this.activeStreams++;
    this.streamsOpened++;
    this.writeHeaders(id, fields, endStream);
    if (endStream) s.localEnded = true;
    this.needFlush();
    return s;
  }

  /** A request body chunk; false when the stream's or the connection's buffer is full (wait for onWritable). */
  writeData(s: Http2ClientStream, chunk: Buffer): boolean {
    if (s.closed || s.localEnded || chunk.length === 0) return true;
    this.sendOrQueue(s, chunk);
    this.needFlush();
    return !this.isFull(s);
  }

  /** Ends the request, with trailers (flat pairs, no pseudo-headers) or none; after data flow control still holds. */
  end(s: Http2ClientStream, trailers: readonly string[] | null): void {
    if (s.closed || s.localEnded) return;
    s.localEnded = true;
    if (s.queuedBytes > 0) {
      s.trailersAfterQueue = trailers === null ? null : trailers.slice();
      return;
    }
    this.writeEnd(s, trailers);
    this.needFlush();
  }

  /** Resets the stream (RST_STREAM `code`, CANCEL usually); its handler hears nothing more. */
  reset(s: Http2ClientStream, code: number): void {
    if (s.closed) return;
    s.resetReason = Http2ResetReason.LOCAL_RESET;
    s.resetCode = code;
    this.writer.rstStream(s.id, code);
    this.callbacks.count('tx_reset');
    this.closeStream(s);
    this.needFlush();
  }

  /** No WINDOW_UPDATEs for this stream until resume(): the peer stops once the stream's window is spent. */
  pause(s: Http2ClientStream): void {
    s.paused = true;
  }

  resume(s: Http2ClientStream): void {
    if (!s.paused) return;
    s.paused = false;
    this.maybeStreamWindowUpdate(s);
  }

  /** Graceful close: GOAWAY(NO_ERROR), no new streams; the socket ends once the streams in flight are done. */
  close(): void {
    if (this.closed) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.writer.goaway(0, ErrorCode.NO_ERROR, '');
    }
    if (this.activeStreams === 0) this.endSocket();
    else this.needFlush();
  }

  /** Drops the connection at once (streams hear onReset CONNECTION_TERMINATION from the socket's close). */
  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  // ---- input ----

  private onSocketData(chunk: Buffer): void {
    try {
      this.read(chunk);
    } catch (err) {
      this.reading = false;
      this.internalError(err);
    }
  }

  private read(chunk: Buffer): void {
    if (this.closed) return;
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    this.reading = true;
    let pos = 0;
    const len = buf.length;
    while (len - pos >= FRAME_HEADER_BYTES) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > DEFAULT_MAX_FRAME_SIZE) {
        // We never raise SETTINGS_MAX_FRAME_SIZE above its initial value.
        this.connectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        break;
      }
      const end = pos + FRAME_HEADER_BYTES + length;
      if (end > len) break;
      this.onFrame(buf[pos + 3]!, buf[pos + 4]!, buf.readUInt32BE(pos + 5) & 0x7fffffff, buf, pos + FRAME_HEADER_BYTES, end);
      pos = end;
      if (this.closed) break;
    }
    this.reading = false;
    if (this.socket.destroyed) return;
    if (pos < len && !this.closed) this.carry = pos === 0 ? buf : buf.subarray(pos);
    this.flush();
  }

  private onFrame(type: number, flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (this.interruptsHeaderBlock(type, sid)) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    }
    if (!this.remoteSettingsReceived && type !== FrameType.SETTINGS) {
      // The server's preface is a SETTINGS frame (RFC 9113 §3.4).
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'the server preface must be SETTINGS');
    }
    switch (type) {
      case FrameType.DATA: return this.onDataFrame(flags, sid, buf, p, end);
      case FrameType.HEADERS: return this.onHeadersFrame(flags, sid, buf, p, end);
      case FrameType.PRIORITY: return this.onPriorityFrame(sid, end - p);
      case FrameType.RST_STREAM: return this.onRstStreamFrame(sid, buf, p, end);
      case FrameType.SETTINGS: return this.onSettingsFrame(flags, sid, buf, p, end);
      case FrameType.PUSH_PROMISE: return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      case FrameType.PING: return this.onPingFrame(flags, sid, buf, p, end);
      case FrameType.GOAWAY: return this.onGoawayFrame(sid, buf, p, end);
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdateFrame(sid, buf, p, end);
      case FrameType.CONTINUATION: return this.onContinuationFrame(flags, sid, buf, p, end);
      default: return; // Unknown frame types are ignored (RFC 9113 §4.1).
    }
  }

  /** A stream id we never opened: even (server-initiated; push is off) or not yet used. */
  protected isIdle(sid: number): boolean {
    return (sid & 1) === 0 || sid >= this.nextStreamId;
  }

  private onDataFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const frameLength = end - p;
    const padding = this.framePadding(FrameType.DATA, flags, buf, p, end);
    if (padding < 0) return;
    if (padding > 0) {
      p++;
      end -= padding - 1;
    }
    // The connection window counts every DATA byte, on any stream (also on streams we reset).
    if (!this.consumeConnectionWindow(frameLength)) return;
    const s = this.streams.get(sid);
    if (s === undefined) {
      if (this.isIdle(sid)) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${sid}`);
      // A stream we reset or that already ended: dropped (its bytes were counted above).
      return;
    }
    if (s.remoteEnded) return this.streamError(s, ErrorCode.STREAM_CLOSED, Http2ResetReason.PROTOCOL_ERROR);
    if (!s.headersReceived) return this.messagingError(s, 'DATA before the response head');
    s.recvWindow -= frameLength;
    if (s.recvWindow < 0) return this.streamError(s, ErrorCode.FLOW_CONTROL_ERROR, Http2ResetReason.PROTOCOL_ERROR);
    s.recvUnacked += padding;
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    if (s.contentLength >= 0) {
      s.receivedBytes += end - p;
      if (s.receivedBytes > s.contentLength || (endStream && s.receivedBytes !== s.contentLength)) {
        return this.messagingError(s, 'response body length differs from content-length');
      }
    }
    if (end > p) {
      s.recvUnacked += end - p;
      try {
        s.handler.onData(s, buf.subarray(p, end));
      } catch (err) {
        return this.streamThrew(s, err);
      }
      if (s.closed) return;
    }
    if (endStream) this.remoteEnd(s);
    else this.maybeStreamWindowUpdate(s);
  }

  private onHeadersFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    const padding = this.framePadding(FrameType.HEADERS, flags, buf, p, end);
    if (padding < 0) return;
    if (padding > 0) {
      p++;
      end -= padding - 1;
    }
    if ((flags & FrameFlag.PRIORITY) !== 0) {
      if (end - p < 5) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS priority fields truncated');
      p += 5;
    }
    if ((flags & FrameFlag.END_HEADERS) === 0) {
      this.beginHeaderBlock(sid, flags, buf, p, end);
      return;
    }
    this.onHeaderBlock(sid, flags, buf, p, end);
  }

  private onContinuationFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (this.continuesNothing(sid)) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
    }
    // A block larger than the header list it could decode to, with room for HPACK overhead, is a CONTINUATION flood.
    if (this.headerBlockExceeds(end - p, this.options.maxHeaderListBytes + 16_384)) {
      this.callbacks.count('header_overflow');
      return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block larger than max_response_headers_kb');
    }
    const headersFlags = this.continuationFlags;
    const block = this.continueHeaderBlock(flags, buf, p, end);
    if (block === null) return;
    this.onHeaderBlock(sid, headersFlags, block, 0, block.length);
  }

  private onHeaderBlock(sid: number, flags: number, buf: Buffer, p: number, end: number): void {
    if (this.isIdle(sid)) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${sid}`);
    const fields: string[] = [];
    // Decoded whatever the stream's state: the dynamic table is the connection's.
    const rc = this.decoder.decode(buf, p, end, fields);
    if (rc === HpackDecodeResult.COMPRESSION_ERROR) return this.connectionError(ErrorCode.COMPRESSION_ERROR, 'HPACK decoding failed');
    const s = this.streams.get(sid);
    if (s === undefined) return; // A stream we reset or that ended: dropped.
    if (s.remoteEnded) return this.streamError(s, ErrorCode.STREAM_CLOSED, Http2ResetReason.PROTOCOL_ERROR);
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    if (rc !== HpackDecodeResult.OK) {
      this.callbacks.count('header_overflow');
      return this.streamError(s, ErrorCode.PROTOCOL_ERROR, Http2ResetReason.PROTOCOL_ERROR);
    }
    if (s.headersReceived) {
      // Trailers.
      if (!endStream) return this.messagingError(s, 'a second HEADERS without END_STREAM');
      const problem = checkTrailerFields(fields);
      if (problem !== null) return this.messagingError(s, problem);
      if (s.contentLength >= 0 && s.receivedBytes !== s.contentLength) return this.messagingError(s, 'response body length differs from content-length');
      this.callbacks.count('trailers');
      try {
        s.handler.onTrailers(s, fields);
      } catch (err) {
        return this.streamThrew(s, err);
      }
      if (s.closed) return;
      return this.remoteEnd(s);
    }
    const problem = checkResponseFields(fields);
    if (problem !== null) return this.messagingError(s, problem);
    const status = fields[1]!;
    const informational = status.charCodeAt(0) === 49 /* 1 */;
    if (informational) {
      if (endStream) return this.messagingError(s, 'a 1xx response with END_STREAM');
    } else {
      s.headersReceived = true;
      // A body must match content-length, except where none comes (HEAD, 204, 304: RFC 9110 §8.6).
      if (s.bodyAllowed && status !== '204' && status !== '304') {
        const problem2 = this.readContentLength(s, fields, endStream);
        if (problem2 !== null) return this.messagingError(s, problem2);
      }
    }
    try {
      s.handler.onHeaders(s, fields, endStream);
    } catch (err) {
      return this.streamThrew(s, err);
    }
    if (endStream && !s.closed) this.remoteEnd(s);
  }

  /** s.contentLength from a final response head; a problem when it is malformed or contradicts END_STREAM. */
  private readContentLength(s: Http2ClientStream, fields: readonly string[], endStream: boolean): string | null {
    for (let i = 2; i < fields.length; i += 2) {
      if (fields[i] !== 'content-length') continue;
      const v = fields[i + 1]!;
      if (s.contentLength >= 0 || !/^[0-9]{1,15}$/.test(v)) return 'invalid content-length';
      s.contentLength = Number(v);
    }
    if (endStream && s.contentLength > 0) return 'content-length without a body';
    return null;
  }

  /** The response ended: onEnd, and the stream closes if the request has ended too. */
  private remoteEnd(s: Http2ClientStream): void {
    s.remoteEnded = true;
    try {
      s.handler.onEnd(s);
    } catch (err) {
      return this.streamThrew(s, err);
    }
    if (s.closed) return;
    if (s.localEnded && s.queuedBytes === 0 && s.trailersAfterQueue === null) this.closeStream(s);
  }

  private onPriorityFrame(sid: number, length: number): void {
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (length !== 5) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY frame size');
  }

  private onRstStreamFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (end - p !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM frame size');
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (this.isIdle(sid)) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${sid}`);
    const s = this.streams.get(sid);
    if (s === undefined) return;
    const code = buf.readUInt32BE(p);
    this.callbacks.count('rx_reset');
    if (s.remoteEnded) {
      // The response is whole (RFC 9113 §8.1: a server may stop the request this way, NO_ERROR): nothing to tell.
      s.resetCode = code;
      this.closeStream(s);
      return;
    }
    this.resetFromPeer(s, code === ErrorCode.REFUSED_STREAM ? Http2ResetReason.REMOTE_REFUSED_STREAM_RESET : Http2ResetReason.REMOTE_RESET, code);
  }

  private onSettingsFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((flags & FrameFlag.ACK) !== 0) {
      if (end !== p) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      if (!this.remoteSettingsReceived) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'the server preface must be SETTINGS');
      this.localSettingsAcked = true;
      return;
    }
    if ((end - p) % 6 !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS frame size');
    for (let i = p; i < end; i += 6) {
      const id = buf.readUInt16BE(i);
      const value = buf.readUInt32BE(i + 2);
      if (id === SettingId.ENABLE_PUSH) {
        // A server must not send ENABLE_PUSH 1 (RFC 9113 §6.5.2); 0 is harmless.
        if (value !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH from a server');
      } else if (id === SettingId.MAX_CONCURRENT_STREAMS) {
        this.peerMaxConcurrentStreams = value;
      } else if (id === SettingId.MAX_HEADER_LIST_SIZE) {
        this.peerMaxHeaderListBytes = value;
      } else {
        const code = this.applyPeerSetting(id, value, this.streams);
        if (code >= 0) return this.connectionError(code, this.settingProblem);
      }
    }
    this.writer.settingsAck();
    this.remoteSettingsReceived = true;
    this.callbacks.onRemoteSettings(this);
  }

  protected controlFrameQueued(): void {}

  private onGoawayFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (end - p < 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY frame size');
    const lastStreamId = buf.readUInt32BE(p) & 0x7fffffff;
    const code = buf.readUInt32BE(p + 4);
    this.goawayReceived = true;
    // Streams above the last stream id were never processed: refused, so the owner may retry them elsewhere.
    const refused: Http2ClientStream[] = [];
    for (const s of this.streams.values()) if (s.id > lastStreamId) refused.push(s);
    for (let i = 0; i < refused.length; i++) this.resetFromPeer(refused[i]!, Http2ResetReason.REMOTE_REFUSED_STREAM_RESET, ErrorCode.REFUSED_STREAM);
    this.callbacks.onGoaway(this, code, lastStreamId);
    if (this.activeStreams === 0 && !this.closed) this.endSocket();
  }

  private onWindowUpdateFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (end - p !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE frame size');
    this.applyWindowUpdate(sid, buf, p, this.streams);
  }

  protected streamFlowError(s: Http2ClientStream, code: number): void {
    this.streamError(s, code, Http2ResetReason.PROTOCOL_ERROR);
  }

  /** A malformed response (RFC 9113 §8.1.1): a stream error PROTOCOL_ERROR, counted as rx_messaging_error. */
  private messagingError(s: Http2ClientStream, _detail: string): void {
    this.callbacks.count('rx_messaging_error');
    this.streamError(s, ErrorCode.PROTOCOL_ERROR, Http2ResetReason.PROTOCOL_ERROR);
  }

  /** We reset a stream for the peer's fault: RST_STREAM(code), the handler hears onReset(reason). */
  private streamError(s: Http2ClientStream, code: number, reason: number): void {
    if (s.closed) return;
    this.writer.rstStream(s.id, code);
    this.callbacks.count('tx_reset');
    s.resetReason = reason;
    s.resetCode = code;
    this.closeStream(s);
    this.notifyReset(s);
  }

  private resetFromPeer(s: Http2ClientStream, reason: number, code: number): void {
    if (s.closed) return;
    s.resetReason = reason;
    s.resetCode = code;
    this.closeStream(s);
    this.notifyReset(s);
  }

  private notifyReset(s: Http2ClientStream): void {
    try {
      s.handler.onReset(s);
    } catch (err) {
      this.callbacks.onStreamInternalError(s, err);
    }
  }

  /** A handler threw: the stream is reset (INTERNAL_ERROR) and the owner counts it; the connection goes on. */
  private streamThrew(s: Http2ClientStream, err: unknown): void {
    if (this.encoding) return this.internalError(err);
    if (!s.closed) {
      this.writer.rstStream(s.id, ErrorCode.INTERNAL_ERROR);
      this.callbacks.count('tx_reset');
      s.resetReason = Http2ResetReason.LOCAL_RESET;
      s.resetCode = ErrorCode.INTERNAL_ERROR;
      this.closeStream(s);
    }
    this.callbacks.onStreamInternalError(s, err);
    this.needFlush();
  }

  // ---- internals: streams and flow control ----

  protected writeEnd(s: Http2ClientStream, trailers: readonly string[] | null): void {
    if (trailers !== null && trailers.length > 0) this.writeHeaders(s.id, trailers, true);
    else this.writer.data(s.id, EMPTY, 0, 0, true);
    if (s.remoteEnded) this.closeStream(s);
  }

  private maybeStreamWindowUpdate(s: Http2ClientStream): void {
    if (s.paused || s.remoteEnded || s.closed || s.recvUnacked === 0) return;
    if (s.recvUnacked < this.options.initialStreamWindowSize >>> 1) return;
    this.writer.windowUpdate(s.id, s.recvUnacked);
    s.recvWindow += s.recvUnacked;
    s.recvUnacked = 0;
    this.needFlush();
  }

  private closeStream(s: Http2ClientStream): void {
    if (s.closed) return;
    s.closed = true;
    s.queue = [];
    s.queuedBytes = 0;
    s.trailersAfterQueue = null;
    this.streams.delete(s.id);
    this.activeStreams--;
    this.callbacks.onStreamClose(this, s);
    if (this.activeStreams === 0 && (this.goawaySent || this.goawayReceived) && !this.closed) this.endSocket();
  }

  protected streamWritable(s: Http2ClientStream): void {
    try {
      s.handler.onWritable(s);
    } catch (err) {
      this.streamThrew(s, err);
    }
  }

  // ---- internals: the socket ----

  protected needFlush(): void {
    if (this.reading || this.flushScheduled || this.socket.destroyed) return;
    this.flushScheduled = true;
    setImmediate(flushClientCodec, this);
  }

  /** @internal The turn's flush (setImmediate), an entry point. */
  flushTurn(): void {
    try {
      this.flush();
    } catch (err) {
      this.internalError(err);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.encoding) return this.fail();
    const writer = this.writer;
    if (writer.empty) return;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      writer.take();
      return;
    }
    writeSegments(socket, writer.take());
  }

  private onSocketDrain(): void {
    try {
      this.notifyWritable();
    } catch (err) {
      this.internalError(err);
    }
  }

  protected frameError(code: number, detail: string): void {
    this.connectionError(code, detail);
  }

  /** The peer's protocol error: GOAWAY(code), every stream reset with protocol_error, the socket ends. */
  private connectionError(code: number, detail: string): void {
    if (this.closed) return;
    this.closed = true;
    this.goawaySent = true;
    // We take no server-initiated streams: the last one we processed is 0.
    this.writer.goaway(0, code, '');
    this.callbacks.onConnectionError(this, code, detail);
    this.resetAll(Http2ResetReason.PROTOCOL_ERROR, code);
    this.endSocket();
  }

  private resetAll(reason: number, code: number): void {
    const open: Http2ClientStream[] = [];
    for (const s of this.streams.values()) open.push(s);
    for (let i = 0; i < open.length; i++) this.resetFromPeer(open[i]!, reason, code);
  }

  /** Writes what is pending and ends the socket; destroyed if the peer does not close within the grace period. */
  private endSocket(): void {
    this.closed = true;
    const socket = this.socket;
    if (socket.destroyed) return;
    this.flush();
    socket.end();
    if (this.closeTimer === null) {
      this.closeTimer = setTimeout(destroySocket, ERROR_CLOSE_GRACE_MS, socket);
      this.closeTimer.unref();
    }
  }

  private onSocketEnd(): void {
    try {
      // The peer finished sending: nothing more can arrive.
      this.resetAll(this.remoteSettingsReceived ? Http2ResetReason.CONNECTION_TERMINATION : Http2ResetReason.CONNECTION_FAILURE, -1);
      this.endSocket();
    } catch (err) {
      this.internalError(err);
    }
  }

  private onSocketClose(): void {
    this.closed = true;
    this.encoding = false;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    try {
      this.failPings();
      this.resetAll(this.remoteSettingsReceived ? Http2ResetReason.CONNECTION_TERMINATION : Http2ResetReason.CONNECTION_FAILURE, -1);
    } catch (err) {
      this.internalError(err);
    }
    try {
      this.callbacks.onClose(this);
    } catch (err) {
      this.internalError(err);
    }
  }

  /** Ends the connection after an internal error: GOAWAY(INTERNAL_ERROR) best effort, socket destroyed. Never throws. */
  fail(): void {
    this.closed = true;
    this.encoding = false;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!socket.writableEnded) {
      try {
        this.goawaySent = true;
        this.writer.goaway(0, ErrorCode.INTERNAL_ERROR, '');
        const segments = this.writer.take();
        writeSegments(socket, segments);
      } catch {
        // Best effort: the writer may be what failed.
      }
    }
    socket.destroy();
  }

  private internalError(err: unknown): void {
    this.fail();
    try {
      this.callbacks.onInternalError(this, err);
    } catch {
      // The owner's handler must not throw; the connection is gone either way.
    }
  }
}

/** RFC 9113 §6.5.2's size of a header list: each field's name and value octets plus 32. */
function headerListBytes(fields: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < fields.length; i += 2) n += fields[i]!.length + fields[i + 1]!.length + 32;
  return n;
}

function ignoreError(): void {}

function flushClientCodec(codec: Http2ClientCodec): void {
  codec.flushTurn();
}
