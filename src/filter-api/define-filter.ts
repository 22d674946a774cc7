// Any thread (pure; the worker loads filters with it, the primary's check child reads a module's definition with
// it). What a user filter module exports and what it is given: the definition (stats it declares, create), the
// per-factory context and the per-stream callbacks. The filter objects themselves implement the built-in filters'
// StreamFilter interface (workers/http/filters/http-filter.ts).

import type { FilterCallbacks, StreamFilter } from '../../workers/http/filters/http-filter.ts';
import type { HeaderList } from '../http/stream-info.ts';
import type { HeaderMap } from './header-map.ts';

/** The stats a filter writes besides the built-in ones, under http.<stat_prefix>.typescript_filter.<name>. */
export interface StatsDeclaration {
  readonly counters?: readonly string[];
  readonly gauges?: readonly string[];
  readonly histograms?: readonly string[];
}

/** The stats every TypeScript filter has (counted by Legate around the user's calls). */
export const BUILTIN_FILTER_COUNTERS: readonly string[] = Object.freeze(['exceptions', 'cpu_budget_exceeded', 'cpu_time_us']);

export interface Counter {
  inc(by?: number): void;
}
export interface Gauge {
  set(value: number): void;
  add(by: number): void;
  sub(by: number): void;
}
export interface Histogram {
  record(value: number): void;
}

/** A request to a cluster (context.httpCall). Header names lower-case. */
export interface HttpCallRequest {
  method: string;
  path: string;
  /** Host/:authority; default: the cluster's name. */
  authority?: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Buffer;
  /** 0 or absent: no timeout (give one). */
  timeoutMs?: number;
}

export interface HttpCallResponse {
  status: number;
  headers: HeaderList;
  body: Buffer;
  trailers: HeaderList | null;
}

/** What create() gets: made once per config version, connection manager and worker. Worker thread. */
export interface FilterContext {
  /** HttpFilter.name (the key of its typed_per_filter_config and of its stats). */
  readonly configName: string;
  /** The connection manager's stat_prefix. */
  readonly statPrefix: string;
  /** A stat the definition declared (stats.counters/gauges/histograms); throws for one it did not. */
  counter(name: string): Counter;
  gauge(name: string): Gauge;
  histogram(name: string): Histogram;
  /** Whether the config has a cluster of that name. */
  hasCluster(name: string): boolean;
  /**
   * Sends a request to `cluster` through this worker's upstream pools; resolves with the whole response (at most
   * `maxResponseBytes`, 1 MiB by default), rejects with an error whose `code` says why (no_cluster, timeout, ...).
   * Call it from a filter callback inside callbacks.runAsync so a failure stays that stream's.
   */
  httpCall(cluster: string, request: HttpCallRequest, maxResponseBytes?: number): Promise<HttpCallResponse>;
  /** The application log, lines prefixed with the filter's name. */
  readonly log: {
    debug(message: string): void;
    info(message: string): void;
    warn(message: string): void;
    error(message: string): void;
  };
}

/**
 * A stream's handle, as the built-in filters' FilterCallbacks (Envoy's names), plus what a user filter needs on
 * top. After the stream is gone (onDestroy) every call is a no-op.
 */
export interface UserFilterCallbacks extends FilterCallbacks {
  /** The route's (else its virtual host's) TypeScriptFilterPerRoute.config for this filter, as JSON; null if none. */
  perRouteConfig<T = Record<string, unknown>>(): T | null;
  /** A HeaderMap (get/set/add/remove) over a header list: the request headers, a response's, trailers. */
  headers(list: HeaderList): HeaderMap;
  /**
   * Answers the request: `status`, a text/plain `body`, extra headers. The same as
   * sendLocalReply(status, body, headers, -1, details).
   */
  respond(status: number, body?: string, headers?: Readonly<Record<string, string>> | null, details?: string): void;
  /**
   * Runs async work for this stream (a call to a cluster, a timer) with the filter's containment: a rejection is
   * counted and answered as an exception thrown by a callback would be. The usual pattern: start it in
   * decodeHeaders, return StopIteration, and call continueDecoding() or respond() when it settles.
   */
  runAsync(work: () => Promise<void>): void;
  /** The stream has ended (onDestroy ran): late async work should stop. */
  readonly destroyed: boolean;
}

/** What create() returns: the built-in HttpFilterFactory shape, or just its createFilter. */
export type UserFilterFactory =
  | { createFilter(callbacks: UserFilterCallbacks): StreamFilter }
  | ((callbacks: UserFilterCallbacks) => StreamFilter);

/** A filter module's default export. */
export interface FilterDefinition<C = Record<string, unknown>> {
  readonly stats?: StatsDeclaration;
  /** Once per config version, connection manager and worker (never per request): read config, make the factory. */
  create(config: C, context: FilterContext): UserFilterFactory;
}

/** Types a definition (an identity function: the value is the definition). */
export function defineFilter<C = Record<string, unknown>>(definition: FilterDefinition<C>): FilterDefinition<C> {
  return definition;
}

/** A module's definition, checked: create and the stats it declares (empty lists when none). */
export interface NormalizedDefinition {
  create: (config: unknown, context: FilterContext) => unknown;
  counters: string[];
  gauges: string[];
  histograms: string[];
}

const STAT_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * The definition a module namespace exports as default: `defineFilter({...})` (an object with create, optionally
 * stats) or a bare `function create(config, context)`. A string says what is wrong.
 */
export function normalizeDefinition(mod: unknown): NormalizedDefinition | string {
  const d = (mod as { default?: unknown } | null)?.default;
  if (typeof d === 'function') return { create: d as NormalizedDefinition['create'], counters: [], gauges: [], histograms: [] };
  if (d === null || typeof d !== 'object') {
    return 'the module must export a default filter definition: `export default defineFilter({ create(config, context) { ... } })` or `export default function create(config, context)`';
  }
  const create = (d as { create?: unknown }).create;
  if (typeof create !== 'function') return 'the default export has no create(config, context) function';
  const stats = (d as { stats?: unknown }).stats ?? {};
  if (stats === null || typeof stats !== 'object') return 'stats must be an object of counters, gauges and histograms';
  const seen = new Set<string>(BUILTIN_FILTER_COUNTERS);
  const lists: string[][] = [];
  for (const kind of ['counters', 'gauges', 'histograms'] as const) {
    const v = (stats as Record<string, unknown>)[kind] ?? [];
    if (!Array.isArray(v)) return `stats.${kind} must be a list of names`;
    const names: string[] = [];
    for (const n of v) {
      if (typeof n !== 'string' || !STAT_NAME.test(n)) return `stats.${kind}: '${String(n)}' is not a stat name (letters, digits, '_', '.')`;
      if (seen.has(n)) return `stats.${kind}: '${n}' is declared twice or is a built-in stat (${BUILTIN_FILTER_COUNTERS.join(', ')})`;
      seen.add(n);
      names.push(n);
    }
    lists.push(names);
  }
  return { create: create.bind(d) as NormalizedDefinition['create'], counters: lists[0]!, gauges: lists[1]!, histograms: lists[2]! };
}
