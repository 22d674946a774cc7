// Tests of user filters (any thread; no proxy involved). Runs a filter definition against one fake stream: the
// test calls the filter's callbacks as the chain would and reads what the filter did (local reply, continues,
// dynamic metadata, stats). For the whole path (codecs, router, upstream) run bin/legate as test/e2e does.

import { StreamInfo, type HeaderList } from '../http/stream-info.ts';
import type { StreamFilter } from '../../workers/http/filters/http-filter.ts';
import { HeaderMap } from './header-map.ts';
import { normalizeDefinition, type FilterContext, type FilterDefinition, type UserFilterCallbacks } from './define-filter.ts';

export interface TestStreamOptions {
  /** TypeScriptFilter.config. */
  config?: Record<string, unknown>;
  /** TypeScriptFilterPerRoute.config of the request's route, or none. */
  perRouteConfig?: Record<string, unknown> | null;
  /** The request headers (lower-case names), e.g. [':method', 'GET', ':path', '/', 'host', 'example.com']. */
  requestHeaders?: HeaderList;
  /** Clusters context.hasCluster knows, and what context.httpCall answers for each. */
  clusters?: Record<string, (req: Parameters<FilterContext['httpCall']>[1]) => { status: number; headers?: HeaderList; body?: string }>;
}

export interface LocalReplyRecord {
  status: number;
  body: string;
  headers: HeaderList | null;
  details: string;
}

/** One fake stream through a filter. */
export interface TestStream {
  readonly filter: StreamFilter;
  readonly callbacks: UserFilterCallbacks;
  /** Stats by name (what the filter counted). */
  readonly stats: Map<string, number>;
  /** The filter's local reply, or null. */
  localReply: LocalReplyRecord | null;
  continuedDecoding: number;
  continuedEncoding: number;
  /** Waits until async work started with runAsync has settled; rethrows its failure. */
  settle(): Promise<void>;
}

/** Makes the filter of `definition` for one stream. */
export function createTestStream(definition: FilterDefinition<never> | ((config: never, context: FilterContext) => unknown), o: TestStreamOptions = {}): TestStream {
  const d = normalizeDefinition({ default: definition });
  if (typeof d === 'string') throw new TypeError(d);
  const stats = new Map<string, number>();
  for (const n of [...d.counters, ...d.gauges, ...d.histograms]) stats.set(n, 0);
  const stat = (name: string): string => {
    if (!stats.has(name)) throw new Error(`stat '${name}' is not declared in the definition's stats`);
    return name;
  };
  const clusters = o.clusters ?? {};
  const context: FilterContext = {
    configName: 'test_filter',
    statPrefix: 'test',
    counter: (n) => { const s = stat(n); return { inc: (by = 1) => { stats.set(s, stats.get(s)! + by); } }; },
    gauge: (n) => {
      const s = stat(n);
      return { set: (v) => { stats.set(s, v); }, add: (by) => { stats.set(s, stats.get(s)! + by); }, sub: (by) => { stats.set(s, stats.get(s)! - by); } };
    },
    histogram: (n) => { const s = stat(n); return { record: (v) => { stats.set(s, v); } }; },
    hasCluster: (name) => clusters[name] !== undefined,
    httpCall: async (cluster, req) => {
      const answer = clusters[cluster];
      if (answer === undefined) throw Object.assign(new Error(`no cluster '${cluster}'`), { code: 'no_cluster' });
      const r = answer(req);
      return { status: r.status, headers: r.headers ?? [], body: Buffer.from(r.body ?? ''), trailers: null };
    },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  };
  const made = d.create(o.config ?? {}, context) as { createFilter?: (cb: UserFilterCallbacks) => StreamFilter } | ((cb: UserFilterCallbacks) => StreamFilter);
  const createFilter = typeof made === 'function' ? made : made.createFilter!.bind(made);
  const info = new StreamInfo();
  const requestHeaders = o.requestHeaders ?? [':method', 'GET', ':path', '/', 'host', 'example.com'];
  info.requestHeaders = requestHeaders;
  const pending: Promise<void>[] = [];
  let failure: unknown = null;
  let destroyed = false;
  const t: TestStream = {
    filter: null as unknown as StreamFilter,
    callbacks: null as unknown as UserFilterCallbacks,
    stats,
    localReply: null,
    continuedDecoding: 0,
    continuedEncoding: 0,
    async settle() {
      while (pending.length > 0) await pending.shift();
      if (failure !== null) throw failure;
    },
  };
  const cb: UserFilterCallbacks = {
    streamInfo: info,
    filterConfigName: 'test_filter',
    requestHeaders,
    get responseStatus() { return info.responseCode; },
    setResponseStatus: (s) => { info.responseCode = s; },
    route: () => null,
    clearRouteCache: () => {},
    mostSpecificPerFilterConfig: () => o.perRouteConfig ?? null,
    perRouteConfig: <T>() => (o.perRouteConfig ?? null) as T | null,
    continueDecoding: () => { t.continuedDecoding++; },
    continueEncoding: () => { t.continuedEncoding++; },
    sendLocalReply: (status, body, headers, _grpc, details) => { t.localReply ??= { status, body, headers, details }; },
    respond(status, body = '', headers = null, details = 'typescript_filter_local_reply') {
      const list: HeaderList | null = headers === null ? null : Object.entries(headers).flatMap(([k, v]) => [k.toLowerCase(), v]);
      this.sendLocalReply(status, body, list, -1, details);
    },
    decodingBuffer: () => null,
    encodingBuffer: () => null,
    injectDecodedDataToFilterChain: () => {},
    injectEncodedDataToFilterChain: () => {},
    bufferLimit: 1024 * 1024,
    requestBodyRewritten: () => {},
    setDecoderBufferLimit: () => {},
    setDynamicMetadata: (ns, fields) => info.setDynamicMetadata(ns, fields),
    downstreamSocket: () => { throw new Error('no socket in a test stream'); },
    trustedRemoteIp: () => '127.0.0.1',
    headers: (list) => new HeaderMap(list),
    runAsync(work) {
      pending.push(work().catch((err: unknown) => { failure ??= err; }));
    },
    get destroyed() { return destroyed; },
  };
  (t as { callbacks: UserFilterCallbacks }).callbacks = cb;
  const filter = createFilter(cb);
  const onDestroy = filter.onDestroy?.bind(filter);
  (filter as { onDestroy(): void }).onDestroy = () => { destroyed = true; onDestroy?.(); };
  (t as { filter: StreamFilter }).filter = filter;
  return t;
}
