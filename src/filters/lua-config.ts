// Any thread (pure; config time only). envoy.filters.http.lua: Lua (default_source_code or the deprecated inline_code,
// source_codes by name, stat_prefix) and LuaPerRoute (disabled, name, source_code), compiled to the scripts' text.
// The scripts run in the workers on a Lua 5.4 VM (workers/http/filters/lua-filter.ts). The part of Envoy's stream
// handle API Legate has not built is refused here, by name, wherever a script calls it: a script never meets a
// missing function at run time.

import { readDataSourceText, type DataSourceRules } from '../router/data-source.ts';
import { bool, obj, str, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const LUA_TYPE = 'envoy.extensions.filters.http.lua.v3.Lua';
export const LUA_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.lua.v3.LuaPerRoute';

/**
 * Handle methods Envoy documents that Legate does not run yet. A call `:name(` of one of them in a script is a
 * config problem. (Methods Legate runs: headers, body, bodyChunks, trailers, respond, log*, streamInfo with
 * protocol/downstreamLocalAddress/downstreamDirectRemoteAddress/downstreamRemoteAddress/requestedServerName/
 * dynamicMetadata (get, set); on headers get/getAtIndex/getNumValues/add/replace/remove and pairs(); on a body
 * length/getBytes/setBytes.)
 */
const NOT_SUPPORTED_METHODS: readonly string[] = [
  'httpCall', 'verifySignature', 'importPublicKey', 'base64Escape', 'timestamp', 'timestampString',
  'setUpstreamOverrideHost', 'virtualClusterName', 'filterContext', 'clearRouteCache', 'setHttp1ReasonPhrase',
  'dynamicTypedMetadata', 'downstreamSslConnection', 'route', 'routeName', 'drainConnectionUponCompletion',
  'metadata', 'connection', 'filterState', 'upstreamHost', 'upstreamClusterName', 'downstreamLocalAddressWithoutPort',
];

/** One script, ready for a worker's VM: its text and whether it reads bodies or trailers (then they are buffered). */
export interface LuaScript {
  readonly name: string;
  readonly code: string;
  /** The script calls body(), bodyChunks() or trailers(): the filter holds the body (up to the buffer limit) first. */
  readonly needsBody: boolean;
}

/** The filter's config, as plain data (it crosses to the workers in the snapshot). */
export interface LuaFilterConfig {
  /** default_source_code (or inline_code); null: none (routes name a script, or the filter does nothing). */
  readonly defaultScript: LuaScript | null;
  /** source_codes by name (LuaPerRoute.name picks one). */
  readonly namedScripts: Readonly<Record<string, LuaScript>>;
  readonly statPrefix: string;
}

/** A LuaPerRoute, compiled: disabled, a named script of the filter's, or a script of its own. */
export class LuaPerRoute {
  readonly disabled: boolean;
  readonly name: string;
  readonly script: LuaScript | null;

  constructor(disabled: boolean, name: string, script: LuaScript | null) {
    this.disabled = disabled;
    this.name = name;
    this.script = script;
    Object.freeze(this);
  }
}

/** Comments and strings removed (roughly: enough that a method named in a comment is not taken for a call). */
function codeOnly(code: string): string {
  return code.replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, ' ').replace(/--[^\n]*/g, ' ').replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
}

function compileScript(name: string, code: string, path: string, problems: FilterConfigProblem[]): LuaScript {
  const bare = codeOnly(code);
  for (const m of NOT_SUPPORTED_METHODS) {
    if (new RegExp(`:\\s*${m}\\s*\\(`).test(bare)) {
      problems.push({ code: 'not_supported', path, message: `not supported yet: the Lua handle method ${m}() (the script calls it)` });
    }
  }
  return Object.freeze({ name, code, needsBody: /:\s*(?:body|bodyChunks|trailers)\s*\(/.test(bare) });
}

/** A script's DataSource: inline or a file, any size (Envoy reads it whole, as here). */
const SCRIPT_SOURCE: DataSourceRules = Object.freeze({ unreadable: 'cannot read Lua script file', environmentVariable: true });

function scriptOf(ds: unknown, name: string, path: string, problems: FilterConfigProblem[]): LuaScript | null {
  const code = readDataSourceText(obj(ds), path, SCRIPT_SOURCE, problems);
  return code === null ? null : compileScript(name, code, path, problems);
}

/** Lua at `path` -> LuaFilterConfig. */
export function compileLua(tc: Obj, path: string, problems: FilterConfigProblem[]): LuaFilterConfig {
  let defaultScript: LuaScript | null = null;
  const inline = str(tc['inline_code'], '');
  if (tc['default_source_code'] !== undefined) {
    if (inline !== '') problems.push({ path: `${path}.inline_code`, message: 'inline_code and default_source_code cannot both be set' });
    defaultScript = scriptOf(tc['default_source_code'], 'default', `${path}.default_source_code`, problems);
  } else if (inline !== '') {
    defaultScript = compileScript('default', inline, `${path}.inline_code`, problems);
  }
  const namedScripts: Record<string, LuaScript> = {};
  const codes = obj(tc['source_codes']);
  for (const key of Object.keys(codes)) {
    const s = scriptOf(codes[key], key, `${path}.source_codes[${JSON.stringify(key)}]`, problems);
    if (s !== null) namedScripts[key] = s;
  }
  return Object.freeze({ defaultScript, namedScripts: Object.freeze(namedScripts), statPrefix: str(tc['stat_prefix'], '') });
}

/** LuaPerRoute at `path`: exactly one of disabled, name, source_code (the schema's oneof). */
export function compileLuaPerRoute(tc: Obj, path: string, problems: FilterConfigProblem[]): LuaPerRoute {
  if (bool(tc['disabled'], false)) return new LuaPerRoute(true, '', null);
  const name = str(tc['name'], '');
  if (name !== '') return new LuaPerRoute(false, name, null);
  if (tc['source_code'] !== undefined) return new LuaPerRoute(false, '', scriptOf(tc['source_code'], 'route', `${path}.source_code`, problems));
  problems.push({ code: 'missing_field', path, message: 'LuaPerRoute needs one of disabled, name, source_code' });
  return new LuaPerRoute(true, '', null);
}

export const LUA_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.lua',
  compile(tc, path, problems, hcmStatPrefix) {
    const config = compileLua(tc, path, problems);
    // Envoy: http.<stat_prefix>.lua.<lua stat_prefix>.errors.
    const prefix = `http.${hcmStatPrefix}.lua.${config.statPrefix === '' ? '' : `${config.statPrefix}.`}`;
    const stats: HttpFilterStats = { prefix, definition: 'lua', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] };
    return { config, stats };
  },
};
