// Any thread (compiled at config time; match() runs on the request path). envoy.type.matcher.v3.StringMatcher
// and the deprecated HeaderMatcher value fields, as one small object with one method.

import { asciiLower, regionEqualsIgnoreCase } from './ascii.ts';
import { compileRe2 } from './re2.ts';
import { obj, oneofSet, str, bool, type Obj, type RouteConfigProblem } from './config-values.ts';

export const StringMatchKind = { EXACT: 0, PREFIX: 1, SUFFIX: 2, CONTAINS: 3, REGEX: 4, ANY: 5 } as const;

export class StringMatcher {
  readonly kind: number;
  /** The pattern; ASCII-lowered when ignoreCase. */
  readonly value: string;
  readonly ignoreCase: boolean;
  /** Whole-value match (RE2::FullMatch), for REGEX. */
  readonly regex: RegExp | null;

  constructor(kind: number, value: string, ignoreCase: boolean, regex: RegExp | null) {
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
        return this.regex!.test(s);
      default:
        return true;
    }
  }
}

export const MATCH_ANYTHING = new StringMatcher(StringMatchKind.ANY, '', false, null);

/** A RegexMatcher ({regex, google_re2}) as a whole-string RegExp; null (with a problem at `path`.regex) if invalid. */
export function compileRegexMatcher(rm: Obj, path: string, problems: RouteConfigProblem[]): RegExp | null {
  const re = compileRe2(str(rm['regex'], ''));
  if (typeof re === 'string') {
    problems.push({ path: `${path}.regex`, message: `invalid RE2 regex: ${re}` });
    return null;
  }
  return re.full;
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
