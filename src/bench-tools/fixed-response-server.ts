// The thread that runs it (a worker of `legate bench --upstream-port`, the harness's Node upstream). An HTTP/1.1
// server that answers every request at once with the same status and body, keeping connections open as long as
// the client likes: an upstream for load benchmarks that does as little as node:http allows.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

export interface FixedResponseOptions {
  /** 0 = any free port. */
  readonly port: number;
  readonly host: string;
  readonly status: number;
  /** Body size for every path not in `pathBodies`; the body repeats "hello" ("hello" itself at 5 bytes). */
  readonly bodyBytes: number;
  /** Exact request paths (query included) answered with another body size. */
  readonly pathBodies?: Readonly<Record<string, number>>;
}

export interface FixedResponseServer {
  readonly port: number;
  close(): Promise<void>;
}

interface Canned {
  readonly headers: readonly string[];
  readonly body: Buffer;
}

function canned(bytes: number): Canned {
  const body = Buffer.alloc(bytes, 'hello');
  return { headers: ['content-type', 'text/plain', 'content-length', String(bytes)], body };
}

export function startFixedResponseServer(opts: FixedResponseOptions): Promise<FixedResponseServer> {
  const fallback = canned(opts.bodyBytes);
  const byPath = new Map<string, Canned>();
  for (const [p, n] of Object.entries(opts.pathBodies ?? {})) byPath.set(p, canned(n));
  const status = opts.status;

  const server = http.createServer((req, res) => {
    const c = (byPath.size > 0 ? byPath.get(req.url ?? '') : undefined) ?? fallback;
    res.writeHead(status, c.headers as string[]);
    res.end(c.body);
  });
  // A benchmark holds connections open between runs and for idle-connection tests: no server-side idle limits.
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  server.maxConnections = Infinity;

  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port, host: opts.host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** What the upstream's worker thread posts once: it listens, or it could not. */
export type FixedResponseWorkerMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'error'; readonly code: string; readonly message: string };

export class FixedResponseStartError extends Error {
  override name = 'FixedResponseStartError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The same server on a worker thread of this process; close() ends the thread. */
export function startFixedResponseWorker(opts: FixedResponseOptions): Promise<FixedResponseServer> {
  const worker = new Worker(new URL('./fixed-response-worker.ts', import.meta.url), { workerData: opts });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: FixedResponseWorkerMessage) => {
      worker.off('error', reject);
      if (m.type === 'error') {
        void worker.terminate();
        reject(new FixedResponseStartError(m.code, m.message));
        return;
      }
      worker.unref();
      resolve({ port: m.port, close: () => worker.terminate().then(() => undefined) });
    });
  });
}
