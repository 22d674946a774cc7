// Any thread (compiled at config time; match() runs on the request path). envoy.type.matcher.v3.StringMatcher
// and the deprecated HeaderMatcher value fields, as one small object with one method.

import { asciiLower, regionEqualsIgnoreCase } from './ascii.ts';
import { compileRe2, DEFAULT_RE2_LIMIT, type Re2Limit, type Re2Regex } from './re2.ts';
import { isObj, num, obj, oneofSet, str, bool, type Obj, type RouteConfigProblem } from './config-values.ts';

/** Envoy's kinds, plus GRPC_CONTENT_TYPE: RouteMatch.grpc's content-type test, without a regex. */
export const StringMatchKind = { EXACT: 0, PREFIX: 1, SUFFIX: 2, CONTAINS: 3, REGEX: 4, ANY: 5, GRPC_CONTENT_TYPE: 6 } as const;

export class StringMatcher {
  readonly kind: number;
  /** The pattern; ASCII-lowered when ignoreCase. */
  readonly value: string;
  readonly ignoreCase: boolean;
  /** Whole-value match (RE2::FullMatch), for REGEX. */
  readonly regex: Re2Regex | null;

  constructor(kind: number, value: string, ignoreCase: boolean, regex: Re2Regex | null) {
    this.kind = kind;
    this.ignoreCase = ignoreCase;
    this.value = ignoreCase ? asciiLower(value) : value;
    this.regex = regex;
    Object.freeze(this);
  }

  match(s: string): boolean {
    const v = this.value;
    switch (this.kind) {
      case StringMatchKind.EXACT:
        return this.ignoreCase ? s.length === v.length && regionEqualsIgnoreCase(s, 0, v) : s === v;
      case StringMatchKind.PREFIX:
        return this.ignoreCase ? regionEqualsIgnoreCase(s, 0, v) : s.startsWith(v);
      case StringMatchKind.SUFFIX:
        return this.ignoreCase ? regionEqualsIgnoreCase(s, s.length - v.length, v) : s.endsWith(v);
      case StringMatchKind.CONTAINS:
        return (this.ignoreCase ? asciiLower(s) : s).includes(v);
      case StringMatchKind.REGEX:
        return this.regex!.fullMatch(s);
      case StringMatchKind.GRPC_CONTENT_TYPE:
        // application/grpc, or with a +suffix or ;parameters (^application/grpc([+;].*)?$).
        return s.startsWith(v) && (s.length === v.length || s.charCodeAt(v.length) === 43 /* + */ || s.charCodeAt(v.length) === 59 /* ; */);
      default:
        return true;
    }
  }
}

export const MATCH_ANYTHING = new StringMatcher(StringMatchKind.ANY, '', false, null);
export const MATCH_GRPC_CONTENT_TYPE = new StringMatcher(StringMatchKind.GRPC_CONTENT_TYPE, 'application/grpc', false, null);

/** A RegexMatcher's program-size limit: google_re2.max_program_size (deprecated) when set, else Envoy's default. */
export function regexMatcherLimit(rm: Obj): Re2Limit {
  const g = rm['google_re2'];
  if (!isObj(g) || g['max_program_size'] === undefined) return DEFAULT_RE2_LIMIT;
  return { maxProgramSize: num(g['max_program_size'], DEFAULT_RE2_LIMIT.maxProgramSize), configured: true };
}

/** A RegexMatcher ({regex, google_re2}) for whole-value matching; null (with a problem at `path`.regex) if invalid. */
export function compileRegexMatcher(rm: Obj, path: string, problems: RouteConfigProblem[]): Re2Regex | null {
  const re = compileRe2(str(rm['regex'], ''), regexMatcherLimit(rm));
  if (typeof re === 'string') {
    problems.push({ path: `${path}.regex`, message: re });
    return null;
  }
  return re;
}

const STRING_MATCH_FIELDS = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

/** A StringMatcher message; null (with problems) when it is invalid. */
export function compileStringMatcher(sm: Obj, path: string, problems: RouteConfigProblem[]): StringMatcher | null {
  const which = oneofSet(sm, STRING_MATCH_FIELDS, path, true, problems);
  const ignoreCase = bool(sm['ignore_case'], false);
  switch (which) {
    case 'exact':
      return new StringMatcher(StringMatchKind.EXACT, str(sm['exact'], ''), ignoreCase, null);
    case 'prefix':
      return new StringMatcher(StringMatchKind.PREFIX, str(sm['prefix'], ''), ignoreCase, null);
    case 'suffix':
      return new StringMatcher(StringMatchKind.SUFFIX, str(sm['suffix'], ''), ignoreCase, null);
    case 'contains':
      return new StringMatcher(StringMatchKind.CONTAINS, str(sm['contains'], ''), ignoreCase, null);
    case 'safe_regex': {
      // ignore_case has no effect on safe_regex (as documented for StringMatcher).
      const re = compileRegexMatcher(obj(sm['safe_regex']), `${path}.safe_regex`, problems);
      return re === null ? null : new StringMatcher(StringMatchKind.REGEX, '', false, re);
    }
    default:
      return null;
  }
}
