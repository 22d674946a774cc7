// Any thread (config time only; reads a file synchronously). DirectResponseAction.body, a DataSource, read
// once when the route table is compiled, as Envoy does (ConfigUtility::parseDirectResponseBody).

import type { Obj, RouteConfigProblem } from './config-values.ts';
import { readDataSourceBytes, type DataSourceRules } from './data-source.ts';

/** RouteConfiguration.max_direct_response_body_size_bytes default (the field itself is not supported). */
export const MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;

const BODY_SOURCE: DataSourceRules = Object.freeze({ unreadable: 'cannot read direct_response body file' });

/** The body bytes; null (with a problem at `path`) when it cannot be had. */
export function readDataSource(ds: Obj, path: string, problems: RouteConfigProblem[]): Buffer | null {
  const body = readDataSourceBytes(ds, path, BODY_SOURCE, problems);
  if (body === null) return null;
  if (body.bytes.length > MAX_DIRECT_RESPONSE_BODY_BYTES) {
    problems.push({ path: body.path, message: `response body is ${body.bytes.length} bytes; the maximum is ${MAX_DIRECT_RESPONSE_BODY_BYTES}` });
    return null;
  }
  return body.bytes;
}
