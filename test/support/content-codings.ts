// Test support: the content codings the compressor and decompressor filters speak (gzip, br, zstd), encoded whole
// with node:zlib, so a test upstream can serve any of them from one branch.

import zlib from 'node:zlib';

export type Coding = 'gzip' | 'br' | 'zstd';

export function encodeBody(coding: Coding, data: string | Buffer): Buffer {
  if (coding === 'gzip') return zlib.gzipSync(data);
  if (coding === 'br') return zlib.brotliCompressSync(data);
  return zlib.zstdCompressSync(data);
}
