// Worker thread. envoy.filters.http.compressor, as Envoy's. Responses: when the client accepts the library's
// encoding (Accept-Encoding, q-values, negotiated with the other compressor filters of the chain) and the response is
// compressible (enabled, not HEAD, not ending with its head, at least min_content_length when its length is known, a
// listed content type, no content-encoding, no `cache-control: no-transform`, no ETag when disable_on_etag_header),
// the body is compressed chunk by chunk as it streams (each chunk flushed, as Envoy flushes per data frame; nothing
// is buffered): content-length removed (HTTP/1.1 then goes chunked), content-encoding set, a strong ETag weakened,
// `vary: Accept-Encoding` added (also when only the client's Accept-Encoding kept the response uncompressed).
// Requests (request_direction_config): one with a content-length of at least min_content_length, a listed content
// type and no content-encoding is compressed the same way (content-encoding set, content-length removed). Stats
// http.<stat_prefix>.compressor.<library name>.<library stat prefix>.[response.|request.]*.

import type { HeaderList, StreamInfo } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../../src/http/header-list.ts';
import type { CompressorConfig, CompressorPerRoute } from '../../../src/filters/compressor-config.ts';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';
import { StreamCodec } from './compression-libraries.ts';
import { chooseEncoding, ENCODING_IDENTITY, ENCODING_NOT_VALID, ENCODING_WILDCARD, type RegisteredCompressor } from '../../../src/filters/compressor-negotiation.ts';

const EMPTY = Buffer.alloc(0);

/** Stat slots (-1 without stats). */
class CompressorShared {
  readonly config: CompressorConfig;
  readonly stats: WorkerStatsStore;
  readonly registration: RegisteredCompressor;
  readonly compressed: number;
  readonly notCompressed: number;
  readonly noAcceptHeader: number;
  readonly headerIdentity: number;
  readonly headerUsed: number;
  readonly headerOvershadowed: number;
  readonly headerWildcard: number;
  readonly headerNotValid: number;
  readonly totalUncompressed: number;
  readonly totalCompressed: number;
  readonly tooSmall: number;
  readonly etag: number;
  readonly requestCompressed: number;
  readonly requestNotCompressed: number;
  readonly requestTotalUncompressed: number;
  readonly requestTotalCompressed: number;
  readonly requestTooSmall: number;

  constructor(config: CompressorConfig, context: HttpFilterFactoryContext) {
    this.config = config;
    this.stats = context.stats;
    this.registration = Object.freeze({ encoding: config.library.encoding, chooseFirst: config.chooseFirst });
    const s = context.slots;
    const dir = config.directionalStats ? 'response.' : '';
    const slot = (n: string): number => (s === null ? -1 : (s[n] ?? -1));
    this.compressed = slot(`${dir}compressed`);
    this.notCompressed = slot(`${dir}not_compressed`);
    this.noAcceptHeader = slot(`${dir}no_accept_header`);
    this.headerIdentity = slot(`${dir}header_identity`);
    this.headerUsed = slot(`${dir}header_compressor_used`);
    this.headerOvershadowed = slot(`${dir}header_compressor_overshadowed`);
    this.headerWildcard = slot(`${dir}header_wildcard`);
    this.headerNotValid = slot(`${dir}header_not_valid`);
    this.totalUncompressed = slot(`${dir}total_uncompressed_bytes`);
    this.totalCompressed = slot(`${dir}total_compressed_bytes`);
    this.tooSmall = slot(`${dir}content_length_too_small`);
    this.etag = slot(`${dir}not_compressed_etag`);
    this.requestCompressed = slot('request.compressed');
    this.requestNotCompressed = slot('request.not_compressed');
    this.requestTotalUncompressed = slot('request.total_uncompressed_bytes');
    this.requestTotalCompressed = slot('request.total_compressed_bytes');
    this.requestTooSmall = slot('request.content_length_too_small');
  }

  inc(slot: number, by = 1): void {
    if (slot >= 0) this.stats.values[slot] += by;
  }
}

/**
 * The compressor filters of one stream that will compress if chosen, in http_filters order (Envoy keeps them in the
 * stream's filter state): made only for streams through a compressor filter.
 */
const registries = new WeakMap<StreamInfo, RegisteredCompressor[]>();

class CompressorFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: CompressorShared;
  /** The request's Accept-Encoding (null: none; undefined: this filter does not compress this stream's response). */
  private acceptEncoding: string | null | undefined;
  private codec: StreamCodec | null;
  private requestCodec: StreamCodec | null;

  constructor(cb: FilterCallbacks, shared: CompressorShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.acceptEncoding = undefined;
    this.codec = null;
    this.requestCodec = null;
  }

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    const perRoute = this.cb.mostSpecificPerFilterConfig() as CompressorPerRoute | null;
    if (perRoute !== null && perRoute.disabled) return FilterHeadersStatus.Continue;
    const config = this.shared.config;
    if (config.requestEnabled) this.decideRequest(headers, endStream);
    if (!config.responseEnabled) return FilterHeadersStatus.Continue;
    const accept = getHeader(headers, 'accept-encoding') ?? null;
    this.acceptEncoding = accept;
    if (accept !== null) {
      // Only a request that may be compressed registers (acceptable() never looks without Accept-Encoding).
      const info = this.cb.streamInfo;
      let registry = registries.get(info);
      if (registry === undefined) {
        registry = [];
        registries.set(info, registry);
      }
      registry.push(this.shared.registration);
    }
    const remove = perRoute !== null && perRoute.removeAcceptEncoding !== null ? perRoute.removeAcceptEncoding : config.removeAcceptEncoding;
    if (remove) removeHeader(headers, 'accept-encoding');
    return FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    const codec = this.requestCodec;
    if (codec === null) return FilterDataStatus.Continue;
    let out: Buffer;
    try {
      out = codec.write(data, endStream);
    } catch {
      this.releaseRequest();
      this.cb.sendLocalReply(500, '', null, -1, 'compressor_error');
      return FilterDataStatus.StopIterationNoBuffer;
    }
    const shared = this.shared;
    shared.inc(shared.requestTotalUncompressed, data.length);
    shared.inc(shared.requestTotalCompressed, out.length);
    if (endStream) this.releaseRequest();
    if (out.length > 0 || endStream) this.cb.injectDecodedDataToFilterChain(out, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    const codec = this.requestCodec;
    if (codec === null) return FilterTrailersStatus.Continue;
    let out: Buffer = EMPTY;
    try {
      out = codec.write(EMPTY, true);
    } catch {
      out = EMPTY;
    }
    this.releaseRequest();
    this.shared.inc(this.shared.requestTotalCompressed, out.length);
    if (out.length > 0) this.cb.injectDecodedDataToFilterChain(out, false);
    return FilterTrailersStatus.Continue;
  }

  /** Envoy's request rules: a body of known length (at least min_content_length), a listed type, not encoded yet. */
  private decideRequest(headers: HeaderList, endStream: boolean): void {
    const shared = this.shared;
    const config = shared.config;
    const length = getHeader(headers, 'content-length');
    let ok = !endStream && length !== undefined && getHeader(headers, 'content-encoding') === undefined &&
      typeAllowed(getHeader(headers, 'content-type'), config.requestContentTypes);
    if (ok && Number(length) < config.requestMinContentLength) {
      shared.inc(shared.requestTooSmall);
      ok = false;
    }
    if (!ok) {
      shared.inc(shared.requestNotCompressed);
      return;
    }
    shared.inc(shared.requestCompressed);
    setHeader(headers, 'content-encoding', config.library.encoding);
    removeHeader(headers, 'content-length');
    this.cb.requestBodyRewritten?.();
    this.requestCodec = new StreamCodec(config.library, false);
  }

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    const accept = this.acceptEncoding;
    if (accept === undefined) return FilterHeadersStatus.Continue;
    const shared = this.shared;
    const config = shared.config;
    const status = this.cb.responseStatus;
    if (endStream || this.cb.streamInfo.method === 'HEAD' || status < 200 || status === 204 || status === 304) {
      shared.inc(shared.notCompressed);
      return FilterHeadersStatus.Continue;
    }
    if (!this.compressible(headers)) {
      shared.inc(shared.notCompressed);
      return FilterHeadersStatus.Continue;
    }
    // Compressible: caches must know the response depends on Accept-Encoding, whatever this client accepts.
    addVary(headers);
    if (!this.acceptable(accept)) {
      shared.inc(shared.notCompressed);
      return FilterHeadersStatus.Continue;
    }
    shared.inc(shared.compressed);
    removeHeader(headers, 'content-length');
    setHeader(headers, 'content-encoding', config.library.encoding);
    const etag = getHeader(headers, 'etag');
    if (etag !== undefined && !etag.startsWith('W/')) setHeader(headers, 'etag', `W/${etag}`);
    this.codec = new StreamCodec(config.library, false);
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, endStream: boolean): number {
    const codec = this.codec;
    if (codec === null) return FilterDataStatus.Continue;
    let out: Buffer;
    try {
      out = codec.write(data, endStream);
    } catch {
      // A compressor never fails on its input; if zlib does, the stream cannot go on.
      this.release();
      this.cb.sendLocalReply(500, '', null, -1, 'compressor_error');
      return FilterDataStatus.StopIterationNoBuffer;
    }
    const shared = this.shared;
    shared.inc(shared.totalUncompressed, data.length);
    shared.inc(shared.totalCompressed, out.length);
    if (endStream) this.release();
    if (out.length > 0 || endStream) this.cb.injectEncodedDataToFilterChain(out, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeTrailers(_trailers: HeaderList): number {
    const codec = this.codec;
    if (codec === null) return FilterTrailersStatus.Continue;
    let out: Buffer = EMPTY;
    try {
      out = codec.write(EMPTY, true);
    } catch {
      out = EMPTY;
    }
    this.release();
    this.shared.inc(this.shared.totalCompressed, out.length);
    if (out.length > 0) this.cb.injectEncodedDataToFilterChain(out, false);
    return FilterTrailersStatus.Continue;
  }

  override onDestroy(): void {
    this.release();
    this.releaseRequest();
  }

  private releaseRequest(): void {
    const codec = this.requestCodec;
    if (codec === null) return;
    this.requestCodec = null;
    codec.close();
  }

  private release(): void {
    const codec = this.codec;
    if (codec === null) return;
    this.codec = null;
    codec.close();
  }

  /** Envoy's checks on the response head other than Accept-Encoding, each with its stat. */
  private compressible(headers: HeaderList): boolean {
    const shared = this.shared;
    const config = shared.config;
    const length = getHeader(headers, 'content-length');
    if (length !== undefined && Number(length) < config.minContentLength) {
      shared.inc(shared.tooSmall);
      return false;
    }
    if (!typeAllowed(getHeader(headers, 'content-type'), config.contentTypes)) return false;
    const cacheControl = getHeader(headers, 'cache-control');
    if (cacheControl !== undefined && hasToken(cacheControl, 'no-transform')) return false;
    if (config.disableOnEtag && getHeader(headers, 'etag') !== undefined) {
      shared.inc(shared.etag);
      return false;
    }
    return getHeader(headers, 'content-encoding') === undefined;
  }

  /** The Accept-Encoding negotiation, with its header_* stats: whether this filter's encoding was chosen. */
  private acceptable(accept: string | null): boolean {
    const shared = this.shared;
    if (accept === null) {
      shared.inc(shared.noAcceptHeader);
      return false;
    }
    const registry = registries.get(this.cb.streamInfo) ?? [shared.registration];
    const choice = chooseEncoding(accept, registry);
    const own = shared.registration.encoding;
    if (choice === own) {
      shared.inc(shared.headerUsed);
      return true;
    }
    if (choice === ENCODING_IDENTITY) shared.inc(shared.headerIdentity);
    else if (choice === ENCODING_NOT_VALID) shared.inc(shared.headerNotValid);
    else if (choice === ENCODING_WILDCARD + own) {
      shared.inc(shared.headerWildcard);
      return true;
    } else shared.inc(shared.headerOvershadowed);
    return false;
  }
}

/** A message without content-type is compressible (as Envoy's); with one, its media type must be listed. */
function typeAllowed(type: string | undefined, types: readonly string[]): boolean {
  if (type === undefined) return true;
  const semi = type.indexOf(';');
  return types.includes((semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase());
}

function hasToken(value: string, token: string): boolean {
  const parts = value.split(',');
  for (let i = 0; i < parts.length; i++) if (parts[i]!.trim().toLowerCase() === token) return true;
  return false;
}

/** Adds Accept-Encoding to Vary (once). */
function addVary(headers: HeaderList): void {
  const vary = getHeader(headers, 'vary');
  if (vary === undefined) {
    headers.push('vary', 'Accept-Encoding');
    return;
  }
  if (vary.trim() === '*' || hasToken(vary, 'accept-encoding')) return;
  setHeader(headers, 'vary', `${vary}, Accept-Encoding`);
}

class CompressorFactory implements HttpFilterFactory {
  private readonly shared: CompressorShared;
  constructor(shared: CompressorShared) {
    this.shared = shared;
  }
  createFilter(callbacks: FilterCallbacks): CompressorFilter {
    return new CompressorFilter(callbacks, this.shared);
  }
}

export function compressorFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  return new CompressorFactory(new CompressorShared(config as CompressorConfig, context));
}
