// Any thread (pure; the connection manager calls it once per request). Envoy's HTTP header sanitizing
// (ConnectionManagerUtility::mutateRequestHeaders / cleanInternalHeaders): a request is internal when, with
// use_remote_address, its peer is an internal address (internal_address_config), or, without it, x-forwarded-for holds exactly one address
// and that one is internal. An internal request gets x-envoy-internal: true; any other loses the x-envoy-* request
// headers a client could steer Legate with (retries, timeouts, forced tracing, the TLS-redirect exemption
// x-envoy-internal, ...), and an edge request (use_remote_address, external) gets x-envoy-external-address.

import type { HeaderList } from './stream-info.ts';
import { getHeader } from './stream-info.ts';
import type { InternalAddressPolicy } from './internal-address.ts';

/**
 * Envoy's cleanInternalHeaders list for any external request, and x-envoy-internal itself. (An edge request also loses
 * EDGE_ONLY: a proxy in front that is not the edge may set those for Legate.)
 */
const SANITIZED: ReadonlySet<string> = new Set([
  'x-envoy-retriable-status-codes', 'x-envoy-retriable-header-names', 'x-envoy-retry-on', 'x-envoy-retry-grpc-on',
  'x-envoy-max-retries', 'x-envoy-upstream-alt-stat-name', 'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace', 'x-envoy-ip-tags', 'x-envoy-original-url', 'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-internal',
]);
/** Removed from edge requests only (use_remote_address and external): Legate then sets x-envoy-external-address. */
const EDGE_ONLY: ReadonlySet<string> = new Set([
  'x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node',
  'x-envoy-external-address',
]);

/**
 * Envoy's internal-request rule. `headers` as received (before Legate appends to x-forwarded-for); `peerIp` the
 * downstream connection's address; `internal` the HCM's internal_address_config (which trusts nothing when absent).
 */
export function isInternalRequest(useRemoteAddress: boolean, peerIp: string, headers: HeaderList, internal: InternalAddressPolicy): boolean {
  if (useRemoteAddress) return internal.isInternal(peerIp);
  const xff = getHeader(headers, 'x-forwarded-for');
  if (xff === undefined || xff.indexOf(',') >= 0) return false;
  const ip = xff.trim();
  return ip !== '' && internal.isInternal(ip);
}

/**
 * Removes the sanitized x-envoy-* fields from an external request's headers, and on an `edge` request (one taken
 * with use_remote_address) the edge-only ones too. One pass; names are lower-case.
 */
export function removeExternalEnvoyHeaders(headers: HeaderList, edge: boolean): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = headers[i]!;
    // 'x' then "-envoy-": most names fail on the first character.
    if (name.length > 9 && name.charCodeAt(0) === 120 && name.startsWith('x-envoy-') && (SANITIZED.has(name) || (edge && EDGE_ONLY.has(name)))) {
      headers.splice(i, 2);
    }
  }
}
