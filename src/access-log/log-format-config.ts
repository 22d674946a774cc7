// Any thread (pure). The format part of an access logger's config: Envoy's SubstitutionFormatString
// (log_format) and FileAccessLog's deprecated format / json_format / typed_json_format, validated by compiling
// them once here.

import type { AccessLogConfig, AccessLogProblem } from './access-log-config.ts';
import { compileJsonFormat, compileTextFormat, DEFAULT_FORMAT, FormatError } from './formatter.ts';
import { obj } from '../router/config-values.ts';
import { readDataSourceText, type DataSourceProblem, type DataSourceRules } from '../router/data-source.ts';

/** The format fields of AccessLogConfig. */
export type LogFormat = Pick<AccessLogConfig, 'format' | 'text' | 'json' | 'jsonTyped' | 'omitEmptyValues' | 'sortProperties' | 'textEndsWithNewline'>;

export const DEFAULT_LOG_FORMAT: Readonly<LogFormat> = Object.freeze({
  format: 'text',
  text: DEFAULT_FORMAT,
  json: null,
  jsonTyped: true,
  omitEmptyValues: false,
  sortProperties: false,
  textEndsWithNewline: true,
});

function formatProblem(err: unknown, path: string, problems: AccessLogProblem[]): void {
  if (!(err instanceof FormatError)) throw err;
  problems.push({ code: err.code === 'operator_not_supported' ? 'not_supported' : 'bad_value', path, message: err.message });
}

export function textLogFormat(template: string, omitEmptyValues: boolean, path: string, problems: AccessLogProblem[]): LogFormat | null {
  try {
    compileTextFormat(template, { omitEmptyValues });
  } catch (err) {
    formatProblem(err, path, problems);
    return null;
  }
  return {
    format: 'text',
    text: template,
    json: null,
    jsonTyped: true,
    omitEmptyValues,
    sortProperties: false,
    textEndsWithNewline: template.endsWith('\n'),
  };
}

export function jsonLogFormat(
  struct: unknown,
  typed: boolean,
  omitEmptyValues: boolean,
  sortProperties: boolean,
  path: string,
  problems: AccessLogProblem[],
): LogFormat | null {
  if (struct === null || typeof struct !== 'object' || Array.isArray(struct)) {
    problems.push({ code: 'bad_value', path, message: 'json_format must be a struct (a map of keys to format strings)' });
    return null;
  }
  const json = struct as Record<string, unknown>;
  try {
    compileJsonFormat(json, { omitEmptyValues, typed, sortProperties });
  } catch (err) {
    formatProblem(err, path, problems);
    return null;
  }
  return { format: 'json', text: '', json, jsonTyped: typed, omitEmptyValues, sortProperties, textEndsWithNewline: true };
}

/** envoy.config.core.v3.SubstitutionFormatString. */
export function compileSubstitutionFormatString(sfs: Record<string, unknown>, path: string, problems: AccessLogProblem[]): LogFormat | null {
  const omit = sfs['omit_empty_values'] === true;
  const formatters = sfs['formatters'];
  if (Array.isArray(formatters) && formatters.length > 0) {
    problems.push({ code: 'not_supported', path: `${path}.formatters`, message: 'not supported yet: formatter extensions' });
    return null;
  }
  const set = ['text_format', 'json_format', 'text_format_source'].filter((k) => sfs[k] !== undefined);
  if (set.length === 0) {
    problems.push({ code: 'missing_field', path, message: 'one of text_format, json_format or text_format_source is required' });
    return null;
  }
  if (set.length > 1) {
    problems.push({ code: 'bad_value', path, message: `only one of text_format, json_format, text_format_source may be set, got ${set.join(', ')}` });
    return null;
  }
  if (sfs['text_format'] !== undefined) {
    return textLogFormat(String(sfs['text_format']), omit, `${path}.text_format`, problems);
  }
  if (sfs['json_format'] !== undefined) {
    const options = sfs['json_format_options'];
    const sort = options !== null && typeof options === 'object' && (options as Record<string, unknown>)['sort_properties'] === true;
    return jsonLogFormat(sfs['json_format'], true, omit, sort, `${path}.json_format`, problems);
  }
  const source = sfs['text_format_source'];
  const text = dataSourceText(source, `${path}.text_format_source`, problems);
  return text === null ? null : textLogFormat(text, omit, `${path}.text_format_source`, problems);
}

/** envoy.config.core.v3.DataSource, for the kinds that need no file I/O at compile time. */
const FORMAT_SOURCE: DataSourceRules = Object.freeze({
  unreadable: 'cannot read',
  environmentVariable: true,
  fileRefused: 'not supported yet: a format read from a file (use inline_string)',
  missing: 'a data source needs inline_string, inline_bytes or environment_variable',
});

function dataSourceText(source: unknown, path: string, problems: AccessLogProblem[]): string | null {
  const found: DataSourceProblem[] = [];
  const text = readDataSourceText(obj(source), path, FORMAT_SOURCE, found);
  for (const p of found) problems.push({ code: p.code ?? 'bad_value', path: p.path, message: p.message });
  return text;
}
