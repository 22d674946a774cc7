// Any thread (pure). What the schema walk and the overlay merge need to know about each field of a message,
// worked out once per message type (resolved types, oneofs, PGV rules, well-known kinds) and cached per thread.

import type { Enum, Field, OneOf } from 'protobufjs';
import { rulesOf, type FieldRules } from './pgv-rules.ts';
import { isEnum, isMessageType, type MessageInfo, type ProtoSchema } from './proto-schema.ts';

/** google.protobuf types whose proto3 JSON form is not an object of their fields. */
export type WellKnownKind =
  | 'any'
  | 'duration'
  | 'timestamp'
  | 'wrapper'
  | 'struct'
  | 'value'
  | 'list_value'
  | 'field_mask'
  | 'empty';

const WELL_KNOWN: Readonly<Record<string, WellKnownKind>> = {
  'google.protobuf.Any': 'any',
  'google.protobuf.Duration': 'duration',
  'google.protobuf.Timestamp': 'timestamp',
  'google.protobuf.DoubleValue': 'wrapper',
  'google.protobuf.FloatValue': 'wrapper',
  'google.protobuf.Int64Value': 'wrapper',
  'google.protobuf.UInt64Value': 'wrapper',
  'google.protobuf.Int32Value': 'wrapper',
  'google.protobuf.UInt32Value': 'wrapper',
  'google.protobuf.BoolValue': 'wrapper',
  'google.protobuf.StringValue': 'wrapper',
  'google.protobuf.BytesValue': 'wrapper',
  'google.protobuf.Struct': 'struct',
  'google.protobuf.Value': 'value',
  'google.protobuf.ListValue': 'list_value',
  'google.protobuf.FieldMask': 'field_mask',
  'google.protobuf.Empty': 'empty',
};

/** The well-known kind of message `fullName` (no leading dot), or undefined for an ordinary message. */
export function wellKnownKindOf(fullName: string): WellKnownKind | undefined {
  return Object.prototype.hasOwnProperty.call(WELL_KNOWN, fullName) ? WELL_KNOWN[fullName] : undefined;
}

/** 'unresolved': the field's type is not in Legate's bundled schema (see proto-schema.ts SCHEMA_SOURCE). */
export type ValueKind = 'message' | 'enum' | 'scalar' | 'unresolved';

const enumNamesByUpper = new WeakMap<Enum, Map<string, string>>();

/**
 * The canonical name of enum value `given`, or undefined. Envoy parses JSON/YAML with protobuf's
 * case_insensitive_enum_parsing, so `codec_type: auto` is AUTO: an exact match first, then any case.
 */
export function canonicalEnumName(e: Enum, given: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(e.values, given)) return given;
  let byUpper = enumNamesByUpper.get(e);
  if (byUpper === undefined) {
    byUpper = new Map();
    for (const name of Object.keys(e.values)) if (!byUpper.has(name.toUpperCase())) byUpper.set(name.toUpperCase(), name);
    enumNamesByUpper.set(e, byUpper);
  }
  return byUpper.get(given.toUpperCase());
}

/** One field, with everything resolved. */
export class FieldFacts {
  readonly field: Field;
  /** snake_case proto name: what paths and the normalized form use. */
  readonly name: string;
  /** A repeated field that is not a map. */
  readonly repeated: boolean;
  readonly isMap: boolean;
  /** Map key type (string, int32, bool, ...); '' when not a map. */
  readonly mapKeyType: string;
  /** Kind of the value (of each item for repeated, of each value for maps). */
  readonly valueKind: ValueKind;
  /** Proto scalar type name ('string', 'uint32', 'bool', 'bytes', ...) when valueKind is 'scalar'. */
  readonly scalarType: string;
  readonly message: MessageInfo | undefined;
  /** Set when the message is a google.protobuf well-known type with its own JSON form. */
  readonly wellKnown: WellKnownKind | undefined;
  readonly enumType: Enum | undefined;
  /** The real oneof this field belongs to (not proto3 `optional`'s synthetic one). */
  readonly oneof: OneOf | undefined;
  /** Whether "set to the default value" can be told from "absent" (messages, oneof members, optional). */
  readonly hasPresence: boolean;
  readonly rules: FieldRules | null;
  /** `<message full name>.<field>`: the key supported-fields.ts uses for this field. */
  readonly contextKey: string;
  /** The type name protobufjs could not resolve, when valueKind is 'unresolved'; else ''. */
  readonly unresolvedType: string;

  constructor(field: Field, messageFullName: string, schema: ProtoSchema) {
    this.field = field;
    this.name = field.name;
    this.contextKey = `${messageFullName}.${field.name}`;
    let unresolvedType = '';
    try {
      field.resolve();
    } catch {
      // A type from a .proto the bundled API does not ship (opentelemetry.proto.common.v1.KeyValueList): the
      // walk reports such a field only when a config sets it.
      unresolvedType = field.type;
    }
    this.unresolvedType = unresolvedType;
    const fb = field as Field & { map?: boolean; keyType?: string };
    this.isMap = fb.map === true;
    this.mapKeyType = this.isMap ? String(fb.keyType) : '';
    this.repeated = field.repeated && !this.isMap;
    const rt = field.resolvedType;
    let message: MessageInfo | undefined;
    let enumType: Enum | undefined;
    let valueKind: ValueKind = 'scalar';
    if (unresolvedType !== '') {
      valueKind = 'unresolved';
    } else if (isMessageType(rt)) {
      valueKind = 'message';
      message = schema.info(rt);
    } else if (isEnum(rt)) {
      valueKind = 'enum';
      enumType = rt;
    }
    this.valueKind = valueKind;
    this.message = message;
    this.enumType = enumType;
    this.scalarType = valueKind === 'scalar' ? field.type : '';
    this.wellKnown = message === undefined ? undefined : wellKnownKindOf(message.fullName);
    const partOf = field.partOf;
    const synthetic = partOf !== null && partOf !== undefined && field.options?.['proto3_optional'] === true;
    this.oneof = partOf === null || partOf === undefined || synthetic ? undefined : partOf;
    this.hasPresence = valueKind === 'message' || valueKind === 'unresolved' || this.oneof !== undefined || synthetic;
    this.rules = rulesOf(field);
  }
}

/** One message type: its fields by either spelling, and its oneofs. */
export class MessageFacts {
  readonly info: MessageInfo;
  readonly fullName: string;
  readonly wellKnown: WellKnownKind | undefined;
  private readonly byInputName = new Map<string, FieldFacts>();
  /** Every field, in declaration order. */
  readonly fields: FieldFacts[] = [];
  /** Fields whose absence a PGV rule forbids (required messages, min_len, min_items, bounds excluding 0). */
  readonly checkedWhenAbsent: FieldFacts[] = [];

  constructor(info: MessageInfo, schema: ProtoSchema) {
    this.info = info;
    this.fullName = info.fullName;
    this.wellKnown = wellKnownKindOf(info.fullName);
    const seen = new Map<Field, FieldFacts>();
    for (const [inputName, field] of info.fieldsByInputName) {
      let f = seen.get(field);
      if (f === undefined) {
        f = new FieldFacts(field, info.fullName, schema);
        seen.set(field, f);
      }
      this.byInputName.set(inputName, f);
    }
    const ordered = info.type.fieldsArray;
    for (let i = 0; i < ordered.length; i++) {
      const f = seen.get(ordered[i]!);
      if (f === undefined) continue;
      this.fields.push(f);
      if (f.rules !== null && f.oneof === undefined) this.checkedWhenAbsent.push(f);
    }
  }

  /** The field a key names, in snake_case or lowerCamelCase; undefined when there is none. */
  field(inputName: string): FieldFacts | undefined {
    return this.byInputName.get(inputName);
  }
}

const cache = new WeakMap<MessageInfo, MessageFacts>();

export function messageFacts(info: MessageInfo, schema: ProtoSchema): MessageFacts {
  let f = cache.get(info);
  if (f === undefined) {
    f = new MessageFacts(info, schema);
    cache.set(info, f);
  }
  return f;
}
