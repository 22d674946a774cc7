// Worker thread. envoy.filters.http.buffer, as Envoy's: a request with a body is held here until it is complete
// (its last data or its trailers), then passed on whole; the request's buffer limit becomes max_request_bytes (the
// route's BufferPerRoute `buffer`, else the filter's), and a body over it is answered 413 by the filter manager
// (downstream_rq_too_large, request_payload_too_large). A request without content-length gets the length of what
// was buffered, so the upstream sees a sized body. BufferPerRoute `disabled` lets the route's requests through as
// they come. A request that ends with its headers is not touched.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { BufferPerRouteSettings, type BufferSettings } from '../../../src/filters/buffer-config.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks,
} from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

const CONTENT_LENGTH = 'content-length';

class BufferFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly settings: BufferSettings;
  /** The request headers while buffering (null: not buffering this request). */
  private headers: HeaderList | null;
  /** Request body bytes seen so far. */
  private bytes: number;

  constructor(cb: FilterCallbacks, settings: BufferSettings) {
    super();
    this.cb = cb;
    this.settings = settings;
    this.headers = null;
    this.bytes = 0;
  }

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    // A header-only request has nothing to buffer.
    if (endStream) return FilterHeadersStatus.Continue;
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    const settings = perRoute instanceof BufferPerRouteSettings ? perRoute : this.settings;
    if (settings.disabled) return FilterHeadersStatus.Continue;
    this.cb.setDecoderBufferLimit(settings.maxRequestBytes);
    this.headers = headers;
    // The body must come before the request goes on: answer Expect: 100-continue now (Envoy answers it first thing).
    const expect = getHeader(headers, 'expect');
    if (expect !== undefined && expect.toLowerCase() === '100-continue') this.cb.sendContinue?.();
    return FilterHeadersStatus.StopIteration;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    if (this.headers === null) return FilterDataStatus.Continue;
    this.bytes += data.length;
    if (endStream) {
      this.addContentLength();
      return FilterDataStatus.Continue;
    }
    // Kept until the request is complete; past the limit the filter manager answers 413.
    return FilterDataStatus.StopIterationAndBuffer;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    if (this.headers !== null) this.addContentLength();
    return FilterTrailersStatus.Continue;
  }

  /** Envoy's maybeAddContentLength: the buffered length, when the request did not say. */
  private addContentLength(): void {
    const headers = this.headers!;
    if (getHeader(headers, CONTENT_LENGTH) === undefined) headers.push(CONTENT_LENGTH, String(this.bytes));
  }
}

export function bufferFilterFactory(config: unknown, _context: HttpFilterFactoryContext): HttpFilterFactory {
  const settings = config as BufferSettings;
  return { createFilter: (cb) => new BufferFilter(cb, settings) };
}
