// Worker thread. One accepted client connection speaking HTTP/2 (h2c prior knowledge, or ALPN h2 under TLS): the
// protocol is Legate's own codec (workers/http2/server-codec.ts); this class turns its streams into ActiveStreams,
// encodes their responses, and adds the connection manager's policy on top: the premature-reset rule
// (CVE-2023-44487), deferred stream starts so a stream reset in the same read never reaches an upstream, drain,
// idle and duration limits, keepalive, and the connection's stats. Exceptions (bugs) stop at its entry points: the
// codec's (onStreamInternalError, onInternalError) and its own timers'; one about a stream resets that stream, any
// other ends this connection; both count http.<stat_prefix>.internal_error and log the stack once.

import type net from 'node:net';
import type { RequestHead } from '../../src/http1/types.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import { log } from '../../src/common/logger.ts';
import { ActiveStream } from './active-stream.ts';
import { formatAddress, localAddressOf, type HcmConnectionOwner } from '../listener/filter-chain-runtime.ts';
import type { HcmRuntime } from './hcm-runtime.ts';
import { BodyFraming, type StreamConnection } from './stream-connection.ts';
import { requestHeadFromHttp2, responseHeadersForHttp2, trailerFieldsForHttp2 } from '../../src/http/http2-headers.ts';
import { nextConnectionId } from '../listener/connection-ids.ts';
import { connectionLog, connHandlerLog, logClose } from './stream-log.ts';
import { cancelTimer } from '../../src/common/timers.ts';
import { armConnectionIdleTimer } from '../../src/overload/overload-shared.ts';
import { Http2KeepaliveTimer } from '../http2/keepalive.ts';
import { Http2ServerCodec, type Http2ServerCallbacks, type Http2ServerStream } from '../http2/server-codec.ts';
import { ErrorCode } from '../../src/http2/frames.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import type { HighMemorySweep } from '../../src/overload/high-memory-streams.ts';

/** Envoy's premature-reset rule: judged once a connection has closed this many streams. */
const PREMATURE_RESET_MIN_STREAMS = 500;
/** A stream reset by the client within this lifetime, before any response, is premature (Envoy's default 1 s). */
const PREMATURE_RESET_MAX_LIFETIME_MS = 1000;

/** The per-stream state the connection keeps beside its ActiveStream (on ActiveStream.transport). */
class Http2StreamState {
  readonly h2: Http2ServerStream;
  readonly openedMonoMs: number;
  stream: ActiveStream | null;
  /** The request head, until the stream starts (deferred to the end of the read). */
  fields: string[] | null;
  /** The request ended with its head (END_STREAM on HEADERS). */
  readonly headEndStream: boolean;
  /** The request ended (after a body) before the stream started. */
  endedEarly: boolean;
  /** Request data that came before the stream started. */
  early: Buffer[] | null;
  earlyTrailers: string[] | null;
  /** Bounds how long a finished response may wait on the client (flow control, an unfinished request body). */
  lingerTimer: NodeJS.Timeout | null;

  constructor(h2: Http2ServerStream, fields: string[], headEndStream: boolean) {
    this.h2 = h2;
    this.openedMonoMs = performance.now();
    this.stream = null;
    this.fields = fields;
    this.headEndStream = headEndStream;
    this.endedEarly = false;
    this.early = null;
    this.earlyTrailers = null;
    this.lingerTimer = null;
  }
}

export class Http2Connection implements StreamConnection, Http2ServerCallbacks {
  readonly id: number;
  readonly socket: net.Socket;
  readonly listener: HcmConnectionOwner;
  /** The connection manager config the connection was accepted with (connection-level settings). */
  readonly hcm: HcmRuntime;
  readonly codec: Http2ServerCodec;
  readonly remoteAddress: string;
  readonly remoteIp: string;
  readonly localAddress: string;
  readonly scheme: string;
  readonly multiplexed: boolean;
  draining: boolean;
  closed: boolean;
  private readonly startMonoMs: number;
  private closedStreams: number;
  private prematureResets: number;
  private pendingStarts: Http2StreamState[];
  private startScheduled: boolean;
  private idleTimer: NodeJS.Timeout | null;
  private keepalive: Http2KeepaliveTimer | null;
  /** Streams started (common_http_protocol_options.max_requests_per_connection). */
  private requestCount: number;
  private durationTimer: NodeJS.Timeout | null;
  private readonly rootSlots: Readonly<Record<string, number>>;

  /** `initial`: bytes already read from the socket (AUTO's codec detection). */
  constructor(socket: net.Socket, listener: HcmConnectionOwner, initial: Buffer | null = null) {
    this.id = nextConnectionId();
    this.socket = socket;
    this.listener = listener;
    this.hcm = listener.hcm;
    this.remoteIp = socket.remoteAddress ?? '';
    this.remoteAddress = formatAddress(this.remoteIp, socket.remotePort ?? 0);
    this.localAddress = localAddressOf(socket);
    this.scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    this.multiplexed = true;
    this.draining = false;
    this.closed = false;
    this.startMonoMs = performance.now();
    this.closedStreams = 0;
    this.prematureResets = 0;
    this.pendingStarts = [];
    this.startScheduled = false;
    this.idleTimer = null;
    this.keepalive = null;
    this.requestCount = 0;
    this.durationTimer = null;
    this.rootSlots = this.hcm.workerSlots;

    socket.setNoDelay(true);
    const cfg = this.hcm.config;
    const h2 = cfg.http2;
    this.codec = new Http2ServerCodec(socket, {
      settings: h2,
      maxHeaderListBytes: cfg.maxRequestHeadersKb * 1024,
      maxHeaders: cfg.maxHeadersCount,
      streamErrorOnInvalidMessaging: h2.streamErrorOnInvalidHttpMessaging,
      bufferLimitBytes: this.hcm.listener.perConnectionBufferLimitBytes,
    }, this);
    const values = this.hcm.stats.values;
    const slots = cfg.slots!;
    values[slots.downstream_cx_total]++;
    values[slots.downstream_cx_http2_total]++;
    values[slots.downstream_cx_active]++;
    values[slots.downstream_cx_http2_active]++;
    if (connHandlerLog.debug) connHandlerLog.log('debug', `[C${this.id}] new connection from ${this.remoteAddress}`);
    socket.on('error', ignoreError);
    if (h2.keepalive !== null) {
      this.keepalive = new Http2KeepaliveTimer(this.codec, h2.keepalive, () => {
        this.count('keepalive_timeout');
        log.debug(`http2 connection ${this.id}: no PING ACK within ${h2.keepalive!.timeoutMs} ms; closing`);
        this.codec.destroy();
      }, (err) => this.failOnInternalError(err));
    }
    const maxDurationMs = cfg.maxConnectionDurationMs;
    if (maxDurationMs > 0) this.durationTimer = setTimeout(onMaxConnectionDuration, maxDurationMs, this);
    this.armIdleTimer();
    this.codec.start(initial);
  }

  /** max_connection_duration: GOAWAY; the streams in flight finish, then the connection closes. */
  onMaxDuration(): void {
    this.durationTimer = null;
    if (this.closed || this.draining) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_max_duration_reached]++;
    this.drain();
  }

  // ---- codec callbacks (client -> proxy) ----

  onRequest(h2s: Http2ServerStream, fields: string[], endStream: boolean): void {
    const state = new Http2StreamState(h2s, fields, endStream);
    h2s.user = state;
    this.rootValues()[this.rootSlots['http2.streams_active']!]++;
    this.clearIdleTimer();
    // Started in the check phase, after this loop's I/O: a stream the client resets at once (rapid reset) is
    // closed by then and never reaches an upstream, even when its RST_STREAM came in the next TCP read
    // (test/e2e/http2-abuse.test.ts (b)).
    this.pendingStarts.push(state);
    if (!this.startScheduled) {
      this.startScheduled = true;
      setImmediate(startPendingStreams, this);
    }
  }

  onRequestData(h2s: Http2ServerStream, chunk: Buffer): void {
    const state = h2s.user as Http2StreamState;
    if (state.stream !== null) {
      state.stream.decodeData(chunk);
      return;
    }
    if (state.early === null) state.early = [];
    state.early.push(chunk);
  }

  onRequestEnd(h2s: Http2ServerStream, trailers: string[] | null): void {
    const state = h2s.user as Http2StreamState;
    if (state.stream === null) {
      state.endedEarly = true;
      state.earlyTrailers = trailers;
      return;
    }
    this.endRequest(state.stream, trailers);
  }

  /** Request trailers end the request (HTTP filters see them; the router forwards them upstream). */
  private endRequest(stream: ActiveStream, trailers: string[] | null): void {
    stream.decodeComplete(trailers);
  }

  startPending(): void {
    this.startScheduled = false;
    const pending = this.pendingStarts;
    this.pendingStarts = [];
    for (let i = 0; i < pending.length; i++) {
      const state = pending[i]!;
      // A connection the codec closed in the same read (a protocol error, a flood) starts nothing more.
      if (state.h2.closed || this.closed || this.codec.closed) continue;
      // Each start is a boundary of its own: an exception resets that stream, the others still start.
      try {
        this.startStream(state);
      } catch (err) {
        this.onStreamError(state, err);
      }
    }
  }

  private startStream(state: Http2StreamState): void {
    const h2s = state.h2;
    const fields = state.fields!;
    state.fields = null;
    const endStream = state.headEndStream;
    const head: RequestHead | null = requestHeadFromHttp2(fields, endStream);
    if (head === null) {
      // The codec validated the head; what is left (a malformed content-length...) cannot be proxied.
      this.count('rx_messaging_error');
      this.codec.reset(h2s, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    const stream = new ActiveStream(this, this.listener.hcm, head, 'HTTP/2', endStream, state);
    state.stream = stream;
    const maxRequests = this.hcm.config.maxRequestsPerConnection;
    if (maxRequests > 0 && ++this.requestCount >= maxRequests && !this.draining) {
      // The last stream this connection may carry: GOAWAY now, this stream still finishes.
      this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_max_requests_reached]++;
      this.drain();
    }
    stream.decodeHeaders();
    if (endStream || h2s.closed) return;
    const early = state.early;
    state.early = null;
    if (early !== null) {
      for (let i = 0; i < early.length && !stream.finished; i++) stream.decodeData(early[i]!);
    }
    if (state.endedEarly && !stream.finished) this.endRequest(stream, state.earlyTrailers);
    state.earlyTrailers = null;
  }

  onStreamClose(h2s: Http2ServerStream): void {
    const state = h2s.user as Http2StreamState | null;
    // null: answered by the codec itself (431), never a request.
    if (state !== null) this.onRequestStreamClose(h2s, state);
    this.afterStreamClose();
  }

  /** No stream left: a draining connection closes, another one starts its idle timer. */
  private afterStreamClose(): void {
    if (this.codec.activeStreams === 0 && !this.closed) {
      if (this.draining) this.codec.close();
      else this.armIdleTimer();
    }
  }

  private onRequestStreamClose(h2s: Http2ServerStream, state: Http2StreamState): void {
    state.lingerTimer = cancelTimer(state.lingerTimer);
    this.closedStreams++;
    this.rootValues()[this.rootSlots['http2.streams_active']!]--;
    const stream = state.stream;
    // A clean close (both sides ended, or our RST_STREAM NO_ERROR after a complete response) happens inside the
    // stream's own encodeEnd, before it finishes: only a reset ends the ActiveStream from here.
    const byClient = h2s.resetByPeer;
    const reset = byClient || h2s.resetCode > ErrorCode.NO_ERROR;
    if (byClient) this.count('rx_reset');
    if (reset && stream !== null && !stream.finished) stream.onDownstreamReset();
    if (byClient && (stream === null || stream.info.responseCode === 0) && performance.now() - state.openedMonoMs <= PREMATURE_RESET_MAX_LIFETIME_MS) {
      this.prematureResets++;
      this.checkPrematureResets();
    }
  }

  onStreamWritable(h2s: Http2ServerStream): void {
    const stream = (h2s.user as Http2StreamState).stream;
    if (stream !== null) stream.resumeUpstream();
  }

  onPeerGoaway(_code: number): void {
    // The client will open no more streams: those in flight finish, then the connection closes.
    this.drain();
  }

  onConnectionError(code: number, stat: string, detail: string): void {
    this.count('goaway_sent');
    if (stat !== '') this.count(stat);
    else this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_protocol_error]++;
    log.debug(`http2 connection ${this.id}: closing with GOAWAY(${code}): ${detail}`);
  }

  count(stat: string): void {
    this.rootValues()[this.rootSlots[`http2.${stat}`]!]++;
  }

  // ---- exception guards ----

  /**
   * The codec caught an exception from one of this stream's callbacks (a bug): counted, its stack logged once, and
   * the ActiveStream (with its upstream request) reset without trusting its state; the codec then resets the HTTP/2
   * stream. Never throws.
   */
  onStreamInternalError(h2s: Http2ServerStream, err: unknown): void {
    try {
      const state = h2s.user as Http2StreamState | null;
      const stream = state === null ? null : state.stream;
      if (stream !== null) stream.onInternalError(err);
      else {
        reportInternalError(`HTTP/2 stream ${h2s.id} of connection ${this.id}`, err);
        this.hcm.stats.values[this.hcm.config.slots!.internal_error]++;
      }
      // Thrown from onStreamClose: what it did not get to.
      if (h2s.closed) this.afterStreamClose();
    } catch (err2) {
      reportInternalError(`HTTP/2 connection ${this.id}`, err2);
    }
  }

  /**
   * The codec caught an exception outside any one stream (frame handling, HPACK, a flush, a callback about the
   * connection) and ended the connection (GOAWAY INTERNAL_ERROR, destroyed): counted, its stack logged once, and the
   * streams in flight reset with their upstream requests. Never throws.
   */
  onInternalError(err: unknown): void {
    reportInternalError(`HTTP/2 connection ${this.id}`, err);
    try {
      this.hcm.stats.values[this.hcm.config.slots!.internal_error]++;
      const open = this.codec.streams.values();
      for (let i = 0; i < open.length; i++) {
        const state = open[i]!.user as Http2StreamState | null;
        if (state !== null && state.stream !== null) state.stream.resetAfterInternalError();
      }
    } catch (err2) {
      reportInternalError(`HTTP/2 connection ${this.id}`, err2);
    }
  }

  /** @internal An exception in one of this connection's own timers: it ends as the codec would end it. Never throws. */
  failOnInternalError(err: unknown): void {
    this.codec.fail();
    this.onInternalError(err);
  }

  /** @internal An exception while starting or holding one stream (its deferred start, its linger timer). Never throws. */
  onStreamError(state: Http2StreamState, err: unknown): void {
    const h2s = state.h2;
    this.onStreamInternalError(h2s, err);
    try {
      if (!h2s.closed) this.codec.reset(h2s, ErrorCode.INTERNAL_ERROR);
    } catch (err2) {
      this.failOnInternalError(err2);
    }
  }

  /** Envoy: once 500 streams closed on a connection, close it if at least half were reset prematurely. */
  private checkPrematureResets(): void {
    if (this.closed || this.closedStreams < PREMATURE_RESET_MIN_STREAMS) return;
    if (this.prematureResets * 2 < this.closedStreams) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_too_many_premature_resets]++;
    log.debug(`http2 connection ${this.id}: ${this.prematureResets} of ${this.closedStreams} streams reset prematurely; closing`);
    this.count('goaway_sent');
    this.codec.abort(ErrorCode.ENHANCE_YOUR_CALM, 'too many premature resets');
  }

  // ---- response encoding (StreamConnection) ----

  encodeHeaders(stream: ActiveStream, status: number, _reason: string, headers: HeaderList, framing: number): void {
    const h2s = (stream.transport as Http2StreamState).h2;
    this.codec.respond(h2s, responseHeadersForHttp2(status, headers), framing === BodyFraming.NONE || stream.suppressResponseBody);
  }

  encode1xxHeaders(stream: ActiveStream, status: number, _reason: string, headers: HeaderList): void {
    // A HEADERS frame without END_STREAM; the final head follows on the same stream.
    this.codec.respond((stream.transport as Http2StreamState).h2, responseHeadersForHttp2(status, headers), false);
  }

  encodeData(stream: ActiveStream, chunk: Buffer): boolean {
    return this.codec.writeData((stream.transport as Http2StreamState).h2, chunk);
  }

  encodeEnd(stream: ActiveStream, trailers: HeaderList | null): void {
    this.codec.end((stream.transport as Http2StreamState).h2, trailers === null || trailers.length === 0 ? null : trailerFieldsForHttp2(trailers));
  }

  flush(_stream: ActiveStream): boolean {
    // The codec writes once per read and once per event-loop turn; writeData already said whether it is full.
    return true;
  }

  onStreamDone(stream: ActiveStream, clean: boolean): void {
    const state = stream.transport as Http2StreamState;
    const h2s = state.h2;
    if (h2s.closed) return;
    if (!clean) {
      this.codec.reset(h2s, ErrorCode.INTERNAL_ERROR);
      return;
    }
    // The response is complete but still queued behind the client's flow-control window: held at most
    // stream_idle_timeout, as Envoy's idle timer covers a stream blocked on flow control.
    const ms = stream.hcm.config.streamIdleTimeoutMs;
    if (ms > 0) state.lingerTimer = setTimeout(onLingerTimeout, ms, this, state);
  }

  /** A finished stream the client did not let close within stream_idle_timeout. */
  onLingerTimeout(state: Http2StreamState): void {
    state.lingerTimer = null;
    if (state.h2.closed) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_idle_timeout]++;
    this.codec.reset(state.h2, ErrorCode.CANCEL);
  }

  pauseReading(stream: ActiveStream): void {
    this.codec.pause((stream.transport as Http2StreamState).h2);
  }

  resumeReading(stream: ActiveStream): void {
    this.codec.resume((stream.transport as Http2StreamState).h2);
  }

  // ---- overload ----

  /**
   * reset_high_memory_stream (once per overload refresh while the action is active, never per request): offers each
   * started stream with what the codec holds for it (response data waiting on flow control, request data held while
   * paused) and what its upstream request holds. The socket's buffer, shared by every stream, is charged to none.
   */
  offerHighMemoryStreams(sweep: HighMemorySweep<ActiveStream>): void {
    if (this.closed) return;
    const open = this.codec.streams.values();
    for (let i = 0; i < open.length; i++) {
      const h2s = open[i]!;
      const state = h2s.user as Http2StreamState | null;
      const stream = state === null ? null : state.stream;
      if (stream === null || stream.finished) continue;
      let bytes = this.codec.streamBufferedBytes(h2s);
      bytes += stream.heldBytes();
      sweep.offer(this, stream, bytes);
    }
  }

  /** The stream offered above was chosen: RST_STREAM for it alone (through onStreamDone); the connection stays. */
  resetStreamForOverload(stream: ActiveStream): void {
    try {
      stream.resetByOverloadManager();
    } catch (err) {
      this.onStreamError(stream.transport as Http2StreamState, err);
    }
  }

  // ---- connection ----

  /** Drain: GOAWAY now; streams in flight finish, then the connection closes. */
  drain(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.count('goaway_sent');
    this.codec.goaway();
    if (this.codec.activeStreams === 0) this.codec.close();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (connectionLog.debug) logClose(this.id, this.socket.readableEnded || this.socket.errored !== null);
    try {
      this.clearIdleTimer();
      this.durationTimer = cancelTimer(this.durationTimer);
      if (this.keepalive !== null) this.keepalive.stop();
      const values = this.hcm.stats.values;
      const slots = this.hcm.config.slots!;
      values[slots.downstream_cx_active]--;
      values[slots.downstream_cx_http2_active]--;
      values[slots.downstream_cx_destroy]++;
      // The client closed first (its FIN was read, or the socket failed on it): remote; else this side closed.
      const socket = this.socket;
      values[socket.readableEnded || socket.errored !== null ? slots.downstream_cx_destroy_remote : slots.downstream_cx_destroy_local]++;
      values[slots.downstream_cx_rx_bytes_total] += this.socket.bytesRead;
      values[slots.downstream_cx_tx_bytes_total] += this.socket.bytesWritten;
      this.hcm.stats.record(slots.downstream_cx_length_ms, performance.now() - this.startMonoMs);
    } catch (err) {
      this.onInternalError(err);
    }
    // Whatever happened above, the listener must let go of this connection, or a drain would wait for it.
    this.listener.onConnectionClosed(this);
  }

  private armIdleTimer(): void {
    const ms = this.hcm.config.idleTimeoutMs;
    if (ms <= 0 || this.closed) return;
    this.idleTimer = armConnectionIdleTimer(this.idleTimer, ms, onConnectionIdle, this);
  }

  private clearIdleTimer(): void {
    this.idleTimer = cancelTimer(this.idleTimer);
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
    if (this.codec.activeStreams > 0 || this.closed) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_idle_timeout]++;
    this.drain();
  }

  private rootValues(): Float64Array {
    return this.hcm.stats.values;
  }
}

// Timer callbacks are boundaries: an exception in a stream's resets that stream, in the connection's ends it.
function startPendingStreams(conn: Http2Connection): void {
  try {
    conn.startPending();
  } catch (err) {
    conn.failOnInternalError(err);
  }
}

function onMaxConnectionDuration(conn: Http2Connection): void {
  try {
    conn.onMaxDuration();
  } catch (err) {
    conn.failOnInternalError(err);
  }
}

function onLingerTimeout(conn: Http2Connection, state: Http2StreamState): void {
  try {
    conn.onLingerTimeout(state);
  } catch (err) {
    conn.onStreamError(state, err);
  }
}

function onConnectionIdle(conn: Http2Connection): void {
  try {
    conn.onIdleTimeout();
  } catch (err) {
    conn.failOnInternalError(err);
  }
}

function ignoreError(): void {}
