// Any thread (pure). Upstream side of the HTTP/1.1 codec: parses responses on a connection to an upstream host.
// Runs on a worker thread in the product (one per upstream connection), but holds no thread state.

import { MessageParser } from './message-parser.ts';
import type { Http1Limits, Http1ResponseCallbacks } from './types.ts';

/**
 * Parses HTTP/1.1 responses, calling `callbacks` synchronously. Before each request is sent, call
 * expectResponse(method, upgrade) so the body rules apply: HEAD responses have no body, a 2xx to CONNECT and a 101
 * to a request that asked for an upgrade open a tunnel (all later bytes go to onResponseBody raw; finish() then
 * reports onResponseComplete(null)), 1xx/204/304 have no body. Interim 1xx heads (other than 101) are reported
 * through onResponseHead and followed by the final head. A response with neither Content-Length nor chunked framing
 * reads until finish(), which completes it. The upstream is untrusted: a 101 nobody asked for, and bytes after a
 * complete response before the next expectResponse() (a 204 with a body, say), are errors, never parsed as a
 * response to the next request. Any malformed response is reported once through onResponseError (the proxy
 * answers 502 and drops the connection).
 */
export class ResponseParser {
  private readonly core: MessageParser;

  constructor(limits: Http1Limits, callbacks: Http1ResponseCallbacks) {
    this.core = new MessageParser(limits, null, callbacks);
  }

  /**
   * The chunks given to execute() are views of a read buffer that is reused after the call (shared-buffer reads):
   * body chunks handed out, and input kept while paused, are then copies.
   */
  setTransientInput(transient: boolean): void {
    this.core.transientInput = transient;
  }

  /**
   * Sets the method of the request whose response comes next, and whether it asked for an upgrade (kept across
   * interim 1xx heads). Call it before writing the request.
   */
  expectResponse(requestMethod: string, upgrade = false): void {
    this.core.expectResponse(requestMethod, upgrade);
  }

  execute(chunk: Buffer): void {
    this.core.execute(chunk);
  }

  pause(): void {
    this.core.pause();
  }

  resume(): void {
    this.core.resume();
  }

  isPaused(): boolean {
    return this.core.isPaused();
  }

  /** The upstream closed: ends an until-close body or a tunnel normally; a partial response is an error. */
  finish(): void {
    this.core.finish();
  }

  reset(): void {
    this.core.reset();
  }
}
