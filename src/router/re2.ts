// Any thread (pure; config time only). Envoy's regexes are RE2 (safe_regex, google_re2). JavaScript's RegExp is
// a backtracking engine with a different dialect, so each pattern is checked against RE2's syntax and translated
// once: constructs RE2 lacks (backreferences, lookaround, \u escapes...) are rejected with a message saying so,
// and RE2-only spellings are rewritten (\A \z \Q..\E \x{..} \pN [[:alpha:]] (?P<name>) leading (?i), RE2's
// \s). What is left is compiled with `new RegExp`, which reports anything still wrong.

export type Re2Translation =
  | { readonly ok: true; readonly source: string; readonly flags: string; readonly groups: number }
  | { readonly ok: false; readonly error: string };

/** RE2's limit on {n,m} counts (kMaxRepeat). */
const MAX_REPEAT = 1000;

/** Characters that must stay escaped in a JS pattern (also valid escapes under the `u` flag). */
const JS_SYNTAX = '^$\\.*+?()[]{}|/';

/** Unicode general categories RE2 names with \pX / \p{Xx}; any other name is a script. */
const GENERAL_CATEGORIES = new Set([
  'C', 'Cc', 'Cf', 'Co', 'Cs', 'L', 'Ll', 'Lm', 'Lo', 'Lt', 'Lu', 'M', 'Mc', 'Me', 'Mn', 'N', 'Nd', 'Nl', 'No',
  'P', 'Pc', 'Pd', 'Pe', 'Pf', 'Pi', 'Po', 'Ps', 'S', 'Sc', 'Sk', 'Sm', 'So', 'Z', 'Zl', 'Zp', 'Zs',
]);

/** RE2's POSIX classes ([[:alpha:]]), as the contents of a JS character class. */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** RE2's \s is [\t\n\f\r ] (JavaScript's also has \v and Unicode spaces). */
const RE2_SPACE = '\\t\\n\\f\\r ';

class Translator {
  readonly p: string;
  i = 0;
  out = '';
  unicode = false;
  groups = 0;
  error: string | null = null;

  constructor(p: string) {
    this.p = p;
  }

  fail(message: string): void {
    if (this.error === null) this.error = message;
  }

  run(): void {
    const p = this.p;
    // Per open group: how many inline-flag wraps "(?i:" were opened in it and close with it.
    const wraps: number[] = [];
    let topWraps = 0;
    let atGroupStart = true;
    while (this.i < p.length && this.error === null) {
      const c = p[this.i]!;
      if (c === '\\') {
        this.out += this.escape(false);
        atGroupStart = false;
      } else if (c === '[') {
        this.charClass();
        atGroupStart = false;
      } else if (c === '(') {
        if (p[this.i + 1] !== '?') {
          this.out += '(';
          this.groups++;
          wraps.push(0);
          this.i++;
          atGroupStart = true;
          continue;
        }
        const kind = this.groupKind(atGroupStart);
        if (kind === 'group') {
          wraps.push(0);
          atGroupStart = true;
        } else if (kind === 'flags') {
          if (wraps.length === 0) topWraps++;
          else wraps[wraps.length - 1]!++;
          atGroupStart = true;
        }
      } else if (c === ')') {
        if (wraps.length === 0) return this.fail('unexpected ) (unmatched parenthesis)');
        this.out += ')'.repeat(wraps.pop()! + 1);
        this.i++;
        atGroupStart = false;
      } else if (c === '{') {
        this.repetitionOrBrace();
        atGroupStart = false;
      } else if (c === '}' || c === ']') {
        // Literal in RE2 when not closing anything; JS under the `u` flag wants them escaped.
        this.out += '\\' + c;
        this.i++;
        atGroupStart = false;
      } else {
        this.out += c;
        this.i++;
        atGroupStart = false;
      }
    }
    if (this.error !== null) return;
    if (wraps.length > 0) return this.fail('missing ) (unclosed group)');
    this.out += ')'.repeat(topWraps);
  }

  /** At "(?": emits the group opener; 'group' for a group, 'flags' for an inline-flags wrap, null on error. */
  groupKind(atGroupStart: boolean): 'group' | 'flags' | null {
    const rest = this.p.slice(this.i + 2);
    if (rest.startsWith(':')) {
      this.out += '(?:';
      this.i += 3;
      return 'group';
    }
    if (rest.startsWith('=') || rest.startsWith('!') || rest.startsWith('<=') || rest.startsWith('<!')) {
      this.fail('lookahead and lookbehind assertions ((?=, (?!, (?<=, (?<!) are not supported by RE2');
      return null;
    }
    if (rest.startsWith('P=') || rest.startsWith('P>') || rest.startsWith('&')) {
      this.fail('backreferences and recursion ((?P=name), (?P>name)) are not supported by RE2');
      return null;
    }
    if (rest.startsWith('#')) {
      this.fail('comment groups (?#...) are not supported by RE2');
      return null;
    }
    const named = /^P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
    if (named !== null) {
      this.out += `(?<${named[1]}>`;
      this.groups++;
      this.i += 2 + named[0].length;
      return 'group';
    }
    const flags = /^([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(rest);
    if (flags === null) {
      this.fail(`invalid or unsupported group syntax "(?${rest.slice(0, 3)}"`);
      return null;
    }
    const on = flags[1]!;
    const off = flags[2] ?? '';
    const all = on + off;
    for (let k = 0; k < all.length; k++) {
      const f = all[k]!;
      if (f === 'U') {
        this.fail('the U (ungreedy) flag is not supported; use lazy quantifiers like *? instead');
        return null;
      }
      if (f !== 'i' && f !== 'm' && f !== 's') {
        this.fail(`unknown inline flag '${f}' (RE2 has i, m, s and U)`);
        return null;
      }
    }
    if (all === '' || (flags[2] !== undefined && off === '')) {
      this.fail(`invalid inline flags group "(?${flags[0]}"`);
      return null;
    }
    const spec = off === '' ? on : `${on}-${off}`;
    if (flags[3] === ')' && !atGroupStart) {
      // "a(?i)b|c" would change the alternation if wrapped; RE2's flags run to the end of the group.
      this.fail('inline flags like (?i) are only supported at the start of the pattern or of a group; use (?i:...) instead');
      return null;
    }
    this.out += `(?${spec}:`;
    this.i += 2 + flags[0].length;
    return flags[3] === ':' ? 'group' : 'flags';
  }

  /** `{n}`, `{n,}`, `{n,m}` as a repetition (bounded like RE2), any other `{` as a literal. */
  repetitionOrBrace(): void {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
    if (m === null) {
      this.out += '\\{';
      this.i++;
      return;
    }
    const min = Number(m[1]);
    const max = m[3] === undefined || m[3] === '' ? min : Number(m[3]);
    if (min > MAX_REPEAT || max > MAX_REPEAT) return this.fail(`bad repetition operator ${m[0]}: RE2 allows at most ${MAX_REPEAT}`);
    if (m[3] !== undefined && m[3] !== '' && max < min) return this.fail(`bad repetition operator ${m[0]}: max is below min`);
    this.out += m[0];
    this.i += m[0].length;
  }

  /** A bracket expression, RE2 rules: a leading ']' is literal, '[' is literal, [:name:] is a POSIX class. */
  charClass(): void {
    const p = this.p;
    let out = '[';
    this.i++;
    if (p[this.i] === '^') {
      out += '^';
      this.i++;
    }
    if (p[this.i] === ']') {
      out += '\\]';
      this.i++;
    }
    for (;;) {
      if (this.i >= p.length) return this.fail('missing ] (unclosed character class)');
      const c = p[this.i]!;
      if (c === ']') break;
      if (c === '[' && p[this.i + 1] === ':') {
        const end = p.indexOf(':]', this.i + 2);
        if (end === -1) return this.fail('missing :] in a POSIX class like [:alpha:]');
        const name = p.slice(this.i + 2, end);
        if (name.startsWith('^')) return this.fail(`negated POSIX classes like [:${name}:] are not supported; use [^[:${name.slice(1)}:]]`);
        const body = POSIX_CLASSES[name];
        if (body === undefined) return this.fail(`unknown POSIX class [:${name}:]`);
        out += body;
        this.i = end + 2;
      } else if (c === '[') {
        out += '\\[';
        this.i++;
      } else if (c === '\\') {
        out += this.escape(true);
        if (this.error !== null) return;
      } else {
        out += c;
        this.i++;
      }
    }
    this.out += out + ']';
    this.i++;
  }

  /** At '\': the JS spelling of one RE2 escape (inside a character class when `inClass`). */
  escape(inClass: boolean): string {
    const p = this.p;
    const d = p[this.i + 1];
    if (d === undefined) {
      this.fail('trailing backslash at the end of the pattern');
      return '';
    }
    this.i += 2;
    if (d >= '0' && d <= '9') return this.octal(d);
    switch (d) {
      case 'a':
        return '\\x07';
      case 'f': case 'n': case 'r': case 't': case 'v': case 'd': case 'D': case 'w': case 'W':
        return '\\' + d;
      case 's':
        return inClass ? RE2_SPACE : `[${RE2_SPACE}]`;
      case 'S':
        return inClass ? '\\S' : `[^${RE2_SPACE}]`;
      case 'b': case 'B': case 'A': case 'z':
        if (inClass) {
          this.fail(`\\${d} is not allowed inside a character class`);
          return '';
        }
        if (d === 'A') return '(?<![\\s\\S])';
        if (d === 'z') return '(?![\\s\\S])';
        return '\\' + d;
      case 'x':
        return this.hexCode();
      case 'p': case 'P':
        return this.unicodeClass(d === 'P');
      case 'Q': {
        if (inClass) {
          this.fail('\\Q...\\E is not allowed inside a character class');
          return '';
        }
        let end = p.indexOf('\\E', this.i);
        if (end === -1) end = p.length;
        let lit = '';
        for (let k = this.i; k < end; k++) lit += literal(p[k]!, false);
        this.i = end === p.length ? end : end + 2;
        return lit;
      }
      case 'C':
        this.fail('the \\C (any byte) escape is not supported');
        return '';
      default:
        if (/[A-Za-z0-9]/.test(d)) {
          this.fail(`invalid escape sequence \\${d} (RE2 has no such escape)`);
          return '';
        }
        return literal(d, inClass);
    }
  }

  /**
   * After "\<digit>": RE2 octal, the digit and up to two more octal digits. A lone non-zero digit would be a
   * backreference, which RE2 rejects (as it does \8 and \9).
   */
  octal(d: string): string {
    const p = this.p;
    const nextIsOctal = p[this.i] !== undefined && p[this.i]! >= '0' && p[this.i]! <= '7';
    if (d === '8' || d === '9' || (d !== '0' && !nextIsOctal)) {
      this.fail(`backreferences like \\${d} are not supported by RE2`);
      return '';
    }
    let code = d.charCodeAt(0) - 48;
    for (let k = 0; k < 2 && this.i < p.length && p[this.i]! >= '0' && p[this.i]! <= '7'; k++) {
      code = code * 8 + (p.charCodeAt(this.i) - 48);
      this.i++;
    }
    return hexEscape(code);
  }

  /** After "\x": \xHH or \x{H...}. */
  hexCode(): string {
    const p = this.p;
    let digits: string;
    if (p[this.i] === '{') {
      const end = p.indexOf('}', this.i);
      digits = end === -1 ? '' : p.slice(this.i + 1, end);
      if (end === -1 || !/^[0-9A-Fa-f]{1,8}$/.test(digits)) {
        this.fail('invalid \\x{...} escape');
        return '';
      }
      this.i = end + 1;
    } else {
      digits = p.slice(this.i, this.i + 2);
      if (!/^[0-9A-Fa-f]{2}$/.test(digits)) {
        this.fail('invalid \\x escape: expected two hex digits or \\x{...}');
        return '';
      }
      this.i += 2;
    }
    const code = parseInt(digits, 16);
    if (code > 0x10ffff) {
      this.fail(`\\x{${digits}} is beyond the last Unicode code point`);
      return '';
    }
    if (code > 0xffff) this.unicode = true;
    return hexEscape(code);
  }

  /** After "\p" or "\P": \pL or \p{Name} / \p{^Name}; needs the `u` flag. */
  unicodeClass(negated: boolean): string {
    const p = this.p;
    let name: string;
    if (p[this.i] === '{') {
      const end = p.indexOf('}', this.i);
      if (end === -1) {
        this.fail('missing } in \\p{...}');
        return '';
      }
      name = p.slice(this.i + 1, end);
      this.i = end + 1;
    } else {
      name = p[this.i] ?? '';
      this.i++;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    const js = GENERAL_CATEGORIES.has(name) || name === 'Any' ? name : `Script=${name}`;
    try {
      new RegExp(`\\p{${js}}`, 'u');
    } catch {
      this.fail(`unknown Unicode class \\p{${name}}`);
      return '';
    }
    this.unicode = true;
    return `\\${negated ? 'P' : 'p'}{${js}}`;
  }
}

function hexEscape(code: number): string {
  if (code <= 0xff) return '\\x' + code.toString(16).padStart(2, '0');
  if (code <= 0xffff) return '\\u' + code.toString(16).padStart(4, '0');
  return `\\u{${code.toString(16)}}`;
}

/** A character meant literally, spelled so that it stays literal with or without the `u` flag. */
function literal(ch: string, inClass: boolean): string {
  if (JS_SYNTAX.includes(ch) || (inClass && ch === '-')) return '\\' + ch;
  return ch;
}

/** Checks `pattern` against RE2's syntax and gives the equivalent JavaScript source and flags. */
export function translateRe2(pattern: string): Re2Translation {
  const t = new Translator(pattern);
  t.run();
  if (t.error !== null) return { ok: false, error: t.error };
  const flags = t.unicode ? 'u' : '';
  try {
    new RegExp(t.out, flags);
  } catch (err) {
    return { ok: false, error: `does not compile: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}` };
  }
  return { ok: true, source: t.out, flags, groups: t.groups };
}

/** A compiled RE2 pattern: `full` matches whole strings (RE2::FullMatch, Envoy's match()); `search` finds all. */
export interface Re2Regex {
  readonly full: RegExp;
  /** Global, for replace() (RE2::GlobalReplace); never frozen: replace() writes its lastIndex. */
  readonly search: RegExp;
  readonly groups: number;
}

export function compileRe2(pattern: string): Re2Regex | string {
  const t = translateRe2(pattern);
  if (!t.ok) return t.error;
  return { full: new RegExp(`^(?:${t.source})$`, t.flags), search: new RegExp(t.source, t.flags + 'g'), groups: t.groups };
}

/**
 * RE2's rewrite string (\0 the whole match, \1..\9 groups, \\ a backslash) as a String.prototype.replace
 * replacement; an error message when it refers to a group the pattern lacks or has another escape.
 */
export function translateRe2Substitution(substitution: string, groups: number): { ok: true; replacement: string } | { ok: false; error: string } {
  let out = '';
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    if (c === '$') {
      out += '$$';
    } else if (c !== '\\') {
      out += c;
    } else {
      const d = substitution[++i];
      if (d !== undefined && d >= '0' && d <= '9') {
        const n = d.charCodeAt(0) - 48;
        if (n > groups) {
          return { ok: false, error: `refers to group \\${n} but the pattern has ${groups} capture group${groups === 1 ? '' : 's'}` };
        }
        out += n === 0 ? '$&' : `$0${n}`;
      } else if (d === '\\') {
        out += '\\';
      } else {
        return { ok: false, error: 'invalid rewrite: a backslash must be followed by a digit (\\1) or another backslash' };
      }
    }
  }
  return { ok: true, replacement: out };
}

/** RE2 metacharacters: a literal run stops at any of them. */
const RE2_META = '\\.^$|?*+()[]{}';

/**
 * A literal every full match of `pattern` starts with ('' when unknown), for a cheap startsWith before the
 * regex runs: the leading plain characters (after an optional ^), minus one followed by a quantifier.
 * Patterns with alternation or inline flags get '' (the literal might not apply to every branch or case).
 */
export function literalPrefixOf(pattern: string): string {
  if (pattern.includes('|') || pattern.includes('(?')) return '';
  let i = pattern.startsWith('^') ? 1 : 0;
  const start = i;
  while (i < pattern.length && !RE2_META.includes(pattern[i]!)) i++;
  let end = i;
  const next = pattern[i];
  if (end > start && (next === '?' || next === '*' || next === '{')) end--; // that character may repeat 0 times
  return pattern.slice(start, end);
}
