// Worker thread. envoy.filters.http.lua: envoy_on_request / envoy_on_response of the stream's script (the route's
// LuaPerRoute: disabled, a named source_code of the filter's, or its own; else default_source_code) run on a Lua VM
// per script per worker (lua-vm.ts), with Envoy's handle API. A script that reads body(), bodyChunks() or trailers()
// has the body held first (up to the stream's buffer limit, past it 413/500 as any buffering filter), as Envoy's
// yield until the body is complete. A script error is logged and counted (<prefix>lua.errors); the stream goes on
// unchanged, as Envoy. The first stream of a script waits for its VM to load (WebAssembly is instantiated
// asynchronously); a script that does not load lets streams through, logged and counted once per stream.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../../src/http/header-list.ts';
import { log } from '../../../src/common/logger.ts';
import { LuaPerRoute, type LuaFilterConfig, type LuaScript } from '../../../src/filters/lua-config.ts';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import { LuaVm, type LuaHost, type LuaRunResult } from './lua-vm.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';

const REQUEST = 1;
const RESPONSE = 2;
const EMPTY = Buffer.alloc(0);
const LOG_LEVELS = [log.trace, log.debug, log.info, log.warn, log.error, log.critical] as const;

/** One VM per script text in this worker (a reload with the same script keeps its VM and its Lua globals). */
const vms = new Map<string, LuaVm>();

function vmFor(script: LuaScript): LuaVm {
  let vm = vms.get(script.code);
  if (vm === undefined) {
    vm = new LuaVm(script.code, script.name);
    vms.set(script.code, vm);
  }
  return vm;
}

class LuaShared {
  readonly config: LuaFilterConfig;
  readonly stats: WorkerStatsStore;
  readonly errorsSlot: number;

  constructor(config: LuaFilterConfig, context: HttpFilterFactoryContext) {
    this.config = config;
    this.stats = context.stats;
    this.errorsSlot = context.slots === null ? -1 : context.slots['errors'] ?? -1;
    // Start loading every script now, so that the first streams rarely wait.
    if (config.defaultScript !== null) vmFor(config.defaultScript);
    for (const name of Object.keys(config.namedScripts)) vmFor(config.namedScripts[name]!);
  }

  countError(): void {
    if (this.errorsSlot >= 0) this.stats.values[this.errorsSlot]!++;
  }
}

/** The stream's pseudo-headers first (read-only in Lua), then its fields, as one "\n"-separated list. */
function flatten(pseudo: string[], headers: HeaderList | null): Buffer {
  const parts = pseudo.slice();
  if (headers !== null) for (let i = 0; i < headers.length; i++) parts.push(headers[i]!);
  return Buffer.from(parts.join('\n'), 'latin1');
}

/** A "\n"-separated list back into `into` (its pseudo-headers, which Lua cannot change, dropped). */
function unflatten(flat: Buffer, into: HeaderList): void {
  const parts = flat.length === 0 ? [] : flat.toString('latin1').split('\n');
  into.length = 0;
  for (let i = 0; i + 1 < parts.length; i += 2) {
    if (parts[i]!.charCodeAt(0) === 58 /* ':' */) continue;
    into.push(parts[i]!, parts[i + 1]!);
  }
}

class LuaFilter extends PassThroughFilter implements LuaHost {
  private readonly cb: FilterCallbacks;
  private readonly shared: LuaShared;
  private script: LuaScript | null;
  private vm: LuaVm | null;
  private requestHeaders: HeaderList | null;
  private responseHeaders: HeaderList | null;
  /** Waiting for the VM, or holding the body for the script: the side that is stopped. */
  private waitingRequest: boolean;
  private destroyed: boolean;

  constructor(cb: FilterCallbacks, shared: LuaShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.script = null;
    this.vm = null;
    this.requestHeaders = null;
    this.responseHeaders = null;
    this.waitingRequest = false;
    this.destroyed = false;
  }

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    const config = this.shared.config;
    let script = config.defaultScript;
    if (perRoute instanceof LuaPerRoute) {
      if (perRoute.disabled) return FilterHeadersStatus.Continue;
      script = perRoute.script ?? config.namedScripts[perRoute.name] ?? null;
    }
    if (script === null) return FilterHeadersStatus.Continue;
    this.script = script;
    this.vm = vmFor(script);
    this.requestHeaders = headers;
    if (script.needsBody && !endStream) return FilterHeadersStatus.StopIteration;
    if (!this.vm.ready) return this.waitForVm(null, null);
    return this.runRequest(null, null) ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    if (this.script === null || !this.script.needsBody) return FilterDataStatus.Continue;
    if (!endStream) return FilterDataStatus.StopIterationAndBuffer;
    const buffered = this.cb.decodingBuffer();
    const body = buffered === null || buffered.length === 0 ? data : Buffer.concat([buffered, data]);
    if (!this.vm!.ready) {
      this.waitForVm(body, null);
      return FilterDataStatus.StopIterationAndBuffer;
    }
    const replaced = this.runRequestWithBody(body, null);
    return replaced ? FilterDataStatus.StopIterationAndBuffer : FilterDataStatus.Continue;
  }

  override decodeTrailers(trailers: HeaderList): number {
    if (this.script === null || !this.script.needsBody) return FilterTrailersStatus.Continue;
    const body = this.cb.decodingBuffer() ?? EMPTY;
    if (!this.vm!.ready) {
      this.waitForVm(body, trailers);
      return FilterTrailersStatus.StopIteration;
    }
    return this.runRequestWithBody(body, trailers) ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  /** The VM is still loading: stop here and run once it is ready (or pass the stream on if it failed). */
  private waitForVm(body: Buffer | null, trailers: HeaderList | null): number {
    this.waitingRequest = true;
    void this.vm!.whenReady.then(() => {
      if (this.destroyed) return;
      this.waitingRequest = false;
      if (body === null) {
        if (!this.runRequest(null, null)) this.cb.continueDecoding();
      } else if (!this.runRequestWithBody(body, trailers)) {
        this.cb.continueDecoding();
      }
    });
    return FilterHeadersStatus.StopIteration;
  }

  /**
   * Runs envoy_on_request with the whole body; true when the chain must stay stopped (a local reply was sent, or
   * the body was replaced and goes on from a microtask).
   */
  private runRequestWithBody(body: Buffer, trailers: HeaderList | null): boolean {
    const result = this.run(REQUEST, this.requestHeaders!, body, trailers);
    if (result === null) return false;
    if (this.applyRespond(result)) return true;
    if (trailers !== null && result.trailers !== null) unflatten(result.trailers, trailers);
    if (result.body === null) return false;
    const replacement = result.body;
    // The held body is replaced once this call has returned (the chain adds the last data to the buffer first).
    queueMicrotask(() => {
      if (this.destroyed) return;
      this.cb.replaceDecodingBuffer!(replacement);
      this.cb.requestBodyLength?.(replacement.length);
      this.cb.continueDecoding();
    });
    return true;
  }

  /** envoy_on_request without a body; true when it answered locally. */
  private runRequest(body: Buffer | null, trailers: HeaderList | null): boolean {
    const result = this.run(REQUEST, this.requestHeaders!, body, trailers);
    return result !== null && this.applyRespond(result);
  }

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    const script = this.script;
    if (script === null || this.waitingRequest) return FilterHeadersStatus.Continue;
    this.responseHeaders = headers;
    if (script.needsBody && !endStream) return FilterHeadersStatus.StopIteration;
    this.runResponse(null, null);
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, endStream: boolean): number {
    const script = this.script;
    if (script === null || !script.needsBody || this.responseHeaders === null) return FilterDataStatus.Continue;
    if (!endStream) return FilterDataStatus.StopIterationAndBuffer;
    const buffered = this.cb.encodingBuffer();
    const body = buffered === null || buffered.length === 0 ? data : Buffer.concat([buffered, data]);
    return this.runResponse(body, null) ? FilterDataStatus.StopIterationAndBuffer : FilterDataStatus.Continue;
  }

  override encodeTrailers(trailers: HeaderList): number {
    const script = this.script;
    if (script === null || !script.needsBody || this.responseHeaders === null) return FilterTrailersStatus.Continue;
    return this.runResponse(this.cb.encodingBuffer() ?? EMPTY, trailers) ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  /** envoy_on_response; true when the body was replaced (the chain stays stopped until the microtask goes on). */
  private runResponse(body: Buffer | null, trailers: HeaderList | null): boolean {
    const headers = this.responseHeaders!;
    const result = this.run(RESPONSE, headers, body, trailers);
    if (result === null) return false;
    if (trailers !== null && result.trailers !== null) unflatten(result.trailers, trailers);
    if (result.body === null) return false;
    const replacement = result.body;
    setHeader(headers, 'content-length', String(replacement.length));
    removeHeader(headers, 'transfer-encoding');
    queueMicrotask(() => {
      if (this.destroyed) return;
      this.cb.replaceEncodingBuffer!(replacement);
      this.cb.continueEncoding();
    });
    return true;
  }

  /** One run of the script; null when it could not run (its VM failed to load) or raised an error. */
  private run(phase: 1 | 2, headers: HeaderList, body: Buffer | null, trailers: HeaderList | null): LuaRunResult | null {
    const vm = this.vm!;
    if (!vm.ready) {
      this.shared.countError();
      log.error(`lua: script '${this.script!.name}' did not load, the stream goes on without it: ${vm.loadError}`);
      return null;
    }
    const info = this.cb.streamInfo;
    const pseudo = phase === REQUEST
      ? [':method', info.method, ':path', info.path, ':authority', info.authority, ':scheme', info.scheme]
      : [':status', String(this.cb.responseStatus)];
    const result = vm.run(phase, this, flatten(pseudo, headers), body, trailers === null ? null : flatten([], trailers));
    if (result.error !== '') {
      this.shared.countError();
      log.error(`lua: script '${this.script!.name}' failed: ${result.error}`);
      return null;
    }
    if (result.headers !== null) unflatten(result.headers, headers);
    return result;
  }

  /** handle:respond(): a local reply with the script's :status, headers and body; true when there was one. */
  private applyRespond(result: LuaRunResult): boolean {
    if (result.respondHeaders === null) return false;
    const extra: HeaderList = [];
    unflatten(result.respondHeaders, extra);
    const flat = result.respondHeaders.toString('latin1').split('\n');
    let status = 200;
    for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === ':status') status = Number(flat[i + 1]);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      this.shared.countError();
      log.error(`lua: script '${this.script!.name}' called respond() with :status ${String(status)}: answered 500`);
      status = 500;
    }
    const contentType = getHeader(extra, 'content-type');
    if (contentType !== undefined) removeHeader(extra, 'content-type');
    this.cb.sendLocalReply(status, result.respondBody?.toString('utf8') ?? '', contentType === undefined ? extra : [...extra, 'content-type', contentType], -1, 'lua_respond');
    return true;
  }

  override onDestroy(): void {
    this.destroyed = true;
  }

  // ---- LuaHost: the handle's calls into the worker ----

  log(level: number, message: string): void {
    (LOG_LEVELS[level] ?? log.info)(`lua: ${message}`);
  }

  streamInfoString(name: string): string {
    const info = this.cb.streamInfo;
    switch (name) {
      case 'protocol': return info.protocol;
      case 'downstreamLocalAddress': return info.downstreamLocalAddress;
      case 'downstreamDirectRemoteAddress': return info.downstreamDirectRemoteAddress;
      case 'downstreamRemoteAddress': return info.downstreamRemoteAddress;
      case 'requestedServerName': {
        const sni = (this.cb.downstreamSocket() as { servername?: unknown }).servername;
        return typeof sni === 'string' ? sni : '';
      }
      default: return '';
    }
  }

  setDynamicMetadata(ns: string, key: string, value: unknown): void {
    this.cb.setDynamicMetadata(ns, { [key]: value });
  }

  dynamicMetadata(ns: string): Record<string, unknown> | null {
    const all = this.cb.streamInfo.dynamicMetadata;
    return all === null ? null : (all[ns] ?? null);
  }
}

export function luaFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  // Compiled on the primary (src/filters/lua-config.ts): the scripts' text, as plain data.
  const shared = new LuaShared(config as LuaFilterConfig, context);
  return { createFilter: (cb) => new LuaFilter(cb, shared) };
}
