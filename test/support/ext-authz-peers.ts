// Test support: an HTTP authorization service for envoy.filters.http.ext_authz's http_service (node:http on
// 127.0.0.1 port 0). It records every check whole (method, url, headers, body) before `decide` answers it.

import http from 'node:http';
import { listenHttpPeer, type HttpPeer } from './http-peer.ts';

export interface SeenCheck {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpAuthServer extends HttpPeer {
  seen: SeenCheck[];
}

/** An HTTP authorization server; `decide` answers each check (or never does, to make it time out). */
export async function startHttpAuthServer(decide: (req: SeenCheck, res: http.ServerResponse) => void): Promise<HttpAuthServer> {
  const seen: SeenCheck[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(s);
      decide(s, res);
    });
  });
  return { ...(await listenHttpPeer(server)), seen };
}
