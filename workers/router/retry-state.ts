// Worker thread. One request's retry state (Envoy's RetryStateImpl): the route's compiled RetryPolicy with what a
// trusted request asks for in its x-envoy-* headers, the retries left, the back-off, the request body kept for
// re-sending (up to the connection's buffer limit), and the hosts tried. Made by the router only for a route with a
// retry policy; the UpstreamRequest asks it whether an attempt's outcome is retried.

import type { HeaderList } from '../../src/http/stream-info.ts';
import { getHeader } from '../../src/http/stream-info.ts';
import { removeHeader } from '../../src/http/header-list.ts';
import type { ResponseHead } from '../../src/http1/types.ts';
import { jitteredBackoffMs, parseRetryOn, RetryOn, type RetryPolicy } from '../../src/router/retry-policy.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import type { UpstreamHost } from '../upstream/upstream-host.ts';
import type { WorkerCluster } from '../upstream/worker-cluster.ts';
import type { UpstreamRequest } from './upstream-request.ts';
import type { Hash64 } from '../../src/common/xxhash64.ts';
import type { MetadataMatch } from '../../src/router/metadata-match.ts';

export const X_ENVOY_RETRY_ON = 'x-envoy-retry-on';
export const X_ENVOY_RETRY_GRPC_ON = 'x-envoy-retry-grpc-on';
export const X_ENVOY_MAX_RETRIES = 'x-envoy-max-retries';
export const X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS = 'x-envoy-upstream-rq-timeout-ms';
export const X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS = 'x-envoy-upstream-rq-per-try-timeout-ms';
export const X_ENVOY_ATTEMPT_COUNT = 'x-envoy-attempt-count';
const X_ENVOY_RETRIABLE_STATUS_CODES = 'x-envoy-retriable-status-codes';
const X_ENVOY_RETRIABLE_HEADER_NAMES = 'x-envoy-retriable-header-names';
const X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT = 'x-envoy-hedge-on-per-try-timeout';
const X_ENVOY_RATELIMITED = 'x-envoy-ratelimited';
const X_ENVOY_OVERLOADED = 'x-envoy-overloaded';
const GRPC_STATUS = 'grpc-status';

/** What failed before a response head arrived (the retry_on conditions each answers to). */
export const ResetKind = {
  /** The upstream reset or closed, or a per-try (idle) timeout: "no response at all". */
  RESET: RetryOn.FIVE_XX | RetryOn.GATEWAY_ERROR | RetryOn.RESET,
  CONNECT_FAILURE: RetryOn.FIVE_XX | RetryOn.GATEWAY_ERROR | RetryOn.RESET | RetryOn.CONNECT_FAILURE,
  REFUSED_STREAM: RetryOn.FIVE_XX | RetryOn.GATEWAY_ERROR | RetryOn.RESET | RetryOn.REFUSED_STREAM,
} as const;

/** A non-negative integer header value, or -1. */
function headerUint(headers: HeaderList, name: string): number {
  const v = getHeader(headers, name);
  if (v === undefined || !/^\d{1,10}$/.test(v.trim())) return -1;
  return Number(v.trim());
}

export class RetryState {
  readonly policy: RetryPolicy;
  readonly cluster: WorkerCluster;
  /** The route's priority is HIGH: the cluster's HIGH circuit breakers. */
  private readonly highPriority: boolean;
  /** The route's metadata_match: a retry picks from the same subset (lb_subset_config clusters only read it). */
  private readonly metadataMatch: MetadataMatch | null;
  /** RetryOn bits: the policy's, with a trusted request's x-envoy-retry-on / x-envoy-retry-grpc-on. */
  retryOn: number;
  /** Retries still allowed. */
  remaining: number;
  /** The route timeout for this request (x-envoy-upstream-rq-timeout-ms may replace the route's). */
  timeoutMs: number;
  perTryTimeoutMs: number;
  perTryIdleTimeoutMs: number;
  /** The attempt under way, from 1. */
  attempt: number;
  /** Request body sent so far, for re-sending; null once past the buffer limit (no more retries, as Envoy). */
  body: Buffer[] | null;
  bodyBytes: number;
  private readonly bodyLimit: number;
  /** Hosts of the attempts so far (previous_hosts). */
  readonly hosts: UpstreamHost[];
  /** The back-off timer before the next attempt. */
  backoffTimer: NodeJS.Timeout | null;
  /**
   * hedge_on_per_try_timeout: the attempts under way (each its own UpstreamRequest; the stream's `upstream` is one of
   * them); null without hedging.
   */
  readonly inflight: UpstreamRequest[] | null;
  /** A trusted request's x-envoy-retriable-status-codes (beside the policy's); null: none. */
  private extraStatusCodes: number[] | null;
  /** A trusted request's x-envoy-retriable-header-names (lower-cased; a response carrying one is retriable). */
  private extraHeaderNames: string[] | null;
  private backoffCount: number;
  /** A circuit-breaker max_retries unit is held for the retry under way (its back-off and its attempt). */
  private holdingRetry: boolean;
  /** The last nextBackoffMs came from a reset header (rate_limited_retry_back_off). */
  rateLimited: boolean;

  constructor(policy: RetryPolicy, stream: ActiveStream, cluster: WorkerCluster, routeTimeoutMs: number, highPriority = false, metadataMatch: MetadataMatch | null = null) {
    this.policy = policy;
    this.cluster = cluster;
    this.highPriority = highPriority;
    this.metadataMatch = metadataMatch;
    this.retryOn = policy.retryOn;
    this.remaining = policy.numRetries;
    this.timeoutMs = routeTimeoutMs;
    this.perTryTimeoutMs = policy.perTryTimeoutMs;
    this.perTryIdleTimeoutMs = policy.perTryIdleTimeoutMs;
    this.attempt = 1;
    this.body = [];
    this.bodyBytes = 0;
    this.bodyLimit = stream.hcm.listener.perConnectionBufferLimitBytes;
    this.hosts = [];
    this.backoffTimer = null;
    this.extraStatusCodes = null;
    this.extraHeaderNames = null;
    let hedge = policy.hedgeOnPerTryTimeout;
    this.backoffCount = 0;
    this.holdingRetry = false;
    this.rateLimited = false;
    const headers = stream.headers;
    if (stream.internalRequest) {
      const codes = getHeader(headers, X_ENVOY_RETRIABLE_STATUS_CODES);
      if (codes !== undefined) {
        const list = codes.split(',').map((c) => Number(c.trim())).filter((c) => Number.isInteger(c) && c >= 100 && c <= 599);
        if (list.length > 0) this.extraStatusCodes = list;
      }
      const names = getHeader(headers, X_ENVOY_RETRIABLE_HEADER_NAMES);
      if (names !== undefined) {
        const list = names.split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
        if (list.length > 0) this.extraHeaderNames = list;
      }
      const hedgeHeader = getHeader(headers, X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT);
      if (hedgeHeader !== undefined) hedge = hedgeHeader.trim() === 'true';
      const on = getHeader(headers, X_ENVOY_RETRY_ON);
      if (on !== undefined) this.retryOn |= parseRetryOn(on, false, null);
      const grpcOn = getHeader(headers, X_ENVOY_RETRY_GRPC_ON);
      if (grpcOn !== undefined) this.retryOn |= parseRetryOn(grpcOn, true, null);
      const max = headerUint(headers, X_ENVOY_MAX_RETRIES);
      if (max >= 0) this.remaining = max;
      const timeout = headerUint(headers, X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS);
      if (timeout >= 0) this.timeoutMs = timeout;
      const perTry = headerUint(headers, X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);
      if (perTry >= 0) this.perTryTimeoutMs = perTry;
    }
    this.inflight = hedge ? [] : null;
    // As Envoy's finalTimeout: these two are the router's, never the upstream's.
    removeHeader(headers, X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS);
    removeHeader(headers, X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);
    // A per-try timeout at or beyond the route's is no per-try timeout (Envoy).
    if (this.timeoutMs > 0 && this.perTryTimeoutMs >= this.timeoutMs) this.perTryTimeoutMs = 0;
    // retriable_request_headers: a request matching none is never retried.
    const rrh = policy.retriableRequestHeaders;
    if (rrh.length > 0) {
      const info = stream.info;
      let any = false;
      for (let i = 0; i < rrh.length && !any; i++) any = rrh[i]!.matches(headers, info.authority, stream.head.method, info.path);
      if (!any) this.retryOn = 0;
    }
  }

  /** The timeout the upstream is told to expect (x-envoy-expected-rq-timeout-ms): the per-try one when shorter. */
  expectedTimeoutMs(): number {
    // Hedged, a request may take its whole route timeout.
    return this.perTryTimeoutMs > 0 && this.inflight === null ? this.perTryTimeoutMs : this.timeoutMs;
  }

  /**
   * A request body chunk on its way upstream: kept for a retry while within the buffer limit. False when this chunk
   * took the body past the limit (from then on, no retry).
   */
  bufferBody(chunk: Buffer): boolean {
    const body = this.body;
    if (body === null) return true;
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.bodyLimit) {
      this.body = null;
      this.bodyBytes = 0;
      return false;
    }
    body.push(chunk);
    return true;
  }

  /** Whether this response head's retry_on condition holds (before the retry budget is looked at). */
  wouldRetryOnHeaders(head: ResponseHead): boolean {
    const on = this.retryOn;
    if (on === 0) return false;
    const headers = head.headers;
    const status = head.statusCode;
    // An upstream Envoy that shed the request is not asked again (Envoy's x-envoy-overloaded rule).
    if (getHeader(headers, X_ENVOY_OVERLOADED) !== undefined) return false;
    if ((on & RetryOn.FIVE_XX) !== 0 && status >= 500) return true;
    if ((on & RetryOn.GATEWAY_ERROR) !== 0 && status >= 502 && status <= 504) return true;
    if ((on & RetryOn.RETRIABLE_4XX) !== 0 && status === 409) return true;
    if ((on & RetryOn.ENVOY_RATELIMITED) !== 0 && getHeader(headers, X_ENVOY_RATELIMITED) !== undefined) return true;
    if ((on & RetryOn.RETRIABLE_STATUS_CODES) !== 0 &&
      (this.policy.retriableStatusCodes.includes(status) || (this.extraStatusCodes !== null && this.extraStatusCodes.includes(status)))) return true;
    if ((on & RetryOn.RETRIABLE_HEADERS) !== 0) {
      const matchers = this.policy.retriableHeaders;
      for (let i = 0; i < matchers.length; i++) if (matchers[i]!.matches(headers, '', '', '')) return true;
      const names = this.extraHeaderNames;
      if (names !== null) for (let i = 0; i < names.length; i++) if (getHeader(headers, names[i]!) !== undefined) return true;
    }
    if (on >= RetryOn.GRPC_CANCELLED) {
      // gRPC: the status of a trailers-only response (grpc-status in the head).
      const grpc = getHeader(headers, GRPC_STATUS);
      if (grpc !== undefined) {
        switch (grpc.trim()) {
          case '1': return (on & RetryOn.GRPC_CANCELLED) !== 0;
          case '4': return (on & RetryOn.GRPC_DEADLINE_EXCEEDED) !== 0;
          case '8': return (on & RetryOn.GRPC_RESOURCE_EXHAUSTED) !== 0;
          case '13': return (on & RetryOn.GRPC_INTERNAL) !== 0;
          case '14': return (on & RetryOn.GRPC_UNAVAILABLE) !== 0;
        }
      }
    }
    return false;
  }

  /** Whether a failure before any response head (a ResetKind) is retried by the conditions. */
  wouldRetryOnReset(kind: number): boolean {
    return (this.retryOn & kind) !== 0;
  }

  /**
   * Takes the cluster's circuit-breaker retry unit (max_retries over all workers) for the next retry, giving back
   * the one of the retry whose attempt just ended. False: overflow (the cluster counted upstream_rq_retry_overflow).
   */
  tryTakeRetry(): boolean {
    this.releaseRetry();
    if (!this.cluster.tryStartRetry(this.highPriority)) return false;
    this.holdingRetry = true;
    return true;
  }

  /**
   * The host for a retry or hedge: the load balancer's pick (`hash`: the request's, for RING_HASH / MAGLEV), picked
   * again up to host_selection_retry_max_attempts times while previous_hosts rejects it. Recorded as tried.
   */
  pickHost(hash: Hash64 | null): UpstreamHost | null {
    const cluster = this.cluster;
    // A dynamic forward proxy cluster has one host per request host, an ORIGINAL_DST one per destination: the first attempt's.
    const pinned = cluster.dynamicForwardProxy !== null || cluster.originalDst !== null;
    let host = !pinned ? cluster.chooseHost(hash, 0, this.metadataMatch) : (this.hosts[0] ?? null);
    if (this.policy.previousHosts && !pinned && host !== null) {
      for (let i = 0; i < this.policy.hostSelectionMaxAttempts && this.hosts.includes(host); i++) host = cluster.chooseHost(hash, i + 1, this.metadataMatch) ?? host;
    }
    if (host !== null) this.hosts.push(host);
    return host;
  }

  /** Gives the retry unit back (its attempt is over, or the request). */
  releaseRetry(): void {
    if (!this.holdingRetry) return;
    this.holdingRetry = false;
    this.cluster.endRetry(this.highPriority);
  }

  /**
   * The back-off before the next attempt, in ms; `rateLimited` is set when a reset header of
   * rate_limited_retry_back_off gave it. Envoy's fully jittered exponential back-off otherwise: a uniform draw
   * below base × (2^n − 1) for the n-th retry, capped at max_interval.
   */
  nextBackoffMs(head: ResponseHead | null): number {
    this.rateLimited = false;
    const resetHeaders = this.policy.resetHeaders;
    if (head !== null && resetHeaders.length > 0) {
      for (let i = 0; i < resetHeaders.length; i++) {
        const rh = resetHeaders[i]!;
        const v = getHeader(head.headers, rh.name);
        if (v === undefined || !/^\d{1,12}$/.test(v.trim())) continue;
        const n = Number(v.trim());
        const ms = rh.unixTimestamp ? n * 1000 - Date.now() : n * 1000;
        if (ms < 0 || ms > this.policy.rateLimitedMaxIntervalMs) continue;
        this.rateLimited = true;
        // Envoy's jittered lower bound: at least the interval the upstream asked for, up to half as much again.
        return ms + Math.floor(Math.random() * (ms / 2 + 1));
      }
    }
    this.backoffCount++;
    return jitteredBackoffMs(this.policy.baseIntervalMs, this.policy.maxIntervalMs, this.backoffCount, Math.random());
  }

  /** Every timer off and the retry unit given back (the request is over). */
  clear(): void {
    if (this.backoffTimer !== null) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = null;
    }
    this.releaseRetry();
  }
}
