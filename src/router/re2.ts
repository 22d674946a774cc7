// Any thread (compiled at config time; fullMatch()/replaceAll() run on the request path). Envoy's regexes are RE2
// (safe_regex, google_re2): linear in their input whatever the pattern. JavaScript's default RegExp engine
// backtracks (a 40-byte path kept a worker busy for minutes), so every pattern runs on a linear-time engine:
//  - V8's linear engine (the `l` flag, enabled below) where it accepts the pattern: RE2's syntax is checked and
//    translated once (\A \z \Q..\E \x{..} [[:alpha:]] (?P<name>) RE2's \s and `.`, (?i) as ASCII case classes,
//    {n,m} spelled out, capture groups dropped where only a yes/no is needed);
//  - re2js (RE2/J's port of RE2) where V8's engine refuses it (\p classes, non-ASCII (?i), (?U), ...).
// re2js also checks every pattern (it is RE2's parser) and gives the program size that Envoy's limit applies to.

import { setFlagsFromString } from 'node:v8';
import { RE2JS } from 're2js';

// V8's linear-time (automaton) engine: `--enable-experimental-regexp-engine` lets `new RegExp(source, 'l')` ask for
// it (how a pattern is checked to be one it can run), and `--enable-experimental-regexp-engine-on-excessive-backtracks`
// makes every RegExp that engine can run start on the (fast) backtracking engine and move to the linear one once it
// has backtracked more than `--regexp-backtracks-before-fallback` times (V8's default, 50,000): ordinary inputs cost
// what a plain RegExp costs (tens of ns, against about a microsecond on the automaton), and the worst input is
// bounded by that budget plus linear time. Process-wide, and read when a RegExp is created, so setting them when
// this module loads, before any pattern compiles, is enough.
setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

function linearEngineWorks(): boolean {
  try {
    return new RegExp('a', 'l').test('a');
  } catch {
    return false;
  }
}

/** False if this V8 lacks the linear engine: every pattern then runs on re2js. */
export const LINEAR_ENGINE_AVAILABLE = linearEngineWorks();

/** The engine a compiled pattern runs on. */
export const Re2Engine = { V8_LINEAR: 'v8-linear', RE2JS: 're2js' } as const;

/** Envoy's `re2.max_program_size.error_level` default: the largest program a regex may compile to. */
export const DEFAULT_MAX_PROGRAM_SIZE = 100;

/** RE2's limit on {n,m} counts (kMaxRepeat). */
const MAX_REPEAT = 1000;

/** Longest translated source handed to V8 (spelled-out repetitions); beyond it the pattern runs on re2js. */
const MAX_LINEAR_SOURCE = 16 * 1024;

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

/** The characters RE2's (?i) adds to an ASCII letter beyond its other case (Unicode simple case folding). */
const KELVIN_SIGN = '\\u212a'; // folds with k, K
const LONG_S = '\\u017f'; // folds with s, S

export type Re2Translation =
  | { readonly ok: true; readonly source: string; readonly flags: string; readonly groups: number }
  | { readonly ok: false; readonly error: string };

/** Flags in force in one group: (?i) (?s) (?m). */
interface Frame {
  fold: boolean;
  dotAll: boolean;
  multiLine: boolean;
  /** Inline-flag wraps "(?m:" opened in this group; they close with it. */
  wraps: number;
  /** Where the group's spelling starts in `out` (the atom a repetition after it repeats). */
  outStart: number;
  groupsBefore: number;
}

class Translator {
  readonly p: string;
  /** Keep capture groups (a rewrite needs them); false spells every group as (?:...). */
  readonly captures: boolean;
  i = 0;
  out = '';
  unicode = false;
  groups = 0;
  error: string | null = null;
  fold = false;
  dotAll = false;
  multiLine = false;
  /** Where the last atom starts in `out` (-1: none), and the group count before it. */
  atomStart = -1;
  atomGroups = 0;

  constructor(p: string, captures: boolean) {
    this.p = p;
    this.captures = captures;
  }

  fail(message: string): void {
    if (this.error === null) this.error = message;
  }

  /** Marks the start of an atom at the current end of `out`. */
  atom(): void {
    this.atomStart = this.out.length;
    this.atomGroups = this.groups;
  }

  run(): void {
    const p = this.p;
    const frames: Frame[] = [];
    let topWraps = 0;
    let atGroupStart = true;
    while (this.i < p.length && this.error === null) {
      if (this.out.length > MAX_LINEAR_SOURCE) return this.fail('too large once repetitions are spelled out');
      const c = p[this.i]!;
      if (c === '\\') {
        this.escapeAtom();
        atGroupStart = false;
      } else if (c === '[') {
        this.atom();
        this.charClass();
        atGroupStart = false;
      } else if (c === '(') {
        const frame: Frame = {
          fold: this.fold, dotAll: this.dotAll, multiLine: this.multiLine, wraps: 0, outStart: this.out.length,
          groupsBefore: this.groups,
        };
        if (p[this.i + 1] !== '?') {
          this.groups++;
          this.out += this.captures ? '(' : '(?:';
          this.i++;
          frames.push(frame);
          this.atomStart = -1;
          atGroupStart = true;
          continue;
        }
        const kind = this.groupKind(atGroupStart);
        if (kind === 'group') {
          frames.push(frame);
          this.atomStart = -1;
          atGroupStart = true;
        } else if (kind === 'wrap') {
          if (frames.length === 0) topWraps++;
          else frames[frames.length - 1]!.wraps++;
          atGroupStart = true;
        }
      } else if (c === ')') {
        const frame = frames.pop();
        if (frame === undefined) return this.fail('unexpected ) (unmatched parenthesis)');
        this.out += ')'.repeat(frame.wraps + 1);
        this.fold = frame.fold;
        this.dotAll = frame.dotAll;
        this.multiLine = frame.multiLine;
        this.atomStart = frame.outStart;
        this.atomGroups = frame.groupsBefore;
        this.i++;
        atGroupStart = false;
      } else if (c === '{') {
        this.repetitionOrBrace();
        atGroupStart = false;
      } else if (c === '|') {
        this.out += '|';
        this.i++;
        this.atomStart = -1;
        atGroupStart = false;
      } else if (c === '*' || c === '+' || c === '?') {
        if (c !== '?' && this.repeatsCapture()) return;
        this.out += c;
        this.i++;
        this.atomStart = -1;
        atGroupStart = false;
      } else if (c === '^' || c === '$') {
        this.atom();
        this.out += c;
        this.i++;
        atGroupStart = false;
      } else if (c === '.') {
        // RE2's `.` is any character but \n (JavaScript's also leaves out \r, \u2028, \u2029); (?s): any.
        this.atom();
        this.out += this.dotAll ? '[\\s\\S]' : '[^\\n]';
        this.i++;
        atGroupStart = false;
      } else {
        this.atom();
        const code = p.codePointAt(this.i)!;
        this.i += code > 0xffff ? 2 : 1;
        this.out += this.literalCode(code);
        atGroupStart = false;
      }
    }
    if (this.error !== null) return;
    if (frames.length > 0) return this.fail('missing ) (unclosed group)');
    this.out += ')'.repeat(topWraps);
  }

  /**
   * At "(?": emits the group opener; 'group' for a group, 'wrap' for flags that opened a "(?m:" wrap to the end
   * of the enclosing group, 'flags' for flags that only changed state, null on error.
   */
  groupKind(atGroupStart: boolean): 'group' | 'wrap' | 'flags' | null {
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
      this.out += this.captures ? `(?<${named[1]}>` : '(?:';
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
        this.fail('the U (ungreedy) flag has no JavaScript equivalent');
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
    const multiLine = off.includes('m') ? false : on.includes('m') ? true : this.multiLine;
    // (?i) and (?s) change how later atoms are spelled; (?m) changes ^ and $, which only a JS modifier group can.
    const opener = multiLine === this.multiLine ? '(?:' : multiLine ? '(?m:' : '(?-m:';
    this.i += 2 + flags[0].length;
    if (off.includes('i')) this.fold = false;
    else if (on.includes('i')) this.fold = true;
    if (off.includes('s')) this.dotAll = false;
    else if (on.includes('s')) this.dotAll = true;
    if (flags[3] === ':') {
      this.out += opener;
      this.multiLine = multiLine;
      return 'group';
    }
    // "(?i)": RE2's flags run to the end of the enclosing group.
    if (multiLine === this.multiLine) return 'flags';
    if (!atGroupStart) {
      // "a(?m)b|c" would change the alternation if wrapped.
      this.fail('(?m) after the start of a group has no JavaScript equivalent');
      return null;
    }
    this.out += opener;
    this.multiLine = multiLine;
    return 'wrap';
  }

  /** `{n}`, `{n,}`, `{n,m}` as a repetition (bounded like RE2), any other `{` as a literal. */
  repetitionOrBrace(): void {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
    if (m === null) {
      this.atom();
      this.out += '\\{';
      this.i++;
      return;
    }
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
    if (min > MAX_REPEAT || max > MAX_REPEAT) return this.fail(`bad repetition operator ${m[0]}: RE2 allows at most ${MAX_REPEAT}`);
    if (max !== -1 && max < min) return this.fail(`bad repetition operator ${m[0]}: max is below min`);
    if (this.atomStart < 0) return this.fail(`missing argument to repetition operator ${m[0]}`);
    this.i += m[0].length;
    const lazy = this.p[this.i] === '?';
    if (lazy) this.i++;
    if (this.repeatsCapture()) return;
    const atom = this.out.slice(this.atomStart);
    if (atom.length * (max === -1 ? min + 1 : max) > MAX_LINEAR_SOURCE) return this.fail('too large once repetitions are spelled out');
    // V8's linear engine refuses repetitions that replicate more than 16 copies; spelled out, it takes them.
    this.out = this.out.slice(0, this.atomStart) + spellRepetition(atom, min, max, lazy);
    this.atomStart = -1;
  }

  /**
   * True (with the error) when a repetition applies to an atom holding a capture group that is kept: RE2 keeps a
   * group's last value across iterations, JavaScript clears it at each one ((?:(a)|b)+ on "ab": RE2 \1 = "a").
   */
  repeatsCapture(): boolean {
    if (!this.captures || this.atomStart < 0 || this.groups === this.atomGroups) return false;
    this.fail('a repeated capture group keeps its last value in RE2 but not in JavaScript');
    return true;
  }

  /** A bracket expression, RE2 rules: a leading ']' is literal, '[' is literal, [:name:] is a POSIX class. */
  charClass(): void {
    const p = this.p;
    let body = '';
    this.i++;
    let negated = false;
    if (p[this.i] === '^') {
      negated = true;
      this.i++;
    }
    /** Single characters and ranges, [lo, hi] pairs, to add their other case to under (?i). */
    const ranges: number[] = [];
    let first = true;
    for (;;) {
      if (this.i >= p.length) return this.fail('missing ] (unclosed character class)');
      const c = p[this.i]!;
      if (c === ']' && !first) break;
      first = false;
      if (c === '[' && p[this.i + 1] === ':') {
        const end = p.indexOf(':]', this.i + 2);
        if (end === -1) return this.fail('missing :] in a POSIX class like [:alpha:]');
        const name = p.slice(this.i + 2, end);
        if (name.startsWith('^')) return this.fail(`negated POSIX classes like [:${name}:] have no JavaScript equivalent`);
        const posix = POSIX_CLASSES[name];
        if (posix === undefined) return this.fail(`unknown POSIX class [:${name}:]`);
        body += this.fold && (name === 'upper' || name === 'lower') ? `A-Za-z${KELVIN_SIGN}${LONG_S}` : posix;
        this.i = end + 2;
        continue;
      }
      const lo = this.classChar();
      if (this.error !== null) return;
      if (typeof lo === 'string') {
        body += lo;
        continue;
      }
      let hi = lo;
      if (p[this.i] === '-' && this.i + 1 < p.length && p[this.i + 1] !== ']') {
        this.i++;
        const end = this.classChar();
        if (this.error !== null) return;
        if (typeof end === 'string') return this.fail('a character class range must end in a single character');
        if (end < lo) return this.fail('invalid character class range (its end is below its start)');
        hi = end;
      }
      body += classSpelling(lo) + (hi === lo ? '' : '-' + classSpelling(hi));
      if (hi > 0xffff) this.unicode = true;
      ranges.push(lo, hi);
    }
    this.i++;
    if (this.fold) {
      const folded = foldRanges(ranges);
      if (folded === null) return this.fail('case-insensitive classes with non-ASCII characters have no translation');
      body += folded;
    }
    this.out += '[' + (negated ? '^' : '') + body + ']';
  }

  /** One item in a class: its code point, or the JS spelling of a class escape like \d. */
  classChar(): number | string {
    const p = this.p;
    if (p[this.i] !== '\\') {
      const code = p.codePointAt(this.i)!;
      this.i += code > 0xffff ? 2 : 1;
      return code;
    }
    const d = p[this.i + 1];
    if (d === undefined) {
      this.fail('trailing backslash at the end of the pattern');
      return '';
    }
    this.i += 2;
    switch (d) {
      case 'd': case 'D': case 'w': case 'W':
        return '\\' + d;
      case 's':
        return RE2_SPACE;
      case 'S':
        // Only a negated class can say "not RE2's \s"; inside another class there is no spelling.
        this.fail('\\S inside a character class has no translation');
        return '';
      case 'p': case 'P':
        return this.unicodeClass(d === 'P');
      case 'b': case 'B': case 'A': case 'z': case 'Q':
        this.fail(`\\${d} is not allowed inside a character class`);
        return '';
      default:
        return this.escapeCode(d);
    }
  }

  /** At '\' outside a class: appends the spelling of one RE2 escape and marks the atom it is. */
  escapeAtom(): void {
    const p = this.p;
    const d = p[this.i + 1];
    if (d === undefined) return this.fail('trailing backslash at the end of the pattern');
    this.i += 2;
    this.atom();
    switch (d) {
      case 'd': case 'D': case 'w': case 'W': case 'b': case 'B':
        this.out += '\\' + d;
        return;
      case 's':
        this.out += `[${RE2_SPACE}]`;
        return;
      case 'S':
        this.out += `[^${RE2_SPACE}]`;
        return;
      case 'A':
        this.out += this.multiLine ? '(?-m:^)' : '^';
        return;
      case 'z':
        this.out += this.multiLine ? '(?-m:$)' : '$';
        return;
      case 'p': case 'P':
        this.out += this.unicodeClass(d === 'P');
        return;
      case 'Q': {
        let end = p.indexOf('\\E', this.i);
        if (end === -1) end = p.length;
        while (this.i < end) {
          // A repetition after \E repeats the last character only.
          this.atom();
          const code = p.codePointAt(this.i)!;
          this.i += code > 0xffff ? 2 : 1;
          this.out += this.literalCode(code);
        }
        this.i = end === p.length ? end : end + 2;
        return;
      }
      default: {
        const code = this.escapeCode(d);
        if (this.error === null) this.out += this.literalCode(code);
      }
    }
  }

  /** After "\<d>" for an escape that stands for one character: its code point. */
  escapeCode(d: string): number {
    if (d >= '0' && d <= '9') return this.octal(d);
    switch (d) {
      case 'a': return 7;
      case 'f': return 12;
      case 'n': return 10;
      case 'r': return 13;
      case 't': return 9;
      case 'v': return 11;
      case 'x': return this.hexCode();
      case 'C':
        this.fail('the \\C (any byte) escape is not supported');
        return 0;
      default:
        if (/[A-Za-z0-9]/.test(d)) {
          this.fail(`invalid escape sequence \\${d} (RE2 has no such escape)`);
          return 0;
        }
        return d.codePointAt(0)!;
    }
  }

  /** The spelling of character `code` outside a class: itself, or its case class under (?i). */
  literalCode(code: number): string {
    if (code > 0xffff) this.unicode = true;
    if (this.fold) {
      const lower = code | 0x20;
      if (lower >= 97 && lower <= 122) {
        const extra = lower === 107 ? KELVIN_SIGN : lower === 115 ? LONG_S : '';
        return `[${String.fromCharCode(lower - 32)}${String.fromCharCode(lower)}${extra}]`;
      }
      if (code > 0x7f && hasCase(code)) {
        this.fail('case-insensitive matching of non-ASCII letters has no translation');
        return '';
      }
    }
    if (code < 0x80) {
      const ch = String.fromCharCode(code);
      if (JS_SYNTAX.includes(ch)) return '\\' + ch;
      if (code >= 0x20 && code < 0x7f) return ch;
    }
    return hexEscape(code);
  }

  /**
   * After "\<digit>": RE2 octal, the digit and up to two more octal digits. A lone non-zero digit would be a
   * backreference, which RE2 rejects (as it does \8 and \9).
   */
  octal(d: string): number {
    const p = this.p;
    const nextIsOctal = p[this.i] !== undefined && p[this.i]! >= '0' && p[this.i]! <= '7';
    if (d === '8' || d === '9' || (d !== '0' && !nextIsOctal)) {
      this.fail(`backreferences like \\${d} are not supported by RE2`);
      return 0;
    }
    let code = d.charCodeAt(0) - 48;
    for (let k = 0; k < 2 && this.i < p.length && p[this.i]! >= '0' && p[this.i]! <= '7'; k++) {
      code = code * 8 + (p.charCodeAt(this.i) - 48);
      this.i++;
    }
    return code;
  }

  /** After "\x": \xHH or \x{H...}. */
  hexCode(): number {
    const p = this.p;
    let digits: string;
    if (p[this.i] === '{') {
      const end = p.indexOf('}', this.i);
      digits = end === -1 ? '' : p.slice(this.i + 1, end);
      if (end === -1 || !/^[0-9A-Fa-f]{1,8}$/.test(digits)) {
        this.fail('invalid \\x{...} escape');
        return 0;
      }
      this.i = end + 1;
    } else {
      digits = p.slice(this.i, this.i + 2);
      if (!/^[0-9A-Fa-f]{2}$/.test(digits)) {
        this.fail('invalid \\x escape: expected two hex digits or \\x{...}');
        return 0;
      }
      this.i += 2;
    }
    const code = parseInt(digits, 16);
    if (code > 0x10ffff) {
      this.fail(`\\x{${digits}} is beyond the last Unicode code point`);
      return 0;
    }
    return code;
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

/** `atom` repeated min..max times (max -1: unbounded), spelled out the way RE2 simplifies x{2,4} to xx(x(x)?)?. */
function spellRepetition(atom: string, min: number, max: number, lazy: boolean): string {
  let out = atom.repeat(min);
  if (max === -1) return out + atom + (lazy ? '*?' : '*');
  let optional = '';
  for (let k = max - min; k > 0; k--) optional = `(?:${atom}${optional})${lazy ? '??' : '?'}`;
  return out + optional;
}

/** Under (?i): the other case of the ASCII letters in `ranges` (RE2 adds K and ſ too); null if any is non-ASCII. */
function foldRanges(ranges: number[]): string | null {
  let extra = '';
  for (let k = 0; k < ranges.length; k += 2) {
    const lo = ranges[k]!;
    const hi = ranges[k + 1]!;
    if (hi > 0x7f) return null;
    const upLo = Math.max(lo, 65);
    const upHi = Math.min(hi, 90);
    if (upLo <= upHi) extra += String.fromCharCode(upLo + 32) + (upHi > upLo ? '-' + String.fromCharCode(upHi + 32) : '');
    const lowLo = Math.max(lo, 97);
    const lowHi = Math.min(hi, 122);
    if (lowLo <= lowHi) extra += String.fromCharCode(lowLo - 32) + (lowHi > lowLo ? '-' + String.fromCharCode(lowHi - 32) : '');
    if ((lo <= 107 && hi >= 107) || (lo <= 75 && hi >= 75)) extra += KELVIN_SIGN;
    if ((lo <= 115 && hi >= 115) || (lo <= 83 && hi >= 83)) extra += LONG_S;
  }
  return extra;
}

function hasCase(code: number): boolean {
  const ch = String.fromCodePoint(code);
  return ch.toLowerCase() !== ch || ch.toUpperCase() !== ch;
}

function hexEscape(code: number): string {
  if (code <= 0xff) return '\\x' + code.toString(16).padStart(2, '0');
  if (code <= 0xffff) return '\\u' + code.toString(16).padStart(4, '0');
  return `\\u{${code.toString(16)}}`;
}

/** A character inside a JS class: alphanumerics as themselves, anything else as a hex escape. */
function classSpelling(code: number): string {
  if ((code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return String.fromCharCode(code);
  return hexEscape(code);
}

/**
 * Checks `pattern` against RE2's syntax and gives the equivalent JavaScript source and flags (for V8's linear
 * engine: no `i` flag, repetitions spelled out). `captures` false spells every group as non-capturing, which is
 * all a full match needs. An error says why the pattern is not RE2 or has no JavaScript spelling.
 */
export function translateRe2(pattern: string, captures = true): Re2Translation {
  const t = new Translator(pattern, captures);
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

/**
 * Envoy's measure of a regex's cost, approximated: re2js's program size (RE2/J compiles one instruction per
 * character, class and operator, where C++ RE2 expands classes and `.` into UTF-8 byte ranges), less a
 * `^`-anchored literal prefix (RE2 matches it before running the program), plus the two instructions of the
 * unanchored-search loop RE2 adds to a pattern not anchored at its start.
 */
export function re2ProgramSize(pattern: string, re2: RE2JS): number {
  const size = re2.programSize();
  if (!pattern.startsWith('^')) return size + 2;
  return Math.max(1, size - literalPrefixOf(pattern).length);
}

/** The program-size limit a pattern is compiled under: Envoy's default, or RegexMatcher.google_re2.max_program_size. */
export interface Re2Limit {
  readonly maxProgramSize: number;
  /** Set by the (deprecated) google_re2.max_program_size field rather than the default error level. */
  readonly configured: boolean;
}

export const DEFAULT_RE2_LIMIT: Re2Limit = Object.freeze({ maxProgramSize: DEFAULT_MAX_PROGRAM_SIZE, configured: false });

/** What one pattern compiles to; a string is the config error. */
interface Checked {
  re2: RE2JS;
  programSize: number;
}

function check(pattern: string, limit: Re2Limit): Checked | string {
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(pattern);
  } catch (err) {
    // The translator's reasons name the construct (backreference, lookaround...); re2js's are RE2's own.
    const t = translateRe2(pattern);
    const reason = t.ok ? (err as Error).message.replace(/^error parsing regexp: /, '') : t.error;
    return `invalid RE2 regex: ${reason}`;
  }
  const programSize = re2ProgramSize(pattern, re2);
  if (programSize > limit.maxProgramSize) {
    return limit.configured
      ? `regex '${pattern}' RE2 program size of ${programSize} > max program size of ${limit.maxProgramSize}. Increase configured max program size if necessary.`
      : `regex '${pattern}' RE2 program size of ${programSize} > max program size of ${limit.maxProgramSize} set for the error level threshold (Envoy's re2.max_program_size.error_level). Simplify the regex or raise google_re2.max_program_size.`;
  }
  return { re2, programSize };
}

/**
 * A RegExp for `source` that is linear in the worst case: only for a pattern V8's linear engine can run (else null:
 * re2js runs it), and then without the `l` flag, so it starts on the backtracking engine and falls back to the
 * linear one on excessive backtracking (the flags set above).
 */
function linearRegExp(source: string, flags: string): RegExp | null {
  if (!LINEAR_ENGINE_AVAILABLE) return null;
  try {
    new RegExp(source, flags + 'l');
  } catch {
    return null; // "Cannot be executed in linear time": re2js runs it.
  }
  return new RegExp(source, flags);
}

/**
 * A compiled RE2 pattern for whole-value matching (RE2::FullMatch, Envoy's safe_regex match()). One class
 * whatever the engine, so the request path's call is monomorphic.
 */
export class Re2Regex {
  readonly pattern: string;
  readonly engine: string;
  readonly programSize: number;
  /** Capture groups in the pattern. */
  readonly groups: number;
  /** Literals every match starts and ends with (maybe ''): a string without them is refused before any engine runs. */
  readonly prefix: string;
  readonly suffix: string;
  private readonly linear: RegExp | null;
  private readonly re2: RE2JS | null;

  constructor(pattern: string, linear: RegExp | null, re2: RE2JS, programSize: number) {
    this.pattern = pattern;
    this.engine = linear !== null ? Re2Engine.V8_LINEAR : Re2Engine.RE2JS;
    this.programSize = programSize;
    this.groups = re2.groupCount();
    this.prefix = literalPrefixOf(pattern);
    this.suffix = literalSuffixOf(pattern);
    this.linear = linear;
    this.re2 = linear !== null ? null : re2;
    Object.freeze(this);
  }

  /** Request path: whether all of `s` matches. Linear in `s`. */
  fullMatch(s: string): boolean {
    // The linear engines cost about a microsecond even on a short miss; most misses differ in a literal.
    if (!s.startsWith(this.prefix) || !s.endsWith(this.suffix)) return false;
    const linear = this.linear;
    if (linear !== null) return linear.test(s);
    return this.re2!.matches(s);
  }
}

/**
 * Compiles `pattern` for whole-value matching; a string is the config error (syntax or program size). `engine`
 * 're2js' skips V8's engine (tests and benchmarks compare the two).
 */
export function compileRe2(pattern: string, limit: Re2Limit = DEFAULT_RE2_LIMIT, engine: 'auto' | 're2js' = 'auto'): Re2Regex | string {
  const c = check(pattern, limit);
  if (typeof c === 'string') return c;
  const t = engine === 'auto' ? translateRe2(pattern, false) : null;
  const linear = t !== null && t.ok ? linearRegExp(`^(?:${t.source})$`, t.flags) : null;
  return new Re2Regex(pattern, linear, c.re2, c.programSize);
}

/**
 * RE2's rewrite string (\0 the whole match, \1..\9 groups, \\ a backslash) as alternating literals and group
 * numbers: literals[k] comes before groups[k], and the last literal ends it. An error message when it refers to a
 * group the pattern lacks or has another escape.
 */
export function parseRe2Substitution(substitution: string, groups: number): { ok: true; literals: string[]; refs: number[] } | { ok: false; error: string } {
  const literals: string[] = [];
  const refs: number[] = [];
  let lit = '';
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    if (c !== '\\') {
      lit += c;
      continue;
    }
    const d = substitution[++i];
    if (d !== undefined && d >= '0' && d <= '9') {
      const n = d.charCodeAt(0) - 48;
      if (n > groups) {
        return { ok: false, error: `refers to group \\${n} but the pattern has ${groups} capture group${groups === 1 ? '' : 's'}` };
      }
      literals.push(lit);
      refs.push(n);
      lit = '';
    } else if (d === '\\') {
      lit += '\\';
    } else {
      return { ok: false, error: 'invalid rewrite: a backslash must be followed by a digit (\\1) or another backslash' };
    }
  }
  literals.push(lit);
  return { ok: true, literals, refs };
}

/** Length of the character at `i` (2 for a surrogate pair): RE2 steps over whole characters. */
function charLength(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/**
 * A compiled RegexMatchAndSubstitute: every match of the pattern replaced (RE2::GlobalReplace, Envoy's
 * replaceAll()). One class whatever the engine; workers are single-threaded, so the global RegExp's lastIndex
 * is this object's own scratch state.
 */
export class Re2Rewrite {
  readonly pattern: string;
  readonly engine: string;
  private readonly linear: RegExp | null;
  private readonly re2: RE2JS | null;
  private readonly literals: readonly string[];
  private readonly refs: readonly number[];

  constructor(pattern: string, linear: RegExp | null, re2: RE2JS, literals: string[], refs: number[]) {
    this.pattern = pattern;
    this.engine = linear !== null ? Re2Engine.V8_LINEAR : Re2Engine.RE2JS;
    this.linear = linear;
    this.re2 = linear !== null ? null : re2;
    this.literals = Object.freeze(literals);
    this.refs = Object.freeze(refs);
    Object.freeze(this);
  }

  /**
   * Request path: `s` with every match replaced, left to right, as RE2::GlobalReplace (an empty match right
   * where the previous match ended is skipped). Linear in `s` and the output.
   */
  replaceAll(s: string): string {
    const n = s.length;
    let out = '';
    let p = 0;
    let lastEnd = -1;
    let count = 0;
    const linear = this.linear;
    const matcher = linear === null ? this.re2!.matcher(s) : null;
    let m: RegExpExecArray | null = null;
    while (p <= n) {
      let start: number;
      let end: number;
      if (linear !== null) {
        linear.lastIndex = p;
        m = linear.exec(s);
        if (m === null) break;
        start = m.index;
        end = start + m[0].length;
      } else {
        if (!matcher!.find(p)) break;
        start = matcher!.start() as unknown as number;
        end = matcher!.end() as unknown as number;
      }
      if (start === end && start === lastEnd) {
        if (p >= n) break;
        const step = charLength(s, p);
        out += s.slice(p, p + step);
        p += step;
        continue;
      }
      out += s.slice(p, start);
      const literals = this.literals;
      const refs = this.refs;
      for (let k = 0; k < refs.length; k++) {
        out += literals[k]!;
        const g = m !== null ? m[refs[k]!] : matcher!.group(refs[k]!);
        if (g !== undefined && g !== null) out += g;
      }
      out += literals[refs.length]!;
      p = end;
      lastEnd = end;
      count++;
    }
    if (count === 0) return s;
    return p < n ? out + s.slice(p) : out;
  }
}

/**
 * Compiles a RegexMatchAndSubstitute; the error names which field is wrong. The substitution is checked against
 * the pattern's groups.
 */
export function compileRe2Rewrite(
  pattern: string, substitution: string, limit: Re2Limit = DEFAULT_RE2_LIMIT, engine: 'auto' | 're2js' = 'auto',
): Re2Rewrite | { field: 'pattern' | 'substitution'; error: string } {
  const c = check(pattern, limit);
  if (typeof c === 'string') return { field: 'pattern', error: c };
  const sub = parseRe2Substitution(substitution, c.re2.groupCount());
  if (!sub.ok) return { field: 'substitution', error: sub.error };
  const t = engine === 'auto' ? translateRe2(pattern, true) : null;
  const linear = t !== null && t.ok ? linearRegExp(t.source, t.flags + 'g') : null;
  return new Re2Rewrite(pattern, linear, c.re2, sub.literals, sub.refs);
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

/** A valid RE2 repetition operator at the start of the text. */
const REPETITION = /^\{\d+(?:,\d*)?\}/;

/**
 * A literal every full match of `pattern` ends with ('' when unknown): the plain characters (and escaped
 * punctuation) after the last operator, up to an optional final $. Like literalPrefixOf, '' for patterns with
 * alternation, inline flags or \Q...\E.
 */
export function literalSuffixOf(pattern: string): string {
  if (pattern.includes('|') || pattern.includes('(?') || pattern.includes('\\Q')) return '';
  let run = '';
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) return '';
      if (!/[A-Za-z0-9]/.test(d)) {
        run += d; // escaped punctuation is a literal
        i += 2;
        continue;
      }
      run = '';
      if (d === 'x' || d === 'p' || d === 'P') {
        if (pattern[i + 2] === '{') {
          const end = pattern.indexOf('}', i + 2);
          if (end === -1) return '';
          i = end + 1;
        } else {
          i += d === 'x' ? 4 : 3;
        }
      } else if (d >= '0' && d <= '7') {
        i += 2;
        for (let k = 0; k < 2 && i < n && pattern[i]! >= '0' && pattern[i]! <= '7'; k++) i++;
      } else {
        i += 2;
      }
    } else if (c === '[') {
      run = '';
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < n && pattern[i] !== ']') {
        if (pattern[i] === '\\') i += 2;
        else if (pattern[i] === '[' && pattern[i + 1] === ':') {
          const end = pattern.indexOf(':]', i + 2);
          if (end === -1) return '';
          i = end + 2;
        } else i++;
      }
      if (i >= n) return '';
      i++;
    } else if (c === '{') {
      const m = REPETITION.exec(pattern.slice(i));
      if (m === null) return ''; // RE2's literal brace: not worth the rules
      run = '';
      i += m[0].length;
    } else if (c === '$' && i === n - 1) {
      break;
    } else if (RE2_META.includes(c)) {
      run = '';
      i++;
    } else {
      run += c;
      i++;
    }
  }
  return run;
}
