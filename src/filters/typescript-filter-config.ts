// Any thread (pure but for reading the filter's file and a check child; config time only). Legate's
// legate.filters.http.typescript.v1.TypeScriptFilter: a user's filter module. The file is resolved against the
// config file's directory, read (its content hash versions the module URL the workers import, so a reload with a
// changed file loads the new code and an unchanged one keeps its module), and imported once in a child process
// (src/filter-api/check-filter-module.ts) so a syntax error, a top-level throw or a wrong export is a config error
// at file:line, and the stats the definition declares get slots from the primary like any filter's.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { num, obj, str, type Obj } from '../router/config-values.ts';
import { BUILTIN_FILTER_COUNTERS } from '../filter-api/define-filter.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';
import type { Snapshot } from '../snapshot/snapshot-types.ts';

export const TYPESCRIPT_FILTER_TYPE = 'legate.filters.http.typescript.v1.TypeScriptFilter';
export const TYPESCRIPT_FILTER_PER_ROUTE_TYPE = 'legate.filters.http.typescript.v1.TypeScriptFilterPerRoute';
/** The name its factory is registered under in the workers. */
export const TYPESCRIPT_FILTER_NAME = 'legate.filters.http.typescript';

const EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);
const CHECKER = fileURLToPath(new URL('../filter-api/check-filter-module.ts', import.meta.url));
/** A module whose top level does not finish in this time is refused (it would stall every worker's apply too). */
const CHECK_TIMEOUT_MS = 20_000;

/** What crosses to the workers (plain data). */
export interface TypeScriptFilterConfig {
  /** HttpFilter.name. */
  name: string;
  /** The module's absolute path, for messages. */
  file: string;
  /** file:// URL with the content hash as query: what each worker imports. */
  moduleUrl: string;
  /** TypeScriptFilter.config, plain JSON ({} when absent). */
  config: Record<string, unknown>;
  /** 0: no budget. */
  cpuBudgetMs: number;
}

/** TypeScriptFilterPerRoute, compiled (what mostSpecificPerFilterConfig() returns to the adapter). */
export class TypeScriptFilterPerRouteConfig {
  readonly config: Readonly<Record<string, unknown>>;
  constructor(config: Record<string, unknown>) {
    this.config = config;
  }
}

/** What the check child reports. */
type CheckResult =
  | { ok: true; counters: string[]; gauges: string[]; histograms: string[] }
  | { ok: false; message: string; line: number; column: number };

/** Imports `moduleUrl` in a child process and reads its definition; memoised per URL (the URL carries the hash). */
const checked = new Map<string, CheckResult>();
function checkModule(moduleUrl: string): CheckResult {
  const known = checked.get(moduleUrl);
  if (known !== undefined) return known;
  const r = spawnSync(process.execPath, ['--no-warnings', CHECKER, moduleUrl], {
    encoding: 'utf8', timeout: CHECK_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 4 * 1024 * 1024,
  });
  let result: CheckResult;
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    result = JSON.parse(last) as CheckResult;
  } catch {
    const why = r.error !== undefined ? r.error.message
      : r.signal !== null ? `killed by ${r.signal}${r.signal === 'SIGTERM' ? ` (its top level did not finish within ${CHECK_TIMEOUT_MS} ms)` : ''}`
        : (r.stderr ?? '').trim().split('\n').slice(-3).join(' ') || `exit code ${r.status}`;
    result = { ok: false, message: `the module could not be checked: ${why}`, line: 0, column: 0 };
  }
  if (result.ok) checked.set(moduleUrl, result);
  return result;
}

/** The stats of TypeScript filter `name` in connection manager `hcmStatPrefix`: the built-in ones and its own. */
function statsOf(hcmStatPrefix: string, name: string, declared: { counters: string[]; gauges: string[]; histograms: string[] }): HttpFilterStats {
  return {
    prefix: `http.${hcmStatPrefix}.typescript_filter.${name}.`,
    definition: 'typescript_filter',
    tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]],
    scope: {
      counters: [...BUILTIN_FILTER_COUNTERS, ...declared.counters],
      gauges: declared.gauges,
      histograms: declared.histograms,
    },
  };
}

export const TYPESCRIPT_FILTER: HttpFilterType = {
  name: TYPESCRIPT_FILTER_NAME,
  compile(typedConfig: Obj, p: string, problems: FilterConfigProblem[], hcmStatPrefix: string, context) {
    const name = context?.filterName ?? '';
    const baseDir = context?.baseDir ?? process.cwd();
    const given = str(typedConfig['filter_path'], '');
    const file = path.resolve(baseDir, given);
    const cpuBudgetMs = num(typedConfig['cpu_budget_ms'], 0);
    const config: TypeScriptFilterConfig = { name, file, moduleUrl: '', config: obj(typedConfig['config']), cpuBudgetMs };
    const none = { config, stats: null };
    const fp = `${p}.filter_path`;
    if (given === '') {
      problems.push({ code: 'missing_field', path: fp, message: 'filter_path is required' });
      return none;
    }
    if (!EXTENSIONS.has(path.extname(file))) {
      problems.push({ path: fp, message: `filter_path '${given}' must name a .ts, .mts, .js or .mjs file` });
      return none;
    }
    let text: Buffer;
    try {
      text = fs.readFileSync(file);
    } catch (err) {
      problems.push({ path: fp, message: `cannot read filter module ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return none;
    }
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
    config.moduleUrl = `${pathToFileURL(file).href}?legate_v=${hash}`;
    const r = checkModule(config.moduleUrl);
    if (!r.ok) {
      const at = r.line > 0 ? `${file}:${r.line}:${r.column}` : file;
      problems.push({ path: fp, message: `filter module ${at}: ${r.message}` });
      return none;
    }
    return { config, stats: statsOf(hcmStatPrefix, name, r) };
  },
};

/** TypeScriptFilterPerRoute at `path` (in the worker, with the route table; the Struct is plain JSON already). */
export function compileTypeScriptPerRoute(typedConfig: Obj, _path: string, _problems: FilterConfigProblem[]): TypeScriptFilterPerRouteConfig {
  return new TypeScriptFilterPerRouteConfig(obj(typedConfig['config']));
}

/** The TypeScript filters of a compiled config (every listener, filter chain and connection manager). */
export function typeScriptFiltersOf(snapshot: Snapshot): TypeScriptFilterConfig[] {
  const out: TypeScriptFilterConfig[] = [];
  for (const l of snapshot.listeners) {
    const chains = l.defaultFilterChain === null ? l.filterChains : [...l.filterChains, l.defaultFilterChain];
    for (const c of chains) {
      if (c.filter.kind !== 'http_connection_manager') continue;
      for (const f of c.filter.hcm.httpFilters) if (f.filter === TYPESCRIPT_FILTER_NAME) out.push(f.config as TypeScriptFilterConfig);
    }
  }
  return out;
}
