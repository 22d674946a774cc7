// Primary thread. The admin HTTP server (node:http): exact-path endpoints from admin-endpoints.ts, mutating
// ones POST only (405 otherwise, as Envoy), unknown paths 404 with the endpoint list.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminContext } from './admin-context.ts';
import { findEndpoint, ADMIN_ENDPOINTS } from './admin-endpoints.ts';
import { textReply, type AdminReply } from './admin-reply.ts';
import { helpText } from './admin-help.ts';
import { StatsQueryError } from '../stats/stats-query.ts';
import { log } from '../common/logger.ts';

export interface AdminServerOptions {
  readonly address: string;
  /** 0 picks a free port (see AdminServer.port). */
  readonly port: number;
  readonly context: AdminContext;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export class AdminListenError extends Error {
  override name = 'AdminListenError';
  readonly code = 'ADMIN_LISTEN_FAILED';
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    void handle(opts.context, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new AdminListenError(`admin server cannot listen on ${opts.address}:${opts.port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen({ host: opts.address, port: opts.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error(`admin server: ${err.message}`));
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(ctx: AdminContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  req.resume(); // request bodies are not used
  let result: AdminReply;
  try {
    result = await dispatch(ctx, req.method ?? 'GET', req.url ?? '/');
  } catch (err) {
    if (err instanceof StatsQueryError) {
      result = textReply(`${err.message}\n`, 400);
    } else {
      const e = err as Error;
      log.error(`admin ${req.method} ${req.url} failed: ${e.stack ?? e.message}`);
      result = textReply(`internal error: ${e.message}\n`, 500);
    }
  }
  res.writeHead(result.status, {
    'content-type': result.contentType,
    'content-length': Buffer.byteLength(result.body),
    'cache-control': 'no-cache, max-age=0',
    'x-content-type-options': 'nosniff',
  });
  const after = result.afterSend;
  if (after !== null) res.once('finish', after);
  res.end(result.body);
}

async function dispatch(ctx: AdminContext, method: string, rawUrl: string): Promise<AdminReply> {
  let url: URL;
  try {
    url = new URL(rawUrl, 'http://admin');
  } catch {
    return textReply('invalid request target\n', 400);
  }
  const ep = findEndpoint(url.pathname);
  if (ep === undefined) return textReply(`invalid path. ${helpText(ADMIN_ENDPOINTS)}`, 404);
  if (ep.mutatesState && method !== 'POST') {
    return textReply(`Method ${method} not allowed, POST required.\n`, 405);
  }
  return ep.handle(ctx, url.searchParams);
}
