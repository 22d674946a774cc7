// Any thread (pure; config time only). Reading the normalized route config (see src/config-loader/types.ts) and
// recording problems: the small helpers every route compiler shares, so each rule lives in one place.

export type Obj = Record<string, unknown>;

/** One config problem the schema cannot see; `path` is an Envoy field path. */
export interface RouteConfigProblem {
  path: string;
  message: string;
}

export function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}
export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function str(v: unknown, dflt: string): string {
  return typeof v === 'string' ? v : dflt;
}
export function num(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}
export function bool(v: unknown, dflt: boolean): boolean {
  return typeof v === 'boolean' ? v : dflt;
}

/** Envoy's well_known_regex HTTP_HEADER_NAME (strict: false). */
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
/** Envoy's well_known_regex HTTP_HEADER_VALUE (strict: false): no NUL, LF or CR. */
const HEADER_VALUE = /^[^\0\n\r]*$/;

export function isHeaderName(s: string): boolean {
  return HEADER_NAME.test(s);
}
export function isHeaderValue(s: string): boolean {
  return HEADER_VALUE.test(s);
}

/** Adds a problem when `value` is not a valid header name; true when it is. */
export function checkHeaderName(value: string, path: string, problems: RouteConfigProblem[]): boolean {
  if (isHeaderName(value)) return true;
  problems.push({ path, message: `'${value}' is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_|~\` only)` });
  return false;
}

/** Adds a problem when `value` holds NUL, CR or LF (Envoy's HTTP_HEADER_VALUE rule). */
export function checkHeaderValue(value: string, path: string, problems: RouteConfigProblem[]): void {
  if (!isHeaderValue(value)) problems.push({ path, message: 'must not contain NUL, CR or LF characters' });
}

/**
 * The members of a oneof that are set, in `members` order. Reports more than one (and none, when `required`)
 * at `path`, naming the members so the message says what to do.
 */
export function oneofSet(o: Obj, members: readonly string[], path: string, required: boolean, problems: RouteConfigProblem[]): string | null {
  let found: string | null = null;
  let count = 0;
  for (let i = 0; i < members.length; i++) {
    if (o[members[i]!] !== undefined) {
      if (found === null) found = members[i]!;
      count++;
    }
  }
  if (count > 1) problems.push({ path, message: `only one of ${members.join(', ')} may be set` });
  else if (count === 0 && required) problems.push({ path, message: `one of ${members.join(', ')} is required` });
  return found;
}

/** A non-negative duration in whole milliseconds (Envoy truncates Durations to ms), or `dflt` when absent. */
export function durationMs(o: Obj, field: string, dflt: number, path: string, problems: RouteConfigProblem[]): number {
  const v = o[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    problems.push({ path: `${path}.${field}`, message: 'must be a non-negative duration' });
    return dflt;
  }
  return Math.trunc(v);
}
