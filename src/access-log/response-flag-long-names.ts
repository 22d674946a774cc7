// Any thread (pure). Envoy's long response-flag names (%RESPONSE_FLAGS_LONG%), in the bit order of
// src/http/response-flags.ts.

/** Long names; index i names bit (1 << i) of StreamInfo.responseFlags. */
export const RESPONSE_FLAG_LONG_NAMES: readonly string[] = Object.freeze([
  'FailedLocalHealthCheck', 'NoHealthyUpstream', 'UpstreamRequestTimeout', 'LocalReset', 'UpstreamRemoteReset',
  'UpstreamConnectionFailure', 'UpstreamConnectionTermination', 'UpstreamOverflow', 'NoRouteFound', 'DelayInjected',
  'FaultInjected', 'RateLimited', 'UnauthorizedExternalService', 'RateLimitServiceError',
  'DownstreamConnectionTermination', 'UpstreamRetryLimitExceeded', 'StreamIdleTimeout', 'InvalidEnvoyRequestHeaders',
  'DownstreamProtocolError', 'UpstreamMaxStreamDurationReached', 'ResponseFromCacheFilter', 'NoFilterConfigFound',
  'DurationTimeout', 'UpstreamProtocolError', 'NoClusterFound', 'OverloadManagerTerminated', 'DnsResolutionFailed',
  'DropOverload',
]);

/** Comma-separated long names, or "-" when no flag is set (as Envoy prints it). */
export function formatResponseFlagsLong(flags: number): string {
  if (flags === 0) return '-';
  let out = '';
  for (let i = 0; i < RESPONSE_FLAG_LONG_NAMES.length; i++) {
    if ((flags & (1 << i)) !== 0) out = out === '' ? RESPONSE_FLAG_LONG_NAMES[i]! : out + ',' + RESPONSE_FLAG_LONG_NAMES[i]!;
  }
  return out;
}
