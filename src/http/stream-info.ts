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

/**
 * Dynamic metadata (Envoy's StreamInfo::dynamicMetadata().filter_metadata): namespace (by convention the filter's
 * name, e.g. "envoy.filters.http.jwt_authn") -> a JSON-like struct. Values are what a protobuf Struct can hold
 * (string, number, boolean, null, arrays and nested objects).
 */
export type DynamicMetadata = Record<string, Record<string, unknown>>;

/** One filter state object: Envoy's StringAccessor (a string value) with its read-only flag. */
export interface FilterStateObject {
  readonly value: string;
  readonly readOnly: boolean;
}

/** Why setFilterState refused: the name exists and was set read-only (Envoy refuses to overwrite it). */
export const FILTER_STATE_READ_ONLY = 'read_only';

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
  /** Envoy's StreamInfo healthCheck(): the request is a health check (set by envoy.filters.http.health_check). */
  healthCheck: boolean;
  /**
   * Dynamic metadata set by filters (setDynamicMetadata) for later filters, the router and the access log
   * (%DYNAMIC_METADATA(ns:key)%). null until a filter sets some: nothing is allocated per request otherwise.
   */
  dynamicMetadata: DynamicMetadata | null;
  /**
   * Filter state (Envoy's FilterState, request life span): name -> string object. null until first set. Read with
   * getFilterState; the access log reads it with %FILTER_STATE(name)% / %FILTER_STATE(name:PLAIN)%.
   */
  filterState: Map<string, FilterStateObject> | null;
  /** The body of the local reply this request got (%LOCAL_REPLY_BODY%), before body_format; null otherwise. */
  localReplyBody: string | null;

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
    this.healthCheck = false;
    this.dynamicMetadata = null;
    this.filterState = null;
    this.localReplyBody = null;
  }

  /**
   * Merges `fields` into namespace `ns` of the dynamic metadata (Envoy's setDynamicMetadata: fields given replace
   * those of the same name, others stay). Worker thread, from a filter callback; `fields` is copied shallowly.
   */
  setDynamicMetadata(ns: string, fields: Readonly<Record<string, unknown>>): void {
    const all = (this.dynamicMetadata ??= Object.create(null) as DynamicMetadata);
    let struct = all[ns];
    if (struct === undefined) {
      struct = Object.create(null) as Record<string, unknown>;
      all[ns] = struct;
    }
    for (const k of Object.keys(fields)) struct[k] = fields[k];
  }

  /**
   * Sets filter state object `name` to the string `value`. Returns '' when set, FILTER_STATE_READ_ONLY when an
   * object of that name exists read-only (it is left as it is, as Envoy refuses the overwrite).
   */
  setFilterState(name: string, value: string, readOnly: boolean): string {
    const state = (this.filterState ??= new Map());
    const old = state.get(name);
    if (old !== undefined && old.readOnly) return FILTER_STATE_READ_ONLY;
    state.set(name, Object.freeze({ value, readOnly }));
    return '';
  }

  /** The string value of filter state object `name`, or undefined. */
  getFilterState(name: string): string | undefined {
    return this.filterState === null ? undefined : this.filterState.get(name)?.value;
  }
}
