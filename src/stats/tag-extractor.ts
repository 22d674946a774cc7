// Any thread (pure). Turns a full stat name into Envoy's tag-extracted name and tags, with the default rules
// of tag-rules.ts. Runs once per stat when the registry allocates it, never per write.

import { DEFAULT_TAG_RULES, type TagRule } from './tag-rules.ts';

export interface StatTag {
  readonly name: string;
  readonly value: string;
}

/** Tags the caller knows (a scope's cluster name, listener address, ...): `[tagName, tagValue]`. */
export type ExplicitTags = ReadonlyArray<readonly [tagName: string, tagValue: string]>;

export interface ExtractedTags {
  /** The name with every tag value taken out: `cluster.upstream_rq_total`. */
  readonly tagExtractedName: string;
  /** In rule order (Envoy's label order), then explicit tags no rule placed. */
  readonly tags: readonly StatTag[];
}

const DEFAULT_REGEXES: readonly RegExp[] = DEFAULT_TAG_RULES.map((r) => compile(r, r.valuePattern));
/** Rule regexes with a known value in place of the value pattern, by `ruleIndex \0 value`. */
const literalRegexes = new Map<string, RegExp>();

function compile(rule: TagRule, valuePattern: string): RegExp {
  // 'd' gives group offsets: the removed characters are located in the original name.
  return new RegExp(rule.pattern.replace('{V}', () => valuePattern), 'd');
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

function literalRegex(ruleIndex: number, value: string): RegExp {
  const key = `${ruleIndex}\u0000${value}`;
  let re = literalRegexes.get(key);
  if (re === undefined) {
    re = compile(DEFAULT_TAG_RULES[ruleIndex]!, escapeRegExp(value));
    literalRegexes.set(key, re);
  }
  return re;
}

/**
 * Envoy's extraction: every rule is matched against the original name; the first rule of each tag name that
 * matches gives the value; the characters of every match's group 1 leave the name. An explicit tag's value is
 * matched literally, so a cluster named `a.b` gives `envoy_cluster_name="a.b"` (Envoy's regexes would give
 * "a"; a scope knows better).
 */
export function extractTags(name: string, explicit: ExplicitTags = []): ExtractedTags {
  const rules = DEFAULT_TAG_RULES;
  const removed = new Uint8Array(name.length);
  const tags: StatTag[] = [];
  const placed = new Set<string>();
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (placed.has(rule.tagName)) continue;
    if (rule.substring !== '' && !name.includes(rule.substring)) continue;
    const explicitValue = valueOf(explicit, rule.tagName);
    const re = explicitValue === undefined ? DEFAULT_REGEXES[i]! : literalRegex(i, explicitValue);
    const m = re.exec(name);
    if (m === null) continue;
    const value = m[2]!;
    if (rule.excludedValue !== '' && value === rule.excludedValue) continue;
    const span = m.indices![1]!;
    for (let c = span[0]; c < span[1]; c++) removed[c] = 1;
    tags.push(Object.freeze({ name: rule.tagName, value }));
    placed.add(rule.tagName);
  }
  for (let i = 0; i < explicit.length; i++) {
    const [tagName, value] = explicit[i]!;
    if (placed.has(tagName)) continue;
    tags.push(Object.freeze({ name: tagName, value }));
    placed.add(tagName);
  }
  let extracted = '';
  for (let c = 0; c < name.length; c++) if (removed[c] === 0) extracted += name[c];
  return Object.freeze({ tagExtractedName: extracted, tags: Object.freeze(tags) });
}

function valueOf(explicit: ExplicitTags, tagName: string): string | undefined {
  for (let i = 0; i < explicit.length; i++) if (explicit[i]![0] === tagName) return explicit[i]![1];
  return undefined;
}
