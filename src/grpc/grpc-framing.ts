// Any thread (pure). gRPC's length-prefixed message framing (1 byte compressed flag, 4 bytes big-endian length,
// the message) and the grpc-message trailer's percent-encoding, for Legate's own gRPC client.

/** One message framed for the wire (uncompressed). */
export function encodeGrpcFrame(message: Buffer | Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Why a byte stream is not a valid sequence of frames. */
export type GrpcFrameError = 'compressed' | 'too_large';

/**
 * Splits a stream of DATA into messages. push() returns the complete messages so far, or an error (the stream then
 * must be abandoned); finished() says no partial frame is pending.
 */
export class GrpcFrameDecoder {
  private readonly maxMessageBytes: number;
  private chunks: Buffer[];
  private buffered: number;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
    this.chunks = [];
    this.buffered = 0;
  }

  push(data: Buffer): Buffer[] | GrpcFrameError {
    if (data.length > 0) {
      this.chunks.push(data);
      this.buffered += data.length;
    }
    const out: Buffer[] = [];
    while (this.buffered >= 5) {
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.chunks = [all];
      if (all[0] !== 0) return 'compressed';
      const len = all.readUInt32BE(1);
      if (len > this.maxMessageBytes) return 'too_large';
      if (all.length < 5 + len) break;
      out.push(all.subarray(5, 5 + len));
      const rest = all.subarray(5 + len);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return out;
  }

  finished(): boolean {
    return this.buffered === 0;
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec); an invalid escape leaves the text as sent. */
export function decodeGrpcMessage(value: string | undefined): string {
  if (value === undefined || value === '') return '';
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
