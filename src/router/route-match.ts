// Any thread (compiled at config time; matches() runs on the request path). One Route's RouteMatch: the path
// specifier (prefix, path, safe_regex, path_separated_prefix; case_sensitive), headers and query_parameters.

import type { HeaderList } from '../http/stream-info.ts';
import type { CompiledRoute } from './compiled-route.ts';
import { asciiLower, regionEqualsIgnoreCase } from './ascii.ts';
import { HeaderMatcher, compileHeaderMatcher, compileQueryParameterMatcher, type QueryParameterMatcher } from './request-matchers.ts';
import { MATCH_GRPC_CONTENT_TYPE, compileRegexMatcher } from './string-matcher.ts';
import { literalPrefixOf, type Re2Regex } from './re2.ts';
import { bool, list, obj, oneofSet, str, type Obj, type RouteConfigProblem } from './config-values.ts';

export const PathMatch = { PREFIX: 0, EXACT: 1, REGEX: 2, SEPARATED_PREFIX: 3 } as const;

const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'path_separated_prefix'] as const;

/** Envoy's PGV pattern for path_separated_prefix: no '?' or '#', not ending in '/'. */
const SEPARATED_PREFIX = /^[^?#]+[^?#/]$/;

export class RouteEntry {
  readonly pathKind: number;
  /** prefix / path / path_separated_prefix (ASCII-lowered when !caseSensitive); a regex's literal start. */
  readonly pathValue: string;
  readonly caseSensitive: boolean;
  /** Whole-path match, for REGEX. */
  readonly regex: Re2Regex | null;
  /**
   * A position in pathValue whose character few other routes of the virtual host share (-1: none), tested
   * before the whole prefix: a near miss like /api/v1/service-0/ vs /api/v1/service-3/... fails on one char.
   */
  readonly probeIndex: number;
  readonly probeCode: number;
  /** A second position, best among the routes that share the first probe's character (-1: none). */
  readonly probe2Index: number;
  readonly probe2Code: number;
  readonly headers: readonly HeaderMatcher[] | null;
  readonly queryParameters: readonly QueryParameterMatcher[] | null;
  readonly route: CompiledRoute;

  constructor(
    pathKind: number, pathValue: string, caseSensitive: boolean, regex: Re2Regex | null, probes: PathProbes,
    headers: HeaderMatcher[], queryParameters: QueryParameterMatcher[], route: CompiledRoute,
  ) {
    this.pathKind = pathKind;
    this.caseSensitive = caseSensitive;
    this.pathValue = caseSensitive ? pathValue : asciiLower(pathValue);
    this.regex = regex;
    const n = this.pathValue.length;
    this.probeIndex = probes.first < n ? probes.first : -1;
    this.probeCode = this.probeIndex >= 0 ? this.pathValue.charCodeAt(this.probeIndex) : 0;
    this.probe2Index = this.probeIndex >= 0 && probes.second < n ? probes.second : -1;
    this.probe2Code = this.probe2Index >= 0 ? this.pathValue.charCodeAt(this.probe2Index) : 0;
    this.headers = headers.length === 0 ? null : Object.freeze(headers);
    this.queryParameters = queryParameters.length === 0 ? null : Object.freeze(queryParameters);
    this.route = route;
    Object.freeze(this);
  }

  /**
   * `pathEnd`: where the path proper ends ('?' or '#'); regexes see the path without what follows.
   * Envoy checks headers and query first; the result is the same and the path is the cheaper test.
   */
  matchesPath(path: string, pathEnd: number): boolean {
    const v = this.pathValue;
    const n = v.length;
    switch (this.pathKind) {
      case PathMatch.PREFIX:
        return n <= pathEnd && this.startsWithValue(path);
      case PathMatch.EXACT:
        return n === pathEnd && this.startsWithValue(path);
      case PathMatch.SEPARATED_PREFIX:
        return n <= pathEnd && (n === pathEnd || path.charCodeAt(n) === 47 /* / */) && this.startsWithValue(path);
      default:
        return n <= pathEnd && (n === 0 || this.startsWithValue(path)) && this.regex!.fullMatch(bareOf(path, pathEnd));
    }
  }

  /** path starts with pathValue (the caller checked the length). */
  private startsWithValue(path: string): boolean {
    const j = this.probeIndex;
    const k = this.probe2Index;
    if (this.caseSensitive) {
      if (j >= 0 && path.charCodeAt(j) !== this.probeCode) return false;
      if (k >= 0 && path.charCodeAt(k) !== this.probe2Code) return false;
      return path.startsWith(this.pathValue);
    }
    // Folded probes, then the whole compare (regionEqualsIgnoreCase).
    if (j >= 0 && foldedAt(path, j) !== this.probeCode) return false;
    if (k >= 0 && foldedAt(path, k) !== this.probe2Code) return false;
    return regionEqualsIgnoreCase(path, 0, this.pathValue);
  }

  /** Headers and query parameters; `queryStart` is the index after the first '?' (-1 when none). */
  matchesRest(headers: HeaderList, authority: string, method: string, path: string, queryStart: number): boolean {
    const hs = this.headers;
    if (hs !== null) {
      for (let i = 0; i < hs.length; i++) if (!hs[i]!.matches(headers, authority, method, path)) return false;
    }
    const qs = this.queryParameters;
    if (qs !== null) {
      for (let i = 0; i < qs.length; i++) if (!qs[i]!.matches(path, queryStart)) return false;
    }
    return true;
  }
}

/** A RouteMatch's compiled parts; `matchedLength` is what a prefix_rewrite replaces (-1: the whole path). */
export interface CompiledMatch {
  pathKind: number;
  pathValue: string;
  caseSensitive: boolean;
  regex: Re2Regex | null;
  headers: HeaderMatcher[];
  queryParameters: QueryParameterMatcher[];
  matchedLength: number;
}

/** Route.match at `path`; null (with problems) when invalid. */
export function compileRouteMatch(m: Obj, path: string, problems: RouteConfigProblem[]): CompiledMatch | null {
  const before = problems.length;
  const which = oneofSet(m, PATH_SPECIFIERS, path, true, problems);
  let caseSensitive = bool(m['case_sensitive'], true);
  let pathKind: number = PathMatch.PREFIX;
  let pathValue = '';
  let regex: Re2Regex | null = null;
  let matchedLength = -1;
  switch (which) {
    case 'prefix':
      pathValue = str(m['prefix'], '');
      matchedLength = pathValue.length;
      break;
    case 'path':
      pathKind = PathMatch.EXACT;
      pathValue = str(m['path'], '');
      matchedLength = pathValue.length;
      break;
    case 'path_separated_prefix':
      pathKind = PathMatch.SEPARATED_PREFIX;
      pathValue = str(m['path_separated_prefix'], '');
      if (!SEPARATED_PREFIX.test(pathValue)) {
        problems.push({ path: `${path}.path_separated_prefix`, message: "must not contain '?' or '#' and must not end in '/'" });
      }
      matchedLength = pathValue.length;
      break;
    case 'safe_regex': {
      pathKind = PathMatch.REGEX;
      const sr = obj(m['safe_regex']);
      regex = compileRegexMatcher(sr, `${path}.safe_regex`, problems);
      // The regex's literal start is tested first, exactly (case_sensitive does not apply to safe_regex).
      pathValue = literalPrefixOf(str(sr['regex'], ''));
      caseSensitive = true;
      break;
    }
    default:
      break;
  }
  const headers: HeaderMatcher[] = [];
  list(m['headers']).forEach((h, i) => {
    const hm = compileHeaderMatcher(obj(h), `${path}.headers[${i}]`, problems);
    if (hm !== null) headers.push(hm);
  });
  if (m['grpc'] !== undefined) {
    // RouteMatch.grpc: only gRPC requests (content-type application/grpc, or with a +suffix or parameters).
    headers.push(new HeaderMatcher('content-type', MATCH_GRPC_CONTENT_TYPE, true, false, false));
  }
  const queryParameters: QueryParameterMatcher[] = [];
  list(m['query_parameters']).forEach((q, i) => {
    const qm = compileQueryParameterMatcher(obj(q), `${path}.query_parameters[${i}]`, problems);
    if (qm !== null) queryParameters.push(qm);
  });
  if (problems.length !== before) return null;
  return { pathKind, pathValue, caseSensitive, regex, headers, queryParameters, matchedLength };
}

// The path without query of the request being routed, sliced once however many regex routes test it. Workers
// are single-threaded; one remembered string per thread.
let memoPath = '';
let memoBare = '';

function bareOf(path: string, pathEnd: number): string {
  if (pathEnd === path.length) return path;
  if (path !== memoPath) {
    memoPath = path;
    memoBare = path.slice(0, pathEnd);
  }
  return memoBare;
}

function foldedAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** The probe positions of one route's literal; -1 when there is none. */
export interface PathProbes {
  first: number;
  second: number;
}

/** Routes sampled when ranking a second probe among those sharing the first (keeps compiling linear-ish). */
const SECOND_PROBE_SAMPLE = 256;

/**
 * For each literal of a virtual host's routes (lowered when case-insensitive; a regex's literal start), two
 * positions to test before the whole compare: the one whose character the fewest other literals share there
 * (ties: the later), then the best one among the literals that share that first character. A request path
 * that nearly matches a route (the same long prefix) then usually fails on one character compare.
 */
export function choosePathProbes(values: readonly string[]): PathProbes[] {
  const counts: Map<number, number>[] = [];
  for (const v of values) {
    for (let j = 0; j < v.length; j++) {
      const m = counts[j] ?? (counts[j] = new Map());
      const c = v.charCodeAt(j);
      m.set(c, (m.get(c) ?? 0) + 1);
    }
  }
  return values.map((v, self) => {
    let first = -1;
    let bestCount = Infinity;
    for (let j = 0; j < v.length; j++) {
      const count = counts[j]!.get(v.charCodeAt(j))!;
      if (count <= bestCount) {
        first = j;
        bestCount = count;
      }
    }
    if (first < 0 || bestCount <= 1) return { first, second: -1 };
    const code = v.charCodeAt(first);
    const peers: string[] = [];
    for (let w = 0; w < values.length && peers.length < SECOND_PROBE_SAMPLE; w++) {
      if (w !== self && values[w]!.charCodeAt(first) === code) peers.push(values[w]!);
    }
    let second = -1;
    let secondCount = Infinity;
    for (let j = 0; j < v.length; j++) {
      if (j === first) continue;
      const c = v.charCodeAt(j);
      let count = 0;
      for (const p of peers) if (p.charCodeAt(j) === c) count++;
      if (count < secondCount || (count === secondCount && count < peers.length)) {
        second = j;
        secondCount = count;
      }
    }
    // A second probe every peer shares tells nothing.
    return { first, second: secondCount < peers.length ? second : -1 };
  });
}
