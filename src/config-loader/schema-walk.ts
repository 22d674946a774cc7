// Any thread (pure). A SourceNode tree checked against an Envoy v3 message type (Envoy's own .proto files with
// their PGV rules) and turned into the normalized form described in types.ts, collecting every problem with its
// field path and position, and recording where each field was written (position-index.ts).
//
// Order of checks per field: known field (else unknown_field with "did you mean") -> given once -> oneof ->
// "not supported yet" (supported-fields.ts) -> type and value. A subtree Legate does not support is still checked
// against Envoy's schema (a typo there is still a typo) but reports no further "not supported yet": one problem
// per unsupported field, not one per leaf.

import { makeProblem } from './config-error.ts';
import { didYouMean } from './did-you-mean.ts';
import { canonicalEnumName, messageFacts, type FieldFacts, type MessageFacts, type WellKnownKind } from './message-facts.ts';
import { absentViolation, countViolation, valueViolation } from './pgv-check.ts';
import type { FieldRules } from './pgv-rules.ts';
import { fieldPath, itemPath, mapEntryPath, MapPositionIndex } from './position-index.ts';
import { SCHEMA_SOURCE, type MessageInfo, type ProtoSchema } from './proto-schema.ts';
import { readProtoScalar } from './scalar-values.ts';
import { describeNode, SourceNode, type SourceEntry } from './source-node.ts';
import { extensionKindOf, isEffectivelyUnset, notSupportedMessage } from './support-check.ts';
import { supportedEnumValuesOf, supportedFieldsOf } from './supported-fields.ts';
import { resolveTypeUrl, typeUrlOf } from './type-url.ts';
import { defaultTypedConfigFor, wellKnownExtensionNames } from './well-known-extensions.ts';
import { readWellKnownNode, type RecordPosition, type WellKnownError } from './well-known-types.ts';
import type { ConfigErrorCode, ConfigProblem, FieldPath, SourcePosition } from './types.ts';

type Obj = Record<string, unknown>;

/** What a removed (reserved) field became, for the handful real configs still carry. */
const REMOVED_FIELD_HINTS: Readonly<Record<string, string>> = {
  'envoy.config.cluster.v3.Cluster.hosts': "use 'load_assignment'",
  'envoy.config.cluster.v3.Cluster.tls_context': "use 'transport_socket' with envoy.transport_sockets.tls",
  'envoy.config.listener.v3.FilterChain.tls_context': "use 'transport_socket' with envoy.transport_sockets.tls",
};

/**
 * Fields real configs use that Envoy added after the API Legate's schema holds (proto-schema.ts SCHEMA_SOURCE):
 * reported as needing a newer Envoy API rather than as a typo. `<message full name>.<field>` -> the field's
 * replacement in the bundled API, if any.
 */
const NEWER_API_FIELDS: Readonly<Record<string, string>> = {
  'envoy.extensions.filters.http.jwt_authn.v3.JwtClaimToHeader.claim_path': "the bundled API names the claim with 'claim_name' (a dotted path)",
};

/** Extension messages whose factory Envoy finds by `name` when typed_config is left out. */
const NAME_DISPATCHED: ReadonlySet<string> = new Set([
  'envoy.config.listener.v3.Filter',
  'envoy.config.listener.v3.ListenerFilter',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  'envoy.config.accesslog.v3.AccessLog',
  'envoy.config.core.v3.TransportSocket',
  'envoy.config.cluster.v3.Filter',
]);

/**
 * Messages whose `is_optional: true` lets Legate skip the extension they hold when it cannot run it, as Envoy skips
 * an optional filter it has no factory for: the field holding the extension. The compiler then leaves it out.
 */
const OPTIONAL_EXTENSION_FIELD: Readonly<Record<string, string>> = {
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter': 'typed_config',
  'envoy.config.route.v3.FilterConfig': 'config',
};
/** What an optional extension is forgiven: that Legate does not know or run it. */
const FORGIVEN_WHEN_OPTIONAL: ReadonlySet<string> = new Set(['not_supported', 'unknown_type', 'newer_api', 'missing_field']);

export interface WalkOptions {
  /** Report fields and messages Legate does not implement (supported-fields.ts); off for schema-only checks. */
  checkSupport: boolean;
  /** Envoy's --allow-unknown-static-fields: an unknown field is skipped and listed in ignoredUnknownFields. */
  allowUnknownFields?: boolean;
}

export interface WalkResult {
  /** The normalized message (present even when there are problems; only trust it when there are none). */
  value: Obj;
  problems: ConfigProblem[];
  positions: MapPositionIndex;
  /** With allowUnknownFields: the unknown fields skipped, each as the problem it would have been. */
  ignoredUnknownFields: ConfigProblem[];
}

/** Checks and normalizes `root` as message `type` (e.g. envoy.config.bootstrap.v3.Bootstrap). */
export function walkDocument(root: SourceNode, type: MessageInfo, schema: ProtoSchema, options: WalkOptions): WalkResult {
  const w = new SchemaWalker(schema, options.allowUnknownFields === true);
  w.positions.record('', root.position);
  const facts = messageFacts(type, schema);
  let value: Obj = {};
  if (root.kind !== 'map') {
    w.problem('wrong_type', '', `expected an object (${type.fullName}), got ${describeNode(root)}`);
  } else {
    let supported: ReadonlySet<string> | null = null;
    if (options.checkSupport) {
      supported = supportedFieldsOf(type.fullName, undefined) ?? null;
      if (supported === null) w.problem('not_supported', '', notSupportedMessage(type.fullName, root.position));
    }
    value = w.message(root, facts, '', supported, {}, false);
  }
  return { value, problems: w.problems, positions: w.positions, ignoredUnknownFields: w.ignoredUnknownFields };
}

class SchemaWalker {
  readonly schema: ProtoSchema;
  readonly problems: ConfigProblem[] = [];
  readonly ignoredUnknownFields: ConfigProblem[] = [];
  readonly positions = new MapPositionIndex();
  private readonly allowUnknownFields: boolean;
  /** Bound once: the well-known readers record Struct keys and list items through it. */
  readonly recordPosition: RecordPosition;

  constructor(schema: ProtoSchema, allowUnknownFields: boolean) {
    this.schema = schema;
    this.allowUnknownFields = allowUnknownFields;
    const positions = this.positions;
    this.recordPosition = (path, pos) => positions.record(path, pos);
  }

  /** A problem at `path`; its position is the one recorded for the path (or its nearest ancestor's). */
  problem(code: ConfigErrorCode, path: FieldPath, message: string, suggestion?: string, position?: SourcePosition): void {
    this.problems.push(makeProblem(code, path, position ?? this.positions.at(path), message, suggestion));
  }

  notSupported(path: FieldPath, what?: string): void {
    const pos = this.positions.at(path);
    this.problems.push(makeProblem('not_supported', path, pos, notSupportedMessage(what ?? path, pos)));
  }

  /**
   * The fields of map `node` as message `facts`, added to `out`. `supported` is the set of fields Legate
   * implements here, or null when not checking (schema-only, or inside an unsupported subtree). `skipTypeKey`
   * skips the '@type' of an Any whose fields these are.
   */
  message(node: SourceNode, facts: MessageFacts, path: FieldPath, supported: ReadonlySet<string> | null, out: Obj, skipTypeKey: boolean): Obj {
    const firstProblem = this.problems.length;
    const seen = new Map<FieldFacts, SourceEntry>();
    let oneofs: Map<unknown, FieldFacts> | undefined;
    // A field of a newer API here: this message's rules in that API may differ, so absent fields are not judged.
    let newerApi = false;
    const entries = node.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (skipTypeKey && entry.key === '@type') continue;
      const f = facts.field(entry.key);
      if (f === undefined) {
        if (this.unknownField(entry, facts, path)) newerApi = true;
        continue;
      }
      const p = fieldPath(path, f.name);
      const prev = seen.get(f);
      if (prev !== undefined) {
        const line = prev.keyPosition === undefined ? '' : ` at line ${prev.keyPosition.line}`;
        this.problem('duplicate_name', p, `'${f.name}' is given twice: as '${prev.key}'${line} and as '${entry.key}'`, undefined,
          entry.keyPosition ?? entry.value.position);
        continue;
      }
      seen.set(f, entry);
      this.positions.record(p, entry.keyPosition ?? entry.value.position);
      const v = entry.value;
      if (v.kind === 'scalar' && v.scalar === null) {
        // proto3 JSON: null is "not set" (for google.protobuf.Value it is the null value).
        if (f.wellKnown === 'value' && !f.repeated && !f.isMap) out[f.name] = null;
        continue;
      }
      if (f.oneof !== undefined) {
        oneofs ??= new Map();
        const other = oneofs.get(f.oneof);
        if (other !== undefined) {
          this.problem('bad_value', p, `'${other.name}' and '${f.name}' are both set, but only one of oneof '${f.oneof.name}' (${oneofMembers(f)}) may be`);
          continue;
        }
        oneofs.set(f.oneof, f);
      }
      let childSupported: ReadonlySet<string> | null = null;
      let checking = supported !== null;
      if (checking && !supported!.has(f.name)) {
        if (!isEffectivelyUnset(f, v)) this.notSupported(p);
        checking = false;
      } else if (checking && f.valueKind === 'message' && f.wellKnown === undefined) {
        childSupported = supportedFieldsOf(f.message!.fullName, f.contextKey) ?? null;
        if (childSupported === null) {
          if (!isEffectivelyUnset(f, v)) this.notSupported(p, `${p} (${f.message!.fullName})`);
          checking = false;
        }
      }
      const value = this.field(v, f, facts, p, childSupported, checking);
      if (value !== undefined) out[f.name] = value;
    }
    if (facts.info.isNamedExtension) this.defaultTypedConfig(facts, path, out, seen, supported);
    const optionalField = OPTIONAL_EXTENSION_FIELD[facts.fullName];
    if (optionalField !== undefined && out['is_optional'] === true && supported !== null) this.forgiveOptional(firstProblem, fieldPath(path, optionalField));
    if (newerApi) return out;
    this.absentFields(facts, path, seen);
    const required = facts.info.requiredOneofs;
    for (let i = 0; i < required.length; i++) {
      const o = required[i]!;
      if (oneofs?.has(o) === true) continue;
      this.problem('missing_field', path, `one of ${o.fieldsArray.map((x) => `'${x.name}'`).join(', ')} is required (oneof '${o.name}')`);
    }
    return out;
  }

  /**
   * The optional extension at `p`, when Legate does not know or run it (a problem says so at `p` itself): drops, from
   * problem `from` on, what was reported of it being unknown or unsupported. One Legate runs is checked in full.
   */
  private forgiveOptional(from: number, p: FieldPath): void {
    const problems = this.problems;
    let notRun = false;
    for (let i = from; i < problems.length && !notRun; i++) notRun = problems[i]!.path === p && FORGIVEN_WHEN_OPTIONAL.has(problems[i]!.code);
    if (!notRun) return;
    let kept = from;
    for (let i = from; i < problems.length; i++) {
      const q = problems[i]!;
      const under = q.path === p || q.path.startsWith(`${p}.`) || q.path.startsWith(`${p}[`);
      if (under && FORGIVEN_WHEN_OPTIONAL.has(q.code)) continue;
      problems[kept++] = q;
    }
    problems.length = kept;
  }

  /** Reports a key that names no field; true when it is a known field of a newer Envoy API. */
  private unknownField(entry: SourceEntry, facts: MessageFacts, path: FieldPath): boolean {
    if (!this.allowUnknownFields) return this.reportUnknownField(entry, facts, path);
    // --allow-unknown-static-fields: the field is skipped; what would have been reported is kept for a warning.
    const before = this.problems.length;
    const newer = this.reportUnknownField(entry, facts, path);
    for (const p of this.problems.splice(before)) this.ignoredUnknownFields.push(p);
    return newer;
  }

  private reportUnknownField(entry: SourceEntry, facts: MessageFacts, path: FieldPath): boolean {
    const key = entry.key;
    const p = fieldPath(path, key);
    const pos = entry.keyPosition ?? entry.value.position;
    this.positions.record(p, pos);
    const info = facts.info;
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (info.reservedNames.has(key) || info.reservedNames.has(snake)) {
      const name = info.reservedNames.has(key) ? key : snake;
      this.problem('unknown_field', p, `'${name}' was removed from Envoy's API (it is reserved in ${info.fullName})`,
        REMOVED_FIELD_HINTS[`${info.fullName}.${name}`], pos);
      return false;
    }
    const newer = NEWER_API_FIELDS[`${info.fullName}.${snake}`];
    if (newer !== undefined) {
      this.problem('newer_api', p, `'${snake}' in ${info.fullName} needs a newer Envoy API than Legate's schema (${SCHEMA_SOURCE})`, newer, pos);
      return true;
    }
    let suggestion = didYouMean(key, info.fieldNames);
    if (suggestion === undefined && key === 'resources' && info.fullName === 'envoy.config.bootstrap.v3.Bootstrap') {
      suggestion = 'this looks like an xDS resource file; a bootstrap names it in dynamic_resources (path_config_source)';
    }
    this.problem('unknown_field', p, `unknown field '${key}' in ${info.fullName}`, suggestion, pos);
    return false;
  }

  /** A value of field `f` (a list, a map or one value). */
  private field(node: SourceNode, f: FieldFacts, parent: MessageFacts, p: FieldPath, childSupported: ReadonlySet<string> | null, checking: boolean): unknown {
    if (f.valueKind === 'unresolved') {
      // Never protobufjs's own "no such type" error: say which type is missing and why.
      this.problem('newer_api', p,
        `this field needs a newer Envoy API than Legate's schema (${SCHEMA_SOURCE}): its type ${f.unresolvedType} is not in it`);
      return undefined;
    }
    if (f.isMap) {
      if (node.kind !== 'map') {
        this.problem('wrong_type', p, `expected an object (a map of ${f.mapKeyType} to ${valueTypeName(f)}), got ${describeNode(node)}`);
        return undefined;
      }
      const out: Obj = {};
      for (let i = 0; i < node.entries.length; i++) {
        const e = node.entries[i]!;
        const kp = mapEntryPath(p, e.key);
        this.positions.record(kp, e.keyPosition ?? e.value.position);
        const keyError = mapKeyError(e.key, f.mapKeyType);
        if (keyError !== undefined) {
          this.problem('wrong_type', kp, keyError);
          continue;
        }
        if (e.value.kind === 'scalar' && e.value.scalar === null) {
          this.problem('wrong_type', kp, `a map value cannot be null (expected ${valueTypeName(f)})`);
          continue;
        }
        const v = this.single(e.value, f, parent, kp, childSupported, checking);
        if (v !== undefined) out[e.key] = v;
      }
      const why = f.rules === null ? undefined : countViolation(node.entries.length, f.rules, true);
      if (why !== undefined) this.problem('bad_value', p, why);
      return out;
    }
    if (f.repeated) {
      // Envoy's JSON parser (protobuf's legacy syntax) takes a single value where a list is expected as a list
      // of one; real configs rely on it (`filters:` given one filter object).
      const items = node.kind === 'seq' ? node.items : [node];
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const ip = itemPath(p, i);
        this.positions.record(ip, item.position);
        if (item.kind === 'scalar' && item.scalar === null) {
          this.problem('wrong_type', ip, `a list item cannot be null (expected ${valueTypeName(f)})`);
          continue;
        }
        const v = this.single(item, f, parent, ip, childSupported, checking);
        if (v !== undefined) out.push(v);
      }
      const why = f.rules === null ? undefined : countViolation(items.length, f.rules, false);
      if (why !== undefined) this.problem('bad_value', p, why);
      return out;
    }
    return this.single(node, f, parent, p, childSupported, checking);
  }

  /** One value of field `f`'s type (one item of a list, one value of a map). */
  private single(node: SourceNode, f: FieldFacts, parent: MessageFacts, p: FieldPath, childSupported: ReadonlySet<string> | null, checking: boolean): unknown {
    if (f.valueKind === 'scalar') return this.scalar(node, f, p);
    if (f.valueKind === 'enum') return this.enumValue(node, f, parent, p, checking);
    if (f.wellKnown !== undefined) return this.wellKnown(node, f, p, checking);
    if (node.kind !== 'map') {
      this.problem('wrong_type', p, `expected an object (${f.message!.fullName}), got ${describeNode(node)}`);
      return undefined;
    }
    return this.message(node, messageFacts(f.message!, this.schema), p, childSupported, {}, false);
  }

  private scalar(node: SourceNode, f: FieldFacts, p: FieldPath): unknown {
    if (node.kind !== 'scalar') {
      this.problem('wrong_type', p, `expected ${scalarTypeName(f.scalarType)}, got ${describeNode(node)}`);
      return undefined;
    }
    const r = readProtoScalar(node.scalar, node.plain, f.scalarType);
    if (r.error !== undefined) {
      this.problem(r.wrongType ? 'wrong_type' : 'bad_value', p, r.wrongType ? `${r.error}, got ${describeNode(node)}` : r.error);
      return undefined;
    }
    if (f.rules !== null) this.valueRules(r.value, f.rules, p, f.scalarType === 'bytes');
    return r.value;
  }

  /** PGV rules on a present string or number (also a wrapper's value, or a duration in ms with unit 'ms'). */
  private valueRules(value: unknown, rules: FieldRules, p: FieldPath, isBytes: boolean, unit = ''): void {
    const why = valueViolation(value, rules, isBytes, unit);
    if (why !== undefined) this.problem('bad_value', p, why);
  }

  private enumValue(node: SourceNode, f: FieldFacts, parent: MessageFacts, p: FieldPath, checking: boolean): string | undefined {
    const e = f.enumType!;
    let name: string | undefined;
    if (node.kind === 'scalar' && typeof node.scalar === 'string') {
      // Any case, normalised to the canonical spelling (Envoy's case-insensitive enum parsing).
      name = canonicalEnumName(e, node.scalar);
    } else if (node.kind === 'scalar' && typeof node.scalar === 'number' && Number.isInteger(node.scalar)) {
      name = e.valuesById[node.scalar];
    } else {
      this.problem('wrong_type', p, `expected one of ${Object.keys(e.values).join(', ')} (enum ${enumName(e)}), got ${describeNode(node)}`);
      return undefined;
    }
    if (name === undefined) {
      const names = Object.keys(e.values);
      const given = typeof node.scalar === 'string' ? `'${node.scalar}'` : String(node.scalar);
      this.problem('bad_enum', p, `unknown value ${given} for enum ${enumName(e)}; expected one of ${names.join(', ')}`,
        typeof node.scalar === 'string' ? didYouMean(node.scalar, names) : undefined);
      return undefined;
    }
    if (checking) {
      const allowed = supportedEnumValuesOf(parent.fullName, f.name, p);
      if (allowed !== undefined && !allowed.has(name)) this.notSupported(p, `${p} = ${name}`);
    }
    return name;
  }

  private wellKnown(node: SourceNode, f: FieldFacts, p: FieldPath, checking: boolean): unknown {
    const kind = f.wellKnown!;
    if (kind === 'any') return this.any(node, f, p, checking);
    const valueType = kind === 'wrapper' ? f.message!.type.fields['value']!.type : '';
    const r = readWellKnownNode(kind, node, valueType, p, this.recordPosition);
    if (!r.ok) {
      this.wellKnownProblem(r.error, p);
      return undefined;
    }
    if (f.rules !== null && (kind === 'duration' || kind === 'wrapper')) {
      this.valueRules(r.value, f.rules, p, valueType === 'bytes', kind === 'duration' ? 'ms' : '');
    }
    return r.value;
  }

  private wellKnownProblem(err: WellKnownError, p: FieldPath): void {
    if (err.subPath === '') this.problem(err.code, p, err.message);
    else this.problem(err.code, fieldPath(p, err.subPath), err.message, undefined, err.position ?? this.positions.at(p));
  }

  /** google.protobuf.Any: '@type' names the message the other keys are fields of. */
  private any(node: SourceNode, f: FieldFacts, p: FieldPath, checking: boolean): Obj | undefined {
    if (node.kind !== 'map') {
      this.problem('wrong_type', p, `expected an object with "@type" (google.protobuf.Any), got ${describeNode(node)}`);
      return undefined;
    }
    let typeNode: SourceNode | undefined;
    for (let i = 0; i < node.entries.length; i++) if (node.entries[i]!.key === '@type') typeNode = node.entries[i]!.value;
    if (typeNode === undefined) {
      this.problem('missing_field', p, `"@type" is required: a typed config names its message, e.g. "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`);
      return undefined;
    }
    if (typeNode.kind !== 'scalar' || typeof typeNode.scalar !== 'string') {
      this.problem('wrong_type', p, `expected "@type" to be a type URL string, got ${describeNode(typeNode)}`);
      return undefined;
    }
    const t = resolveTypeUrl(typeNode.scalar, this.schema);
    if (!t.ok) {
      this.problem(t.code, p, t.message, t.suggestion);
      return undefined;
    }
    return this.typedMessage(node, t.info, t.url, f, p, checking);
  }

  /** The fields of an Any (or a filled-in default) as message `info`: { '@type': url, ...fields }. */
  private typedMessage(node: SourceNode, info: MessageInfo, url: string, f: FieldFacts, p: FieldPath, checking: boolean): Obj {
    const facts = messageFacts(info, this.schema);
    const out: Obj = { '@type': url };
    const kind = facts.wellKnown;
    if (kind === 'any') {
      this.notSupported(p, `an Any holding an Any (${url})`);
      return out;
    }
    if (kind !== undefined) {
      // A well-known type inside an Any is written { "@type": ..., "value": <its JSON form> }.
      let valueNode: SourceNode | undefined;
      for (let i = 0; i < node.entries.length; i++) {
        const e = node.entries[i]!;
        if (e.key === '@type') continue;
        if (e.key !== 'value') {
          this.problem('unknown_field', fieldPath(p, e.key), `unknown field '${e.key}': an Any holding ${info.fullName} has only "value"`, undefined, e.keyPosition);
          continue;
        }
        this.positions.record(fieldPath(p, 'value'), e.keyPosition ?? e.value.position);
        valueNode = e.value;
      }
      if (valueNode !== undefined) {
        const v = this.wellKnownValue(valueNode, kind, info, fieldPath(p, 'value'));
        if (v !== undefined) out['value'] = v;
      }
      return out;
    }
    let supported: ReadonlySet<string> | null = null;
    if (checking) {
      supported = supportedFieldsOf(info.fullName, f.contextKey) ?? null;
      if (supported === null) this.notSupported(p, `${extensionKindOf(f)} ${info.fullName}`);
    }
    return this.message(node, facts, p, supported, out, true);
  }

  /** A well-known type's JSON form where no field names it (the "value" of an Any holding one). */
  private wellKnownValue(node: SourceNode, kind: Exclude<WellKnownKind, 'any'>, info: MessageInfo, p: FieldPath): unknown {
    const valueType = kind === 'wrapper' ? info.type.fields['value']!.type : '';
    const r = readWellKnownNode(kind, node, valueType, p, this.recordPosition);
    if (r.ok) return r.value;
    this.wellKnownProblem(r.error, p);
    return undefined;
  }

  /**
   * An extension named without typed_config (`- name: envoy.filters.http.router`) gets the default config of
   * its well-known type, as Envoy does, so later stages always see typed_config['@type'].
   */
  private defaultTypedConfig(facts: MessageFacts, path: FieldPath, out: Obj, seen: Map<FieldFacts, SourceEntry>, supported: ReadonlySet<string> | null): void {
    const name = out['name'];
    if (typeof name !== 'string') return;
    const tc = facts.field('typed_config')!;
    // Only where Envoy falls back to the name: typed_config optional and no other member of its oneof set.
    if (tc.rules?.required === true) return;
    for (const [other, entry] of seen) {
      const sameSlot = other === tc || (other.oneof !== undefined && other.oneof === tc.oneof);
      if (sameSlot && !(entry.value.kind === 'scalar' && entry.value.scalar === null)) return;
    }
    const p = fieldPath(path, 'typed_config');
    const typeName = defaultTypedConfigFor(name);
    const info = typeName === undefined ? undefined : this.schema.lookupMessage(typeName);
    if (info === undefined) {
      // Only where Envoy finds the factory by name is a name without config an error; elsewhere (an overload
      // action, a resource monitor trigger) the name is just a name and typed_config is optional.
      if (NAME_DISPATCHED.has(facts.fullName)) {
        this.problem('missing_field', p,
          `typed_config is required: '${name}' is not an extension Legate can configure by name alone; give typed_config with its "@type"`,
          didYouMean(name, wellKnownExtensionNames()));
      }
      return;
    }
    const checking = supported !== null && supported.has('typed_config');
    out['typed_config'] = this.typedMessage(SourceNode.mapNode([], undefined), info, typeUrlOf(info.fullName), tc, p, checking);
  }

  /** PGV rules that an absent field breaks (pgv-check.ts). */
  private absentFields(facts: MessageFacts, path: FieldPath, seen: Map<FieldFacts, SourceEntry>): void {
    const list = facts.checkedWhenAbsent;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      const given = seen.get(f);
      if (given !== undefined && !(given.value.kind === 'scalar' && given.value.scalar === null)) continue;
      const why = absentViolation(f);
      if (why !== undefined) this.problem('missing_field', fieldPath(path, f.name), why);
    }
  }
}

function oneofMembers(f: FieldFacts): string {
  return f.oneof!.fieldsArray.map((x) => x.name).join(', ');
}

function enumName(e: { fullName: string }): string {
  return e.fullName.startsWith('.') ? e.fullName.slice(1) : e.fullName;
}

function scalarTypeName(t: string): string {
  switch (t) {
    case 'string': return 'a string';
    case 'bool': return 'true or false';
    case 'bytes': return 'a base64 string';
    case 'double':
    case 'float': return 'a number';
    default: return `an integer (${t})`;
  }
}

function valueTypeName(f: FieldFacts): string {
  if (f.valueKind === 'message') return f.message!.fullName;
  if (f.valueKind === 'enum') return enumName(f.enumType!);
  return f.scalarType;
}

/** proto3 JSON map keys are strings; integer and bool keys must read as such. */
function mapKeyError(key: string, keyType: string): string | undefined {
  if (keyType === 'string') return undefined;
  if (keyType === 'bool') return key === 'true' || key === 'false' ? undefined : `expected a map key true or false, got ${JSON.stringify(key)}`;
  return /^-?\d+$/.test(key) ? undefined : `expected an integer map key (${keyType}), got ${JSON.stringify(key)}`;
}
