// Primary thread (pure). A config message as Envoy prints it in /config_dump (proto3 JSON with proto field names):
// the loader's normalized form (src/config-loader/types.ts) turned back with the schema: durations "1.500s",
// 64-bit integers as strings, scalars at their default omitted, Any as {"@type", ...fields}. Fields marked
// (udpa.annotations.sensitive) are redacted as Envoy's MessageUtil::redact does: every string and bytes value
// under them becomes "[redacted]" (bytes: its base64), any other scalar is dropped.

import { messageFacts, type FieldFacts } from '../config-loader/message-facts.ts';
import { protoSchema, type MessageInfo } from '../config-loader/proto-schema.ts';

export const REDACTED = '[redacted]';
const REDACTED_BYTES = Buffer.from(REDACTED).toString('base64');
const TYPE_URL_PREFIX = 'type.googleapis.com/';
const INT64_TYPES: ReadonlySet<string> = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT64_WRAPPERS: ReadonlySet<string> = new Set(['google.protobuf.Int64Value', 'google.protobuf.UInt64Value']);

/** The message called `fullName`, or undefined when the bundled schema lacks it. */
export function messageInfo(fullName: string): MessageInfo | undefined {
  return protoSchema().lookupMessage(fullName);
}

/** A normalized message of type `fullName` in proto3 JSON, redacted. Unknown types pass through as they are. */
export function toProtoJson(value: unknown, fullName: string): unknown {
  const info = messageInfo(fullName);
  return info === undefined ? value : messageJson(value, info, false);
}

/** protobuf's Duration JSON: seconds with 0, 3, 6 or 9 fractional digits ("1s", "0.250s"), from milliseconds. */
export function durationJson(ms: number): string {
  const totalNanos = Math.round(ms * 1e6);
  const negative = totalNanos < 0;
  const abs = Math.abs(totalNanos);
  const seconds = Math.floor(abs / 1e9);
  const nanos = abs - seconds * 1e9;
  let frac = '';
  if (nanos !== 0) {
    const digits = String(nanos).padStart(9, '0');
    frac = nanos % 1e6 === 0 ? `.${digits.slice(0, 3)}` : nanos % 1e3 === 0 ? `.${digits.slice(0, 6)}` : `.${digits}`;
  }
  return `${negative ? '-' : ''}${seconds}${frac}s`;
}

/** protobuf's Timestamp JSON: RFC 3339 in UTC, fractional seconds only when not zero ("…T10:00:00.123Z"). */
export function timestampJson(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function messageJson(value: unknown, info: MessageInfo, sensitive: boolean): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const facts = messageFacts(info, protoSchema());
  if (facts.wellKnown === 'any') return anyJson(value as Record<string, unknown>, sensitive);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const f = facts.field(key);
    if (f === undefined) {
      out[key] = v; // let through by --allow-unknown-static-fields: shown as given
      continue;
    }
    const fieldSensitive = sensitive || f.field.options?.['(udpa.annotations.sensitive)'] === true;
    const converted = fieldJson(v, f, fieldSensitive);
    if (converted !== undefined) out[f.name] = converted;
  }
  return out;
}

function anyJson(value: Record<string, unknown>, sensitive: boolean): unknown {
  const url = value['@type'];
  if (typeof url !== 'string') return value;
  const info = messageInfo(url.slice(url.lastIndexOf('/') + 1));
  if (info === undefined) return value;
  const { '@type': _type, ...fields } = value;
  const kind = messageFacts(info, protoSchema()).wellKnown;
  // A well-known type packed in an Any keeps its own JSON form under "value".
  if (kind !== undefined && kind !== 'any') return { '@type': url, value: wellKnownJson(fields['value'], info.fullName, kind, sensitive) };
  return { '@type': url, ...(messageJson(fields, info, sensitive) as Record<string, unknown>) };
}

function fieldJson(v: unknown, f: FieldFacts, sensitive: boolean): unknown {
  if (f.isMap) {
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) out[k] = itemJson(item, f, sensitive, true);
    return out;
  }
  if (f.repeated) {
    if (!Array.isArray(v)) return v;
    const items = v.map((item) => itemJson(item, f, sensitive, true));
    return items.length === 0 ? undefined : items;
  }
  return itemJson(v, f, sensitive, f.hasPresence);
}

/** One value of field `f` (the field itself, a list item or a map value); undefined drops it. */
function itemJson(v: unknown, f: FieldFacts, sensitive: boolean, keepDefault: boolean): unknown {
  if (f.valueKind === 'message') {
    const info = f.message!;
    if (f.wellKnown !== undefined && f.wellKnown !== 'any') return wellKnownJson(v, info.fullName, f.wellKnown, sensitive);
    return messageJson(v, info, sensitive);
  }
  if (f.valueKind === 'enum') {
    if (sensitive) return undefined;
    if (!keepDefault && f.enumType !== undefined && f.enumType.values[String(v)] === 0) return undefined;
    return v;
  }
  if (f.valueKind === 'unresolved') return sensitive ? undefined : v;
  return scalarJson(v, f.scalarType, sensitive, keepDefault);
}

function scalarJson(v: unknown, type: string, sensitive: boolean, keepDefault: boolean): unknown {
  if (sensitive) {
    if (type === 'string') return REDACTED;
    if (type === 'bytes') return REDACTED_BYTES;
    return undefined;
  }
  if (!keepDefault && (v === 0 || v === '' || v === false)) return undefined;
  if (INT64_TYPES.has(type) && typeof v === 'number') return String(v);
  return v;
}

function wellKnownJson(v: unknown, fullName: string, kind: string, sensitive: boolean): unknown {
  switch (kind) {
    case 'duration':
      return sensitive ? undefined : typeof v === 'number' ? durationJson(v) : v;
    case 'timestamp':
      return sensitive ? undefined : v;
    case 'wrapper':
      if (sensitive) {
        if (fullName === 'google.protobuf.StringValue') return REDACTED;
        if (fullName === 'google.protobuf.BytesValue') return REDACTED_BYTES;
        return undefined;
      }
      return INT64_WRAPPERS.has(fullName) && typeof v === 'number' ? String(v) : v;
    case 'field_mask':
      return Array.isArray(v) ? v.join(',') : v;
    case 'struct':
    case 'value':
    case 'list_value':
      return sensitive ? redactPlainJson(v) : v;
    default:
      return v;
  }
}

/** A Struct/Value under a sensitive field: its strings redacted, other leaves dropped (Envoy clears them). */
function redactPlainJson(v: unknown): unknown {
  if (typeof v === 'string') return REDACTED;
  if (Array.isArray(v)) return v.map(redactPlainJson).filter((x) => x !== undefined);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      const r = redactPlainJson(item);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return undefined;
}

/** `type.googleapis.com/<fullName>`. */
export function typeUrl(fullName: string): string {
  return `${TYPE_URL_PREFIX}${fullName}`;
}
