// Worker thread. A stream's compressor or decompressor (gzip, brotli, zstd) over node:zlib, run synchronously on the
// worker as Envoy runs its compression libraries on its worker: each body chunk goes in and its output comes out in
// the same call (flushed per chunk, as Envoy flushes per data frame), so nothing is buffered and nothing reorders.
//
// node:zlib offers streaming only asynchronously (through the thread pool) and synchronous one-shot calls; the
// synchronous streaming step used here is the one its one-shot calls are built on: the native handle's
// writeSync(flush, in, inOff, inLen, out, outOff, outLen), its result in the object's _writeState [availOut, availIn].
// PROBE checks at load that this Node has it. Objects are made only for streams the filter works on, and closed at
// the stream's end (close()), so a stream that is reset frees its zlib memory at once.

import zlib from 'node:zlib';
import type { CompressionLibrarySpec } from '../../../src/filters/compressor-libraries.ts';

const C = zlib.constants;

/** The native handle's synchronous step (not in Node's typings). */
interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
}
/** What a node:zlib object carries besides its stream interface. */
interface ZlibInternals {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
  destroyed: boolean;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** Thrown by write() when the library refuses its input (corrupt data) or ran past the inflate ratio. */
export class CompressionError extends Error {
  readonly code: 'data_error' | 'inflate_ratio';
  constructor(code: 'data_error' | 'inflate_ratio', message: string) {
    super(message);
    this.code = code;
  }
}

function ignoreError(): void {}

const EMPTY = Buffer.alloc(0);

/**
 * One direction of one stream: feeds chunks through the codec and returns what came out (one Buffer, maybe empty).
 * Not reusable once finished or failed; close() frees it (also after an error).
 */
export class StreamCodec {
  private z: ZlibInternals | null;
  private readonly chunkSize: number;
  private readonly flushFlag: number;
  private readonly finishFlag: number;
  /** Decompressors: the ratio of output to input allowed (0: none), and the totals it is checked against. */
  private readonly maxRatio: number;
  totalIn: number;
  totalOut: number;

  constructor(spec: CompressionLibrarySpec, decompress: boolean) {
    const chunkSize = spec.chunkSize;
    let z: unknown;
    if (spec.kind === 'gzip') {
      z = decompress
        ? zlib.createGunzip({ chunkSize, windowBits: spec.windowBits })
        : zlib.createGzip({ chunkSize, level: spec.level, memLevel: spec.memLevel, windowBits: spec.windowBits, strategy: spec.strategy });
      this.flushFlag = C.Z_SYNC_FLUSH;
      this.finishFlag = decompress ? C.Z_SYNC_FLUSH : C.Z_FINISH;
    } else if (spec.kind === 'brotli') {
      z = decompress
        ? zlib.createBrotliDecompress({ chunkSize })
        : zlib.createBrotliCompress({
          chunkSize,
          params: {
            [C.BROTLI_PARAM_QUALITY]: spec.quality,
            [C.BROTLI_PARAM_LGWIN]: spec.lgwin,
            [C.BROTLI_PARAM_LGBLOCK]: spec.lgblock,
            [C.BROTLI_PARAM_MODE]: spec.mode,
            [C.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING]: spec.disableLiteralContextModeling ? 1 : 0,
          },
        });
      this.flushFlag = decompress ? C.BROTLI_OPERATION_PROCESS : C.BROTLI_OPERATION_FLUSH;
      this.finishFlag = decompress ? C.BROTLI_OPERATION_PROCESS : C.BROTLI_OPERATION_FINISH;
    } else {
      z = decompress
        ? zlib.createZstdDecompress({ chunkSize })
        : zlib.createZstdCompress({
          chunkSize,
          params: { [C.ZSTD_c_compressionLevel]: spec.level, [C.ZSTD_c_checksumFlag]: spec.checksum ? 1 : 0 },
        });
      this.flushFlag = decompress ? C.ZSTD_e_continue : C.ZSTD_e_flush;
      this.finishFlag = decompress ? C.ZSTD_e_continue : C.ZSTD_e_end;
    }
    const internals = z as ZlibInternals;
    // A library error destroys the object, which then emits 'error' on the next tick: without a listener that
    // would be an uncaught exception. write() sees the error synchronously (destroyed) and throws it as ours.
    internals.on('error', ignoreError);
    this.z = internals;
    this.chunkSize = chunkSize;
    this.maxRatio = decompress ? spec.maxInflateRatio : 0;
    this.totalIn = 0;
    this.totalOut = 0;
  }

  /** Feeds `input` (maybe empty) and returns the output; `last` finishes the stream (compressors write their end). */
  write(input: Buffer, last: boolean): Buffer {
    const z = this.z;
    if (z === null || z._handle === null) throw new CompressionError('data_error', 'the codec is closed');
    const handle = z._handle;
    const state = z._writeState;
    const flush = last ? this.finishFlag : this.flushFlag;
    const chunkSize = this.chunkSize;
    let inOff = 0;
    let inLen = input.length;
    let out: Buffer[] | null = null;
    let one: Buffer = EMPTY;
    this.totalIn += inLen;
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkSize);
      handle.writeSync(flush, input, inOff, inLen, buf, 0, chunkSize);
      if (z.destroyed) throw new CompressionError('data_error', 'corrupt or truncated compressed data');
      const availOut = state[0]!;
      const availIn = state[1]!;
      const produced = chunkSize - availOut;
      if (produced > 0) {
        const piece = buf.subarray(0, produced);
        this.totalOut += produced;
        if (one.length === 0 && out === null) one = piece;
        else (out ??= [one]).push(piece);
        // Envoy's decompression bomb check: per output chunk, against all input so far.
        if (this.maxRatio > 0 && this.totalOut > this.totalIn * this.maxRatio) {
          throw new CompressionError('inflate_ratio', `output exceeds ${this.maxRatio} times the input (max_inflate_ratio)`);
        }
      }
      inOff += inLen - availIn;
      inLen = availIn;
      // A full output buffer may mean more output is waiting; otherwise the input is consumed and flushed.
      if (availOut !== 0) break;
    }
    return out === null ? one : Buffer.concat(out);
  }

  /** Frees the zlib object (idempotent). */
  close(): void {
    const z = this.z;
    if (z === null) return;
    this.z = null;
    z.close();
  }
}

/** This Node's zlib has the synchronous streaming step (checked once, when the first filter module loads). */
function probe(): boolean {
  const z = zlib.createGzip() as unknown as ZlibInternals;
  const ok = z._handle !== null && typeof z._handle.writeSync === 'function' && z._writeState instanceof Uint32Array;
  z.close();
  return ok;
}
if (!probe()) throw new Error('node:zlib lacks the synchronous streaming step the compression filters use (Node 24 has it)');
