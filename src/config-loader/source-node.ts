// Any thread (pure). A parsed config value that remembers where it came from (file:line:col), independent of the
// YAML library, so the schema walk and the --config-yaml merge work the same for files and for plain objects.

import type { SourcePosition } from './types.ts';

export type SourceNodeKind = 'map' | 'seq' | 'scalar';
export type ScalarValue = string | number | boolean | null;

export class SourceEntry {
  readonly key: string;
  readonly keyPosition: SourcePosition | undefined;
  value: SourceNode;
  constructor(key: string, keyPosition: SourcePosition | undefined, value: SourceNode) {
    this.key = key;
    this.keyPosition = keyPosition;
    this.value = value;
  }
}

export class SourceNode {
  readonly kind: SourceNodeKind;
  readonly position: SourcePosition | undefined;
  /** Scalars only. */
  readonly scalar: ScalarValue;
  /** Scalars only: written without quotes in YAML (Envoy's YAML reader gives such scalars their bool/number type). */
  readonly plain: boolean;
  /** Maps only, in source order. */
  readonly entries: SourceEntry[];
  /** Sequences only. */
  readonly items: SourceNode[];

  constructor(
    kind: SourceNodeKind,
    position: SourcePosition | undefined,
    scalar: ScalarValue,
    plain: boolean,
    entries: SourceEntry[],
    items: SourceNode[],
  ) {
    this.kind = kind;
    this.position = position;
    this.scalar = scalar;
    this.plain = plain;
    this.entries = entries;
    this.items = items;
  }

  static scalarNode(value: ScalarValue, position: SourcePosition | undefined, plain: boolean): SourceNode {
    return new SourceNode('scalar', position, value, plain, [], []);
  }
  static mapNode(entries: SourceEntry[], position: SourcePosition | undefined): SourceNode {
    return new SourceNode('map', position, null, false, entries, []);
  }
  static seqNode(items: SourceNode[], position: SourcePosition | undefined): SourceNode {
    return new SourceNode('seq', position, null, false, [], items);
  }
}

/** What a person calls this value's type in an error message. */
export function describeNode(node: SourceNode): string {
  if (node.kind === 'map') return 'an object';
  if (node.kind === 'seq') return 'a list';
  const v = node.scalar;
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * A plain JS value (decoded JSON, an xDS resource decoded elsewhere) as a SourceNode without positions. bigint
 * becomes a number, bytes become base64, undefined members are skipped.
 */
export function sourceNodeFromValue(value: unknown): SourceNode {
  if (value === null || value === undefined) return SourceNode.scalarNode(null, undefined, false);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return SourceNode.scalarNode(value, undefined, false);
  }
  if (typeof value === 'bigint') return SourceNode.scalarNode(Number(value), undefined, false);
  if (value instanceof Uint8Array) return SourceNode.scalarNode(Buffer.from(value).toString('base64'), undefined, false);
  if (Array.isArray(value)) {
    const items: SourceNode[] = [];
    for (let i = 0; i < value.length; i++) items.push(sourceNodeFromValue(value[i]));
    return SourceNode.seqNode(items, undefined);
  }
  if (typeof value === 'object') {
    const entries: SourceEntry[] = [];
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (obj[key] === undefined) continue;
      entries.push(new SourceEntry(key, undefined, sourceNodeFromValue(obj[key])));
    }
    return SourceNode.mapNode(entries, undefined);
  }
  return SourceNode.scalarNode(String(value), undefined, false);
}
