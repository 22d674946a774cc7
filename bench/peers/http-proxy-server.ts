// Main thread of its own process (a benchmark peer). The classic Node reverse proxy: the http-proxy package on a
// node:http server, forwarding everything to one upstream over a keep-alive agent (as its README recommends for
// performance). Run: node bench/peers/http-proxy-server.ts PORT UPSTREAM_PORT

import http from 'node:http';
import { createRequire } from 'node:module';

interface HttpProxyServer {
  web(req: http.IncomingMessage, res: http.ServerResponse, opts?: object, cb?: (err: Error) => void): void;
  on(event: 'error', fn: (err: Error, req: http.IncomingMessage, res: http.ServerResponse) => void): void;
}
interface HttpProxyModule {
  createProxyServer(opts: { target: string; agent: http.Agent; xfwd?: boolean }): HttpProxyServer;
}

const httpProxy = createRequire(import.meta.url)('http-proxy') as HttpProxyModule;

const [portArg, upstreamArg] = process.argv.slice(2);
const port = Number(portArg);
const upstreamPort = Number(upstreamArg);
if (!Number.isInteger(port) || !Number.isInteger(upstreamPort) || port <= 0 || upstreamPort <= 0) {
  process.stderr.write('usage: http-proxy-server.ts PORT UPSTREAM_PORT\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent, xfwd: true });
proxy.on('error', (err, _req, res) => {
  if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
  res.end(`upstream error: ${err.message}\n`);
});

const server = http.createServer((req, res) => proxy.web(req, res));
// No server-side idle limit: the idle-connection scenario holds connections open.
server.keepAliveTimeout = 600_000;
server.headersTimeout = 0;
server.requestTimeout = 0;
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stderr.write(`http-proxy listening on 127.0.0.1:${port} -> 127.0.0.1:${upstreamPort}\n`);
});
process.on('SIGTERM', () => process.exit(0));
