// Test support: a real HTTP/1.1 upstream that records every request as its head arrives (the body once it ended),
// tracks how many are open at once, and answers by path:
//   /hold...            -> held open until release() (then 200 "released")
//   /big/N or /bytes/N  -> N bytes of body
//   otherwise           -> 200 "ok"

import http from 'node:http';
import type net from 'node:net';

export interface RecordedRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The whole body, once it ended. */
  body: Buffer | null;
}

export class RecordingUpstream {
  readonly server: http.Server;
  readonly seen: RecordedRequest[] = [];
  port = 0;
  active = 0;
  maxActive = 0;
  private held: http.ServerResponse[] = [];

  constructor() {
    this.server = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => this.handle(req, res));
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get received(): number {
    return this.seen.length;
  }

  /** Requests whose path starts with `prefix`. */
  count(prefix: string): number {
    let n = 0;
    for (const r of this.seen) if (r.url.startsWith(prefix)) n++;
    return n;
  }

  /** The first request for exactly `url`. */
  request(url: string): RecordedRequest | undefined {
    return this.seen.find((r) => r.url === url);
  }

  get heldCount(): number {
    this.held = this.held.filter((r) => !r.destroyed && !r.writableEnded);
    return this.held.length;
  }

  /** Clears the concurrency high-water mark once nothing is open. */
  resetConcurrency(): void {
    this.maxActive = this.active;
  }

  release(): void {
    for (const res of this.held) {
      if (res.destroyed || res.writableEnded) continue;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('released');
    }
    this.held = [];
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const rec: RecordedRequest = { url: req.url!, headers: req.headers, body: null };
    this.seen.push(rec);
    this.active++;
    if (this.active > this.maxActive) this.maxActive = this.active;
    res.on('close', () => this.active--);
    req.on('error', () => {});
    res.on('error', () => {});
    const url = rec.url;
    if (url.startsWith('/hold')) this.held.push(res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rec.body = Buffer.concat(chunks);
      if (url.startsWith('/hold')) return;
      const sized = /^\/(?:big|bytes)\/(\d+)/.exec(url);
      if (sized !== null) {
        const n = Number(sized[1]);
        res.writeHead(200, { 'content-length': String(n) });
        res.end(Buffer.alloc(n, 'b'));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      }
    });
  }

  close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
