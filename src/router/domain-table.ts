// Any thread (built at config time; find() runs on the request path). Virtual host selection by Host, Envoy's
// RouteMatcher::findVirtualHost: exact domains, then suffix wildcards (*.foo.com, *-bar.foo.com) longest first,
// then prefix wildcards (foo.*) longest first, then '*'. A wildcard matches at least one character. The Host is
// compared lower-cased and whole: a port in it is part of the name (no strip_*_host_port options), so
// "foo.com:8080" only matches a domain "foo.com:8080", a wildcard that covers it, or '*'.

import { asciiLower } from './ascii.ts';

/** Wildcards of one length: few enough are scanned with endsWith/startsWith, more are looked up in a map. */
class WildcardLevel<V> {
  /** Length of the fixed part (the domain without its '*'). */
  readonly length: number;
  readonly keys: string[] = [];
  readonly values: V[] = [];
  map: Map<string, V> | null = null;

  constructor(length: number) {
    this.length = length;
  }
}

const SCAN_LIMIT = 4;

export type DomainKind = 'exact' | 'suffix' | 'prefix' | 'default';

export class DomainTable<V> {
  private readonly exact = new Map<string, V>();
  private readonly suffixes: WildcardLevel<V>[] = [];
  private readonly prefixes: WildcardLevel<V>[] = [];
  private defaultValue: V | null = null;
  private onlyDefault = true;

  /** What `domain` (lower-cased, validated) would be: where it goes and its key. */
  static classify(domain: string): { kind: DomainKind; key: string } {
    if (domain === '*') return { kind: 'default', key: '*' };
    if (domain.startsWith('*')) return { kind: 'suffix', key: domain.slice(1) };
    if (domain.endsWith('*')) return { kind: 'prefix', key: domain.slice(0, -1) };
    return { kind: 'exact', key: domain };
  }

  /** Adds a domain; false when it is already taken (the caller reports it). */
  add(domain: string, value: V): boolean {
    const { kind, key } = DomainTable.classify(asciiLower(domain));
    if (kind === 'default') {
      if (this.defaultValue !== null) return false;
      this.defaultValue = value;
      return true;
    }
    this.onlyDefault = false;
    if (kind === 'exact') {
      if (this.exact.has(key)) return false;
      this.exact.set(key, value);
      return true;
    }
    const levels = kind === 'suffix' ? this.suffixes : this.prefixes;
    let level = levels.find((l) => l.length === key.length);
    if (level === undefined) {
      level = new WildcardLevel<V>(key.length);
      levels.push(level);
      levels.sort((a, b) => b.length - a.length);
    }
    if (level.keys.includes(key)) return false;
    level.keys.push(key);
    level.values.push(value);
    return true;
  }

  /** Call once all domains are added. */
  seal(): void {
    for (const levels of [this.suffixes, this.prefixes]) {
      for (const l of levels) {
        if (l.keys.length > SCAN_LIMIT) l.map = new Map(l.keys.map((k, i) => [k, l.values[i]!]));
        Object.freeze(l.keys);
        Object.freeze(l.values);
        Object.freeze(l);
      }
      Object.freeze(levels);
    }
    Object.freeze(this);
  }

  find(authority: string): V | null {
    // Only '*' (or nothing): Envoy's fast path, the Host is not even looked at.
    if (this.onlyDefault) return this.defaultValue;
    const host = asciiLower(authority);
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    const n = host.length;
    const suffixes = this.suffixes;
    for (let i = 0; i < suffixes.length; i++) {
      const l = suffixes[i]!;
      if (l.length >= n) continue;
      if (l.map !== null) {
        const v = l.map.get(host.slice(n - l.length));
        if (v !== undefined) return v;
      } else {
        const keys = l.keys;
        for (let k = 0; k < keys.length; k++) if (host.endsWith(keys[k]!)) return l.values[k]!;
      }
    }
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const l = prefixes[i]!;
      if (l.length >= n) continue;
      if (l.map !== null) {
        const v = l.map.get(host.slice(0, l.length));
        if (v !== undefined) return v;
      } else {
        const keys = l.keys;
        for (let k = 0; k < keys.length; k++) if (host.startsWith(keys[k]!)) return l.values[k]!;
      }
    }
    return this.defaultValue;
  }
}
