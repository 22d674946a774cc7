// Test support: compiled TLS contexts served on 127.0.0.1 port 0, and a tls.connect client that reports what it
// got (data, peer certificate, ALPN, version) or how it failed.

import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { compileDownstreamTlsContext, compileUpstreamTlsContext } from '../../../src/tls/compile-tls-context.ts';
import { ServerTlsContext } from '../../../src/tls/server-tls-context.ts';
import type { DownstreamTlsSpec, TlsFailureReason, UpstreamTlsSpec } from '../../../src/tls/tls-spec.ts';
import type { IssuedCert } from './test-pki.ts';

export const P = 'static_resources.listeners[0].filter_chains[0].transport_socket.typed_config';
export const C = 'static_resources.clusters[0].transport_socket.typed_config';

export function downstream(ctx: Record<string, unknown>): DownstreamTlsSpec {
  const r = compileDownstreamTlsContext(ctx, P);
  assert.deepEqual(r.problems, []);
  assert.ok(r.spec);
  return r.spec;
}

export function upstream(ctx: Record<string, unknown>): UpstreamTlsSpec {
  const r = compileUpstreamTlsContext(ctx, C);
  assert.deepEqual(r.problems, []);
  assert.ok(r.spec);
  return r.spec;
}

/** A TlsCertificate message reading `cert` from its files. */
export function certFiles(cert: IssuedCert): Record<string, unknown> {
  return { certificate_chain: { filename: cert.certPath }, private_key: { filename: cert.keyPath } };
}

/** Resolves on the next value pushed. */
class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((v: T) => void)[] = [];
  push(v: T): void {
    const w = this.waiters.shift();
    if (w !== undefined) w(v);
    else this.items.push(v);
  }
  next(): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface TestTlsServer {
  ctx: ServerTlsContext;
  port: number;
  /** Refusals in order, as ssl.* reasons. */
  failures: Queue<TlsFailureReason>;
  /** Accepted connections (after every check). */
  accepted: Queue<tls.TLSSocket>;
  close(): Promise<void>;
}

/**
 * Serves `spec`: every accepted connection gets "hello\n" and is ended. By default connections come through a
 * net.Server and ServerTlsContext.accept() (the listener's path); `direct` listens on the tls.Server itself.
 */
export async function serve(spec: DownstreamTlsSpec, direct = false): Promise<TestTlsServer> {
  const failures = new Queue<TlsFailureReason>();
  const accepted = new Queue<tls.TLSSocket>();
  const ctx = new ServerTlsContext(spec, {
    onSecureConnection(socket) {
      accepted.push(socket);
      socket.end('hello\n');
    },
    onTlsFailure(reason) {
      failures.push(reason);
    },
  });
  let server: net.Server;
  if (direct) {
    server = ctx.server;
  } else {
    server = net.createServer((raw) => ctx.accept(raw));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    ctx,
    port,
    failures,
    accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface HandshakeResult {
  /** What the server sent: "hello\n" when it accepted the connection. */
  data: string;
  /** The error code (or message) the client saw, null if none. */
  error: string | null;
  secure: boolean;
  peerSerial: string | null;
  peerCn: string | null;
  alpn: string | false | null;
  protocol: string | null;
  /** The session was resumed (tls.connect with `session`). */
  reused: boolean;
}

export function handshake(port: number, opts: tls.ConnectionOptions = {}): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const r: HandshakeResult = { data: '', error: null, secure: false, peerSerial: null, peerCn: null, alpn: null, protocol: null, reused: false };
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      r.secure = true;
      const cert = s.getPeerX509Certificate();
      r.peerSerial = cert?.serialNumber ?? null;
      r.peerCn = cert?.subject.replace(/^CN=/, '') ?? null;
      r.alpn = s.alpnProtocol ?? null;
      r.protocol = s.getProtocol();
      r.reused = s.isSessionReused();
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => (r.data += d));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (r.error === null) r.error = e.code ?? e.message;
    });
    s.on('close', () => resolve(r));
  });
}

/** Accepted means the server's "hello" arrived. */
export function accepted(r: HandshakeResult): boolean {
  return r.data === 'hello\n';
}
