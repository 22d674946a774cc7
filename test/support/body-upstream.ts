// Test support: a node:http upstream that reads each request whole, records it, and answers by path (a subclass's
// answer()), with one response it can hold open half-sent until the test releases it; and a node:http client
// request that reports resets and broken responses instead of throwing.

import http from 'node:http';
import { listenOnPortZero } from './legate-process.ts';

export interface SeenBody {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export abstract class BodyUpstream {
  readonly server: http.Server;
  readonly seen: SeenBody[] = [];
  port = 0;
  private finishHeld: (() => void) | null = null;
  private readonly held: Promise<void>;
  private onHeld: () => void = () => {};

  constructor() {
    this.held = new Promise((r) => (this.onHeld = r));
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
        this.seen.push(seen);
        this.answer(seen, res);
      });
    });
  }

  /** Answers one request, read whole. */
  protected abstract answer(req: SeenBody, res: http.ServerResponse): void;

  /** Called from answer() with a response sent in part: `finish` sends the rest once the test calls release(). */
  protected hold(finish: () => void): void {
    this.finishHeld = finish;
    this.onHeld();
  }

  /** Waits for the held response to start, then finishes it. */
  async release(): Promise<void> {
    await this.held;
    this.finishHeld!();
  }

  async listen(): Promise<this> {
    this.port = await listenOnPortZero(this.server);
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** '' for a whole response; else what broke it (a reset, an incomplete body, the timeout). */
  error: string;
}

/**
 * A request to 127.0.0.1:`port` (GET, or POST when there is a body, unless `method` says); never rejects, never hangs
 * (20 s timeout): a reset or broken response resolves with `error` set.
 */
export function requestReply(port: number, urlPath: string, opts: { headers?: Record<string, string | number>; body?: Buffer | string; method?: string } = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let resHeaders: http.IncomingHttpHeaders = {};
    let settled = false;
    const done = (error: string): void => {
      if (settled) return;
      settled = true;
      resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), error });
    };
    const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers: opts.headers ?? {}, agent: false, timeout: 20_000 }, (res) => {
      status = res.statusCode ?? 0;
      resHeaders = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(res.complete ? '' : 'incomplete'));
      res.on('error', (e) => done(e.message));
      res.on('aborted', () => done('aborted'));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done(e.message));
    req.end(opts.body);
  });
}
