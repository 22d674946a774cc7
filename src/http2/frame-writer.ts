// Any thread (pure). Builds outbound HTTP/2 frames for one connection into few large buffers: frame headers,
// control frames and small payloads are carved out of a shared slab (no allocation per frame), large DATA payloads
// are passed by reference. take() hands over what is ready as one list for a single corked write.

import { FRAME_HEADER_BYTES, FrameFlag, FrameType } from './frames.ts';
import type { HpackEncoder } from './hpack-encoder.ts';

/** Slab size: a few dozen responses' worth of heads per allocation. */
const SLAB_BYTES = 32 * 1024;
/** DATA payloads up to this size are copied next to their frame header instead of being written on their own. */
const COPY_MAX_BYTES = 1024;

export class FrameWriter {
  /** The slab frames are written into; bytes before `start` were handed out by take() or a segment cut. */
  private slab: Buffer;
  private start: number;
  private used: number;
  /** Segments cut and waiting for take(), in wire order. */
  private segments: Buffer[];
  /** Bytes in segments plus the open part of the slab. */
  pendingBytes: number;
  /** Frames written since the last take() (the caller's outbound-flood accounting). */
  frames: number;
  /** Of which control frames (SETTINGS ACK, PING ACK, RST_STREAM, WINDOW_UPDATE, GOAWAY). */
  controlFrames: number;

  constructor() {
    this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.start = 0;
    this.used = 0;
    this.segments = [];
    this.pendingBytes = 0;
    this.frames = 0;
    this.controlFrames = 0;
  }

  get empty(): boolean {
    return this.pendingBytes === 0;
  }

  /** Everything written since the last take(), in order; the writer starts afresh. */
  take(): Buffer[] {
    this.cut();
    const out = this.segments;
    this.segments = [];
    this.pendingBytes = 0;
    this.frames = 0;
    this.controlFrames = 0;
    return out;
  }

  // ---- control frames ----

  settings(pairs: readonly number[]): void {
    this.reserve(FRAME_HEADER_BYTES + pairs.length * 3);
    this.header(pairs.length * 3, FrameType.SETTINGS, 0, 0);
    for (let i = 0; i < pairs.length; i += 2) {
      this.slab.writeUInt16BE(pairs[i]!, this.used);
      this.slab.writeUInt32BE(pairs[i + 1]! >>> 0, this.used + 2);
      this.used += 6;
    }
    this.controlFrames++;
  }

  settingsAck(): void {
    this.reserve(FRAME_HEADER_BYTES);
    this.header(0, FrameType.SETTINGS, FrameFlag.ACK, 0);
    this.controlFrames++;
  }

  /** `opaque` is the 8-byte payload (buf[at, at + 8)). */
  ping(ack: boolean, buf: Buffer, at: number): void {
    this.reserve(FRAME_HEADER_BYTES + 8);
    this.header(8, FrameType.PING, ack ? FrameFlag.ACK : 0, 0);
    buf.copy(this.slab, this.used, at, at + 8);
    this.used += 8;
    this.controlFrames++;
  }

  goaway(lastStreamId: number, code: number, debug: string): void {
    const debugBytes = Buffer.byteLength(debug, 'latin1');
    this.reserve(FRAME_HEADER_BYTES + 8 + debugBytes);
    this.header(8 + debugBytes, FrameType.GOAWAY, 0, 0);
    this.slab.writeUInt32BE(lastStreamId & 0x7fffffff, this.used);
    this.slab.writeUInt32BE(code >>> 0, this.used + 4);
    this.used += 8;
    this.used += this.slab.write(debug, this.used, 'latin1');
    this.controlFrames++;
  }

  rstStream(streamId: number, code: number): void {
    this.reserve(FRAME_HEADER_BYTES + 4);
    this.header(4, FrameType.RST_STREAM, 0, streamId);
    this.slab.writeUInt32BE(code >>> 0, this.used);
    this.used += 4;
    this.controlFrames++;
  }

  windowUpdate(streamId: number, increment: number): void {
    this.reserve(FRAME_HEADER_BYTES + 4);
    this.header(4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.slab.writeUInt32BE(increment & 0x7fffffff, this.used);
    this.used += 4;
    this.controlFrames++;
  }

  // ---- stream frames ----

  /**
   * A header block for fields[from, to) as HEADERS (+ CONTINUATION frames when it exceeds the peer's
   * maxFrameSize). HPACK state advances here, so every block encoded must be written.
   */
  headers(streamId: number, encoder: HpackEncoder, fields: readonly string[], from: number, to: number, endStream: boolean, maxFrameSize: number): void {
    const bound = encoder.maxEncodedBytes(fields, from, to);
    // Room for the block and, if it has to be split, one more frame header per fragment.
    this.reserve(FRAME_HEADER_BYTES + bound + FRAME_HEADER_BYTES * Math.ceil(bound / maxFrameSize));
    const headerAt = this.used;
    const blockAt = headerAt + FRAME_HEADER_BYTES;
    const blockEnd = encoder.encode(fields, from, to, this.slab, blockAt);
    const blockBytes = blockEnd - blockAt;
    const flags = endStream ? FrameFlag.END_STREAM : 0;
    if (blockBytes <= maxFrameSize) {
      this.used = headerAt;
      this.header(blockBytes, FrameType.HEADERS, flags | FrameFlag.END_HEADERS, streamId);
      this.used = blockEnd;
      return;
    }
    // Split: move the block up fragment by fragment (from the end, so nothing is overwritten before it moves).
    const fragments = Math.ceil(blockBytes / maxFrameSize);
    for (let i = fragments - 1; i >= 0; i--) {
      const src = blockAt + i * maxFrameSize;
      const len = Math.min(maxFrameSize, blockEnd - src);
      const dst = headerAt + i * (maxFrameSize + FRAME_HEADER_BYTES) + FRAME_HEADER_BYTES;
      this.slab.copy(this.slab, dst, src, src + len);
      this.used = dst - FRAME_HEADER_BYTES;
      const last = i === fragments - 1;
      if (i === 0) this.header(len, FrameType.HEADERS, flags | (last ? FrameFlag.END_HEADERS : 0), streamId);
      else this.header(len, FrameType.CONTINUATION, last ? FrameFlag.END_HEADERS : 0, streamId);
    }
    this.frames += fragments - 1;
    this.used = headerAt + blockBytes + fragments * FRAME_HEADER_BYTES;
  }

  /** One DATA frame with chunk[start, end) (the caller keeps it within the peer's frame size and windows). */
  data(streamId: number, chunk: Buffer, start: number, end: number, endStream: boolean): void {
    const len = end - start;
    const flags = endStream ? FrameFlag.END_STREAM : 0;
    if (len <= COPY_MAX_BYTES) {
      this.reserve(FRAME_HEADER_BYTES + len);
      this.header(len, FrameType.DATA, flags, streamId);
      if (len > 0) {
        chunk.copy(this.slab, this.used, start, end);
        this.used += len;
      }
      return;
    }
    this.reserve(FRAME_HEADER_BYTES);
    this.header(len, FrameType.DATA, flags, streamId);
    this.cut();
    this.segments.push(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
  }

  // ---- internals ----

  /** A frame header at `used`. */
  private header(length: number, type: number, flags: number, streamId: number): void {
    const b = this.slab;
    const at = this.used;
    b[at] = length >>> 16;
    b[at + 1] = (length >>> 8) & 0xff;
    b[at + 2] = length & 0xff;
    b[at + 3] = type;
    b[at + 4] = flags;
    b.writeUInt32BE(streamId & 0x7fffffff, at + 5);
    this.used = at + FRAME_HEADER_BYTES;
    this.pendingBytes += FRAME_HEADER_BYTES + length;
    this.frames++;
  }

  /** Ensures `bytes` free after `used`; a new slab when the current one cannot hold them. */
  private reserve(bytes: number): void {
    if (this.used + bytes <= this.slab.length) return;
    this.cut();
    this.slab = Buffer.allocUnsafeSlow(bytes > SLAB_BYTES ? bytes : SLAB_BYTES);
    this.start = 0;
    this.used = 0;
  }

  /** Ends the open part of the slab as a segment (before a by-reference payload, or on take()). */
  private cut(): void {
    if (this.used === this.start) return;
    this.segments.push(this.slab.subarray(this.start, this.used));
    this.start = this.used;
  }
}
