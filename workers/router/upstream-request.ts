// Worker thread. The router's request to one upstream host over HTTP/1.1: picks a host, takes a pooled
// connection, writes the request head and streams the body, parses the response strictly and hands it to the
// ActiveStream, with backpressure both ways and Envoy's route timeout.

import { ResponseParser } from '../../src/http1/response-parser.ts';
import type { Http1ParseError, Http1ResponseCallbacks, ResponseHead } from '../../src/http1/types.ts';
import { serializeRequestHead } from '../../src/http1/serializer.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import { H } from '../../src/http/header-names.ts';
import { setHeader } from '../../src/http/header-list.ts';
import type { Route } from '../../src/router/route-table.ts';
import type { ClusterSlots } from '../../src/snapshot/snapshot-types.ts';
import type { WorkerCluster } from '../upstream/worker-cluster.ts';
import type { HostCounters, UpstreamHost } from '../upstream/upstream-host.ts';
import type { PoolFailureReason, PoolHandle, PoolRequester, UpstreamConnection, UpstreamConnectionHandler } from '../upstream/connection-pool.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import { LocalReply } from '../http/local-reply.ts';

const CHUNK_END = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** Per upstream connection: its response parser, dispatching to whichever request uses the connection now. */
export class UpstreamCodec implements Http1ResponseCallbacks {
  readonly parser: ResponseParser;
  current: UpstreamRequest | null;

  constructor(maxHeadersCount: number) {
    this.current = null;
    this.parser = new ResponseParser({ maxHeadBytes: 60 * 1024, maxHeadersCount }, this);
  }
  onResponseHead(head: ResponseHead): void {
    if (this.current !== null) this.current.onResponseHead(head);
  }
  onResponseBody(chunk: Buffer): void {
    if (this.current !== null) this.current.onResponseBody(chunk);
  }
  onResponseComplete(trailers: HeaderList | null): void {
    if (this.current !== null) this.current.onResponseComplete(trailers);
  }
  onResponseError(err: Http1ParseError): void {
    if (this.current !== null) this.current.onResponseError(err);
  }
}

export class UpstreamRequest implements PoolRequester, UpstreamConnectionHandler {
  readonly stream: ActiveStream;
  readonly cluster: WorkerCluster;
  readonly route: Route;
  readonly path: string;
  readonly slots: ClusterSlots;
  conn: UpstreamConnection | null;
  codec: UpstreamCodec | null;
  poolHandle: PoolHandle | null;
  /** The host picked (null until then). */
  activeHost: UpstreamHost | null;
  /** The host's counters until the outcome of the exchange is counted on them. */
  private hostCounters: HostCounters | null;
  startMonoMs: number;
  /** Body bytes that arrived before the connection was ready. */
  private pending: Buffer[] | null;
  private pendingBytes: number;
  private bodyChunked: boolean;
  private requestEnded: boolean;
  private responseHead: ResponseHead | null;
  private done: boolean;
  private timer: NodeJS.Timeout | null;
  private active: boolean;

  constructor(stream: ActiveStream, cluster: WorkerCluster, route: Route, path: string) {
    this.stream = stream;
    this.cluster = cluster;
    this.route = route;
    this.path = path;
    this.slots = cluster.slots;
    this.conn = null;
    this.codec = null;
    this.poolHandle = null;
    this.activeHost = null;
    this.hostCounters = null;
    this.startMonoMs = performance.now();
    this.pending = null;
    this.pendingBytes = 0;
    this.bodyChunked = false;
    this.requestEnded = false;
    this.responseHead = null;
    this.done = false;
    this.timer = null;
    this.active = false;
  }

  start(): void {
    const host = this.cluster.chooseHost();
    const values = this.stream.hcm.stats.values;
    if (host === null) {
      values[this.slots.upstream_cx_none_healthy]++;
      this.done = true;
      this.stream.localReply(LocalReply.noHealthyUpstream);
      return;
    }
    const info = this.stream.info;
    info.upstreamHost = host.addressString;
    values[this.slots.upstream_rq_total]++;
    values[this.slots.upstream_rq_active]++;
    values[this.slots.upstream_rq_pending_total]++;
    host.counters.rqTotal++;
    host.counters.rqActive++;
    this.activeHost = host;
    this.hostCounters = host.counters;
    this.active = true;
    if (this.route.timeoutMs > 0 && this.stream.requestComplete) this.armTimeout();
    this.poolHandle = host.pool.acquire(this);
  }

  // ---- pool ----

  onPoolReady(conn: UpstreamConnection): void {
    this.poolHandle = null;
    if (this.done) {
      conn.pool.release(conn, true);
      return;
    }
    this.conn = conn;
    conn.handler = this;
    let codec = conn.codec as UpstreamCodec | null;
    if (codec === null) {
      codec = new UpstreamCodec(this.cluster.config.maxHeadersCount);
      conn.codec = codec;
    }
    codec.current = this;
    this.codec = codec;
    const stream = this.stream;
    const head = stream.head;
    codec.parser.expectResponse(head.method);

    const headers = stream.headers;
    if (this.route.autoHostRewrite && conn.host.hostname !== '') setHeader(headers, H.host, conn.host.hostname);
    // Framing of the upstream hop: keep a known length, re-chunk an unknown one.
    if (head.contentLength >= 0) {
      setHeader(headers, H.contentLength, String(head.contentLength));
    } else if (head.chunked) {
      this.bodyChunked = true;
      headers.push(H.transferEncoding, 'chunked');
    }
    const socket = conn.socket;
    socket.cork();
    socket.write(serializeRequestHead(head.method, this.path, headers), 'latin1');
    const pending = this.pending;
    if (pending !== null) {
      for (let i = 0; i < pending.length; i++) this.writeBody(pending[i]!);
      this.pending = null;
      this.pendingBytes = 0;
      stream.conn.resumeReading();
    }
    if (stream.requestComplete) this.writeEnd();
    socket.uncork();
  }

  onPoolFailure(reason: PoolFailureReason): void {
    this.poolHandle = null;
    if (this.done) return;
    const info = this.stream.info;
    info.upstreamTransportFailureReason = reason;
    this.finishUpstream(false);
    switch (reason) {
      case 'connect_timeout':
        return this.stream.upstreamFailed(LocalReply.connectTimeout);
      case 'overflow':
        return this.stream.upstreamFailed(LocalReply.overflow);
      default:
        return this.stream.upstreamFailed(LocalReply.connectFailure);
    }
  }

  // ---- request body (client -> upstream) ----

  sendBody(chunk: Buffer): void {
    if (this.done) return;
    if (this.conn === null) {
      if (this.pending === null) this.pending = [];
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // Bounded buffering until the connection is ready (per_connection_buffer_limit_bytes).
      if (this.pendingBytes > this.stream.hcm.listener.perConnectionBufferLimitBytes) this.stream.conn.pauseReading();
      return;
    }
    if (!this.writeBody(chunk)) this.stream.conn.pauseReading();
  }

  endBody(): void {
    if (this.done) return;
    if (this.stream.upgraded) {
      // The client ended its side of the tunnel: pass the FIN on.
      if (this.conn !== null) this.conn.socket.end();
      return;
    }
    if (this.route.timeoutMs > 0 && this.timer === null) this.armTimeout();
    if (this.conn !== null) this.writeEnd();
  }

  private writeBody(chunk: Buffer): boolean {
    const socket = this.conn!.socket;
    if (!this.bodyChunked) return socket.write(chunk);
    socket.cork();
    socket.write(chunk.length.toString(16) + CHUNK_END, 'latin1');
    socket.write(chunk);
    const ok = socket.write(CHUNK_END, 'latin1');
    socket.uncork();
    return ok;
  }

  private writeEnd(): void {
    if (this.requestEnded) return;
    this.requestEnded = true;
    if (this.bodyChunked) this.conn!.socket.write(LAST_CHUNK, 'latin1');
  }

  // ---- socket events while this request owns the connection ----

  onUpstreamData(chunk: Buffer): void {
    this.codec!.parser.execute(chunk);
    // What this read produced (head and small body chunks) goes to the client in one write.
    if (!this.stream.flushResponse() && this.conn !== null) this.conn.socket.pause();
  }

  onUpstreamEnd(): void {
    if (this.done) return;
    this.codec!.parser.finish();
    this.stream.flushResponse();
  }

  onUpstreamClose(_hadError: boolean): void {
    if (this.done) return;
    // A close-delimited body ends here; anything else is a reset.
    this.codec!.parser.finish();
    this.stream.flushResponse();
    if (this.done) return;
    const values = this.stream.hcm.stats.values;
    values[this.slots.upstream_rq_rx_reset]++;
    this.conn = null;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamTermination);
  }

  onUpstreamDrain(): void {
    if (!this.done) this.stream.conn.resumeReading();
  }

  /** The client caught up: read the upstream again. */
  resumeReading(): void {
    if (this.conn !== null && !this.done) this.conn.socket.resume();
  }

  // ---- response (upstream -> client) ----

  onResponseHead(head: ResponseHead): void {
    if (this.done) return;
    if (head.statusCode === 101 && this.stream.upgradeType !== null) {
      // An accepted upgrade: the route timeout covered getting here; the tunnel lives until either side closes
      // (the stream idle timeout still applies).
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    } else if (head.statusCode < 200) {
      return; // 100-continue and other interim heads are not proxied (Envoy's default).
    }
    this.responseHead = head;
    this.stream.info.firstUpstreamRxMonoMs = performance.now();
    this.stream.encodeHeaders(head);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.done) return;
    if (!this.stream.encodeData(chunk) && this.conn !== null) this.conn.socket.pause();
  }

  onResponseComplete(trailers: HeaderList | null): void {
    if (this.done) return;
    const head = this.responseHead!;
    const values = this.stream.hcm.stats.values;
    const status = head.statusCode;
    if (status >= 500) values[this.slots.upstream_rq_5xx]++;
    else if (status >= 400) values[this.slots.upstream_rq_4xx]++;
    else if (status >= 300) values[this.slots.upstream_rq_3xx]++;
    else if (status >= 200) values[this.slots.upstream_rq_2xx]++;
    else values[this.slots.upstream_rq_1xx]++;
    values[this.slots.upstream_rq_completed]++;
    this.stream.hcm.stats.record(this.slots.upstream_rq_time, performance.now() - this.startMonoMs);
    this.stream.info.upstreamServiceTimeMs = performance.now() - this.startMonoMs;
    if (status >= 500) this.hostCounters!.rqError++;
    else this.hostCounters!.rqSuccess++;
    this.hostCounters = null;
    // Reuse only a connection whose both messages ended cleanly.
    this.finishUpstream(head.keepAlive && !head.readUntilClose && this.requestEnded && status !== 101);
    this.stream.encodeComplete(trailers);
  }

  onResponseError(_err: Http1ParseError): void {
    if (this.done) return;
    const values = this.stream.hcm.stats.values;
    values[this.slots.upstream_cx_protocol_error]++;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamProtocolError);
  }

  /** The downstream side is gone or answered locally: abandon the upstream exchange. */
  reset(): void {
    if (this.done) return;
    if (this.poolHandle !== null) {
      this.poolHandle.cancel();
      this.poolHandle = null;
      this.stream.hcm.stats.values[this.slots.upstream_rq_cancelled]++;
    }
    this.finishUpstream(false);
  }

  private armTimeout(): void {
    this.timer = setTimeout(onUpstreamTimeout, this.route.timeoutMs, this);
  }

  onTimeout(): void {
    this.timer = null;
    if (this.done) return;
    this.stream.hcm.stats.values[this.slots.upstream_rq_timeout]++;
    this.hostCounters!.rqTimeout++;
    this.finishUpstream(false);
    this.stream.upstreamFailed(LocalReply.upstreamTimeout);
  }

  /** Ends this request's use of the upstream: timers, gauges, and the connection back to the pool or closed. */
  private finishUpstream(reusable: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.active) {
      this.active = false;
      this.stream.hcm.stats.values[this.slots.upstream_rq_active]--;
      this.activeHost!.counters.rqActive--;
      // Still set: the exchange ended without a complete response (reset, timeout, protocol error).
      if (this.hostCounters !== null) this.hostCounters.rqError++;
    }
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.handler = null;
      if (this.codec !== null) this.codec.current = null;
      if (conn.socket.isPaused()) conn.socket.resume();
      conn.pool.release(conn, reusable);
    }
  }
}

function onUpstreamTimeout(req: UpstreamRequest): void {
  req.onTimeout();
}
