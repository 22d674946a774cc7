// Worker thread. envoy.filters.http.router, the terminal HTTP filter: it answers what its route says locally (no
// route, direct_response, redirect, unknown cluster, a refused upgrade) or applies the route's request rules (header
// mutations, host and path rewrites, Expect: 100-continue) and starts the UpstreamRequest. A connection manager with
// no other filter calls routeRequest() directly; in a chain, RouterFilter is its last filter.

import type { HeaderList } from '../../src/http/stream-info.ts';
import { H } from '../../src/http/header-names.ts';
import { setHeader, stripHopByHop } from '../../src/http/header-list.ts';
import { getHeader } from '../../src/http/stream-info.ts';
import { RouteKind } from '../../src/router/route-table.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import { LocalReply } from '../http/local-reply.ts';
import { PassThroughFilter, FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from '../http/filters/http-filter.ts';
import { UpstreamRequest } from './upstream-request.ts';
import { RetryState } from './retry-state.ts';
import { startRequestMirrors } from './mirror.ts';
import { asyncClientFor } from '../upstream/async-client.ts';
import { restoresOriginalDst } from '../upstream/original-dst-hosts.ts';

const EMPTY = Buffer.alloc(0);
const NO_HEADERS: HeaderList = [];

/** The router's decodeHeaders: the stream's route (null: 404 NR) to a local reply or an upstream request. */
export function routeRequest(stream: ActiveStream, endStream: boolean): void {
  const hcm = stream.hcm;
  const cfg = hcm.config;
  const values = hcm.stats.values;
  const slots = cfg.slots!;
  const info = stream.info;
  const route = stream.currentRoute();
  if (route === null) {
    values[slots.no_route]++;
    return stream.localReply(LocalReply.noRoute);
  }
  const path = info.path;
  if (route.kind === RouteKind.DIRECT_RESPONSE) {
    values[slots.rq_direct_response]++;
    return stream.sendLocal(route.directStatus, route.directBody ?? EMPTY, 0, 'direct_response', route.directBody === null ? null : 'text/plain');
  }
  if (route.kind === RouteKind.REDIRECT) {
    values[slots.rq_redirect]++;
    const location = route.redirectLocation(info.scheme, info.authority, path);
    return stream.sendLocal(route.redirectStatus, EMPTY, 0, 'via_upstream', null, location);
  }

  // cluster_header: the cluster a request header names (missing or unknown: 503 NC, as Envoy).
  const clusterName = route.clusterHeader === null ? route.clusterName : (getHeader(stream.headers, route.clusterHeader) ?? '');
  const routeCluster = hcm.clusters.get(clusterName);
  if (routeCluster === undefined) {
    values[slots.no_cluster]++;
    return stream.localReply(LocalReply.noCluster);
  }
  // envoy.clusters.aggregate: the member cluster (by failover priority) this request uses; with none able to
  // serve, the aggregate itself, whose empty host set answers 503 no healthy upstream.
  const cluster = routeCluster.aggregate === null ? routeCluster : (routeCluster.aggregate.choose() ?? routeCluster);
  info.upstreamCluster = clusterName;
  if (stream.upgradeType !== null) {
    const type = stream.upgradeType.toLowerCase();
    const override = route.upgradeOverrides === null ? undefined : route.upgradeOverrides[type];
    if (!(override ?? cfg.upgradeConfigs[type]!)) {
      values[slots.downstream_rq_ws_on_non_ws_route]++;
      return stream.localReply(LocalReply.upgradeNotAllowed);
    }
  }

  // Retries: only a route with a retry policy pays for them (never an upgrade: its bytes are the tunnel's).
  const retry = route.retryPolicy === null || stream.upgradeType !== null ? null : new RetryState(route.retryPolicy, stream, cluster, route.timeoutMs, route.highPriority === true, route.metadataMatch ?? null);

  // Route-level request rewriting, then hop-by-hop removal: the upstream hop is framed by the proxy.
  const headers = stream.headers;
  route.applyRequestHeaderMutations(headers, info);
  if (route.hostRewriteLiteral !== null) setHeader(headers, H.host, route.hostRewriteLiteral);
  const upstreamPath = route.rewritePath(path);
  if (upstreamPath !== path && !cfg.suppressEnvoyHeaders) setHeader(headers, H.xEnvoyOriginalPath, path);
  const expectedTimeoutMs = retry === null ? route.timeoutMs : retry.expectedTimeoutMs();
  if (expectedTimeoutMs > 0 && !route.maxStreamDurationSet && !cfg.suppressEnvoyHeaders) setHeader(headers, H.xEnvoyExpectedRqTimeoutMs, String(expectedTimeoutMs));
  // Expect: 100-continue (Envoy's proxy_100_continue false): the expectation is Legate's to answer, not the
  // upstream's: stripped here, answered below once the request is on its way.
  const expect = stripHopByHop(headers);
  const answerContinue = expect >= 0 && !cfg.proxy100Continue;
  if (answerContinue) headers.splice(expect, 2);
  if (stream.upgradeType !== null) headers.push(H.connection, 'upgrade', H.upgrade, stream.upgradeType);
  // Tracing: the upstream sees the request's span (or the router's child span) as its parent.
  if (stream.trace !== null) stream.trace.injectUpstream(headers, route.clusterName);

  // ORIGINAL_DST: the request's destination (metadata, header or restored local address) is its first attempt's host.
  if (cluster.originalDst !== null) cluster.originalDst.pick(info, headers, restoresOriginalDst(hcm.listener));
  const upstream = new UpstreamRequest(stream, cluster, route, upstreamPath, endStream, retry);
  stream.upstream = upstream;
  upstream.start();
  if (route.mirrorPolicies !== null && !stream.finished && stream.upgradeType === null) {
    stream.mirrors = startRequestMirrors(
      asyncClientFor(hcm.clusters), route.mirrorPolicies, info.method, upstreamPath, getHeader(headers, H.host) ?? info.authority,
      headers, endStream, route.timeoutMs, hcm.listener.perConnectionBufferLimitBytes,
    );
  }
  // Only when a body is still to come from the client (RFC 9110 §10.1.1), once (a filter that holds the body may
  // have answered it already), and not on an upgrade (its bytes are the tunnel's).
  if (answerContinue && !stream.finished && !endStream && !stream.requestComplete && !stream.continueSent && stream.upgradeType === null) {
    stream.sendInterim(100, 'Continue', NO_HEADERS);
  }
}

/** The router as the last filter of a chain: the request's head, body and end go to its upstream request. */
export class RouterFilter extends PassThroughFilter {
  private readonly stream: ActiveStream;

  constructor(stream: ActiveStream) {
    super();
    this.stream = stream;
  }

  override decodeHeaders(_headers: HeaderList, endStream: boolean): number {
    routeRequest(this.stream, endStream);
    return FilterHeadersStatus.StopIteration;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    const upstream = this.stream.upstream;
    if (upstream !== null && !this.stream.finished) {
      if (data.length > 0) upstream.sendBody(data);
      if (endStream) upstream.endBody();
      const mirrors = this.stream.mirrors;
      if (mirrors !== null && (data.length > 0 || endStream)) mirrors.sendData(data, endStream);
    }
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override decodeTrailers(trailers: HeaderList): number {
    // Request trailers end the request and go upstream after its body.
    const upstream = this.stream.upstream;
    if (upstream !== null && !this.stream.finished) {
      upstream.endBody(trailers);
      if (this.stream.mirrors !== null) this.stream.mirrors.end(trailers);
    }
    return FilterTrailersStatus.StopIteration;
  }
}
