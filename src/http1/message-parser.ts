// Any thread (pure). The incremental HTTP/1.1 engine behind RequestParser and ResponseParser: finds message heads,
// frames bodies (Content-Length, chunked with trailers, until-close, tunnel), and supports pause/resume from inside
// callbacks. One instance per connection; its own shape never changes, so every call site stays monomorphic.
//
// Heads: the common case (a whole head inside one chunk) is found with one indexOf("\r\n\r\n") and parsed in place.
// A head split across chunks is copied line by line into a per-connection scratch buffer, looking only at the new
// bytes each time (never re-scanning what was already seen), and parsed once its empty line arrives.
// Bodies are handed out as subarray views of the input, never copied — unless the input is transient (a view of a
// read buffer the next read overwrites: src/common/shared-read-buffer.ts); then what outlives execute() (body
// chunks, input kept while paused) is copied, and nothing else is.

import type { HeaderList } from '../http/stream-info.ts';
import { CR, CRLFCRLF, HEX, HTAB, LF, QDTEXT, SP, TOKEN } from './char-tables.ts';
import {
  E_BARE_LF, E_BODY_NOT_ALLOWED, E_CONTENT_LENGTH_AND_CHUNKED, E_HEAD_TOO_LARGE, E_INCOMPLETE_MESSAGE,
  E_INVALID_CHUNK_EXTENSION, E_INVALID_CHUNK_SIZE, E_INVALID_TRANSFER_ENCODING, E_MISSING_CHUNK_CRLF,
  E_TRANSFER_ENCODING_HTTP10, E_UNEXPECTED_SWITCHING_PROTOCOLS, E_UNSOLICITED_RESPONSE, E_BODILESS_STATUS_FRAMING,
  E_UNSUPPORTED_TRANSFER_ENCODING, E_URI_TOO_LONG, requestError, responseError,
} from './errors.ts';
import {
  collectNominatedFields, parseFields, parseRequestLine, parseStatusLine, removeFields,
} from './head-parser.ts';
import { CONN_CLOSE, CONN_KEEP_ALIVE, CONN_NOMINATES, CONN_UPGRADE, HeadState, UPGRADE_PRESENT } from './head-state.ts';
import type {
  Http1Limits, Http1RequestCallbacks, Http1ResponseCallbacks, RequestHead, ResponseHead,
} from './types.ts';
import { copyOut } from './input-copy.ts';

// Parser states.
const S_HEAD = 0;
/** Content-Length body; `remaining` bytes to go. */
const S_BODY = 1;
/** Hex digits of a chunk-size line. */
const S_CHUNK_SIZE = 2;
/** Chunk extensions after ';' (sub-state in `extState`). */
const S_CHUNK_EXT = 3;
/** CR seen at the end of a chunk-size line; LF must follow. */
const S_CHUNK_SIZE_LF = 4;
const S_CHUNK_DATA = 5;
const S_CHUNK_DATA_CR = 6;
const S_CHUNK_DATA_LF = 7;
const S_TRAILERS = 8;
/** The message ended; onComplete is still to be delivered (the consumer paused first). */
const S_COMPLETE = 9;
/** A response body delimited by the connection closing. */
const S_UNTIL_CLOSE = 10;
/** After an upgrade/CONNECT: every byte is body, raw. */
const S_TUNNEL = 11;
/** After a message that ends the connection (Connection: close): later bytes are ignored, never parsed. */
const S_DISCARD = 12;
/**
 * Response side: a response ended and the connection stays open, but no request is outstanding until the next
 * expectResponse(). A byte here (other than CR/LF) would answer a request not yet sent: an error, never parsed.
 */
const S_AWAIT_REQUEST = 13;
/** States at or above S_ERROR take no more input. */
const S_ERROR = 14;
const S_CLOSED = 15;

// Chunk-extension sub-states (RFC 9112 §7.1.1):
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), chunk-ext-val = token / quoted-string
// BWS is SP / HTAB. Whitespace is allowed only where the grammar has BWS: never before the CRLF, never inside a
// token, never after the size unless a ";" follows.
/** After ';' (and BWS): a name must start. */
const X_NAME_START = 0;
const X_NAME = 1;
/** After '=' (and BWS): a value must start. */
const X_VALUE_START = 2;
const X_VALUE_TOKEN = 3;
const X_QUOTED = 4;
const X_QUOTED_ESCAPE = 5;
const X_AFTER_QUOTED = 6;
/** BWS after the chunk size: only more BWS or ';' may follow (anything else is a malformed chunk size). */
const X_SIZE_BWS = 7;
/** BWS after a name: '=', ';' or more BWS. */
const X_NAME_BWS = 8;
/** BWS after a value: ';' or more BWS. */
const X_VALUE_BWS = 9;

/** Largest chunk size that can take one more hex digit without passing 2^53. */
const MAX_CHUNK_SIZE_BEFORE_DIGIT = Math.floor((Number.MAX_SAFE_INTEGER - 15) / 16);
/** Scratch buffers larger than this are dropped after use, so one big head does not pin memory for the connection. */
const SCRATCH_KEEP_BYTES = 16 * 1024;
const SCRATCH_INITIAL_BYTES = 1024;
const EMPTY = Buffer.alloc(0);

interface Latin1Decoder {
  /** Buffer's internal latin1 decoder (present in every Node version), cheaper than toString('latin1', s, e). */
  latin1Slice(start: number, end: number): string;
}

export class MessageParser {
  private readonly isResponse: boolean;
  private readonly maxHeadBytes: number;
  private readonly maxHeadersCount: number;
  private readonly requestCallbacks: Http1RequestCallbacks | null;
  private readonly responseCallbacks: Http1ResponseCallbacks | null;
  private readonly head: HeadState;

  private state: number;
  private paused: boolean;
  /** Inside run(): callbacks may be on the stack; resume()/execute() there only flag or queue. */
  private executing: boolean;
  /** finish() arrived while paused or executing; applied once the kept bytes are parsed. */
  private finishPending: boolean;
  /** Bumped by reset() so a loop interrupted by a reset inside a callback stops touching state. */
  private epoch: number;
  /** Unparsed input held while paused (or queued by a re-entrant execute). */
  private kept: Buffer | null;
  /**
   * The input handed to execute() is only valid during the call (a shared read buffer): body chunks and kept input
   * are copied. Set by the connection that feeds the parser, before its first execute().
   */
  transientInput: boolean;

  private scratch: Buffer | null;
  private scratchLen: number;
  /** Offset in scratch where the line being collected starts. */
  private lineStart: number;

  /** Body bytes left in the Content-Length body or the current chunk. */
  private remaining: number;
  private chunkDigits: number;
  private chunkLineBytes: number;
  private extState: number;
  private trailers: HeaderList | null;
  /** The current message leaves the connection open for another one. */
  private keepAlive: boolean;
  /** Fields this message's Connection header nominated (removed from its head and trailers); usually null. */
  private nominated: Set<string> | null;

  /** Response side: the request was HEAD (no body) / CONNECT (2xx opens a tunnel) / asked for an upgrade (101 may). */
  private expectNoBody: boolean;
  private expectConnect: boolean;
  private expectUpgrade: boolean;

  constructor(
    limits: Http1Limits,
    requestCallbacks: Http1RequestCallbacks | null,
    responseCallbacks: Http1ResponseCallbacks | null,
  ) {
    this.isResponse = responseCallbacks !== null;
    this.maxHeadBytes = limits.maxHeadBytes;
    this.maxHeadersCount = limits.maxHeadersCount;
    this.requestCallbacks = requestCallbacks;
    this.responseCallbacks = responseCallbacks;
    this.head = new HeadState();
    this.state = S_HEAD;
    this.paused = false;
    this.executing = false;
    this.finishPending = false;
    this.epoch = 0;
    this.kept = null;
    this.transientInput = false;
    this.scratch = null;
    this.scratchLen = 0;
    this.lineStart = 0;
    this.remaining = 0;
    this.chunkDigits = 0;
    this.chunkLineBytes = 0;
    this.extState = X_NAME_START;
    this.trailers = null;
    this.keepAlive = true;
    this.nominated = null;
    this.expectNoBody = false;
    this.expectConnect = false;
    this.expectUpgrade = false;
  }

  // ---- driving ----

  execute(chunk: Buffer): void {
    if (this.state >= S_ERROR || chunk.length === 0) return;
    if (this.paused || this.executing) {
      this.kept = this.kept === null ? (this.transientInput ? copyOut(chunk) : chunk) : Buffer.concat([this.kept, chunk]);
      return;
    }
    this.run(chunk);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.executing || this.state >= S_ERROR) return;
    const kept = this.kept;
    if (kept !== null || this.state === S_COMPLETE) {
      this.kept = null;
      this.run(kept ?? EMPTY);
    } else if (this.finishPending) {
      this.finishPending = false;
      this.finishNow();
    }
  }

  isPaused(): boolean {
    return this.paused;
  }

  /** Unparsed input held while paused (overload accounting; not for the request path). */
  keptBytes(): number {
    return this.kept === null ? 0 : this.kept.length;
  }

  finish(): void {
    if (this.state >= S_ERROR) return;
    if (this.paused || this.executing) {
      this.finishPending = true;
      return;
    }
    this.finishNow();
  }

  reset(): void {
    this.epoch++;
    this.state = S_HEAD;
    this.paused = false;
    this.executing = false;
    this.finishPending = false;
    this.kept = null;
    this.scratchLen = 0;
    this.lineStart = 0;
    if (this.scratch !== null && this.scratch.length > SCRATCH_KEEP_BYTES) this.scratch = null;
    this.remaining = 0;
    this.trailers = null;
    this.keepAlive = true;
    this.nominated = null;
    this.expectNoBody = false;
    this.expectConnect = false;
    this.expectUpgrade = false;
  }

  expectResponse(requestMethod: string, upgrade: boolean): void {
    this.expectNoBody = requestMethod === 'HEAD';
    this.expectConnect = requestMethod === 'CONNECT';
    this.expectUpgrade = upgrade;
    if (this.state === S_AWAIT_REQUEST) this.state = S_HEAD;
  }

  private run(first: Buffer): void {
    this.executing = true;
    const epoch = this.epoch;
    let buf = first;
    let pos = 0;
    try {
      for (;;) {
        if (pos < buf.length || this.state === S_COMPLETE) {
          pos = this.step(buf, pos);
          if (this.epoch !== epoch) return;
          if (this.paused) {
            if (pos < buf.length) this.keepFront(buf, pos);
            break;
          }
          if (this.state >= S_ERROR) break;
          continue;
        }
        const next = this.kept;
        if (next === null) break;
        this.kept = null;
        buf = next;
        pos = 0;
      }
    } finally {
      if (this.epoch === epoch) this.executing = false;
    }
    if (this.finishPending && !this.paused && this.state < S_ERROR) {
      this.finishPending = false;
      this.finishNow();
    }
  }

  /** Keeps buf[pos..] ahead of anything already kept. */
  private keepFront(buf: Buffer, pos: number): void {
    const rest = pos === 0 ? buf : buf.subarray(pos);
    this.kept = this.kept === null ? (this.transientInput ? copyOut(rest) : rest) : Buffer.concat([rest, this.kept]);
  }

  private step(buf: Buffer, pos: number): number {
    switch (this.state) {
      case S_HEAD:
        return this.stepHead(buf, pos);
      case S_BODY:
        return this.stepBody(buf, pos);
      case S_CHUNK_SIZE:
        return this.stepChunkSize(buf, pos);
      case S_CHUNK_EXT:
        return this.stepChunkExtension(buf, pos);
      case S_CHUNK_SIZE_LF:
        return this.stepChunkSizeLf(buf, pos);
      case S_CHUNK_DATA:
        return this.stepChunkData(buf, pos);
      case S_CHUNK_DATA_CR:
        if (buf[pos] !== CR) return this.fail(E_MISSING_CHUNK_CRLF, buf);
        this.state = S_CHUNK_DATA_LF;
        return pos + 1;
      case S_CHUNK_DATA_LF:
        if (buf[pos] !== LF) return this.fail(E_MISSING_CHUNK_CRLF, buf);
        this.beginChunkSize();
        return pos + 1;
      case S_TRAILERS:
        return this.stepTrailers(buf, pos);
      case S_COMPLETE:
        this.emitComplete();
        return pos;
      case S_UNTIL_CLOSE:
      case S_TUNNEL:
        this.emitBody(pos === 0 ? buf : buf.subarray(pos));
        return buf.length;
      case S_AWAIT_REQUEST:
        // Empty lines between responses are tolerated (as llhttp); anything else is a response to nothing.
        if (buf[pos] === CR || buf[pos] === LF) return pos + 1;
        return this.fail(E_UNSOLICITED_RESPONSE, buf);
      default:
        // S_DISCARD: the connection is ending; nothing after that message may be taken as a new one.
        return buf.length;
    }
  }

  // ---- heads ----

  private stepHead(buf: Buffer, pos: number): number {
    const len = buf.length;
    if (this.scratchLen === 0) {
      // RFC 9112 §2.2: empty lines before a start line are ignored.
      while (pos + 1 < len && buf[pos] === CR && buf[pos + 1] === LF) pos += 2;
      if (pos === len) return pos;
      const e = buf.indexOf(CRLFCRLF, pos);
      if (e !== -1 && e + 4 - pos <= this.maxHeadBytes) {
        this.onHeadBytes(buf, pos, e + 4);
        return e + 4;
      }
      // Incomplete, or too large: the line-by-line path decides, so the verdict does not depend on chunking.
    }
    return this.collectLines(buf, pos, false);
  }

  /**
   * Slow path for a head or trailer section split across chunks: copies whole lines into scratch, checking each
   * LF has its CR, until the empty line; then parses the section from scratch once. A bare LF fails at once, but
   * with the first fault of the section so far in byte order (what parsing the whole section in one piece would
   * report), and the size limit applies to the bytes in order too: the same bytes give the same error however
   * they are cut.
   */
  private collectLines(buf: Buffer, pos: number, trailers: boolean): number {
    const len = buf.length;
    for (;;) {
      const lf = buf.indexOf(LF, pos);
      const stop = lf === -1 ? len : lf + 1;
      if (this.scratchLen + (stop - pos) > this.maxHeadBytes) {
        // Still inside a request's first line: its target is what is too long (RFC 9112 §3: 414).
        return this.fail(this.lineStart === 0 && !trailers && !this.isResponse ? E_URI_TOO_LONG : E_HEAD_TOO_LARGE, buf);
      }
      this.appendScratch(buf, pos, stop);
      pos = stop;
      if (lf === -1) return pos;
      const scratch = this.scratch!;
      const q = this.scratchLen - 1;
      if (q === 0 || scratch[q - 1] !== CR) {
        this.failSection(scratch, this.scratchLen, trailers);
        return len;
      }
      if (q - this.lineStart > 1) {
        this.lineStart = this.scratchLen;
        continue;
      }
      // An empty line: before any start line it is skipped; otherwise it ends the section.
      const sectionLen = this.scratchLen;
      const first = this.lineStart === 0;
      this.scratchLen = 0;
      this.lineStart = 0;
      if (first) {
        if (trailers) this.endTrailers(null);
        return pos;
      }
      if (trailers) this.onTrailerBytes(scratch, 0, sectionLen);
      else this.onHeadBytes(scratch, 0, sectionLen);
      if (scratch.length > SCRATCH_KEEP_BYTES && this.scratch === scratch) this.scratch = null;
      return pos;
    }
  }

  private appendScratch(buf: Buffer, from: number, to: number): void {
    const need = this.scratchLen + (to - from);
    let scratch = this.scratch;
    if (scratch === null || need > scratch.length) {
      let size = scratch === null ? SCRATCH_INITIAL_BYTES : scratch.length * 2;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, Math.max(need, this.maxHeadBytes)));
      if (scratch !== null) scratch.copy(grown, 0, 0, this.scratchLen);
      this.scratch = scratch = grown;
    }
    if (to - from < 32) {
      let w = this.scratchLen;
      for (let i = from; i < to; i++) scratch[w++] = buf[i]!;
    } else {
      buf.copy(scratch, this.scratchLen, from, to);
    }
    this.scratchLen = need;
  }

  /** A whole head is in buf[start, end) (end just past its CRLFCRLF): parse, frame, report. */
  private onHeadBytes(buf: Buffer, start: number, end: number): void {
    const h = this.head;
    h.begin();
    const str = (buf as unknown as Latin1Decoder).latin1Slice(start, end);
    let i = this.isResponse ? parseStatusLine(h, buf, start, str, start) : parseRequestLine(h, buf, start, str, start);
    if (i >= 0) i = parseFields(h, buf, i, str, start, this.maxHeadersCount, true, !this.isResponse);
    if (i < 0) {
      this.fail(-i, buf);
      return;
    }
    if (this.isResponse) this.dispatchResponseHead();
    else this.dispatchRequestHead();
  }

  /**
   * Rejects a head or trailer section that ends, so far, in a bare LF: parsing it stops at its first fault, which
   * is that LF or something before it (no empty line can precede it: that would have ended the section).
   */
  private failSection(buf: Buffer, end: number, trailers: boolean): void {
    const h = this.head;
    h.begin();
    const str = (buf as unknown as Latin1Decoder).latin1Slice(0, end);
    let i: number;
    if (trailers) {
      i = parseFields(h, buf, 0, str, 0, this.maxHeadersCount, false, false);
    } else {
      i = this.isResponse ? parseStatusLine(h, buf, 0, str, 0) : parseRequestLine(h, buf, 0, str, 0);
      if (i >= 0) i = parseFields(h, buf, i, str, 0, this.maxHeadersCount, true, !this.isResponse);
    }
    this.fail(i < 0 ? -i : E_BARE_LF, buf);
  }

  /** Transfer-Encoding rules shared by both directions; returns `chunked`, or -errorId. */
  private transferFraming(): number {
    const h = this.head;
    if (h.teLines === 0) return 0;
    // Envoy's defaults: CL together with TE is refused (smuggling), and only a plain "chunked" is supported.
    if (h.contentLength !== -1) return -E_CONTENT_LENGTH_AND_CHUNKED;
    if (h.versionMinor === 0) return -E_TRANSFER_ENCODING_HTTP10;
    if (h.teMalformed || !h.teLastChunked || h.teChunked > 1) return -E_INVALID_TRANSFER_ENCODING;
    if (h.teCodings > 1) return -E_UNSUPPORTED_TRANSFER_ENCODING;
    return 1;
  }

  /**
   * Removes the fields the head's Connection header nominates (RFC 9110 §7.6.1), before anyone sees the head, so
   * the proxy's own fields (x-forwarded-for, x-request-id, route mutations) are added after and never removed.
   * Returns 0 or an error id (a request nominating what it may not).
   */
  private removeNominated(): number {
    this.nominated = null;
    const h = this.head;
    if ((h.connection & CONN_NOMINATES) === 0) return 0;
    const names = new Set<string>();
    const err = collectNominatedFields(h.headers, !this.isResponse, names);
    if (err !== 0) return err;
    if (names.size > 0) {
      removeFields(h.headers, names);
      this.nominated = names;
    }
    return 0;
  }

  private dispatchRequestHead(): void {
    const h = this.head;
    const framing = this.transferFraming();
    if (framing < 0) {
      this.fail(-framing, EMPTY);
      return;
    }
    const nominateErr = this.removeNominated();
    if (nominateErr !== 0) {
      this.fail(nominateErr, EMPTY);
      return;
    }
    const chunked = framing === 1;
    const contentLength = h.contentLength;
    const method = h.method;
    const upgrade = method === 'CONNECT' || ((h.connection & CONN_UPGRADE) !== 0 && h.upgrade === UPGRADE_PRESENT);
    // A tunnel starts right after the head: a body framed before it would be ambiguous (Envoy rejects CONNECT
    // bodies; llhttp would read the body and then tunnel).
    if (upgrade && (chunked || contentLength > 0)) {
      this.fail(E_BODY_NOT_ALLOWED, EMPTY);
      return;
    }
    const keepAlive = h.versionMinor === 1
      ? (h.connection & CONN_CLOSE) === 0
      : (h.connection & (CONN_CLOSE | CONN_KEEP_ALIVE)) === CONN_KEEP_ALIVE;
    this.keepAlive = keepAlive;
    this.trailers = null;
    if (upgrade) this.state = S_TUNNEL;
    else if (chunked) this.beginChunkSize();
    else if (contentLength > 0) {
      this.state = S_BODY;
      this.remaining = contentLength;
    } else {
      this.state = S_COMPLETE;
    }
    const head: RequestHead = {
      method,
      target: h.target,
      versionMinor: h.versionMinor,
      headers: h.headers,
      contentLength,
      chunked,
      keepAlive,
      upgrade,
    };
    this.requestCallbacks!.onRequestHead(head);
  }

  private dispatchResponseHead(): void {
    const h = this.head;
    const framing = this.transferFraming();
    if (framing < 0) {
      this.fail(-framing, EMPTY);
      return;
    }
    this.removeNominated();
    const chunked = framing === 1;
    const status = h.statusCode;
    const contentLength = h.contentLength;
    if ((status < 200 || status === 204) && (h.teLines !== 0 || contentLength > 0)) {
      // No body can follow: a length or coding would frame bytes that belong to nothing (as Envoy, an error).
      this.fail(E_BODILESS_STATUS_FRAMING, EMPTY);
      return;
    }
    let keepAlive = h.versionMinor === 1
      ? (h.connection & CONN_CLOSE) === 0
      : (h.connection & (CONN_CLOSE | CONN_KEEP_ALIVE)) === CONN_KEEP_ALIVE;
    let readUntilClose = false;
    this.trailers = null;
    if (status < 200 && status !== 101) {
      // Interim: reported, no body, the final head follows (state stays S_HEAD, expectations kept).
      this.state = S_HEAD;
    } else if (status === 101 && !this.expectUpgrade) {
      // A tunnel the request never asked for: taking it would hand the connection's later bytes to nobody.
      this.fail(E_UNEXPECTED_SWITCHING_PROTOCOLS, EMPTY);
      return;
    } else if (status === 101 || (this.expectConnect && status < 300)) {
      this.state = S_TUNNEL;
      keepAlive = false;
    } else if (this.expectNoBody || status === 204 || status === 304) {
      this.state = S_COMPLETE;
    } else if (chunked) {
      this.beginChunkSize();
    } else if (contentLength > 0) {
      this.state = S_BODY;
      this.remaining = contentLength;
    } else if (contentLength === 0) {
      this.state = S_COMPLETE;
    } else {
      this.state = S_UNTIL_CLOSE;
      readUntilClose = true;
      keepAlive = false;
    }
    this.keepAlive = keepAlive;
    const head: ResponseHead = {
      statusCode: status,
      reason: h.reason,
      versionMinor: h.versionMinor,
      headers: h.headers,
      contentLength,
      chunked,
      keepAlive,
      readUntilClose,
    };
    this.responseCallbacks!.onResponseHead(head);
  }

  // ---- bodies ----

  private stepBody(buf: Buffer, pos: number): number {
    const avail = buf.length - pos;
    let n = this.remaining;
    if (n > avail) n = avail;
    this.remaining -= n;
    if (this.remaining === 0) this.state = S_COMPLETE;
    this.emitBody(n === buf.length ? buf : buf.subarray(pos, pos + n));
    return pos + n;
  }

  private beginChunkSize(): void {
    this.state = S_CHUNK_SIZE;
    this.remaining = 0;
    this.chunkDigits = 0;
    this.chunkLineBytes = 0;
  }

  /** chunk-size = 1*HEXDIG, then CRLF, or extensions (';', or BWS then ';'). */
  private stepChunkSize(buf: Buffer, pos: number): number {
    const len = buf.length;
    let size = this.remaining;
    while (pos < len) {
      const c = buf[pos]!;
      const d = HEX[c]!;
      if (d >= 0) {
        if (size > MAX_CHUNK_SIZE_BEFORE_DIGIT) return this.fail(E_INVALID_CHUNK_SIZE, buf);
        size = size * 16 + d;
        this.chunkDigits++;
        pos++;
        continue;
      }
      if (this.chunkDigits === 0) return this.fail(E_INVALID_CHUNK_SIZE, buf);
      this.remaining = size;
      if (c === CR) {
        this.state = S_CHUNK_SIZE_LF;
        return pos + 1;
      }
      if (c === 0x3b || c === SP || c === HTAB) {
        this.state = S_CHUNK_EXT;
        this.extState = c === 0x3b ? X_NAME_START : X_SIZE_BWS;
        this.chunkLineBytes = this.chunkDigits + 1;
        return pos + 1;
      }
      return this.fail(E_INVALID_CHUNK_SIZE, buf);
    }
    this.remaining = size;
    return pos;
  }

  private stepChunkExtension(buf: Buffer, pos: number): number {
    const len = buf.length;
    const start = pos;
    let x = this.extState;
    while (pos < len) {
      const c = buf[pos]!;
      if (c === CR && (x === X_NAME || x === X_VALUE_TOKEN || x === X_AFTER_QUOTED)) {
        if (this.chunkLineBytes + (pos - start) > this.maxHeadBytes) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
        this.state = S_CHUNK_SIZE_LF;
        return pos + 1;
      }
      const ws = c === SP || c === HTAB;
      switch (x) {
        case X_SIZE_BWS:
          if (c === 0x3b) x = X_NAME_START;
          else if (!ws) return this.fail(E_INVALID_CHUNK_SIZE, buf);
          break;
        case X_NAME_START:
          if (ws) break;
          if (TOKEN[c] === 0) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
          x = X_NAME;
          break;
        case X_NAME:
        case X_NAME_BWS:
          if (c === 0x3d) x = X_VALUE_START;
          else if (c === 0x3b) x = X_NAME_START;
          else if (ws) x = X_NAME_BWS;
          else if (x === X_NAME_BWS || TOKEN[c] === 0) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
          break;
        case X_VALUE_START:
          if (c === 0x22) x = X_QUOTED;
          else if (TOKEN[c] !== 0) x = X_VALUE_TOKEN;
          else if (!ws) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
          break;
        case X_VALUE_TOKEN:
          if (c === 0x3b) x = X_NAME_START;
          else if (ws) x = X_VALUE_BWS;
          else if (TOKEN[c] === 0) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
          break;
        case X_QUOTED:
          if (c === 0x22) x = X_AFTER_QUOTED;
          else if (c === 0x5c) x = X_QUOTED_ESCAPE;
          else if (QDTEXT[c] === 0) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
          break;
        case X_QUOTED_ESCAPE:
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ): QDTEXT plus '"' and '\'.
          if (QDTEXT[c] === 0 && c !== 0x22 && c !== 0x5c) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
          x = X_QUOTED;
          break;
        default:
          // X_AFTER_QUOTED, X_VALUE_BWS
          if (c === 0x3b) x = X_NAME_START;
          else if (ws) x = X_VALUE_BWS;
          else return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
      }
      pos++;
    }
    this.extState = x;
    this.chunkLineBytes += pos - start;
    // Extensions are ignored but must not let a peer stream an endless line.
    if (this.chunkLineBytes > this.maxHeadBytes) return this.fail(E_INVALID_CHUNK_EXTENSION, buf);
    return pos;
  }

  private stepChunkSizeLf(buf: Buffer, pos: number): number {
    if (buf[pos] !== LF) return this.fail(E_INVALID_CHUNK_SIZE, buf);
    if (this.remaining === 0) {
      this.state = S_TRAILERS;
    } else {
      this.state = S_CHUNK_DATA;
    }
    return pos + 1;
  }

  private stepChunkData(buf: Buffer, pos: number): number {
    const avail = buf.length - pos;
    let n = this.remaining;
    if (n > avail) n = avail;
    this.remaining -= n;
    if (this.remaining === 0) this.state = S_CHUNK_DATA_CR;
    this.emitBody(n === buf.length ? buf : buf.subarray(pos, pos + n));
    return pos + n;
  }

  private stepTrailers(buf: Buffer, pos: number): number {
    if (this.scratchLen === 0) {
      const len = buf.length;
      if (pos + 1 < len && buf[pos] === CR && buf[pos + 1] === LF) {
        this.endTrailers(null);
        return pos + 2;
      }
      const e = buf.indexOf(CRLFCRLF, pos);
      if (e !== -1 && e + 4 - pos <= this.maxHeadBytes) {
        this.onTrailerBytes(buf, pos, e + 4);
        return e + 4;
      }
    }
    return this.collectLines(buf, pos, true);
  }

  private onTrailerBytes(buf: Buffer, start: number, end: number): void {
    const h = this.head;
    h.begin();
    const str = (buf as unknown as Latin1Decoder).latin1Slice(start, end);
    const i = parseFields(h, buf, start, str, start, this.maxHeadersCount, false, false);
    if (i < 0) {
      this.fail(-i, buf);
      return;
    }
    if (this.nominated !== null) removeFields(h.headers, this.nominated);
    this.endTrailers(h.headers);
  }

  private endTrailers(trailers: HeaderList | null): void {
    this.trailers = trailers;
    this.state = S_COMPLETE;
  }

  // ---- callbacks ----

  private emitBody(chunk: Buffer): void {
    if (this.transientInput) chunk = copyOut(chunk);
    if (this.isResponse) this.responseCallbacks!.onResponseBody(chunk);
    else this.requestCallbacks!.onRequestBody(chunk);
  }

  private emitComplete(): void {
    const trailers = this.trailers;
    this.trailers = null;
    if (this.isResponse) {
      this.state = this.keepAlive ? S_AWAIT_REQUEST : S_DISCARD;
      this.expectNoBody = false;
      this.expectConnect = false;
      this.expectUpgrade = false;
      this.responseCallbacks!.onResponseComplete(trailers);
    } else {
      this.state = this.keepAlive ? S_HEAD : S_DISCARD;
      this.requestCallbacks!.onRequestComplete(trailers);
    }
  }

  /** Rejects the message: no more input is taken. Returns buf.length so a step can `return this.fail(...)`. */
  private fail(errorId: number, buf: Buffer): number {
    this.state = S_ERROR;
    this.kept = null;
    this.finishPending = false;
    if (this.isResponse) this.responseCallbacks!.onResponseError(responseError(errorId));
    else this.requestCallbacks!.onRequestError(requestError(errorId));
    return buf.length;
  }

  /** The peer closed its side: a tunnel or until-close body ends normally; a partial message is an error. */
  private finishNow(): void {
    switch (this.state) {
      case S_HEAD:
        // A lone CR kept from the end of the input is half an empty line, not half a message.
        if (this.scratchLen > 0 && !(this.scratchLen === 1 && this.scratch![0] === CR)) {
          this.fail(E_INCOMPLETE_MESSAGE, EMPTY);
          return;
        }
        this.state = S_CLOSED;
        return;
      case S_DISCARD:
      case S_AWAIT_REQUEST:
        this.state = S_CLOSED;
        return;
      case S_UNTIL_CLOSE:
      case S_TUNNEL:
        this.keepAlive = false;
        this.emitComplete();
        // emitComplete moved to S_DISCARD unless the callback reset the parser.
        if ((this.state as number) === S_DISCARD) this.state = S_CLOSED;
        return;
      default:
        this.fail(E_INCOMPLETE_MESSAGE, EMPTY);
    }
  }
}
