// Worker thread. Envoy's connection and stream debug/trace lines (loggers connection, conn_handler, http, router,
// pool): the loggers, and the "[C<connection>][S<stream>] " tags their lines start with. Call sites test a
// logger's plain `debug` / `trace` field first, so with those levels off nothing here runs.

import { componentLogger } from '../../src/common/logger.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';

export const connectionLog = componentLogger('connection');
export const connHandlerLog = componentLogger('conn_handler');
export const httpLog = componentLogger('http');
export const routerLog = componentLogger('router');

/** What a stream tag needs: the stream's log id (0 until its first line) and its connection's id. */
export interface LoggedStream {
  logId: number;
  readonly conn: { readonly id: number };
}

let nextStreamLogId = 1;

/** "[C12][S3] ": the stream gets its id (per worker) at its first line. */
export function streamTag(s: LoggedStream): string {
  if (s.logId === 0) s.logId = nextStreamLogId++;
  return `[C${s.conn.id}][S${s.logId}] `;
}

/** Envoy's header dump at trace: one line per field, "'name', 'value'" (pseudo-headers first when given). */
export function traceHeaders(tag: string, pseudo: readonly string[], headers: HeaderList): void {
  for (let i = 0; i + 1 < pseudo.length; i += 2) httpLog.log('trace', `${tag}'${pseudo[i]}', '${pseudo[i + 1]}'`);
  for (let i = 0; i + 1 < headers.length; i += 2) httpLog.log('trace', `${tag}'${headers[i]}', '${headers[i + 1]}'`);
}

/** `[C12][S3] request headers complete (end_stream=false):` at debug, then the headers at trace. */
export function logRequestHeaders(s: LoggedStream, method: string, path: string, headers: HeaderList, endStream: boolean): void {
  const tag = streamTag(s);
  httpLog.log('debug', `${tag}request headers complete (end_stream=${endStream}):`);
  if (httpLog.trace) traceHeaders(tag, [':method', method, ':path', path], headers);
}

/** `[C12][S3] encoding headers via codec (end_stream=false):` at debug, then the response's headers at trace. */
export function logResponseHeaders(s: LoggedStream, status: number, headers: HeaderList, endStream: boolean): void {
  const tag = streamTag(s);
  httpLog.log('debug', `${tag}encoding headers via codec (end_stream=${endStream}):`);
  if (httpLog.trace) traceHeaders(tag, [':status', String(status)], headers);
}

/**
 * `[C12] remote close` then `[C12] closing socket: 0`, or `[C12] closing socket: 1` when Legate closed first (Envoy's
 * ConnectionEvent numbers: RemoteClose 0, LocalClose 1).
 */
export function logClose(id: number, remote: boolean): void {
  if (remote) connectionLog.log('debug', `[C${id}] remote close`);
  connectionLog.log('debug', `[C${id}] closing socket: ${remote ? 0 : 1}`);
}
