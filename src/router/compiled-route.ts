// Any thread (built at config time; its methods run on a worker's request path). The one Route implementation:
// every kind (cluster, direct response, redirect, and the virtual host's TLS redirect) is the same class, so
// the connection manager's reads of a route stay monomorphic.

import type { HeaderList, StreamInfo } from '../http/stream-info.ts';
import { getHeader } from '../http/stream-info.ts';
import { setHeader } from '../http/header-list.ts';
import { RouteKind, type Route } from './route-types.ts';
import type { HeaderMutationLevel } from './header-mutations.ts';
import type { Re2Rewrite } from './re2.ts';
import type { RouteFilterConfig } from '../filters/http-filter-config.ts';
import type { CorsPolicy } from '../filters/cors-config.ts';
import type { MirrorPolicy } from './mirror-policy.ts';
import type { WeightedClusters } from './weighted-clusters.ts';
import type { RetryPolicy } from './retry-policy.ts';
import type { HashPolicy } from './hash-policy.ts';
import type { MetadataMatch } from './metadata-match.ts';

export const PathRewrite = { NONE: 0, PREFIX: 1, REGEX: 2 } as const;

/** Everything a CompiledRoute holds; built by the route compiler. */
export interface RouteSpec {
  kind: number;
  routeName: string;
  clusterName: string;
  directStatus: number;
  directBody: Buffer | null;
  redirectStatus: number;
  hostRewriteLiteral: string | null;
  autoHostRewrite: boolean;
  hostRewriteHeader: string | null;
  timeoutMs: number;
  idleTimeoutMs: number;
  idleTimeoutConfigured: boolean;
  maxStreamDurationSet: boolean;
  maxStreamDurationMs: number;
  grpcTimeoutHeaderMaxMs: number;
  grpcTimeoutHeaderOffsetMs: number;
  upgradeOverrides: Readonly<Record<string, boolean>> | null;
  /** A PathRewrite: RouteAction's for CLUSTER, RedirectAction's for REDIRECT. */
  rewriteKind: number;
  rewritePrefix: string;
  /** Characters of the path the prefix rewrite replaces: the prefix/path matched; -1 = the whole path (regex match). */
  matchedLength: number;
  rewriteRegex: Re2Rewrite | null;
  /** Redirect: '' keeps the request's scheme. */
  redirectScheme: string;
  /** Redirect: '' keeps the request's host. */
  redirectHost: string;
  /** Redirect: ':8443' from port_redirect, or ''. */
  redirectPort: string;
  /** Redirect: '' when not set. */
  pathRedirect: string;
  stripQuery: boolean;
  /** VirtualHost.require_tls's redirect: https://<authority><path> exactly (Envoy's SslRedirector). */
  sslRedirect: boolean;
  requestMutations: HeaderMutationLevel[];
  responseMutations: HeaderMutationLevel[];
  /** typed_per_filter_config of the virtual host and the route (the route's entry wins), by filter name; null: none. */
  perFilterConfigs: Readonly<Record<string, RouteFilterConfig>> | null;
  /** The deprecated `cors` of the route action, then of the virtual host (those given). */
  corsPolicies: CorsPolicy[];
  /** RouteAction.cluster_header (lower-cased); absent or null when the cluster is named. */
  clusterHeader?: string | null;
  /** RouteAction.weighted_clusters: the route table answers one of these routes instead; absent or null otherwise. */
  weightedClusters?: WeightedClusters | null;
  /** The route's request_mirror_policies, else its virtual host's; absent or null: none. */
  mirrorPolicies?: readonly MirrorPolicy[] | null;
  /** The retry policy (route's, else virtual host's); absent or null: none. */
  retryPolicy?: RetryPolicy | null;
  /** RouteAction.hash_policy (read only for RING_HASH / MAGLEV clusters); absent or null: none. */
  hashPolicies?: readonly HashPolicy[] | null;
  /** RouteAction.metadata_match envoy.lb criteria (subset load balancing); absent or null: none. */
  metadataMatch?: MetadataMatch | null;
  /** RouteAction.priority HIGH: the cluster's HIGH circuit breakers (and pools); absent or false: DEFAULT. */
  highPriority?: boolean;
  /** Route.decorator.operation: the span name when tracing (workers/tracing); absent or null: none. */
  decoratorOperation?: string | null;
}

/** End of the path proper: the first '?' or '#', else the length (Envoy's PathUtil::removeQueryAndFragment). */
export function pathEndOf(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

export class CompiledRoute implements Route {
  readonly kind: number;
  readonly routeName: string;
  readonly clusterName: string;
  readonly directStatus: number;
  readonly directBody: Buffer | null;
  readonly redirectStatus: number;
  readonly hostRewriteLiteral: string | null;
  readonly autoHostRewrite: boolean;
  readonly hostRewriteHeader: string | null;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly idleTimeoutConfigured: boolean;
  readonly maxStreamDurationSet: boolean;
  readonly maxStreamDurationMs: number;
  readonly grpcTimeoutHeaderMaxMs: number;
  readonly grpcTimeoutHeaderOffsetMs: number;
  readonly upgradeOverrides: Readonly<Record<string, boolean>> | null;
  readonly perFilterConfigs: Readonly<Record<string, RouteFilterConfig>> | null;
  readonly corsPolicies: readonly CorsPolicy[];
  readonly clusterHeader: string | null;
  readonly weightedClusters: WeightedClusters | null;
  readonly mirrorPolicies: readonly MirrorPolicy[] | null;
  readonly retryPolicy: RetryPolicy | null;
  readonly hashPolicies: readonly HashPolicy[] | null;
  readonly metadataMatch: MetadataMatch | null;
  readonly highPriority: boolean;
  readonly decoratorOperation: string | null;
  private readonly rewriteKind: number;
  private readonly rewritePrefix: string;
  private readonly matchedLength: number;
  private readonly rewriteRegex: Re2Rewrite | null;
  private readonly redirectScheme: string;
  private readonly redirectHost: string;
  private readonly redirectPort: string;
  private readonly pathRedirect: string;
  private readonly pathRedirectHasQuery: boolean;
  private readonly stripQuery: boolean;
  private readonly sslRedirect: boolean;
  private readonly requestMutations: readonly HeaderMutationLevel[];
  private readonly responseMutations: readonly HeaderMutationLevel[];

  constructor(s: RouteSpec) {
    this.kind = s.kind;
    this.routeName = s.routeName;
    this.clusterName = s.clusterName;
    this.directStatus = s.directStatus;
    this.directBody = s.directBody;
    this.redirectStatus = s.redirectStatus;
    this.hostRewriteLiteral = s.hostRewriteLiteral;
    this.autoHostRewrite = s.autoHostRewrite;
    this.hostRewriteHeader = s.hostRewriteHeader;
    this.timeoutMs = s.timeoutMs;
    this.idleTimeoutMs = s.idleTimeoutMs;
    this.idleTimeoutConfigured = s.idleTimeoutConfigured;
    this.maxStreamDurationSet = s.maxStreamDurationSet;
    this.maxStreamDurationMs = s.maxStreamDurationMs;
    this.grpcTimeoutHeaderMaxMs = s.grpcTimeoutHeaderMaxMs;
    this.grpcTimeoutHeaderOffsetMs = s.grpcTimeoutHeaderOffsetMs;
    this.upgradeOverrides = s.upgradeOverrides;
    this.perFilterConfigs = s.perFilterConfigs;
    this.corsPolicies = Object.freeze(s.corsPolicies.slice());
    this.clusterHeader = s.clusterHeader ?? null;
    this.weightedClusters = s.weightedClusters ?? null;
    this.mirrorPolicies = s.mirrorPolicies ?? null;
    this.retryPolicy = s.retryPolicy ?? null;
    this.hashPolicies = s.hashPolicies ?? null;
    this.metadataMatch = s.metadataMatch ?? null;
    this.highPriority = s.highPriority === true;
    this.decoratorOperation = s.decoratorOperation ?? null;
    this.rewriteKind = s.rewriteKind;
    this.rewritePrefix = s.rewritePrefix;
    this.matchedLength = s.matchedLength;
    this.rewriteRegex = s.rewriteRegex;
    this.redirectScheme = s.redirectScheme;
    this.redirectHost = s.redirectHost;
    this.redirectPort = s.redirectPort;
    this.pathRedirect = s.pathRedirect;
    this.pathRedirectHasQuery = s.pathRedirect.includes('?');
    this.stripQuery = s.stripQuery;
    this.sslRedirect = s.sslRedirect;
    this.requestMutations = Object.freeze(s.requestMutations.slice());
    this.responseMutations = Object.freeze(s.responseMutations.slice());
    Object.freeze(this);
  }

  rewritePath(path: string): string {
    const kind = this.rewriteKind;
    if (kind === PathRewrite.NONE) return path;
    const end = pathEndOf(path);
    if (kind === PathRewrite.PREFIX) {
      // Envoy replaces the matched prefix (or path) and keeps the rest, query included.
      const n = this.matchedLength >= 0 ? this.matchedLength : end;
      return this.rewritePrefix + path.slice(n);
    }
    // regex_rewrite: on the path without query and fragment, which are re-appended.
    const just = end === path.length ? path : path.slice(0, end);
    const out = this.rewriteRegex!.replaceAll(just);
    // A redirect's rewrite that yields nothing leaves the path alone (Envoy: an empty rewrite is no rewrite).
    if (out === '' && this.kind === RouteKind.REDIRECT) return path;
    return end === path.length ? out : out + path.slice(end);
  }

  redirectLocation(scheme: string, authority: string, path: string): string {
    if (this.sslRedirect) return 'https://' + authority + path;
    const finalScheme = this.redirectScheme !== '' ? this.redirectScheme : scheme;
    const port = this.redirectPort;
    const host = this.redirectHost !== '' ? this.redirectHost : hostForRedirect(authority, scheme, finalScheme, port);
    let p: string;
    if (this.pathRedirect !== '') {
      // A query in path_redirect wins over the request's (and is never stripped); else the request's is kept.
      if (this.pathRedirectHasQuery) p = this.pathRedirect;
      else {
        const q = path.indexOf('?');
        p = q === -1 ? this.pathRedirect : this.pathRedirect + path.slice(q);
      }
    } else {
      p = this.rewritePath(path);
    }
    if (p.charCodeAt(0) !== 47 /* / */) p = '/' + p;
    if (this.stripQuery && !this.pathRedirectHasQuery) {
      const q = p.indexOf('?');
      if (q !== -1) p = p.slice(0, q);
    }
    return finalScheme + '://' + host + port + p;
  }

  applyRequestHeaderMutations(headers: HeaderList, info: StreamInfo): void {
    const levels = this.requestMutations;
    for (let i = 0; i < levels.length; i++) levels[i]!.apply(headers, info);
    const from = this.hostRewriteHeader;
    if (from !== null) {
      // Only the first value counts; an empty one leaves host alone (RouteEntryImplBase::finalizeRequestHeaders).
      const v = getHeader(headers, from);
      if (v !== undefined && v !== '') setHeader(headers, 'host', v);
    }
  }

  applyResponseHeaderMutations(headers: HeaderList, info: StreamInfo): void {
    const levels = this.responseMutations;
    for (let i = 0; i < levels.length; i++) levels[i]!.apply(headers, info);
  }
}

/**
 * The request's authority for a redirect that keeps the host (Envoy's processRequestHost): its port is dropped
 * when port_redirect gives a new one, or when the scheme changes and the port was the old scheme's default
 * (http :80, https :443).
 */
function hostForRedirect(authority: string, requestScheme: string, newScheme: string, newPort: string): string {
  if (authority === '') return authority;
  let colon: number;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    colon = authority.lastIndexOf(']:');
    if (colon !== -1) colon += 1;
  } else {
    colon = authority.lastIndexOf(':');
  }
  if (colon === -1) return authority;
  let remove = newPort !== '';
  if (!remove && newScheme !== requestScheme) {
    const portLen = authority.length - colon;
    remove =
      (requestScheme === 'https' && portLen === 4 && authority.endsWith(':443')) ||
      (requestScheme === 'http' && portLen === 3 && authority.endsWith(':80'));
  }
  return remove ? authority.slice(0, colon) : authority;
}

/** The route a virtual host with require_tls answers with: 301 to https, no header mutations (SslRedirectRoute). */
export const SSL_REDIRECT_ROUTE = new CompiledRoute({
  kind: RouteKind.REDIRECT, routeName: '', clusterName: '', directStatus: 0, directBody: null, redirectStatus: 301,
  hostRewriteLiteral: null, autoHostRewrite: false, hostRewriteHeader: null, timeoutMs: 0, idleTimeoutMs: 0,
  idleTimeoutConfigured: false, maxStreamDurationSet: false, maxStreamDurationMs: -1, grpcTimeoutHeaderMaxMs: -1,
  grpcTimeoutHeaderOffsetMs: 0, upgradeOverrides: null, rewriteKind: PathRewrite.NONE, rewritePrefix: '', matchedLength: -1, rewriteRegex: null,
  redirectScheme: 'https', redirectHost: '', redirectPort: '', pathRedirect: '', stripQuery: false,
  sslRedirect: true, requestMutations: [], responseMutations: [], perFilterConfigs: null, corsPolicies: [],
});
