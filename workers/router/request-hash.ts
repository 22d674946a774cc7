// Worker thread. The request hash for a cluster whose load balancer hashes (RING_HASH, MAGLEV): the route's
// hash_policy over this request (src/router/hash-policy.ts). Called by the upstream request only when the
// cluster hashes, so other clusters pay nothing; cookies generated for a policy with a ttl are kept for the
// response (Set-Cookie, as Envoy's router adds them).

import { Hash64 } from '../../src/common/xxhash64.ts';
import { computeRequestHash } from '../../src/router/hash-policy.ts';
import type { HeaderList, StreamInfo } from '../../src/http/stream-info.ts';
import type { Route } from '../../src/router/route-table.ts';

/** What the upstream request hands over: its route and stream, and where the outcome goes. */
export interface HashedRequest {
  readonly route: Route;
  readonly stream: { readonly headers: HeaderList; readonly info: StreamInfo };
  /** The request's hash once computed (null: no policy yielded one). */
  requestHash: Hash64 | null;
  /** Set-Cookie values to add to the response; null: none. */
  hashCookies: string[] | null;
}

const cookies: string[] = [];

/** Computes, remembers and returns the request's hash (null when the route has no policy or none yields). */
export function hashRequest(r: HashedRequest): Hash64 | null {
  const policies = r.route.hashPolicies;
  if (policies === null) return null;
  cookies.length = 0;
  const h = computeRequestHash(policies, r.stream.headers, r.stream.info, new Hash64(), cookies);
  if (cookies.length > 0) r.hashCookies = cookies.slice();
  r.requestHash = h;
  return h;
}

/** Adds the generated cookies to the response head. */
export function addHashCookies(headers: HeaderList, values: readonly string[]): void {
  for (let i = 0; i < values.length; i++) headers.push('set-cookie', values[i]!);
}
