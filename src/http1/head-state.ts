// Any thread (pure). What parsing one message head (or a trailer section) found: the start line, the fields, and
// a summary of the framing headers, gathered in the same pass so nothing is scanned twice. One per parser, reused.

import type { HeaderList } from '../http/stream-info.ts';

/** Connection header tokens seen (bit set). */
export const CONN_CLOSE = 1;
export const CONN_KEEP_ALIVE = 2;
export const CONN_UPGRADE = 4;
/**
 * Connection names an option other than close, keep-alive and upgrade: (most likely) a field meant for this hop
 * only, which the parser removes before the head is reported (RFC 9110 §7.6.1). Never set without a Connection
 * field, so the common head pays nothing for it.
 */
export const CONN_NOMINATES = 8;

/** Upgrade header: absent, present, or only "h2c" (which Envoy ignores: h2c upgrades are not tunnelled). */
export const UPGRADE_NONE = 0;
export const UPGRADE_PRESENT = 1;
export const UPGRADE_H2C = 2;

export class HeadState {
  method: string;
  target: string;
  versionMinor: number;
  statusCode: number;
  reason: string;
  headers: HeaderList;
  /** Fields in this head (or trailer section), checked against maxHeadersCount. */
  fieldCount: number;
  /** Content-Length value, -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding lines seen. */
  teLines: number;
  /** Transfer codings listed across all Transfer-Encoding lines. */
  teCodings: number;
  /** How many of them are "chunked". */
  teChunked: number;
  /** The last coding listed is "chunked". */
  teLastChunked: boolean;
  /** A Transfer-Encoding element was empty or not a token. */
  teMalformed: boolean;
  connection: number;
  hostCount: number;
  upgrade: number;

  constructor() {
    this.method = '';
    this.target = '';
    this.versionMinor = 1;
    this.statusCode = 0;
    this.reason = '';
    this.headers = [];
    this.fieldCount = 0;
    this.contentLength = -1;
    this.teLines = 0;
    this.teCodings = 0;
    this.teChunked = 0;
    this.teLastChunked = false;
    this.teMalformed = false;
    this.connection = 0;
    this.hostCount = 0;
    this.upgrade = UPGRADE_NONE;
  }

  /** Fresh state for the next head; `headers` is a new list because the previous one was handed out. */
  begin(): void {
    this.method = '';
    this.target = '';
    this.versionMinor = 1;
    this.statusCode = 0;
    this.reason = '';
    this.headers = [];
    this.fieldCount = 0;
    this.contentLength = -1;
    this.teLines = 0;
    this.teCodings = 0;
    this.teChunked = 0;
    this.teLastChunked = false;
    this.teMalformed = false;
    this.connection = 0;
    this.hostCount = 0;
    this.upgrade = UPGRADE_NONE;
  }
}
