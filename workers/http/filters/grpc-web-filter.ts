// Worker thread. envoy.filters.http.grpc_web, as Envoy's: bridges a gRPC-Web client (browsers; HTTP/1.1 or HTTP/2)
// to a gRPC upstream (PROTOCOL-WEB.md). A request with content-type application/grpc-web[+proto] or
// application/grpc-web-text[+proto] goes upstream as application/grpc with `te: trailers` and no content-length
// (and grpc-accept-encoding "identity,deflate,gzip" unless given); a -text body is base64-decoded as it streams
// (4-character groups; bad base64 is a 400). The response is application/grpc-web+proto (or -text+proto when the
// request's Accept asked for it: each gRPC frame base64-encoded as it completes), and its trailers become the
// body's last frame (flag 0x80, "name:value\r\n" lines). A response that is not gRPC (another status, another
// content type) is turned into a gRPC-Web error: grpc-status from the HTTP status, grpc-message from its body
// (the first 16 KiB), content-length 0. Other requests pass untouched.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../../src/http/header-list.ts';
import { grpcStatusForHttp, isGrpcContentType } from '../../../src/http/grpc.ts';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

const GRPC_WEB = 'application/grpc-web';
const GRPC_WEB_PROTO = 'application/grpc-web+proto';
const GRPC_WEB_TEXT = 'application/grpc-web-text';
const GRPC_WEB_TEXT_PROTO = 'application/grpc-web-text+proto';
const TRAILER_FLAG = 0x80;
/** How much of a non-gRPC response body becomes grpc-message (Envoy's MAX_BUFFERED_PLAINTEXT_LENGTH). */
const MAX_MESSAGE_BODY = 16384;
const EMPTY = Buffer.alloc(0);
/** One base64 quantum: four alphabet characters, or two/three and padding. */
const QUANTUM = /^(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$/;

/**
 * Strict base64 of a string whose length is a multiple of 4; padding may end any quantum (a client may encode each
 * message on its own), so the text is decoded run by run. null when it is not base64.
 */
export function decodeBase64Stream(text: string): Buffer | null {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i += 4) {
    const q = text.slice(i, i + 4);
    if (!QUANTUM.test(q)) return null;
    if (q.charCodeAt(3) === 61 /* = */) {
      parts.push(Buffer.from(text.slice(start, i + 4), 'base64'));
      start = i + 4;
    }
  }
  if (start < text.length) parts.push(Buffer.from(text.slice(start), 'base64'));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** grpc-message is percent-encoded: bytes outside printable ASCII, and '%'. */
function percentEncode(body: Buffer): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    out += c >= 0x20 && c <= 0x7e && c !== 0x25 ? String.fromCharCode(c) : '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}

class GrpcWebFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private active: boolean;
  private textRequest: boolean;
  private textResponse: boolean;
  private destroyed: boolean;
  /** -text request: base64 characters short of a quantum, kept for the next chunk. */
  private decodeRest: string;
  /** -text response: bytes of a gRPC frame not complete yet. */
  private encodeRest: Buffer;
  /** A non-gRPC response being turned into a gRPC-Web error: its held headers and the body so far. */
  private errorHeaders: HeaderList | null;
  private errorBody: Buffer[] | null;
  private errorBodyBytes: number;

  constructor(cb: FilterCallbacks) {
    super();
    this.cb = cb;
    this.active = false;
    this.textRequest = false;
    this.textResponse = false;
    this.destroyed = false;
    this.decodeRest = '';
    this.encodeRest = EMPTY;
    this.errorHeaders = null;
    this.errorBody = null;
    this.errorBodyBytes = 0;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const ct = getHeader(headers, 'content-type');
    if (ct !== GRPC_WEB && ct !== GRPC_WEB_PROTO && ct !== GRPC_WEB_TEXT && ct !== GRPC_WEB_TEXT_PROTO) return FilterHeadersStatus.Continue;
    this.active = true;
    // The body's length changes (base64, or HTTP/1.1 framing that is not HTTP/2's): no content-length upstream.
    this.cb.requestBodyRewritten?.();
    removeHeader(headers, 'content-length');
    this.textRequest = ct === GRPC_WEB_TEXT || ct === GRPC_WEB_TEXT_PROTO;
    setHeader(headers, 'content-type', 'application/grpc');
    const accept = getHeader(headers, 'accept');
    this.textResponse = accept === GRPC_WEB_TEXT || accept === GRPC_WEB_TEXT_PROTO;
    setHeader(headers, 'te', 'trailers');
    if (getHeader(headers, 'grpc-accept-encoding') === undefined) headers.push('grpc-accept-encoding', 'identity,deflate,gzip');
    return FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    if (!this.textRequest) return FilterDataStatus.Continue;
    const text = this.decodeRest + data.toString('latin1');
    if (endStream) {
      if (text.length === 0) {
        this.cb.injectDecodedDataToFilterChain(EMPTY, true);
        return FilterDataStatus.StopIterationNoBuffer;
      }
      if (text.length % 4 !== 0) {
        this.cb.sendLocalReply(400, 'Bad gRPC-web request, invalid base64 data.', null, -1, 'grpc_base_64_decode_failed_bad_size');
        return FilterDataStatus.StopIterationNoBuffer;
      }
    }
    const usable = text.length - (text.length % 4);
    this.decodeRest = text.slice(usable);
    if (usable === 0 && !endStream) return FilterDataStatus.StopIterationNoBuffer;
    const decoded = decodeBase64Stream(text.slice(0, usable));
    if (decoded === null) {
      this.cb.sendLocalReply(400, 'Bad gRPC-web request, invalid base64 data.', null, -1, 'grpc_base_64_decode_failed');
      return FilterDataStatus.StopIterationNoBuffer;
    }
    this.cb.injectDecodedDataToFilterChain(decoded, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    if (!this.active) return FilterHeadersStatus.Continue;
    const status = this.cb.responseStatus;
    const ct = getHeader(headers, 'content-type');
    let grpc: boolean;
    if (endStream) grpc = getHeader(headers, 'grpc-status') !== undefined; // trailers-only
    else grpc = status === 200 && isGrpcContentType(ct);
    if (!grpc && status === 200 && ct !== undefined) {
      const media = ct.split(';')[0]!.trim().toLowerCase();
      grpc = media === GRPC_WEB || media === GRPC_WEB_PROTO;
    }
    removeHeader(headers, 'content-length');
    setHeader(headers, 'content-type', this.textResponse ? GRPC_WEB_TEXT_PROTO : GRPC_WEB_PROTO);
    if (endStream || grpc) return FilterHeadersStatus.Continue;
    // Not gRPC: held until its body is known, then sent as a gRPC-Web error.
    this.errorHeaders = headers;
    this.errorBody = [];
    return FilterHeadersStatus.StopIteration;
  }

  override encodeData(data: Buffer, endStream: boolean): number {
    if (!this.active) return FilterDataStatus.Continue;
    if (this.errorHeaders !== null) {
      this.keepErrorBody(data);
      if (endStream) this.finishError();
      return FilterDataStatus.StopIterationNoBuffer;
    }
    if (!this.textResponse) return FilterDataStatus.Continue;
    const out = this.encodeFrames(data, endStream);
    if (out.length > 0 || endStream) this.cb.injectEncodedDataToFilterChain(out, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeTrailers(trailers: HeaderList): number {
    if (!this.active) return FilterTrailersStatus.Continue;
    if (this.errorHeaders !== null) {
      this.finishError();
      return FilterTrailersStatus.StopIteration;
    }
    let block = '';
    for (let i = 0; i < trailers.length; i += 2) block += `${trailers[i]}:${trailers[i + 1]}\r\n`;
    const bytes = Buffer.from(block, 'latin1');
    const frame = Buffer.allocUnsafe(5 + bytes.length);
    frame[0] = TRAILER_FLAG;
    frame.writeUInt32BE(bytes.length, 1);
    bytes.copy(frame, 5);
    let out: Buffer = frame;
    if (this.textResponse) {
      // Whatever partial frame is left goes first, then the trailer frame, each base64 on its own.
      const rest = this.encodeFrames(EMPTY, true);
      out = rest.length === 0 ? Buffer.from(frame.toString('base64'), 'latin1') : Buffer.concat([rest, Buffer.from(frame.toString('base64'), 'latin1')]);
    }
    // The trailers travel in the body: the response ends with this frame.
    this.cb.injectEncodedDataToFilterChain(out, true);
    return FilterTrailersStatus.StopIteration;
  }

  override onDestroy(): void {
    this.destroyed = true;
  }

  /** -text response: the base64 of every gRPC frame `data` completes (a partial frame waits; at the end it goes as it is). */
  private encodeFrames(data: Buffer, endStream: boolean): Buffer {
    const buf = this.encodeRest.length === 0 ? data : data.length === 0 ? this.encodeRest : Buffer.concat([this.encodeRest, data]);
    let off = 0;
    let out = '';
    while (buf.length - off >= 5) {
      const len = buf.readUInt32BE(off + 1);
      if (buf.length - off - 5 < len) break;
      out += buf.toString('base64', off, off + 5 + len);
      off += 5 + len;
    }
    if (endStream && off < buf.length) {
      out += buf.toString('base64', off);
      off = buf.length;
    }
    this.encodeRest = off === buf.length ? EMPTY : buf.subarray(off);
    return out === '' ? EMPTY : Buffer.from(out, 'latin1');
  }

  private keepErrorBody(data: Buffer): void {
    const room = MAX_MESSAGE_BODY - this.errorBodyBytes;
    if (room <= 0 || data.length === 0) return;
    const piece = data.length <= room ? data : data.subarray(0, room);
    this.errorBody!.push(Buffer.from(piece));
    this.errorBodyBytes += piece.length;
  }

  /** The non-gRPC response becomes headers only: grpc-status from its HTTP status, grpc-message from its body. */
  private finishError(): void {
    const headers = this.errorHeaders!;
    setHeader(headers, 'grpc-status', String(grpcStatusForHttp(this.cb.responseStatus)));
    setHeader(headers, 'grpc-message', percentEncode(Buffer.concat(this.errorBody!)));
    setHeader(headers, 'content-length', '0');
    this.errorHeaders = null;
    this.errorBody = null;
    // Resumed after this callback returns: resuming inside it would pass the body this call carries on.
    queueMicrotask(() => {
      if (!this.destroyed) this.cb.continueEncoding();
    });
  }
}

class GrpcWebFactory implements HttpFilterFactory {
  createFilter(callbacks: FilterCallbacks): GrpcWebFilter {
    return new GrpcWebFilter(callbacks);
  }
}

const FACTORY = new GrpcWebFactory();

export function grpcWebFilterFactory(_config: unknown, _context: HttpFilterFactoryContext): HttpFilterFactory {
  return FACTORY;
}
