// Worker thread. Starts the HTTP connection for an accepted socket in the protocol codec_type asks for: HTTP1,
// HTTP2, or AUTO — ALPN decides under TLS ("h2" or not), and on plain TCP the first bytes do (the HTTP/2 client
// preface, h2c prior knowledge, or anything else for HTTP/1.1). Until the first bytes arrive a CodecSniffer
// stands in for the connection (the listener tracks it; it forwards drain and the close notification).

import type net from 'node:net';
import { CodecType } from '../../src/snapshot/snapshot-types.ts';
import type { HcmConnectionOwner, ListenerConnection } from '../listener/filter-chain-runtime.ts';
import type { HcmRuntime } from './hcm-runtime.ts';
import { DownstreamConnection } from './downstream-connection.ts';
import { Http2Connection } from './http2-connection.ts';

/** RFC 9113 §3.4 client connection preface. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type HttpConnection = DownstreamConnection | Http2Connection;

/** The connection (or its stand-in) the listener tracks for `socket`, accepted on the chain `owner` serves. */
export function startHttpConnection(socket: net.Socket, owner: HcmConnectionOwner): ListenerConnection {
  const codec = owner.hcm.config.codecType;
  if (codec === CodecType.HTTP1) return new DownstreamConnection(socket, owner);
  if (codec === CodecType.HTTP2) return new Http2Connection(socket, owner);
  if ((socket as { encrypted?: boolean }).encrypted === true) {
    const alpn = (socket as { alpnProtocol?: string | false }).alpnProtocol;
    return alpn === 'h2' ? new Http2Connection(socket, owner) : new DownstreamConnection(socket, owner);
  }
  return new CodecSniffer(socket, owner);
}

/** Reads until the bytes are, or cannot be, the HTTP/2 preface; then starts the connection of that protocol. */
class CodecSniffer implements ListenerConnection, HcmConnectionOwner {
  readonly socket: net.Socket;
  private readonly owner: HcmConnectionOwner;
  private seen: Buffer | null;
  private conn: HttpConnection | null;
  private idleTimer: NodeJS.Timeout | null;
  private draining: boolean;
  private readonly onData: (chunk: Buffer) => void;
  private readonly onClose: () => void;

  constructor(socket: net.Socket, owner: HcmConnectionOwner) {
    this.socket = socket;
    this.owner = owner;
    this.seen = null;
    this.conn = null;
    this.draining = false;
    this.onData = (chunk) => this.sniff(chunk);
    this.onClose = () => this.closedBeforeCodec();
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', ignoreError);
    const ms = owner.hcm.config.idleTimeoutMs;
    this.idleTimer = ms > 0 ? setTimeout(onSnifferIdle, ms, this) : null;
  }

  get hcm(): HcmRuntime {
    return this.owner.hcm;
  }

  private sniff(chunk: Buffer): void {
    const bytes = this.seen === null ? chunk : Buffer.concat([this.seen, chunk]);
    const n = Math.min(bytes.length, PREFACE.length);
    const isPrefix = bytes.compare(PREFACE, 0, n, 0, n) === 0;
    if (isPrefix && n < PREFACE.length) {
      this.seen = bytes; // wait for the rest of the preface
      return;
    }
    const socket = this.socket;
    socket.removeListener('data', this.onData);
    socket.removeListener('close', this.onClose);
    socket.removeListener('error', ignoreError);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    socket.pause();
    socket.unshift(bytes);
    this.conn = isPrefix ? new Http2Connection(socket, this) : new DownstreamConnection(socket, this);
    if (!isPrefix) socket.resume();
    if (this.draining) this.conn.drain();
  }

  onConnectionClosed(_conn: HttpConnection): void {
    this.owner.onConnectionClosed(this as never);
  }

  private closedBeforeCodec(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.owner.onConnectionClosed(this as never);
  }

  onIdle(): void {
    this.idleTimer = null;
    if (this.conn !== null) return;
    this.hcm.stats.values[this.hcm.config.slots!.downstream_cx_idle_timeout]++;
    this.socket.destroy();
  }

  drain(): void {
    this.draining = true;
    if (this.conn !== null) this.conn.drain();
    else this.socket.end();
  }
}

function onSnifferIdle(s: CodecSniffer): void {
  s.onIdle();
}

function ignoreError(): void {}
