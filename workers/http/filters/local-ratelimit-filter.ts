// Worker thread. envoy.filters.http.local_ratelimit, as Envoy's: for the fraction of requests filter_enabled says,
// each takes a token from the bucket (the route's typed_per_filter_config, with a bucket of its own, else the
// filter's); without one the request is rate limited, and for the fraction filter_enforced says it is answered here
// (429 or the configured status, "local_rate_limited", RL, response_headers_to_add); otherwise it goes on with
// request_headers_to_add_when_not_enforced. Stats <stat_prefix>.http_local_rate_limit.{enabled,ok,rate_limited,
// enforced}. Each bucket is shared by all workers, as Envoy's is one per process: it lives in shared memory
// (src/filters/shared-token-bucket.ts), keyed by the connection manager's stat_prefix, the filter's name and where
// the config sits (the filter's, or a route's).


import type { HeaderList } from '../../../src/http/stream-info.ts';
import { ResponseFlag } from '../../../src/http/response-flags.ts';
import { compileLocalRateLimit, LocalRateLimitPolicy, TokenBucket } from '../../../src/filters/local-ratelimit-config.ts';
import { sharedNowMs, sharedTokenBucket } from '../../../src/filters/shared-token-bucket.ts';
import { overloadShared } from '../../../src/overload/overload-shared.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';

/** What every stream's filter shares: the filter-level policy (and its bucket) and the stats. */
class LocalRateLimitShared {
  readonly policy: LocalRateLimitPolicy;
  readonly stats: WorkerStatsStore;
  private readonly context: HttpFilterFactoryContext;
  /** "<hcm stat_prefix>|<filter name>|": the start of every bucket key of this filter. */
  readonly keyPrefix: string;

  constructor(config: Obj, context: HttpFilterFactoryContext) {
    // Checked by the primary already (src/filters/local-ratelimit-config.ts); compiled here for this worker.
    this.policy = compileLocalRateLimit(config, 'local_ratelimit', [], false);
    this.policy.slots = context.slots;
    this.stats = context.stats;
    this.context = context;
    this.keyPrefix = `${context.statPrefix}|${context.configName}|`;
  }

  /** The policy's slots: the filter's, or a per-route config's (looked up once per route table). */
  slotsOf(policy: LocalRateLimitPolicy): Readonly<Record<string, number>> | null {
    if (policy.slots === null) policy.slots = this.context.statSlotsFor(policy.statsPrefix);
    return policy.slots;
  }
}

function sample(fraction: number): boolean {
  return fraction >= 1 || (fraction > 0 && Math.random() < fraction);
}

class LocalRateLimitFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: LocalRateLimitShared;
  /** The policy that limited this request (its response headers go on the local reply); null when not limited. */
  private limitedBy: LocalRateLimitPolicy | null;

  constructor(cb: FilterCallbacks, shared: LocalRateLimitShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.limitedBy = null;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    const policy = perRoute instanceof LocalRateLimitPolicy ? perRoute : this.shared.policy;
    if (!sample(policy.enabledFraction)) return FilterHeadersStatus.Continue;
    const values = this.shared.stats.values;
    const slots = this.shared.slotsOf(policy);
    if (slots !== null) values[slots['enabled']!]++;
    if (!policy.hasBucket || this.takeToken(policy)) {
      if (slots !== null) values[slots['ok']!]++;
      return FilterHeadersStatus.Continue;
    }
    if (slots !== null) values[slots['rate_limited']!]++;
    if (!sample(policy.enforcedFraction)) {
      if (policy.requestHeadersWhenNotEnforced !== null) policy.requestHeadersWhenNotEnforced.apply(headers, this.cb.streamInfo);
      return FilterHeadersStatus.Continue;
    }
    if (slots !== null) values[slots['enforced']!]++;
    this.limitedBy = policy;
    this.cb.streamInfo.responseFlags |= ResponseFlag.RateLimited;
    this.cb.sendLocalReply(policy.status, 'local_rate_limited', null, policy.grpcStatus, 'local_rate_limited');
    return FilterHeadersStatus.StopIteration;
  }

  override encodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const policy = this.limitedBy;
    if (policy !== null && policy.responseHeaders !== null) policy.responseHeaders.apply(headers, this.cb.streamInfo);
    return FilterHeadersStatus.Continue;
  }

  private takeToken(policy: LocalRateLimitPolicy): boolean {
    const now = sharedNowMs();
    let bucket = policy.bucket;
    if (bucket === null) {
      // Once per policy and worker: the bucket every worker shares, else (table full) one of this worker's own.
      const o = overloadShared;
      bucket = sharedTokenBucket(o.tokenBuckets, o.tokenBucketTimes, this.shared.keyPrefix + policy.bucketKey, policy.maxTokens, policy.tokensPerFill, policy.fillIntervalMs, now)
        ?? new TokenBucket(policy.maxTokens, policy.tokensPerFill, policy.fillIntervalMs, now);
      policy.bucket = bucket;
    }
    return bucket.consume(now);
  }
}

export function localRateLimitFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new LocalRateLimitShared(config as Obj, context);
  return { createFilter: (cb) => new LocalRateLimitFilter(cb, shared) };
}
