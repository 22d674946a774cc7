// Any thread (pure). Envoy's json_format: a struct whose string values are format strings, compiled once into a
// tree of nodes (one node class for every kind). A value that is exactly one operator keeps its type (numbers
// for numeric operators, null when unset) unless the legacy untyped mode is asked for, where every value is a
// string and unset is "-". Output is one JSON object and a newline, as Envoy writes it.

import type { StreamInfo } from '../http/stream-info.ts';
import { formatSegments, OP_LITERAL, segmentJson, segmentValue, type Segment } from './command-operators.ts';
import { FormatError } from './format-error.ts';
import { parseFormat } from './substitution-parser.ts';

const NODE_VALUE = 0;
const NODE_OBJECT = 1;
const NODE_ARRAY = 2;
const NODE_CONSTANT = 3;

class JsonNode {
  readonly kind: number;
  /** NODE_VALUE: the compiled format string. */
  readonly segments: readonly Segment[];
  /** NODE_VALUE made of exactly one operator (typed output applies), else null. */
  readonly single: Segment | null;
  /** NODE_OBJECT: '"key":' per child, already JSON-escaped. */
  readonly keys: readonly string[];
  readonly children: readonly JsonNode[];
  /** NODE_CONSTANT: the serialized JSON. */
  readonly constant: string;

  constructor(kind: number, segments: readonly Segment[], keys: readonly string[], children: readonly JsonNode[], constant: string) {
    this.kind = kind;
    this.segments = segments;
    this.single = segments.length === 1 && segments[0]!.op !== OP_LITERAL ? segments[0]! : null;
    this.keys = keys;
    this.children = children;
    this.constant = constant;
  }
}

/** Characters JSON.stringify would escape (surrogates included, so lone ones get its well-formed escaping). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON string literal; skips JSON.stringify for the common case of nothing to escape (about 2x faster). */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

const NO_SEGMENTS: readonly Segment[] = Object.freeze([]);
const NO_KEYS: readonly string[] = Object.freeze([]);
const NO_CHILDREN: readonly JsonNode[] = Object.freeze([]);

export interface JsonFormatOptions {
  /** Drop keys (and list items) whose value is unset; unset parts of longer strings become "". */
  omitEmptyValues: boolean;
  /** Typed values (default true, SubstitutionFormatString.json_format); false for FileAccessLog.json_format. */
  typed?: boolean;
  /** json_format_options.sort_properties: keys in code-unit order instead of config order. */
  sortProperties?: boolean;
}

export class JsonFormat {
  private readonly root: JsonNode;
  private readonly typed: boolean;
  private readonly omitEmpty: boolean;
  private readonly emptyValue: string;

  constructor(struct: Record<string, unknown>, opts: JsonFormatOptions) {
    this.typed = opts.typed ?? true;
    this.omitEmpty = opts.omitEmptyValues;
    this.emptyValue = opts.omitEmptyValues ? '' : '-';
    this.root = compileObject(struct, opts.sortProperties ?? false, '');
  }

  format(info: StreamInfo): string {
    return this.formatNode(this.root, info)! + '\n';
  }

  /** JSON text of a node, or null when it is to be omitted. */
  private formatNode(node: JsonNode, info: StreamInfo): string | null {
    switch (node.kind) {
      case NODE_VALUE: {
        const single = node.single;
        if (single === null) return jsonString(formatSegments(node.segments, info, this.emptyValue));
        if (single.structured && this.typed) {
          const j = segmentJson(single, info);
          return j !== null ? j : this.omitEmpty ? null : 'null';
        }
        const v = segmentValue(single, info);
        if (v === null) return this.omitEmpty ? null : this.typed ? 'null' : '"-"';
        return this.typed && single.numeric ? v : jsonString(v);
      }
      case NODE_OBJECT: {
        let out = '{';
        let first = true;
        for (let i = 0; i < node.children.length; i++) {
          const v = this.formatNode(node.children[i]!, info);
          if (v === null) continue;
          out += first ? node.keys[i]! + v : ',' + node.keys[i]! + v;
          first = false;
        }
        return out + '}';
      }
      case NODE_ARRAY: {
        let out = '[';
        let first = true;
        for (let i = 0; i < node.children.length; i++) {
          const v = this.formatNode(node.children[i]!, info);
          if (v === null) continue;
          out += first ? v : ',' + v;
          first = false;
        }
        return out + ']';
      }
      default:
        return node.constant;
    }
  }
}

function compileObject(struct: Record<string, unknown>, sort: boolean, path: string): JsonNode {
  const names = Object.keys(struct);
  if (sort) names.sort();
  const keys: string[] = [];
  const children: JsonNode[] = [];
  for (const name of names) {
    keys.push(JSON.stringify(name) + ':');
    children.push(compileValue(struct[name], sort, path === '' ? name : `${path}.${name}`));
  }
  return new JsonNode(NODE_OBJECT, NO_SEGMENTS, keys, children, '');
}

function compileValue(value: unknown, sort: boolean, path: string): JsonNode {
  if (typeof value === 'string') {
    const segments = parseFormat(value);
    if (segments.every((s) => s.op === OP_LITERAL)) {
      return new JsonNode(NODE_CONSTANT, NO_SEGMENTS, NO_KEYS, NO_CHILDREN, JSON.stringify(segments.map((s) => s.text).join('')));
    }
    return new JsonNode(NODE_VALUE, segments, NO_KEYS, NO_CHILDREN, '');
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new FormatError('bad_json_format', '', `json_format value at '${path}' is not a finite number`);
    }
    return new JsonNode(NODE_CONSTANT, NO_SEGMENTS, NO_KEYS, NO_CHILDREN, JSON.stringify(value));
  }
  if (Array.isArray(value)) {
    const children = value.map((v, i) => compileValue(v, sort, `${path}[${i}]`));
    return new JsonNode(NODE_ARRAY, NO_SEGMENTS, NO_KEYS, children, '');
  }
  if (value !== null && typeof value === 'object') {
    return compileObject(value as Record<string, unknown>, sort, path);
  }
  throw new FormatError('bad_json_format', '', `json_format value at '${path}' must be a string, number, bool, list or struct, got ${value === null ? 'null' : typeof value}`);
}
