// Worker thread. legate.filters.http.typescript: runs a user's filter module (preloaded by
// typescript-filter-loader.ts) inside the built-in filter interface, contained. Every call into user code is timed
// (performance.now, only here: a config without TypeScript filters pays nothing) and guarded: a throw, a rejected
// runAsync or a request past the filter's cpu_budget_ms answers that stream only (500 / 503, or a reset once its
// response started) and is counted in http.<stat_prefix>.typescript_filter.<name>.{exceptions,cpu_budget_exceeded};
// cpu_time_us sums the time spent in the filter. A synchronous endless loop cannot be interrupted in JavaScript: the
// worker stops serving, and only the worker supervisor's restart (or the operator) ends it (docs/FILTERS.md).

import type { Socket } from 'node:net';
import type { HeaderList, StreamInfo } from '../../../src/http/stream-info.ts';
import type { Route } from '../../../src/router/route-table.ts';
import { log } from '../../../src/common/logger.ts';
import {
  TypeScriptFilterPerRouteConfig, type TypeScriptFilterConfig,
} from '../../../src/filters/typescript-filter-config.ts';
import type {
  Counter, FilterContext, Gauge, Histogram, HttpCallRequest, HttpCallResponse, UserFilterCallbacks,
} from '../../../src/filter-api/define-filter.ts';
import { HeaderMap } from '../../../src/filter-api/header-map.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks, type StreamFilter,
} from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import { loadedTypeScriptFilter } from './typescript-filter-loader.ts';

/** An exception's stack is logged for the first and then every LOG_EVERY-th (a filter failing on every request must not flood the log). */
const LOG_EVERY = 100;

/** A filter that could not be made throws this on its first call, so the stream gets the usual containment. */
class BrokenFilter extends PassThroughFilter {
  private readonly error: unknown;
  constructor(error: unknown) {
    super();
    this.error = error;
  }
  override decodeHeaders(): number {
    throw this.error;
  }
}

type MakeFilter = (callbacks: UserFilterCallbacks) => StreamFilter;

/** One factory: per config version, connection manager and worker. */
class TypeScriptFilterFactory implements HttpFilterFactory {
  readonly name: string;
  readonly file: string;
  readonly cpuBudgetMs: number;
  readonly values: Float64Array;
  readonly exceptionsSlot: number;
  readonly budgetSlot: number;
  readonly cpuSlot: number;
  /** Exceptions seen by this factory, for the log's one-in-LOG_EVERY. */
  exceptionCount: number;
  private cpuCarryUs: number;
  private make: MakeFilter | null;
  private setupError: unknown;

  constructor(c: TypeScriptFilterConfig, context: HttpFilterFactoryContext) {
    this.name = c.name;
    this.file = c.file;
    this.cpuBudgetMs = c.cpuBudgetMs;
    this.values = context.stats.values;
    const slots = context.slots ?? {};
    // The primary gives every one of these a slot; -1 (a bug) makes the writes no-ops rather than throws.
    this.exceptionsSlot = slots['exceptions'] ?? -1;
    this.budgetSlot = slots['cpu_budget_exceeded'] ?? -1;
    this.cpuSlot = slots['cpu_time_us'] ?? -1;
    this.exceptionCount = 0;
    this.cpuCarryUs = 0;
    this.make = null;
    this.setupError = null;
    const loaded = loadedTypeScriptFilter(c.moduleUrl);
    if (loaded === undefined || loaded.definition === null) {
      this.setupError = new Error(`typescript filter '${c.name}': module ${c.file} is not loaded: ${loaded?.error ?? 'not preloaded'}`);
      log.error((this.setupError as Error).message);
      return;
    }
    const t0 = performance.now();
    try {
      const made: unknown = loaded.definition.create(c.config, userContext(c, context));
      this.make = asMakeFilter(made);
    } catch (err) {
      this.setupError = err;
      log.error(`typescript filter '${c.name}' (${c.file}): create() threw; every request through it is answered 500: ${(err as Error)?.stack ?? String(err)}`);
    }
    this.addCpu(performance.now() - t0);
  }

  createFilter(callbacks: FilterCallbacks): StreamFilter {
    const f = new TypeScriptFilter(this, callbacks);
    if (this.make === null) {
      f.user = new BrokenFilter(this.setupError);
      return f;
    }
    const t0 = performance.now();
    try {
      const user = this.make(f);
      f.user = user !== null && typeof user === 'object' ? complete(user) : new BrokenFilter(new TypeError('createFilter() returned no filter object'));
    } catch (err) {
      f.user = new BrokenFilter(err);
    }
    f.charge(t0);
    return f;
  }

  /** cpu_time_us is a counter: whole microseconds are added, the fraction carried to the next call. */
  addCpu(ms: number): void {
    const us = this.cpuCarryUs + ms * 1000;
    const whole = Math.floor(us);
    this.cpuCarryUs = us - whole;
    if (this.cpuSlot >= 0) this.values[this.cpuSlot]! += whole;
  }

  count(slot: number): void {
    if (slot >= 0) this.values[slot]!++;
  }
}

/** create()'s result as a createFilter function; throws when it is neither shape. */
function asMakeFilter(made: unknown): MakeFilter {
  if (typeof made === 'function') return made as MakeFilter;
  const cf = (made as { createFilter?: unknown } | null)?.createFilter;
  if (typeof cf === 'function') return cf.bind(made) as MakeFilter;
  throw new TypeError('create() must return a factory ({ createFilter(callbacks) }) or a function (callbacks) => filter');
}

/** The context create() gets. */
function userContext(c: TypeScriptFilterConfig, context: HttpFilterFactoryContext): FilterContext {
  const values = context.stats.values;
  const slots = context.slots ?? {};
  const slotOf = (name: string, kind: string): number => {
    const s = slots[name];
    if (s === undefined || name === 'exceptions' || name === 'cpu_budget_exceeded' || name === 'cpu_time_us') {
      throw new Error(`typescript filter '${c.name}': ${kind} '${name}' is not declared in the definition's stats.${kind}s`);
    }
    return s;
  };
  const prefix = `typescript filter '${c.name}': `;
  return Object.freeze({
    configName: context.configName,
    statPrefix: context.statPrefix,
    counter(name: string): Counter {
      const s = slotOf(name, 'counter');
      return { inc: (by = 1) => { values[s]! += by; } };
    },
    gauge(name: string): Gauge {
      const s = slotOf(name, 'gauge');
      return {
        set: (v: number) => { values[s] = v; },
        add: (by: number) => { values[s]! += by; },
        sub: (by: number) => { values[s]! -= by; },
      };
    },
    histogram(name: string): Histogram {
      const s = slotOf(name, 'histogram');
      return { record: (v: number) => context.stats.record(s, v) };
    },
    hasCluster(name: string): boolean {
      return context.clusters.get(name) !== undefined;
    },
    httpCall(cluster: string, request: HttpCallRequest, maxResponseBytes?: number): Promise<HttpCallResponse> {
      let headers: HeaderList | null = null;
      if (request.headers !== undefined) {
        headers = [];
        for (const k of Object.keys(request.headers)) headers.push(k.toLowerCase(), String(request.headers[k]));
      }
      const body = request.body === undefined ? null : typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
      return context.asyncClient.send(cluster, {
        method: request.method, path: request.path, authority: request.authority ?? '', headers, body, timeoutMs: request.timeoutMs ?? 0,
      }, maxResponseBytes);
    },
    log: Object.freeze({
      debug: (m: string) => log.debug(prefix + m),
      info: (m: string) => log.info(prefix + m),
      warn: (m: string) => log.warn(prefix + m),
      error: (m: string) => log.error(prefix + m),
    }),
  });
}

/**
 * One stream's TypeScript filter: the StreamFilter the chain calls (each call forwarded to the user's filter, timed
 * and guarded) and the callbacks the user's filter gets (the stream's, made no-ops once the stream is gone or the
 * filter failed).
 */
class TypeScriptFilter implements StreamFilter, UserFilterCallbacks {
  private readonly factory: TypeScriptFilterFactory;
  private readonly cb: FilterCallbacks;
  user: StreamFilter;
  /** Milliseconds spent in the user's calls for this stream. */
  private cpuMs: number;
  /** Answered for an exception or the budget: no more user calls. */
  private failed: boolean;
  destroyed: boolean;

  constructor(factory: TypeScriptFilterFactory, cb: FilterCallbacks) {
    this.factory = factory;
    this.cb = cb;
    this.user = PASS;
    this.cpuMs = 0;
    this.failed = false;
    this.destroyed = false;
  }

  // --- StreamFilter: what the chain calls -------------------------------------------------------------------------

  decodeHeaders(headers: HeaderList, endStream: boolean): number {
    if (this.failed) return FilterHeadersStatus.StopIteration;
    const t0 = performance.now();
    let r: unknown;
    try {
      r = this.user.decodeHeaders(headers, endStream);
    } catch (err) {
      return this.fail(err, 'decodeHeaders', t0, FilterHeadersStatus.StopIteration);
    }
    return this.charge(t0) ? FilterHeadersStatus.StopIteration : statusOr(r, FilterHeadersStatus.Continue);
  }

  decodeData(data: Buffer, endStream: boolean): number {
    if (this.failed) return FilterDataStatus.StopIterationNoBuffer;
    const t0 = performance.now();
    let r: unknown;
    try {
      r = this.user.decodeData(data, endStream);
    } catch (err) {
      return this.fail(err, 'decodeData', t0, FilterDataStatus.StopIterationNoBuffer);
    }
    return this.charge(t0) ? FilterDataStatus.StopIterationNoBuffer : statusOr(r, FilterDataStatus.Continue);
  }

  decodeTrailers(trailers: HeaderList): number {
    if (this.failed) return FilterTrailersStatus.StopIteration;
    const t0 = performance.now();
    let r: unknown;
    try {
      r = this.user.decodeTrailers(trailers);
    } catch (err) {
      return this.fail(err, 'decodeTrailers', t0, FilterTrailersStatus.StopIteration);
    }
    return this.charge(t0) ? FilterTrailersStatus.StopIteration : statusOr(r, FilterTrailersStatus.Continue);
  }

  encodeHeaders(headers: HeaderList, endStream: boolean): number {
    if (this.failed) return FilterHeadersStatus.Continue;
    const t0 = performance.now();
    let r: unknown;
    try {
      r = this.user.encodeHeaders(headers, endStream);
    } catch (err) {
      return this.fail(err, 'encodeHeaders', t0, FilterHeadersStatus.StopIteration);
    }
    return this.charge(t0) ? FilterHeadersStatus.StopIteration : statusOr(r, FilterHeadersStatus.Continue);
  }

  encodeData(data: Buffer, endStream: boolean): number {
    if (this.failed) return FilterDataStatus.Continue;
    const t0 = performance.now();
    let r: unknown;
    try {
      r = this.user.encodeData(data, endStream);
    } catch (err) {
      return this.fail(err, 'encodeData', t0, FilterDataStatus.StopIterationNoBuffer);
    }
    return this.charge(t0) ? FilterDataStatus.StopIterationNoBuffer : statusOr(r, FilterDataStatus.Continue);
  }

  encodeTrailers(trailers: HeaderList): number {
    if (this.failed) return FilterTrailersStatus.Continue;
    const t0 = performance.now();
    let r: unknown;
    try {
      r = this.user.encodeTrailers(trailers);
    } catch (err) {
      return this.fail(err, 'encodeTrailers', t0, FilterTrailersStatus.StopIteration);
    }
    return this.charge(t0) ? FilterTrailersStatus.StopIteration : statusOr(r, FilterTrailersStatus.Continue);
  }

  onDestroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const t0 = performance.now();
    try {
      this.user.onDestroy();
    } catch (err) {
      this.fail(err, 'onDestroy', t0, 0);
      return;
    }
    this.factory.addCpu(performance.now() - t0);
  }

  /** Adds the time since `t0` to the stream's and the filter's totals; true when that broke the budget (answered 503). */
  charge(t0: number): boolean {
    const ms = performance.now() - t0;
    const f = this.factory;
    f.addCpu(ms);
    this.cpuMs += ms;
    if (f.cpuBudgetMs <= 0 || this.cpuMs <= f.cpuBudgetMs || this.failed) return false;
    this.failed = true;
    f.count(f.budgetSlot);
    if (!this.destroyed) {
      this.cb.sendLocalReply(503, 'typescript filter over its CPU budget', null, -1, 'typescript_filter_cpu_budget_exceeded');
    }
    return true;
  }

  /** A user call threw (or its async work rejected): count, log (throttled), answer 500 or reset; `stop` is returned. */
  private fail(err: unknown, where: string, t0: number, stop: number): number {
    const f = this.factory;
    if (t0 >= 0) f.addCpu(performance.now() - t0);
    f.count(f.exceptionsSlot);
    const n = ++f.exceptionCount;
    if (n === 1 || n % LOG_EVERY === 0) {
      log.error(`typescript filter '${f.name}' (${f.file}): ${where} threw (exception ${n} of this filter; the stack of one in ${LOG_EVERY} is logged): ${(err as Error)?.stack ?? String(err)}`);
    }
    if (!this.failed && !this.destroyed) {
      this.failed = true;
      this.cb.sendLocalReply(500, 'typescript filter error', null, -1, 'typescript_filter_exception');
    }
    this.failed = true;
    return stop;
  }

  // --- UserFilterCallbacks: what the user's filter gets -----------------------------------------------------------

  get streamInfo(): StreamInfo {
    return this.cb.streamInfo;
  }
  get filterConfigName(): string {
    return this.cb.filterConfigName;
  }
  get requestHeaders(): HeaderList {
    return this.cb.requestHeaders;
  }
  get responseStatus(): number {
    return this.cb.responseStatus;
  }
  get bufferLimit(): number {
    return this.cb.bufferLimit;
  }
  setResponseStatus(status: number): void {
    if (!this.destroyed) this.cb.setResponseStatus(status);
  }
  route(): Route | null {
    return this.cb.route();
  }
  clearRouteCache(): void {
    if (!this.destroyed) this.cb.clearRouteCache();
  }
  mostSpecificPerFilterConfig(): unknown {
    return this.cb.mostSpecificPerFilterConfig();
  }
  perRouteConfig<T = Record<string, unknown>>(): T | null {
    const c = this.cb.mostSpecificPerFilterConfig();
    return c instanceof TypeScriptFilterPerRouteConfig ? (c.config as T) : null;
  }
  continueDecoding(): void {
    if (!this.destroyed && !this.failed) this.cb.continueDecoding();
  }
  continueEncoding(): void {
    if (!this.destroyed && !this.failed) this.cb.continueEncoding();
  }
  sendLocalReply(status: number, body: string, headers: HeaderList | null, grpcStatus: number, details: string): void {
    if (!this.destroyed) this.cb.sendLocalReply(status, body, headers, grpcStatus, details);
  }
  respond(status: number, body = '', headers: Readonly<Record<string, string>> | null = null, details = 'typescript_filter_local_reply'): void {
    let list: HeaderList | null = null;
    if (headers !== null) {
      list = [];
      for (const k of Object.keys(headers)) list.push(k.toLowerCase(), String(headers[k]));
    }
    this.sendLocalReply(status, body, list, -1, details);
  }
  decodingBuffer(): Buffer | null {
    return this.cb.decodingBuffer();
  }
  encodingBuffer(): Buffer | null {
    return this.cb.encodingBuffer();
  }
  injectDecodedDataToFilterChain(data: Buffer, endStream: boolean): void {
    if (!this.destroyed && !this.failed) this.cb.injectDecodedDataToFilterChain(data, endStream);
  }
  injectEncodedDataToFilterChain(data: Buffer, endStream: boolean): void {
    if (!this.destroyed && !this.failed) this.cb.injectEncodedDataToFilterChain(data, endStream);
  }
  setDynamicMetadata(ns: string, fields: Readonly<Record<string, unknown>>): void {
    if (!this.destroyed) this.cb.setDynamicMetadata(ns, fields);
  }
  requestBodyRewritten(): void {
    if (!this.destroyed) this.cb.requestBodyRewritten?.();
  }
  setDecoderBufferLimit(limit: number): void {
    if (!this.destroyed) this.cb.setDecoderBufferLimit(limit);
  }
  downstreamSocket(): Socket {
    return this.cb.downstreamSocket();
  }
  trustedRemoteIp(): string {
    return this.cb.trustedRemoteIp();
  }
  headers(list: HeaderList): HeaderMap {
    return new HeaderMap(list);
  }
  runAsync(work: () => Promise<void>): void {
    if (this.destroyed) return;
    let p: Promise<void>;
    try {
      p = work();
    } catch (err) {
      this.fail(err, 'runAsync', -1, 0);
      return;
    }
    if (p !== null && typeof p === 'object' && typeof p.then === 'function') {
      p.then(undefined, (err: unknown) => this.fail(err, 'runAsync', -1, 0));
    }
  }
}

const PASS = new PassThroughFilter();
const METHODS = ['decodeHeaders', 'decodeData', 'decodeTrailers', 'encodeHeaders', 'encodeData', 'encodeTrailers', 'onDestroy'] as const;

/** A user filter with every StreamFilter method: itself when it has them all, else one that passes on what it lacks. */
function complete(user: StreamFilter): StreamFilter {
  const u = user as unknown as Record<string, unknown>;
  if (METHODS.every((m) => typeof u[m] === 'function')) return user;
  const out = new PassThroughFilter() as unknown as Record<string, unknown>;
  for (const m of METHODS) if (typeof u[m] === 'function') out[m] = (u[m] as (...a: unknown[]) => unknown).bind(user);
  return out as unknown as StreamFilter;
}

/** A user's status, or `dflt` when it returned none (a forgotten `return` means "continue", not a stop). */
function statusOr(r: unknown, dflt: number): number {
  return typeof r === 'number' ? r : dflt;
}

/** The factory builder registered as legate.filters.http.typescript (builtin-filters.ts). */
export function typeScriptFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  return new TypeScriptFilterFactory(config as TypeScriptFilterConfig, context);
}
