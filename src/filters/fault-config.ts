// Any thread (pure; config time; the providers' methods run on the request path). envoy.filters.http.fault's
// HTTPFault, as the filter's config and as a route's typed_per_filter_config (which replaces it for that route, as
// Envoy's), compiled to FaultSettings. The filter-level config crosses to the workers as the loader's plain data and
// is compiled there again (settings hold header matchers, so they never cross threads). Header-controlled faults
// (header_delay, header_abort) read Envoy's x-envoy-fault-* request headers; percentages are FractionalPercent.

import { compileHeaderMatcher, type HeaderMatcher } from '../router/request-matchers.ts';
import { durationMs, list, num, obj, str, type Obj } from '../router/config-values.ts';
import { getHeader, type HeaderList } from '../http/stream-info.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const FAULT_TYPE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';

/** Envoy's fault header names (HeaderNameValues in Envoy's common fault config). */
export const FaultHeaders = Object.freeze({
  abortRequest: 'x-envoy-fault-abort-request',
  abortGrpcRequest: 'x-envoy-fault-abort-grpc-request',
  abortRequestPercentage: 'x-envoy-fault-abort-request-percentage',
  delayRequest: 'x-envoy-fault-delay-request',
  delayRequestPercentage: 'x-envoy-fault-delay-request-percentage',
  downstreamServiceNode: 'x-envoy-downstream-service-node',
});

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** An unsigned decimal integer as absl::SimpleAtoi reads one (surrounding spaces and a '+' allowed); -1 otherwise. */
export function parseUnsigned(value: string | undefined): number {
  if (value === undefined) return -1;
  const m = /^\s*\+?(\d{1,15})\s*$/.exec(value);
  return m === null ? -1 : Number(m[1]);
}

/**
 * A FractionalPercent, and the request header that may lower its numerator (Envoy's HeaderPercentageProvider: the
 * header's integer, capped at the configured numerator, over the configured denominator; an absent or unreadable
 * header leaves the configured percentage).
 */
export class FaultPercentage {
  readonly numerator: number;
  readonly denominator: number;
  /** '' when no header controls it. */
  readonly header: string;

  constructor(numerator: number, denominator: number, header: string) {
    this.numerator = numerator;
    this.denominator = denominator;
    this.header = header;
    Object.freeze(this);
  }

  /** The numerator for this request (over `denominator`). */
  numeratorFor(headers: HeaderList): number {
    if (this.header === '') return this.numerator;
    const v = parseUnsigned(getHeader(headers, this.header));
    if (v < 0 || v > 0xffffffff) return this.numerator;
    return v < this.numerator ? v : this.numerator;
  }

  /** Whether this request is picked (Envoy's featureEnabled: a uniform draw in [0, denominator) below the numerator). */
  sample(headers: HeaderList, random: number): boolean {
    const n = this.numeratorFor(headers);
    if (n <= 0) return false;
    if (n >= this.denominator) return true;
    return Math.floor(random * this.denominator) < n;
  }
}

/** FaultDelay: a fixed delay, or the one x-envoy-fault-delay-request asks for (header_delay). */
export class FaultDelay {
  /** -1: header_delay. */
  readonly fixedMs: number;
  readonly percentage: FaultPercentage;

  constructor(fixedMs: number, percentage: FaultPercentage) {
    this.fixedMs = fixedMs;
    this.percentage = percentage;
    Object.freeze(this);
  }

  /** The delay for this request in ms, or -1 for none (header_delay without a usable header; 0 is none, as Envoy). */
  durationMs(headers: HeaderList): number {
    if (this.fixedMs >= 0) return this.fixedMs > 0 ? this.fixedMs : -1;
    const v = parseUnsigned(getHeader(headers, FaultHeaders.delayRequest));
    return v > 0 ? v : -1;
  }
}

/** FaultAbort: a fixed HTTP or gRPC status, or the ones x-envoy-fault-abort-(grpc-)request ask for (header_abort). */
export class FaultAbort {
  /** 0: none configured (a gRPC status, or header_abort). */
  readonly httpStatus: number;
  /** -1: none configured. */
  readonly grpcStatus: number;
  readonly fromHeaders: boolean;
  readonly percentage: FaultPercentage;

  constructor(httpStatus: number, grpcStatus: number, fromHeaders: boolean, percentage: FaultPercentage) {
    this.httpStatus = httpStatus;
    this.grpcStatus = grpcStatus;
    this.fromHeaders = fromHeaders;
    this.percentage = percentage;
    Object.freeze(this);
  }

  /** The HTTP status to abort with, or 0: from the config, else x-envoy-fault-abort-request in [200, 600). */
  httpStatusFor(headers: HeaderList): number {
    if (!this.fromHeaders) return this.httpStatus;
    const v = parseUnsigned(getHeader(headers, FaultHeaders.abortRequest));
    return v >= 200 && v < 600 ? v : 0;
  }

  /** The gRPC status to abort with, or -1: from the config, else x-envoy-fault-abort-grpc-request in [0, 16]. */
  grpcStatusFor(headers: HeaderList): number {
    if (!this.fromHeaders) return this.grpcStatus;
    const v = parseUnsigned(getHeader(headers, FaultHeaders.abortGrpcRequest));
    return v >= 0 && v <= 16 ? v : -1;
  }
}

/** One HTTPFault, compiled. */
export class FaultSettings {
  readonly delay: FaultDelay | null;
  readonly abort: FaultAbort | null;
  /** '' when faults apply to every cluster. */
  readonly upstreamCluster: string;
  readonly headers: readonly HeaderMatcher[];
  /** null when faults apply to every downstream node. */
  readonly downstreamNodes: ReadonlySet<string> | null;
  /** max_active_faults; Infinity when unset. Counted per worker (see the filter). */
  readonly maxActiveFaults: number;

  constructor(o: FaultSettings) {
    this.delay = o.delay;
    this.abort = o.abort;
    this.upstreamCluster = o.upstreamCluster;
    this.headers = o.headers;
    this.downstreamNodes = o.downstreamNodes;
    this.maxActiveFaults = o.maxActiveFaults;
    Object.freeze(this);
  }
}

/** The filter's stats: http.<stat_prefix>.fault.* (Envoy's names and tag). */
export function faultStats(hcmStatPrefix: string): HttpFilterStats {
  return { prefix: `http.${hcmStatPrefix}.fault.`, definition: 'fault', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] };
}

function compilePercentage(o: Obj, path: string, header: string, problems: FilterConfigProblem[]): FaultPercentage {
  // An absent percentage is FractionalPercent's default: 0 of 100 (no request is picked), as in Envoy.
  const p = obj(o['percentage']);
  const numerator = num(p['numerator'], 0);
  const denominatorName = str(p['denominator'], 'HUNDRED');
  const denominator = DENOMINATORS[denominatorName];
  if (denominator === undefined) {
    problems.push({ path: `${path}.percentage.denominator`, message: `unknown denominator ${denominatorName}` });
    return new FaultPercentage(0, 100, header);
  }
  return new FaultPercentage(numerator, denominator, header);
}

/** Fields whose behaviour Legate does not have: refused where they would change what happens. */
const UNSUPPORTED: readonly string[] = ['response_rate_limit', 'filter_metadata'];

/** HTTPFault at `path`. */
export function compileFault(o: Obj, path: string, problems: FilterConfigProblem[]): FaultSettings {
  for (const f of UNSUPPORTED) {
    if (o[f] !== undefined && o[f] !== null) problems.push({ code: 'not_supported', path: `${path}.${f}`, message: `not supported yet: ${path}.${f}` });
  }
  let delay: FaultDelay | null = null;
  if (o['delay'] !== undefined && o['delay'] !== null) {
    const d = obj(o['delay']);
    const dp = `${path}.delay`;
    const header = d['header_delay'] !== undefined;
    if (header === (d['fixed_delay'] !== undefined)) problems.push({ code: 'missing_field', path: dp, message: 'exactly one of fixed_delay, header_delay is required' });
    const fixed = header ? -1 : durationMs(d, 'fixed_delay', 0, dp, problems);
    delay = new FaultDelay(fixed, compilePercentage(d, dp, header ? FaultHeaders.delayRequestPercentage : '', problems));
  }
  let abort: FaultAbort | null = null;
  if (o['abort'] !== undefined && o['abort'] !== null) {
    const a = obj(o['abort']);
    const ap = `${path}.abort`;
    const set = ['http_status', 'grpc_status', 'header_abort'].filter((k) => a[k] !== undefined);
    if (set.length !== 1) problems.push({ code: 'missing_field', path: ap, message: 'exactly one of http_status, grpc_status, header_abort is required' });
    const header = a['header_abort'] !== undefined;
    const httpStatus = num(a['http_status'], 0);
    if (a['http_status'] !== undefined && (httpStatus < 200 || httpStatus >= 600)) problems.push({ path: `${ap}.http_status`, message: 'http_status must be in [200, 600)' });
    const grpcStatus = a['grpc_status'] === undefined ? -1 : num(a['grpc_status'], 0);
    abort = new FaultAbort(header ? 0 : httpStatus, header ? -1 : grpcStatus, header, compilePercentage(a, ap, header ? FaultHeaders.abortRequestPercentage : '', problems));
  }
  const headers: HeaderMatcher[] = [];
  list(o['headers']).forEach((h, i) => {
    const m = compileHeaderMatcher(obj(h), `${path}.headers[${i}]`, problems);
    if (m !== null) headers.push(m);
  });
  const nodes = list(o['downstream_nodes']).map((n) => str(n, ''));
  const maxActive = o['max_active_faults'];
  return new FaultSettings({
    delay,
    abort,
    upstreamCluster: str(o['upstream_cluster'], ''),
    headers: Object.freeze(headers),
    downstreamNodes: nodes.length === 0 ? null : new Set(nodes),
    maxActiveFaults: maxActive === undefined || maxActive === null ? Infinity : num(maxActive, 0),
  });
}

/** The filter: its config is checked here and sent as given (plain data); the worker compiles it again. */
export const FAULT_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.fault',
  compile(typedConfig, path, problems, hcmStatPrefix) {
    compileFault(typedConfig, path, problems);
    return { config: typedConfig, stats: faultStats(hcmStatPrefix) };
  },
};

/** As a route's or virtual host's typed_per_filter_config: replaces the filter's settings for that route. */
export function compilePerRouteFault(typedConfig: Obj, path: string, problems: FilterConfigProblem[]): FaultSettings {
  return compileFault(typedConfig, path, problems);
}
