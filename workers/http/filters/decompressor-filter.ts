// Worker thread. envoy.filters.http.decompressor, as Envoy's: a request or response whose content-encoding starts
// with the library's encoding (gzip, br, zstd), in an enabled direction, without `cache-control: no-transform`
// (unless ignore_no_transform_header), is decompressed chunk by chunk as it streams: that encoding leaves
// content-encoding (the header goes when it was the only one), content-length goes (the body's length changes).
// With responses enabled and advertise_accept_encoding (default), the library's encoding is appended to the
// request's Accept-Encoding. Decompression bomb protection: output past max_inflate_ratio (100, Envoy's default)
// times the input, or corrupt data, fails the stream: a request is answered 413 (ratio) or 400 (corrupt), a response
// is reset (its head went out) - counted in decompressor_library.* as Envoy counts library errors.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../../src/http/header-list.ts';
import type { DecompressorConfig } from '../../../src/filters/decompressor-config.ts';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';
import { CompressionError, StreamCodec } from './compression-libraries.ts';

/** The library's counter for a failed stream (Envoy's per-library error stats). */
const ERROR_STAT: Readonly<Record<string, string>> = {
  gzip: 'decompressor_library.zlib_data_error',
  brotli: 'decompressor_library.brotli_error',
  zstd: 'decompressor_library.zstd_generic_error',
};

class DirectionSlots {
  readonly decompressed: number;
  readonly notDecompressed: number;
  readonly totalUncompressed: number;
  readonly totalCompressed: number;
  constructor(slots: Readonly<Record<string, number>> | null, dir: string) {
    const slot = (n: string): number => (slots === null ? -1 : (slots[`${dir}.${n}`] ?? -1));
    this.decompressed = slot('decompressed');
    this.notDecompressed = slot('not_decompressed');
    this.totalUncompressed = slot('total_uncompressed_bytes');
    this.totalCompressed = slot('total_compressed_bytes');
  }
}

class DecompressorShared {
  readonly config: DecompressorConfig;
  readonly stats: WorkerStatsStore;
  readonly request: DirectionSlots;
  readonly response: DirectionSlots;
  readonly error: number;
  readonly encoding: string;

  constructor(config: DecompressorConfig, context: HttpFilterFactoryContext) {
    this.config = config;
    this.stats = context.stats;
    this.request = new DirectionSlots(context.slots, 'request');
    this.response = new DirectionSlots(context.slots, 'response');
    this.error = context.slots === null ? -1 : (context.slots[ERROR_STAT[config.library.kind]!] ?? -1);
    this.encoding = config.library.encoding;
  }

  inc(slot: number, by = 1): void {
    if (slot >= 0) this.stats.values[slot] += by;
  }

  /** The encoding is the first of content-encoding, and no-transform does not forbid touching the body. */
  applies(headers: HeaderList, ignoreNoTransform: boolean): boolean {
    const ce = getHeader(headers, 'content-encoding');
    if (ce === undefined) return false;
    const comma = ce.indexOf(',');
    if ((comma < 0 ? ce : ce.slice(0, comma)).trim().toLowerCase() !== this.encoding) return false;
    if (ignoreNoTransform) return true;
    const cc = getHeader(headers, 'cache-control');
    if (cc === undefined) return true;
    const parts = cc.split(',');
    for (let i = 0; i < parts.length; i++) if (parts[i]!.trim().toLowerCase() === 'no-transform') return false;
    return true;
  }
}

/** Removes the first coding of content-encoding (the header when it was the only one) and content-length. */
function stripEncoding(headers: HeaderList): void {
  const ce = getHeader(headers, 'content-encoding')!;
  const comma = ce.indexOf(',');
  const rest = comma < 0 ? '' : ce.slice(comma + 1).trim();
  if (rest === '') removeHeader(headers, 'content-encoding');
  else setHeader(headers, 'content-encoding', rest);
  removeHeader(headers, 'content-length');
}

class DecompressorFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: DecompressorShared;
  private requestCodec: StreamCodec | null;
  private responseCodec: StreamCodec | null;

  constructor(cb: FilterCallbacks, shared: DecompressorShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.requestCodec = null;
    this.responseCodec = null;
  }

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    const shared = this.shared;
    const config = shared.config;
    if (config.responseEnabled && config.advertiseAcceptEncoding) {
      const ae = getHeader(headers, 'accept-encoding');
      setHeader(headers, 'accept-encoding', ae === undefined || ae.trim() === '' ? shared.encoding : `${ae},${shared.encoding}`);
    }
    if (!config.requestEnabled) return FilterHeadersStatus.Continue;
    if (endStream || !shared.applies(headers, config.requestIgnoreNoTransform)) {
      shared.inc(shared.request.notDecompressed);
      return FilterHeadersStatus.Continue;
    }
    shared.inc(shared.request.decompressed);
    stripEncoding(headers);
    this.cb.requestBodyRewritten?.();
    this.requestCodec = new StreamCodec(config.library, true);
    return FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    const codec = this.requestCodec;
    if (codec === null) return FilterDataStatus.Continue;
    const out = this.run(codec, data, endStream, true);
    if (out === null) return FilterDataStatus.StopIterationNoBuffer;
    if (endStream) this.releaseRequest();
    if (out.length > 0 || endStream) this.cb.injectDecodedDataToFilterChain(out, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    this.releaseRequest();
    return FilterTrailersStatus.Continue;
  }

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    const shared = this.shared;
    const config = shared.config;
    if (!config.responseEnabled) return FilterHeadersStatus.Continue;
    const status = this.cb.responseStatus;
    if (endStream || status === 204 || status === 304 || !shared.applies(headers, config.responseIgnoreNoTransform)) {
      shared.inc(shared.response.notDecompressed);
      return FilterHeadersStatus.Continue;
    }
    shared.inc(shared.response.decompressed);
    stripEncoding(headers);
    this.responseCodec = new StreamCodec(config.library, true);
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, endStream: boolean): number {
    const codec = this.responseCodec;
    if (codec === null) return FilterDataStatus.Continue;
    const out = this.run(codec, data, endStream, false);
    if (out === null) return FilterDataStatus.StopIterationNoBuffer;
    if (endStream) this.releaseResponse();
    if (out.length > 0 || endStream) this.cb.injectEncodedDataToFilterChain(out, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeTrailers(_trailers: HeaderList): number {
    this.releaseResponse();
    return FilterTrailersStatus.Continue;
  }

  override onDestroy(): void {
    this.releaseRequest();
    this.releaseResponse();
  }

  /** One chunk through `codec`, counted; null when the stream failed (answered or reset here). */
  private run(codec: StreamCodec, data: Buffer, endStream: boolean, request: boolean): Buffer | null {
    const shared = this.shared;
    const slots = request ? shared.request : shared.response;
    let out: Buffer;
    try {
      out = codec.write(data, endStream);
    } catch (err) {
      shared.inc(shared.error);
      const ratio = err instanceof CompressionError && err.code === 'inflate_ratio';
      this.releaseRequest();
      this.releaseResponse();
      if (request) {
        if (ratio) this.cb.sendLocalReply(413, 'Payload Too Large', null, -1, 'decompressor_max_inflate_ratio_exceeded');
        else this.cb.sendLocalReply(400, 'Bad compressed request body', null, -1, 'decompressor_invalid_data');
      } else {
        // The response head went out: the stream is reset.
        this.cb.sendLocalReply(502, '', null, -1, ratio ? 'decompressor_max_inflate_ratio_exceeded' : 'decompressor_invalid_data');
      }
      return null;
    }
    shared.inc(slots.totalCompressed, data.length);
    shared.inc(slots.totalUncompressed, out.length);
    return out;
  }

  private releaseRequest(): void {
    const c = this.requestCodec;
    if (c === null) return;
    this.requestCodec = null;
    c.close();
  }

  private releaseResponse(): void {
    const c = this.responseCodec;
    if (c === null) return;
    this.responseCodec = null;
    c.close();
  }
}

class DecompressorFactory implements HttpFilterFactory {
  private readonly shared: DecompressorShared;
  constructor(shared: DecompressorShared) {
    this.shared = shared;
  }
  createFilter(callbacks: FilterCallbacks): DecompressorFilter {
    return new DecompressorFilter(callbacks, this.shared);
  }
}

export function decompressorFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  return new DecompressorFactory(new DecompressorShared(config as DecompressorConfig, context));
}
