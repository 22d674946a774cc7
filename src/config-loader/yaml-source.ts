// Any thread (pure). YAML or JSON text -> SourceNode tree with file:line:col on every key and value.
// JSON is parsed by the same parser (YAML 1.2 is a superset), so both report positions the same way.

import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, isPair } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { makeProblem } from './config-error.ts';
import { SourceEntry, SourceNode } from './source-node.ts';
import type { ConfigProblem, SourcePosition } from './types.ts';

export interface ParsedSource {
  /** undefined when the text holds no document (empty, or only comments) or did not parse. */
  root: SourceNode | undefined;
  problems: ConfigProblem[];
}

const MAX_DEPTH = 200;

class YamlWalker {
  readonly file: string;
  readonly lines: LineCounter;
  readonly doc: Document.Parsed;
  readonly problems: ConfigProblem[] = [];

  constructor(file: string, lines: LineCounter, doc: Document.Parsed) {
    this.file = file;
    this.lines = lines;
    this.doc = doc;
  }

  positionAt(offset: number): SourcePosition {
    const lp = this.lines.linePos(offset);
    return { file: this.file, line: lp.line, column: lp.col };
  }

  positionOf(node: YamlNode | null | undefined, fallback: SourcePosition | undefined): SourcePosition | undefined {
    if (node === null || node === undefined || node.range === undefined || node.range === null) return fallback;
    return this.positionAt(node.range[0]);
  }

  walk(node: unknown, fallback: SourcePosition | undefined, depth: number): SourceNode {
    if (depth > MAX_DEPTH) {
      this.problems.push(makeProblem('syntax', '', fallback, `nesting deeper than ${MAX_DEPTH} levels`));
      return SourceNode.scalarNode(null, fallback, true);
    }
    if (node === null || node === undefined) return SourceNode.scalarNode(null, fallback, true);
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined) {
        this.problems.push(makeProblem('syntax', '', this.positionOf(node, fallback), `unknown alias *${node.source}`));
        return SourceNode.scalarNode(null, this.positionOf(node, fallback), true);
      }
      return this.walk(target, this.positionOf(node, fallback), depth + 1);
    }
    if (isScalar(node)) {
      const pos = this.positionOf(node, fallback);
      const plain = node.type === 'PLAIN' || node.type === undefined;
      const v = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        return SourceNode.scalarNode(v, pos, plain);
      }
      if (typeof v === 'bigint') return SourceNode.scalarNode(Number(v), pos, plain);
      return SourceNode.scalarNode(node.source ?? String(v), pos, plain);
    }
    if (isSeq(node)) {
      const pos = this.positionOf(node, fallback);
      const items: SourceNode[] = [];
      for (let i = 0; i < node.items.length; i++) items.push(this.walk(node.items[i], pos, depth + 1));
      return SourceNode.seqNode(items, pos);
    }
    if (isMap(node)) {
      const pos = this.positionOf(node, fallback);
      const entries: SourceEntry[] = [];
      const merged: SourceEntry[] = [];
      for (let i = 0; i < node.items.length; i++) {
        const pair = node.items[i];
        if (!isPair(pair)) continue;
        const keyNode = pair.key as YamlNode | null;
        const keyPos = this.positionOf(keyNode, pos);
        if (isScalar(keyNode) && keyNode.value === '<<' && keyNode.type === 'PLAIN') {
          // YAML merge key: entries of the aliased map(s) fill in keys this map does not set itself.
          const src = this.walk(pair.value, keyPos, depth + 1);
          const maps = src.kind === 'seq' ? src.items : [src];
          for (let m = 0; m < maps.length; m++) {
            const mm = maps[m]!;
            if (mm.kind !== 'map') {
              this.problems.push(makeProblem('syntax', '', mm.position, 'the merge key << needs a map or a list of maps'));
              continue;
            }
            for (let e = 0; e < mm.entries.length; e++) merged.push(mm.entries[e]!);
          }
          continue;
        }
        let key: string;
        if (isScalar(keyNode)) key = String(keyNode.value);
        else if (keyNode === null) key = '';
        else {
          this.problems.push(makeProblem('syntax', '', keyPos, 'a map key must be a plain value, not a list or map'));
          continue;
        }
        entries.push(new SourceEntry(key, keyPos, this.walk(pair.value, keyPos, depth + 1)));
      }
      for (let e = 0; e < merged.length; e++) {
        const m = merged[e]!;
        let present = false;
        for (let j = 0; j < entries.length; j++) if (entries[j]!.key === m.key) present = true;
        if (!present) entries.push(m);
      }
      return SourceNode.mapNode(entries, pos);
    }
    return SourceNode.scalarNode(null, fallback, true);
  }
}

/** Parses one YAML/JSON text; `file` names it in positions ("--config-yaml" for the command-line overlay). */
export function parseYamlSource(text: string, file: string): ParsedSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const problems: ConfigProblem[] = [];
  if (doc.errors.length > 0) {
    for (let i = 0; i < doc.errors.length; i++) {
      const err = doc.errors[i]!;
      const lp = lines.linePos(err.pos[0]);
      problems.push(makeProblem('syntax', '', { file, line: lp.line, column: lp.col }, `YAML syntax: ${err.message}`));
    }
    return { root: undefined, problems };
  }
  if (doc.contents === null) return { root: undefined, problems };
  const walker = new YamlWalker(file, lines, doc);
  const root = walker.walk(doc.contents, { file, line: 1, column: 1 }, 0);
  return { root, problems: walker.problems };
}
