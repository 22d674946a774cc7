// Any thread (pure). Copies of input that must outlive the read it came from (a shared read buffer the next read
// overwrites: src/common/shared-read-buffer.ts).

/** A copy of `chunk` of its own (small ones come from Node's buffer pool, as Buffer.allocUnsafe does). */
export function copyOut(chunk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(chunk.length);
  chunk.copy(out, 0, 0, chunk.length);
  return out;
}
