// Worker thread. envoy.filters.http.grpc_http1_bridge, as Envoy's: a gRPC request (content-type application/grpc)
// from an HTTP/1.x client goes upstream unchanged, and its response is held whole (the client cannot read
// trailers): when the trailers come, their grpc-status and grpc-message are copied into the response head, a
// grpc-status other than 0 makes the status 503, and content-length is set to the body held. The body counts
// against the connection's buffer limit like any buffered response (past it: 500, Envoy's rule). A response that
// ends without trailers (trailers-only, or no gRPC at all) passes as it is. HTTP/2 clients are not bridged.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { setHeader } from '../../../src/http/header-list.ts';
import { isGrpcContentType } from '../../../src/http/grpc.ts';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

class GrpcHttp1BridgeFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private bridging: boolean;
  /** The response head, held until the trailers say how the call ended. */
  private responseHeaders: HeaderList | null;

  constructor(cb: FilterCallbacks) {
    super();
    this.cb = cb;
    this.bridging = false;
    this.responseHeaders = null;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    this.bridging = this.cb.streamInfo.protocol !== 'HTTP/2' && isGrpcContentType(getHeader(headers, 'content-type'));
    return FilterHeadersStatus.Continue;
  }

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    if (!this.bridging || endStream) return FilterHeadersStatus.Continue;
    this.responseHeaders = headers;
    return FilterHeadersStatus.StopIteration;
  }

  override encodeData(_data: Buffer, endStream: boolean): number {
    if (!this.bridging || endStream) return FilterDataStatus.Continue;
    return FilterDataStatus.StopIterationAndBuffer;
  }

  override encodeTrailers(trailers: HeaderList): number {
    const headers = this.responseHeaders;
    if (!this.bridging || headers === null) return FilterTrailersStatus.Continue;
    const status = getHeader(trailers, 'grpc-status');
    if (status !== undefined) {
      if (status !== '0') this.cb.setResponseStatus(503);
      setHeader(headers, 'grpc-status', status);
    }
    const message = getHeader(trailers, 'grpc-message');
    if (message !== undefined) setHeader(headers, 'grpc-message', message);
    // Buffered whole: a length lets the HTTP/1.1 client tell a complete response (the trailers themselves are dropped).
    setHeader(headers, 'content-length', String(this.cb.encodingBuffer()?.length ?? 0));
    return FilterTrailersStatus.Continue;
  }
}

class GrpcHttp1BridgeFactory implements HttpFilterFactory {
  createFilter(callbacks: FilterCallbacks): GrpcHttp1BridgeFilter {
    return new GrpcHttp1BridgeFilter(callbacks);
  }
}

const FACTORY = new GrpcHttp1BridgeFactory();

export function grpcHttp1BridgeFilterFactory(_config: unknown, _context: HttpFilterFactoryContext): HttpFilterFactory {
  return FACTORY;
}
