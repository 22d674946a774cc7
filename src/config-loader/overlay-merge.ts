// Any thread (pure). The --config-yaml overlay merged over the config file the way Envoy does it (protobuf
// MergeFrom of the two parsed Bootstraps), done on SourceNode trees so every value keeps the position it was
// written at (the overlay's point into "--config-yaml"):
// - message fields merge recursively; repeated fields are concatenated (a single value counts as a list of
//   one); map fields merge by key (an overlay entry replaces the file's entry with that key);
// - scalars, enums and well-known types (Duration, wrappers, Any, Struct, Value, ...) are replaced whole;
// - setting one member of a oneof drops the file's other members of it.
// Nothing is validated here: a value of the wrong shape simply replaces, and the schema walk reports it.

import { messageFacts, type FieldFacts, type MessageFacts } from './message-facts.ts';
import type { MessageInfo, ProtoSchema } from './proto-schema.ts';
import { SourceEntry, SourceNode } from './source-node.ts';

export function mergeOverlay(base: SourceNode, overlay: SourceNode, info: MessageInfo, schema: ProtoSchema): SourceNode {
  return mergeMessage(base, overlay, messageFacts(info, schema), schema);
}

function mergeMessage(base: SourceNode, overlay: SourceNode, facts: MessageFacts, schema: ProtoSchema): SourceNode {
  if (base.kind !== 'map' || overlay.kind !== 'map') return overlay;
  const entries = base.entries.slice();
  // An overlay that spells one field twice keeps both, so the walk reports it as in any other map.
  const fromOverlay = new Set<FieldFacts>();
  for (let i = 0; i < overlay.entries.length; i++) {
    const oe = overlay.entries[i]!;
    const f = facts.field(oe.key);
    if (f === undefined || fromOverlay.has(f)) {
      entries.push(oe);
      continue;
    }
    fromOverlay.add(f);
    let at = -1;
    for (let j = 0; j < entries.length; j++) {
      const bf = facts.field(entries[j]!.key);
      if (bf === undefined) continue;
      if (bf === f) {
        if (at === -1) at = j;
      } else if (f.oneof !== undefined && bf.oneof === f.oneof) {
        entries.splice(j, 1);
        j--;
      }
    }
    if (at === -1) {
      entries.push(oe);
      continue;
    }
    const be = entries[at]!;
    entries[at] = mergeField(be, oe, f, schema);
  }
  return SourceNode.mapNode(entries, base.position);
}

function mergeField(be: SourceEntry, oe: SourceEntry, f: FieldFacts, schema: ProtoSchema): SourceEntry {
  const b = be.value;
  const o = oe.value;
  // An explicit null in the overlay means "not set" in proto3 JSON: it leaves the file's value alone.
  if (o.kind === 'scalar' && o.scalar === null) return be;
  if (f.repeated) {
    // A single value stands for a list of one, as in the schema walk.
    const items = (b.kind === 'seq' ? b.items : [b]).concat(o.kind === 'seq' ? o.items : [o]);
    return new SourceEntry(be.key, be.keyPosition, SourceNode.seqNode(items, b.position));
  }
  if (f.isMap) {
    if (b.kind !== 'map' || o.kind !== 'map') return oe;
    const merged = b.entries.slice();
    for (let i = 0; i < o.entries.length; i++) {
      const e = o.entries[i]!;
      const j = merged.findIndex((m) => m.key === e.key);
      if (j === -1) merged.push(e);
      else merged[j] = e;
    }
    return new SourceEntry(be.key, be.keyPosition, SourceNode.mapNode(merged, b.position));
  }
  if (f.valueKind === 'message' && f.wellKnown === undefined && f.message !== undefined) {
    if (b.kind !== 'map' || o.kind !== 'map') return oe;
    return new SourceEntry(be.key, be.keyPosition, mergeMessage(b, o, messageFacts(f.message, schema), schema));
  }
  return oe;
}
