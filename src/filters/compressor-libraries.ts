// Any thread (pure; config time). The compression libraries the compressor and decompressor filters name in
// compressor_library / decompressor_library (envoy.compression.{gzip,brotli,zstd}.{compressor,decompressor}),
// compiled to plain data: which codec, its content-encoding token, its stat prefix and its settings with Envoy's
// defaults. The worker makes node:zlib objects from it (workers/http/filters/compression-libraries.ts).

import { bool, list, num, obj, str, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem } from './http-filter-config.ts';

/** A compression library, compiled (plain data: crosses to the workers in the snapshot). */
export interface CompressionLibrarySpec {
  /** 'gzip' | 'brotli' | 'zstd'. */
  kind: string;
  /** Its content-encoding token: gzip, br, zstd. */
  encoding: string;
  /** Envoy's stat prefix of the library: gzip, brotli, zstd. */
  statPrefix: string;
  /** Output chunk size (chunk_size, default 4096). */
  chunkSize: number;
  /** gzip: level (default 6: Z_DEFAULT_COMPRESSION), memory_level (5), window_bits (12), strategy (0). */
  level: number;
  memLevel: number;
  windowBits: number;
  strategy: number;
  /** brotli: quality (3), window_bits (18), input_block_bits (24), encoder mode (0: generic), literal context modeling off. */
  quality: number;
  lgwin: number;
  lgblock: number;
  mode: number;
  disableLiteralContextModeling: boolean;
  /** zstd: enable_checksum. */
  checksum: boolean;
  /** Decompressors: max_inflate_ratio (gzip's, default 100 as Envoy's; brotli and zstd: 100). 0: no limit. */
  maxInflateRatio: number;
}

const GZIP_LEVELS: Readonly<Record<string, number>> = {
  DEFAULT_COMPRESSION: 6, BEST_SPEED: 1, BEST_COMPRESSION: 9,
  COMPRESSION_LEVEL_1: 1, COMPRESSION_LEVEL_2: 2, COMPRESSION_LEVEL_3: 3, COMPRESSION_LEVEL_4: 4,
  COMPRESSION_LEVEL_5: 5, COMPRESSION_LEVEL_6: 6, COMPRESSION_LEVEL_7: 7, COMPRESSION_LEVEL_8: 8, COMPRESSION_LEVEL_9: 9,
};
/** zlib's Z_FILTERED=1, Z_HUFFMAN_ONLY=2, Z_RLE=3, Z_FIXED=4 (Envoy's enum has the same numbers). */
const GZIP_STRATEGIES: Readonly<Record<string, number>> = { DEFAULT_STRATEGY: 0, FILTERED: 1, HUFFMAN_ONLY: 2, RLE: 3, FIXED: 4 };
/** BROTLI_MODE_GENERIC=0, TEXT=1, FONT=2; Envoy's DEFAULT is the library's default (generic). */
const BROTLI_MODES: Readonly<Record<string, number>> = { DEFAULT: 0, GENERIC: 0, TEXT: 1, FONT: 2 };

const COMPRESSOR_TYPES: Readonly<Record<string, string>> = {
  'envoy.extensions.compression.gzip.compressor.v3.Gzip': 'gzip',
  'envoy.extensions.compression.brotli.compressor.v3.Brotli': 'brotli',
  'envoy.extensions.compression.zstd.compressor.v3.Zstd': 'zstd',
};
const DECOMPRESSOR_TYPES: Readonly<Record<string, string>> = {
  'envoy.extensions.compression.gzip.decompressor.v3.Gzip': 'gzip',
  'envoy.extensions.compression.brotli.decompressor.v3.Brotli': 'brotli',
  'envoy.extensions.compression.zstd.decompressor.v3.Zstd': 'zstd',
};
const ENCODINGS: Readonly<Record<string, string>> = { gzip: 'gzip', brotli: 'br', zstd: 'zstd' };

function baseSpec(kind: string, o: Obj): CompressionLibrarySpec {
  return {
    kind,
    encoding: ENCODINGS[kind]!,
    statPrefix: kind,
    chunkSize: num(o['chunk_size'], 4096),
    level: 6,
    memLevel: 5,
    windowBits: 12,
    strategy: 0,
    quality: 3,
    lgwin: 18,
    lgblock: 24,
    mode: 0,
    disableLiteralContextModeling: false,
    checksum: false,
    maxInflateRatio: 0,
  };
}

/**
 * A TypedExtensionConfig naming a compressor or decompressor library (`decompress` says which) at `path`: its name
 * (the stat scope's) and spec, or null (a problem says why).
 */
export function compileCompressionLibrary(
  ext: Obj, path: string, decompress: boolean, problems: FilterConfigProblem[],
): { name: string; spec: CompressionLibrarySpec } | null {
  const name = str(ext['name'], '');
  const tc = obj(ext['typed_config']);
  // The Any's message name (what follows the type URL's last '/'), as http-filter-config.ts reads it.
  const url = str(tc['@type'], '');
  const type = url.slice(url.lastIndexOf('/') + 1);
  const kind = (decompress ? DECOMPRESSOR_TYPES : COMPRESSOR_TYPES)[type];
  if (kind === undefined) {
    problems.push({
      code: 'not_supported', path: `${path}.typed_config`,
      message: `not supported yet: ${decompress ? 'decompressor' : 'compressor'} library ${type === '' ? '(no @type)' : type}`,
    });
    return null;
  }
  const spec = baseSpec(kind, tc);
  if (!decompress && kind === 'gzip') {
    spec.level = GZIP_LEVELS[str(tc['compression_level'], 'DEFAULT_COMPRESSION')] ?? 6;
    spec.strategy = GZIP_STRATEGIES[str(tc['compression_strategy'], 'DEFAULT_STRATEGY')] ?? 0;
    spec.memLevel = num(tc['memory_level'], 5);
    spec.windowBits = num(tc['window_bits'], 12);
  } else if (!decompress && kind === 'brotli') {
    spec.quality = num(tc['quality'], 3);
    spec.lgwin = num(tc['window_bits'], 18);
    spec.lgblock = num(tc['input_block_bits'], 24);
    spec.mode = BROTLI_MODES[str(tc['encoder_mode'], 'DEFAULT')] ?? 0;
    spec.disableLiteralContextModeling = bool(tc['disable_literal_context_modeling'], false);
  } else if (!decompress && kind === 'zstd') {
    // Envoy's default level is ZSTD_CLEVEL_DEFAULT (3).
    spec.level = num(tc['compression_level'], 3);
    spec.checksum = bool(tc['enable_checksum'], false);
    if (str(tc['strategy'], 'DEFAULT') !== 'DEFAULT') {
      problems.push({ code: 'not_supported', path: `${path}.typed_config.strategy`, message: 'not supported yet: a zstd strategy other than DEFAULT' });
    }
    if (tc['dictionary'] !== undefined) problems.push({ code: 'not_supported', path: `${path}.typed_config.dictionary`, message: 'not supported yet: zstd dictionaries' });
  } else if (decompress && kind === 'brotli') {
    // Envoy's schema gives brotli and zstd no max_inflate_ratio of their own: gzip's default bounds them too.
    spec.maxInflateRatio = 100;
  } else if (decompress && kind === 'gzip') {
    // window_bits 9..15 (the loader checked the range); 0 lets zlib take the window from the stream's header.
    spec.windowBits = num(tc['window_bits'], 15);
    spec.maxInflateRatio = num(tc['max_inflate_ratio'], 100);
  } else if (decompress && kind === 'zstd') {
    spec.maxInflateRatio = 100;
    if (list(tc['dictionaries']).length > 0) {
      problems.push({ code: 'not_supported', path: `${path}.typed_config.dictionaries`, message: 'not supported yet: zstd dictionaries' });
    }
  }
  return { name, spec };
}
