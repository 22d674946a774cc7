// Any thread (pure). The route table's interface: what a worker's connection manager and router read per request.

import type { HeaderList, StreamInfo } from '../http/stream-info.ts';
import type { RouteFilterConfig } from '../filters/http-filter-config.ts';
import type { CorsPolicy } from '../filters/cors-config.ts';
import type { MirrorPolicy } from './mirror-policy.ts';
import type { RetryPolicy } from './retry-policy.ts';
import type { HashPolicy } from './hash-policy.ts';
import type { MetadataMatch } from './metadata-match.ts';

export const RouteKind = { CLUSTER: 0, DIRECT_RESPONSE: 1, REDIRECT: 2 } as const;

/**
 * One compiled route entry, frozen, built once per route table and returned by reference from every match: it
 * holds no per-request state. Methods run on the worker's request path and never throw.
 */
export interface Route {
  /** A RouteKind. */
  kind: number;
  /** Route.name ('' when unnamed), for %ROUTE_NAME%. */
  routeName: string;
  /**
   * CLUSTER: RouteAction.cluster, or the cluster weighted_clusters chose for this request (the route table returns
   * that cluster's route); '' otherwise and with clusterHeader.
   */
  clusterName: string;
  /** CLUSTER: RouteAction.cluster_header (lower-cased): the request header naming the cluster; null otherwise. */
  clusterHeader: string | null;
  /** RouteAction.request_mirror_policies, else the virtual host's (Envoy: the most specific non-empty); null: none. */
  mirrorPolicies: readonly MirrorPolicy[] | null;
  /** DIRECT_RESPONSE: the status; 0 otherwise. */
  directStatus: number;
  /** DIRECT_RESPONSE: the body read at build time; null when the action has no body. */
  directBody: Buffer | null;
  /** REDIRECT: 301, 302, 303, 307 or 308; 0 otherwise. */
  redirectStatus: number;
  /**
   * The Location of a redirect from request (`scheme`, `authority`, `path` with query), Envoy's newUri. Also
   * defined for DIRECT_RESPONSE (the request's own URL; Envoy sends it as Location for 201 and 3xx statuses).
   */
  redirectLocation(scheme: string, authority: string, path: string): string;
  /** RouteAction.host_rewrite_literal; null when not set (or empty). The caller sets host after the mutations. */
  hostRewriteLiteral: string | null;
  autoHostRewrite: boolean;
  /** RouteAction.host_rewrite_header (lower-cased), applied at the end of applyRequestHeaderMutations. */
  hostRewriteHeader: string | null;
  /** The upstream :path for request path `path` (query kept): prefix_rewrite or regex_rewrite; `path` itself when none. */
  rewritePath(path: string): string;
  /** RouteAction.timeout in ms; Envoy's default 15000; 0 = disabled. */
  timeoutMs: number;
  /** RouteAction.idle_timeout in ms; 0 = not set (or set to 0, see idleTimeoutConfigured). */
  idleTimeoutMs: number;
  /** idle_timeout was given; with idleTimeoutMs 0 it disables even the HCM's stream_idle_timeout (Envoy). */
  idleTimeoutConfigured: boolean;
  /**
   * RouteAction.max_stream_duration is set: the route `timeout` no longer applies (Envoy's "new timeouts") and the
   * connection manager ends the stream after maxStreamDurationMs (0 = none) from its start, or after a gRPC
   * request's grpc-timeout when grpcTimeoutHeaderMaxMs >= 0 (capped by it unless 0; minus the offset).
   */
  maxStreamDurationSet: boolean;
  /** -1 = not set on the route (the connection manager's common max_stream_duration applies); 0 = none. */
  maxStreamDurationMs: number;
  /** -1 = grpc_timeout_header_max not set (grpc-timeout is ignored). */
  grpcTimeoutHeaderMaxMs: number;
  grpcTimeoutHeaderOffsetMs: number;
  /**
   * RouteAction.upgrade_configs: upgrade type (lower-case) -> enabled, overriding the connection manager's
   * upgrade_configs for this route; null when the route has none.
   */
  upgradeOverrides: Readonly<Record<string, boolean>> | null;
  /**
   * typed_per_filter_config of the virtual host and the route, by HTTP filter name (the route's entry replaces the
   * virtual host's): whether the filter runs for this route, and its per-route config. null when neither has any.
   */
  perFilterConfigs: Readonly<Record<string, RouteFilterConfig>> | null;
  /**
   * The deprecated CorsPolicy `cors` of the route action, then of the virtual host (those given): what the CORS
   * filter uses when no typed_per_filter_config names it.
   */
  corsPolicies: readonly CorsPolicy[];
  /**
   * The route's retry_policy, else its virtual host's, with the virtual host's attempt-count switches; null when
   * none applies (the router then does no retry work at all).
   */
  retryPolicy: RetryPolicy | null;
  /** RouteAction.hash_policy: what the request is hashed by for a RING_HASH / MAGLEV cluster; null: none. */
  hashPolicies: readonly HashPolicy[] | null;
  /**
   * RouteAction.metadata_match `envoy.lb` criteria (merged with a weighted cluster entry's), read only by clusters
   * with lb_subset_config (workers/upstream/subset-lb.ts); absent or null: none.
   */
  metadataMatch?: MetadataMatch | null;
  /** RouteAction.priority HIGH: the cluster's HIGH circuit breakers and pools; optional (absent/false: DEFAULT). */
  highPriority?: boolean;
  /** Route.decorator.operation: the name of the request's span when tracing; optional (null/absent: none). */
  decoratorOperation?: string | null;
  /** request_headers_to_add/remove of route, virtual host and route configuration, in Envoy's order; then host_rewrite_header. */
  applyRequestHeaderMutations(headers: HeaderList, info: StreamInfo): void;
  /** response_headers_to_add/remove of the three levels. `info.responseHeaders` should be `headers` for %RESP()%. */
  applyResponseHeaderMutations(headers: HeaderList, info: StreamInfo): void;
}

/** A compiled RouteConfiguration. route() runs once per request on a worker. */
export interface RouteTable {
  /**
   * The route for a request, or null (no virtual host or no route matched: Envoy's NR). `authority` is the
   * Host, `path` the request target with its query; `headers` are the request headers after the connection
   * manager's own rules (x-forwarded-proto is read for require_tls). `previous`: the stream's route before a
   * clearRouteCache(), so weighted_clusters keep the cluster they chose for it (Envoy picks with the stream's id).
   */
  route(authority: string, method: string, path: string, headers: HeaderList, previous?: Route | null): Route | null;
  /** RouteConfiguration.internal_only_headers, lower-cased. */
  readonly internalOnlyHeaders: readonly string[];
  /**
   * Removes internal_only_headers from a request Envoy deems external (ConnectionManagerUtility::
   * cleanInternalHeaders); the connection manager calls it before route().
   */
  removeInternalOnlyHeaders(headers: HeaderList): void;
}
