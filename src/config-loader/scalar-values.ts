// Any thread (pure). Proto3 JSON scalar forms as Envoy accepts them: integers (also as strings), floats,
// durations ("1.5s" or {seconds, nanos}), timestamps (RFC 3339).

export type IntKind = 'int32' | 'uint32' | 'int64' | 'uint64';

const INT_RANGES: Record<IntKind, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

export function intKindOf(protoType: string): IntKind | undefined {
  switch (protoType) {
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return 'int32';
    case 'uint32':
    case 'fixed32':
      return 'uint32';
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return 'int64';
    case 'uint64':
    case 'fixed64':
      return 'uint64';
    default:
      return undefined;
  }
}

/** Result of reading a scalar: the value, or why it is not acceptable. */
export class ScalarResult {
  readonly value: unknown;
  readonly error: string | undefined;
  /** The value has the wrong JSON type (wrong_type) rather than a bad value of the right type (bad_value). */
  readonly wrongType: boolean;
  constructor(value: unknown, error: string | undefined, wrongType: boolean) {
    this.value = value;
    this.error = error;
    this.wrongType = wrongType;
  }
  static ok(value: unknown): ScalarResult {
    return new ScalarResult(value, undefined, false);
  }
  static badType(error: string): ScalarResult {
    return new ScalarResult(undefined, error, true);
  }
  static badValue(error: string): ScalarResult {
    return new ScalarResult(undefined, error, false);
  }
}

/** An integer as a number or a decimal string (proto3 JSON allows both), range-checked for `kind`. */
export function readInteger(raw: unknown, kind: IntKind): ScalarResult {
  let big: bigint;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return ScalarResult.badValue(`expected an integer (${kind}), got ${raw}`);
    big = BigInt(raw);
  } else if (typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) {
    big = BigInt(raw.trim());
  } else {
    return ScalarResult.badType(`expected an integer (${kind})`);
  }
  const [min, max] = INT_RANGES[kind];
  if (big < min || big > max) return ScalarResult.badValue(`${String(raw)} is out of range for ${kind} (${min} to ${max})`);
  return ScalarResult.ok(Number(big));
}

/** A float/double: a number, a numeric string, or "NaN" / "Infinity" / "-Infinity". */
export function readFloat(raw: unknown): ScalarResult {
  if (typeof raw === 'number') return ScalarResult.ok(raw);
  if (typeof raw === 'string') {
    const s = raw.trim();
    if (s === 'NaN') return ScalarResult.ok(Number.NaN);
    if (s === 'Infinity') return ScalarResult.ok(Number.POSITIVE_INFINITY);
    if (s === '-Infinity') return ScalarResult.ok(Number.NEGATIVE_INFINITY);
    if (s !== '' && Number.isFinite(Number(s))) return ScalarResult.ok(Number(s));
  }
  return ScalarResult.badType('expected a number');
}

/** google.protobuf.Duration's limit: +-10,000 years. */
const MAX_DURATION_SECONDS = 315_576_000_000;
const DURATION_PATTERN = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** "0.25s", "1.5s", "3600s", or {seconds, nanos}; result is milliseconds (float). */
export function readDuration(raw: unknown): ScalarResult {
  if (typeof raw === 'string') {
    const m = DURATION_PATTERN.exec(raw.trim());
    if (m === null) return ScalarResult.badValue(`expected a duration like "0.25s", "1.5s" or "3600s", got ${JSON.stringify(raw)}`);
    const seconds = Number(m[2]);
    if (seconds > MAX_DURATION_SECONDS) return ScalarResult.badValue(`duration ${raw} is out of range (at most ${MAX_DURATION_SECONDS}s)`);
    const nanos = m[3] === undefined ? 0 : Number(m[3].padEnd(9, '0'));
    const ms = seconds * 1000 + nanos / 1e6;
    return ScalarResult.ok(m[1] === '-' ? -ms : ms);
  }
  return ScalarResult.badType(`expected a duration like "0.25s", "1.5s" or "3600s"`);
}

/** Duration given as an object: seconds (integer, may be a string) and nanos (within +-999,999,999, same sign). */
export function durationFromParts(secondsRaw: unknown, nanosRaw: unknown): ScalarResult {
  const s = secondsRaw === undefined ? ScalarResult.ok(0) : readInteger(secondsRaw, 'int64');
  if (s.error !== undefined) return ScalarResult.badValue(`duration seconds: ${s.error}`);
  const n = nanosRaw === undefined ? ScalarResult.ok(0) : readInteger(nanosRaw, 'int32');
  if (n.error !== undefined) return ScalarResult.badValue(`duration nanos: ${n.error}`);
  const seconds = s.value as number;
  const nanos = n.value as number;
  if (Math.abs(seconds) > MAX_DURATION_SECONDS) return ScalarResult.badValue(`duration seconds ${seconds} is out of range`);
  if (Math.abs(nanos) > 999_999_999) return ScalarResult.badValue(`duration nanos ${nanos} is out of range (at most 999999999)`);
  if ((seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) return ScalarResult.badValue('duration seconds and nanos must have the same sign');
  return ScalarResult.ok(seconds * 1000 + nanos / 1e6);
}

const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 timestamp -> ISO string (UTC). */
export function readTimestamp(raw: unknown): ScalarResult {
  if (typeof raw !== 'string') return ScalarResult.badType('expected an RFC 3339 timestamp like "2024-01-01T00:00:00Z"');
  if (!TIMESTAMP_PATTERN.test(raw)) return ScalarResult.badValue(`expected an RFC 3339 timestamp like "2024-01-01T00:00:00Z", got ${JSON.stringify(raw)}`);
  const d = new Date(raw);
  if (Number.isNaN(d.getTime())) return ScalarResult.badValue(`not a valid timestamp: ${JSON.stringify(raw)}`);
  return ScalarResult.ok(d.toISOString());
}

const BASE64_PATTERN = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** bytes: base64 (standard or URL-safe), kept as given. */
export function readBytes(raw: unknown): ScalarResult {
  if (typeof raw !== 'string') return ScalarResult.badType('expected a base64 string');
  if (!BASE64_PATTERN.test(raw.replace(/\s/g, ''))) return ScalarResult.badValue('expected base64 data');
  return ScalarResult.ok(raw);
}

/** Plain (unquoted) YAML words Envoy's YAML reader (yaml-cpp) takes as booleans besides true/false. */
const PLAIN_BOOL_WORDS: Readonly<Record<string, boolean>> = {
  y: true, Y: true, yes: true, Yes: true, YES: true, on: true, On: true, ON: true,
  n: false, N: false, no: false, No: false, NO: false, off: false, Off: false, OFF: false,
};

/**
 * One proto scalar (`string`, `bool`, `bytes`, the int and float types) from a parsed value. `plain` is whether
 * YAML gave it without quotes: Envoy types such scalars (true, 123) before the proto3 JSON parser sees them, so a
 * quoted "true" is a string and `name: 123` is a number, both the wrong type, as in Envoy.
 */
export function readProtoScalar(raw: string | number | boolean | null, plain: boolean, protoType: string): ScalarResult {
  switch (protoType) {
    case 'string':
      if (typeof raw === 'string') return ScalarResult.ok(raw);
      return ScalarResult.badType(`expected a string${plain && raw !== null ? ' (quote it to make it one)' : ''}`);
    case 'bool':
      if (typeof raw === 'boolean') return ScalarResult.ok(raw);
      if (plain && typeof raw === 'string' && Object.prototype.hasOwnProperty.call(PLAIN_BOOL_WORDS, raw)) {
        return ScalarResult.ok(PLAIN_BOOL_WORDS[raw]);
      }
      return ScalarResult.badType('expected true or false');
    case 'bytes':
      return readBytes(raw);
    case 'double':
    case 'float':
      if (typeof raw === 'boolean') return ScalarResult.badType('expected a number');
      return readFloat(raw);
    default: {
      const kind = intKindOf(protoType);
      if (kind === undefined) return ScalarResult.badType(`unsupported scalar type ${protoType}`);
      if (typeof raw === 'boolean') return ScalarResult.badType(`expected an integer (${kind})`);
      return readInteger(raw, kind);
    }
  }
}
