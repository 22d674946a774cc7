// Any thread (pure). Header names the proxy treats specially (all lower-case, as HeaderList holds them).

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1 plus the legacy ones Envoy strips): never forwarded; the proxy frames each
 * hop itself. `te` is handled apart (only "trailers" may pass).
 */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'http2-settings', 'proxy-authenticate',
]);

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

export const H = {
  host: 'host',
  xForwardedFor: 'x-forwarded-for',
  xForwardedProto: 'x-forwarded-proto',
  xRequestId: 'x-request-id',
  xEnvoyExpectedRqTimeoutMs: 'x-envoy-expected-rq-timeout-ms',
  xEnvoyUpstreamServiceTime: 'x-envoy-upstream-service-time',
  xEnvoyOriginalPath: 'x-envoy-original-path',
  xEnvoyExternalAddress: 'x-envoy-external-address',
  xEnvoyInternal: 'x-envoy-internal',
  contentLength: 'content-length',
  transferEncoding: 'transfer-encoding',
  connection: 'connection',
  upgrade: 'upgrade',
  server: 'server',
  via: 'via',
  date: 'date',
  contentType: 'content-type',
  expect: 'expect',
} as const;
