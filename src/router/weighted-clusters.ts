// Any thread (compiled at config time; pick() runs once per request on a worker). RouteAction.weighted_clusters:
// each ClusterWeight becomes a route of its own (the parent's settings with that cluster's name, header mutations,
// host rewrite and typed_per_filter_config), and the route table hands a request one of them by weight, so every
// reader of the route (the filter chain, per-filter configs, the router) sees the chosen cluster's route.

import type { HeaderList } from '../http/stream-info.ts';
import { getHeader } from '../http/stream-info.ts';
import type { RouteFilterConfig } from '../filters/http-filter-config.ts';
import type { Route } from './route-types.ts';
import { compileMutationLevel, type HeaderMutationLevel, type HeaderValueFormatter } from './header-mutations.ts';
import { asciiLower } from './ascii.ts';
import { compileMetadataMatch, type MetadataMatch } from './metadata-match.ts';
import { checkHeaderName, checkHeaderValue, isObj, list, num, obj, oneofSet, str, type Obj, type RouteConfigProblem } from './config-values.ts';

/** One WeightedCluster.ClusterWeight, compiled (its route is built from it and the parent route's spec). */
export interface ClusterWeightSpec {
  /** ClusterWeight.name; '' with clusterHeader. */
  clusterName: string;
  /** ClusterWeight.cluster_header, lower-cased; null when named. */
  clusterHeader: string | null;
  weight: number;
  request: HeaderMutationLevel | null;
  response: HeaderMutationLevel | null;
  /** null: the route's own host rewrite applies. */
  hostRewriteLiteral: string | null;
  perFilterConfigs: Record<string, RouteFilterConfig> | null;
  /** ClusterWeight.metadata_match envoy.lb criteria, merged over the route's (subset load balancing); null: none. */
  metadataMatch: MetadataMatch | null;
}

export interface WeightedClustersSpec {
  clusters: ClusterWeightSpec[];
  /** header_name (lower-cased): the request header carrying the random value; null: Legate draws one. */
  headerName: string | null;
}

/** What compiling a ClusterWeight needs from the route compiler (RouteCompileDeps). */
export interface WeightedClusterDeps {
  compileHeaderValue(template: string): HeaderValueFormatter;
  compilePerFilterConfigs?(map: Obj, path: string, problems: RouteConfigProblem[]): Record<string, RouteFilterConfig> | null;
}

const UINT32_MAX = 0xffffffff;

/** RouteAction.weighted_clusters (`wc` at `path`); null with problems. */
export function compileWeightedClusters(wc: Obj, path: string, deps: WeightedClusterDeps, problems: RouteConfigProblem[]): WeightedClustersSpec | null {
  const before = problems.length;
  const items = list(wc['clusters']);
  if (items.length === 0) problems.push({ path: `${path}.clusters`, message: 'weighted_clusters needs at least one cluster' });
  const clusters: ClusterWeightSpec[] = [];
  let sum = 0;
  items.forEach((item, i) => {
    const p = `${path}.clusters[${i}]`;
    const cw = obj(item);
    const which = oneofSet(cw, ['name', 'cluster_header'], p, true, problems);
    let clusterName = '';
    let clusterHeader: string | null = null;
    if (which === 'name') {
      clusterName = str(cw['name'], '');
      if (clusterName === '') problems.push({ path: `${p}.name`, message: 'a cluster weight needs a cluster name (or cluster_header)' });
    } else if (which === 'cluster_header') {
      const h = str(cw['cluster_header'], '');
      if (checkHeaderName(h, `${p}.cluster_header`, problems)) clusterHeader = asciiLower(h) === ':authority' ? 'host' : asciiLower(h);
    }
    const weight = num(cw['weight'], 0);
    if (!Number.isInteger(weight) || weight < 0 || weight > UINT32_MAX) {
      problems.push({ path: `${p}.weight`, message: 'weight must be an integer from 0 to 4294967295' });
    }
    sum += weight;
    let hostRewriteLiteral: string | null = null;
    if (cw['host_rewrite_literal'] !== undefined) {
      const v = str(cw['host_rewrite_literal'], '');
      checkHeaderValue(v, `${p}.host_rewrite_literal`, problems);
      hostRewriteLiteral = v === '' ? null : v;
    }
    clusters.push({
      clusterName, clusterHeader, weight, hostRewriteLiteral,
      request: compileMutationLevel(
        cw['request_headers_to_add'], cw['request_headers_to_remove'], `${p}.request_headers_to_add`,
        `${p}.request_headers_to_remove`, deps.compileHeaderValue, problems,
      ),
      response: compileMutationLevel(
        cw['response_headers_to_add'], cw['response_headers_to_remove'], `${p}.response_headers_to_add`,
        `${p}.response_headers_to_remove`, deps.compileHeaderValue, problems,
      ),
      perFilterConfigs: isObj(cw['typed_per_filter_config'])
        ? (deps.compilePerFilterConfigs?.(obj(cw['typed_per_filter_config']), `${p}.typed_per_filter_config`, problems) ?? null)
        : null,
      metadataMatch: compileMetadataMatch(cw['metadata_match'], `${p}.metadata_match`, problems),
    });
  });
  // total_weight is deprecated: Envoy uses the sum of the weights whatever it says (accepted, not read).
  if (items.length > 0 && sum === 0) problems.push({ path: `${path}.clusters`, message: 'the sum of the cluster weights must be greater than 0' });
  else if (sum > UINT32_MAX) problems.push({ path: `${path}.clusters`, message: 'the sum of the cluster weights must not exceed 4294967295' });
  let headerName: string | null = null;
  if (wc['header_name'] !== undefined) {
    const h = str(wc['header_name'], '');
    if (checkHeaderName(h, `${path}.header_name`, problems)) headerName = asciiLower(h);
  }
  return problems.length === before ? { clusters, headerName } : null;
}

/**
 * The cluster routes of one weighted route and their cumulative weights (precomputed: one draw and a short scan
 * per request).
 */
export class WeightedClusters {
  readonly routes: readonly Route[];
  /** ends[i]: the sum of the weights of routes 0..i. */
  readonly ends: readonly number[];
  readonly total: number;
  readonly headerName: string | null;

  constructor(routes: Route[], weights: number[], headerName: string | null) {
    const ends: number[] = [];
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      total += weights[i]!;
      ends.push(total);
    }
    this.routes = Object.freeze(routes);
    this.ends = Object.freeze(ends);
    this.total = total;
    this.headerName = headerName;
    Object.freeze(this);
  }

  /**
   * The route of the cluster chosen for this request: Envoy's pickWeightedCluster, the random value (the request's
   * `header_name` value when it is a valid unsigned 64-bit number, else a fresh draw) modulo the total weight, then
   * the first cluster whose cumulative weight is above it. `previous`, the stream's route before its route was
   * cleared, is kept when it is one of these and no header decides (Envoy draws once per stream).
   */
  pick(headers: HeaderList, previous: Route | null = null): Route {
    const total = this.total;
    let value = -1;
    if (this.headerName !== null) {
      const v = getHeader(headers, this.headerName);
      if (v !== undefined) value = headerValueModulo(v, total);
    }
    if (value < 0) {
      if (previous !== null && this.routes.includes(previous)) return previous;
      value = Math.floor(Math.random() * total);
    }
    const ends = this.ends;
    for (let i = 0; i < ends.length; i++) if (value < ends[i]!) return this.routes[i]!;
    return this.routes[this.routes.length - 1]!;
  }
}

const UINT64_MAX = (1n << 64n) - 1n;

/** `v` (a decimal unsigned 64-bit number) modulo `total`; -1 when it is not one. */
export function headerValueModulo(v: string, total: number): number {
  const n = v.length;
  if (n === 0 || n > 20) return -1;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  if (n <= 15) return Number(v) % total;
  const big = BigInt(v);
  if (big > UINT64_MAX) return -1;
  return Number(big % BigInt(total));
}
