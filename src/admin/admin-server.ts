// Primary thread. The admin HTTP server (node:http): exact-path endpoints from admin-endpoints.ts, those that
// change state POST only (405 "Method GET not allowed, POST required." otherwise, as Envoy), unknown paths 404 with
// the endpoint list. Parameters come from the query or, when it has none, from a form-encoded POST body (as
// Envoy). Beyond Envoy (opt-in): with a token, endpoints that change state (and /heap_dump) need
// `Authorization: Bearer <token>` (401 without it, 403 with another); a bind address that is not loopback is
// warned about at start.

import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { AdminContext } from './admin-context.ts';
import { findEndpoint, ADMIN_ENDPOINTS } from './admin-endpoints.ts';
import { reply, textReply, ContentType, type AdminReply } from './admin-reply.ts';
import { helpText } from './admin-help.ts';
import { StatsQueryError } from '../stats/stats-query.ts';
import { log } from '../common/logger.ts';
import type { AccessLogSink } from '../access-log/sink.ts';
import type { AdminTrafficObserver } from '../stats/admin-stats.ts';
import { StreamInfo } from '../http/stream-info.ts';

/** Request bodies are read for form parameters only; larger ones are refused (413). */
const MAX_BODY_BYTES = 64 * 1024;

export interface AdminServerOptions {
  readonly address: string;
  /** 0 picks a free port (see AdminServer.port). */
  readonly port: number;
  readonly context: AdminContext;
  /** --admin-token-path's token: endpoints that need it answer 401/403 without it. null: no token (Envoy's way). */
  readonly token?: string | null;
  /** admin.access_log: each finished admin request, as a StreamInfo (none: nothing is logged). */
  readonly accessLogs?: readonly AccessLogSink[];
  /** http.admin.* (src/stats/admin-stats.ts): told of each connection and request. */
  readonly observer?: AdminTrafficObserver;
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

/** Whether the admin may be reached only from this host: 127.0.0.0/8, ::1, ::ffff:127.x. */
export function isLoopbackAddress(address: string): boolean {
  if (net.isIPv4(address)) return address.startsWith('127.');
  const a = address.toLowerCase();
  return a === '::1' || a === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(a);
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const token = opts.token === undefined || opts.token === null ? null : tokenDigest(opts.token);
  const accessLogs = opts.accessLogs ?? [];
  const observer = opts.observer ?? null;
  const server = http.createServer((req, res) => {
    if (observer !== null) observer.onRequest(req, res);
    if (accessLogs.length > 0) logWhenDone(accessLogs, req, res);
    void handle(opts.context, token, req, res);
  });
  if (observer !== null) server.on('connection', (socket: net.Socket) => observer.onConnection(socket));
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
  if (!isLoopbackAddress(bound.address)) {
    log.warn(
      `admin: listening on ${bound.address}:${bound.port}, which is not a loopback address: whoever reaches it can ` +
        `drain, stop and reconfigure this server${token === null ? ' (no --admin-token-path is set)' : ''}; bind the admin to 127.0.0.1 unless it must be reached from elsewhere`,
    );
  }
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

/** Response body bytes handed to each admin response (for %BYTES_SENT%), while admin.access_log is on. */
const bodyBytes = new WeakMap<http.ServerResponse, number>();

/** Logs the admin request to admin.access_log when its response has gone out, or the client went away. */
function logWhenDone(sinks: readonly AccessLogSink[], req: http.IncomingMessage, res: http.ServerResponse): void {
  const info = new StreamInfo();
  info.startTimeMs = Date.now();
  info.startMonoMs = performance.now();
  info.protocol = `HTTP/${req.httpVersion}`;
  info.method = req.method ?? '';
  info.path = req.url ?? '';
  info.authority = req.headers.host ?? '';
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push(raw[i]!.toLowerCase(), raw[i + 1]!);
  info.requestHeaders = headers;
  const socket = req.socket;
  info.downstreamRemoteAddress = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
  info.downstreamDirectRemoteAddress = info.downstreamRemoteAddress;
  info.downstreamLocalAddress = `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`;
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  res.once('close', () => {
    info.lastDownstreamTxMonoMs = performance.now();
    info.responseCode = res.headersSent ? res.statusCode : 0;
    info.bytesReceived = received;
    info.bytesSent = res.writableFinished ? (bodyBytes.get(res) ?? 0) : 0;
    if (!res.writableFinished) info.responseCodeDetails = 'downstream_remote_disconnect';
    for (const sink of sinks) sink.log(info);
  });
}

function tokenDigest(token: string): Buffer {
  return crypto.createHash('sha256').update(token).digest();
}

/** 401 without a bearer token, 403 with a wrong one, null when it is the token (compared in constant time). */
function checkToken(token: Buffer, authorization: string | undefined): AdminReply | null {
  const m = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (m === null) {
    return reply(401, ContentType.TEXT, 'this admin endpoint needs the admin token: Authorization: Bearer <token>\n', {
      'www-authenticate': 'Bearer realm="legate-admin"',
    });
  }
  if (!crypto.timingSafeEqual(tokenDigest(m[1]!), token)) return textReply('the admin token does not match\n', 403);
  return null;
}

async function handle(ctx: AdminContext, token: Buffer | null, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let result: AdminReply;
  try {
    result = await dispatch(ctx, token, req);
  } catch (err) {
    if (err instanceof StatsQueryError) {
      result = textReply(`${err.message}\n`, 400);
    } else {
      const e = err as Error;
      log.error(`admin ${req.method} ${req.url} failed: ${e.stack ?? e.message}`);
      result = textReply(`internal error: ${e.message}\n`, 500);
    }
  }
  const headers: Record<string, string | number> = {
    ...(result.headers ?? {}),
    'content-type': result.contentType,
    'cache-control': 'no-cache, max-age=0',
    'x-content-type-options': 'nosniff',
  };
  const after = result.afterSend;
  if (after !== null) res.once('finish', after);
  const stream = result.stream;
  if (stream !== null) {
    res.writeHead(result.status, headers);
    res.once('close', () => stream.destroy());
    stream.on('data', (chunk: Buffer | string) => {
      bodyBytes.set(res, (bodyBytes.get(res) ?? 0) + Buffer.byteLength(chunk));
    });
    stream.on('error', (err) => {
      log.error(`admin ${req.url}: ${err.message}`);
      res.destroy();
    });
    stream.pipe(res);
    return;
  }
  const length = Buffer.byteLength(result.body);
  headers['content-length'] = length;
  bodyBytes.set(res, length);
  res.writeHead(result.status, headers);
  res.end(result.body);
}

async function dispatch(ctx: AdminContext, token: Buffer | null, req: http.IncomingMessage): Promise<AdminReply> {
  const method = req.method ?? 'GET';
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://admin');
  } catch {
    req.resume();
    return textReply('invalid request target\n', 400);
  }
  const body = await readBody(req);
  const ep = findEndpoint(url.pathname);
  if (ep === undefined) return textReply(`invalid path. ${helpText(ADMIN_ENDPOINTS)}`, 404);
  if (ep.mutatesState && method !== 'POST') {
    log.error(`admin path "${ep.path}" mutates state, method=${method} rather than POST`);
    return textReply(`Method ${method} not allowed, POST required.`, 405);
  }
  if (token !== null && ep.tokenRequired) {
    const refused = checkToken(token, req.headers.authorization);
    if (refused !== null) {
      log.warn(`admin ${method} ${ep.path} refused: ${refused.status === 401 ? 'no admin token' : 'wrong admin token'}`);
      return refused;
    }
  }
  if (body === null) return textReply(`request body larger than ${MAX_BODY_BYTES} bytes\n`, 413);
  return ep.handle(ctx, paramsOf(url, req, body));
}

/** The query's parameters or, when it has none, a form-encoded body's (Envoy's AdminFilter::queryParams). */
function paramsOf(url: URL, req: http.IncomingMessage, body: string): URLSearchParams {
  if (url.searchParams.size > 0 || body === '') return url.searchParams;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded' ? new URLSearchParams(body) : url.searchParams;
}

/** The request body as text; null when it is larger than MAX_BODY_BYTES (the rest is read and dropped). */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}
