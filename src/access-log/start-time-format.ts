// Any thread (pure). %START_TIME% rendering: Envoy's default (ISO-8601, UTC, milliseconds) and its
// strftime-like custom formats (%START_TIME(%Y/%m/%d %s.%3f)%), always in UTC as Envoy does. A format is compiled
// once into pieces; the pieces that only change once a second are cached, so a log line costs one compare and
// a few concatenations.

import { FormatError } from './format-error.ts';

const P_LITERAL = 0;
const P_YEAR = 1; // %Y
const P_MONTH = 2; // %m
const P_DAY = 3; // %d
const P_HOUR = 4; // %H
const P_MINUTE = 5; // %M
const P_SECOND = 6; // %S
const P_YEAR2 = 7; // %y
const P_DAY_OF_YEAR = 8; // %j
const P_DAY_SPACE = 9; // %e
const P_WEEKDAY_SHORT = 10; // %a
const P_WEEKDAY_LONG = 11; // %A
const P_MONTH_SHORT = 12; // %b %h
const P_MONTH_LONG = 13; // %B
const P_HOUR12 = 14; // %I
const P_AM_PM = 15; // %p
const P_TZ_OFFSET = 16; // %z
const P_TZ_NAME = 17; // %Z
const P_CENTURY = 18; // %C
const P_WEEKDAY_MON1 = 19; // %u
const P_WEEKDAY_SUN0 = 20; // %w
const P_EPOCH_SECONDS = 21; // %s
const P_FRACTION = 22; // %f, %1f .. %9f (sub-second: not cacheable)

const WEEKDAYS_SHORT = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS_SHORT = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = [
  'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November',
  'December',
];

/** "000".."999": the millisecond part of the default format without a padStart per line. */
const THREE_DIGITS: readonly string[] = Object.freeze(Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')));

/** Composite specifiers, expanded at compile time (C locale, as Envoy's strftime runs). */
const COMPOSITES: Readonly<Record<string, string>> = Object.freeze({
  D: '%m/%d/%y',
  F: '%Y-%m-%d',
  T: '%H:%M:%S',
  R: '%H:%M',
  r: '%I:%M:%S %p',
  c: '%a %b %e %H:%M:%S %Y',
  x: '%m/%d/%y',
  X: '%H:%M:%S',
});

const SIMPLE: Readonly<Record<string, number>> = Object.freeze({
  Y: P_YEAR, m: P_MONTH, d: P_DAY, H: P_HOUR, M: P_MINUTE, S: P_SECOND, y: P_YEAR2, j: P_DAY_OF_YEAR,
  e: P_DAY_SPACE, a: P_WEEKDAY_SHORT, A: P_WEEKDAY_LONG, b: P_MONTH_SHORT, h: P_MONTH_SHORT, B: P_MONTH_LONG,
  I: P_HOUR12, p: P_AM_PM, z: P_TZ_OFFSET, Z: P_TZ_NAME, C: P_CENTURY, u: P_WEEKDAY_MON1, w: P_WEEKDAY_SUN0,
  s: P_EPOCH_SECONDS,
});

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

/** A compiled START_TIME format. Mutable only in its once-a-second cache (one instance per formatter). */
export class StartTimeFormat {
  /** True for Envoy's default format (no argument): YYYY-MM-DDTHH:MM:SS.mmmZ. */
  private readonly iso: boolean;
  private readonly kinds: number[];
  /** Literal text for P_LITERAL pieces; '' otherwise. */
  private readonly literals: string[];
  /** Digits for P_FRACTION pieces; 0 otherwise. */
  private readonly digits: number[];
  private readonly hasFraction: boolean;
  private cachedSecond: number;
  /** Default format: "YYYY-MM-DDTHH:MM:SS." of cachedSecond. */
  private cachedPrefix: string;
  /** Custom format: each piece rendered for cachedSecond ('' for fraction pieces). */
  private readonly cachedParts: string[];
  /** Custom format without fraction pieces: the whole rendering of cachedSecond. */
  private cachedWhole: string;

  constructor(spec: string) {
    this.iso = spec === '';
    this.kinds = [];
    this.literals = [];
    this.digits = [];
    this.cachedSecond = Number.NaN;
    this.cachedPrefix = '';
    this.cachedWhole = '';
    if (!this.iso) compileSpec(spec, this.kinds, this.literals, this.digits, 0);
    this.hasFraction = this.kinds.includes(P_FRACTION);
    this.cachedParts = this.kinds.map(() => '');
  }

  format(epochMs: number): string {
    const second = Math.floor(epochMs / 1000);
    const millis = Math.floor(epochMs - second * 1000);
    if (this.iso) {
      if (second !== this.cachedSecond) {
        this.cachedSecond = second;
        this.cachedPrefix = new Date(second * 1000).toISOString().slice(0, -4);
      }
      return this.cachedPrefix + THREE_DIGITS[millis]! + 'Z';
    }
    if (second !== this.cachedSecond) this.renderSecond(second);
    if (!this.hasFraction) return this.cachedWhole;
    let out = '';
    const kinds = this.kinds;
    for (let i = 0; i < kinds.length; i++) {
      out += kinds[i] === P_FRACTION ? fraction(millis, this.digits[i]!) : this.cachedParts[i]!;
    }
    return out;
  }

  private renderSecond(second: number): void {
    this.cachedSecond = second;
    const date = new Date(second * 1000);
    let whole = '';
    for (let i = 0; i < this.kinds.length; i++) {
      const part = renderPiece(this.kinds[i]!, this.literals[i]!, date, second);
      this.cachedParts[i] = part;
      whole += part;
    }
    this.cachedWhole = whole;
  }
}

/** Fractional seconds with `digits` digits (Envoy's %f is nanoseconds; start times here have ms precision). */
function fraction(millis: number, digits: number): string {
  const nanos = THREE_DIGITS[millis]! + '000000';
  return nanos.slice(0, digits);
}

function renderPiece(kind: number, literal: string, d: Date, second: number): string {
  switch (kind) {
    case P_LITERAL: return literal;
    case P_YEAR: return '' + d.getUTCFullYear();
    case P_MONTH: return pad2(d.getUTCMonth() + 1);
    case P_DAY: return pad2(d.getUTCDate());
    case P_HOUR: return pad2(d.getUTCHours());
    case P_MINUTE: return pad2(d.getUTCMinutes());
    case P_SECOND: return pad2(d.getUTCSeconds());
    case P_YEAR2: return pad2(d.getUTCFullYear() % 100);
    case P_DAY_OF_YEAR: {
      const day = Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
      return String(day).padStart(3, '0');
    }
    case P_DAY_SPACE: return String(d.getUTCDate()).padStart(2, ' ');
    case P_WEEKDAY_SHORT: return WEEKDAYS_SHORT[d.getUTCDay()]!;
    case P_WEEKDAY_LONG: return WEEKDAYS_LONG[d.getUTCDay()]!;
    case P_MONTH_SHORT: return MONTHS_SHORT[d.getUTCMonth()]!;
    case P_MONTH_LONG: return MONTHS_LONG[d.getUTCMonth()]!;
    case P_HOUR12: return pad2(d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12);
    case P_AM_PM: return d.getUTCHours() < 12 ? 'AM' : 'PM';
    case P_TZ_OFFSET: return '+0000';
    case P_TZ_NAME: return 'GMT';
    case P_CENTURY: return pad2(Math.floor(d.getUTCFullYear() / 100));
    case P_WEEKDAY_MON1: return '' + (d.getUTCDay() === 0 ? 7 : d.getUTCDay());
    case P_WEEKDAY_SUN0: return '' + d.getUTCDay();
    case P_EPOCH_SECONDS: return '' + second;
    default: return '';
  }
}

function pushLiteral(kinds: number[], literals: string[], digits: number[], text: string): void {
  const last = kinds.length - 1;
  if (last >= 0 && kinds[last] === P_LITERAL) {
    literals[last] += text;
    return;
  }
  kinds.push(P_LITERAL);
  literals.push(text);
  digits.push(0);
}

function compileSpec(spec: string, kinds: number[], literals: string[], digits: number[], depth: number): void {
  if (spec.includes('\n')) {
    throw new FormatError('bad_syntax', 'START_TIME', 'START_TIME format must not contain a newline');
  }
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i]!;
    if (ch !== '%') {
      pushLiteral(kinds, literals, digits, ch);
      continue;
    }
    const next = spec[i + 1];
    if (next === undefined) {
      throw new FormatError('bad_syntax', 'START_TIME', `START_TIME format '${spec}' ends with a lone '%'`);
    }
    i++;
    if (next === '%') {
      pushLiteral(kinds, literals, digits, '%');
    } else if (next === 't') {
      pushLiteral(kinds, literals, digits, '\t');
    } else if (next === 'n') {
      throw new FormatError('bad_syntax', 'START_TIME', 'START_TIME format must not contain a newline (%n)');
    } else if (next === 'f') {
      kinds.push(P_FRACTION);
      literals.push('');
      digits.push(9);
    } else if (next >= '1' && next <= '9' && spec[i + 1] === 'f') {
      kinds.push(P_FRACTION);
      literals.push('');
      digits.push(next.charCodeAt(0) - 48);
      i++;
    } else if (COMPOSITES[next] !== undefined && depth === 0) {
      compileSpec(COMPOSITES[next], kinds, literals, digits, 1);
    } else if (SIMPLE[next] !== undefined) {
      kinds.push(SIMPLE[next]);
      literals.push('');
      digits.push(0);
    } else {
      throw new FormatError('operator_not_supported', 'START_TIME', `START_TIME format specifier '%${next}' is not supported yet`);
    }
  }
}
