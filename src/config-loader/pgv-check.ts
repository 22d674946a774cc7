// Any thread (pure). The PGV rules of pgv-rules.ts applied to values: what a present value breaks, what an absent
// field breaks, and how many items a list or map needs. Each returns the message, or undefined when it holds.

import type { FieldFacts } from './message-facts.ts';
import { boundsViolation, type FieldRules } from './pgv-rules.ts';

/** A present string (its length in characters, or in bytes for base64 `bytes`) or number against `rules`. */
export function valueViolation(value: unknown, rules: FieldRules, isBytes: boolean, unit: string): string | undefined {
  if (typeof value === 'string') {
    const chars = isBytes ? Buffer.from(value, 'base64').length : countCodePoints(value);
    const unitName = isBytes ? 'byte' : 'character';
    if (rules.minLen !== undefined && chars < rules.minLen) {
      return `must be at least ${plural(rules.minLen, unitName, `${unitName}s`)} long, got ${JSON.stringify(value)}`;
    }
    if (rules.maxLen !== undefined && chars > rules.maxLen) {
      return `must be at most ${plural(rules.maxLen, unitName, `${unitName}s`)} long, got ${chars}`;
    }
    const bytes = isBytes ? chars : Buffer.byteLength(value, 'utf8');
    if (rules.minBytes !== undefined && bytes < rules.minBytes) {
      return `must be at least ${plural(rules.minBytes, 'byte', 'bytes')} long, got ${JSON.stringify(value)}`;
    }
    if (rules.maxBytes !== undefined && bytes > rules.maxBytes) {
      return `must be at most ${plural(rules.maxBytes, 'byte', 'bytes')} long, got ${bytes}`;
    }
    return undefined;
  }
  if (typeof value === 'number' && rules.bounds !== undefined) {
    const why = boundsViolation(value, rules.bounds, unit);
    if (why !== undefined) return `${why}, got ${value}${unit}`;
  }
  return undefined;
}

/** A list of `count` items (or a map of `count` entries) against min/max items (min pairs). */
export function countViolation(count: number, rules: FieldRules, isMap: boolean): string | undefined {
  if (isMap) {
    if (rules.minPairs !== undefined && count < rules.minPairs) return `must have at least ${plural(rules.minPairs, 'entry', 'entries')}, got ${count}`;
    return undefined;
  }
  if (rules.minItems !== undefined && count < rules.minItems) return `must have at least ${plural(rules.minItems, 'item', 'items')}, got ${count}`;
  if (rules.maxItems !== undefined && count > rules.maxItems) return `must have at most ${plural(rules.maxItems, 'item', 'items')}, got ${count}`;
  return undefined;
}

/**
 * What leaving field `f` out breaks, as PGV sees it (an absent proto3 scalar is its default): a required message,
 * a non-empty string, a non-empty list or map, bounds that exclude 0. Oneof members are only checked when set.
 */
export function absentViolation(f: FieldFacts): string | undefined {
  const rules = f.rules;
  if (rules === null || f.oneof !== undefined) return undefined;
  if (rules.required) return `'${f.name}' is required`;
  if (f.repeated) {
    return (rules.minItems ?? 0) > 0 ? `'${f.name}' is required: it needs at least ${plural(rules.minItems!, 'item', 'items')}` : undefined;
  }
  if (f.isMap) {
    return (rules.minPairs ?? 0) > 0 ? `'${f.name}' is required: it needs at least ${plural(rules.minPairs!, 'entry', 'entries')}` : undefined;
  }
  if (f.valueKind !== 'scalar' || f.hasPresence) return undefined;
  if ((rules.minLen ?? 0) > 0 || (rules.minBytes ?? 0) > 0) {
    return `'${f.name}' is required (a non-empty ${f.scalarType === 'bytes' ? 'value' : 'string'})`;
  }
  if (rules.bounds !== undefined && f.scalarType !== 'string' && f.scalarType !== 'bytes' && f.scalarType !== 'bool') {
    const why = boundsViolation(0, rules.bounds, '');
    if (why !== undefined) return `'${f.name}' is required: it ${why}`;
  }
  return undefined;
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function countCodePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}
