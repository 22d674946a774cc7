// Test support: real upstream servers on 127.0.0.1 for Legate to proxy to.

import http from 'node:http';
import net from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/**
 * An HTTP/1.1 upstream (node:http). Paths it understands:
 *   /echo...          -> 200, JSON of what it received (method, url, headers, body length)
 *   /status/NNN       -> that status
 *   /delay/MS         -> answers after MS
 *   /bytes/N          -> N bytes of body (content-length)
 *   /chunked/N        -> N bytes in 16 KiB chunks, chunked encoding
 *   /reset-mid-body   -> sends headers and part of the body, then destroys the socket
 *   /close-delimited  -> HTTP/1.0-style body ended by closing the connection (raw socket write)
 *   anything else     -> 200 "hello from <name>"
 */
export class TestUpstream {
  readonly name: string;
  readonly server: http.Server;
  readonly seen: SeenRequest[] = [];
  port = 0;

  constructor(name: string) {
    this.name = name;
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      this.seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      const url = req.url!;
      let m: RegExpExecArray | null;
      if (url.startsWith('/echo')) {
        const payload = JSON.stringify({ upstream: this.name, method: req.method, url, headers: req.headers, bodyLength: body.length, bodySha: body.toString('base64').slice(0, 16) });
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': this.name });
        res.end(payload);
      } else if ((m = /^\/status\/(\d+)/.exec(url)) !== null) {
        res.writeHead(Number(m[1]), { 'x-upstream': this.name });
        res.end(`status ${m[1]}`);
      } else if ((m = /^\/delay\/(\d+)/.exec(url)) !== null) {
        setTimeout(() => {
          res.writeHead(200, { 'x-upstream': this.name });
          res.end('late');
        }, Number(m[1]));
      } else if ((m = /^\/bytes\/(\d+)/.exec(url)) !== null) {
        const n = Number(m[1]);
        res.writeHead(200, { 'content-length': String(n), 'x-upstream': this.name });
        res.end(Buffer.alloc(n, 'x'));
      } else if ((m = /^\/chunked\/(\d+)/.exec(url)) !== null) {
        let left = Number(m[1]);
        res.writeHead(200, { 'x-upstream': this.name });
        while (left > 0) {
          const n = Math.min(left, 16384);
          res.write(Buffer.alloc(n, 'y'));
          left -= n;
        }
        res.end();
      } else if (url.startsWith('/reset-mid-body')) {
        res.writeHead(200, { 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 'z'));
        setTimeout(() => res.socket?.destroy(), 50);
      } else if (url.startsWith('/close-delimited')) {
        const sock = res.socket!;
        res.detachSocket(sock);
        sock.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil-close body');
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': this.name });
        res.end(`hello from ${this.name}`);
      }
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export async function startUpstream(name: string): Promise<TestUpstream> {
  return new TestUpstream(name).listen();
}

/**
 * Sends raw bytes on a fresh connection and collects everything until the server closes (or timeoutMs).
 * `closedByServer`: the server ended or reset the connection (false when the timeout ended it).
 */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<{ data: string; reset: boolean; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let reset = false;
    let timedOut = false;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (data += d));
    sock.on('error', () => {
      reset = true;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      sock.destroy();
    }, timeoutMs);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ data, reset, closedByServer: !timedOut });
    });
    sock.write(bytes);
  });
}
