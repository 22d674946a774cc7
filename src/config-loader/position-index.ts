// Any thread (pure). Field path -> where it was written, built by the schema walk and read by every later stage
// (compile-snapshot reports its own problems through it).
//
// Which position a path maps to, consistently:
// - a field (`a.b`) or a map entry (`a["k"]`): where its KEY is written; that is the line a person looks for
//   and it exists even when the value is empty (`field:`) or spans many lines;
// - a list item (`a[0]`): where the item starts (the `-` item's first token);
// - the root (''): the start of the document.
// Paths use snake_case field names whatever spelling the input used. A path with no position of its own (a
// default filled in, a problem about an absent field) resolves to its nearest ancestor that has one.

import type { FieldPath, PositionIndex, SourcePosition } from './types.ts';

/** `a.b[0]["k"]` -> `a.b[0]`, `a.b[0]` -> `a.b`, `a.b` -> `a`, `a` -> ''. */
export function parentPath(path: FieldPath): FieldPath {
  if (path.endsWith('"]')) {
    const open = path.lastIndexOf('["');
    if (open >= 0) return path.slice(0, open);
  }
  if (path.endsWith(']')) {
    const open = path.lastIndexOf('[');
    if (open >= 0) return path.slice(0, open);
  }
  const dot = path.lastIndexOf('.');
  return dot >= 0 ? path.slice(0, dot) : '';
}

/** `parent.field`, or `field` at the root. */
export function fieldPath(parent: FieldPath, name: string): FieldPath {
  return parent === '' ? name : `${parent}.${name}`;
}

export function itemPath(parent: FieldPath, index: number): FieldPath {
  return `${parent}[${index}]`;
}

/** Map entries (and Struct keys that are not plain identifiers) as `parent["key"]`. */
export function mapEntryPath(parent: FieldPath, key: string): FieldPath {
  return `${parent}[${JSON.stringify(key)}]`;
}

export class MapPositionIndex implements PositionIndex {
  private readonly byPath = new Map<FieldPath, SourcePosition>();

  /** First record wins: a field's key position is recorded before anything under it. */
  record(path: FieldPath, position: SourcePosition | undefined): void {
    if (position === undefined || this.byPath.has(path)) return;
    this.byPath.set(path, position);
  }

  /** The path's own position, without falling back to an ancestor. */
  own(path: FieldPath): SourcePosition | undefined {
    return this.byPath.get(path);
  }

  at(path: FieldPath): SourcePosition | undefined {
    let p = path;
    for (;;) {
      const found = this.byPath.get(p);
      if (found !== undefined) return found;
      if (p === '') return undefined;
      p = parentPath(p);
    }
  }

  get size(): number {
    return this.byPath.size;
  }
}
