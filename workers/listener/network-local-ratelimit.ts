// Worker thread. envoy.filters.network.local_ratelimit on a filter chain: one token per connection from the bucket
// every worker shares (src/filters/shared-token-bucket.ts; a worker's own when the shared table is full); a
// connection without one is counted in local_ratelimit.<stat_prefix>.rate_limited and closed by the caller.

import type { NetworkLocalRateLimitConfig } from '../../src/filters/network-local-ratelimit-config.ts';
import { sharedNowMs, sharedTokenBucket, type SharedTokenBucket } from '../../src/filters/shared-token-bucket.ts';
import { TokenBucket } from '../../src/filters/local-ratelimit-config.ts';
import { overloadShared } from '../../src/overload/overload-shared.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';

/** Each filter's bucket in this worker, found once per config version (keyed by its snapshot object). */
const buckets = new WeakMap<NetworkLocalRateLimitConfig, SharedTokenBucket | TokenBucket>();

function bucketOf(config: NetworkLocalRateLimitConfig, now: number): SharedTokenBucket | TokenBucket {
  let b = buckets.get(config);
  if (b === undefined) {
    const o = overloadShared;
    b = sharedTokenBucket(o.tokenBuckets, o.tokenBucketTimes, config.bucketKey, config.maxTokens, config.tokensPerFill, config.fillIntervalMs, now)
      ?? new TokenBucket(config.maxTokens, config.tokensPerFill, config.fillIntervalMs, now);
    buckets.set(config, b);
  }
  return b;
}

/** Whether every local rate limit filter of the chain lets this connection through (a token each, in order). */
export function networkLocalRateLimitAllows(filters: readonly NetworkLocalRateLimitConfig[], stats: WorkerStatsStore): boolean {
  const now = sharedNowMs();
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    if (!f.enabled) continue;
    if (bucketOf(f, now).consume(now)) continue;
    if (f.slots !== null) stats.values[f.slots['rate_limited']!]++;
    return false;
  }
  return true;
}
