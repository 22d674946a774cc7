// Any thread (pure; the primary compiles, workers receive the result in the snapshot). Envoy `access_log` lists
// (HTTP connection manager, listener) -> AccessLogConfig: plain, msgpack-able data that a worker turns into a
// sink. Format strings are validated here, so a bad operator is a config problem, not a runtime surprise.

import { BUILTIN_ACCESS_LOGGERS } from './builtin-loggers.ts';
import { accessLoggerByName, accessLoggerByType, registerAccessLogger } from './logger-registry.ts';
import { compileAccessLogFilter, type AccessLogFilterData, type AccessLogFilterProblem } from './access-log-filter.ts';

for (const factory of BUILTIN_ACCESS_LOGGERS) registerAccessLogger(factory);

/** A normalized envoy.config.accesslog.v3.AccessLog (see config-loader/types.ts for the normalized form). */
export type NormalizedAccessLog = Record<string, unknown>;

export type AccessLogSinkKind = 'stdout' | 'stderr' | 'file';

export interface AccessLogConfig {
  /** Envoy extension name of the logger, e.g. "envoy.access_loggers.file". */
  logger: string;
  kind: AccessLogSinkKind;
  /** File path for kind 'file'; '' otherwise. */
  path: string;
  format: 'text' | 'json';
  /** Text template (format 'text'); '' for JSON. */
  text: string;
  /** json_format struct (format 'json'); null for text. */
  json: Record<string, unknown> | null;
  /** JSON values keep their types (json_format); false only for FileAccessLog's deprecated untyped json_format. */
  jsonTyped: boolean;
  omitEmptyValues: boolean;
  /** json_format_options.sort_properties. */
  sortProperties: boolean;
  /**
   * Whether each formatted entry ends with "\n" (always for JSON; for text, whether the template does). Envoy
   * writes a text entry exactly as formatted, so a template without "\n" runs entries together; Legate does too.
   */
  textEndsWithNewline: boolean;
  /** AccessLog.filter: only requests it passes are logged; absent: every request. */
  filter?: AccessLogFilterData;
}

export type AccessLogProblemCode = 'bad_value' | 'not_supported' | 'missing_field' | 'unknown_type';

export interface AccessLogProblem {
  code: AccessLogProblemCode;
  /** Field path, e.g. static_resources.listeners[0]....access_log[1].typed_config.log_format.text_format */
  path: string;
  message: string;
}

const ACCESS_LOGGER_TYPE_PREFIX = 'type.googleapis.com/envoy.extensions.access_loggers.';

export function compileAccessLogs(
  list: readonly NormalizedAccessLog[] | undefined,
  basePath: string,
): { config: AccessLogConfig[]; problems: AccessLogProblem[] } {
  const config: AccessLogConfig[] = [];
  const problems: AccessLogProblem[] = [];
  if (list === undefined) return { config, problems };
  for (let i = 0; i < list.length; i++) {
    const path = `${basePath}[${i}]`;
    const entry = list[i] ?? {};
    let filter: AccessLogFilterData | null = null;
    if (entry['filter'] !== undefined) {
      const filterProblems: AccessLogFilterProblem[] = [];
      filter = compileAccessLogFilter(asObject(entry['filter']) ?? {}, `${path}.filter`, filterProblems);
      for (const p of filterProblems) problems.push({ code: p.code ?? 'bad_value', path: p.path, message: p.message });
      if (filter === null || filterProblems.length > 0) continue;
    }
    const name = typeof entry['name'] === 'string' ? entry['name'] : '';
    const typedConfig = asObject(entry['typed_config']);
    const typeUrl = typedConfig === null ? undefined : typedConfig['@type'];
    const factory = typeof typeUrl === 'string' ? accessLoggerByType(typeUrl) : accessLoggerByName(name);
    if (factory === undefined) {
      if (typeof typeUrl !== 'string') {
        problems.push({ code: 'missing_field', path: `${path}.typed_config`, message: `access logger '${name}' needs a typed_config` });
      } else if (typeUrl.startsWith(ACCESS_LOGGER_TYPE_PREFIX)) {
        problems.push({ code: 'not_supported', path: `${path}.typed_config`, message: `not supported yet: access logger @type ${typeUrl} (supported: envoy.access_loggers.stdout, envoy.access_loggers.stderr, envoy.access_loggers.file)` });
      } else {
        problems.push({ code: 'unknown_type', path: `${path}.typed_config`, message: `@type ${typeUrl} is not an access logger` });
      }
      continue;
    }
    const compiled = factory.compile(typedConfig ?? {}, `${path}.typed_config`, problems);
    if (compiled === null) continue;
    if (filter !== null) compiled.filter = filter;
    config.push(compiled);
  }
  return { config, problems };
}

export function asObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}
