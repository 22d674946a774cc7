// Test support: a node:http server of a test (an upstream, an authorization service) listening on 127.0.0.1 port 0,
// with a close() that drops its open connections too.

import type http from 'node:http';
import { listenOnPortZero } from './legate-process.ts';

export interface HttpPeer {
  port: number;
  close(): void;
}

export async function listenHttpPeer(server: http.Server): Promise<HttpPeer> {
  const port = await listenOnPortZero(server);
  return {
    port,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
