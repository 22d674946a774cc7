// Any thread. Envoy's response flags (the %RESPONSE_FLAGS% short names), as bits of StreamInfo.responseFlags.
// Names and order follow Envoy's StreamInfo::CoreResponseFlag so its docs carry over.

export const ResponseFlag = {
  FailedLocalHealthCheck: 1 << 0, // LH
  NoHealthyUpstream: 1 << 1, // UH
  UpstreamRequestTimeout: 1 << 2, // UT
  LocalReset: 1 << 3, // LR
  UpstreamRemoteReset: 1 << 4, // UR
  UpstreamConnectionFailure: 1 << 5, // UF
  UpstreamConnectionTermination: 1 << 6, // UC
  UpstreamOverflow: 1 << 7, // UO
  NoRouteFound: 1 << 8, // NR
  DelayInjected: 1 << 9, // DI
  FaultInjected: 1 << 10, // FI
  RateLimited: 1 << 11, // RL
  UnauthorizedExternalService: 1 << 12, // UAEX
  RateLimitServiceError: 1 << 13, // RLSE
  DownstreamConnectionTermination: 1 << 14, // DC
  UpstreamRetryLimitExceeded: 1 << 15, // URX
  StreamIdleTimeout: 1 << 16, // SI
  InvalidEnvoyRequestHeaders: 1 << 17, // IH
  DownstreamProtocolError: 1 << 18, // DPE
  UpstreamMaxStreamDurationReached: 1 << 19, // UMSDR
  ResponseFromCacheFilter: 1 << 20, // RFCF
  NoFilterConfigFound: 1 << 21, // NFCF
  DurationTimeout: 1 << 22, // DT
  UpstreamProtocolError: 1 << 23, // UPE
  NoClusterFound: 1 << 24, // NC
  OverloadManager: 1 << 25, // OM
  DnsResolutionFailed: 1 << 26, // DF
  DropOverLoad: 1 << 27, // DO
} as const;

/** Short names in Envoy's order; index i names bit (1 << i). */
export const RESPONSE_FLAG_SHORT_NAMES: readonly string[] = Object.freeze([
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH',
  'DPE', 'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO',
]);

/** Formats a flag set as Envoy does: comma-separated short names, or "-" when none. */
export function formatResponseFlags(flags: number): string {
  if (flags === 0) return '-';
  let out = '';
  for (let i = 0; i < RESPONSE_FLAG_SHORT_NAMES.length; i++) {
    if ((flags & (1 << i)) !== 0) out = out === '' ? RESPONSE_FLAG_SHORT_NAMES[i]! : out + ',' + RESPONSE_FLAG_SHORT_NAMES[i]!;
  }
  return out;
}
