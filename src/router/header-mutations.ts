// Any thread (compiled at config time; apply() runs on the request path). One level (route, virtual host or
// route configuration) of request/response_headers_to_add and _to_remove: Envoy's HeaderParser::evaluateHeaders.

import type { HeaderList, StreamInfo } from '../http/stream-info.ts';
import { hasHeader, removeHeader, setHeader } from '../http/header-list.ts';
import { asciiLower } from './ascii.ts';
import { bool, checkHeaderName, checkHeaderValue, isObj, list, obj, str, type RouteConfigProblem } from './config-values.ts';

export type HeaderValueFormatter = (info: StreamInfo) => string;

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction. */
export const AppendAction = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
} as const;

const APPEND_ACTIONS: Readonly<Record<string, number>> = AppendAction;

// Scratch for one apply(): every value is formatted against the headers as they were before this level adds
// anything (Envoy evaluates all formatters first), then overwrites, then appends. Workers are single-threaded
// and apply() never re-enters, so one set per thread is enough.
const overwriteNames: string[] = [];
const overwriteValues: string[] = [];
const addNames: string[] = [];
const addValues: string[] = [];

export class HeaderMutationLevel {
  /** Lower-cased names; removed before anything is added (Envoy: remove-before-add). */
  readonly remove: readonly string[];
  readonly names: readonly string[];
  /** Plain values; '' where a formatter is used. */
  readonly values: readonly string[];
  /** null where the value is plain (has no '%'). */
  readonly formatters: readonly (HeaderValueFormatter | null)[];
  readonly actions: readonly number[];
  readonly keepEmpty: readonly boolean[];

  constructor(
    remove: string[], names: string[], values: string[], formatters: (HeaderValueFormatter | null)[], actions: number[],
    keepEmpty: boolean[],
  ) {
    this.remove = Object.freeze(remove);
    this.names = Object.freeze(names);
    this.values = Object.freeze(values);
    this.formatters = Object.freeze(formatters);
    this.actions = Object.freeze(actions);
    this.keepEmpty = Object.freeze(keepEmpty);
    Object.freeze(this);
  }

  apply(headers: HeaderList, info: StreamInfo): void {
    const remove = this.remove;
    for (let i = 0; i < remove.length; i++) removeHeader(headers, remove[i]!);
    const names = this.names;
    if (names.length === 0) return;
    let nOver = 0;
    let nAdd = 0;
    for (let i = 0; i < names.length; i++) {
      const f = this.formatters[i]!;
      const value = f === null ? this.values[i]! : f(info);
      if (value === '' && !this.keepEmpty[i]) continue;
      const name = names[i]!;
      const action = this.actions[i]!;
      if (action === AppendAction.APPEND_IF_EXISTS_OR_ADD || (action === AppendAction.ADD_IF_ABSENT && !hasHeader(headers, name))) {
        addNames[nAdd] = name;
        addValues[nAdd++] = value;
      } else if (action === AppendAction.OVERWRITE_IF_EXISTS_OR_ADD || (action === AppendAction.OVERWRITE_IF_EXISTS && hasHeader(headers, name))) {
        overwriteNames[nOver] = name;
        overwriteValues[nOver++] = value;
      }
    }
    for (let i = 0; i < nOver; i++) {
      setHeader(headers, overwriteNames[i]!, overwriteValues[i]!);
      overwriteValues[i] = '';
    }
    for (let i = 0; i < nAdd; i++) {
      headers.push(addNames[i]!, addValues[i]!);
      addValues[i] = '';
    }
  }
}

/** Envoy's HeaderUtility::isModifiableHeader / isRemovableHeader: not ':'-prefixed and not host. */
function isProtectedHeader(lowerName: string): boolean {
  return lowerName.charCodeAt(0) === 58 /* : */ || lowerName === 'host';
}

/**
 * One level's `*_headers_to_add` / `*_headers_to_remove` (paths are those two fields); null when both are empty.
 * `compileHeaderValue` is called only for values containing '%'.
 */
export function compileMutationLevel(
  toAdd: unknown, toRemove: unknown, addPath: string, removePath: string,
  compileHeaderValue: (template: string) => HeaderValueFormatter, problems: RouteConfigProblem[],
): HeaderMutationLevel | null {
  const adds = list(toAdd);
  const removes = list(toRemove);
  if (adds.length === 0 && removes.length === 0) return null;
  const remove: string[] = [];
  removes.forEach((r, i) => {
    const p = `${removePath}[${i}]`;
    const name = str(r, '');
    if (!checkHeaderName(name, p, problems)) return;
    const lower = asciiLower(name);
    if (isProtectedHeader(lower)) {
      problems.push({ path: p, message: `'${name}': ':'-prefixed headers and host may not be removed` });
      return;
    }
    remove.push(lower);
  });
  const names: string[] = [];
  const values: string[] = [];
  const formatters: (HeaderValueFormatter | null)[] = [];
  const actions: number[] = [];
  const keepEmpty: boolean[] = [];
  adds.forEach((a, i) => {
    const p = `${addPath}[${i}]`;
    const hvo = obj(a);
    if (!isObj(hvo['header'])) {
      problems.push({ path: `${p}.header`, message: 'header is required' });
      return;
    }
    const header = obj(hvo['header']);
    const key = str(header['key'], '');
    if (!checkHeaderName(key, `${p}.header.key`, problems)) return;
    const lower = asciiLower(key);
    if (isProtectedHeader(lower)) {
      problems.push({ path: `${p}.header.key`, message: `'${key}': ':'-prefixed headers and host may not be modified (use the route's host_rewrite_* or path rewrites)` });
      return;
    }
    const value = str(header['value'], '');
    checkHeaderValue(value, `${p}.header.value`, problems);
    let action = AppendAction.APPEND_IF_EXISTS_OR_ADD as number;
    const actionName = hvo['append_action'];
    if (typeof actionName === 'string') action = APPEND_ACTIONS[actionName] ?? action;
    if (hvo['append'] !== undefined) {
      // Deprecated `append` may only be combined with the default append_action (Envoy's HeadersToAddEntry).
      if (action !== AppendAction.APPEND_IF_EXISTS_OR_ADD) {
        problems.push({ path: `${p}.append`, message: 'append and append_action cannot both be set; use append_action only' });
        return;
      }
      action = bool(hvo['append'], true) ? AppendAction.APPEND_IF_EXISTS_OR_ADD : AppendAction.OVERWRITE_IF_EXISTS_OR_ADD;
    }
    let formatter: HeaderValueFormatter | null = null;
    if (value.includes('%')) {
      try {
        formatter = compileHeaderValue(value);
      } catch (err) {
        problems.push({ path: `${p}.header.value`, message: `invalid header value format: ${(err as Error).message}` });
        return;
      }
    }
    names.push(lower);
    values.push(formatter === null ? value : '');
    formatters.push(formatter);
    actions.push(action);
    keepEmpty.push(bool(hvo['keep_empty_value'], false));
  });
  return new HeaderMutationLevel(remove, names, values, formatters, actions, keepEmpty);
}
