// Worker thread. Everything known about one downstream request, for access logs, header formatters and stats.
// One shape for every request (all fields preset in the constructor) so the hot path stays monomorphic.

/** Flat header list: [name0, value0, name1, value1, ...]; names are lower-case (as Envoy sends them). */
export type HeaderList = string[];

export function getHeader(headers: HeaderList | null, lowerName: string): string | undefined {
  if (headers === null) return undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === lowerName) return headers[i + 1];
  }
  return undefined;
}

export class StreamInfo {
  /** Wall-clock start, milliseconds since the epoch. */
  startTimeMs: number;
  /** Monotonic start (performance.now()), for durations. */
  startMonoMs: number;
  /** Monotonic time the last downstream request byte arrived; -1 until then. */
  lastDownstreamRxMonoMs: number;
  /** Monotonic time the first upstream response byte arrived; -1 until then. */
  firstUpstreamRxMonoMs: number;
  /** Monotonic time the last downstream response byte was written; -1 until then. */
  lastDownstreamTxMonoMs: number;
  protocol: string;
  method: string;
  /** Path as received, before any rewrite (what %REQ(:PATH)% shows). */
  path: string;
  authority: string;
  scheme: string;
  requestHeaders: HeaderList | null;
  responseHeaders: HeaderList | null;
  responseTrailers: HeaderList | null;
  /** 0 until a response code is known. */
  responseCode: number;
  responseCodeDetails: string;
  /** Bit set of ResponseFlag. */
  responseFlags: number;
  bytesReceived: number;
  bytesSent: number;
  /** "ip:port" of the upstream host picked, or null. */
  upstreamHost: string | null;
  upstreamCluster: string | null;
  upstreamLocalAddress: string | null;
  upstreamTransportFailureReason: string | null;
  downstreamRemoteAddress: string;
  downstreamDirectRemoteAddress: string;
  downstreamLocalAddress: string;
  requestId: string;
  routeName: string;
  connectionId: number;
  /** Set by the router: whole upstream service time, ms; -1 when there was no upstream response. */
  upstreamServiceTimeMs: number;
  /** %UPSTREAM_REQUEST_ATTEMPT_COUNT%: tries upstream (HTTP streams incl. refused-stream retries, TCP connects). */
  upstreamAttemptCount: number;

  constructor() {
    this.startTimeMs = 0;
    this.startMonoMs = 0;
    this.lastDownstreamRxMonoMs = -1;
    this.firstUpstreamRxMonoMs = -1;
    this.lastDownstreamTxMonoMs = -1;
    this.protocol = 'HTTP/1.1';
    this.method = '';
    this.path = '';
    this.authority = '';
    this.scheme = 'http';
    this.requestHeaders = null;
    this.responseHeaders = null;
    this.responseTrailers = null;
    this.responseCode = 0;
    this.responseCodeDetails = '';
    this.responseFlags = 0;
    this.bytesReceived = 0;
    this.bytesSent = 0;
    this.upstreamHost = null;
    this.upstreamCluster = null;
    this.upstreamLocalAddress = null;
    this.upstreamTransportFailureReason = null;
    this.downstreamRemoteAddress = '';
    this.downstreamDirectRemoteAddress = '';
    this.downstreamLocalAddress = '';
    this.requestId = '';
    this.routeName = '';
    this.connectionId = 0;
    this.upstreamServiceTimeMs = -1;
    this.upstreamAttemptCount = 0;
  }
}
