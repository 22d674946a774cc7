// Worker thread (user filters). A typed view over a HeaderList (the flat [name, value, ...] array the filter chain
// passes, names lower-case): reads and edits go to the list itself, so what a filter changes is what the next filter,
// the router and the client see. Names given are lower-cased; values are strings.

import type { HeaderList } from '../http/stream-info.ts';
import { removeHeader, setHeader } from '../http/header-list.ts';

export class HeaderMap {
  /** The list this view edits. */
  readonly list: HeaderList;

  constructor(list: HeaderList) {
    this.list = list;
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) if (l[i] === n) return l[i + 1];
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const l = this.list;
    const out: string[] = [];
    for (let i = 0; i < l.length; i += 2) if (l[i] === n) out.push(l[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces every value of `name` with `value` (the first keeps its place). */
  set(name: string, value: string): void {
    setHeader(this.list, name.toLowerCase(), String(value));
  }

  /** Appends one more `name: value`. */
  add(name: string, value: string): void {
    this.list.push(name.toLowerCase(), String(value));
  }

  /** Removes every value of `name`. */
  remove(name: string): void {
    removeHeader(this.list, name.toLowerCase());
  }

  /** Calls `fn` for each field in order. */
  forEach(fn: (value: string, name: string) => void): void {
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) fn(l[i + 1]!, l[i]!);
  }

  /** The fields as an object (repeated names joined with ", "), for logging and tests. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) {
      const n = l[i]!;
      out[n] = out[n] === undefined ? l[i + 1]! : `${out[n]}, ${l[i + 1]!}`;
    }
    return out;
  }
}

/** A HeaderMap over `list`. */
export function headersOf(list: HeaderList): HeaderMap {
  return new HeaderMap(list);
}
