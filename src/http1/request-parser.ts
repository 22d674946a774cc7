// Any thread (pure). Downstream side of the HTTP/1.1 codec: parses requests from a client connection.
// Runs on a worker thread in the product (one per accepted connection), but holds no thread state.

import { MessageParser } from './message-parser.ts';
import type { Http1Limits, Http1RequestCallbacks } from './types.ts';

/**
 * Parses pipelined HTTP/1.1 requests, calling `callbacks` synchronously from execute()/resume()/finish():
 * onRequestHead once the head is complete and valid (a rejected head is never reported, only onRequestError),
 * then onRequestBody views, then onRequestComplete. A message whose head carries `upgrade: true` switches the
 * parser to tunnel mode: every later byte goes to onRequestBody raw, and finish() reports onRequestComplete(null).
 * After a request that closes the connection (keepAlive false), later bytes are ignored.
 */
export class RequestParser {
  private readonly core: MessageParser;

  constructor(limits: Http1Limits, callbacks: Http1RequestCallbacks) {
    this.core = new MessageParser(limits, callbacks, null);
  }

  /**
   * The chunks given to execute() are views of a read buffer that is reused after the call (shared-buffer reads):
   * body chunks handed out, and input kept while paused, are then copies.
   */
  setTransientInput(transient: boolean): void {
    this.core.transientInput = transient;
  }

  /** Feeds bytes as they arrive. While paused they are kept (unparsed) for resume(). */
  execute(chunk: Buffer): void {
    this.core.execute(chunk);
  }

  /** Stops after the current callback (may be called inside one); the rest of the input is kept. */
  pause(): void {
    this.core.pause();
  }

  /** Parses what was kept, synchronously (inside a callback it just lets the running parse continue). */
  resume(): void {
    this.core.resume();
  }

  isPaused(): boolean {
    return this.core.isPaused();
  }

  /** Bytes received and not parsed yet (held while paused): what reset_high_memory_stream counts of the parser. */
  keptBytes(): number {
    return this.core.keptBytes();
  }

  /** The client closed its side: an incomplete request is an error; a tunnel ends with onRequestComplete(null). */
  finish(): void {
    this.core.finish();
  }

  /** Forgets everything, ready for a new connection. */
  reset(): void {
    this.core.reset();
  }
}
