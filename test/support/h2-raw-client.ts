// Test support: a raw HTTP/2 client over node:net for crafting protocol abuse (floods, rapid resets, zero
// windows). It encodes frames byte by byte and reads the peer's frames without decoding HPACK: tests assert on
// frame types, flags and error codes, and on what the upstream itself saw.

import net from 'node:net';

// The wire constants are the codec's own (src/http2/frames.ts); the suite against node:http2 checks them on a real peer.
export { CLIENT_PREFACE as CONNECTION_PREFACE, ErrorCode, FrameFlag, FrameType, SettingId as Setting } from '../../src/http2/frames.ts';
import { CLIENT_PREFACE as CONNECTION_PREFACE, ErrorCode, FrameFlag, FrameType, SettingId as Setting } from '../../src/http2/frames.ts';

const FRAME_TYPE_NAMES = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k])) as Record<number, string>;
const ERROR_CODE_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k])) as Record<number, string>;

export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES[type] ?? `UNKNOWN(0x${type.toString(16)})`;
}

export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `UNKNOWN(0x${code.toString(16)})`;
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export type HeaderField = readonly [name: string, value: string];

const EMPTY = Buffer.alloc(0);
/** The peer's default SETTINGS_MAX_FRAME_SIZE; header blocks above it are split into CONTINUATION frames. */
const DEFAULT_MAX_FRAME_SIZE = 16_384;

// ---- encoders (pure) -------------------------------------------------------------------------------------

/** One frame: 9-byte header (24-bit length, type, flags, 31-bit stream id) and the payload. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  payload.copy(out, 9);
  return out;
}

/** HPACK integer (RFC 7541 §5.1) with an N-bit prefix; `firstByteBits` are the bits above the prefix. */
function hpackInteger(value: number, prefixBits: number, firstByteBits: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteBits | value];
  const out = [firstByteBits | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  // H bit 0: no Huffman.
  return Buffer.concat([Buffer.from(hpackInteger(bytes.length, 7, 0x00)), bytes]);
}

/**
 * A header block of "literal header field without indexing — new name" representations (RFC 7541 §6.2.2),
 * non-Huffman: the decoder's dynamic table is never touched, so every block stands alone.
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  }
  return Buffer.concat(parts);
}

/** Request pseudo-headers first, then `extra` (names must be lower-case for HTTP/2). */
export function requestHeaders(opts: { path: string; method?: string; authority?: string; scheme?: string; extra?: readonly HeaderField[] }): HeaderField[] {
  return [
    [':method', opts.method ?? 'GET'],
    [':scheme', opts.scheme ?? 'http'],
    [':authority', opts.authority ?? 'localhost'],
    [':path', opts.path],
    ...(opts.extra ?? []),
  ];
}

/** SETTINGS (stream 0). With `ack`, an empty SETTINGS ACK. */
export function settingsFrame(params: readonly (readonly [id: number, value: number])[] = [], ack = false): Buffer {
  if (ack) return encodeFrame(FrameType.SETTINGS, FrameFlag.ACK, 0);
  const payload = Buffer.allocUnsafe(params.length * 6);
  params.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
}

/** HEADERS (+ CONTINUATION when the block is larger than maxFrameSize). END_STREAM by default (a GET). */
export function headersFrame(streamId: number, fields: readonly HeaderField[], opts: { endStream?: boolean; maxFrameSize?: number } = {}): Buffer {
  const block = encodeHeaderBlock(fields);
  const max = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const endStream = (opts.endStream ?? true) ? FrameFlag.END_STREAM : 0;
  if (block.length <= max) return encodeFrame(FrameType.HEADERS, endStream | FrameFlag.END_HEADERS, streamId, block);
  const frames = [encodeFrame(FrameType.HEADERS, endStream, streamId, block.subarray(0, max))];
  for (let off = max; off < block.length; off += max) {
    const last = off + max >= block.length;
    frames.push(encodeFrame(FrameType.CONTINUATION, last ? FrameFlag.END_HEADERS : 0, streamId, block.subarray(off, off + max)));
  }
  return Buffer.concat(frames);
}

/** DATA; an empty payload without END_STREAM is the "empty frame" of CVE-2019-9518. */
export function dataFrame(streamId: number, payload: Buffer | string = EMPTY, opts: { endStream?: boolean } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return encodeFrame(FrameType.DATA, opts.endStream === true ? FrameFlag.END_STREAM : 0, streamId, body);
}

export function rstStreamFrame(streamId: number, errorCode: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(errorCode >>> 0, 0);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, payload);
}

/** PING with 8 bytes of opaque data (a number is written as a big-endian 64-bit value). */
export function pingFrame(opaque: Buffer | number = 0, ack = false): Buffer {
  let payload: Buffer;
  if (typeof opaque === 'number') {
    payload = Buffer.alloc(8);
    payload.writeBigUInt64BE(BigInt(opaque), 0);
  } else {
    if (opaque.length !== 8) throw new RangeError('PING opaque data is 8 bytes');
    payload = opaque;
  }
  return encodeFrame(FrameType.PING, ack ? FrameFlag.ACK : 0, 0, payload);
}

/** PRIORITY (RFC 9113 §6.3, deprecated but legal): a 5-byte payload, dependency and weight. */
export function priorityFrame(streamId: number, dependsOn = 0, weight = 16): Buffer {
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(dependsOn & 0x7fffffff, 0);
  payload[4] = weight - 1;
  return encodeFrame(FrameType.PRIORITY, 0, streamId, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment & 0x7fffffff, 0);
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, errorCode: number, debug = ''): Buffer {
  const d = Buffer.from(debug);
  const payload = Buffer.allocUnsafe(8 + d.length);
  payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  payload.writeUInt32BE(errorCode >>> 0, 4);
  d.copy(payload, 8);
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
}

// ---- decoders --------------------------------------------------------------------------------------------

export interface Goaway {
  lastStreamId: number;
  errorCode: number;
  debug: string;
}

export function parseGoaway(payload: Buffer): Goaway {
  return {
    lastStreamId: payload.readUInt32BE(0) & 0x7fffffff,
    errorCode: payload.readUInt32BE(4),
    debug: payload.subarray(8).toString('latin1'),
  };
}

export function parseRstStream(payload: Buffer): number {
  return payload.readUInt32BE(0);
}

export function parseSettings(payload: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  for (let off = 0; off + 6 <= payload.length; off += 6) out.set(payload.readUInt16BE(off), payload.readUInt32BE(off + 2));
  return out;
}

export function parseWindowUpdate(payload: Buffer): number {
  return payload.readUInt32BE(0) & 0x7fffffff;
}

/** DATA payload without padding. */
export function dataPayload(frame: Frame): Buffer {
  if ((frame.flags & FrameFlag.PADDED) === 0) return frame.payload;
  const pad = frame.payload[0] ?? 0;
  return frame.payload.subarray(1, frame.payload.length - pad);
}

/** Splits a byte stream into frames; keeps a partial frame until the rest arrives. */
export class FrameReader {
  private pending: Buffer = EMPTY;

  /** Returns the complete frames in `chunk` (plus what was pending). */
  push(chunk: Buffer): Frame[] {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    let off = 0;
    while (buf.length - off >= 9) {
      const len = buf.readUIntBE(off, 3);
      if (buf.length - off < 9 + len) break;
      frames.push({
        type: buf[off + 3]!,
        flags: buf[off + 4]!,
        streamId: buf.readUInt32BE(off + 5) & 0x7fffffff,
        payload: buf.subarray(off + 9, off + 9 + len),
      });
      off += 9 + len;
    }
    this.pending = off === buf.length ? EMPTY : Buffer.from(buf.subarray(off));
    return frames;
  }

  get pendingBytes(): number {
    return this.pending.length;
  }
}

// ---- the client ------------------------------------------------------------------------------------------

export interface H2RawClientOptions {
  port: number;
  host?: string;
  /** The client's SETTINGS, sent right after the preface (default: none, an empty SETTINGS frame). */
  settings?: readonly (readonly [id: number, value: number])[];
  /** Send the preface and SETTINGS on connect (default true). */
  preface?: boolean;
  /** Bytes written in the same write as the preface and SETTINGS (a first flight sent before any reply). */
  firstFlight?: Buffer;
  /** Answer the server's SETTINGS with an ACK (default true). */
  autoAckSettings?: boolean;
  /** Answer the server's PINGs (default true). */
  autoAckPing?: boolean;
  /** Keep every received frame in `frames` (default true; turn off for very long floods). */
  keepFrames?: boolean;
}

export interface StreamState {
  /** Response HEADERS frames seen (1 for a plain response, more with 1xx or trailers). */
  headers: number;
  dataBytes: number;
  dataFrames: number;
  /** END_STREAM seen from the server. */
  ended: boolean;
  /** RST_STREAM error code from the server, or null. */
  rstCode: number | null;
}

type Waiter = { check: () => boolean; resolve: () => void };

/** A raw HTTP/2 connection. Frames the server sends are counted and kept; waits resolve on conditions. */
export class H2RawClient {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  /** Received frames by type. */
  readonly counts = new Map<number, number>();
  readonly streams = new Map<number, StreamState>();
  readonly goaways: Goaway[] = [];
  /** SETTINGS the server sent (merged, last value wins). */
  readonly serverSettings = new Map<number, number>();
  serverSettingsReceived = false;
  settingsAcksReceived = 0;
  pingAcksReceived = 0;
  bytesReceived = 0;
  /** The first bytes received, as latin1 (shows e.g. an HTTP/1.1 answer to the preface). */
  firstBytes = '';
  /** The server ended its side (FIN). */
  endReceived = false;
  closed = false;
  /** The socket error that closed the connection (e.g. ECONNRESET, EPIPE), if any. */
  socketError: NodeJS.ErrnoException | null = null;
  private readonly reader = new FrameReader();
  private readonly opts: Required<Omit<H2RawClientOptions, 'firstFlight' | 'settings'>>;
  private waiters: Waiter[] = [];
  private readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket, opts: H2RawClientOptions) {
    this.socket = socket;
    this.opts = {
      port: opts.port,
      host: opts.host ?? '127.0.0.1',
      preface: opts.preface ?? true,
      autoAckSettings: opts.autoAckSettings ?? true,
      autoAckPing: opts.autoAckPing ?? true,
      keepFrames: opts.keepFrames ?? true,
    };
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.endReceived = true;
      this.notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.socketError ??= err;
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.notify();
        resolve();
      });
    });
  }

  /** Connects, then sends the preface, SETTINGS and `firstFlight` in one write. */
  static connect(opts: H2RawClientOptions): Promise<H2RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(opts.port, opts.host ?? '127.0.0.1');
      socket.setNoDelay(true);
      const client = new H2RawClient(socket, opts);
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        const first: Buffer[] = [];
        if (opts.preface ?? true) first.push(CONNECTION_PREFACE, settingsFrame(opts.settings ?? []));
        if (opts.firstFlight !== undefined) first.push(opts.firstFlight);
        if (first.length > 0) socket.write(Buffer.concat(first));
        resolve(client);
      });
    });
  }

  private stream(id: number): StreamState {
    let s = this.streams.get(id);
    if (s === undefined) {
      s = { headers: 0, dataBytes: 0, dataFrames: 0, ended: false, rstCode: null };
      this.streams.set(id, s);
    }
    return s;
  }

  private onData(chunk: Buffer): void {
    if (this.firstBytes.length < 64) this.firstBytes += chunk.subarray(0, 64 - this.firstBytes.length).toString('latin1');
    this.bytesReceived += chunk.length;
    for (const f of this.reader.push(chunk)) this.onFrame(f);
    this.notify();
  }

  private onFrame(f: Frame): void {
    if (this.opts.keepFrames) this.frames.push(f);
    this.counts.set(f.type, (this.counts.get(f.type) ?? 0) + 1);
    switch (f.type) {
      case FrameType.SETTINGS:
        if ((f.flags & FrameFlag.ACK) !== 0) {
          this.settingsAcksReceived++;
        } else {
          for (const [k, v] of parseSettings(f.payload)) this.serverSettings.set(k, v);
          this.serverSettingsReceived = true;
          if (this.opts.autoAckSettings) this.write(settingsFrame([], true));
        }
        break;
      case FrameType.PING:
        if ((f.flags & FrameFlag.ACK) !== 0) this.pingAcksReceived++;
        else if (this.opts.autoAckPing) this.write(pingFrame(Buffer.from(f.payload), true));
        break;
      case FrameType.GOAWAY:
        this.goaways.push(parseGoaway(f.payload));
        break;
      case FrameType.RST_STREAM:
        this.stream(f.streamId).rstCode = parseRstStream(f.payload);
        break;
      case FrameType.HEADERS: {
        const s = this.stream(f.streamId);
        s.headers++;
        if ((f.flags & FrameFlag.END_STREAM) !== 0) s.ended = true;
        break;
      }
      case FrameType.DATA: {
        const s = this.stream(f.streamId);
        s.dataFrames++;
        s.dataBytes += dataPayload(f).length;
        if ((f.flags & FrameFlag.END_STREAM) !== 0) s.ended = true;
        break;
      }
      default:
        break;
    }
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  // ---- writing ----

  /** Writes raw bytes (frames built with the encoders above); false when the socket is gone. */
  write(bytes: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.socket.write(bytes);
    return true;
  }

  /** Writes and resolves once the bytes were handed to the kernel, or the connection closed first. */
  writeAndFlush(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.socket.destroyed) return resolve();
      const done = (): void => {
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('close', done);
      this.socket.write(bytes, () => done());
    });
  }

  settings(params: readonly (readonly [id: number, value: number])[]): boolean {
    return this.write(settingsFrame(params));
  }

  headers(streamId: number, fields: readonly HeaderField[], opts: { endStream?: boolean } = {}): boolean {
    return this.write(headersFrame(streamId, fields, opts));
  }

  /** A request on `streamId` (a GET with END_STREAM unless `endStream: false`). */
  request(streamId: number, path: string, opts: { method?: string; authority?: string; endStream?: boolean; extra?: readonly HeaderField[] } = {}): boolean {
    return this.headers(streamId, requestHeaders({ path, ...opts }), { endStream: opts.endStream ?? true });
  }

  data(streamId: number, payload: Buffer | string = EMPTY, opts: { endStream?: boolean } = {}): boolean {
    return this.write(dataFrame(streamId, payload, opts));
  }

  rstStream(streamId: number, errorCode: number): boolean {
    return this.write(rstStreamFrame(streamId, errorCode));
  }

  ping(opaque: Buffer | number = 0): boolean {
    return this.write(pingFrame(opaque));
  }

  windowUpdate(streamId: number, increment: number): boolean {
    return this.write(windowUpdateFrame(streamId, increment));
  }

  goaway(lastStreamId: number, errorCode: number, debug = ''): boolean {
    return this.write(goawayFrame(lastStreamId, errorCode, debug));
  }

  /** Stops reading: the kernel buffers fill and the server's writes back up (a client that never reads). */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Closes our side and releases the socket. */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- reading ----

  count(type: number): number {
    return this.counts.get(type) ?? 0;
  }

  /** Streams the server reset with `code` (any code when omitted). */
  resetStreams(code?: number): number[] {
    const out: number[] = [];
    for (const [id, s] of this.streams) if (s.rstCode !== null && (code === undefined || s.rstCode === code)) out.push(id);
    return out;
  }

  /** RST_STREAM codes received, by name, e.g. { REFUSED_STREAM: 900 }. */
  resetCodes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.streams.values()) if (s.rstCode !== null) out[errorCodeName(s.rstCode)] = (out[errorCodeName(s.rstCode)] ?? 0) + 1;
    return out;
  }

  /** A one-line account of what the server sent, for assertion messages. */
  describe(): string {
    const counts = [...this.counts].map(([t, n]) => `${frameTypeName(t)}=${n}`).join(' ');
    const goaways = this.goaways.map((g) => `GOAWAY(last=${g.lastStreamId}, ${errorCodeName(g.errorCode)}${g.debug === '' ? '' : `, "${g.debug}"`})`).join(' ');
    const ended = [...this.streams.values()].filter((s) => s.ended).length;
    const notH2 = this.counts.size === 0 && this.firstBytes !== '' ? ` first bytes: ${JSON.stringify(this.firstBytes)}` : '';
    return `frames: {${counts}}${notH2} rst: ${JSON.stringify(this.resetCodes())} ended streams: ${ended} ${goaways} ` +
      `bytes in: ${this.bytesReceived} fin: ${this.endReceived} closed: ${this.closed}${this.socketError !== null ? ` (${this.socketError.code ?? this.socketError.message})` : ''}`;
  }

  /** Resolves once `check()` holds (checked on every read and on close); rejects after timeoutMs. */
  waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out waiting for ${what}; ${this.describe()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Resolves with the first GOAWAY; rejects if the connection closes without one. */
  async waitForGoaway(timeoutMs = 20_000): Promise<Goaway> {
    await this.waitFor(() => this.goaways.length > 0 || this.closed, 'GOAWAY', timeoutMs);
    const g = this.goaways[0];
    if (g === undefined) throw new Error(`connection closed without a GOAWAY; ${this.describe()}`);
    return g;
  }

  waitForClose(timeoutMs = 20_000): Promise<void> {
    return this.waitFor(() => this.closed, 'the connection to close', timeoutMs);
  }

  /** Resolves when the server's SETTINGS arrived; rejects if the connection closes first. */
  async waitForSettings(timeoutMs = 20_000): Promise<void> {
    await this.waitFor(() => this.serverSettingsReceived || this.closed, 'server SETTINGS', timeoutMs);
    if (!this.serverSettingsReceived) throw new Error(`connection closed before the server's SETTINGS; ${this.describe()}`);
  }

  /** Resolves when the stream ended (END_STREAM or RST_STREAM) or the connection closed. */
  async waitForStreamEnd(streamId: number, timeoutMs = 20_000): Promise<StreamState> {
    await this.waitFor(() => {
      const s = this.streams.get(streamId);
      return this.closed || (s !== undefined && (s.ended || s.rstCode !== null));
    }, `stream ${streamId} to end`, timeoutMs);
    return this.stream(streamId);
  }

  get closedWait(): Promise<void> {
    return this.closedPromise;
  }
}
