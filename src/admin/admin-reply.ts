// Primary thread. One admin response, as plain data the server writes out.

import type { Readable } from 'node:stream';

export const ContentType = {
  TEXT: 'text/plain; charset=UTF-8',
  JSON: 'application/json',
  HTML: 'text/html; charset=UTF-8',
  /** Prometheus text exposition format 0.0.4. */
  PROMETHEUS: 'text/plain; version=0.0.4; charset=UTF-8',
} as const;

export interface AdminReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** Runs once the response has been written (e.g. quitting), or null. */
  readonly afterSend: (() => void) | null;
  /** A body too large to hold as a string (a heap snapshot), streamed instead of `body`; or null. */
  readonly stream: Readable | null;
  /** Headers beyond content-type and the admin's own, or null. */
  readonly headers: Readonly<Record<string, string>> | null;
}

export function textReply(body: string, status = 200, afterSend: (() => void) | null = null): AdminReply {
  return { status, contentType: ContentType.TEXT, body, afterSend, stream: null, headers: null };
}

/** Pretty JSON with one-space indentation, as Envoy prints protobuf messages. */
export function jsonReply(value: unknown, status = 200): AdminReply {
  return { status, contentType: ContentType.JSON, body: `${JSON.stringify(value, null, 1)}\n`, afterSend: null, stream: null, headers: null };
}

export function reply(status: number, contentType: string, body: string, headers: Readonly<Record<string, string>> | null = null): AdminReply {
  return { status, contentType, body, afterSend: null, stream: null, headers };
}

export function streamReply(contentType: string, stream: Readable): AdminReply {
  return { status: 200, contentType, body: '', afterSend: null, stream, headers: null };
}
