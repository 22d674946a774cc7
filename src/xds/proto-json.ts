// Primary thread (pure). Between protobuf messages on the xDS wire and the JSON the config loader reads:
// a decoded message -> proto3 JSON (Any -> {'@type', ...}, Duration -> "1.5s", wrappers -> their value, Struct ->
// plain JSON, enums -> names, 64-bit integers -> numbers, bytes -> base64), and plain JSON -> Struct for the node's
// metadata. The schema walk then checks and normalizes the JSON exactly as it does a file.

import protobuf from 'protobufjs';
import type { Type, Field } from 'protobufjs';
import { protoSchema } from '../config-loader/proto-schema.ts';

type Obj = Record<string, unknown>;

const hasOwn = Object.prototype.hasOwnProperty;
const WRAPPERS = new Set([
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value', 'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value', 'google.protobuf.UInt32Value', 'google.protobuf.BoolValue', 'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);
const MAX_DEPTH = 100;

function fullNameOf(t: Type): string {
  return t.fullName.startsWith('.') ? t.fullName.slice(1) : t.fullName;
}

function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v !== null && typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function') return Number(String(v));
  return 0;
}

/** An Any (type_url + value bytes) as proto3 JSON; a type the schema does not know keeps only its '@type'. */
export function anyToJson(typeUrl: string, value: Uint8Array, depth = 0): Obj {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const info = protoSchema().lookupMessage(name);
  if (info === undefined) return { '@type': typeUrl };
  const decoded = info.type.decode(value);
  const out = messageToJson(info.type, decoded, depth + 1);
  if (out !== null && typeof out === 'object' && !Array.isArray(out) && !('@type' in (out as Obj)) && !isWellKnownValue(info.type)) {
    return { '@type': typeUrl, ...(out as Obj) };
  }
  // Well-known types inside an Any carry their JSON form under "value".
  return { '@type': typeUrl, value: out };
}

function isWellKnownValue(t: Type): boolean {
  const n = fullNameOf(t);
  return n === 'google.protobuf.Duration' || n === 'google.protobuf.Timestamp' || WRAPPERS.has(n) || n === 'google.protobuf.Struct' ||
    n === 'google.protobuf.Value' || n === 'google.protobuf.ListValue' || n === 'google.protobuf.FieldMask';
}

/** A decoded protobufjs message of type `t` as proto3 JSON (snake_case keys, the loader accepts both). */
export function messageToJson(t: Type, msg: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new RangeError('message nested too deeply');
  const m = (msg ?? {}) as Obj;
  const name = fullNameOf(t);
  switch (name) {
    case 'google.protobuf.Any':
      return anyToJson(String(m['type_url'] ?? ''), (m['value'] as Uint8Array | undefined) ?? new Uint8Array(0), depth);
    case 'google.protobuf.Duration': {
      const s = numberOf(m['seconds']) + numberOf(m['nanos']) / 1e9;
      return `${s}s`;
    }
    case 'google.protobuf.Timestamp':
      return new Date(numberOf(m['seconds']) * 1000 + Math.floor(numberOf(m['nanos']) / 1e6)).toISOString();
    case 'google.protobuf.Struct':
      return structToJson(m, depth);
    case 'google.protobuf.Value':
      return valueToJson(m, depth);
    case 'google.protobuf.ListValue':
      return ((m['values'] as Obj[] | undefined) ?? []).map((v) => valueToJson(v, depth + 1));
    case 'google.protobuf.Empty':
      return {};
    case 'google.protobuf.FieldMask':
      return ((m['paths'] as string[] | undefined) ?? []).join(',');
    default:
      break;
  }
  if (WRAPPERS.has(name)) {
    const f = t.fields['value']!;
    return scalarToJson(f, hasOwn.call(m, 'value') ? m['value'] : f.typeDefault);
  }
  const out: Obj = {};
  const fields = t.fieldsArray;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (!hasOwn.call(m, f.name)) continue;
    const v = m[f.name];
    if (v === null || v === undefined) continue;
    f.resolve();
    if (f.map) {
      const entries = Object.keys(v as Obj);
      if (entries.length === 0) continue;
      const mo: Obj = {};
      for (const k of entries) mo[k] = fieldValueToJson(f, (v as Obj)[k], depth);
      out[f.name] = mo;
    } else if (f.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      out[f.name] = arr.map((x) => fieldValueToJson(f, x, depth));
    } else {
      out[f.name] = fieldValueToJson(f, v, depth);
    }
  }
  return out;
}

function fieldValueToJson(f: Field, v: unknown, depth: number): unknown {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return messageToJson(rt, v, depth + 1);
  if (rt instanceof protobuf.Enum) {
    const n = numberOf(v);
    return rt.valuesById[n] ?? n;
  }
  return scalarToJson(f, v);
}

function scalarToJson(f: Field, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  switch (f.type) {
    case 'int64': case 'uint64': case 'sint64': case 'fixed64': case 'sfixed64':
      return numberOf(v);
    default:
      return v;
  }
}

function structToJson(m: Obj, depth: number): Obj {
  const out: Obj = {};
  const fields = (m['fields'] as Record<string, Obj> | undefined) ?? {};
  for (const k of Object.keys(fields)) out[k] = valueToJson(fields[k]!, depth + 1);
  return out;
}

/** A Value's member: protobufjs bundles google/protobuf/struct.proto with camelCase field names (structValue). */
function member(v: Obj, camel: string): unknown {
  // Own properties only: a decoded message's prototype carries every field's default.
  if (!hasOwn.call(v, camel)) return undefined;
  const x = v[camel];
  return x === undefined || x === null ? undefined : x;
}

function valueToJson(v: Obj, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new RangeError('value nested too deeply');
  const struct = member(v, 'structValue');
  if (struct !== undefined) return structToJson(struct as Obj, depth + 1);
  const list = member(v, 'listValue');
  if (list !== undefined) return (((list as Obj)['values'] as Obj[] | undefined) ?? []).map((x) => valueToJson(x, depth + 1));
  for (const k of ['stringValue', 'numberValue', 'boolValue']) {
    const x = member(v, k);
    if (x !== undefined) return x;
  }
  return null;
}

/** Plain JSON -> google.protobuf.Struct in protobufjs object form (for Node.metadata in requests; camelCase, see member). */
export function jsonToStruct(value: Obj): Obj {
  const fields: Obj = {};
  for (const k of Object.keys(value)) fields[k] = jsonToValue(value[k]);
  return { fields };
}

function jsonToValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Obj) };
}
