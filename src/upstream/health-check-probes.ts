// Primary thread. One probe per active health check attempt, with Node's own clients (no pools): HTTP/1.1
// (node:http, one keep-alive socket per host when reuse_connection), HTTP/2 and gRPC (one node:http2 session per
// host, kept when reuse_connection), TCP (node:net, send/receive payloads). A probe settles its result once; the
// session (health-check-session.ts) owns the timeout and calls abort() when it fires.

import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { CompiledHealthCheck, StatusRange } from './health-check-config.ts';
import { TlsPeerRejectedError, type ClientTlsContext } from '../tls/client-tls-context.ts';
import type { StringMatcher } from '../router/string-matcher.ts';

/**
 * success/degraded: passed (x-envoy-degraded marks degraded); failed: an ACTIVE failure that marks the host at once
 * (HTTP status outside expected and retriable ranges, gRPC not SERVING); retriable: an ACTIVE failure counted
 * toward unhealthy_threshold (retriable_statuses); network: the connection failed or broke.
 */
export type ProbeResult = 'success' | 'degraded' | 'failed' | 'retriable' | 'network';

export interface ProbeTarget {
  address: string;
  port: number;
  /** The :authority / Host to send. */
  authority: string;
  /** The cluster's transport socket (envoy.transport_sockets.tls), as its connections use it; null = plaintext. */
  tls: ClientTlsContext | null;
  /** HTTP checks: service_name_matcher compiled once per cluster; null = not checked. */
  serviceMatcher: StringMatcher | null;
  /** Counts cluster.<name>.health_check.verify_cluster. */
  onVerifyCluster: () => void;
}

/**
 * A connection to the target: plain TCP, or TLS with the cluster's context (ready on 'secureConnect', after the
 * peer checks Node cannot make; a refused peer is an 'error').
 */
function connectTarget(target: ProbeTarget, alpn: readonly string[] | null): net.Socket {
  const ctx = target.tls;
  if (ctx === null) return net.connect({ host: target.address, port: target.port, noDelay: true });
  const socket = tls.connect(ctx.connectOptions(target.address, target.port, alpn));
  socket.once('secureConnect', () => {
    const reason = ctx.verifyPeer(socket);
    if (reason !== null) socket.destroy(new TlsPeerRejectedError(reason, `health check of ${target.address}:${target.port}`));
  });
  return socket;
}

export interface Prober {
  /** Starts one attempt; `done` is called once unless abort() comes first. */
  run(done: (result: ProbeResult) => void): void;
  /** The attempt timed out: drop it and its connection. */
  abort(): void;
  /** The host left the cluster or the config changed: close everything. */
  close(): void;
}

function inRanges(status: number, ranges: readonly StatusRange[]): boolean {
  for (let i = 0; i < ranges.length; i++) if (status >= ranges[i]!.start && status < ranges[i]!.end) return true;
  return false;
}

function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Settles a probe once; later outcomes (an error after the response, a late response after abort) are dropped. */
class Attempt {
  private cb: ((r: ProbeResult) => void) | null;
  constructor(cb: (r: ProbeResult) => void) {
    this.cb = cb;
  }
  settle(r: ProbeResult): void {
    const cb = this.cb;
    this.cb = null;
    if (cb !== null) cb(r);
  }
  cancel(): void {
    this.cb = null;
  }
}

/**
 * What every prober shares: its check and target, the attempt in flight (settled once), and abort() = cancel that
 * attempt and drop what it holds; a subclass starts an attempt and says what dropping means for its connection.
 */
abstract class ProberBase implements Prober {
  protected readonly check: CompiledHealthCheck;
  protected readonly target: ProbeTarget;
  protected attempt: Attempt | null;

  constructor(check: CompiledHealthCheck, target: ProbeTarget) {
    this.check = check;
    this.target = target;
    this.attempt = null;
  }

  run(done: (result: ProbeResult) => void): void {
    const attempt = new Attempt(done);
    this.attempt = attempt;
    this.start(attempt);
  }

  /** Sends one probe; its outcome goes to `attempt`. */
  protected abstract start(attempt: Attempt): void;

  /** The attempt was cancelled: drop its request and whatever connection must not outlive it. */
  protected abstract drop(): void;

  abort(): void {
    this.attempt?.cancel();
    this.drop();
  }

  close(): void {
    this.abort();
  }
}

class Http1Prober extends ProberBase {
  private agent: http.Agent | null = null;
  private req: http.ClientRequest | null = null;

  protected start(attempt: Attempt): void {
    const hc = this.check.http!;
    if (this.check.reuseConnection && this.agent === null) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      if (this.target.tls !== null) {
        const target = this.target;
        (agent as unknown as { createConnection: () => net.Socket }).createConnection = () => connectTarget(target, ['http/1.1']);
      }
      this.agent = agent;
    }
    const headers: Record<string, string | string[]> = { host: this.target.authority, 'user-agent': 'Envoy/HC' };
    applyHeaders(headers, hc.headersToAdd, hc.headersToRemove);
    if (!this.check.reuseConnection) headers['connection'] = 'close';
    const req = http.request({
      host: this.target.address,
      port: this.target.port,
      method: hc.method,
      path: hc.path,
      headers,
      setHost: false,
      agent: this.agent ?? false,
      createConnection: this.agent === null && this.target.tls !== null ? () => connectTarget(this.target, ['http/1.1']) : undefined,
    });
    this.req = req;
    req.on('error', () => attempt.settle('network'));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const degraded = res.headers['x-envoy-degraded'] !== undefined;
      const checked = res.headers['x-envoy-upstream-healthchecked-cluster'];
      const body = bodyCapture(this.check);
      if (body !== null) res.on('data', (c: Buffer) => body.add(c));
      res.on('error', () => attempt.settle('network'));
      res.on('end', () => attempt.settle(httpVerdict(status, degraded, hc.expectedStatuses, hc.retriableStatuses, this.target, checked, body)));
      // Cut short before its end: a network failure ('end' settles first when the response is whole).
      res.on('close', () => attempt.settle('network'));
      res.resume();
    });
    req.end();
  }

  protected drop(): void {
    this.req?.destroy();
    this.req = null;
  }

  override close(): void {
    super.close();
    this.agent?.destroy();
    this.agent = null;
  }
}

function httpVerdict(
  status: number, degraded: boolean, expected: readonly StatusRange[], retriable: readonly StatusRange[], target: ProbeTarget,
  checkedCluster: string | string[] | undefined, body: BodyCapture | null,
): ProbeResult {
  if (!inRanges(status, expected)) return inRanges(status, retriable) ? 'retriable' : 'failed';
  if (body !== null && !containsInOrder(body.hex(), body.expected)) return 'failed';
  const matcher = target.serviceMatcher;
  if (matcher !== null) {
    // Envoy: with service_name_matcher the upstream must name the cluster it serves.
    target.onVerifyCluster();
    const name = checkedCluster === undefined ? '' : Array.isArray(checkedCluster) ? checkedCluster.join(',') : checkedCluster;
    if (!matcher.match(name)) return 'failed';
  }
  return degraded ? 'degraded' : 'success';
}

/** The first response_buffer_size bytes of a response body, for `receive` (only made when receive is set). */
class BodyCapture {
  readonly expected: readonly string[];
  private readonly limit: number;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(expected: readonly string[], limit: number) {
    this.expected = expected;
    this.limit = limit;
  }

  add(chunk: Buffer): void {
    if (this.limit > 0 && this.size >= this.limit) return;
    const take = this.limit > 0 ? chunk.subarray(0, this.limit - this.size) : chunk;
    this.chunks.push(take);
    this.size += take.length;
  }

  hex(): string {
    return Buffer.concat(this.chunks).toString('hex');
  }
}

function bodyCapture(check: CompiledHealthCheck): BodyCapture | null {
  const hc = check.http!;
  return hc.receiveHex.length === 0 ? null : new BodyCapture(hc.receiveHex, hc.responseBufferSize);
}

function applyHeaders(
  headers: Record<string, string | string[]>, add: readonly { name: string; value: string; append: boolean }[], remove: readonly string[],
): void {
  for (let i = 0; i < remove.length; i++) delete headers[remove[i]!];
  for (let i = 0; i < add.length; i++) {
    const h = add[i]!;
    const existing = headers[h.name];
    if (h.append && existing !== undefined) headers[h.name] = Array.isArray(existing) ? [...existing, h.value] : [existing, h.value];
    else headers[h.name] = h.value;
  }
}

/** HTTP/2 and gRPC checks: one session per host (kept across attempts when reuse_connection). */
class Http2Prober extends ProberBase {
  private session: http2.ClientHttp2Session | null = null;
  private stream: http2.ClientHttp2Stream | null = null;

  private sessionFor(): http2.ClientHttp2Session {
    let s = this.session;
    if (s === null || s.closed || s.destroyed) {
      const target = this.target;
      s = target.tls === null
        ? http2.connect(`http://${hostForUrl(target.address)}:${target.port}`)
        : http2.connect(`https://${hostForUrl(target.address)}:${target.port}`, { createConnection: () => connectTarget(target, ['h2']) });
      const session = s;
      session.on('error', () => {
        if (this.session === session) this.session = null;
        this.attempt?.settle('network');
      });
      session.on('goaway', () => {
        if (this.session === session) this.session = null;
      });
      session.on('close', () => {
        if (this.session === session) this.session = null;
      });
      this.session = session;
    }
    return s;
  }

  protected start(attempt: Attempt): void {
    let session: http2.ClientHttp2Session;
    try {
      session = this.sessionFor();
    } catch {
      attempt.settle('network');
      return;
    }
    if (this.check.grpc !== null) this.runGrpc(session, attempt);
    else this.runHttp(session, attempt);
  }

  private finish(attempt: Attempt, result: ProbeResult): void {
    attempt.settle(result);
    if (!this.check.reuseConnection) this.dropSession();
  }

  private runHttp(session: http2.ClientHttp2Session, attempt: Attempt): void {
    const hc = this.check.http!;
    const headers: Record<string, string | string[]> = {
      ':method': hc.method, ':path': hc.path, ':scheme': this.target.tls === null ? 'http' : 'https', ':authority': this.target.authority, 'user-agent': 'Envoy/HC',
    };
    applyHeaders(headers, hc.headersToAdd, hc.headersToRemove);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: true });
    } catch {
      this.finish(attempt, 'network');
      return;
    }
    this.stream = stream;
    let status = 0;
    let degraded = false;
    let checked: string | string[] | undefined;
    const body = bodyCapture(this.check);
    if (body !== null) stream.on('data', (c: Buffer) => body.add(c));
    stream.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
      degraded = h['x-envoy-degraded'] !== undefined;
      checked = h['x-envoy-upstream-healthchecked-cluster'];
    });
    stream.on('error', () => this.finish(attempt, 'network'));
    let ended = false;
    stream.on('end', () => {
      ended = true;
      this.finish(attempt, status === 0 ? 'network' : httpVerdict(status, degraded, hc.expectedStatuses, hc.retriableStatuses, this.target, checked, body));
    });
    stream.on('close', () => {
      if (!ended) this.finish(attempt, 'network');
    });
    stream.resume();
  }

  private runGrpc(session: http2.ClientHttp2Session, attempt: Attempt): void {
    const g = this.check.grpc!;
    const headers: Record<string, string> = {
      ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', ':scheme': this.target.tls === null ? 'http' : 'https', ':authority': this.target.authority,
      'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'Envoy/HC',
    };
    for (const m of g.initialMetadata) headers[m.name] = m.value;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch {
      this.finish(attempt, 'network');
      return;
    }
    this.stream = stream;
    let status = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
      // Trailers-only response.
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    stream.on('trailers', (t) => {
      if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => this.finish(attempt, 'network'));
    stream.on('close', () => {
      if (status === 0) {
        this.finish(attempt, 'network');
        return;
      }
      // Envoy: a non-200 status, a non-zero grpc-status or a response other than SERVING is a failure.
      const serving = status === 200 && grpcStatus === '0' && servingStatus(Buffer.concat(chunks)) === 1;
      this.finish(attempt, serving ? 'success' : 'failed');
    });
    stream.end(grpcFrame(g.serviceName));
  }

  private dropSession(): void {
    const s = this.session;
    this.session = null;
    if (s !== null && !s.destroyed) s.close();
  }

  protected drop(): void {
    this.stream?.close(http2.constants.NGHTTP2_CANCEL);
    this.stream = null;
    // A timed-out check closes its connection (Envoy resets the client).
    const s = this.session;
    this.session = null;
    s?.destroy();
  }
}

/** A length-prefixed grpc.health.v1.HealthCheckRequest { string service = 1; }. */
export function grpcFrame(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const body: number[] = [];
  if (name.length > 0) {
    body.push(0x0a);
    let n = name.length;
    while (n >= 0x80) {
      body.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    body.push(n);
  }
  const msg = Buffer.concat([Buffer.from(body), name]);
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  return frame;
}

/** The `status` (field 1, varint) of the first HealthCheckResponse message in a gRPC body; -1 if absent or malformed. */
export function servingStatus(body: Buffer): number {
  if (body.length < 5 || body[0] !== 0) return -1;
  const len = body.readUInt32BE(1);
  if (body.length < 5 + len) return -1;
  let i = 5;
  const end = 5 + len;
  let status = 0; // proto3 default: UNKNOWN
  while (i < end) {
    const tag = body[i++]!;
    const wire = tag & 7;
    let v = 0;
    let shift = 0;
    if (wire === 0) {
      for (;;) {
        if (i >= end || shift > 28) return -1;
        const b = body[i++]!;
        v |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
        shift += 7;
      }
      if (tag >> 3 === 1) status = v;
    } else if (wire === 2) {
      for (;;) {
        if (i >= end || shift > 28) return -1;
        const b = body[i++]!;
        v |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
        shift += 7;
      }
      i += v;
    } else {
      return -1;
    }
  }
  return status;
}

class TcpProber extends ProberBase {
  private socket: net.Socket | null = null;

  protected start(attempt: Attempt): void {
    const tcp = this.check.tcp!;
    const send = tcp.sendHex === '' ? null : Buffer.from(tcp.sendHex, 'hex');
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('hex');
      if (containsInOrder(received, tcp.receiveHex)) this.finish(attempt, 'success');
    };
    const start = (socket: net.Socket): void => {
      socket.on('data', onData);
      if (send !== null) socket.write(send);
      if (tcp.receiveHex.length === 0) this.finish(attempt, 'success');
    };
    const existing = this.socket;
    if (existing !== null && !existing.destroyed && existing.readyState === 'open') {
      existing.removeAllListeners('data');
      start(existing);
      return;
    }
    const socket = connectTarget(this.target, null);
    this.socket = socket;
    socket.on('error', () => this.attempt?.settle('network'));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      this.attempt?.settle('network');
    });
    socket.on(this.target.tls === null ? 'connect' : 'secureConnect', () => {
      if (!socket.destroyed) start(socket);
    });
  }

  private finish(attempt: Attempt, result: ProbeResult): void {
    attempt.settle(result);
    if (!this.check.reuseConnection) this.drop();
  }

  protected drop(): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }
}

/** Envoy's TCP receive check: every payload found in the bytes read, each after the previous one. */
function containsInOrder(hex: string, parts: readonly string[]): boolean {
  let from = 0;
  for (let i = 0; i < parts.length; i++) {
    // Hex positions must stay byte-aligned.
    let at = hex.indexOf(parts[i]!, from);
    while (at !== -1 && at % 2 !== 0) at = hex.indexOf(parts[i]!, at + 1);
    if (at === -1) return false;
    from = at + parts[i]!.length;
  }
  return true;
}

export function createProber(check: CompiledHealthCheck, target: ProbeTarget): Prober {
  if (check.kind === 'TCP') return new TcpProber(check, target);
  if (check.kind === 'GRPC' || check.http!.codec === 'HTTP2') return new Http2Prober(check, target);
  return new Http1Prober(check, target);
}
