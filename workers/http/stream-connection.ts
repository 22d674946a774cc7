// Worker thread. What an ActiveStream sees of the downstream connection it belongs to, whatever the protocol:
// the HTTP/1.1 connection (downstream-connection.ts, one stream at a time) and the HTTP/2 connection
// (http2-connection.ts, many streams) both implement it. The stream decides what the response is (Envoy's
// connection manager rules); the connection encodes it in its protocol and owns the socket.

import type { HeaderList } from '../../src/http/stream-info.ts';
import type { ActiveStream } from './active-stream.ts';
import type net from 'node:net';

/** How the response body of a head is framed upstream-side, so each codec can frame it for its client. */
export const BodyFraming = {
  /** No body follows (end of stream with the head). */
  NONE: 0,
  /** content-length is in the headers. */
  LENGTH: 1,
  /** A body of unknown length (HTTP/1.1 chunked, HTTP/2 DATA without content-length, until-close). */
  UNKNOWN: 2,
} as const;

export interface StreamConnection {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remoteIp: string;
  /** The downstream socket (a tls.TLSSocket on TLS): what filters read the peer certificate and SNI from. */
  readonly socket: net.Socket;
  readonly localAddress: string;
  /** "https" on a TLS transport socket, else "http". */
  readonly scheme: string;
  /** The connection is closing: the HTTP/1.1 response in flight carries connection: close. */
  readonly draining: boolean;
  /** True for HTTP/2: no connection-level framing headers (connection, transfer-encoding) and trailers pass. */
  readonly multiplexed: boolean;
  /** Graceful close: HTTP/2 sends GOAWAY and lets streams in flight finish; HTTP/1.1 closes after the response in flight. */
  drain(): void;

  /**
   * Writes the response head. `headers` are final (hop-by-hop removed, proxy headers added); `framing` is a
   * BodyFraming. Called once per stream (never for a stream already reset).
   */
  encodeHeaders(stream: ActiveStream, status: number, reason: string, headers: HeaderList, framing: number): void;
  /**
   * Writes an interim 1xx head (never 101) at once, before the final head: HTTP/1.1 a head of its own (no body),
   * HTTP/2 a HEADERS frame without END_STREAM. `headers` are final (no framing fields). Any number of times.
   */
  encode1xxHeaders(stream: ActiveStream, status: number, reason: string, headers: HeaderList): void;
  /** A body chunk; false when the client's buffer is full (the caller pauses its source until resumeUpstream). */
  encodeData(stream: ActiveStream, chunk: Buffer): boolean;
  /** The end of the response, with trailers (null or empty: none). */
  encodeEnd(stream: ActiveStream, trailers: HeaderList | null): void;
  /** Writes what the stream has pending (HTTP/1.1 coalesces a read's output); false when the client is full. */
  flush(stream: ActiveStream): boolean;
  /** The stream ended: clean=false resets it (HTTP/1.1: the connection; HTTP/2: the stream). */
  onStreamDone(stream: ActiveStream, clean: boolean): void;
  /** Stop / resume reading this stream's request body (backpressure from the upstream). */
  pauseReading(stream: ActiveStream): void;
  resumeReading(stream: ActiveStream): void;
}
