// Worker thread. Legate's own HTTP/2 server codec (RFC 9113) for one accepted connection: frame parsing, HPACK,
// stream states, flow control both ways, SETTINGS/PING/GOAWAY, message validation and the protocol-level abuse
// limits (concurrent streams, outbound and control-frame floods, empty-frame, PRIORITY and WINDOW_UPDATE floods,
// CONTINUATION floods). It knows nothing of proxying: requests go to Http2ServerCallbacks, responses come back
// through respond/writeData/end/reset. Output of one read (and of one event-loop turn) goes out in one write.
//
// Exceptions (bugs) stop at the codec's entry points (socket 'data'/'drain'/'end'/'close', the turn's flush): one
// thrown by the owner's callback about one stream resets that stream and the read goes on; anywhere else the
// connection ends (GOAWAY INTERNAL_ERROR, then destroyed). The owner counts both (onStreamInternalError,
// onInternalError); the worker keeps serving every other connection.
//
// Why not node:http2: its per-stream Duplex objects, header object conversion and the JS/C++ crossings cost more CPU
// per request than the rest of the proxy together, and it hides what Envoy's options need (invalid messaging as a
// connection error, consecutive empty frames).

import type net from 'node:net';
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, FRAME_HEADER_BYTES, FrameFlag, FrameType,
  SettingId,
} from '../../src/http2/frames.ts';
import { HpackDecoder, HpackDecodeResult } from '../../src/http2/hpack-decoder.ts';
import { checkRequestFields, checkTrailerFields } from '../../src/http2/message-validation.ts';
import { IdTable } from '../../src/common/id-table.ts';
import { destroySocket, writeSegments } from './write-segments.ts';
import { ERROR_CLOSE_GRACE_MS, Http2CodecBase, Http2StreamBase } from './codec-base.ts';
import type { Http2Settings } from '../../src/snapshot/snapshot-types.ts';

/** Streams we reset remembered, so a frame the client sent before it saw our RST_STREAM is ignored (RFC 9113 §5.1). */
const RECENT_RESETS = 64;
/**
 * Streams the client closed remembered (its END_STREAM answered, or its RST_STREAM), so a frame it sends on one later
 * gets RFC 9113 §5.1's answer: a connection error after END_STREAM, a stream error after RST_STREAM.
 */
const RECENT_PEER_CLOSES = 16;
/** What a stream id not in the table was, as far as the closed-stream record knows (closedHow). */
const CLOSED_UNKNOWN = 0;
const CLOSED_RESET_BY_US = 1;
const CLOSED_RESET_BY_PEER = 2;
const CLOSED_ENDED = 3;
const EMPTY = Buffer.alloc(0);

export interface Http2ServerCodecOptions {
  readonly settings: Http2Settings;
  /** max_request_headers_kb in bytes (RFC 9113 header list size). */
  readonly maxHeaderListBytes: number;
  /** max_headers_count (pseudo-headers not counted). */
  readonly maxHeaders: number;
  /** stream_error_on_invalid_http_messaging: true resets the stream only; false (Envoy's default) closes the connection. */
  readonly streamErrorOnInvalidMessaging: boolean;
  /** per_connection_buffer_limit_bytes: response bytes buffered for the socket above which writes say "full". */
  readonly bufferLimitBytes: number;
}

/**
 * What the codec tells its owner. Called synchronously from the socket's read (requests, data, resets) or from
 * respond/writeData/end/reset (stream closes); the owner may call back into the codec from any of them.
 */
export interface Http2ServerCallbacks {
  /** A new, well-formed request head (fields: flat name/value pairs, pseudo-headers first). */
  onRequest(stream: Http2ServerStream, fields: string[], endStream: boolean): void;
  /** Request body bytes (a view of the read buffer: copy to keep it past the next read). */
  onRequestData(stream: Http2ServerStream, chunk: Buffer): void;
  /** The request ended, with trailers or null. */
  onRequestEnd(stream: Http2ServerStream, trailers: string[] | null): void;
  /** The stream is closed: complete both ways, or reset (stream.resetCode, stream.resetByPeer). */
  onStreamClose(stream: Http2ServerStream): void;
  /** A stream whose writeData returned false may write again. */
  onStreamWritable(stream: Http2ServerStream): void;
  /** The peer sent GOAWAY: no new streams will come. */
  onPeerGoaway(code: number): void;
  /** The codec closes the connection (GOAWAY `code` sent): `stat` is the http2.* counter it maps to, or ''. */
  onConnectionError(code: number, stat: string, detail: string): void;
  /** A counted protocol event (http2.<name>): rx_messaging_error, header_overflow, trailers, ... */
  count(stat: string): void;
  /** The socket closed. */
  onClose(): void;
  /**
   * An exception escaped the owner's handling of one of this stream's callbacks (a bug). The owner counts it and
   * lets go of the stream; the codec then resets it (RST_STREAM INTERNAL_ERROR) unless it is closed already, and
   * goes on with the connection. Must not throw.
   */
  onStreamInternalError(stream: Http2ServerStream, err: unknown): void;
  /**
   * An exception escaped the codec's own processing (frame handling, HPACK, a flush) or a callback about the whole
   * connection (a bug): the codec has ended the connection (GOAWAY INTERNAL_ERROR best effort, socket destroyed;
   * onStreamClose and onClose follow from the socket's 'close'). The owner counts it. Must not throw.
   */
  onInternalError(err: unknown): void;
}

/** One stream (the sending side's fields in Http2StreamBase). Its fields are the codec's; `user` is the owner's. */
export class Http2ServerStream extends Http2StreamBase {
  user: unknown;
  recvWindow: number;
  /** Request bytes delivered to the owner and not yet returned to the peer in a WINDOW_UPDATE. */
  recvUnacked: number;
  remoteEnded: boolean;
  /** The RST_STREAM code that closed it, or -1. */
  resetCode: number;
  resetByPeer: boolean;
  paused: boolean;
  /** Request data that came while paused. */
  held: Buffer[] | null;
  heldEnd: boolean;
  heldTrailers: string[] | null;
  /** content-length of the request, or -1. */
  contentLength: number;
  receivedBytes: number;

  constructor(id: number, sendWindow: number, recvWindow: number) {
    super(id, sendWindow);
    this.user = null;
    this.recvWindow = recvWindow;
    this.recvUnacked = 0;
    this.remoteEnded = false;
    this.resetCode = -1;
    this.resetByPeer = false;
    this.paused = false;
    this.held = null;
    this.heldEnd = false;
    this.heldTrailers = null;
    this.contentLength = -1;
    this.receivedBytes = 0;
  }
}

export class Http2ServerCodec extends Http2CodecBase<Http2ServerStream> {
  private readonly options: Http2ServerCodecOptions;
  private readonly callbacks: Http2ServerCallbacks;
  private readonly decoder: HpackDecoder;
  readonly streams: IdTable<Http2ServerStream>;
  activeStreams: number;
  /** GOAWAY sent: streams above lastPeerStreamId are not served. */
  goawaySent: boolean;
  private lastPeerStreamId: number;
  private prefaceDone: boolean;
  private firstFrameSeen: boolean;
  /** Bytes of an incomplete frame carried over to the next read. */
  private carry: Buffer | null;
  private reading: boolean;
  private flushScheduled: boolean;
  // Flow control (the sending side's in Http2CodecBase).
  private localInitialWindow: number;
  private localSettingsAcked: boolean;
  // Flood accounting.
  private queuedFrames: number;
  private queuedControlFrames: number;
  private consecutiveEmptyFrames: number;
  private priorityFrames: number;
  private streamsOpened: number;
  /**
   * The closed-stream record, two rings in one array: [0, RECENT_RESETS) the stream ids we reset last; then
   * RECENT_PEER_CLOSES ids the client closed last, +id after both END_STREAMs, -id after its RST_STREAM.
   */
  private readonly recentClosed: Int32Array;
  private recentResetAt: number;
  private recentPeerCloseAt: number;
  private windowUpdateFrames: number;
  private closeTimer: NodeJS.Timeout | null;
  // Exception guards (readThrew, streamThrew).
  /** The stream whose request callback (onRequest, onRequestData, onRequestEnd) runs inside the read, or null. */
  private current: Http2ServerStream | null;
  /** The buffer being read, and where the frame being handled ends: where a read cut short by a stream's exception goes on. */
  private readBuf: Buffer | null;
  private frameEnd: number;
  private readonly onDataBound: (chunk: Buffer) => void;
  private readonly onDrainBound: () => void;
  private readonly onEndBound: () => void;
  private readonly onCloseBound: () => void;

  constructor(socket: net.Socket, options: Http2ServerCodecOptions, callbacks: Http2ServerCallbacks) {
    const connectionWindow = options.settings.initialConnectionWindowSize;
    super(socket, options.bufferLimitBytes, Math.max(DEFAULT_WINDOW_SIZE, connectionWindow), connectionWindow >>> 1);
    this.options = options;
    this.callbacks = callbacks;
    const s = options.settings;
    // +3 pairs for the pseudo-headers a request carries beyond max_headers_count (:method :scheme :path :authority - 1).
    this.decoder = new HpackDecoder(s.hpackTableSize, options.maxHeaderListBytes, options.maxHeaders + 4);
    this.streams = new IdTable<Http2ServerStream>(options.settings.maxConcurrentStreams, true);
    this.activeStreams = 0;
    this.goawaySent = false;
    this.lastPeerStreamId = 0;
    this.prefaceDone = false;
    this.firstFrameSeen = false;
    this.carry = null;
    this.reading = false;
    this.flushScheduled = false;
    this.localInitialWindow = s.initialStreamWindowSize;
    this.localSettingsAcked = false;
    this.queuedFrames = 0;
    this.queuedControlFrames = 0;
    this.consecutiveEmptyFrames = 0;
    this.priorityFrames = 0;
    this.streamsOpened = 0;
    this.recentClosed = new Int32Array(RECENT_RESETS + RECENT_PEER_CLOSES);
    this.recentResetAt = 0;
    this.recentPeerCloseAt = RECENT_RESETS;
    this.windowUpdateFrames = 0;
    this.closeTimer = null;
    this.current = null;
    this.readBuf = null;
    this.frameEnd = 0;
    this.onDataBound = this.onData.bind(this);
    this.onDrainBound = this.onSocketDrain.bind(this);
    this.onEndBound = this.onSocketEnd.bind(this);
    this.onCloseBound = this.onSocketClose.bind(this);
  }

  /** Sends our SETTINGS and starts reading; `initial` holds bytes already read (codec detection). */
  start(initial: Buffer | null): void {
    const s = this.options.settings;
    const pairs: number[] = [
      SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams,
      SettingId.INITIAL_WINDOW_SIZE, s.initialStreamWindowSize,
      SettingId.MAX_HEADER_LIST_SIZE, this.options.maxHeaderListBytes,
      SettingId.ENABLE_PUSH, 0,
    ];
    if (s.hpackTableSize !== 4096) pairs.push(SettingId.HEADER_TABLE_SIZE, s.hpackTableSize);
    this.writer.settings(pairs);
    this.announceConnectionWindow();
    const socket = this.socket;
    socket.on('data', this.onDataBound);
    socket.on('drain', this.onDrainBound);
    socket.on('end', this.onEndBound);
    socket.on('close', this.onCloseBound);
    if (initial !== null && initial.length > 0) this.onData(initial);
    else this.flush();
    socket.resume();
  }

  // ---- input ----

  /** socket 'data', an entry point: see readThrew. */
  private onData(chunk: Buffer): void {
    try {
      this.read(chunk);
    } catch (err) {
      this.readThrew(err);
    }
  }

  private read(chunk: Buffer): void {
    if (this.closed) return;
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let pos = 0;
    if (!this.prefaceDone) {
      const len = buf.length;
      const n = len < CLIENT_PREFACE.length ? len : CLIENT_PREFACE.length;
      if (buf.compare(CLIENT_PREFACE, 0, n, 0, n) !== 0) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'invalid connection preface');
        return;
      }
      if (n < CLIENT_PREFACE.length) {
        this.carry = buf;
        return;
      }
      this.prefaceDone = true;
      pos = CLIENT_PREFACE.length;
    }
    this.readFrames(buf, pos);
  }

  /** Handles the whole frames in buf from `pos`, keeps the rest for the next read, and writes what they produced. */
  private readFrames(buf: Buffer, from: number): void {
    this.reading = true;
    this.readBuf = buf;
    let pos = from;
    const len = buf.length;
    while (len - pos >= FRAME_HEADER_BYTES) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > DEFAULT_MAX_FRAME_SIZE) {
        // We never raise SETTINGS_MAX_FRAME_SIZE above its initial value.
        this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', `frame of ${length} bytes`);
        break;
      }
      const end = pos + FRAME_HEADER_BYTES + length;
      if (end > len) break;
      this.frameEnd = end;
      this.onFrame(buf[pos + 3]!, buf[pos + 4]!, buf.readUInt32BE(pos + 5) & 0x7fffffff, buf, pos + FRAME_HEADER_BYTES, end);
      pos = end;
      if (this.closed) break;
    }
    this.reading = false;
    this.readBuf = null;
    if (this.closed) return;
    if (pos < len) this.carry = pos === 0 ? buf : buf.subarray(pos);
    this.flush();
  }

  /**
   * An exception escaped a read. Thrown by the owner's request callback about one stream (`current`), the frame
   * handler it cut short had nothing left to do but for that stream: the stream is reset (streamThrew) and the
   * read goes on with the next frame. Thrown anywhere else (frame parsing, HPACK, flow control, a callback about
   * the connection) the codec's state is in doubt: the connection ends (internalError). Never throws.
   */
  private readThrew(err: unknown): void {
    let e = err;
    for (;;) {
      const s = this.current;
      const buf = this.readBuf;
      this.current = null;
      this.readBuf = null;
      this.reading = false;
      if (s === null || buf === null) {
        this.internalError(e);
        return;
      }
      this.streamThrew(s, e);
      if (this.closed) return;
      try {
        this.readFrames(buf, this.frameEnd);
        return;
      } catch (err2) {
        e = err2;
      }
    }
  }

  private onFrame(type: number, flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (this.interruptsHeaderBlock(type, sid)) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'expected CONTINUATION');
      return;
    }
    if (!this.firstFrameSeen) {
      this.firstFrameSeen = true;
      if (type !== FrameType.SETTINGS || (flags & FrameFlag.ACK) !== 0) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'the preface must be followed by SETTINGS');
        return;
      }
    }
    switch (type) {
      case FrameType.DATA: this.onDataFrame(flags, sid, buf, p, end); return;
      case FrameType.HEADERS: this.onHeadersFrame(flags, sid, buf, p, end); return;
      case FrameType.PRIORITY: this.onPriorityFrame(sid, buf, p, end); return;
      case FrameType.RST_STREAM: this.onRstStreamFrame(sid, buf, p, end); return;
      case FrameType.SETTINGS: this.onSettingsFrame(flags, sid, buf, p, end); return;
      case FrameType.PUSH_PROMISE: this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'PUSH_PROMISE from a client'); return;
      case FrameType.PING: this.onPingFrame(flags, sid, buf, p, end); return;
      case FrameType.GOAWAY: this.onGoawayFrame(sid, buf, p, end); return;
      case FrameType.WINDOW_UPDATE: this.onWindowUpdateFrame(sid, buf, p, end); return;
      case FrameType.CONTINUATION: this.onContinuationFrame(flags, sid, buf, p, end); return;
      default: return; // Unknown frame types are ignored (RFC 9113 §4.1).
    }
  }

  /** Envoy's max_consecutive_inbound_frames_with_empty_payload: HEADERS, CONTINUATION and DATA without payload or END_STREAM. */
  private trackEmpty(length: number, endStream: boolean): boolean {
    if (length > 0 || endStream) {
      this.consecutiveEmptyFrames = 0;
      return true;
    }
    if (++this.consecutiveEmptyFrames <= this.options.settings.maxConsecutiveInboundFramesWithEmptyPayload) return true;
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'inbound_empty_frames_flood', 'too many consecutive frames with an empty payload');
    return false;
  }

  private onDataFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'DATA on stream 0');
    const frameLength = end - p;
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    const padding = this.framePadding(FrameType.DATA, flags, buf, p, end);
    if (padding < 0) return;
    if (padding > 0) {
      p++;
      end -= padding - 1;
    }
    if (!this.trackEmpty(end - p, endStream)) return;
    // The connection window counts every DATA byte, on any stream.
    if (!this.consumeConnectionWindow(frameLength)) return;
    const s = this.streams.get(sid);
    if (s === undefined) {
      // A stream not opened yet is a connection error; a closed one gets RFC 9113 §5.1's answer.
      if (this.isIdle(sid)) this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `DATA on idle stream ${sid}`);
      else this.onDataOnClosedStream(sid);
      return;
    }
    if (s.remoteEnded) return this.resetStream(s, ErrorCode.STREAM_CLOSED);
    s.recvWindow -= frameLength;
    if (s.recvWindow < 0) return this.resetStream(s, ErrorCode.FLOW_CONTROL_ERROR);
    // Padding is consumed at once.
    s.recvUnacked += padding;
    const data = end > p ? buf.subarray(p, end) : EMPTY;
    s.receivedBytes += data.length;
    if (s.contentLength >= 0 && (s.receivedBytes > s.contentLength || (endStream && s.receivedBytes !== s.contentLength))) {
      this.messagingError(s, sid, 'request body length differs from content-length');
      return;
    }
    if (endStream) s.remoteEnded = true;
    if (s.paused) {
      if (data.length > 0) {
        if (s.held === null) s.held = [];
        s.held.push(data);
      }
      if (endStream) s.heldEnd = true;
      return;
    }
    if (data.length > 0) {
      s.recvUnacked += data.length;
      this.current = s;
      this.callbacks.onRequestData(s, data);
      this.current = null;
      if (s.closed) return;
    }
    if (endStream) {
      this.current = s;
      this.callbacks.onRequestEnd(s, null);
      this.current = null;
      this.afterRemoteEnd(s);
    } else this.maybeStreamWindowUpdate(s);
  }

  /**
   * DATA on a closed stream (RFC 9113 §5.1): ignored when we reset it (the client sent it before it saw our
   * RST_STREAM); a connection error STREAM_CLOSED after the client's END_STREAM; else (after the client's own
   * RST_STREAM, or closed too long ago to be remembered) a stream error STREAM_CLOSED, remembered as our reset so
   * the stream's further frames are ignored.
   */
  private onDataOnClosedStream(sid: number): void {
    const how = this.closedHow(sid);
    if (how === CLOSED_RESET_BY_US) return;
    if (how === CLOSED_ENDED) return this.connectionError(ErrorCode.STREAM_CLOSED, '', `DATA on closed stream ${sid}`);
    this.resetClosedStream(sid);
  }

  /** A stream error on a stream that is no longer in the table: RST_STREAM(STREAM_CLOSED), remembered. */
  private resetClosedStream(sid: number): void {
    this.writer.rstStream(sid, ErrorCode.STREAM_CLOSED);
    this.rememberReset(sid);
    this.callbacks.count('tx_reset');
    this.checkControlFlood();
  }

  private onHeadersFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid === 0 || (sid & 1) === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `HEADERS on stream ${sid}`);
    const padding = this.framePadding(FrameType.HEADERS, flags, buf, p, end);
    if (padding < 0) return;
    if (padding > 0) {
      p++;
      end -= padding - 1;
    }
    if ((flags & FrameFlag.PRIORITY) !== 0) {
      if (end - p < 5) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'HEADERS priority fields truncated');
      // A stream depending on itself (RFC 9113 §5.3.1): a connection error, as nghttp2 (Envoy's codec) treats it.
      if ((buf.readUInt32BE(p) & 0x7fffffff) === sid) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `stream ${sid} depends on itself`);
      p += 5;
    }
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    if (!this.trackEmpty(end - p, endStream)) return;
    if ((flags & FrameFlag.END_HEADERS) === 0) {
      this.beginHeaderBlock(sid, flags, buf, p, end);
      return;
    }
    this.onHeaderBlock(sid, flags, buf, p, end);
  }

  private onContinuationFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (this.continuesNothing(sid)) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'CONTINUATION without HEADERS');
    }
    if (!this.trackEmpty(end - p, false)) return;
    // A header block may be no larger than the header list it could decode to, with room for HPACK overhead: more is
    // a CONTINUATION flood (CVE-2024-27316), answered before buffering it.
    if (this.headerBlockExceeds(end - p, this.options.maxHeaderListBytes + 16_384)) {
      this.callbacks.count('header_overflow');
      return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, '', 'header block larger than max_request_headers_kb');
    }
    const headersFlags = this.continuationFlags;
    const block = this.continueHeaderBlock(flags, buf, p, end);
    if (block === null) return;
    this.onHeaderBlock(sid, headersFlags, block, 0, block.length);
  }

  private onHeaderBlock(sid: number, flags: number, buf: Buffer, p: number, end: number): void {
    const fields: string[] = [];
    const rc = this.decoder.decode(buf, p, end, fields);
    if (rc === HpackDecodeResult.COMPRESSION_ERROR) return this.connectionError(ErrorCode.COMPRESSION_ERROR, '', 'HPACK decoding failed');
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    const existing = this.streams.get(sid);
    if (existing !== undefined) return this.onTrailers(existing, rc, fields, endStream);
    if (sid <= this.lastPeerStreamId) {
      // A closed stream (the block was decoded for the table; RFC 9113 §5.1): trailers racing our RST_STREAM are
      // dropped; after the client's RST_STREAM a stream error, after its END_STREAM a connection error, both
      // STREAM_CLOSED; any other stream id not above every stream opened is an unexpected stream identifier
      // (§5.1.1), as in nghttp2.
      const how = this.closedHow(sid);
      if (how === CLOSED_RESET_BY_US) return;
      if (how === CLOSED_RESET_BY_PEER) return this.resetClosedStream(sid);
      if (how === CLOSED_ENDED) return this.connectionError(ErrorCode.STREAM_CLOSED, '', `HEADERS on closed stream ${sid}`);
      this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `HEADERS on closed stream ${sid}`);
      return;
    }
    this.lastPeerStreamId = sid;
    if (this.goawaySent) {
      // Streams above the GOAWAY's last stream id are not served (RFC 9113 §6.8); their later frames are dropped.
      this.rememberReset(sid);
      return;
    }
    this.streamsOpened++;
    if (this.activeStreams >= this.options.settings.maxConcurrentStreams) {
      this.writer.rstStream(sid, ErrorCode.REFUSED_STREAM);
      this.rememberReset(sid);
      this.callbacks.count('tx_reset');
      return;
    }
    const s = new Http2ServerStream(sid, this.peerInitialWindow, this.localSettingsAcked ? this.localInitialWindow : Math.max(this.localInitialWindow, DEFAULT_WINDOW_SIZE));
    if (rc !== HpackDecodeResult.OK) {
      // Over max_request_headers_kb / max_headers_count: answered 431 as HTTP/1.1 is, never proxied.
      this.callbacks.count('header_overflow');
      this.openStream(s, endStream);
      this.respond(s, HEADERS_431, true);
      return;
    }
    const problem = checkRequestFields(fields);
    if (problem !== null) return this.messagingError(null, sid, problem);
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] !== 'content-length') continue;
      const v = fields[i + 1]!;
      if (s.contentLength >= 0 || !/^[0-9]{1,15}$/.test(v)) return this.messagingError(null, sid, 'invalid content-length');
      s.contentLength = Number(v);
      if (endStream && s.contentLength !== 0) return this.messagingError(null, sid, 'content-length without a body');
    }
    this.openStream(s, endStream);
    this.current = s;
    this.callbacks.onRequest(s, fields, endStream);
    this.current = null;
  }

  private openStream(s: Http2ServerStream, endStream: boolean): void {
    s.remoteEnded = endStream;
    this.streams.set(s.id, s);
    this.activeStreams++;
  }

  private onTrailers(s: Http2ServerStream, rc: number, fields: string[], endStream: boolean): void {
    if (s.remoteEnded) return this.resetStream(s, ErrorCode.STREAM_CLOSED);
    if (!endStream) return this.messagingError(s, s.id, 'a second HEADERS without END_STREAM');
    if (rc !== HpackDecodeResult.OK) {
      this.callbacks.count('header_overflow');
      return this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
    }
    const problem = checkTrailerFields(fields);
    if (problem !== null) return this.messagingError(s, s.id, problem);
    if (s.contentLength >= 0 && s.receivedBytes !== s.contentLength) return this.messagingError(s, s.id, 'request body length differs from content-length');
    this.callbacks.count('trailers');
    s.remoteEnded = true;
    if (s.paused) {
      s.heldEnd = true;
      s.heldTrailers = fields;
      return;
    }
    this.current = s;
    this.callbacks.onRequestEnd(s, fields);
    this.current = null;
    this.afterRemoteEnd(s);
  }

  private onPriorityFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'PRIORITY on stream 0');
    if (end - p !== 5) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'PRIORITY frame size');
    // A stream depending on itself (RFC 9113 §5.3.1): a connection error as in nghttp2 (a stream error would mean an
    // RST_STREAM on a stream that may be idle, which §6.4 forbids).
    if ((buf.readUInt32BE(p) & 0x7fffffff) === sid) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `stream ${sid} depends on itself`);
    // Priorities are not acted on; a flood of them is (Envoy's max_inbound_priority_frames_per_stream).
    if (++this.priorityFrames > this.options.settings.maxInboundPriorityFramesPerStream * (1 + this.streamsOpened)) {
      this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'inbound_priority_frames_flood', 'too many PRIORITY frames');
    }
  }

  private onRstStreamFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (end - p !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'RST_STREAM frame size');
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'RST_STREAM on stream 0');
    const s = this.streams.get(sid);
    if (s === undefined) {
      if (this.isIdle(sid)) this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `RST_STREAM on idle stream ${sid}`);
      return;
    }
    s.resetCode = buf.readUInt32BE(p);
    s.resetByPeer = true;
    this.closeStream(s);
  }

  private onSettingsFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'SETTINGS on a stream');
    if ((flags & FrameFlag.ACK) !== 0) {
      if (end !== p) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'SETTINGS ACK with a payload');
      this.localSettingsAcked = true;
      return;
    }
    if ((end - p) % 6 !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'SETTINGS frame size');
    for (let i = p; i < end; i += 6) {
      const id = buf.readUInt16BE(i);
      const value = buf.readUInt32BE(i + 2);
      if (id === SettingId.ENABLE_PUSH) {
        if (value > 1) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'SETTINGS_ENABLE_PUSH not 0 or 1');
        continue;
      }
      const code = this.applyPeerSetting(id, value, this.streams);
      if (code >= 0) return this.connectionError(code, '', this.settingProblem);
    }
    this.writer.settingsAck();
    this.checkControlFlood();
  }

  protected controlFrameQueued(): void {
    this.checkControlFlood();
  }

  private onGoawayFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, '', 'GOAWAY on a stream');
    if (end - p < 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'GOAWAY frame size');
    this.callbacks.onPeerGoaway(buf.readUInt32BE(p + 4));
  }

  private onWindowUpdateFrame(sid: number, buf: Buffer, p: number, end: number): void {
    if (end - p !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, '', 'WINDOW_UPDATE frame size');
    // Envoy's max_inbound_window_update_frames_per_data_frame_sent: WINDOW_UPDATEs out of proportion to the streams
    // opened and the DATA we sent (Envoy's formula: 5 + 2 * (streams + limit * DATA frames)).
    if (++this.windowUpdateFrames > 5 + 2 * (this.streamsOpened + this.options.settings.maxInboundWindowUpdateFramesPerDataFrameSent * this.dataFramesSent)) {
      return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'inbound_window_update_frames_flood', 'too many WINDOW_UPDATE frames');
    }
    this.applyWindowUpdate(sid, buf, p, this.streams);
  }

  protected streamFlowError(s: Http2ServerStream, code: number): void {
    this.resetStream(s, code);
  }

  /** Invalid HTTP messaging: the stream (stream_error_on_invalid_http_messaging) or the whole connection. */
  private messagingError(s: Http2ServerStream | null, sid: number, detail: string): void {
    this.callbacks.count('rx_messaging_error');
    if (!this.options.streamErrorOnInvalidMessaging) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, '', `invalid HTTP messaging on stream ${sid}: ${detail}`);
      return;
    }
    if (s !== null) this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
    else {
      this.writer.rstStream(sid, ErrorCode.PROTOCOL_ERROR);
      this.rememberReset(sid);
      this.callbacks.count('tx_reset');
    }
  }

  /** max_outbound_control_frames: control frames we queued (PING and SETTINGS ACKs, RST_STREAM...) that the peer does not read. */
  private checkControlFlood(): void {
    if (this.queuedControlFrames + this.writer.controlFrames <= this.options.settings.maxOutboundControlFrames) return;
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'outbound_control_flood', 'too many control frames queued');
  }

  // ---- output ----

  /** The response head (fields: ':status' first, then regular headers; lowercase names). */
  respond(s: Http2ServerStream, fields: readonly string[], endStream: boolean): void {
    if (s.closed || s.localEnded) return;
    this.writeHeaders(s.id, fields, endStream);
    if (endStream) {
      s.localEnded = true;
      this.afterLocalEnd(s);
    }
    this.needFlush();
  }

  /** A response body chunk; false when the stream's or the connection's buffer is full (wait for onStreamWritable). */
  writeData(s: Http2ServerStream, chunk: Buffer): boolean {
    if (s.closed || s.localEnded || chunk.length === 0) return true;
    this.sendOrQueue(s, chunk);
    this.needFlush();
    if (this.queuedFrames + this.writer.frames > this.options.settings.maxOutboundFrames) {
      this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'outbound_flood', 'too many frames queued');
      return true;
    }
    return !this.isFull(s);
  }

  /** Ends the response, with trailers (flat pairs) or none; after the queued data when flow control holds it. */
  end(s: Http2ServerStream, trailers: string[] | null): void {
    if (s.closed || s.localEnded) return;
    s.localEnded = true;
    if (s.queuedBytes > 0) {
      s.trailersAfterQueue = trailers;
      return;
    }
    this.writeEnd(s, trailers);
    this.needFlush();
  }

  /** Resets the stream (RST_STREAM code); onStreamClose follows at once. */
  reset(s: Http2ServerStream, code: number): void {
    if (s.closed) return;
    // After an exception that cut a header block short (the owner resets the stream it was for): the connection too.
    if (this.encoding) this.fail();
    this.resetStream(s, code);
    this.needFlush();
  }

  /**
   * The bytes this codec holds for one stream: response data waiting for flow-control window, request data held
   * while the stream is paused (reset_high_memory_stream's measure; not for the request path).
   */
  streamBufferedBytes(s: Http2ServerStream): number {
    let n = s.queuedBytes;
    const held = s.held;
    if (held !== null) for (let i = 0; i < held.length; i++) n += held[i]!.length;
    return n;
  }

  /** Stop delivering this stream's request body; the peer's window is not refreshed meanwhile. */
  pause(s: Http2ServerStream): void {
    s.paused = true;
  }

  resume(s: Http2ServerStream): void {
    if (!s.paused || s.closed) return;
    s.paused = false;
    const held = s.held;
    if (held !== null) {
      s.held = null;
      for (let i = 0; i < held.length; i++) {
        const data = held[i]!;
        s.recvUnacked += data.length;
        this.callbacks.onRequestData(s, data);
        if (s.closed) return;
        if (s.paused) {
          // Paused again: keep the rest for the next resume.
          const rest = held.slice(i + 1);
          if (rest.length > 0) s.held = rest;
          this.needFlush();
          return;
        }
      }
    }
    if (s.heldEnd) {
      s.heldEnd = false;
      const trailers = s.heldTrailers;
      s.heldTrailers = null;
      this.callbacks.onRequestEnd(s, trailers);
      this.afterRemoteEnd(s);
    } else this.maybeStreamWindowUpdate(s);
    this.needFlush();
  }

  /** Graceful: GOAWAY(NO_ERROR) naming the last stream we will serve; streams in flight finish. */
  goaway(): void {
    if (this.goawaySent || this.closed) return;
    this.goawaySent = true;
    this.writer.goaway(this.lastPeerStreamId, ErrorCode.NO_ERROR, '');
    this.needFlush();
  }

  /** Closes the connection once the output is written (after goaway(), with no streams left). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.socket.end();
    this.armCloseTimer();
  }

  /** Closes at once with GOAWAY(code): the owner's abuse limits (premature resets). */
  abort(code: number, detail: string): void {
    if (this.closed) return;
    this.goawaySent = true;
    this.writer.goaway(this.lastPeerStreamId, code, detail);
    this.flush();
    this.closed = true;
    this.socket.destroy();
  }

  /**
   * Ends the connection after an internal error (a bug, here or in the owner): GOAWAY(INTERNAL_ERROR) best effort,
   * then the socket is destroyed; streams still open close with it ('close': onStreamClose each, then onClose).
   * Never throws.
   */
  fail(): void {
    this.closed = true;
    this.encoding = false;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!socket.writableEnded) {
      try {
        this.goawaySent = true;
        this.writer.goaway(this.lastPeerStreamId, ErrorCode.INTERNAL_ERROR, '');
        this.flush();
      } catch {
        // Best effort: the writer may be what failed.
      }
    }
    socket.destroy();
  }

  /** Drops the connection without a word. */
  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  get destroyed(): boolean {
    return this.closed;
  }

  // ---- internals: streams and flow control ----

  protected writeEnd(s: Http2ServerStream, trailers: readonly string[] | null): void {
    if (trailers !== null && trailers.length > 0) {
      this.writeHeaders(s.id, trailers, true);
    } else this.writer.data(s.id, EMPTY, 0, 0, true);
    this.afterLocalEnd(s);
  }

  /** END_STREAM written: the stream closes, or (request still coming) is reset with NO_ERROR as RFC 9113 §8.1 asks. */
  private afterLocalEnd(s: Http2ServerStream): void {
    if (s.remoteEnded && !s.paused) {
      this.closeStream(s);
      return;
    }
    if (!s.remoteEnded) {
      this.writer.rstStream(s.id, ErrorCode.NO_ERROR);
      this.rememberReset(s.id);
      s.resetCode = ErrorCode.NO_ERROR;
      this.closeStream(s);
    }
    // Else the request's end is held (paused): the stream closes when it is delivered.
  }

  private afterRemoteEnd(s: Http2ServerStream): void {
    if (s.closed) return;
    if (s.localEnded && s.queuedBytes === 0 && s.trailersAfterQueue === null) this.closeStream(s);
  }

  private maybeStreamWindowUpdate(s: Http2ServerStream): void {
    if (s.remoteEnded || s.closed || s.recvUnacked < this.localInitialWindow >>> 1 || s.recvUnacked === 0) return;
    this.writer.windowUpdate(s.id, s.recvUnacked);
    s.recvWindow += s.recvUnacked;
    s.recvUnacked = 0;
    this.needFlush();
  }

  private resetStream(s: Http2ServerStream, code: number): void {
    if (s.closed) return;
    this.writer.rstStream(s.id, code);
    this.rememberReset(s.id);
    this.callbacks.count('tx_reset');
    s.resetCode = code;
    this.closeStream(s);
  }

  private rememberReset(sid: number): void {
    this.recentClosed[this.recentResetAt] = sid;
    this.recentResetAt = (this.recentResetAt + 1) % RECENT_RESETS;
  }

  /**
   * A stream id not in the table that is idle (RFC 9113 §5.1): above every stream the client opened, or even (a
   * stream only a server could open, and we never push).
   */
  protected isIdle(sid: number): boolean {
    return sid > this.lastPeerStreamId || (sid & 1) === 0;
  }

  /** +sid: closed after both END_STREAMs; -sid: reset by the client. */
  private rememberPeerClose(entry: number): void {
    this.recentClosed[this.recentPeerCloseAt] = entry;
    this.recentPeerCloseAt = this.recentPeerCloseAt + 1 === RECENT_RESETS + RECENT_PEER_CLOSES ? RECENT_RESETS : this.recentPeerCloseAt + 1;
  }

  /** How a stream id at or below lastPeerStreamId and not in the table closed, as far as the record knows. */
  private closedHow(sid: number): number {
    const ring = this.recentClosed;
    for (let i = 0; i < RECENT_RESETS; i++) if (ring[i] === sid) return CLOSED_RESET_BY_US;
    for (let i = RECENT_RESETS; i < RECENT_RESETS + RECENT_PEER_CLOSES; i++) {
      if (ring[i] === sid) return CLOSED_ENDED;
      if (ring[i] === -sid) return CLOSED_RESET_BY_PEER;
    }
    return CLOSED_UNKNOWN;
  }

  private closeStream(s: Http2ServerStream): void {
    if (s.closed) return;
    s.closed = true;
    s.queue = [];
    s.queuedBytes = 0;
    s.held = null;
    // Our resets are remembered where they are sent; the client's closes here.
    if (s.resetCode === -1) this.rememberPeerClose(s.id);
    else if (s.resetByPeer) this.rememberPeerClose(-s.id);
    this.streams.delete(s.id);
    this.activeStreams--;
    // A boundary of its own (once per stream): closes happen inside loops over other streams (drainSendList).
    try {
      this.callbacks.onStreamClose(s);
    } catch (err) {
      this.streamThrew(s, err);
    }
  }

  /** A stream told "full" may write again: a boundary per stream, so the others are still notified. */
  protected streamWritable(s: Http2ServerStream): void {
    try {
      this.callbacks.onStreamWritable(s);
    } catch (err) {
      this.streamThrew(s, err);
    }
  }

  // ---- internals: the socket ----

  protected needFlush(): void {
    if (this.reading || this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(flushCodec, this);
  }

  /** @internal The turn's flush (setImmediate), an entry point. */
  flushTurn(): void {
    try {
      this.flush();
    } catch (err) {
      this.internalError(err);
    }
  }

  /** Writes what the writer holds, in one corked write. */
  flush(): void {
    this.flushScheduled = false;
    // A header block cut short by an exception that nobody reset (see `encoding`): nothing more can be sent.
    if (this.encoding) return this.fail();
    const writer = this.writer;
    if (writer.empty) return;
    const socket = this.socket;
    if (socket.destroyed) {
      writer.take();
      return;
    }
    if (socket.writableLength === 0) {
      // Everything written before reached the kernel: nothing of ours is queued unread.
      this.queuedFrames = 0;
      this.queuedControlFrames = 0;
    }
    this.queuedFrames += writer.frames;
    this.queuedControlFrames += writer.controlFrames;
    writeSegments(socket, writer.take());
  }

  private onSocketDrain(): void {
    try {
      this.onDrain();
    } catch (err) {
      this.internalError(err);
    }
  }

  private onDrain(): void {
    this.queuedFrames = 0;
    this.queuedControlFrames = 0;
    this.notifyWritable();
  }

  protected frameError(code: number, detail: string): void {
    this.connectionError(code, '', detail);
  }

  /** A protocol error: GOAWAY(code) and close; the owner counts it. */
  private connectionError(code: number, stat: string, detail: string): void {
    if (this.closed) return;
    this.goawaySent = true;
    this.writer.goaway(this.lastPeerStreamId, code, '');
    this.callbacks.onConnectionError(code, stat, detail);
    this.flush();
    this.closed = true;
    // A peer that does not read (the floods) would keep an end() pending for ever.
    if (this.socket.writableLength > 0) this.socket.destroy();
    else {
      this.socket.end();
      this.armCloseTimer();
    }
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null) return;
    this.closeTimer = setTimeout(destroySocket, ERROR_CLOSE_GRACE_MS, this.socket);
    this.closeTimer.unref();
  }

  private onSocketEnd(): void {
    try {
      this.onEnd();
    } catch (err) {
      this.internalError(err);
    }
  }

  private onEnd(): void {
    // The client finished sending: nothing more can arrive, so the connection is done.
    if (!this.closed) {
      this.flush();
      this.closed = true;
    }
    this.socket.end();
    this.armCloseTimer();
  }

  /** socket 'close', an entry point: the owner hears onClose whatever happened before it. */
  private onSocketClose(): void {
    try {
      this.closeStreams();
    } catch (err) {
      this.internalError(err);
    }
    try {
      this.callbacks.onClose();
    } catch (err) {
      this.internalError(err);
    }
  }

  private closeStreams(): void {
    this.closed = true;
    this.encoding = false;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.failPings();
    // Streams still open are reset by the close.
    for (const s of this.streams.values()) {
      s.resetCode = ErrorCode.CANCEL;
      s.closed = true;
      this.activeStreams--;
      try {
        this.callbacks.onStreamClose(s);
      } catch (err) {
        this.streamThrew(s, err);
      }
    }
    this.streams.clear();
  }

  // ---- internals: exception guards ----

  /**
   * The owner's callback about stream `s` threw: the owner counts it and lets go of the stream, which is reset
   * (RST_STREAM INTERNAL_ERROR); the connection goes on. Thrown while a header block was being encoded, HPACK state
   * is in doubt and the connection ends instead. Never throws.
   */
  private streamThrew(s: Http2ServerStream, err: unknown): void {
    if (this.encoding) return this.internalError(err);
    try {
      this.callbacks.onStreamInternalError(s, err);
      if (!s.closed) {
        this.resetStream(s, ErrorCode.INTERNAL_ERROR);
        this.needFlush();
      }
    } catch (err2) {
      this.internalError(err2);
    }
  }

  /** An exception outside any one stream: the connection ends (fail) and the owner counts it. Never throws. */
  private internalError(err: unknown): void {
    this.fail();
    try {
      this.callbacks.onInternalError(err);
    } catch {
      // The owner's handler must not throw; the connection is gone either way.
    }
  }
}

/** The 431 answer to a request head over max_request_headers_kb or max_headers_count. */
const HEADERS_431: readonly string[] = [':status', '431', 'content-length', '0'];

function flushCodec(codec: Http2ServerCodec): void {
  codec.flushTurn();
}
