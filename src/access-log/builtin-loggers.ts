// Any thread (pure). Envoy's built-in stream and file access loggers: envoy.access_loggers.stdout,
// envoy.access_loggers.stderr and envoy.access_loggers.file.

import type { AccessLogConfig, AccessLogProblem, AccessLogSinkKind } from './access-log-config.ts';
import { compileSubstitutionFormatString, DEFAULT_LOG_FORMAT, jsonLogFormat, textLogFormat, type LogFormat } from './log-format-config.ts';
import type { AccessLoggerFactory } from './logger-registry.ts';

function config(logger: string, kind: AccessLogSinkKind, path: string, format: LogFormat): AccessLogConfig {
  return {
    logger,
    kind,
    path,
    format: format.format,
    text: format.text,
    json: format.json,
    jsonTyped: format.jsonTyped,
    omitEmptyValues: format.omitEmptyValues,
    sortProperties: format.sortProperties,
    textEndsWithNewline: format.textEndsWithNewline,
  };
}

function logFormatOf(tc: Record<string, unknown>, path: string, problems: AccessLogProblem[]): LogFormat | null {
  const lf = tc['log_format'];
  if (lf === undefined) return DEFAULT_LOG_FORMAT;
  if (lf === null || typeof lf !== 'object' || Array.isArray(lf)) {
    problems.push({ code: 'bad_value', path: `${path}.log_format`, message: 'log_format must be a SubstitutionFormatString' });
    return null;
  }
  return compileSubstitutionFormatString(lf as Record<string, unknown>, `${path}.log_format`, problems);
}

function streamLogger(name: string, typeUrl: string, kind: 'stdout' | 'stderr'): AccessLoggerFactory {
  return Object.freeze({
    name,
    typeUrl,
    compile(tc: Record<string, unknown>, path: string, problems: AccessLogProblem[]): AccessLogConfig | null {
      const format = logFormatOf(tc, path, problems);
      return format === null ? null : config(name, kind, '', format);
    },
  });
}

const FILE_LOGGER = 'envoy.access_loggers.file';

const fileLogger: AccessLoggerFactory = Object.freeze({
  name: FILE_LOGGER,
  typeUrl: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  compile(tc: Record<string, unknown>, path: string, problems: AccessLogProblem[]): AccessLogConfig | null {
    const file = typeof tc['path'] === 'string' ? tc['path'] : '';
    if (file === '') {
      problems.push({ code: 'missing_field', path: `${path}.path`, message: 'a file access log needs a non-empty path' });
      return null;
    }
    const set = ['format', 'json_format', 'typed_json_format', 'log_format'].filter((k) => tc[k] !== undefined);
    if (set.length > 1) {
      problems.push({ code: 'bad_value', path, message: `only one of format, json_format, typed_json_format, log_format may be set, got ${set.join(', ')}` });
      return null;
    }
    let format: LogFormat | null;
    if (tc['format'] !== undefined) {
      // Deprecated; an empty string means Envoy's default format.
      const text = String(tc['format']);
      format = text === '' ? DEFAULT_LOG_FORMAT : textLogFormat(text, false, `${path}.format`, problems);
    } else if (tc['json_format'] !== undefined) {
      // Deprecated: every value rendered as a string.
      format = jsonLogFormat(tc['json_format'], false, false, false, `${path}.json_format`, problems);
    } else if (tc['typed_json_format'] !== undefined) {
      format = jsonLogFormat(tc['typed_json_format'], true, false, false, `${path}.typed_json_format`, problems);
    } else {
      format = logFormatOf(tc, path, problems);
    }
    if (format === null) return null;
    // Common in Envoy configs: these go through the fd writers, which keep lines whole on pipes.
    if (file === '/dev/stdout') return config(FILE_LOGGER, 'stdout', '', format);
    if (file === '/dev/stderr') return config(FILE_LOGGER, 'stderr', '', format);
    return config(FILE_LOGGER, 'file', file, format);
  },
});

export const BUILTIN_ACCESS_LOGGERS: readonly AccessLoggerFactory[] = Object.freeze([
  streamLogger('envoy.access_loggers.stdout', 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', 'stdout'),
  streamLogger('envoy.access_loggers.stderr', 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog', 'stderr'),
  fileLogger,
]);
