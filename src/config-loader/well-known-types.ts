// Any thread (pure). The google.protobuf types whose proto3 JSON form is not an object of their fields, read from
// a SourceNode into the normalized form (see types.ts): Duration -> ms, Timestamp -> ISO string, wrappers -> the
// plain value, Struct/Value/ListValue -> plain JSON, FieldMask -> list of paths, Empty -> {}. Any is resolved by
// the schema walk, which needs the whole schema.

import { describeNode, type SourceNode } from './source-node.ts';
import { durationFromParts, readDuration, readProtoScalar, readTimestamp, ScalarResult } from './scalar-values.ts';
import { fieldPath, mapEntryPath, itemPath } from './position-index.ts';
import type { WellKnownKind } from './message-facts.ts';
import type { FieldPath, SourcePosition } from './types.ts';

/** Where a well-known value's inner positions go (Struct keys, list items). */
export type RecordPosition = (path: FieldPath, position: SourcePosition | undefined) => void;

export type WellKnownErrorCode = 'wrong_type' | 'bad_value' | 'unknown_field';

/** A failure reading a well-known value: the path below the value it concerns ('' for the value itself). */
export class WellKnownError {
  readonly subPath: string;
  /** Where the problem is: the offending key or value. */
  readonly position: SourcePosition | undefined;
  readonly message: string;
  readonly code: WellKnownErrorCode;
  constructor(subPath: string, position: SourcePosition | undefined, message: string, code: WellKnownErrorCode) {
    this.subPath = subPath;
    this.position = position;
    this.message = message;
    this.code = code;
  }
}

export type WellKnownResult = { ok: true; value: unknown } | { ok: false; error: WellKnownError };

function ok(value: unknown): WellKnownResult {
  return { ok: true, value };
}
function fail(node: SourceNode, message: string, code: WellKnownErrorCode, subPath = '', position = node.position): WellKnownResult {
  return { ok: false, error: new WellKnownError(subPath, position, message, code) };
}
function fromScalar(node: SourceNode, r: ScalarResult, subPath = ''): WellKnownResult {
  if (r.error === undefined) return ok(r.value);
  return fail(node, r.wrongType ? `${r.error}, got ${describeNode(node)}` : r.error, r.wrongType ? 'wrong_type' : 'bad_value', subPath);
}

/** "1.5s" or {seconds, nanos} -> milliseconds. */
export function readDurationNode(node: SourceNode): WellKnownResult {
  if (node.kind === 'map') {
    let seconds: unknown;
    let nanos: unknown;
    for (let i = 0; i < node.entries.length; i++) {
      const e = node.entries[i]!;
      if (e.value.kind !== 'scalar') return fail(e.value, `expected an integer, got ${describeNode(e.value)}`, 'wrong_type', e.key, e.keyPosition ?? e.value.position);
      if (e.key === 'seconds') seconds = e.value.scalar;
      else if (e.key === 'nanos') nanos = e.value.scalar;
      else return fail(node, `unknown field '${e.key}' in a duration (expected "1.5s" or {seconds, nanos})`, 'unknown_field', e.key, e.keyPosition);
    }
    return fromScalar(node, durationFromParts(seconds, nanos));
  }
  if (node.kind !== 'scalar') return fail(node, `expected a duration like "0.25s", "1.5s" or "3600s", got ${describeNode(node)}`, 'wrong_type');
  const r = readDuration(node.scalar);
  if (r.error !== undefined && typeof node.scalar === 'number') {
    return fail(node, `expected a duration like "${node.scalar}s" (a string ending in s), got ${describeNode(node)}`, 'wrong_type');
  }
  return fromScalar(node, r);
}

export function readTimestampNode(node: SourceNode): WellKnownResult {
  if (node.kind !== 'scalar') return fail(node, `expected an RFC 3339 timestamp like "2024-01-01T00:00:00Z", got ${describeNode(node)}`, 'wrong_type');
  return fromScalar(node, readTimestamp(node.scalar));
}

/** A wrapper (UInt32Value, BoolValue, ...) as its plain value, or as {value: x}. `valueType` is its scalar type. */
export function readWrapperNode(node: SourceNode, valueType: string): WellKnownResult {
  let inner = node;
  let subPath = '';
  let position = node.position;
  if (node.kind === 'map') {
    if (node.entries.length !== 1 || node.entries[0]!.key !== 'value') {
      const bad = node.entries.find((e) => e.key !== 'value');
      const badPosition = bad === undefined ? node.position : bad.keyPosition;
      return fail(node, bad === undefined
        ? 'a wrapper given as an object needs its value: {value: ...}'
        : `unknown field '${bad.key}' in a wrapper (give the plain value, or {value: ...})`,
        bad === undefined ? 'wrong_type' : 'unknown_field', bad?.key ?? '', badPosition);
    }
    inner = node.entries[0]!.value;
    subPath = 'value';
    position = node.entries[0]!.keyPosition ?? inner.position;
  }
  if (inner.kind !== 'scalar' || inner.scalar === null) {
    return fail(inner, `expected a plain ${valueType} value, got ${describeNode(inner)}`, 'wrong_type', subPath, position);
  }
  const r = readProtoScalar(inner.scalar, inner.plain, valueType);
  if (r.error === undefined) return ok(r.value);
  return fail(inner, r.wrongType ? `${r.error}, got ${describeNode(inner)}` : r.error, r.wrongType ? 'wrong_type' : 'bad_value', subPath, position);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Any value as plain JSON (Struct, Value, ListValue), recording where each key and item was written. */
export function plainJson(node: SourceNode, path: FieldPath, record: RecordPosition): unknown {
  if (node.kind === 'scalar') return node.scalar;
  if (node.kind === 'seq') {
    const out: unknown[] = [];
    for (let i = 0; i < node.items.length; i++) {
      const item = node.items[i]!;
      const p = itemPath(path, i);
      record(p, item.position);
      out.push(plainJson(item, p, record));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < node.entries.length; i++) {
    const e = node.entries[i]!;
    const p = IDENTIFIER.test(e.key) ? fieldPath(path, e.key) : mapEntryPath(path, e.key);
    record(p, e.keyPosition ?? e.value.position);
    out[e.key] = plainJson(e.value, p, record);
  }
  return out;
}

export function readStructNode(node: SourceNode, path: FieldPath, record: RecordPosition): WellKnownResult {
  if (node.kind !== 'map') return fail(node, `expected an object (google.protobuf.Struct), got ${describeNode(node)}`, 'wrong_type');
  return ok(plainJson(node, path, record));
}

export function readListValueNode(node: SourceNode, path: FieldPath, record: RecordPosition): WellKnownResult {
  if (node.kind !== 'seq') return fail(node, `expected a list (google.protobuf.ListValue), got ${describeNode(node)}`, 'wrong_type');
  return ok(plainJson(node, path, record));
}

/** "a.b,c" (proto3 JSON) or {paths: [...]} -> list of paths. */
export function readFieldMaskNode(node: SourceNode): WellKnownResult {
  if (node.kind === 'scalar' && typeof node.scalar === 'string') {
    return ok(node.scalar === '' ? [] : node.scalar.split(',').map((s) => s.trim()));
  }
  if (node.kind === 'map' && node.entries.length === 1 && node.entries[0]!.key === 'paths') {
    const v = node.entries[0]!.value;
    if (v.kind === 'seq') {
      const out: string[] = [];
      for (let i = 0; i < v.items.length; i++) {
        const item = v.items[i]!;
        if (item.kind !== 'scalar' || typeof item.scalar !== 'string') {
          return fail(item, `expected a string, got ${describeNode(item)}`, 'wrong_type', `paths[${i}]`);
        }
        out.push(item.scalar);
      }
      return ok(out);
    }
  }
  return fail(node, `expected a field mask like "a.b,c" or {paths: [...]}, got ${describeNode(node)}`, 'wrong_type');
}

export function readEmptyNode(node: SourceNode): WellKnownResult {
  if (node.kind !== 'map') return fail(node, `expected an empty object {}, got ${describeNode(node)}`, 'wrong_type');
  if (node.entries.length > 0) {
    const e = node.entries[0]!;
    return fail(e.value, `unknown field '${e.key}': google.protobuf.Empty has no fields`, 'unknown_field', e.key, e.keyPosition);
  }
  return ok({});
}

/**
 * Any well-known value but Any itself. `wrapperValueType` is the scalar type of a wrapper's `value` field;
 * `path` and `record` place Struct keys and list items.
 */
export function readWellKnownNode(
  kind: Exclude<WellKnownKind, 'any'>,
  node: SourceNode,
  wrapperValueType: string,
  path: FieldPath,
  record: RecordPosition,
): WellKnownResult {
  switch (kind) {
    case 'duration':
      return readDurationNode(node);
    case 'timestamp':
      return readTimestampNode(node);
    case 'wrapper':
      return readWrapperNode(node, wrapperValueType);
    case 'struct':
      return readStructNode(node, path, record);
    case 'list_value':
      return readListValueNode(node, path, record);
    case 'value':
      return ok(plainJson(node, path, record));
    case 'field_mask':
      return readFieldMaskNode(node);
    case 'empty':
      return readEmptyNode(node);
  }
}
