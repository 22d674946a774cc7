// Any thread (pure). The protoc-gen-validate rules Envoy's protos declare that matter most, read from protobufjs
// field options once per field: required messages, string/list lengths, numeric and duration bounds.

import type { Field } from 'protobufjs';

export class NumberBounds {
  gt: number | undefined = undefined;
  gte: number | undefined = undefined;
  lt: number | undefined = undefined;
  lte: number | undefined = undefined;
}

export class FieldRules {
  required = false;
  minLen: number | undefined = undefined;
  maxLen: number | undefined = undefined;
  minBytes: number | undefined = undefined;
  maxBytes: number | undefined = undefined;
  minItems: number | undefined = undefined;
  maxItems: number | undefined = undefined;
  minPairs: number | undefined = undefined;
  /** Bounds on the number (for numbers and wrappers) or on the duration in milliseconds. */
  bounds: NumberBounds | undefined = undefined;
}

const NUMERIC_RULE_KINDS = [
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64',
];

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function asNum(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
/** A PGV duration bound ({seconds, nanos}, either may be absent: `gt: {}` is "> 0") in milliseconds. */
function durationBoundMs(v: unknown): number | undefined {
  const o = asObj(v);
  if (o === undefined) return undefined;
  return (asNum(o['seconds']) ?? 0) * 1000 + (asNum(o['nanos']) ?? 0) / 1e6;
}

function mergeInto(target: Obj, src: Obj): void {
  for (const k of Object.keys(src)) {
    const a = asObj(target[k]);
    const b = asObj(src[k]);
    if (a !== undefined && b !== undefined) mergeInto(a, b);
    else target[k] = src[k];
  }
}

const cache = new WeakMap<Field, FieldRules | null>();

/** The rules on `field`, or null when it has none that Legate checks. */
export function rulesOf(field: Field): FieldRules | null {
  const cached = cache.get(field);
  if (cached !== undefined) return cached;
  const rules = readRules(field);
  cache.set(field, rules);
  return rules;
}

function readRules(field: Field): FieldRules | null {
  const parsed = field.parsedOptions as unknown;
  if (!Array.isArray(parsed)) return null;
  const all: Obj = {};
  for (let i = 0; i < parsed.length; i++) {
    const o = asObj(parsed[i]);
    const r = o === undefined ? undefined : asObj(o['(validate.rules)']);
    if (r !== undefined) mergeInto(all, r);
  }
  if (Object.keys(all).length === 0) return null;
  const rules = new FieldRules();
  let any = false;
  const message = asObj(all['message']);
  const anyRules = asObj(all['any']);
  const duration = asObj(all['duration']);
  if (message?.['required'] === true || anyRules?.['required'] === true || duration?.['required'] === true) {
    rules.required = true;
    any = true;
  }
  const str = asObj(all['string']) ?? asObj(all['bytes']);
  if (str !== undefined) {
    rules.minLen = asNum(str['min_len']);
    rules.maxLen = asNum(str['max_len']);
    rules.minBytes = asNum(str['min_bytes']);
    rules.maxBytes = asNum(str['max_bytes']);
    any ||= rules.minLen !== undefined || rules.maxLen !== undefined || rules.minBytes !== undefined || rules.maxBytes !== undefined;
  }
  const rep = asObj(all['repeated']);
  if (rep !== undefined) {
    rules.minItems = asNum(rep['min_items']);
    rules.maxItems = asNum(rep['max_items']);
    any ||= rules.minItems !== undefined || rules.maxItems !== undefined;
  }
  const map = asObj(all['map']);
  if (map !== undefined) {
    rules.minPairs = asNum(map['min_pairs']);
    any ||= rules.minPairs !== undefined;
  }
  for (let k = 0; k < NUMERIC_RULE_KINDS.length; k++) {
    const n = asObj(all[NUMERIC_RULE_KINDS[k]!]);
    if (n === undefined) continue;
    const b = new NumberBounds();
    b.gt = asNum(n['gt']);
    b.gte = asNum(n['gte']);
    b.lt = asNum(n['lt']);
    b.lte = asNum(n['lte']);
    if (b.gt !== undefined || b.gte !== undefined || b.lt !== undefined || b.lte !== undefined) {
      rules.bounds = b;
      any = true;
    }
  }
  if (duration !== undefined) {
    const b = new NumberBounds();
    b.gt = durationBoundMs(duration['gt']);
    b.gte = durationBoundMs(duration['gte']);
    b.lt = durationBoundMs(duration['lt']);
    b.lte = durationBoundMs(duration['lte']);
    if (b.gt !== undefined || b.gte !== undefined || b.lt !== undefined || b.lte !== undefined) {
      rules.bounds = b;
      any = true;
    }
  }
  return any ? rules : null;
}

/** Why `value` breaks `b`, or undefined when it does not. `unit` is appended to bounds in the message. */
export function boundsViolation(value: number, b: NumberBounds, unit: string): string | undefined {
  if (b.gt !== undefined && !(value > b.gt)) return `must be greater than ${b.gt}${unit}`;
  if (b.gte !== undefined && !(value >= b.gte)) return `must be at least ${b.gte}${unit}`;
  if (b.lt !== undefined && !(value < b.lt)) return `must be less than ${b.lt}${unit}`;
  if (b.lte !== undefined && !(value <= b.lte)) return `must be at most ${b.lte}${unit}`;
  return undefined;
}
