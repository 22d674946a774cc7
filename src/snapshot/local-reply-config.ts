// Primary thread (config time). The connection manager's local_reply_config (Envoy's LocalReplyConfig), validated
// and turned into plain data that crosses to the workers in the snapshot: each mapper's filter, status, body (a
// DataSource, read here once), headers_to_add (the HeaderValueOption list, compiled again where it runs) and body
// format; the fallback body_format. The worker builds it (workers/http/local-reply-rewriter.ts).

import { compileAccessLogFilter, type AccessLogFilterData } from '../access-log/access-log-filter.ts';
import type { AccessLogProblem } from '../access-log/access-log-config.ts';
import { compileHeaderValueFormat } from '../access-log/formatter.ts';
import { compileSubstitutionFormatString, type LogFormat } from '../access-log/log-format-config.ts';
import { compileMutationLevel } from '../router/header-mutations.ts';
import { isObj, list, obj, str, type Obj } from '../router/config-values.ts';
import { readDataSourceText, type DataSourceRules } from '../router/data-source.ts';
import type { FilterConfigProblem } from '../filters/http-filter-config.ts';

/** A SubstitutionFormatString for a body, and the content-type that goes with it. */
export interface BodyFormatData {
  format: LogFormat;
  contentType: string;
}

export interface ResponseMapperData {
  filter: AccessLogFilterData;
  /** status_code; 0 = unchanged. */
  statusCode: number;
  /** body, read; null = unchanged. */
  body: string | null;
  /** headers_to_add: the HeaderValueOption list as configured. */
  headersToAdd: unknown[];
  /** body_format_override, or null. */
  bodyFormat: BodyFormatData | null;
}

export interface LocalReplyConfigData {
  mappers: ResponseMapperData[];
  /** body_format; null: the body as it is, text/plain (Envoy's default "%LOCAL_REPLY_BODY%"). */
  bodyFormat: BodyFormatData | null;
}

/** local_reply_config at `path`; null when absent or empty (no cost per local reply then). */
export function compileLocalReplyConfig(raw: unknown, path: string, problems: FilterConfigProblem[]): LocalReplyConfigData | null {
  if (!isObj(raw)) return null;
  const mappers: ResponseMapperData[] = [];
  list(raw['mappers']).forEach((m, i) => {
    const mapper = compileMapper(obj(m), `${path}.mappers[${i}]`, problems);
    if (mapper !== null) mappers.push(mapper);
  });
  const bodyFormat = isObj(raw['body_format']) ? compileBodyFormat(raw['body_format'], `${path}.body_format`, problems) : null;
  if (mappers.length === 0 && bodyFormat === null) return null;
  return { mappers, bodyFormat };
}

function compileMapper(m: Obj, path: string, problems: FilterConfigProblem[]): ResponseMapperData | null {
  if (!isObj(m['filter'])) {
    problems.push({ code: 'missing_field', path: `${path}.filter`, message: 'filter is required' });
    return null;
  }
  const filter = compileAccessLogFilter(m['filter'], `${path}.filter`, problems);
  let statusCode = 0;
  const sc = m['status_code'];
  if (sc !== undefined) {
    statusCode = typeof sc === 'number' ? sc : Number(obj(sc)['value']);
    if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode >= 600) {
      problems.push({ path: `${path}.status_code`, message: 'must be between 200 and 599' });
      statusCode = 0;
    }
  }
  const body = isObj(m['body']) ? readDataSourceText(m['body'], `${path}.body`, BODY_SOURCE, problems) : null;
  const headersToAdd = list(m['headers_to_add']);
  compileMutationLevel(headersToAdd, undefined, `${path}.headers_to_add`, '', compileHeaderValueFormat, problems);
  const bodyFormat = isObj(m['body_format_override']) ? compileBodyFormat(m['body_format_override'], `${path}.body_format_override`, problems) : null;
  if (filter === null) return null;
  return { filter, statusCode, body, headersToAdd, bodyFormat };
}

function compileBodyFormat(sfs: Obj, path: string, problems: FilterConfigProblem[]): BodyFormatData | null {
  const logProblems: AccessLogProblem[] = [];
  const format = compileSubstitutionFormatString(sfs, path, logProblems);
  for (const p of logProblems) problems.push({ code: p.code === 'not_supported' || p.code === 'missing_field' ? p.code : 'bad_value', path: p.path, message: p.message });
  if (format === null) return null;
  const contentType = str(sfs['content_type'], '');
  return { format, contentType: contentType !== '' ? contentType : format.format === 'json' ? 'application/json' : 'text/plain' };
}

/** envoy.config.core.v3.DataSource, read now (a file once, as Envoy reads it when the config loads). */
const BODY_SOURCE: DataSourceRules = Object.freeze({
  unreadable: 'cannot read',
  environmentVariable: true,
  missing: 'a data source needs inline_string, inline_bytes, filename or environment_variable',
});
