// Worker thread. Envoy's Grpc::AsyncClient (its envoy_grpc flavour): unary calls and bidirectional streams to a
// cluster over the worker's AsyncClient (so through the cluster's own HTTP/2 pools), with gRPC's length-prefixed
// framing, the grpc-timeout header, and the status from grpc-status/grpc-message (trailers, or a trailers-only
// response). Messages are bytes: callers encode and decode them (protobufjs). Callbacks run on this worker, never
// inside the call that started the exchange.

import type { HeaderList } from '../../src/http/stream-info.ts';
import { GrpcStatus, grpcStatusForHttp } from '../../src/http/grpc.ts';
import { decodeGrpcMessage, encodeGrpcFrame, GrpcFrameDecoder } from '../../src/grpc/grpc-framing.ts';
import type { AsyncClient, AsyncClientError, AsyncStream, AsyncStreamCallbacks } from './async-client.ts';

/** Bound on one received message (gRPC's default max receive size). */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A call that did not end with grpc-status 0: `status` is the gRPC status code. */
export class GrpcCallError extends Error {
  readonly status: number;
  /** The transport failure behind it, if any (timeout, connect failure, ...). */
  readonly transport: AsyncClientError | null;
  constructor(status: number, message: string, transport: AsyncClientError | null = null) {
    super(message);
    this.name = 'GrpcCallError';
    this.status = status;
    this.transport = transport;
  }
}

/** What a gRPC stream reports: messages, then one onClose (status 0 = OK). Nothing follows onClose. */
export interface GrpcStreamCallbacks {
  /** Initial metadata (response headers), once, before any message. */
  onInitialMetadata?(headers: HeaderList): void;
  onMessage(message: Buffer): void;
  onClose(status: number, message: string): void;
}

export interface GrpcStream {
  sendMessage(message: Buffer | Uint8Array, endStream: boolean): void;
  /** Half-closes: no more messages from this side. */
  closeSend(): void;
  /** Cancels the stream; no callback follows. */
  reset(): void;
}

/** Status of a transport failure, as gRPC clients map them. */
function statusOfTransport(err: AsyncClientError): number {
  switch (err.code) {
    case 'timeout':
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 'response_too_large':
    case 'overflow':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    default:
      return GrpcStatus.UNAVAILABLE;
  }
}

/** The request head of a gRPC call. */
function grpcHeaders(timeoutMs: number, metadata: HeaderList | null): HeaderList {
  const headers: HeaderList = ['content-type', 'application/grpc', 'te', 'trailers'];
  if (timeoutMs > 0) headers.push('grpc-timeout', `${Math.ceil(timeoutMs)}m`);
  if (metadata !== null) for (let i = 0; i < metadata.length; i += 2) headers.push(metadata[i]!, metadata[i + 1]!);
  return headers;
}

/** One gRPC exchange over an AsyncStream: decodes frames and the final status. */
class GrpcExchange implements AsyncStreamCallbacks, GrpcStream {
  private readonly callbacks: GrpcStreamCallbacks;
  private readonly decoder: GrpcFrameDecoder;
  stream: AsyncStream | null;
  private closed: boolean;
  private sendClosed: boolean;
  private httpStatus: number;
  private headers: HeaderList | null;
  private received: number;
  /** The transport failure that ended the exchange, if one did. */
  transportError: AsyncClientError | null;

  constructor(callbacks: GrpcStreamCallbacks) {
    this.callbacks = callbacks;
    this.decoder = new GrpcFrameDecoder(MAX_MESSAGE_BYTES);
    this.stream = null;
    this.closed = false;
    this.sendClosed = false;
    this.httpStatus = 0;
    this.headers = null;
    this.received = 0;
    this.transportError = null;
  }

  // ---- GrpcStream ----

  sendMessage(message: Buffer | Uint8Array, endStream: boolean): void {
    if (this.closed || this.sendClosed) return;
    if (endStream) this.sendClosed = true;
    this.stream!.sendData(encodeGrpcFrame(message), endStream);
  }

  closeSend(): void {
    if (this.closed || this.sendClosed) return;
    this.sendClosed = true;
    this.stream!.sendData(Buffer.alloc(0), true);
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream!.reset();
  }

  // ---- AsyncStreamCallbacks ----

  onHeaders(status: number, headers: HeaderList, endStream: boolean): void {
    this.httpStatus = status;
    this.headers = headers;
    if (endStream) {
      // Trailers-only (or a non-gRPC answer).
      this.finish(headers);
      return;
    }
    if (status !== 200) {
      this.close(grpcStatusForHttp(status), `upstream answered HTTP ${status}`);
      return;
    }
    if (this.callbacks.onInitialMetadata !== undefined) this.callbacks.onInitialMetadata(headers);
  }

  onData(data: Buffer, endStream: boolean): void {
    if (this.closed) return;
    this.received += data.length;
    // A response with no body at all (HTTP/1.1 reports its end this way): its head holds the status.
    if (endStream && this.received === 0 && this.headers !== null) {
      this.finish(this.headers);
      return;
    }
    const messages = this.decoder.push(data);
    if (typeof messages === 'string') {
      this.close(messages === 'too_large' ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INTERNAL, `bad gRPC frame: ${messages}`);
      return;
    }
    for (let i = 0; i < messages.length && !this.closed; i++) this.callbacks.onMessage(messages[i]!);
    // A body without trailers: no grpc-status.
    if (endStream) this.close(GrpcStatus.INTERNAL, 'stream ended without grpc-status');
  }

  onTrailers(trailers: HeaderList): void {
    this.finish(trailers);
  }

  onReset(error: AsyncClientError): void {
    if (this.closed) return;
    this.closed = true;
    this.transportError = error;
    this.callbacks.onClose(statusOfTransport(error), error.message);
  }

  private finish(fields: HeaderList): void {
    if (this.closed) return;
    let status = -1;
    let message: string | undefined;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'grpc-status') status = /^[0-9]{1,2}$/.test(fields[i + 1]!) ? Number(fields[i + 1]) : GrpcStatus.UNKNOWN;
      else if (fields[i] === 'grpc-message') message = fields[i + 1];
    }
    if (status < 0) {
      if (this.httpStatus !== 200) this.close(grpcStatusForHttp(this.httpStatus), `upstream answered HTTP ${this.httpStatus}`);
      else this.close(GrpcStatus.INTERNAL, 'no grpc-status');
      return;
    }
    if (status === GrpcStatus.OK && !this.decoder.finished()) {
      this.close(GrpcStatus.INTERNAL, 'truncated gRPC frame');
      return;
    }
    this.close(status, decodeGrpcMessage(message));
  }

  private close(status: number, message: string): void {
    if (this.closed) return;
    this.closed = true;
    // Abandons the HTTP exchange if it is still running (a no-op once it completed).
    if (this.stream !== null) this.stream.reset();
    this.callbacks.onClose(status, message);
  }
}

/** Collects the one reply of a unary call. */
class UnaryCallbacks implements GrpcStreamCallbacks {
  private readonly resolve: (m: Buffer) => void;
  private readonly reject: (e: GrpcCallError) => void;
  private reply: Buffer | null;
  exchange: GrpcExchange | null;

  constructor(resolve: (m: Buffer) => void, reject: (e: GrpcCallError) => void) {
    this.resolve = resolve;
    this.reject = reject;
    this.reply = null;
    this.exchange = null;
  }
  onMessage(message: Buffer): void {
    if (this.reply === null) this.reply = message;
  }
  onClose(status: number, message: string): void {
    if (status === GrpcStatus.OK) {
      if (this.reply !== null) this.resolve(this.reply);
      else this.reject(new GrpcCallError(GrpcStatus.INTERNAL, 'unary call ended without a reply'));
      return;
    }
    this.reject(new GrpcCallError(status, message, this.exchange === null ? null : this.exchange.transportError));
  }
}

export class GrpcAsyncClient {
  private readonly http: AsyncClient;

  constructor(http: AsyncClient) {
    this.http = http;
  }

  /**
   * A unary call of `serviceMethod` ("package.Service/Method"): resolves with the reply's bytes, rejects with
   * GrpcCallError (status DEADLINE_EXCEEDED after `timeoutMs`, UNAVAILABLE when no connection could be made).
   */
  call(cluster: string, serviceMethod: string, request: Buffer | Uint8Array, timeoutMs: number, metadata: HeaderList | null): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const cb = new UnaryCallbacks(resolve, reject);
      const ex = new GrpcExchange(cb);
      cb.exchange = ex;
      ex.stream = this.http.start(cluster, {
        method: 'POST', path: `/${serviceMethod}`, authority: '', headers: grpcHeaders(timeoutMs, metadata),
        body: encodeGrpcFrame(request), timeoutMs,
      }, true, ex);
    });
  }

  /**
   * A unary call reported through `callbacks` (one onMessage, then onClose) instead of a promise, so the caller can
   * cancel it with the returned stream's reset() (a filter whose stream went away).
   */
  startUnary(cluster: string, serviceMethod: string, request: Buffer | Uint8Array, timeoutMs: number, metadata: HeaderList | null, callbacks: GrpcStreamCallbacks): GrpcStream {
    const ex = new GrpcExchange(callbacks);
    ex.stream = this.http.start(cluster, {
      method: 'POST', path: `/${serviceMethod}`, authority: '', headers: grpcHeaders(timeoutMs, metadata),
      body: encodeGrpcFrame(request), timeoutMs,
    }, true, ex);
    return ex;
  }

  /** A bidirectional stream; `timeoutMs` bounds the whole stream (0 = none). */
  startStream(cluster: string, serviceMethod: string, timeoutMs: number, metadata: HeaderList | null, callbacks: GrpcStreamCallbacks): GrpcStream {
    const ex = new GrpcExchange(callbacks);
    ex.stream = this.http.start(cluster, {
      method: 'POST', path: `/${serviceMethod}`, authority: '', headers: grpcHeaders(timeoutMs, metadata), body: null, timeoutMs,
    }, false, ex);
    return ex;
  }
}
