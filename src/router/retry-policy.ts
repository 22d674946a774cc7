// Any thread (pure; config time only, but for parseRetryOn which a worker also runs on x-envoy-retry-on). Envoy's
// RetryPolicy of a route or virtual host (the route's wins), with the virtual host's attempt-count switches, compiled
// to one frozen RetryPolicy the router's RetryState reads per request.

import type { HeaderMatcher } from './request-matchers.ts';
import { compileHeaderMatcher } from './request-matchers.ts';
import { bool, checkHeaderName, durationMs, isObj, list, num, obj, str, type Obj, type RouteConfigProblem } from './config-values.ts';
import { asciiLower } from './ascii.ts';

/** retry_on / x-envoy-retry-on / x-envoy-retry-grpc-on conditions, as bits (Envoy's RetryPolicy::RETRY_ON_*). */
export const RetryOn = {
  FIVE_XX: 1 << 0,
  GATEWAY_ERROR: 1 << 1,
  RESET: 1 << 2,
  CONNECT_FAILURE: 1 << 3,
  RETRIABLE_4XX: 1 << 4,
  REFUSED_STREAM: 1 << 5,
  RETRIABLE_STATUS_CODES: 1 << 6,
  RETRIABLE_HEADERS: 1 << 7,
  ENVOY_RATELIMITED: 1 << 8,
  GRPC_CANCELLED: 1 << 9,
  GRPC_DEADLINE_EXCEEDED: 1 << 10,
  GRPC_INTERNAL: 1 << 11,
  GRPC_RESOURCE_EXHAUSTED: 1 << 12,
  GRPC_UNAVAILABLE: 1 << 13,
} as const;

/** The HTTP conditions (x-envoy-retry-on, retry_on). */
const HTTP_RETRY_ON: Readonly<Record<string, number>> = {
  '5xx': RetryOn.FIVE_XX,
  'gateway-error': RetryOn.GATEWAY_ERROR,
  reset: RetryOn.RESET,
  'connect-failure': RetryOn.CONNECT_FAILURE,
  'retriable-4xx': RetryOn.RETRIABLE_4XX,
  'refused-stream': RetryOn.REFUSED_STREAM,
  'retriable-status-codes': RetryOn.RETRIABLE_STATUS_CODES,
  'retriable-headers': RetryOn.RETRIABLE_HEADERS,
  'envoy-ratelimited': RetryOn.ENVOY_RATELIMITED,
};
/** The gRPC conditions (x-envoy-retry-grpc-on, and retry_on, which takes both kinds). */
const GRPC_RETRY_ON: Readonly<Record<string, number>> = {
  cancelled: RetryOn.GRPC_CANCELLED,
  'deadline-exceeded': RetryOn.GRPC_DEADLINE_EXCEEDED,
  internal: RetryOn.GRPC_INTERNAL,
  'resource-exhausted': RetryOn.GRPC_RESOURCE_EXHAUSTED,
  unavailable: RetryOn.GRPC_UNAVAILABLE,
};
/** Envoy conditions Legate does not implement yet: refused in a config, ignored in a header. */
const UNSUPPORTED_RETRY_ON = new Set(['reset-before-request', 'http3-post-connect-failure']);

/**
 * The bits of a comma-separated condition list (`grpcOnly`: x-envoy-retry-grpc-on). Unknown names are skipped, in a
 * config too (Envoy's RetryPolicyImpl ignores them); `unknown` collects them for the config's check.
 */
export function parseRetryOn(value: string, grpcOnly: boolean, unknown: string[] | null): number {
  let bits = 0;
  const parts = value.split(',');
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i]!.trim();
    if (name === '') continue;
    const bit = (grpcOnly ? undefined : HTTP_RETRY_ON[name]) ?? GRPC_RETRY_ON[name];
    if (bit !== undefined) bits |= bit;
    else if (unknown !== null) unknown.push(name);
  }
  return bits;
}

/** RateLimitedRetryBackOff.ResetHeader. */
export interface ResetHeader {
  /** Lower-cased. */
  readonly name: string;
  /** UNIX_TIMESTAMP (else SECONDS). */
  readonly unixTimestamp: boolean;
}

/** A compiled retry policy (with the virtual host's attempt-count switches). Frozen; shared by every request. */
export interface RetryPolicy {
  /** RetryOn bits; 0: no retry unless a trusted request header asks. */
  readonly retryOn: number;
  /** num_retries (Envoy's default 1). */
  readonly numRetries: number;
  /** 0: none. */
  readonly perTryTimeoutMs: number;
  /** 0: none. */
  readonly perTryIdleTimeoutMs: number;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  /** rate_limited_retry_back_off.reset_headers; empty: not configured. */
  readonly resetHeaders: readonly ResetHeader[];
  readonly rateLimitedMaxIntervalMs: number;
  /** retry_host_predicate envoy.retry_host_predicates.previous_hosts. */
  readonly previousHosts: boolean;
  /** host_selection_retry_max_attempts (Envoy's default 1). */
  readonly hostSelectionMaxAttempts: number;
  readonly retriableStatusCodes: readonly number[];
  readonly retriableHeaders: readonly HeaderMatcher[];
  /** Empty: every request may be retried. */
  readonly retriableRequestHeaders: readonly HeaderMatcher[];
  /** VirtualHost.include_request_attempt_count: x-envoy-attempt-count on every upstream attempt. */
  readonly includeAttemptCountInRequest: boolean;
  /** VirtualHost.include_attempt_count_in_response. */
  readonly includeAttemptCountInResponse: boolean;
  /**
   * HedgePolicy.hedge_on_per_try_timeout (route's, else virtual host's): a per-try timeout starts another attempt
   * without cancelling the one under way; the first acceptable response wins.
   */
  readonly hedgeOnPerTryTimeout: boolean;
}

/**
 * Envoy's fully jittered exponential back-off (JitteredExponentialBackOffStrategy) before retry `n` (from 1): a
 * uniform draw below base × (2^n − 1), never above `maxMs`. `random` is in [0, 1).
 */
export function jitteredBackoffMs(baseMs: number, maxMs: number, n: number, random: number): number {
  const ceiling = Math.min(baseMs * (2 ** Math.min(n, 30) - 1), maxMs);
  return Math.min(Math.floor(random * ceiling), maxMs);
}

/** Envoy's default retry back-off base interval. */
export const DEFAULT_RETRY_BASE_INTERVAL_MS = 25;
/** Envoy's default rate-limited retry back-off maximum (300 s). */
const DEFAULT_RATE_LIMITED_MAX_MS = 300_000;
export const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';

const NO_MATCHERS: readonly HeaderMatcher[] = Object.freeze([]);
/** Compiled virtual-host policies, by the virtual host's config object, for one compile (its problems list). */
const VHOST_POLICIES = new WeakMap<Obj, { problems: RouteConfigProblem[]; policy: RetryPolicy }>();

function compileMatchers(v: unknown, path: string, problems: RouteConfigProblem[]): readonly HeaderMatcher[] {
  const raw = list(v);
  if (raw.length === 0) return NO_MATCHERS;
  const out: HeaderMatcher[] = [];
  raw.forEach((h, i) => {
    const m = compileHeaderMatcher(obj(h), `${path}[${i}]`, problems);
    if (m !== null) out.push(m);
  });
  return Object.freeze(out);
}

/**
 * The retry settings of a route action `ra` (at `routePath`): its retry_policy, else its virtual host's, with the
 * virtual host's attempt-count switches, and the hedge_policy of the route, else of the virtual host. Null when
 * none applies (the router's fast path).
 */
export function compileRetryPolicy(ra: Obj, routePath: string, vh: Obj, vhPath: string, problems: RouteConfigProblem[]): RetryPolicy | null {
  const routeHedge = isObj(ra['hedge_policy']);
  const hedgePath = routeHedge ? `${routePath}.hedge_policy` : `${vhPath}.hedge_policy`;
  const hedge = hedgeOnPerTryTimeout(routeHedge ? obj(ra['hedge_policy']) : isObj(vh['hedge_policy']) ? obj(vh['hedge_policy']) : null, hedgePath, problems);
  let policy: RetryPolicy;
  if (isObj(ra['retry_policy'])) {
    policy = compilePolicy(obj(ra['retry_policy']), `${routePath}.retry_policy`, vh, problems);
  } else if (isObj(vh['retry_policy']) || bool(vh['include_request_attempt_count'], false) || bool(vh['include_attempt_count_in_response'], false)) {
    // The virtual host's policy: compiled (and its problems reported) once per compile, shared by its routes.
    const cached = VHOST_POLICIES.get(vh);
    if (cached !== undefined && cached.problems === problems) {
      policy = cached.policy;
    } else {
      policy = compilePolicy(obj(vh['retry_policy']), `${vhPath}.retry_policy`, vh, problems);
      VHOST_POLICIES.set(vh, { problems, policy });
    }
  } else if (hedge) {
    // Hedging without a retry policy: attempts are counted, but no condition retries (Envoy's hedges are retries).
    policy = compilePolicy({ num_retries: 0 }, `${routePath}.retry_policy`, vh, problems);
  } else {
    return null;
  }
  return policy.hedgeOnPerTryTimeout === hedge ? policy : Object.freeze({ ...policy, hedgeOnPerTryTimeout: hedge });
}

/** HedgePolicy: hedge_on_per_try_timeout; more initial requests or an additional request chance: not supported yet. */
function hedgeOnPerTryTimeout(h: Obj | null, path: string, problems: RouteConfigProblem[]): boolean {
  if (h === null) return false;
  if (h['initial_requests'] !== undefined && num(h['initial_requests'], 1) !== 1) {
    problems.push({ path: `${path}.initial_requests`, message: 'initial_requests other than 1 is not supported yet' });
  }
  if (h['additional_request_chance'] !== undefined) {
    problems.push({ path: `${path}.additional_request_chance`, message: 'additional_request_chance is not supported yet' });
  }
  return bool(h['hedge_on_per_try_timeout'], false);
}

/** One RetryPolicy message `p` at `path`, with the virtual host's attempt-count switches. */
function compilePolicy(p: Obj, path: string, vh: Obj, problems: RouteConfigProblem[]): RetryPolicy {
  const inRequest = bool(vh['include_request_attempt_count'], false);
  const inResponse = bool(vh['include_attempt_count_in_response'], false);

  const unknown: string[] = [];
  const retryOnRaw = str(p['retry_on'], '');
  const retryOn = parseRetryOn(retryOnRaw, false, unknown);
  // Envoy's conditions Legate lacks are refused; names Envoy does not know either it ignores, and so does Legate.
  for (const name of unknown) {
    if (UNSUPPORTED_RETRY_ON.has(name)) problems.push({ path: `${path}.retry_on`, message: `retry_on '${name}' is not supported yet` });
  }
  const numRetries = p['num_retries'] === undefined ? 1 : num(p['num_retries'], 1);
  if (!Number.isInteger(numRetries) || numRetries < 0) problems.push({ path: `${path}.num_retries`, message: 'must be a non-negative integer' });

  let baseIntervalMs = DEFAULT_RETRY_BASE_INTERVAL_MS;
  let maxIntervalMs = 10 * DEFAULT_RETRY_BASE_INTERVAL_MS;
  if (isObj(p['retry_back_off'])) {
    const bo = obj(p['retry_back_off']);
    const bp = `${path}.retry_back_off`;
    if (bo['base_interval'] === undefined) problems.push({ path: `${bp}.base_interval`, message: 'base_interval is required' });
    baseIntervalMs = Math.max(1, durationMs(bo, 'base_interval', DEFAULT_RETRY_BASE_INTERVAL_MS, bp, problems));
    maxIntervalMs = bo['max_interval'] === undefined ? 10 * baseIntervalMs : durationMs(bo, 'max_interval', 0, bp, problems);
    if (maxIntervalMs < baseIntervalMs) problems.push({ path: `${bp}.max_interval`, message: 'max_interval must be greater than or equal to base_interval' });
  }

  const resetHeaders: ResetHeader[] = [];
  let rateLimitedMaxIntervalMs = DEFAULT_RATE_LIMITED_MAX_MS;
  if (isObj(p['rate_limited_retry_back_off'])) {
    const rl = obj(p['rate_limited_retry_back_off']);
    const rlp = `${path}.rate_limited_retry_back_off`;
    const hs = list(rl['reset_headers']);
    if (hs.length === 0) problems.push({ path: `${rlp}.reset_headers`, message: 'at least one reset header is required' });
    hs.forEach((h, i) => {
      const ho = obj(h);
      const name = str(ho['name'], '');
      if (!checkHeaderName(name, `${rlp}.reset_headers[${i}].name`, problems)) return;
      resetHeaders.push(Object.freeze({ name: asciiLower(name), unixTimestamp: ho['format'] === 'UNIX_TIMESTAMP' || ho['format'] === 1 }));
    });
    rateLimitedMaxIntervalMs = durationMs(rl, 'max_interval', DEFAULT_RATE_LIMITED_MAX_MS, rlp, problems);
  }

  let previousHosts = false;
  list(p['retry_host_predicate']).forEach((pr, i) => {
    const name = str(obj(pr)['name'], '');
    if (name === PREVIOUS_HOSTS_PREDICATE) previousHosts = true;
    else problems.push({ path: `${path}.retry_host_predicate[${i}].name`, message: `retry host predicate '${name}' is not supported yet (only ${PREVIOUS_HOSTS_PREDICATE})` });
  });
  const hostSelectionMaxAttempts = p['host_selection_retry_max_attempts'] === undefined ? 1 : Number(p['host_selection_retry_max_attempts']);
  if (!Number.isInteger(hostSelectionMaxAttempts) || hostSelectionMaxAttempts < 0) {
    problems.push({ path: `${path}.host_selection_retry_max_attempts`, message: 'must be a non-negative integer' });
  }

  const codes: number[] = [];
  list(p['retriable_status_codes']).forEach((c, i) => {
    const code = num(c, -1);
    if (!Number.isInteger(code) || code < 100 || code > 599) problems.push({ path: `${path}.retriable_status_codes[${i}]`, message: 'must be an HTTP status code' });
    else codes.push(code);
  });

  return Object.freeze({
    retryOn,
    numRetries: Math.max(0, Math.trunc(numRetries)),
    perTryTimeoutMs: durationMs(p, 'per_try_timeout', 0, path, problems),
    perTryIdleTimeoutMs: durationMs(p, 'per_try_idle_timeout', 0, path, problems),
    baseIntervalMs,
    maxIntervalMs,
    resetHeaders: Object.freeze(resetHeaders),
    rateLimitedMaxIntervalMs,
    previousHosts,
    hostSelectionMaxAttempts: Math.max(0, Math.trunc(hostSelectionMaxAttempts) || 0),
    retriableStatusCodes: Object.freeze(codes),
    retriableHeaders: compileMatchers(p['retriable_headers'], `${path}.retriable_headers`, problems),
    retriableRequestHeaders: compileMatchers(p['retriable_request_headers'], `${path}.retriable_request_headers`, problems),
    includeAttemptCountInRequest: inRequest,
    includeAttemptCountInResponse: inResponse,
    hedgeOnPerTryTimeout: false,
  });
}
