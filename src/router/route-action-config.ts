// Any thread (pure but for reading direct_response body files; config time only). A Route's action (route,
// redirect or direct_response) -> the RouteSpec a CompiledRoute is built from, with Envoy's defaults.

import { RouteKind } from './route-types.ts';
import { PathRewrite, type RouteSpec } from './compiled-route.ts';
import type { HeaderMutationLevel } from './header-mutations.ts';
import { compileRe2Rewrite, Re2Rewrite } from './re2.ts';
import { regexMatcherLimit } from './string-matcher.ts';
import { readDataSource } from './direct-response-body.ts';
import { asciiLower } from './ascii.ts';
import { compileHashPolicies } from './hash-policy.ts';
import { compileMetadataMatch } from './metadata-match.ts';
import {
  bool, checkHeaderName, checkHeaderValue, durationMs, isObj, num, obj, oneofSet, str, type Obj, type RouteConfigProblem,
} from './config-values.ts';

/** RouteAction.timeout when absent (Envoy's DEFAULT_ROUTE_TIMEOUT_MS). */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

/** RedirectAction.RedirectResponseCode names -> status. */
const REDIRECT_CODES: Readonly<Record<string, number>> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};

export const ROUTE_ACTIONS = ['route', 'redirect', 'direct_response'] as const;

function emptySpec(kind: number, routeName: string, request: HeaderMutationLevel[], response: HeaderMutationLevel[]): RouteSpec {
  return {
    kind, routeName, clusterName: '', directStatus: 0, directBody: null, redirectStatus: 0, hostRewriteLiteral: null,
    autoHostRewrite: false, hostRewriteHeader: null, timeoutMs: 0, idleTimeoutMs: 0, idleTimeoutConfigured: false,
    maxStreamDurationSet: false, maxStreamDurationMs: -1, grpcTimeoutHeaderMaxMs: -1, grpcTimeoutHeaderOffsetMs: 0,
    upgradeOverrides: null, rewriteKind: PathRewrite.NONE, rewritePrefix: '', matchedLength: -1, rewriteRegex: null,
    redirectScheme: '', redirectHost: '', redirectPort: '', pathRedirect: '', stripQuery: false, sslRedirect: false,
    requestMutations: request, responseMutations: response, perFilterConfigs: null, corsPolicies: [],
  };
}

/** A RegexMatchAndSubstitute into `spec`'s regex rewrite; false (with problems) when invalid. */
function compileRegexRewrite(rms: Obj, path: string, spec: RouteSpec, problems: RouteConfigProblem[]): boolean {
  if (!isObj(rms['pattern'])) {
    problems.push({ path: `${path}.pattern`, message: 'pattern is required' });
    return false;
  }
  const pattern = obj(rms['pattern']);
  const re = compileRe2Rewrite(str(pattern['regex'], ''), str(rms['substitution'], ''), regexMatcherLimit(pattern));
  if (!(re instanceof Re2Rewrite)) {
    problems.push({ path: re.field === 'pattern' ? `${path}.pattern.regex` : `${path}.substitution`, message: re.error });
    return false;
  }
  spec.rewriteKind = PathRewrite.REGEX;
  spec.rewriteRegex = re;
  return true;
}

/**
 * The action of route `r` (at `path`). `matchedLength` is what a prefix rewrite replaces (-1: the whole path).
 * Mutation levels are already in Envoy's evaluation order. Null when the route has problems.
 */
export function compileRouteAction(
  r: Obj, path: string, matchedLength: number, request: HeaderMutationLevel[], response: HeaderMutationLevel[],
  problems: RouteConfigProblem[],
): RouteSpec | null {
  const before = problems.length;
  const action = oneofSet(r, ROUTE_ACTIONS, path, true, problems);
  if (action === null) return null;
  const routeName = str(r['name'], '');
  if (action === 'route') {
    const spec = emptySpec(RouteKind.CLUSTER, routeName, request, response);
    compileClusterAction(obj(r['route']), `${path}.route`, matchedLength, spec, problems);
    return problems.length === before ? spec : null;
  }
  if (action === 'redirect') {
    const spec = emptySpec(RouteKind.REDIRECT, routeName, request, response);
    compileRedirect(obj(r['redirect']), `${path}.redirect`, matchedLength, spec, problems);
    return problems.length === before ? spec : null;
  }
  const spec = emptySpec(RouteKind.DIRECT_RESPONSE, routeName, request, response);
  const dr = obj(r['direct_response']);
  const dp = `${path}.direct_response`;
  const status = num(dr['status'], 0);
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    problems.push({ path: `${dp}.status`, message: 'status must be an HTTP status code from 200 to 599' });
  }
  spec.directStatus = status;
  if (dr['body'] !== undefined) spec.directBody = readDataSource(obj(dr['body']), `${dp}.body`, problems);
  return problems.length === before ? spec : null;
}

function compileClusterAction(ra: Obj, path: string, matchedLength: number, spec: RouteSpec, problems: RouteConfigProblem[]): void {
  // cluster_specifier: weighted_clusters is compiled by the route compiler (each cluster's route is built from this spec).
  const which = oneofSet(ra, ['cluster', 'cluster_header', 'weighted_clusters'], path, false, problems);
  if (which === null) {
    problems.push({ path: `${path}.cluster`, message: 'cluster is required (or cluster_header, or weighted_clusters)' });
  } else if (which === 'cluster') {
    const cluster = str(ra['cluster'], '');
    if (cluster === '') problems.push({ path: `${path}.cluster`, message: 'cluster must not be empty' });
    spec.clusterName = cluster;
  } else if (which === 'cluster_header') {
    const h = str(ra['cluster_header'], '');
    // Envoy keeps Host as :authority; Legate's header list keeps it as host.
    if (checkHeaderName(h, `${path}.cluster_header`, problems)) spec.clusterHeader = asciiLower(h) === ':authority' ? 'host' : asciiLower(h);
  }
  const prefixRewrite = str(ra['prefix_rewrite'], '');
  if (prefixRewrite !== '' && ra['regex_rewrite'] !== undefined) {
    problems.push({ path, message: 'specify only one of prefix_rewrite and regex_rewrite' });
  } else if (prefixRewrite !== '') {
    checkHeaderValue(prefixRewrite, `${path}.prefix_rewrite`, problems);
    spec.rewriteKind = PathRewrite.PREFIX;
    spec.rewritePrefix = prefixRewrite;
    spec.matchedLength = matchedLength;
  } else if (ra['regex_rewrite'] !== undefined) {
    compileRegexRewrite(obj(ra['regex_rewrite']), `${path}.regex_rewrite`, spec, problems);
  }
  const host = oneofSet(ra, ['host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header'], path, false, problems);
  if (host === 'host_rewrite_literal') {
    const v = str(ra['host_rewrite_literal'], '');
    checkHeaderValue(v, `${path}.host_rewrite_literal`, problems);
    // An empty literal is no rewrite (Envoy tests host_rewrite_.empty()).
    spec.hostRewriteLiteral = v === '' ? null : v;
  } else if (host === 'auto_host_rewrite') {
    spec.autoHostRewrite = bool(ra['auto_host_rewrite'], false);
  } else if (host === 'host_rewrite_header') {
    const v = str(ra['host_rewrite_header'], '');
    if (v !== '' && checkHeaderName(v, `${path}.host_rewrite_header`, problems)) spec.hostRewriteHeader = asciiLower(v);
  }
  if (ra['hash_policy'] !== undefined) spec.hashPolicies = compileHashPolicies(ra['hash_policy'], `${path}.hash_policy`, problems);
  // metadata_match envoy.lb: the subset a cluster with lb_subset_config picks from (workers/upstream/subset-lb.ts).
  if (ra['metadata_match'] !== undefined) spec.metadataMatch = compileMetadataMatch(ra['metadata_match'], `${path}.metadata_match`, problems);
  // RoutingPriority: HIGH selects the cluster's HIGH circuit breakers.
  if (ra['priority'] === 'HIGH') spec.highPriority = true;
  spec.timeoutMs = durationMs(ra, 'timeout', DEFAULT_ROUTE_TIMEOUT_MS, path, problems);
  spec.idleTimeoutMs = durationMs(ra, 'idle_timeout', 0, path, problems);
  spec.idleTimeoutConfigured = ra['idle_timeout'] !== undefined;
  if (ra['max_stream_duration'] !== undefined) {
    // Envoy's "new timeouts": with max_stream_duration the route timeout is not used.
    const msd = obj(ra['max_stream_duration']);
    const msdPath = `${path}.max_stream_duration`;
    spec.maxStreamDurationSet = true;
    spec.timeoutMs = 0;
    // -1: not given here, the connection manager's max_stream_duration applies; 0 turns it off for the route.
    spec.maxStreamDurationMs = msd['max_stream_duration'] === undefined ? -1 : durationMs(msd, 'max_stream_duration', 0, msdPath, problems);
    spec.grpcTimeoutHeaderMaxMs = msd['grpc_timeout_header_max'] === undefined ? -1 : durationMs(msd, 'grpc_timeout_header_max', 0, msdPath, problems);
    spec.grpcTimeoutHeaderOffsetMs = durationMs(msd, 'grpc_timeout_header_offset', 0, msdPath, problems);
  }
  const upgrades = ra['upgrade_configs'];
  if (Array.isArray(upgrades) && upgrades.length > 0) {
    const overrides: Record<string, boolean> = {};
    upgrades.forEach((u, i) => {
      const type = asciiLower(str(obj(u)['upgrade_type'], ''));
      const up = `${path}.upgrade_configs[${i}].upgrade_type`;
      if (type === '') problems.push({ path: up, message: 'upgrade_type is required (e.g. websocket)' });
      else if (type === 'connect') problems.push({ path: up, message: 'CONNECT upgrades are not supported yet' });
      else overrides[type] = bool(obj(u)['enabled'], true);
    });
    spec.upgradeOverrides = Object.freeze(overrides);
  }
}

function compileRedirect(rd: Obj, path: string, matchedLength: number, spec: RouteSpec, problems: RouteConfigProblem[]): void {
  const scheme = oneofSet(rd, ['https_redirect', 'scheme_redirect'], path, false, problems);
  if (scheme === 'https_redirect' && bool(rd['https_redirect'], false)) spec.redirectScheme = 'https';
  else if (scheme === 'scheme_redirect') spec.redirectScheme = str(rd['scheme_redirect'], '');
  const host = str(rd['host_redirect'], '');
  checkHeaderValue(host, `${path}.host_redirect`, problems);
  spec.redirectHost = host;
  const port = num(rd['port_redirect'], 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push({ path: `${path}.port_redirect`, message: 'must be a port number from 1 to 65535 (0 = keep the port)' });
  } else if (port !== 0) {
    spec.redirectPort = ':' + port;
  }
  const which = oneofSet(rd, ['path_redirect', 'prefix_rewrite', 'regex_rewrite'], path, false, problems);
  if (which === 'path_redirect') {
    const v = str(rd['path_redirect'], '');
    checkHeaderValue(v, `${path}.path_redirect`, problems);
    spec.pathRedirect = v;
  } else if (which === 'prefix_rewrite') {
    const v = str(rd['prefix_rewrite'], '');
    checkHeaderValue(v, `${path}.prefix_rewrite`, problems);
    if (v !== '') {
      spec.rewriteKind = PathRewrite.PREFIX;
      spec.rewritePrefix = v;
      spec.matchedLength = matchedLength;
    }
  } else if (which === 'regex_rewrite') {
    compileRegexRewrite(obj(rd['regex_rewrite']), `${path}.regex_rewrite`, spec, problems);
  }
  const code = rd['response_code'];
  const status = typeof code === 'string' ? REDIRECT_CODES[code] : 301;
  if (status === undefined) problems.push({ path: `${path}.response_code`, message: `unknown redirect response_code ${String(code)}` });
  spec.redirectStatus = status ?? 301;
  spec.stripQuery = bool(rd['strip_query'], false);
}
