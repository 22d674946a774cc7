// Any thread (compiled at config time; matches() runs on the request path). RouteMatch.headers and
// RouteMatch.query_parameters, Envoy's HeaderUtility::matchHeaders and ConfigUtility::QueryParameterMatcher.

import type { HeaderList } from '../http/stream-info.ts';
import { StringMatcher, StringMatchKind, MATCH_ANYTHING, compileRegexMatcher, compileStringMatcher } from './string-matcher.ts';
import { asciiLower } from './ascii.ts';
import { bool, checkHeaderName, obj, oneofSet, str, type Obj, type RouteConfigProblem } from './config-values.ts';

/** Where a header matcher reads its value: a request header, or a pseudo-header route() is given. */
const Source = { HEADER: 0, PATH: 1, METHOD: 2, AUTHORITY: 3, SCHEME: 4, ABSENT: 5 } as const;

/**
 * Legate's downstream is plaintext HTTP/1.1, so :scheme is always "http" (Envoy sets it from the connection,
 * not from x-forwarded-proto).
 */
const DOWNSTREAM_SCHEME = 'http';

export class HeaderMatcher {
  /** Lower-cased. */
  readonly name: string;
  readonly source: number;
  /** null: a presence match (present_match, or no specifier at all). */
  readonly matcher: StringMatcher | null;
  readonly present: boolean;
  readonly invert: boolean;
  readonly treatMissingAsEmpty: boolean;

  constructor(name: string, matcher: StringMatcher | null, present: boolean, invert: boolean, treatMissingAsEmpty: boolean) {
    this.name = name;
    this.source = sourceOf(name);
    this.matcher = matcher;
    this.present = present;
    this.invert = invert;
    this.treatMissingAsEmpty = treatMissingAsEmpty;
    Object.freeze(this);
  }

  matches(headers: HeaderList, authority: string, method: string, path: string): boolean {
    let value: string | undefined;
    switch (this.source) {
      case Source.HEADER:
        value = joinedHeaderValue(headers, this.name);
        break;
      case Source.PATH:
        value = path;
        break;
      case Source.METHOD:
        value = method;
        break;
      case Source.AUTHORITY:
        value = authority;
        break;
      case Source.SCHEME:
        value = DOWNSTREAM_SCHEME;
        break;
      default:
        value = undefined;
    }
    if (value === undefined) {
      // Absent header: only a presence matcher can match (Envoy's HeaderUtility::matchHeaders).
      if (!this.treatMissingAsEmpty) return this.matcher === null && this.present === this.invert;
      value = '';
    }
    const m = this.matcher === null ? this.present : this.matcher.match(value);
    return m !== this.invert;
  }
}

function sourceOf(name: string): number {
  if (name.charCodeAt(0) !== 58 /* : */) return name === 'host' ? Source.AUTHORITY : Source.HEADER;
  switch (name) {
    case ':path':
      return Source.PATH;
    case ':method':
      return Source.METHOD;
    case ':authority':
      return Source.AUTHORITY;
    case ':scheme':
      return Source.SCHEME;
    default:
      return Source.ABSENT;
  }
}

/** Every value of `name`, joined with ',' as Envoy does for a multi-valued header; undefined when absent. */
function joinedHeaderValue(headers: HeaderList, name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) value = value === undefined ? headers[i + 1]! : value + ',' + headers[i + 1]!;
  }
  return value;
}

/** Index where the value of query parameter `name` ends; set by queryValueStart. */
let valueEnd = 0;

/**
 * Start of the first value of `name` in the query string path[start..] ('&'-separated, no percent-decoding:
 * Envoy matches the raw query, QueryParamsMulti::parseQueryString), or -1 when absent. A parameter without
 * '=' has the empty value.
 */
function queryValueStart(path: string, start: number, name: string): number {
  const n = path.length;
  const len = name.length;
  let i = start;
  while (i < n) {
    let end = path.indexOf('&', i);
    if (end === -1) end = n;
    if (end - i >= len && path.startsWith(name, i)) {
      const after = i + len;
      if (after === end) {
        valueEnd = end;
        return end;
      }
      if (path.charCodeAt(after) === 61 /* = */) {
        valueEnd = end;
        return after + 1;
      }
    }
    i = end + 1;
  }
  return -1;
}

export class QueryParameterMatcher {
  readonly name: string;
  /** -1: no present_match; else 0/1 for present_match false/true (Envoy's new present-match behaviour). */
  readonly presentMatch: number;
  /** null: a presence check. */
  readonly matcher: StringMatcher | null;
  /** A name holding '=' or '&' can never be a parameter name. */
  readonly impossible: boolean;

  constructor(name: string, presentMatch: number, matcher: StringMatcher | null) {
    this.name = name;
    this.presentMatch = presentMatch;
    this.matcher = matcher;
    this.impossible = name.includes('=') || name.includes('&');
    Object.freeze(this);
  }

  /** `queryStart`: index just after the first '?' in path, or -1 when there is no query. */
  matches(path: string, queryStart: number): boolean {
    const at = queryStart < 0 || this.impossible ? -1 : queryValueStart(path, queryStart, this.name);
    if (this.presentMatch >= 0) return (at >= 0) === (this.presentMatch === 1);
    if (at < 0) return false;
    if (this.matcher === null) return true;
    return this.matcher.match(path.slice(at, valueEnd));
  }
}

const HEADER_MATCH_FIELDS = [
  'exact_match', 'safe_regex_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match', 'string_match',
] as const;

/** A HeaderMatcher message; null (with problems) when invalid. */
export function compileHeaderMatcher(h: Obj, path: string, problems: RouteConfigProblem[]): HeaderMatcher | null {
  const rawName = str(h['name'], '');
  if (!checkHeaderName(rawName, `${path}.name`, problems)) return null;
  const name = asciiLower(rawName);
  const invert = bool(h['invert_match'], false);
  const treatMissing = bool(h['treat_missing_header_as_empty'], false);
  const which = oneofSet(h, HEADER_MATCH_FIELDS, path, false, problems);
  let matcher: StringMatcher | null = null;
  let present = true;
  switch (which) {
    case 'exact_match': {
      // Envoy's legacy exact_match: an empty value matches any value.
      const v = str(h['exact_match'], '');
      matcher = v === '' ? MATCH_ANYTHING : new StringMatcher(StringMatchKind.EXACT, v, false, null);
      break;
    }
    case 'prefix_match':
      matcher = new StringMatcher(StringMatchKind.PREFIX, str(h['prefix_match'], ''), false, null);
      break;
    case 'suffix_match':
      matcher = new StringMatcher(StringMatchKind.SUFFIX, str(h['suffix_match'], ''), false, null);
      break;
    case 'contains_match':
      matcher = new StringMatcher(StringMatchKind.CONTAINS, str(h['contains_match'], ''), false, null);
      break;
    case 'safe_regex_match': {
      const re = compileRegexMatcher(obj(h['safe_regex_match']), `${path}.safe_regex_match`, problems);
      if (re === null) return null;
      matcher = new StringMatcher(StringMatchKind.REGEX, '', false, re);
      break;
    }
    case 'string_match':
      matcher = compileStringMatcher(obj(h['string_match']), `${path}.string_match`, problems);
      if (matcher === null) return null;
      break;
    case 'present_match':
      present = bool(h['present_match'], true);
      break;
    default:
      // No specifier: a presence match.
      break;
  }
  return new HeaderMatcher(name, matcher, present, invert, treatMissing);
}

/** A QueryParameterMatcher message; null (with problems) when invalid. */
export function compileQueryParameterMatcher(q: Obj, path: string, problems: RouteConfigProblem[]): QueryParameterMatcher | null {
  const name = str(q['name'], '');
  if (name === '') {
    problems.push({ path: `${path}.name`, message: 'a query parameter name is required' });
    return null;
  }
  const which = oneofSet(q, ['string_match', 'present_match'], path, false, problems);
  if (which === 'string_match') {
    const m = compileStringMatcher(obj(q['string_match']), `${path}.string_match`, problems);
    return m === null ? null : new QueryParameterMatcher(name, -1, m);
  }
  if (which === 'present_match') return new QueryParameterMatcher(name, bool(q['present_match'], false) ? 1 : 0, null);
  return new QueryParameterMatcher(name, -1, null);
}
