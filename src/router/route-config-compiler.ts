// Any thread (config time only; reads direct_response body files). Normalized RouteConfiguration -> compiled,
// frozen route table, reporting every problem the schema cannot see with its field path. This is the single
// place route config is validated: checkRouteConfig runs it for the problems, buildRouteTable for the table.

import { RouteKind } from './route-types.ts';
import { CompiledRoute, type RouteSpec } from './compiled-route.ts';
import { CompiledRouteTable, TlsRequirement, VirtualHost } from './compiled-route-table.ts';
import { DomainTable } from './domain-table.ts';
import { RouteEntry, choosePathProbes, compileRouteMatch, type CompiledMatch } from './route-match.ts';
import { compileRouteAction } from './route-action-config.ts';
import { compileMirrorPolicies, type MirrorPolicy } from './mirror-policy.ts';
import { compileWeightedClusters, WeightedClusters } from './weighted-clusters.ts';
import { mergeMetadataMatch } from './metadata-match.ts';
import type { Route } from './route-types.ts';
import { compileRetryPolicy } from './retry-policy.ts';
import { compileMutationLevel, type HeaderMutationLevel, type HeaderValueFormatter } from './header-mutations.ts';
import { asciiLower } from './ascii.ts';
import type { RouteFilterConfig } from '../filters/http-filter-config.ts';
import type { CorsPolicy } from '../filters/cors-config.ts';
import {
  bool, checkHeaderName, isHeaderValue, isObj, list, obj, str, type Obj, type RouteConfigProblem,
} from './config-values.ts';

export interface RouteCompileDeps {
  /** Compiles a header value holding %COMMAND% operators; throws on a bad format. Called for values with '%'. */
  compileHeaderValue(template: string): HeaderValueFormatter;
  /**
   * The HTTP filters' per-route config (src/filters/route-filter-deps.ts): a virtual host's or route's
   * typed_per_filter_config, and the deprecated CorsPolicy `cors`. Absent (tests of routing alone): not compiled.
   */
  compilePerFilterConfigs?(map: Obj, path: string, problems: RouteConfigProblem[]): Record<string, RouteFilterConfig> | null;
  compileLegacyCorsPolicy?(owner: Obj, path: string, problems: RouteConfigProblem[]): CorsPolicy | null;
}

const TLS_REQUIREMENTS: Readonly<Record<string, number>> = TlsRequirement;

interface LevelPair {
  request: HeaderMutationLevel | null;
  response: HeaderMutationLevel | null;
}

function compileLevels(o: Obj, path: string, deps: RouteCompileDeps, problems: RouteConfigProblem[]): LevelPair {
  return {
    request: compileMutationLevel(
      o['request_headers_to_add'], o['request_headers_to_remove'], `${path}.request_headers_to_add`,
      `${path}.request_headers_to_remove`, deps.compileHeaderValue, problems,
    ),
    response: compileMutationLevel(
      o['response_headers_to_add'], o['response_headers_to_remove'], `${path}.response_headers_to_add`,
      `${path}.response_headers_to_remove`, deps.compileHeaderValue, problems,
    ),
  };
}

/**
 * Envoy evaluates route, then virtual host, then route configuration mutations, so the least specific wins;
 * most_specific_header_mutations_wins reverses that (RouteEntryImplBase::getRequestHeaderParsers).
 */
function ordered(route: HeaderMutationLevel | null, vhost: HeaderMutationLevel | null, global: HeaderMutationLevel | null, mostSpecificWins: boolean): HeaderMutationLevel[] {
  const out: HeaderMutationLevel[] = [];
  const seq = mostSpecificWins ? [global, vhost, route] : [route, vhost, global];
  for (const l of seq) if (l !== null) out.push(l);
  return out;
}

/** Where each domain went, for "already used by" messages. */
interface DomainOwner {
  vhost: number;
  index: number;
}

/** Checks a domain's syntax; the message when Envoy would not accept it or it could never match as meant. */
function domainProblem(domain: string): string | null {
  if (!isHeaderValue(domain)) return 'a domain must not contain NUL, CR or LF characters';
  if (domain === '*') return null;
  const stars = domain.split('*').length - 1;
  if (stars > 1) return `'${domain}' has more than one '*'; a wildcard is a single '*' at the start or the end`;
  if (stars === 1 && !domain.startsWith('*') && !domain.endsWith('*')) {
    return `'${domain}': a wildcard '*' must be the first or the last character (*.example.com, example.*)`;
  }
  return null;
}

/**
 * Compiles `rc` (at field path `path`). Problems are appended to `problems`; the table is complete only when
 * none were added (routes with problems are left out).
 */
export function compileRouteConfig(rc: Obj, path: string, deps: RouteCompileDeps, problems: RouteConfigProblem[]): CompiledRouteTable {
  const mostSpecificWins = bool(rc['most_specific_header_mutations_wins'], false);
  const global = compileLevels(rc, path, deps, problems);
  const internalOnly: string[] = [];
  list(rc['internal_only_headers']).forEach((h, i) => {
    const name = str(h, '');
    if (checkHeaderName(name, `${path}.internal_only_headers[${i}]`, problems)) internalOnly.push(asciiLower(name));
  });

  const domains = new DomainTable<VirtualHost>();
  const vhostNames = new Map<string, number>();
  const owners = new Map<string, DomainOwner>();
  const vhosts = list(rc['virtual_hosts']);
  vhosts.forEach((raw, v) => {
    const vp = `${path}.virtual_hosts[${v}]`;
    const vh = obj(raw);
    const name = str(vh['name'], '');
    if (name === '') problems.push({ path: `${vp}.name`, message: 'a virtual host name is required' });
    else if (vhostNames.has(name)) {
      problems.push({ path: `${vp}.name`, message: `duplicate virtual host name '${name}' (also virtual_hosts[${vhostNames.get(name)}])` });
    } else vhostNames.set(name, v);

    const tlsName = vh['require_tls'];
    const tls = typeof tlsName === 'string' ? TLS_REQUIREMENTS[tlsName] : TlsRequirement.NONE;
    if (tls === undefined) problems.push({ path: `${vp}.require_tls`, message: `unknown require_tls ${String(tlsName)} (NONE, EXTERNAL_ONLY or ALL)` });

    const levels = compileLevels(vh, vp, deps, problems);
    const vhostFilters = deps.compilePerFilterConfigs?.(obj(vh['typed_per_filter_config']), `${vp}.typed_per_filter_config`, problems) ?? null;
    const vhostCors = deps.compileLegacyCorsPolicy?.(vh, vp, problems) ?? null;
    const vhostMirrors = compileMirrorPolicies(vh['request_mirror_policies'], `${vp}.request_mirror_policies`, problems);
    const compiled: { match: CompiledMatch; route: CompiledRoute }[] = [];
    list(vh['routes']).forEach((r, i) => {
      const c = compileRoute(obj(r), `${vp}.routes[${i}]`, levels, global, mostSpecificWins, deps, problems, vhostFilters, vhostCors, vh, vp, vhostMirrors);
      if (c !== null) compiled.push(c);
    });
    const probes = choosePathProbes(compiled.map((c) => (c.match.caseSensitive ? c.match.pathValue : asciiLower(c.match.pathValue))));
    const entries = compiled.map(({ match: m, route }, i) => new RouteEntry(
      m.pathKind, m.pathValue, m.caseSensitive, m.regex, probes[i]!, m.headers, m.queryParameters, route,
    ));
    const host = new VirtualHost(name, tls ?? TlsRequirement.NONE, entries);

    const ds = list(vh['domains']);
    if (ds.length === 0) problems.push({ path: `${vp}.domains`, message: 'at least one domain is required (use "*" to match any host)' });
    ds.forEach((d, k) => {
      const dp = `${vp}.domains[${k}]`;
      const domain = str(d, '');
      const bad = domainProblem(domain);
      if (bad !== null) {
        problems.push({ path: dp, message: bad });
        return;
      }
      const lower = asciiLower(domain);
      const { kind, key } = DomainTable.classify(lower);
      const ownerKey = `${kind}:${key}`;
      const owner = owners.get(ownerKey);
      if (owner !== undefined) {
        const where = `virtual_hosts[${owner.vhost}].domains[${owner.index}]`;
        problems.push({
          path: dp,
          message: kind === 'default'
            ? `only one virtual host may have the wildcard domain '*' (already at ${where})`
            : `domain '${domain}' is already used at ${where}; a domain must be unique across virtual hosts (compared case-insensitively)`,
        });
        return;
      }
      owners.set(ownerKey, { vhost: v, index: k });
      domains.add(lower, host);
    });
  });
  domains.seal();
  return new CompiledRouteTable(domains, internalOnly);
}

function compileRoute(
  r: Obj, path: string, vhost: LevelPair, global: LevelPair, mostSpecificWins: boolean, deps: RouteCompileDeps,
  problems: RouteConfigProblem[], vhostFilters: Record<string, RouteFilterConfig> | null, vhostCors: CorsPolicy | null,
  vh: Obj = {}, vp = '', vhostMirrors: readonly MirrorPolicy[] | null = null,
): { match: CompiledMatch; route: CompiledRoute } | null {
  const before = problems.length;
  if (!isObj(r['match'])) {
    problems.push({ path: `${path}.match`, message: 'match is required' });
  }
  const match = isObj(r['match']) ? compileRouteMatch(obj(r['match']), `${path}.match`, problems) : null;
  const own = compileLevels(r, path, deps, problems);
  const spec = compileRouteAction(
    r, path, match === null ? -1 : match.matchedLength,
    ordered(own.request, vhost.request, global.request, mostSpecificWins),
    ordered(own.response, vhost.response, global.response, mostSpecificWins),
    problems,
  );
  const ownFilters = deps.compilePerFilterConfigs?.(obj(r['typed_per_filter_config']), `${path}.typed_per_filter_config`, problems) ?? null;
  const routeCors = isObj(r['route']) ? (deps.compileLegacyCorsPolicy?.(obj(r['route']), `${path}.route`, problems) ?? null) : null;
  if (match === null || spec === null || problems.length !== before) return null;
  if (spec.kind !== RouteKind.CLUSTER) spec.requestMutations = [];
  spec.perFilterConfigs = mergePerFilterConfigs(ownFilters, vhostFilters);
  // Route.decorator: the operation (span name) a trace of this route gets (workers/tracing).
  if (isObj(r['decorator'])) spec.decoratorOperation = str(obj(r['decorator'])['operation'], '') || null;
  if (routeCors !== null) spec.corsPolicies.push(routeCors);
  if (vhostCors !== null) spec.corsPolicies.push(vhostCors);
  if (spec.kind === RouteKind.CLUSTER) {
    spec.retryPolicy = compileRetryPolicy(obj(r['route']), `${path}.route`, vh, vp, problems);
    if (problems.length !== before) return null;
  }
  if (spec.kind === RouteKind.CLUSTER) {
    const ra = obj(r['route']);
    // Envoy: the most specific non-empty list of mirror policies, never merged.
    // Keep this block last: each weighted cluster's route copies every field of the spec set above it.
    spec.mirrorPolicies = compileMirrorPolicies(ra['request_mirror_policies'], `${path}.route.request_mirror_policies`, problems) ?? vhostMirrors;
    if (isObj(ra['weighted_clusters'])) spec.weightedClusters = compileClusterRoutes(obj(ra['weighted_clusters']), `${path}.route.weighted_clusters`, spec, mostSpecificWins, deps, problems);
    if (problems.length !== before) return null;
  }
  return { match, route: new CompiledRoute(spec) };
}

/**
 * weighted_clusters: one route per cluster, the parent's spec with that cluster's name, host rewrite, header
 * mutations (Envoy evaluates the cluster's before the route's, so by default the less specific level wins) and
 * typed_per_filter_config (the most specific, over the route's and virtual host's). null with problems.
 */
function compileClusterRoutes(
  wc: Obj, path: string, spec: RouteSpec, mostSpecificWins: boolean, deps: RouteCompileDeps, problems: RouteConfigProblem[],
): WeightedClusters | null {
  const compiled = compileWeightedClusters(wc, path, deps, problems);
  if (compiled === null) return null;
  const routes: Route[] = [];
  const weights: number[] = [];
  for (const c of compiled.clusters) {
    const request = c.request === null ? spec.requestMutations : mostSpecificWins ? [...spec.requestMutations, c.request] : [c.request, ...spec.requestMutations];
    const response = c.response === null ? spec.responseMutations : mostSpecificWins ? [...spec.responseMutations, c.response] : [c.response, ...spec.responseMutations];
    routes.push(new CompiledRoute({
      ...spec, clusterName: c.clusterName, clusterHeader: c.clusterHeader, weightedClusters: null,
      hostRewriteLiteral: c.hostRewriteLiteral ?? spec.hostRewriteLiteral, requestMutations: request, responseMutations: response,
      perFilterConfigs: mergePerFilterConfigs(c.perFilterConfigs, spec.perFilterConfigs as Record<string, RouteFilterConfig> | null),
      metadataMatch: mergeMetadataMatch(spec.metadataMatch ?? null, c.metadataMatch),
    }));
    weights.push(c.weight);
  }
  return new WeightedClusters(routes, weights, compiled.headerName);
}

/**
 * A route's typed_per_filter_config over its virtual host's: most specific wins per filter, and a route entry lists
 * the virtual host's config for the same filter after its own in `allConfigs` (Envoy's per-filter configs of every
 * level, most specific first).
 */
function mergePerFilterConfigs(own: Record<string, RouteFilterConfig> | null, vhost: Record<string, RouteFilterConfig> | null): Record<string, RouteFilterConfig> | null {
  if (own === null) return vhost;
  if (vhost === null) return own;
  const out: Record<string, RouteFilterConfig> = { ...vhost };
  for (const key of Object.keys(own)) {
    const less = vhost[key];
    const mine = own[key]!;
    out[key] = less === undefined ? mine : { ...mine, allConfigs: [...mine.allConfigs, ...less.allConfigs] };
  }
  return out;
}
