// Any thread (pure; config time). envoy.filters.http.local_ratelimit's LocalRateLimit, as the filter's config and
// as a per-route config (which then has a token bucket of its own, as Envoy's), compiled to a LocalRateLimitPolicy.
// The filter-level config crosses to the workers as the loader's plain data and is compiled there again; a policy
// holds compiled header formatters and, once used, its worker's token bucket, so it never crosses threads.

import { compileHeaderValueFormat } from '../access-log/formatter.ts';
import { compileMutationLevel, type HeaderMutationLevel } from '../router/header-mutations.ts';
import { durationMs, num, obj, str, type Obj } from '../router/config-values.ts';
import { GrpcStatus } from '../http/grpc.ts';
import { fractionOf } from './cors-config.ts';
import type { SharedTokenBucket } from './shared-token-bucket.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const LOCAL_RATELIMIT_TYPE = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** envoy.type.v3.StatusCode names (the loader gives enums by name) -> the status. */
const STATUS_CODES: Readonly<Record<string, number>> = {
  Continue: 100, OK: 200, Created: 201, Accepted: 202, NonAuthoritativeInformation: 203, NoContent: 204,
  ResetContent: 205, PartialContent: 206, MultiStatus: 207, AlreadyReported: 208, IMUsed: 226, MultipleChoices: 300,
  MovedPermanently: 301, Found: 302, SeeOther: 303, NotModified: 304, UseProxy: 305, TemporaryRedirect: 307,
  PermanentRedirect: 308, BadRequest: 400, Unauthorized: 401, PaymentRequired: 402, Forbidden: 403, NotFound: 404,
  MethodNotAllowed: 405, NotAcceptable: 406, ProxyAuthenticationRequired: 407, RequestTimeout: 408, Conflict: 409,
  Gone: 410, LengthRequired: 411, PreconditionFailed: 412, PayloadTooLarge: 413, URITooLong: 414,
  UnsupportedMediaType: 415, RangeNotSatisfiable: 416, ExpectationFailed: 417, MisdirectedRequest: 421,
  UnprocessableEntity: 422, Locked: 423, FailedDependency: 424, UpgradeRequired: 426, PreconditionRequired: 428,
  TooManyRequests: 429, RequestHeaderFieldsTooLarge: 431, InternalServerError: 500, NotImplemented: 501,
  BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504, HTTPVersionNotSupported: 505,
  VariantAlsoNegotiates: 506, InsufficientStorage: 507, LoopDetected: 508, NotExtended: 510,
  NetworkAuthenticationRequired: 511,
};

/**
 * A token bucket of one worker's own (when the shared table has no room, and for tests): max_tokens to start with, tokens_per_fill added every fill_interval (counted from its
 * creation, refilled when next asked, which is Envoy's timer refill without a timer), never above max_tokens.
 */
export class TokenBucket {
  private tokens: number;
  private lastFillMs: number;
  private readonly maxTokens: number;
  private readonly tokensPerFill: number;
  private readonly fillIntervalMs: number;

  constructor(maxTokens: number, tokensPerFill: number, fillIntervalMs: number, nowMs: number) {
    this.tokens = maxTokens;
    this.lastFillMs = nowMs;
    this.maxTokens = maxTokens;
    this.tokensPerFill = tokensPerFill;
    this.fillIntervalMs = fillIntervalMs;
  }

  /** Takes one token at time `nowMs` (monotonic); false when there is none. */
  consume(nowMs: number): boolean {
    const fills = Math.floor((nowMs - this.lastFillMs) / this.fillIntervalMs);
    if (fills > 0) {
      this.lastFillMs += fills * this.fillIntervalMs;
      const t = this.tokens + fills * this.tokensPerFill;
      this.tokens = t > this.maxTokens ? this.maxTokens : t;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

/** One LocalRateLimit, compiled. */
export class LocalRateLimitPolicy {
  /** The stats scope, "<stat_prefix>.http_local_rate_limit.". */
  readonly statsPrefix: string;
  readonly status: number;
  /** The grpc-status of a limited gRPC call: UNAVAILABLE, or RESOURCE_EXHAUSTED (rate_limited_as_resource_exhausted). */
  readonly grpcStatus: number;
  readonly enabledFraction: number;
  readonly enforcedFraction: number;
  /** token_bucket; null when the filter-level config has none (only its per-route configs limit then). */
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
  readonly responseHeaders: HeaderMutationLevel | null;
  readonly requestHeadersWhenNotEnforced: HeaderMutationLevel | null;
  /**
   * Where the config sits (its field path as compiled): with the connection manager and filter names, the key of its
   * bucket in the table all workers share (src/filters/shared-token-bucket.ts).
   */
  readonly bucketKey: string;
  /** The bucket, found (or claimed) on first use (a per-route policy: one per route, as Envoy's). */
  bucket: TokenBucket | SharedTokenBucket | null;
  /** This worker's stat slots for statsPrefix, resolved on first use; null until then. */
  slots: Readonly<Record<string, number>> | null;

  constructor(o: Omit<LocalRateLimitPolicy, 'bucket' | 'slots' | 'hasBucket'>) {
    this.bucketKey = o.bucketKey;
    this.statsPrefix = o.statsPrefix;
    this.status = o.status;
    this.grpcStatus = o.grpcStatus;
    this.enabledFraction = o.enabledFraction;
    this.enforcedFraction = o.enforcedFraction;
    this.maxTokens = o.maxTokens;
    this.tokensPerFill = o.tokensPerFill;
    this.fillIntervalMs = o.fillIntervalMs;
    this.responseHeaders = o.responseHeaders;
    this.requestHeadersWhenNotEnforced = o.requestHeadersWhenNotEnforced;
    this.bucket = null;
    this.slots = null;
  }

  get hasBucket(): boolean {
    return this.maxTokens > 0;
  }
}

/** The stats of a LocalRateLimit with stat_prefix `prefix` (Envoy's names and tag). */
export function localRateLimitStats(statPrefix: string): HttpFilterStats {
  return { prefix: `${statPrefix}.http_local_rate_limit.`, definition: 'http_local_rate_limit', tags: [['envoy_local_http_ratelimit_prefix', statPrefix]] };
}

/** Fields Legate does not act on (descriptors need route rate_limits actions): refused where they would change behaviour. */
const UNSUPPORTED: readonly string[] = ['descriptors', 'local_rate_limit_per_downstream_connection', 'local_cluster_rate_limit', 'vh_rate_limits'];

/** LocalRateLimit at `path`; `perRoute`: a route's config, which must have a token bucket (Envoy's rule). */
export function compileLocalRateLimit(o: Obj, path: string, problems: FilterConfigProblem[], perRoute: boolean): LocalRateLimitPolicy {
  const statPrefix = str(o['stat_prefix'], '');
  if (statPrefix === '') problems.push({ code: 'missing_field', path: `${path}.stat_prefix`, message: 'stat_prefix is required' });
  for (const f of UNSUPPORTED) {
    const v = o[f];
    if (v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)) {
      problems.push({ code: 'not_supported', path: `${path}.${f}`, message: `not supported yet: ${path}.${f}` });
    }
  }
  const xrl = o['enable_x_ratelimit_headers'];
  if (xrl !== undefined && xrl !== 'OFF') problems.push({ code: 'not_supported', path: `${path}.enable_x_ratelimit_headers`, message: `not supported yet: ${path}.enable_x_ratelimit_headers ${String(xrl)}` });
  const stage = num(o['stage'], 0);
  if (stage !== 0) problems.push({ code: 'not_supported', path: `${path}.stage`, message: `not supported yet: ${path}.stage ${stage} (stages select route rate_limits actions, which Legate does not have)` });
  const code = str(obj(o['status'])['code'], '');
  let status = code === '' ? 429 : (STATUS_CODES[code] ?? 429);
  // Envoy: a status below 400 is replaced by 429.
  if (status < 400) status = 429;
  let maxTokens = 0;
  let tokensPerFill = 1;
  let fillIntervalMs = 0;
  if (o['token_bucket'] !== undefined) {
    const tb = obj(o['token_bucket']);
    const tp = `${path}.token_bucket`;
    maxTokens = num(tb['max_tokens'], 0);
    tokensPerFill = num(tb['tokens_per_fill'], 1);
    fillIntervalMs = durationMs(tb, 'fill_interval', 0, tp, problems);
    if (maxTokens <= 0) problems.push({ code: 'missing_field', path: `${tp}.max_tokens`, message: 'max_tokens must be greater than 0' });
    // Envoy: "the token bucket's fill_interval must be >= 50ms to avoid too aggressive refills".
    if (fillIntervalMs < 50) problems.push({ path: `${tp}.fill_interval`, message: 'fill_interval must be at least 50ms' });
  } else if (perRoute) {
    problems.push({ code: 'missing_field', path: `${path}.token_bucket`, message: 'a per-route local rate limit needs a token_bucket' });
  }
  const responseHeaders = compileMutationLevel(o['response_headers_to_add'], undefined, `${path}.response_headers_to_add`, '', compileHeaderValueFormat, problems);
  const requestHeaders = compileMutationLevel(o['request_headers_to_add_when_not_enforced'], undefined, `${path}.request_headers_to_add_when_not_enforced`, '', compileHeaderValueFormat, problems);
  return new LocalRateLimitPolicy({
    statsPrefix: `${statPrefix}.http_local_rate_limit.`,
    status,
    grpcStatus: o['rate_limited_as_resource_exhausted'] === true ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.UNAVAILABLE,
    // Both default to 0% "for safety", as Envoy's.
    enabledFraction: fractionOf(o['filter_enabled'], 0),
    enforcedFraction: fractionOf(o['filter_enforced'], 0),
    maxTokens: maxTokens > 0 ? maxTokens : 0,
    tokensPerFill,
    fillIntervalMs,
    responseHeaders,
    requestHeadersWhenNotEnforced: requestHeaders,
    bucketKey: path,
  });
}

/** The filter: its config is checked here and sent as given (plain data); the worker compiles it again. */
export const LOCAL_RATELIMIT_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.local_ratelimit',
  compile(typedConfig, path, problems) {
    compileLocalRateLimit(typedConfig, path, problems, false);
    return { config: typedConfig, stats: localRateLimitStats(str(typedConfig['stat_prefix'], '')) };
  },
};

/** As a route's typed_per_filter_config. */
export function compilePerRouteLocalRateLimit(typedConfig: Obj, path: string, problems: FilterConfigProblem[]): LocalRateLimitPolicy {
  return compileLocalRateLimit(typedConfig, path, problems, true);
}

/** The stats a per-route LocalRateLimit writes, for the primary to give slots (src/snapshot walks route configs). */
export function perRouteLocalRateLimitStats(typedConfig: Obj): HttpFilterStats {
  return localRateLimitStats(str(typedConfig['stat_prefix'], ''));
}
