// Worker thread. One Lua 5.4 state (wasmoon: Lua compiled to WebAssembly) running one script of
// envoy.filters.http.lua: the script is loaded after a prelude that builds Envoy's stream handle in Lua itself
// (headers, body, trailers, respond, log*, streamInfo), so a run crosses between JS and the VM only to hand over
// the stream's data (flat strings through the VM's memory, byte-exact) and for the rare calls that need the worker
// (logs, stream info, dynamic metadata, require). Scripts run synchronously, one at a time per worker: Envoy's
// coroutine-based yields (httpCall) are refused at config time (src/filters/lua-config.ts).

import fs from 'node:fs';
import path from 'node:path';
import { LuaFactory, type LuaEngine } from 'wasmoon';

/** The worker side of the handle's calls into JS, for the stream a run is for. */
export interface LuaHost {
  log(level: number, message: string): void;
  /** streamInfo():<name>() for the string getters. */
  streamInfoString(name: string): string;
  setDynamicMetadata(ns: string, key: string, value: unknown): void;
  dynamicMetadata(ns: string): Record<string, unknown> | null;
}

/** What a run gives back; null fields: unchanged (or, for respond*, no local reply). */
export interface LuaRunResult {
  /** An error the script raised (Envoy logs it and the stream goes on); '' when none. */
  error: string;
  headers: Buffer | null;
  body: Buffer | null;
  trailers: Buffer | null;
  respondHeaders: Buffer | null;
  respondBody: Buffer | null;
}

const PRELUDE = String.raw`
local sub, lower, gmatch, concat, tostring, error, pcall, setmetatable = string.sub, string.lower, string.gmatch, table.concat, tostring, error, pcall, setmetatable
local log, si, dmset, dmget, readmodule = __legate_log, __legate_si, __legate_dm_set, __legate_dm_get, __legate_readmodule
__legate_log, __legate_si, __legate_dm_set, __legate_dm_get, __legate_readmodule = nil, nil, nil, nil, nil

table.insert(package.searchers, 2, function(name)
  local found = readmodule(name)
  if found == nil then return "\n\tno file for module '" .. name .. "' on LUA_PATH (Legate reads ./?.lua by default)" end
  local nl = string.find(found, "\n", 1, true)
  return load(sub(found, nl + 1), "@" .. sub(found, 1, nl - 1))
end)

local function split(s)
  local t = {}
  if s ~= nil and s ~= "" then for part in gmatch(s .. "\n", "([^\n]*)\n") do t[#t + 1] = part end end
  return t
end

local Headers = {}
Headers.__index = Headers
local function newHeaders(s) return setmetatable({ l = split(s), dirty = false }, Headers) end
local function writable(k)
  if sub(k, 1, 1) == ":" then error("the pseudo-header " .. k .. " cannot be changed from Lua in Legate yet", 3) end
end
function Headers:get(k)
  k = lower(k)
  local l, out = self.l, nil
  for i = 1, #l, 2 do if l[i] == k then if out then out = out .. "," .. l[i + 1] else out = l[i + 1] end end end
  return out
end
function Headers:getNumValues(k)
  k = lower(k)
  local l, n = self.l, 0
  for i = 1, #l, 2 do if l[i] == k then n = n + 1 end end
  return n
end
function Headers:getAtIndex(k, index)
  k = lower(k)
  local l, n = self.l, 0
  for i = 1, #l, 2 do if l[i] == k then if n == index then return l[i + 1] end n = n + 1 end end
  return nil
end
function Headers:add(k, v)
  k = lower(k) writable(k)
  local l = self.l
  l[#l + 1] = k l[#l + 1] = tostring(v)
  self.dirty = true
end
function Headers:remove(k)
  k = lower(k) writable(k)
  local l, out = self.l, {}
  for i = 1, #l, 2 do if l[i] ~= k then out[#out + 1] = l[i] out[#out + 1] = l[i + 1] end end
  self.l = out self.dirty = true
end
function Headers:replace(k, v)
  k = lower(k) writable(k)
  local l, out, found = self.l, {}, false
  for i = 1, #l, 2 do
    if l[i] == k then
      if not found then out[#out + 1] = k out[#out + 1] = tostring(v) found = true end
    else
      out[#out + 1] = l[i] out[#out + 1] = l[i + 1]
    end
  end
  if not found then out[#out + 1] = k out[#out + 1] = tostring(v) end
  self.l = out self.dirty = true
end
function Headers:__pairs()
  local l, i = self.l, -1
  return function() i = i + 2 if l[i] ~= nil then return l[i], l[i + 1] end end, self, nil
end

local Body = {}
Body.__index = Body
function Body:length() return #self.s end
function Body:getBytes(index, length) return sub(self.s, index + 1, index + length) end
function Body:setBytes(s) self.s = tostring(s) self.set = true return #self.s end

local Metadata = {}
Metadata.__index = Metadata
function Metadata:get(ns) return dmget(ns) end
function Metadata:set(ns, key, value) dmset(ns, key, value) end

local StreamInfo = {}
StreamInfo.__index = StreamInfo
function StreamInfo:protocol() return si("protocol") end
function StreamInfo:downstreamLocalAddress() return si("downstreamLocalAddress") end
function StreamInfo:downstreamDirectRemoteAddress() return si("downstreamDirectRemoteAddress") end
function StreamInfo:downstreamRemoteAddress() return si("downstreamRemoteAddress") end
function StreamInfo:requestedServerName() return si("requestedServerName") end
function StreamInfo:dynamicMetadata() return setmetatable({}, Metadata) end
local streamInfo = setmetatable({}, StreamInfo)

local RESPOND = {}
local Handle = {}
Handle.__index = Handle
function Handle:headers() return self.h end
function Handle:body()
  if self.b == nil and __legate_in_body ~= nil then self.b = setmetatable({ s = __legate_in_body, set = false }, Body) end
  return self.b
end
function Handle:bodyChunks()
  local b, done = self:body(), false
  return function() if done or b == nil then return nil end done = true return b end
end
function Handle:trailers()
  if self.t == nil and __legate_in_trailers ~= nil then self.t = newHeaders(__legate_in_trailers) end
  return self.t
end
function Handle:respond(headers, body)
  if not self.request then error("respond() answers a request: call it from envoy_on_request", 2) end
  local flat = {}
  for k, v in pairs(headers) do flat[#flat + 1] = lower(k) flat[#flat + 1] = tostring(v) end
  __legate_respond_headers = concat(flat, "\n")
  __legate_respond_body = body == nil and "" or tostring(body)
  error(RESPOND, 0)
end
function Handle:logTrace(m) log(0, tostring(m)) end
function Handle:logDebug(m) log(1, tostring(m)) end
function Handle:logInfo(m) log(2, tostring(m)) end
function Handle:logWarn(m) log(3, tostring(m)) end
function Handle:logErr(m) log(4, tostring(m)) end
function Handle:logCritical(m) log(5, tostring(m)) end
function Handle:streamInfo() return streamInfo end

-- phase 1: envoy_on_request, 2: envoy_on_response. Inputs in __legate_in_*, outputs in __legate_out_* (nil: unchanged).
function __legate_run(phase)
  __legate_out_headers, __legate_out_body, __legate_out_trailers = nil, nil, nil
  __legate_respond_headers, __legate_respond_body = nil, nil
  local fn
  if phase == 1 then fn = envoy_on_request else fn = envoy_on_response end
  if fn == nil then return end
  local h = setmetatable({ h = newHeaders(__legate_in_headers), request = phase == 1 }, Handle)
  local ok, err = pcall(fn, h)
  if h.h.dirty then __legate_out_headers = concat(h.h.l, "\n") end
  if h.b ~= nil and h.b.set then __legate_out_body = h.b.s end
  if h.t ~= nil and h.t.dirty then __legate_out_trailers = concat(h.t.l, "\n") end
  if not ok and err ~= RESPOND then error(err, 0) end
end
`;

const LUA_TNIL = 0;

/** The raw C API exports of the VM's module that wasmoon's typings leave out (byte-exact strings). */
interface RawLuaModule {
  _lua_pushlstring(L: number, ptr: number, len: number): number;
  _lua_tolstring(L: number, index: number, lenPtr: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
}

function rawModule(engine: LuaEngine): RawLuaModule {
  return engine.global.lua.module as unknown as RawLuaModule;
}
const factory = new LuaFactory();
/** The stream whose script runs now (runs are synchronous, one at a time in a worker). */
let currentHost: LuaHost | null = null;

/**
 * LUA_PATH (Lua's own variable: templates separated by ';', '?' the module name with dots as slashes), else ./?.lua:
 * the file's path, a newline, then its text; undefined when no template names a readable file.
 */
function readModule(name: string): string | undefined {
  const templates = (process.env['LUA_PATH'] ?? './?.lua;./?/init.lua').split(';');
  const rel = name.replace(/\./g, '/');
  for (const t of templates) {
    if (t === '' || t === ';;') continue;
    const file = path.resolve(t.replaceAll('?', rel));
    try {
      return `${file}\n${fs.readFileSync(file, 'utf8')}`;
    } catch {
      // next template
    }
  }
  return undefined;
}

/** A loaded script's VM. `ready` is false until the WebAssembly state exists and the script has been loaded. */
export class LuaVm {
  ready: boolean;
  /** Why the script could not be loaded (a syntax error, say): its filter then lets streams through, and says so. */
  loadError: string;
  readonly whenReady: Promise<void>;
  private engine: LuaEngine | null;
  private scratch: number;
  private scratchBytes: number;

  constructor(code: string, name: string) {
    this.ready = false;
    this.loadError = '';
    this.engine = null;
    this.scratch = 0;
    this.scratchBytes = 0;
    this.whenReady = this.load(code, name);
  }

  private async load(code: string, name: string): Promise<void> {
    try {
      const engine = await factory.createEngine({ injectObjects: false, enableProxy: false, openStandardLibs: true });
      const g = engine.global;
      g.set('__legate_log', (level: number, m: string) => currentHost?.log(level, m));
      g.set('__legate_si', (n: string) => currentHost?.streamInfoString(n) ?? '');
      g.set('__legate_dm_set', (ns: string, k: string, v: unknown) => currentHost?.setDynamicMetadata(ns, k, v));
      g.set('__legate_dm_get', (ns: string) => currentHost?.dynamicMetadata(ns) ?? undefined);
      g.set('__legate_readmodule', (m: string) => readModule(m));
      engine.doStringSync(PRELUDE);
      this.loadChunk(engine, code, name);
      this.engine = engine;
      this.ready = true;
    } catch (err) {
      this.loadError = (err as Error).message ?? String(err);
    }
  }

  /** Loads and runs the script's main chunk (defining envoy_on_request/envoy_on_response), named for errors. */
  private loadChunk(engine: LuaEngine, code: string, name: string): void {
    const api = engine.global.lua;
    const L = engine.global.address;
    const bytes = Buffer.from(code, 'utf8');
    const ptr = this.copyIn(engine, bytes);
    let status = api.luaL_loadbufferx(L, ptr, bytes.length, `@${name}`, null);
    if (status === 0) status = api.lua_pcallk(L, 0, 0, 0, 0, null);
    if (status !== 0) {
      const message = api.lua_tolstring(L, -1, null) ?? 'unknown error';
      api.lua_settop(L, 0);
      throw new Error(message);
    }
  }

  /** Copies `bytes` into the VM's memory (a reused scratch area); returns its address. */
  private copyIn(engine: LuaEngine, bytes: Buffer): number {
    const m = rawModule(engine);
    if (bytes.length + 1 > this.scratchBytes) {
      if (this.scratch !== 0) m._free(this.scratch);
      this.scratchBytes = Math.max(1024, bytes.length + 1);
      this.scratch = m._malloc(this.scratchBytes);
    }
    m.HEAPU8.set(bytes, this.scratch);
    return this.scratch;
  }

  private setGlobal(engine: LuaEngine, name: string, value: Buffer | null): void {
    const api = engine.global.lua;
    const L = engine.global.address;
    if (value === null) api.lua_pushnil(L);
    else rawModule(engine)._lua_pushlstring(L, this.copyIn(engine, value), value.length);
    api.lua_setglobal(L, name);
  }

  private getGlobal(engine: LuaEngine, name: string): Buffer | null {
    const api = engine.global.lua;
    const m = rawModule(engine);
    const L = engine.global.address;
    api.lua_getglobal(L, name);
    let out: Buffer | null = null;
    if (api.lua_type(L, -1) !== LUA_TNIL) {
      const lenPtr = this.copyIn(engine, Buffer.alloc(8));
      const p = m._lua_tolstring(L, -1, lenPtr);
      const len = m.HEAPU32[lenPtr >>> 2]!;
      out = Buffer.from(m.HEAPU8.subarray(p, p + len));
    }
    api.lua_settop(L, 0);
    return out;
  }

  /** Runs envoy_on_request (phase 1) or envoy_on_response (2) on the given stream data. Only when `ready`. */
  run(phase: 1 | 2, host: LuaHost, headers: Buffer, body: Buffer | null, trailers: Buffer | null): LuaRunResult {
    const engine = this.engine!;
    const api = engine.global.lua;
    const L = engine.global.address;
    this.setGlobal(engine, '__legate_in_headers', headers);
    this.setGlobal(engine, '__legate_in_body', body);
    this.setGlobal(engine, '__legate_in_trailers', trailers);
    currentHost = host;
    let error = '';
    try {
      api.lua_getglobal(L, '__legate_run');
      api.lua_pushnumber(L, phase);
      if (api.lua_pcallk(L, 1, 0, 0, 0, null) !== 0) error = api.lua_tolstring(L, -1, null) ?? 'unknown error';
      api.lua_settop(L, 0);
    } finally {
      currentHost = null;
    }
    // Inputs are dropped at once, so a large body does not stay in the VM until the next run.
    this.setGlobal(engine, '__legate_in_body', null);
    return {
      error,
      headers: this.getGlobal(engine, '__legate_out_headers'),
      body: this.getGlobal(engine, '__legate_out_body'),
      trailers: this.getGlobal(engine, '__legate_out_trailers'),
      respondHeaders: this.getGlobal(engine, '__legate_respond_headers'),
      respondBody: this.getGlobal(engine, '__legate_respond_body'),
    };
  }
}
