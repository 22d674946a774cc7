// Worker thread. What Legate's two HTTP/2 codecs (server-codec.ts downstream, client-codec.ts upstream) share: the
// sending side (a stream's outbound queue under both flow-control windows, the list of streams waiting for window,
// "writable again" for streams whose writer was told the buffers are full), header blocks out through one HPACK
// encoder, the peer's SETTINGS that bind our sending (initial window, frame size, table size), connection
// WINDOW_UPDATEs and our PINGs; and of the reading side what does not depend on who is client or server: our
// connection receive window, padding, header blocks spread over CONTINUATION frames, PING and WINDOW_UPDATE frames.
// Each codec extends it with its own stream states, frame handling (who may open streams, which frames and fields a
// request or a response may carry) and callbacks.

import type net from 'node:net';
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, ErrorCode, FrameFlag, FrameType, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW_SIZE, SettingId } from '../../src/http2/frames.ts';
import { FrameWriter } from '../../src/http2/frame-writer.ts';
import { HpackEncoder } from '../../src/http2/hpack-encoder.ts';
import type { IdTable } from '../../src/common/id-table.ts';

/** A stream's queued outbound bytes (waiting on flow control) above which a write says "full". */
export const STREAM_QUEUE_HIGH_BYTES = 64 * 1024;
/** How long a connection closed for an error may take to send its GOAWAY before the socket is destroyed. */
export const ERROR_CLOSE_GRACE_MS = 1000;
const EMPTY = Buffer.alloc(0);
const PING_PAYLOAD = Buffer.from('legate\0\0', 'latin1');

/** The sending side of one stream. */
export class Http2StreamBase {
  readonly id: number;
  sendWindow: number;
  /** END_STREAM written, or queued behind flow control. */
  localEnded: boolean;
  closed: boolean;
  /** Data waiting for flow-control window: queue[queueHead..]. */
  queue: Buffer[];
  queueHead: number;
  queuedBytes: number;
  /** The end (with these trailers, or none) waits behind the queue. */
  trailersAfterQueue: string[] | null;
  inSendList: boolean;
  /** A write said "full": writable() is due once the queue is short and the socket has room. */
  wantWritable: boolean;

  constructor(id: number, sendWindow: number) {
    this.id = id;
    this.sendWindow = sendWindow;
    this.localEnded = false;
    this.closed = false;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.trailersAfterQueue = null;
    this.inSendList = false;
    this.wantWritable = false;
  }
}

export abstract class Http2CodecBase<S extends Http2StreamBase> {
  readonly socket: net.Socket;
  /** No more frames are read or streams opened (the socket may still be flushing). */
  closed: boolean;
  protected readonly writer: FrameWriter;
  protected readonly encoder: HpackEncoder;
  /**
   * A header block is being encoded. HPACK state advances as it goes: left true by an exception, our table and the
   * peer's are out of step and no further header block can be sent, so the connection ends (fail).
   */
  protected encoding: boolean;
  protected connSendWindow: number;
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's send window. */
  protected peerInitialWindow: number;
  protected peerMaxFrameSize: number;
  /** Streams with queued data, in the order they will get window. */
  protected sendList: S[];
  protected writableWaiters: S[];
  protected dataFramesSent: number;
  /** Our PINGs in flight, answered in order. */
  private pingCallbacks: Array<(err: Error | null) => void>;
  /** What applyPeerSetting found wrong. */
  protected settingProblem: string;
  /** per_connection_buffer_limit_bytes: bytes buffered for the socket above which writes say "full". */
  private readonly bufferLimitBytes: number;
  /** Our connection receive window: the DATA bytes the peer may still send, on any stream. */
  private connRecvWindow: number;
  /** DATA bytes received and not yet given back by a WINDOW_UPDATE on stream 0. */
  private connRecvUnacked: number;
  /** connRecvUnacked at which that WINDOW_UPDATE goes out. */
  private readonly connWindowUpdateAt: number;
  // A header block spread over CONTINUATION frames (a HEADERS frame without END_HEADERS, then its CONTINUATIONs).
  /** The stream whose header block is unfinished, or 0. */
  protected continuationStream: number;
  /** The flags of the HEADERS frame that began it. */
  protected continuationFlags: number;
  private continuationChunks: Buffer[];
  private continuationBytes: number;

  /** `connectionWindow`: our connection window (initial_connection_window_size, at least the default). */
  constructor(socket: net.Socket, bufferLimitBytes: number, connectionWindow: number, connWindowUpdateAt: number) {
    this.socket = socket;
    this.closed = false;
    this.writer = new FrameWriter();
    this.encoder = new HpackEncoder();
    this.encoding = false;
    this.connSendWindow = DEFAULT_WINDOW_SIZE;
    this.peerInitialWindow = DEFAULT_WINDOW_SIZE;
    this.peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
    this.sendList = [];
    this.writableWaiters = [];
    this.dataFramesSent = 0;
    this.pingCallbacks = [];
    this.settingProblem = '';
    this.bufferLimitBytes = bufferLimitBytes;
    this.connRecvWindow = connectionWindow;
    this.connRecvUnacked = 0;
    this.connWindowUpdateAt = connWindowUpdateAt;
    this.continuationStream = 0;
    this.continuationFlags = 0;
    this.continuationChunks = [];
    this.continuationBytes = 0;
  }

  /** Ends the connection after an internal error (a bug): GOAWAY(INTERNAL_ERROR) best effort, socket destroyed. Never throws. */
  abstract fail(): void;

  /** PING the peer; `callback` runs on its ACK (keepalive: workers/http2/keepalive.ts). False when closed. */
  ping(callback: (err: Error | null) => void): boolean {
    if (this.closed) return false;
    this.writer.ping(false, PING_PAYLOAD, 0);
    this.pingCallbacks.push(callback);
    this.needFlush();
    return true;
  }

  /** A PING ACK from the peer. */
  protected onPingAck(): void {
    const cb = this.pingCallbacks.shift();
    if (cb !== undefined) cb(null);
  }

  /** The connection closed: PINGs in flight will not be answered. */
  protected failPings(): void {
    const pings = this.pingCallbacks;
    this.pingCallbacks = [];
    for (let i = 0; i < pings.length; i++) pings[i]!(new Error('connection closed'));
  }

  /** The peer broke the protocol (a frame the base class checked): the codec's connection error, GOAWAY(code). */
  protected abstract frameError(code: number, detail: string): void;
  /** A control frame (a PING ACK) was queued in answer to the peer: the server codec checks for a flood. */
  protected abstract controlFrameQueued(): void;
  /** A stream id the peer may not use yet (a connection error for most frames on it). */
  protected abstract isIdle(sid: number): boolean;
  /** The peer's flow-control or protocol error on stream `s` alone: we reset it (RST_STREAM code). */
  protected abstract streamFlowError(s: S, code: number): void;

  protected onPingFrame(flags: number, sid: number, buf: Buffer, p: number, end: number): void {
    if (sid !== 0) return this.frameError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (end - p !== 8) return this.frameError(ErrorCode.FRAME_SIZE_ERROR, 'PING frame size');
    if ((flags & FrameFlag.ACK) !== 0) return this.onPingAck();
    this.writer.ping(true, buf, p);
    this.controlFrameQueued();
  }

  /**
   * A DATA or HEADERS frame's padding, the Pad Length byte included: 0 when not PADDED, else the payload is
   * buf[p + 1..end - padding + 1]; -1 after the connection error a bad pad length is.
   */
  protected framePadding(type: number, flags: number, buf: Buffer, p: number, end: number): number {
    if ((flags & FrameFlag.PADDED) === 0) return 0;
    const data = type === FrameType.DATA;
    if (end - p < 1) {
      this.frameError(ErrorCode.FRAME_SIZE_ERROR, data ? 'padded DATA without a pad length' : 'padded HEADERS without a pad length');
      return -1;
    }
    const padding = buf[p]! + 1;
    if (padding > end - p) {
      this.frameError(ErrorCode.PROTOCOL_ERROR, data ? 'DATA padding exceeds the payload' : 'HEADERS padding exceeds the payload');
      return -1;
    }
    return padding;
  }

  /** After our SETTINGS: the connection window starts at the default, so what ours has more goes out as a WINDOW_UPDATE. */
  protected announceConnectionWindow(): void {
    if (this.connRecvWindow > DEFAULT_WINDOW_SIZE) this.writer.windowUpdate(0, this.connRecvWindow - DEFAULT_WINDOW_SIZE);
  }

  /**
   * A DATA frame's `length` bytes (padding included, on any stream: also one we reset) count against our connection
   * window, given back by a WINDOW_UPDATE in half-window steps; false after the FLOW_CONTROL_ERROR an overrun is.
   */
  protected consumeConnectionWindow(length: number): boolean {
    this.connRecvWindow -= length;
    if (this.connRecvWindow < 0) {
      this.frameError(ErrorCode.FLOW_CONTROL_ERROR, 'connection flow-control window exceeded');
      return false;
    }
    this.connRecvUnacked += length;
    if (this.connRecvUnacked >= this.connWindowUpdateAt) {
      this.writer.windowUpdate(0, this.connRecvUnacked);
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
    }
    return true;
  }

  /** A frame that may not come now: a header block is unfinished and this is not a CONTINUATION on its stream. */
  protected interruptsHeaderBlock(type: number, sid: number): boolean {
    return this.continuationStream !== 0 && (type !== FrameType.CONTINUATION || sid !== this.continuationStream);
  }

  /** A CONTINUATION on `sid` that continues no header block. */
  protected continuesNothing(sid: number): boolean {
    return this.continuationStream === 0 || sid !== this.continuationStream;
  }

  /** A HEADERS frame without END_HEADERS: its fragment buf[p..end] is kept (copied) until the block ends. */
  protected beginHeaderBlock(sid: number, flags: number, buf: Buffer, p: number, end: number): void {
    this.continuationStream = sid;
    this.continuationFlags = flags;
    this.continuationChunks = [Buffer.from(buf.subarray(p, end))];
    this.continuationBytes = end - p;
  }

  /** Counts a CONTINUATION's `length` bytes into the block; true when the block is now larger than `limit`. */
  protected headerBlockExceeds(length: number, limit: number): boolean {
    this.continuationBytes += length;
    return this.continuationBytes > limit;
  }

  /**
   * Keeps a CONTINUATION's fragment buf[p..end] (counted by headerBlockExceeds); with END_HEADERS in `flags`, returns
   * the whole block and the codec is no longer in one (continuationFlags: the HEADERS frame's flags, read first).
   */
  protected continueHeaderBlock(flags: number, buf: Buffer, p: number, end: number): Buffer | null {
    this.continuationChunks.push(Buffer.from(buf.subarray(p, end)));
    if ((flags & FrameFlag.END_HEADERS) === 0) return null;
    const block = Buffer.concat(this.continuationChunks, this.continuationBytes);
    this.continuationStream = 0;
    this.continuationChunks = [];
    this.continuationBytes = 0;
    return block;
  }

  /** One header block (HPACK state advances: see `encoding`). */
  protected writeHeaders(sid: number, fields: readonly string[], endStream: boolean): void {
    if (this.encoding) return this.fail();
    this.encoding = true;
    this.writer.headers(sid, this.encoder, fields, 0, fields.length, endStream, this.peerMaxFrameSize);
    this.encoding = false;
  }

  /**
   * One of the peer's SETTINGS that bind what we send (INITIAL_WINDOW_SIZE, which moves every open stream's window;
   * MAX_FRAME_SIZE; HEADER_TABLE_SIZE); others are the caller's. -1, or the ErrorCode of the connection error it
   * is (what: settingProblem).
   */
  protected applyPeerSetting(id: number, value: number, streams: IdTable<S>): number {
    if (id === SettingId.INITIAL_WINDOW_SIZE) {
      if (value > MAX_WINDOW_SIZE) return this.settingError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
      const delta = value - this.peerInitialWindow;
      this.peerInitialWindow = value;
      const open = streams.values();
      for (let i = 0; i < open.length; i++) {
        const s = open[i]!;
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW_SIZE) return this.settingError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
      }
      if (delta > 0) this.drainSendList();
    } else if (id === SettingId.MAX_FRAME_SIZE) {
      if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) return this.settingError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
      this.peerMaxFrameSize = value;
    } else if (id === SettingId.HEADER_TABLE_SIZE) {
      this.encoder.setPeerMaxTableSize(value);
    }
    return -1;
  }

  private settingError(code: number, problem: string): number {
    this.settingProblem = problem;
    return code;
  }

  /** A WINDOW_UPDATE frame's increment (the frame's size checked): the connection's window or a stream's grows. */
  protected applyWindowUpdate(sid: number, buf: Buffer, p: number, streams: IdTable<S>): void {
    const increment = buf.readUInt32BE(p) & 0x7fffffff;
    if (sid === 0) {
      if (increment === 0) return this.frameError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      if (!this.growConnectionWindow(increment)) this.frameError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      return;
    }
    const s = streams.get(sid);
    if (s === undefined) {
      if (this.isIdle(sid)) this.frameError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${sid}`);
      return;
    }
    if (increment === 0) return this.streamFlowError(s, ErrorCode.PROTOCOL_ERROR);
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW_SIZE) return this.streamFlowError(s, ErrorCode.FLOW_CONTROL_ERROR);
    if (s.queuedBytes > 0) this.drainStream(s);
  }

  /** WINDOW_UPDATE on stream 0 (increment > 0): false when the window overflows (a FLOW_CONTROL_ERROR). */
  private growConnectionWindow(increment: number): boolean {
    this.connSendWindow += increment;
    if (this.connSendWindow > MAX_WINDOW_SIZE) return false;
    this.drainSendList();
    return true;
  }

  /** END_STREAM for `s` (trailers, or an empty DATA frame), once its queue is empty. */
  protected abstract writeEnd(s: S, trailers: readonly string[] | null): void;
  /** Output is pending: write it at the end of the read or the turn. */
  protected abstract needFlush(): void;
  /** Tells the owner `s` may write again (a boundary of its own: an exception there is about that stream). */
  protected abstract streamWritable(s: S): void;

  /** Sends what both windows allow of chunk[from..] as DATA frames; returns how many bytes. */
  protected sendData(s: S, chunk: Buffer, from: number): number {
    let window = s.sendWindow < this.connSendWindow ? s.sendWindow : this.connSendWindow;
    let pos = from;
    const len = chunk.length;
    const maxFrame = this.peerMaxFrameSize;
    while (pos < len && window > 0) {
      let n = len - pos;
      if (n > window) n = window;
      if (n > maxFrame) n = maxFrame;
      this.writer.data(s.id, chunk, pos, pos + n, false);
      this.dataFramesSent++;
      pos += n;
      window -= n;
    }
    const sent = pos - from;
    s.sendWindow -= sent;
    this.connSendWindow -= sent;
    return sent;
  }

  /** Sends what the windows allow of `chunk` now and queues the rest. */
  protected sendOrQueue(s: S, chunk: Buffer): void {
    if (s.queuedBytes === 0) {
      const sent = this.sendData(s, chunk, 0);
      if (sent < chunk.length) this.enqueue(s, sent === 0 ? chunk : chunk.subarray(sent));
    } else this.enqueue(s, chunk);
  }

  /** After a write: true (and `s` waits for writable()) when its queue or the connection's buffer is full. */
  protected isFull(s: S): boolean {
    if (s.queuedBytes <= STREAM_QUEUE_HIGH_BYTES && this.bufferedBytes() <= this.bufferLimitBytes) return false;
    if (!s.wantWritable) {
      s.wantWritable = true;
      this.writableWaiters.push(s);
    }
    return true;
  }

  private enqueue(s: S, chunk: Buffer): void {
    s.queue.push(chunk);
    s.queuedBytes += chunk.length;
    if (!s.inSendList) {
      s.inSendList = true;
      this.sendList.push(s);
    }
  }

  /** Sends what flow control now allows of a stream's queue; ends the stream if its end was waiting. */
  protected drainStream(s: S): void {
    const q = s.queue;
    while (s.queueHead < q.length) {
      const chunk = q[s.queueHead]!;
      const sent = this.sendData(s, chunk, 0);
      s.queuedBytes -= sent;
      if (sent < chunk.length) {
        q[s.queueHead] = chunk.subarray(sent);
        break;
      }
      q[s.queueHead++] = EMPTY;
    }
    if (s.queueHead === q.length) {
      s.queue = [];
      s.queueHead = 0;
      if (s.localEnded && !s.closed) {
        const trailers = s.trailersAfterQueue;
        s.trailersAfterQueue = null;
        this.writeEnd(s, trailers);
      }
    }
    this.needFlush();
    if (s.wantWritable) this.notifyWritable();
  }

  /** The connection window (or the peer's initial window) grew: streams waiting for it send. */
  protected drainSendList(): void {
    const list = this.sendList;
    if (list.length === 0) return;
    this.sendList = [];
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      s.inSendList = false;
      if (s.closed || s.queuedBytes === 0) continue;
      if (this.connSendWindow > 0) this.drainStream(s);
      if (!s.closed && s.queuedBytes > 0) {
        s.inSendList = true;
        this.sendList.push(s);
      }
    }
  }

  protected bufferedBytes(): number {
    return this.socket.writableLength + this.writer.pendingBytes;
  }

  /** Streams told "full" that may write again: their queue is short and the socket has room. */
  protected notifyWritable(): void {
    if (this.writableWaiters.length === 0 || this.bufferedBytes() > this.bufferLimitBytes) return;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (let i = 0; i < waiters.length; i++) {
      const s = waiters[i]!;
      if (s.closed) continue;
      if (s.queuedBytes > STREAM_QUEUE_HIGH_BYTES) {
        this.writableWaiters.push(s);
        continue;
      }
      s.wantWritable = false;
      this.streamWritable(s);
    }
  }
}
