// Worker thread (any thread that owns sockets). Plain TCP sockets read into one buffer per thread instead of a new
// 64 KiB allocation per read: Node's `onread` (a user buffer with a callback, no Readable 'data' layer) applied to
// connected and to accepted sockets alike. A read is handed to its callback as a view of the shared buffer, valid
// only during that call: the next read on any socket of this thread overwrites it, so whoever keeps bytes beyond the
// call copies them (src/http1/input-copy.ts; the HTTP/1.1 parser does so with `transientInput`).
//
// Node offers `onread` only as an option of net.connect/new net.Socket; accepted sockets get it through the same
// per-socket fields Node's own option sets (found once on a probe socket), and StreamBase's useUserBuffer. If this
// Node lacks them, or the socket is not plain TCP (TLS decrypts into its own buffers), readIntoSharedBuffer says
// so and the caller listens to 'data' as before.

import net from 'node:net';

/** What Node reads into: one per thread, never handed out beyond a read callback. */
const SHARED_READ_BYTES = 64 * 1024;
const shared = Buffer.allocUnsafeSlow(SHARED_READ_BYTES);

/** A read: `chunk` is a view of the shared buffer, valid only during the call. */
export type SharedBufferRead = (chunk: Buffer) => void;

interface UserBufferFields {
  readonly buffer: symbol;
  readonly callback: symbol;
}

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

/** Node's per-socket onread fields (kBuffer, kBufferCb), found on a probe socket; null when this Node has none. */
const fields: UserBufferFields | null = findUserBufferFields();

function findUserBufferFields(): UserBufferFields | null {
  const probeBuffer = Buffer.alloc(1);
  const probeCallback = (): boolean => true;
  const probe = new net.Socket({ onread: { buffer: probeBuffer, callback: probeCallback } });
  let buffer: symbol | null = null;
  let callback: symbol | null = null;
  const record = probe as unknown as Record<symbol, unknown>;
  for (const sym of Object.getOwnPropertySymbols(probe)) {
    if (record[sym] === probeBuffer) buffer = sym;
    else if (record[sym] === probeCallback) callback = sym;
  }
  probe.destroy();
  return buffer !== null && callback !== null ? { buffer, callback } : null;
}

/** Whether this runtime supports shared-buffer reads at all (tests check the fast path is really on). */
export function sharedBufferReadsAvailable(): boolean {
  return fields !== null;
}

/**
 * Makes `socket` read into the thread's shared buffer and call `onRead` for each read, and starts it flowing
 * ('end' and 'close' keep working; pause()/resume() stop and restart reading). Returns false, changing nothing,
 * when it cannot: not a plain TCP socket, bytes already buffered in its Readable side (a listener filter put them
 * back), or a runtime without the fields; the caller then listens to 'data'. Call it before the socket's first
 * read event (in the 'connection' handler, or right after net.connect).
 */
export function readIntoSharedBuffer(socket: net.Socket, onRead: SharedBufferRead): boolean {
  if (fields === null || (socket as { encrypted?: boolean }).encrypted === true || socket.readableLength !== 0) return false;
  const handle = (socket as unknown as { _handle: Partial<UserBufferHandle> | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const record = socket as unknown as Record<symbol, unknown>;
  record[fields.buffer] = shared;
  record[fields.callback] = (n: number, buf: Buffer): void => onRead(buf.subarray(0, n));
  handle.useUserBuffer(shared);
  socket.resume();
  return true;
}
