// Worker thread. One accepted client connection speaking HTTP/2 (h2c prior knowledge, or ALPN h2 under TLS): the
// framing, HPACK and flow control are node:http2's (nghttp2); this class turns its streams into ActiveStreams, encodes
// their responses, and adds the protections Envoy has and Node's defaults leave open: the concurrent stream cap,
// the premature-reset rule (CVE-2023-44487), outbound frame floods, empty-frame floods, and deferred stream starts
// so a stream reset in the same read never reaches an upstream.

import http2 from 'node:http2';
import type net from 'node:net';
import type { HeaderList } from '../../src/http/stream-info.ts';
import type { RequestHead } from '../../src/http1/types.ts';
import { log } from '../../src/common/logger.ts';
import { ActiveStream } from './active-stream.ts';
import { formatAddress, type HcmConnectionOwner } from '../listener/filter-chain-runtime.ts';
import type { HcmRuntime } from './hcm-runtime.ts';
import { BodyFraming, type StreamConnection } from './stream-connection.ts';
import { requestHeadFromHttp2, responseHeadersForHttp2, trailersForHttp2 } from '../../src/http/http2-headers.ts';
import { nextConnectionId } from './connection-ids.ts';
import { armOrRefresh, cancelTimer } from '../../src/common/timers.ts';
import { Http2KeepaliveTimer } from '../http2/keepalive.ts';

const {
  NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM,
} = http2.constants;

/** Envoy's premature-reset rule: judged once a connection has closed this many streams. */
const PREMATURE_RESET_MIN_STREAMS = 500;
/** A stream reset by the client within this lifetime, before any response, is premature (Envoy's default 1 s). */
const PREMATURE_RESET_MAX_LIFETIME_MS = 1000;

/** The per-stream state the connection keeps beside its ActiveStream (on ActiveStream.transport). */
class Http2StreamState {
  readonly h2: http2.ServerHttp2Stream;
  readonly openedMonoMs: number;
  stream: ActiveStream | null;
  trailers: HeaderList | null;
  /** The response ended with its head (END_STREAM on HEADERS): nothing more is written. */
  ended: boolean;
  /** A 'drain' listener is pending (registered when a write returned false). */
  waitingDrain: boolean;
  /** We reset it (so its close is not counted as a client reset). */
  resetLocally: boolean;
  /** Bounds how long a finished response may wait on the client (flow control, an unfinished request body). */
  lingerTimer: NodeJS.Timeout | null;

  constructor(h2: http2.ServerHttp2Stream) {
    this.h2 = h2;
    this.openedMonoMs = performance.now();
    this.stream = null;
    this.trailers = null;
    this.ended = false;
    this.waitingDrain = false;
    this.resetLocally = false;
    this.lingerTimer = null;
  }
}

/** A stream whose start waits for the end of the read that opened it. */
interface PendingStart {
  readonly state: Http2StreamState;
  readonly rawHeaders: string[];
  readonly endStream: boolean;
}

export class Http2Connection implements StreamConnection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly listener: HcmConnectionOwner;
  /** The connection manager config the connection was accepted with (connection-level settings). */
  readonly hcm: HcmRuntime;
  readonly session: http2.ServerHttp2Session;
  readonly remoteAddress: string;
  readonly remoteIp: string;
  readonly localAddress: string;
  readonly scheme: string;
  readonly multiplexed: boolean;
  draining: boolean;
  closed: boolean;
  private readonly startMonoMs: number;
  private activeStreams: number;
  private closedStreams: number;
  private prematureResets: number;
  private pendingStarts: PendingStart[];
  private startScheduled: boolean;
  private idleTimer: NodeJS.Timeout | null;
  private keepalive: Http2KeepaliveTimer | null;
  /** Streams started (common_http_protocol_options.max_requests_per_connection). */
  private requestCount: number;
  private durationTimer: NodeJS.Timeout | null;
  private readonly rootSlots: Readonly<Record<string, number>>;

  constructor(socket: net.Socket, listener: HcmConnectionOwner) {
    this.id = nextConnectionId();
    this.socket = socket;
    this.listener = listener;
    this.hcm = listener.hcm;
    this.remoteIp = socket.remoteAddress ?? '';
    this.remoteAddress = formatAddress(this.remoteIp, socket.remotePort ?? 0);
    this.localAddress = formatAddress(socket.localAddress ?? '', socket.localPort ?? 0);
    this.scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    this.multiplexed = true;
    this.draining = false;
    this.closed = false;
    this.startMonoMs = performance.now();
    this.activeStreams = 0;
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
    // First, so a session node refuses to open leaves no gauge behind (the listener resets the connection).
    this.session = this.hcm.http2Server().accept(socket);
    const session = this.session;
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_total]++;
    values[slots.downstream_cx_http2_total]++;
    values[slots.downstream_cx_active]++;
    values[slots.downstream_cx_http2_active]++;

    const h2 = this.hcm.config.http2;
    if (h2.initialConnectionWindowSize > 65_535) session.setLocalWindowSize(h2.initialConnectionWindowSize);
    session.on('stream', (stream: http2.ServerHttp2Stream, _headers: unknown, flags: number, rawHeaders: string[]) => {
      this.onStream(stream, flags, rawHeaders);
    });
    session.on('ping', () => this.checkOutboundQueue(this.hcm.config.http2.maxOutboundControlFrames, 'http2.outbound_control_flood'));
    session.on('error', (err: Error) => this.onSessionError(err));
    session.on('close', () => this.onSessionClose());
    socket.on('error', ignoreError);
    socket.on('close', () => this.onSessionClose());
    if (h2.keepalive !== null) {
      this.keepalive = new Http2KeepaliveTimer(session, h2.keepalive, () => {
        this.rootValues()[this.rootSlots['http2.keepalive_timeout']!]++;
        log.debug(`http2 connection ${this.id}: no PING ACK within ${h2.keepalive!.timeoutMs} ms; closing`);
        this.session.destroy();
      });
    }
    const maxDurationMs = this.hcm.config.maxConnectionDurationMs;
    if (maxDurationMs > 0) this.durationTimer = setTimeout(onMaxConnectionDuration, maxDurationMs, this);
    this.armIdleTimer();
  }

  /** max_connection_duration: GOAWAY; the streams in flight finish, then the connection closes. */
  onMaxDuration(): void {
    this.durationTimer = null;
    if (this.closed || this.draining) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_max_duration_reached]++;
    this.drain();
  }

  // ---- streams (client -> proxy) ----

  private onStream(h2s: http2.ServerHttp2Stream, flags: number, rawHeaders: string[]): void {
    const state = new Http2StreamState(h2s);
    h2s.on('error', ignoreError);
    h2s.on('close', () => this.onH2StreamClose(state));
    this.activeStreams++;
    this.rootValues()[this.rootSlots['http2.streams_active']!]++;
    this.clearIdleTimer();
    if (this.draining) {
      // After GOAWAY no new stream is served.
      state.resetLocally = true;
      h2s.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    // Started in the check phase, after this loop's I/O: a stream the client resets at once (rapid reset) is
    // closed by then and never reaches an upstream, even when its RST_STREAM came in the next TCP read (node
    // already emits 'stream' after the whole read; starting right here let ~90 of 2,500 reset streams through
    // when HEADERS and RST_STREAM were split across reads — test/e2e/http2-abuse.test.ts (b)).
    this.pendingStarts.push({ state, rawHeaders, endStream: (flags & 1) !== 0 });
    if (!this.startScheduled) {
      this.startScheduled = true;
      setImmediate(startPendingStreams, this);
    }
  }

  startPending(): void {
    this.startScheduled = false;
    const pending = this.pendingStarts;
    this.pendingStarts = [];
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      const h2s = p.state.h2;
      if (h2s.closed || h2s.destroyed || this.closed) continue;
      this.startStream(p.state, p.rawHeaders, p.endStream);
    }
  }

  private startStream(state: Http2StreamState, rawHeaders: string[], endStream: boolean): void {
    const h2s = state.h2;
    const hcm = this.listener.hcm;
    const head: RequestHead | null = requestHeadFromHttp2(rawHeaders, endStream);
    if (head === null) {
      // A request nghttp2 let through but that cannot be proxied (no :path, ...): a stream error.
      this.rootValues()[this.rootSlots['http2.rx_messaging_error']!]++;
      state.resetLocally = true;
      h2s.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    const stream = new ActiveStream(this, hcm, head, 'HTTP/2', endStream, state);
    state.stream = stream;
    const maxRequests = this.hcm.config.maxRequestsPerConnection;
    if (maxRequests > 0 && ++this.requestCount >= maxRequests && !this.draining) {
      // The last stream this connection may carry: GOAWAY now, this stream still finishes.
      this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_max_requests_reached]++;
      this.drain();
    }
    if (!endStream) {
      h2s.on('data', (chunk: Buffer) => stream.decodeData(chunk));
      h2s.on('end', () => stream.decodeComplete());
    }
    try {
      stream.decodeHeaders();
    } catch (err) {
      log.error(`http2 connection ${this.id}: stream failed: ${(err as Error).stack ?? String(err)}`);
      state.resetLocally = true;
      if (!h2s.closed) h2s.close(NGHTTP2_INTERNAL_ERROR);
    }
  }

  private onH2StreamClose(state: Http2StreamState): void {
    state.lingerTimer = cancelTimer(state.lingerTimer);
    this.activeStreams--;
    this.closedStreams++;
    this.rootValues()[this.rootSlots['http2.streams_active']!]--;
    const h2s = state.h2;
    const stream = state.stream;
    const byClient = !state.resetLocally && h2s.rstCode !== NGHTTP2_NO_ERROR && h2s.rstCode !== undefined;
    if (byClient) this.rootValues()[this.rootSlots['http2.rx_reset']!]++;
    if (stream !== null && !stream.finished) stream.onDownstreamReset();
    if (byClient && (stream === null || stream.info.responseCode === 0) && performance.now() - state.openedMonoMs <= PREMATURE_RESET_MAX_LIFETIME_MS) {
      this.prematureResets++;
      this.checkPrematureResets();
    }
    if (this.activeStreams === 0) {
      if (this.draining) this.closeSession();
      else this.armIdleTimer();
    }
  }

  /** Envoy: once 500 streams closed on a connection, close it if at least half were reset prematurely. */
  private checkPrematureResets(): void {
    if (this.closed || this.closedStreams < PREMATURE_RESET_MIN_STREAMS) return;
    if (this.prematureResets * 2 < this.closedStreams) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_too_many_premature_resets]++;
    log.debug(`http2 connection ${this.id}: ${this.prematureResets} of ${this.closedStreams} streams reset prematurely; closing`);
    this.abort(NGHTTP2_ENHANCE_YOUR_CALM);
  }

  // ---- response encoding (StreamConnection) ----

  encodeHeaders(stream: ActiveStream, status: number, _reason: string, headers: HeaderList, framing: number): void {
    const state = stream.transport as Http2StreamState;
    const h2s = state.h2;
    if (h2s.closed || h2s.destroyed) return;
    const endStream = framing === BodyFraming.NONE || stream.suppressResponseBody;
    state.ended = endStream;
    try {
      h2s.respond(responseHeadersForHttp2(status, headers), { endStream, waitForTrailers: !endStream });
    } catch (err) {
      // A header node:http2 refuses (e.g. a value with a character HTTP/2 forbids): the stream cannot go on.
      log.debug(`http2 connection ${this.id}: response head refused: ${(err as Error).message}`);
      state.resetLocally = true;
      h2s.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (!endStream) h2s.once('wantTrailers', () => sendTrailers(state));
  }

  encodeData(stream: ActiveStream, chunk: Buffer): boolean {
    const state = stream.transport as Http2StreamState;
    const h2s = state.h2;
    if (state.ended || h2s.closed || h2s.destroyed) return true;
    if (h2s.write(chunk)) return true;
    if (!this.checkOutboundQueue(this.hcm.config.http2.maxOutboundFrames, 'http2.outbound_flood')) return true;
    if (!state.waitingDrain) {
      state.waitingDrain = true;
      h2s.once('drain', () => {
        state.waitingDrain = false;
        stream.resumeUpstream();
      });
    }
    return false;
  }

  encodeEnd(stream: ActiveStream, trailers: HeaderList | null): void {
    const state = stream.transport as Http2StreamState;
    if (state.ended) return;
    state.ended = true;
    state.trailers = trailers;
    const h2s = state.h2;
    if (!h2s.closed && !h2s.destroyed) h2s.end();
  }

  flush(_stream: ActiveStream): boolean {
    return true;
  }

  onStreamDone(stream: ActiveStream, clean: boolean): void {
    const state = stream.transport as Http2StreamState;
    const h2s = state.h2;
    if (h2s.closed || h2s.destroyed) return;
    if (!clean) {
      state.resetLocally = true;
      this.rootValues()[this.rootSlots['http2.tx_reset']!]++;
      h2s.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // The response is complete but the client is still sending: the rest of its body is read and dropped. (An
    // RST_STREAM NO_ERROR here, as Envoy sends, would overtake node:http2's queued DATA and trailers and lose them:
    // a gRPC status the server sent before the client finished streaming.)
    if (!stream.requestComplete) h2s.resume();
    // What is left (a response queued behind the client's flow-control window, a request body that never ends) is
    // held at most stream_idle_timeout, as Envoy's idle timer covers a stream blocked on flow control.
    const ms = stream.hcm.config.streamIdleTimeoutMs;
    if (ms > 0) state.lingerTimer = setTimeout(onLingerTimeout, ms, this, state);
  }

  /** A finished stream the client did not let close within stream_idle_timeout. */
  onLingerTimeout(state: Http2StreamState): void {
    state.lingerTimer = null;
    const h2s = state.h2;
    if (h2s.closed || h2s.destroyed) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_idle_timeout]++;
    this.rootValues()[this.rootSlots['http2.tx_reset']!]++;
    state.resetLocally = true;
    h2s.close(http2.constants.NGHTTP2_CANCEL);
  }

  pauseReading(stream: ActiveStream): void {
    (stream.transport as Http2StreamState).h2.pause();
  }

  resumeReading(stream: ActiveStream): void {
    const h2s = (stream.transport as Http2StreamState).h2;
    if (!h2s.destroyed) h2s.resume();
  }

  // ---- connection ----

  /**
   * A flood of frames the client makes us queue without reading them (Envoy's max_outbound_frames /
   * max_outbound_control_frames): close the connection. Returns false when it was closed.
   */
  private checkOutboundQueue(limit: number, statName: string): boolean {
    if (this.closed) return false;
    if (this.session.destroyed || this.session.state.outboundQueueSize! <= limit) return true;
    this.rootValues()[this.rootSlots[statName]!]++;
    log.debug(`http2 connection ${this.id}: ${statName.slice(6)} (more than ${limit} frames queued); closing`);
    this.abort(NGHTTP2_ENHANCE_YOUR_CALM);
    return false;
  }

  private onSessionError(err: Error): void {
    const code = (err as { code?: string }).code;
    const values = this.rootValues();
    // nghttp2's own limits close the session before ours: count them under Envoy's names.
    if (code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES') values[this.rootSlots['http2.inbound_empty_frames_flood']!]++;
    else if (code === 'ERR_HTTP2_ERROR' && /flood/i.test(err.message)) values[this.rootSlots['http2.outbound_control_flood']!]++;
    else if (this.prematureResets > 0 && this.prematureResets * 2 >= this.closedStreams) {
      // A reset flood within single reads fills node:http2's stream table before our 500-stream rule can run;
      // node then refuses streams until maxSessionRejectedStreams and fails the session. Same attack, same count.
      this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_too_many_premature_resets]++;
    } else this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_protocol_error]++;
    log.debug(`http2 connection ${this.id}: session error ${code ?? ''}: ${err.message}`);
  }

  /** Closes the connection at once with GOAWAY(code): the abuse limits. */
  private abort(code: number): void {
    if (this.closed) return;
    this.rootValues()[this.rootSlots['http2.goaway_sent']!]++;
    this.session.goaway(code);
    this.closeSession();
    this.session.destroy();
  }

  /** Drain: GOAWAY now; streams in flight finish, then the connection closes. */
  drain(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.rootValues()[this.rootSlots['http2.goaway_sent']!]++;
    this.closeSession();
  }

  private closeSession(): void {
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  private onSessionClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearIdleTimer();
    this.durationTimer = cancelTimer(this.durationTimer);
    if (this.keepalive !== null) this.keepalive.stop();
    if (!this.socket.destroyed) this.socket.destroy();
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_active]--;
    values[slots.downstream_cx_http2_active]--;
    values[slots.downstream_cx_destroy]++;
    values[slots.downstream_cx_rx_bytes_total] += this.socket.bytesRead;
    values[slots.downstream_cx_tx_bytes_total] += this.socket.bytesWritten;
    this.hcm.stats.record(slots.downstream_cx_length_ms, performance.now() - this.startMonoMs);
    this.listener.onConnectionClosed(this);
  }

  private armIdleTimer(): void {
    const ms = this.hcm.config.idleTimeoutMs;
    if (ms <= 0 || this.closed) return;
    this.idleTimer = armOrRefresh(this.idleTimer, ms, onConnectionIdle, this);
  }

  private clearIdleTimer(): void {
    this.idleTimer = cancelTimer(this.idleTimer);
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
    if (this.activeStreams > 0 || this.closed) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_idle_timeout]++;
    this.drain();
  }

  private rootValues(): Float64Array {
    return this.hcm.stats.values;
  }
}

function startPendingStreams(conn: Http2Connection): void {
  conn.startPending();
}

function onMaxConnectionDuration(conn: Http2Connection): void {
  conn.onMaxDuration();
}

function onLingerTimeout(conn: Http2Connection, state: Http2StreamState): void {
  conn.onLingerTimeout(state);
}

function onConnectionIdle(conn: Http2Connection): void {
  conn.onIdleTimeout();
}

function sendTrailers(state: Http2StreamState): void {
  const h2s = state.h2;
  if (h2s.closed || h2s.destroyed) return;
  try {
    // No trailers: node:http2 ends the stream with an empty DATA frame carrying END_STREAM.
    h2s.sendTrailers(trailersForHttp2(state.trailers));
  } catch {
    // A trailer node:http2 refuses: the stream cannot end cleanly.
    state.resetLocally = true;
    h2s.close(NGHTTP2_INTERNAL_ERROR);
  }
}

function ignoreError(): void {}

