// Any thread (pure; config time only). envoy.filters.network.local_ratelimit (LocalRateLimit: stat_prefix,
// token_bucket, runtime_enabled): each connection the filter chain takes uses one token of a bucket shared by every
// worker (src/filters/shared-token-bucket.ts); without one the connection is closed at once, before the filters
// after it, and counted in local_ratelimit.<stat_prefix>.rate_limited, as Envoy's. Each filter of each filter chain
// has a bucket of its own (Envoy: "each filter and filter chain has an independent rate limit"). Workers take the
// tokens in workers/listener/network-local-ratelimit.ts.

import { bool, durationMs, num, obj, str, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem } from './http-filter-config.ts';

export const NETWORK_LOCAL_RATELIMIT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';

/** One network local rate limit filter, compiled (plain data: it crosses to the workers in the snapshot). */
export interface NetworkLocalRateLimitConfig {
  statPrefix: string;
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
  /** runtime_enabled's default_value (Legate reads no runtime key): false lets every connection through. */
  enabled: boolean;
  /** The bucket's identity for the shared table: the listener, the chain, the filter's place (set by the compiler). */
  bucketKey: string;
  /** local_ratelimit.<stat_prefix>.*; set by the primary. */
  slots: Record<string, number> | null;
}

/** The filter's typed_config at `path`; `bucketKey` names its place (listener, chain, index). null with problems. */
export function compileNetworkLocalRateLimit(o: Obj, path: string, bucketKey: string, problems: FilterConfigProblem[]): NetworkLocalRateLimitConfig | null {
  const before = problems.length;
  const statPrefix = str(o['stat_prefix'], '');
  if (statPrefix === '') problems.push({ code: 'missing_field', path: `${path}.stat_prefix`, message: 'a network local rate limit needs a stat_prefix' });
  if (o['token_bucket'] === undefined) {
    problems.push({ code: 'missing_field', path: `${path}.token_bucket`, message: 'a network local rate limit needs a token_bucket' });
    return null;
  }
  const tb = obj(o['token_bucket']);
  const tp = `${path}.token_bucket`;
  const maxTokens = num(tb['max_tokens'], 0);
  if (maxTokens < 1) problems.push({ path: `${tp}.max_tokens`, message: 'max_tokens must be at least 1' });
  const tokensPerFill = tb['tokens_per_fill'] === undefined ? 1 : num(tb['tokens_per_fill'], 1);
  if (tokensPerFill < 1) problems.push({ path: `${tp}.tokens_per_fill`, message: 'tokens_per_fill must be at least 1' });
  const fillIntervalMs = durationMs(tb, 'fill_interval', 0, tp, problems);
  // Envoy: the fill interval must be at least 50 ms.
  if (fillIntervalMs < 50) problems.push({ path: `${tp}.fill_interval`, message: 'fill_interval must be at least 50ms' });
  const enabled = o['runtime_enabled'] === undefined ? true : bool(obj(o['runtime_enabled'])['default_value'], true);
  if (problems.length > before) return null;
  return {
    statPrefix, maxTokens: Math.min(maxTokens, 0x7fffffff), tokensPerFill: Math.min(tokensPerFill, 0x7fffffff), fillIntervalMs, enabled,
    bucketKey: `network_local_ratelimit|${bucketKey}`, slots: null,
  };
}
