// The compression and gRPC-Web filters' pure parts and configs: Accept-Encoding negotiation, the streaming codec
// over node:zlib (flush per chunk, the inflate ratio, corrupt input), strict streaming base64, and the config
// pipeline's compile of Compressor / Decompressor / GrpcWeb (defaults, deprecated fields, what is refused).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';
import { chooseEncoding, ENCODING_IDENTITY, ENCODING_NOT_VALID, ENCODING_WILDCARD } from '../../src/filters/compressor-negotiation.ts';
import type { CompressionLibrarySpec } from '../../src/filters/compressor-libraries.ts';
import type { CompressorConfig } from '../../src/filters/compressor-config.ts';
import type { DecompressorConfig } from '../../src/filters/decompressor-config.ts';
import { CompressionError, StreamCodec } from '../../workers/http/filters/compression-libraries.ts';
import { decodeBase64Stream } from '../../workers/http/filters/grpc-web-filter.ts';

const GZ = { encoding: 'gzip', chooseFirst: false };
const BR = { encoding: 'br', chooseFirst: false };
const BR_FIRST = { encoding: 'br', chooseFirst: true };

describe('Accept-Encoding negotiation', () => {
  it('the highest q-value among the registered codings, identity and *', () => {
    assert.equal(chooseEncoding('gzip', [GZ]), 'gzip');
    assert.equal(chooseEncoding('GZIP ; q=0.8', [GZ]), 'gzip');
    assert.equal(chooseEncoding('deflate, gzip;q=0.5, br;q=0.9', [GZ, BR]), 'br');
    assert.equal(chooseEncoding('br;q=0.2, gzip', [GZ, BR]), 'gzip');
    assert.equal(chooseEncoding('gzip;q=0.5, identity', [GZ]), ENCODING_IDENTITY);
    assert.equal(chooseEncoding('gzip;q=0, deflate', [GZ]), ENCODING_NOT_VALID);
    assert.equal(chooseEncoding('deflate', [GZ]), ENCODING_NOT_VALID);
    assert.equal(chooseEncoding('', [GZ]), ENCODING_NOT_VALID);
    assert.equal(chooseEncoding('gzip;q=abc, br', [GZ, BR]), 'br', 'a malformed q-value drops its element');
  });

  it('* is the first registered compressor; equal q-values: the first in the header unless a later one has choose_first', () => {
    assert.equal(chooseEncoding('*', [BR, GZ]), ENCODING_WILDCARD + 'br');
    assert.equal(chooseEncoding('gzip;q=0.1, *', [GZ]), ENCODING_WILDCARD + 'gzip');
    assert.equal(chooseEncoding('gzip, br', [GZ, BR]), 'gzip');
    assert.equal(chooseEncoding('gzip, br', [GZ, BR_FIRST]), 'br');
  });
});

function spec(kind: string, over: Partial<CompressionLibrarySpec> = {}): CompressionLibrarySpec {
  return {
    kind, encoding: kind === 'brotli' ? 'br' : kind, statPrefix: kind, chunkSize: 4096, level: 6, memLevel: 5, windowBits: 12,
    strategy: 0, quality: 3, lgwin: 18, lgblock: 24, mode: 0, disableLiteralContextModeling: false, checksum: false,
    maxInflateRatio: 0, ...over,
  };
}

const TEXT = Buffer.from(Array.from({ length: 3000 }, (_, i) => `line ${i * 7919 % 1000} of some text`).join('\n'));
const DECODE: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gunzipSync, brotli: zlib.brotliDecompressSync, zstd: zlib.zstdDecompressSync };

describe('StreamCodec', () => {
  for (const kind of ['gzip', 'brotli', 'zstd']) {
    it(`${kind}: each chunk's output decodes to everything so far (flushed per chunk); the end completes the stream`, () => {
      const c = new StreamCodec(spec(kind), false);
      const d = new StreamCodec(spec(kind, { windowBits: 15 }), true);
      const outs: Buffer[] = [];
      let decoded = '';
      for (let off = 0; off < TEXT.length; off += 10_000) {
        const piece = TEXT.subarray(off, off + 10_000);
        const out = c.write(piece, false);
        assert.ok(out.length > 0, 'a flushed chunk always has output');
        outs.push(out);
        decoded += d.write(out, false).toString();
        assert.equal(decoded, TEXT.subarray(0, off + piece.length).toString());
      }
      outs.push(c.write(Buffer.alloc(0), true));
      c.close();
      d.close();
      assert.equal(DECODE[kind]!(Buffer.concat(outs)).toString(), TEXT.toString());
    });
  }

  it('a decompressor past max_inflate_ratio, or fed corrupt data, throws CompressionError (never crashes later)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(1024 * 1024));
    const d = new StreamCodec(spec('gzip', { windowBits: 15, maxInflateRatio: 100 }), true);
    assert.throws(() => d.write(bomb, false), (e: unknown) => e instanceof CompressionError && e.code === 'inflate_ratio');
    d.close();
    for (const kind of ['gzip', 'brotli', 'zstd']) {
      const bad = new StreamCodec(spec(kind, { windowBits: 15 }), true);
      assert.throws(() => bad.write(Buffer.from('definitely not compressed data, not at all'), false), (e: unknown) => e instanceof CompressionError && e.code === 'data_error');
      assert.throws(() => bad.write(Buffer.from('more'), false), CompressionError);
      bad.close();
      bad.close();
    }
    // The library's 'error' event comes a tick later: it must not be an uncaught exception.
    await new Promise((r) => setTimeout(r, 20));
  });
});

describe('streaming base64 (grpc-web-text)', () => {
  it('decodes quanta, with padding at the end of any piece; refuses anything else', () => {
    assert.equal(decodeBase64Stream('aGVsbG8=')!.toString(), 'hello');
    assert.equal(decodeBase64Stream('aGk=aGVsbG8=d29ybGQ=')!.toString(), 'hihelloworld');
    assert.equal(decodeBase64Stream('')!.length, 0);
    assert.equal(decodeBase64Stream('aGk*'), null);
    assert.equal(decodeBase64Stream('a==='), null);
    assert.equal(decodeBase64Stream('aG=k'), null);
  });
});

function config(httpFilters: string): string {
  return `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: t
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200 }
          http_filters:
${httpFilters}          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;
}

function filters(yaml: string): { name: string; filter: string; config: unknown; stats: { prefix: string; definition: string } | null }[] {
  const r = runConfigPipeline({ configPath: undefined, configYaml: config(yaml) }, 1);
  assert.ok(r.ok, r.ok ? '' : r.message);
  const f = r.snapshot.listeners[0]!.filterChains[0]!.filter as unknown as { hcm: { httpFilters: never[] } };
  return f.hcm.httpFilters;
}

function refused(yaml: string): string {
  const r = runConfigPipeline({ configPath: undefined, configYaml: config(yaml) }, 1);
  assert.ok(!r.ok, 'expected the config to be refused');
  return r.message;
}

describe('configs', () => {
  it('Compressor: defaults (Envoy\'s content types, 30 bytes, enabled), the deprecated fields, the library settings, the stat scope', () => {
    const [f] = filters(`          - name: c
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              compressor_library: { name: lib, typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip } }
`);
    const c = f!.config as CompressorConfig;
    assert.equal(f!.filter, 'envoy.filters.http.compressor');
    assert.equal(c.minContentLength, 30);
    assert.equal(c.responseEnabled, true);
    assert.ok(c.contentTypes.includes('application/json') && c.contentTypes.includes('image/svg+xml'));
    assert.deepEqual([c.library.kind, c.library.encoding, c.library.level, c.library.memLevel, c.library.windowBits, c.library.chunkSize], ['gzip', 'gzip', 6, 5, 12, 4096]);
    assert.equal(f!.stats!.prefix, 'http.t.compressor.lib.gzip.');
    const [old] = filters(`          - name: c
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              content_length: 100
              content_type: [text/html]
              disable_on_etag_header: true
              compressor_library: { name: b, typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli, quality: 9, encoder_mode: TEXT } }
`);
    const o = old!.config as CompressorConfig;
    assert.deepEqual([o.minContentLength, o.contentTypes, o.disableOnEtag, o.library.quality, o.library.mode], [100, ['text/html'], true, 9, 1]);
    assert.equal(old!.stats!.prefix, 'http.t.compressor.b.brotli.');
  });

  it('Compressor: request_direction_config turns request compression on (off by default); response stats move under response.', () => {
    const [f] = filters(`          - name: c
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              request_direction_config: { common_config: { min_content_length: 10 } }
              response_direction_config: {}
              compressor_library: { name: lib, typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip } }
`);
    const c = f!.config as CompressorConfig;
    assert.deepEqual([c.requestEnabled, c.requestMinContentLength, c.responseEnabled, c.directionalStats], [true, 10, true, true]);
    assert.equal(f!.stats!.definition, 'compressor_directional');
  });

  it('Compressor: zstd strategies other than DEFAULT and dictionaries are not supported yet', () => {
    assert.match(refused(`          - name: c
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              compressor_library: { name: lib, typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd, strategy: BTOPT } }
`), /strategy.*not supported yet/);
  });

  it('Decompressor: both directions by default, advertise_accept_encoding, gzip\'s max_inflate_ratio (100), per-library stats', () => {
    const [f] = filters(`          - name: d
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor
              decompressor_library: { name: up, typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip } }
              response_direction_config: { common_config: { enabled: { default_value: false, runtime_key: k } } }
`);
    const c = f!.config as DecompressorConfig;
    assert.deepEqual([c.requestEnabled, c.responseEnabled, c.advertiseAcceptEncoding, c.library.maxInflateRatio], [true, false, true, 100]);
    assert.deepEqual([f!.stats!.prefix, f!.stats!.definition], ['http.t.decompressor.up.gzip.', 'decompressor_gzip']);
    assert.match(refused(`          - name: d
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor
              decompressor_library: { name: up, typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip } }
`), /not supported yet: decompressor library envoy\.extensions\.compression\.gzip\.compressor\.v3\.Gzip/);
  });

  it('GrpcWeb: no settings, no stats', () => {
    const [f] = filters(`          - name: envoy.filters.http.grpc_web
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb }
`);
    assert.equal(f!.filter, 'envoy.filters.http.grpc_web');
    assert.equal(f!.stats, null);
  });
});
