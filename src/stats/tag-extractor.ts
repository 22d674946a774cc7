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
  return DEFAULT_TAG_PRODUCER.extract(name, explicit);
}

/** stats_config's tag rules, compiled (src/stats/stats-config.ts gives them checked). */
export interface TagProducerSettings {
  /** Custom rules, in order, before the defaults: [label name, regex source (group 1 removed, group 2 the value)]. */
  readonly regexRules: readonly (readonly [string, string])[];
  /** use_all_default_tags. */
  readonly useAllDefaultTags: boolean;
  /** Default rules kept by name when useAllDefaultTags is false (label names). */
  readonly defaultTags: readonly string[];
  /** fixed_value tags, on every stat. */
  readonly fixedTags: readonly (readonly [string, string])[];
}

/** Envoy's TagProducer: the custom rules, then the default rules that are enabled, then the fixed tags. */
export class TagProducer {
  private readonly custom: readonly { readonly label: string; readonly re: RegExp }[];
  private readonly defaultEnabled: readonly boolean[];
  private readonly enabledLabels: ReadonlySet<string> | null;
  private readonly fixed: readonly StatTag[];

  constructor(settings: TagProducerSettings | null = null) {
    this.custom = (settings?.regexRules ?? []).map(([label, source]) => Object.freeze({ label, re: new RegExp(source, 'd') }));
    const all = settings === null || settings.useAllDefaultTags;
    const kept = new Set(settings?.defaultTags ?? []);
    this.defaultEnabled = DEFAULT_TAG_RULES.map((r) => all || kept.has(r.tagName));
    this.enabledLabels = all ? null : kept;
    this.fixed = (settings?.fixedTags ?? []).map(([n, v]) => Object.freeze({ name: n, value: v }));
  }

  extract(name: string, explicit: ExplicitTags = []): ExtractedTags {
    const removed = new Uint8Array(name.length);
    const tags: StatTag[] = [];
    const placed = new Set<string>();
    for (const c of this.custom) {
      if (placed.has(c.label)) continue;
      const m = c.re.exec(name);
      if (m === null || m.indices?.[1] === undefined) continue;
      const value = m[2] ?? m[1]!;
      const span = m.indices[1];
      for (let i = span[0]; i < span[1]; i++) removed[i] = 1;
      tags.push(Object.freeze({ name: c.label, value }));
      placed.add(c.label);
    }
    const rules = DEFAULT_TAG_RULES;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!this.defaultEnabled[i] || placed.has(rule.tagName)) continue;
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
      if (this.enabledLabels !== null && !this.enabledLabels.has(tagName)) continue;
      tags.push(Object.freeze({ name: tagName, value }));
      placed.add(tagName);
    }
    for (const f of this.fixed) {
      if (placed.has(f.name)) continue;
      tags.push(f);
      placed.add(f.name);
    }
    let extracted = '';
    for (let c = 0; c < name.length; c++) if (removed[c] === 0) extracted += name[c];
    return Object.freeze({ tagExtractedName: extracted, tags: Object.freeze(tags) });
  }
}

const DEFAULT_TAG_PRODUCER = new TagProducer();

function valueOf(explicit: ExplicitTags, tagName: string): string | undefined {
  for (let i = 0; i < explicit.length; i++) if (explicit[i]![0] === tagName) return explicit[i]![1];
  return undefined;
}
