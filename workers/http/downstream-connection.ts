// Worker thread. One accepted client connection speaking HTTP/1.1: feeds bytes to the request parser, runs one
// ActiveStream at a time (pipelined requests wait, parsed but unanswered, so responses go out in order), encodes
// each response (framing, coalesced writes), and owns the connection-level timers and stats.

import type net from 'node:net';
import { RequestParser } from '../../src/http1/request-parser.ts';
import type { Http1ParseError, Http1RequestCallbacks, RequestHead } from '../../src/http1/types.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import { ActiveStream } from './active-stream.ts';
import { reasonPhrase } from '../../src/http1/reason-phrases.ts';
import { formatAddress, localAddressOf, type HcmConnectionOwner } from '../listener/filter-chain-runtime.ts';
import type { HcmRuntime } from './hcm-runtime.ts';
import { BodyFraming, type StreamConnection } from './stream-connection.ts';
import { serializeResponseHead } from '../../src/http1/serializer.ts';
import { H } from '../../src/http/header-names.ts';
import { nextConnectionId } from '../listener/connection-ids.ts';
import { cancelTimer } from '../../src/common/timers.ts';
import { TurnSpreadQueue } from '../../src/common/turn-spread-queue.ts';
import { armConnectionIdleTimer } from '../../src/overload/overload-shared.ts';
import { log } from '../../src/common/logger.ts';
import { Http2Connection } from './http2-connection.ts';
import { LocalReply, type LocalReplySpec } from './local-reply.ts';
import { reportInternalError } from '../../src/common/internal-error.ts';
import type { HighMemorySweep } from '../../src/overload/high-memory-streams.ts';
import { readIntoSharedBuffer } from '../../src/common/shared-read-buffer.ts';
import { copyOut } from '../../src/http1/input-copy.ts';
import { connectionLog, connHandlerLog, logClose } from './stream-log.ts';

/** RFC 9113 §3.4 client connection preface. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const CHUNK_END = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/**
 * Body chunks up to this size join the pending response text (latin1, so bytes round-trip exactly) instead of
 * being written on their own: one write syscall per upstream read instead of one per head and per chunk. Larger
 * chunks go out with the pending text in one writev (cork), without a copy into a string.
 */
const MERGE_MAX_BYTES = 2048;

interface Latin1Decoder {
  /** Buffer's internal latin1 decoder, cheaper than toString('latin1'). */
  latin1Slice(start: number, end: number): string;
}

export class DownstreamConnection implements Http1RequestCallbacks, StreamConnection {
  readonly id: number;
  readonly socket: net.Socket;
  /** The filter chain this connection was accepted on (its current connection manager, close notification). */
  readonly listener: HcmConnectionOwner;
  /** The connection manager config this connection was accepted with (connection-level settings). */
  readonly hcm: HcmRuntime;
  readonly parser: RequestParser;
  readonly remoteAddress: string;
  readonly remoteIp: string;
  /** "https" on a TLS transport socket, else "http" (x-forwarded-proto, %REQ(:SCHEME)%, redirects). */
  readonly scheme: string;
  readonly localAddress: string;
  stream: ActiveStream | null;
  draining: boolean;
  closed: boolean;
  readonly multiplexed: boolean;
  /**
   * Response bytes (latin1) not yet handed to the socket: the head and small body chunks wait here until the end of
   * the upstream read that produced them (flush), the end of the response, or a large chunk.
   */
  private pendingOut: string;
  private readonly startMonoMs: number;
  private idleTimer: NodeJS.Timeout | null;
  private readonly onDrainBound: () => void;
  private readonly onDataBound: (chunk: Buffer) => void;
  private readonly onEndBound: () => void;
  private readonly onCloseBound: (hadError: boolean) => void;
  /** Reads arrive as views of the worker's shared read buffer (src/common/shared-read-buffer.ts), not 'data'. */
  private readonly sharedReads: boolean;
  /** codec_type AUTO on plain TCP: the first bytes may still turn out to be the HTTP/2 client preface. */
  private sniffing: boolean;
  /** A beginning of the preface, waiting for more bytes. */
  private sniffed: Buffer | null;
  /** The connection turned out to be HTTP/2 (h2c prior knowledge): it serves it from now on. */
  private http2: Http2Connection | null;
  /** Requests begun on this connection (common_http_protocol_options.max_requests_per_connection). */
  private requestCount: number;
  /** common_http_protocol_options.max_connection_duration. */
  private durationTimer: NodeJS.Timeout | null;
  /** request_headers_timeout: armed by the first bytes of a head, cleared when the head is complete. */
  private headersTimer: NodeJS.Timeout | null;
  /**
   * This side is closed (FIN sent after the last response) and the connection lingers: what the client still sends
   * (the rest of a body nobody will read) is read and dropped until it closes too or delayed_close_timeout passes.
   */
  private lingering: boolean;
  /** A response head said connection: close (the client knows this connection ends after it). */
  private announcedClose: boolean;
  /** A response delimited by the end of the connection (HTTP/1.0 without a length): only our FIN ends it. */
  private closeDelimited: boolean;
  /** The client closed first (its FIN before ours, or a reset): downstream_cx_destroy_remote, else _local. */
  private remoteClosed: boolean;
  private lingerTimer: NodeJS.Timeout | null;
  /** socket.writableLength when the linger timer was armed: less at its end is progress, worth another period. */
  private lingerWritable: number;

  /** `sniffHttp2`: AUTO without TLS — check the first bytes for the HTTP/2 preface and hand over if so. */
  constructor(socket: net.Socket, listener: HcmConnectionOwner, sniffHttp2 = false) {
    this.id = nextConnectionId();
    this.socket = socket;
    this.listener = listener;
    this.hcm = listener.hcm;
    this.parser = new RequestParser(this.hcm.limits, this);
    this.remoteIp = socket.remoteAddress ?? '';
    this.scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    this.remoteAddress = formatAddress(this.remoteIp, socket.remotePort ?? 0);
    this.localAddress = localAddressOf(socket);
    this.stream = null;
    this.draining = false;
    this.closed = false;
    this.multiplexed = false;
    this.pendingOut = '';
    this.startMonoMs = performance.now();
    this.idleTimer = null;
    this.onDrainBound = this.onSocketDrain.bind(this);
    this.onDataBound = this.onSocketData.bind(this);
    this.onEndBound = this.onSocketEnd.bind(this);
    this.onCloseBound = this.onSocketClose.bind(this);
    this.sniffing = sniffHttp2;
    this.sniffed = null;
    this.http2 = null;
    this.requestCount = 0;
    this.headersTimer = null;
    this.lingering = false;
    this.announcedClose = false;
    this.closeDelimited = false;
    this.remoteClosed = false;
    this.lingerTimer = null;
    this.lingerWritable = 0;
    const maxDurationMs = this.hcm.config.maxConnectionDurationMs;
    this.durationTimer = maxDurationMs > 0 ? setTimeout(onMaxConnectionDuration, maxDurationMs, this) : null;

    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_total]++;
    values[slots.downstream_cx_http1_total]++;
    values[slots.downstream_cx_active]++;
    values[slots.downstream_cx_http1_active]++;
    if (connHandlerLog.debug) connHandlerLog.log('debug', `[C${this.id}] new connection from ${this.remoteAddress}`);

    socket.setNoDelay(true);
    // A client may half-close right after its request (FIN): the response still goes out, then we close
    // (onSocketEnd). Without this Node would end our side at once and the response would be lost.
    socket.allowHalfOpen = true;
    // Plain TCP reads go into the worker's shared read buffer (no allocation per read); the parser copies what it
    // must keep. TLS, or a socket a listener filter already read from, stays on 'data'.
    this.sharedReads = readIntoSharedBuffer(socket, this.onDataBound);
    if (this.sharedReads) this.parser.setTransientInput(true);
    else socket.on('data', this.onDataBound);
    socket.on('end', this.onEndBound);
    socket.on('close', this.onCloseBound);
    socket.on('error', ignoreError); // 'close' follows; resets by the client are counted there.
    socket.on('drain', this.onDrainBound);
    this.armIdleTimer();
  }

  // Socket listeners and timer callbacks are this connection's boundaries: an exception in anything they run (the
  // parser, the stream, the router, the upstream request started from here) resets this connection only
  // (onInternalError).

  private onSocketData(chunk: Buffer): void {
    if (this.http2 !== null) {
      // Shared-buffer reads keep coming here after the hand-over: the HTTP/2 connection listens to 'data'.
      this.socket.emit('data', copyOut(chunk));
      return;
    }
    try {
      this.onData(chunk);
    } catch (err) {
      this.onInternalError(err);
    }
  }

  private onData(chunk: Buffer): void {
    // Closing: the rest of a request nobody will answer is dropped (closeGracefully).
    if (this.lingering) return;
    if (this.stream === null && this.headersTimer === null && !this.parser.isPaused()) {
      // These bytes begin a request head (between requests nothing else arrives): it must be complete in time.
      const ms = this.hcm.config.requestHeadersTimeoutMs;
      if (ms > 0) this.headersTimer = setTimeout(onRequestHeadersTimeout, ms, this);
    }
    if (this.sniffing) {
      const bytes = this.sniffed === null ? chunk : Buffer.concat([this.sniffed, chunk]);
      const n = bytes.length < PREFACE.length ? bytes.length : PREFACE.length;
      if (bytes.compare(PREFACE, 0, n, 0, n) === 0) {
        const kept = bytes === chunk && this.sharedReads ? copyOut(bytes) : bytes;
        if (n < PREFACE.length) this.sniffed = kept;
        else this.handOverToHttp2(kept);
        return;
      }
      this.sniffing = false;
      this.sniffed = null;
      chunk = bytes;
    }
    // Bytes behind a request still being answered (pipelining) wait in the parser; stop reading more until
    // that response is out, so a client that never reads cannot make us buffer without bound.
    if (this.parser.isPaused()) this.socket.pause();
    this.parser.execute(chunk);
  }

  /**
   * request_headers_timeout fired: 408 and close, nothing reached an upstream (Envoy's slow-header defence). Run
   * from headerTimeoutCuts, a turn or more after `timer` fired: nothing to do if the head completed meanwhile.
   */
  onHeadersTimeout(timer: NodeJS.Timeout): void {
    if (this.headersTimer !== timer) return;
    this.headersTimer = null;
    if (this.closed || this.stream !== null) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_rq_header_timeout]++;
    this.rejectBeforeHead(LocalReply.requestHeadersTimeout);
    this.closed = true;
  }

  /**
   * Answers a request whose head never became whole (a codec error, request_headers_timeout) through a stream of
   * its own (ActiveStream.rejectBeforeHead: counted, local_reply_config, access log), then closes.
   */
  private rejectBeforeHead(spec: LocalReplySpec): void {
    const head: RequestHead = {
      method: '', target: '', versionMinor: 1, headers: [], contentLength: -1, chunked: false, keepAlive: false, upgrade: false,
    };
    const stream = new ActiveStream(this, this.listener.hcm, head, 'HTTP/1.1', true, null);
    this.stream = stream;
    stream.rejectBeforeHead(spec);
  }

  /**
   * h2c prior knowledge: the connection becomes an Http2Connection (which counts itself; this one's HTTP/1.1
   * counts are taken back). The listener keeps tracking this object, which forwards drain and the close.
   */
  private handOverToHttp2(bytes: Buffer): void {
    const socket = this.socket;
    socket.removeListener('data', this.onDataBound);
    socket.removeListener('end', this.onEndBound);
    socket.removeListener('close', this.onCloseBound);
    socket.removeListener('drain', this.onDrainBound);
    socket.removeListener('error', ignoreError);
    this.clearIdleTimer();
    this.durationTimer = cancelTimer(this.durationTimer);
    this.headersTimer = cancelTimer(this.headersTimer);
    this.sniffing = false;
    this.sniffed = null;
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_total]--;
    values[slots.downstream_cx_http1_total]--;
    values[slots.downstream_cx_active]--;
    values[slots.downstream_cx_http1_active]--;
    socket.pause();
    const listener = this.listener;
    const self = this;
    const owner: HcmConnectionOwner = {
      get hcm() {
        return listener.hcm;
      },
      onConnectionClosed() {
        self.closed = true;
        listener.onConnectionClosed(self);
      },
    };
    try {
      this.http2 = new Http2Connection(socket, owner, bytes);
    } catch (err) {
      // A bug at a connection boundary: reset this connection only.
      log.error(`connection ${this.id}: starting HTTP/2 failed: ${(err as Error).stack ?? String(err)}`);
      socket.destroy();
      owner.onConnectionClosed(this);
    }
  }

  // ---- parser callbacks ----

  onRequestHead(head: RequestHead): void {
    this.headersTimer = cancelTimer(this.headersTimer);
    // The idle timer keeps running (refreshed when the stream ends, not re-created per request): a fire while a
    // stream is active is ignored, and the next continueReading() arms it again.
    // New requests use the listener's current config; this one keeps it until it ends.
    const endStream = head.contentLength <= 0 && !head.chunked && !head.upgrade;
    const stream = new ActiveStream(this, this.listener.hcm, head, head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0', endStream, null);
    this.stream = stream;
    const maxRequests = this.hcm.config.maxRequestsPerConnection;
    if (maxRequests > 0 && ++this.requestCount >= maxRequests) {
      // The last request this connection may carry: its response says connection: close.
      this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_max_requests_reached]++;
      stream.closeAfterResponse = true;
    }
    stream.decodeHeaders();
  }

  onRequestBody(chunk: Buffer): void {
    const stream = this.stream;
    if (stream !== null) stream.decodeData(chunk);
  }

  onRequestComplete(trailers: HeaderList | null): void {
    const stream = this.stream;
    if (stream === null) return;
    if (!stream.finished) {
      // Pipelined requests wait until this response is out (HTTP/1.1 answers in order).
      this.parser.pause();
    }
    stream.decodeComplete(trailers);
  }

  onRequestError(err: Http1ParseError): void {
    const stream = this.stream;
    if (stream !== null && !stream.finished && err.code === 'incomplete_message') {
      // The client closed its side inside the body (Content-Length not reached, no last chunk): it gave up on the
      // request. As a client reset: the upstream request is reset (a RST, so no upstream takes the truncated body
      // for a whole one), the stream too, and the connection closes.
      stream.onDownstreamReset();
      this.socket.destroy();
      return;
    }
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_protocol_error]++;
    if (err.status === 413 || err.status === 414 || err.status === 431) values[slots.downstream_rq_too_large]++;
    if (stream !== null && !stream.finished) {
      // A body or trailers that break framing after the head went upstream (a bad chunk size, say). As Envoy: the
      // upstream request is reset (RST), and the client gets the 400 if no response has started, else a reset; the
      // connection then closes (the rest of what it sends is dropped).
      if (stream.upstream !== null) stream.upstream.reset();
      stream.upstreamFailed(codecErrorReply(err));
      return;
    }
    // Nothing of this request reached an upstream: answer it (a stream of its own) and close.
    this.rejectBeforeHead(codecErrorReply(err));
    this.closed = true;
  }

  // ---- response encoding (StreamConnection) ----

  encodeHeaders(stream: ActiveStream, status: number, reason: string, headers: HeaderList, framing: number): void {
    if (!stream.suppressResponseBody && !stream.upgraded) {
      if (framing === BodyFraming.UNKNOWN && status >= 200) {
        if (stream.head.versionMinor === 1) {
          stream.chunkedResponse = true;
          headers.push(H.transferEncoding, 'chunked');
        } else {
          stream.closeAfterResponse = true;
          // HTTP/1.0 without a length: the body ends where the connection does (our FIN delimits it).
          this.closeDelimited = true;
        }
      } else if (framing === BodyFraming.NONE) {
        // An HTTP/2 upstream ended the stream with its head: HTTP/1.1 needs the empty body delimited.
        headers.push(H.contentLength, '0');
      }
    } else if (framing === BodyFraming.UNKNOWN && stream.head.method === 'HEAD' && status !== 204 && status !== 304) {
      // A HEAD response keeps the framing header the GET would have had (a 204 or 304 never has one).
      headers.push(H.transferEncoding, 'chunked');
    }
    if (this.draining) stream.closeAfterResponse = true;
    if (stream.closeAfterResponse && !stream.upgraded) {
      headers.push(H.connection, 'close');
      this.announcedClose = true;
    }
    // The head waits in pendingOut for the body bytes of the same upstream read.
    this.pendingOut = serializeResponseHead(stream.head.versionMinor, status, reason, headers);
  }

  encode1xxHeaders(stream: ActiveStream, status: number, reason: string, headers: HeaderList): void {
    // Out at once (a client waiting for 100 Continue must get it now); nothing of this response is pending yet.
    this.socket.write(serializeResponseHead(stream.head.versionMinor, status, reason, headers), 'latin1');
  }

  encodeData(stream: ActiveStream, chunk: Buffer): boolean {
    return stream.chunkedResponse ? this.writeChunked(chunk) : this.writeBody(chunk);
  }

  encodeEnd(stream: ActiveStream, trailers: HeaderList | null): void {
    if (stream.chunkedResponse) {
      this.pendingOut += trailers === null || trailers.length === 0 ? LAST_CHUNK : serializeTrailers(trailers);
    }
  }

  flush(_stream: ActiveStream): boolean {
    const out = this.pendingOut;
    if (out === '') return true;
    this.pendingOut = '';
    return this.socket.write(out, 'latin1');
  }

  private writeBody(chunk: Buffer): boolean {
    const out = this.pendingOut;
    if (chunk.length <= MERGE_MAX_BYTES) {
      this.pendingOut = out + (chunk as unknown as Latin1Decoder).latin1Slice(0, chunk.length);
      return true;
    }
    const socket = this.socket;
    if (out === '') return socket.write(chunk);
    // Pending head and this chunk in one writev.
    this.pendingOut = '';
    socket.cork();
    socket.write(out, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  private writeChunked(chunk: Buffer): boolean {
    const size = chunk.length.toString(16) + CHUNK_END;
    if (chunk.length <= MERGE_MAX_BYTES) {
      this.pendingOut += size + (chunk as unknown as Latin1Decoder).latin1Slice(0, chunk.length) + CHUNK_END;
      return true;
    }
    const socket = this.socket;
    const out = this.pendingOut;
    this.pendingOut = '';
    socket.cork();
    socket.write(out + size, 'latin1');
    socket.write(chunk);
    const ok = socket.write(CHUNK_END, 'latin1');
    socket.uncork();
    return ok;
  }

  // ---- stream lifecycle ----

  /** Called by the stream when it ends. clean=false resets the connection (the response cannot be completed). */
  onStreamDone(stream: ActiveStream, clean: boolean): void {
    if (this.stream === stream) this.stream = null;
    // Whatever was produced goes out first, even before a reset (as when each piece was written at once).
    if (this.pendingOut !== '') this.flush(stream);
    if (!clean) {
      this.socket.destroy();
      return;
    }
    if (stream.closeAfterResponse || this.draining) {
      // A complete, length-delimited response that said connection: close: the client closes first (Envoy's delayed
      // close); anything else gets our FIN at once.
      this.closeGracefully(undefined, this.announcedClose && !this.closeDelimited && !stream.upgraded);
      return;
    }
    if (this.socket.writableNeedDrain) {
      // Do not read the next request until the client has taken this response.
      return;
    }
    this.continueReading();
  }

  private continueReading(): void {
    // Closing (lingering): nothing more is parsed, whatever the client pipelined.
    if (this.closed || this.lingering) return;
    this.armIdleTimer();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.parser.isPaused()) this.parser.resume();
  }

  private onSocketDrain(): void {
    try {
      this.onDrain();
    } catch (err) {
      this.onInternalError(err);
    }
  }

  private onDrain(): void {
    const stream = this.stream;
    if (stream !== null) {
      stream.resumeUpstream();
    } else if (!this.closed && this.parser.isPaused()) {
      this.continueReading();
    }
  }

  /** The upstream is slower than the client sends: stop reading the client until it catches up. */
  pauseReading(_stream: ActiveStream): void {
    this.socket.pause();
  }

  resumeReading(_stream: ActiveStream): void {
    if (!this.closed) this.socket.resume();
  }

  private onSocketEnd(): void {
    try {
      this.onEnd();
    } catch (err) {
      this.onInternalError(err);
    }
  }

  private onEnd(): void {
    if (this.lingering) {
      // Our FIN went first: both sides are now closed, and the socket with them. Else (the delayed close after a
      // connection: close response) the client closed first, as it should: close now, after what is still queued.
      const socket = this.socket;
      if (!socket.writableEnded) {
        this.remoteClosed = true;
        if (socket.writableLength === 0) socket.destroy();
        else socket.end();
      }
      return;
    }
    // The client half-closed: finish the response in flight, then close.
    this.remoteClosed = true;
    this.parser.finish();
    if (this.socket.destroyed || this.lingering) return;
    if (this.stream === null) this.socket.end();
    else this.draining = true;
  }

  private onSocketClose(hadError: boolean): void {
    if (hadError) this.remoteClosed = true;
    try {
      this.onClose();
    } catch (err) {
      this.onInternalError(err);
      // The listener must still let go of this connection (it is idempotent), or a drain would wait for it.
      try {
        this.listener.onConnectionClosed(this);
      } catch (err2) {
        reportInternalError(`HTTP/1.1 connection ${this.id} close`, err2);
      }
    }
  }

  private onClose(): void {
    this.closed = true;
    if (connectionLog.debug) logClose(this.id, this.remoteClosed);
    this.clearIdleTimer();
    this.headersTimer = cancelTimer(this.headersTimer);
    this.durationTimer = cancelTimer(this.durationTimer);
    this.lingerTimer = cancelTimer(this.lingerTimer);
    const stream = this.stream;
    const activeRq = stream !== null && !stream.finished;
    if (activeRq) stream.onDownstreamReset();
    this.stream = null;
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_active]--;
    values[slots.downstream_cx_http1_active]--;
    values[slots.downstream_cx_destroy]++;
    const remote = this.remoteClosed;
    values[remote ? slots.downstream_cx_destroy_remote : slots.downstream_cx_destroy_local]++;
    if (activeRq) {
      values[slots.downstream_cx_destroy_active_rq]++;
      values[remote ? slots.downstream_cx_destroy_remote_active_rq : slots.downstream_cx_destroy_local_active_rq]++;
    }
    values[slots.downstream_cx_rx_bytes_total] += this.socket.bytesRead;
    values[slots.downstream_cx_tx_bytes_total] += this.socket.bytesWritten;
    this.hcm.stats.record(slots.downstream_cx_length_ms, performance.now() - this.startMonoMs);
    this.listener.onConnectionClosed(this);
  }

  /**
   * reset_high_memory_stream (once per overload refresh while the action is active, never per request): offers the
   * stream in flight with what this connection holds for it — unsent response bytes (socket buffer, pending text),
   * request bytes read or kept unparsed while reading is paused — and what its upstream request holds.
   */
  offerHighMemoryStreams(sweep: HighMemorySweep<ActiveStream>): void {
    if (this.http2 !== null) {
      this.http2.offerHighMemoryStreams(sweep);
      return;
    }
    const stream = this.stream;
    if (stream === null || stream.finished) return;
    const socket = this.socket;
    let bytes = socket.writableLength + socket.readableLength + this.pendingOut.length + this.parser.keptBytes();
    bytes += stream.heldBytes();
    sweep.offer(this, stream, bytes);
  }

  /** The stream offered above was chosen: reset it, which closes this connection (HTTP/1.1 has no stream reset). */
  resetStreamForOverload(stream: ActiveStream): void {
    if (this.stream !== stream) return;
    try {
      stream.resetByOverloadManager();
    } catch (err) {
      this.onInternalError(err);
    }
  }

  /** Drain: close now when idle, else after the response in flight (which carries connection: close). */
  drain(): void {
    if (this.http2 !== null) {
      this.http2.drain();
      return;
    }
    this.draining = true;
    if (this.stream === null) this.closeGracefully();
  }

  /**
   * A listener update drains this connection (Envoy's drain of a modified listener or changed filter chain):
   * HTTP/1.1 says `connection: close` on its next response and closes after it; an idle connection is not closed
   * now, so a client about to reuse it is not raced (the listener closes what is left at the drain time). HTTP/2
   * sends GOAWAY.
   */
  drainOnNextResponse(): void {
    if (this.http2 !== null) {
      this.http2.drain();
      return;
    }
    this.draining = true;
  }

  private armIdleTimer(): void {
    const ms = this.hcm.config.idleTimeoutMs;
    if (ms <= 0) return;
    this.idleTimer = armConnectionIdleTimer(this.idleTimer, ms, onConnectionIdle, this);
  }

  private clearIdleTimer(): void {
    this.idleTimer = cancelTimer(this.idleTimer);
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
    if (this.stream !== null || this.closed) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_idle_timeout]++;
    this.closeGracefully();
  }

  /** max_connection_duration: drain (close now if idle, else after the response in flight). */
  onMaxDuration(): void {
    this.durationTimer = null;
    if (this.closed || this.http2 !== null) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_max_duration_reached]++;
    this.drain();
  }

  /**
   * Closes this side after what is written (a FIN) and lingers, as Envoy's delayed close and nginx's lingering
   * close: what the client still sends (the rest of a body nobody will read, e.g. after an early response or a
   * local reply to an upload) is read and dropped, so the client is neither left blocked writing nor sent a RST
   * that could destroy the response in its receive buffer before it read it. The socket is closed for good when the
   * client closes too, or delayed_close_timeout after the response went out (a period that restarts while the
   * response is still being taken); with delayed_close_timeout 0, once the response is flushed. `awaitClient`
   * (a whole, length-delimited response that said connection: close): as Envoy, no FIN until the client closes
   * or the timeout passes.
   */
  private closeGracefully(data?: string, awaitClient = false): void {
    if (this.lingering) return;
    this.lingering = true;
    // Nothing behind the last response is parsed, not even the rest of the read in progress (a request pipelined
    // behind a refused one would otherwise still be routed and forwarded).
    this.parser.pause();
    const socket = this.socket;
    const ms = this.hcm.config.delayedCloseTimeoutMs;
    if (awaitClient && !this.remoteClosed && ms > 0 && data === undefined) {
      // Envoy's delayed close after a response that told the client to close: no FIN of ours yet. The client
      // closes first (it read the whole response), and then so do we (onEnd): its side ends in TIME_WAIT, not
      // ours, and nothing of our close wakes it. Until then what it sends is dropped; delayed_close_timeout
      // (restarted while the response is still being taken) closes a client that does not.
      if (socket.isPaused()) socket.resume();
      this.lingerWritable = socket.writableLength;
      this.lingerTimer = setTimeout(onDelayedClose, ms, this);
      return;
    }
    if (data === undefined) socket.end();
    else socket.end(data, 'latin1');
    if (socket.destroyed) return;
    // Reading may be paused (backpressure from the upstream, pipelining): drop the rest instead.
    if (socket.isPaused()) socket.resume();
    if (ms > 0) {
      this.lingerWritable = socket.writableLength;
      this.lingerTimer = setTimeout(onDelayedClose, ms, this);
    } else if (socket.writableFinished) {
      socket.destroy();
    } else {
      socket.once('finish', destroyOnFinish);
    }
  }

  /** delayed_close_timeout passed while lingering: close now, unless the response is still going out. */
  onDelayedCloseTimeout(): void {
    this.lingerTimer = null;
    const socket = this.socket;
    if (socket.destroyed) return;
    const left = socket.writableLength;
    if (!socket.writableFinished && left < this.lingerWritable) {
      // The client is still taking the response: another period from here (Envoy restarts it on write progress).
      this.lingerWritable = left;
      this.lingerTimer = setTimeout(onDelayedClose, this.hcm.config.delayedCloseTimeoutMs, this);
      return;
    }
    socket.destroy();
  }

  /**
   * An exception reached one of this connection's boundaries (a bug): counted (internal_error), its stack logged
   * once, the stream in flight reset (its upstream request too), and the connection closed. Never throws.
   */
  onInternalError(err: unknown): void {
    reportInternalError(`HTTP/1.1 connection ${this.id}`, err);
    try {
      this.hcm.stats.values[this.hcm.config.slots!.internal_error]++;
      const stream = this.stream;
      if (stream !== null) stream.resetAfterInternalError();
    } catch (err2) {
      reportInternalError(`HTTP/1.1 connection ${this.id}`, err2);
    }
    this.stream = null;
    this.pendingOut = '';
    this.socket.destroy();
  }
}

/** A LocalReplySpec for a request the HTTP/1.1 codec rejected after its head (status and details from the codec). */
function codecErrorReply(err: Http1ParseError): LocalReplySpec {
  return { status: err.status, body: reasonPhrase(err.status), flag: ResponseFlag.DownstreamProtocolError, details: err.details, grpcStatus: -1 };
}

function destroyOnFinish(this: net.Socket): void {
  this.destroy();
}

// Timer callbacks are boundaries too. A request_headers_timeout does not cut there: thousands armed together (a
// slowloris wave) expire in one timer pass, and cutting them all at once stalls the worker; they are queued (the
// timer is `this`) and cut HEADER_TIMEOUT_CUTS_PER_TURN per event-loop turn, other connections served in between.
function onRequestHeadersTimeout(this: NodeJS.Timeout, conn: DownstreamConnection): void {
  headerTimeoutCuts.push(conn, this);
}

function cutOnHeadersTimeout(conn: DownstreamConnection, timer: NodeJS.Timeout): void {
  try {
    conn.onHeadersTimeout(timer);
  } catch (err) {
    conn.onInternalError(err);
  }
}

const HEADER_TIMEOUT_CUTS_PER_TURN = 8;
const headerTimeoutCuts = new TurnSpreadQueue(cutOnHeadersTimeout, HEADER_TIMEOUT_CUTS_PER_TURN);

function onMaxConnectionDuration(conn: DownstreamConnection): void {
  try {
    conn.onMaxDuration();
  } catch (err) {
    conn.onInternalError(err);
  }
}

function onDelayedClose(conn: DownstreamConnection): void {
  try {
    conn.onDelayedCloseTimeout();
  } catch (err) {
    conn.onInternalError(err);
  }
}

function ignoreError(): void {}

function onConnectionIdle(conn: DownstreamConnection): void {
  try {
    conn.onIdleTimeout();
  } catch (err) {
    conn.onInternalError(err);
  }
}

function serializeTrailers(trailers: HeaderList): string {
  let s = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) s += trailers[i] + ': ' + trailers[i + 1] + '\r\n';
  return s + '\r\n';
}
