// Worker thread. One accepted client connection speaking HTTP/1.1: feeds bytes to the request parser, runs one
// ActiveStream at a time (pipelined requests wait, parsed but unanswered, so responses go out in order), and
// owns the connection-level timers and stats.

import type net from 'node:net';
import { RequestParser } from '../../src/http1/request-parser.ts';
import type { Http1ParseError, Http1RequestCallbacks, RequestHead } from '../../src/http1/types.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import { ActiveStream } from './active-stream.ts';
import { reasonPhrase } from '../../src/http1/reason-phrases.ts';
import type { HcmConnectionOwner } from '../listener/filter-chain-runtime.ts';
import type { HcmRuntime } from './hcm-runtime.ts';

let nextConnectionId = 1;

export class DownstreamConnection implements Http1RequestCallbacks {
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
  private readonly startMonoMs: number;
  private idleTimer: NodeJS.Timeout | null;
  private readonly onDrainBound: () => void;

  constructor(socket: net.Socket, listener: HcmConnectionOwner) {
    this.id = nextConnectionId++;
    this.socket = socket;
    this.listener = listener;
    this.hcm = listener.hcm;
    this.parser = new RequestParser(this.hcm.limits, this);
    this.remoteIp = socket.remoteAddress ?? '';
    this.scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    this.remoteAddress = formatAddress(this.remoteIp, socket.remotePort ?? 0);
    this.localAddress = formatAddress(socket.localAddress ?? '', socket.localPort ?? 0);
    this.stream = null;
    this.draining = false;
    this.closed = false;
    this.startMonoMs = performance.now();
    this.idleTimer = null;
    this.onDrainBound = this.onSocketDrain.bind(this);

    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_total]++;
    values[slots.downstream_cx_http1_total]++;
    values[slots.downstream_cx_active]++;
    values[slots.downstream_cx_http1_active]++;

    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      // Bytes behind a request still being answered (pipelining) wait in the parser; stop reading more until
      // that response is out, so a client that never reads cannot make us buffer without bound.
      if (this.parser.isPaused()) this.socket.pause();
      this.parser.execute(chunk);
    });
    socket.on('end', () => this.onSocketEnd());
    socket.on('close', () => this.onSocketClose());
    socket.on('error', () => {
      // 'close' follows; resets by the client are counted there.
    });
    socket.on('drain', this.onDrainBound);
    this.armIdleTimer();
  }

  // ---- parser callbacks ----

  onRequestHead(head: RequestHead): void {
    // The idle timer keeps running (refreshed when the stream ends, not re-created per request): a fire while a
    // stream is active is ignored, and the next continueReading() arms it again.
    // New requests use the listener's current config; this one keeps it until it ends.
    const stream = new ActiveStream(this, this.listener.hcm, head);
    this.stream = stream;
    stream.decodeHeaders();
  }

  onRequestBody(chunk: Buffer): void {
    const stream = this.stream;
    if (stream !== null) stream.decodeData(chunk);
  }

  onRequestComplete(_trailers: HeaderList | null): void {
    const stream = this.stream;
    if (stream === null) return;
    if (!stream.finished) {
      // Pipelined requests wait until this response is out (HTTP/1.1 answers in order).
      this.parser.pause();
    }
    stream.decodeComplete();
  }

  onRequestError(err: Http1ParseError): void {
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_protocol_error]++;
    if (err.status === 413 || err.status === 431) values[slots.downstream_rq_too_large]++;
    const stream = this.stream;
    if (stream !== null && !stream.finished) {
      // A body that breaks framing mid-request: the request cannot be completed; reset both sides.
      stream.info.responseFlags |= ResponseFlag.DownstreamProtocolError;
      stream.onDownstreamReset();
      this.socket.destroy();
      return;
    }
    // Nothing of this request reached an upstream: answer it and close.
    const reason = reasonPhrase(err.status);
    const body = reason;
    this.socket.end(
      `HTTP/1.1 ${err.status} ${reason}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`,
      'latin1',
    );
    this.closed = true;
  }

  // ---- stream lifecycle ----

  /** Called by the stream when it ends. clean=false resets the connection (the response cannot be completed). */
  onStreamDone(stream: ActiveStream, clean: boolean): void {
    if (this.stream === stream) this.stream = null;
    if (!clean) {
      this.socket.destroy();
      return;
    }
    if (stream.closeAfterResponse || this.draining) {
      this.socket.end();
      return;
    }
    if (this.socket.writableNeedDrain) {
      // Do not read the next request until the client has taken this response.
      return;
    }
    this.continueReading();
  }

  private continueReading(): void {
    if (this.closed) return;
    this.armIdleTimer();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.parser.isPaused()) this.parser.resume();
  }

  private onSocketDrain(): void {
    const stream = this.stream;
    if (stream !== null) {
      if (stream.upstream !== null) stream.upstream.resumeReading();
    } else if (!this.closed && this.parser.isPaused()) {
      this.continueReading();
    }
  }

  /** The upstream is slower than the client sends: stop reading the client until it catches up. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.closed) this.socket.resume();
  }

  private onSocketEnd(): void {
    // The client half-closed: finish the response in flight, then close.
    this.parser.finish();
    if (this.stream === null) this.socket.end();
    else this.draining = true;
  }

  private onSocketClose(): void {
    this.closed = true;
    this.clearIdleTimer();
    const stream = this.stream;
    if (stream !== null && !stream.finished) stream.onDownstreamReset();
    this.stream = null;
    const values = this.hcm.stats.values;
    const slots = this.hcm.config.slots!;
    values[slots.downstream_cx_active]--;
    values[slots.downstream_cx_http1_active]--;
    values[slots.downstream_cx_destroy]++;
    values[slots.downstream_cx_rx_bytes_total] += this.socket.bytesRead;
    values[slots.downstream_cx_tx_bytes_total] += this.socket.bytesWritten;
    this.hcm.stats.record(slots.downstream_cx_length_ms, performance.now() - this.startMonoMs);
    this.listener.onConnectionClosed(this);
  }

  /** Drain: close now when idle, else after the response in flight (which carries connection: close). */
  drain(): void {
    this.draining = true;
    if (this.stream === null) this.socket.end();
  }

  private armIdleTimer(): void {
    const ms = this.hcm.config.idleTimeoutMs;
    if (ms <= 0) return;
    if (this.idleTimer === null) this.idleTimer = setTimeout(onConnectionIdle, ms, this);
    else this.idleTimer.refresh();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
    if (this.stream !== null || this.closed) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_idle_timeout]++;
    this.socket.end();
  }
}

function onConnectionIdle(conn: DownstreamConnection): void {
  conn.onIdleTimeout();
}

function formatAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
