// Any thread (config time only; reads a file synchronously). DirectResponseAction.body, a DataSource, read
// once when the route table is compiled, as Envoy does (ConfigUtility::parseDirectResponseBody).

import fs from 'node:fs';
import { oneofSet, str, type Obj, type RouteConfigProblem } from './config-values.ts';

/** RouteConfiguration.max_direct_response_body_size_bytes default (the field itself is not supported). */
export const MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;

/** The body bytes; null (with a problem at `path`) when it cannot be had. */
export function readDataSource(ds: Obj, path: string, problems: RouteConfigProblem[]): Buffer | null {
  const which = oneofSet(ds, ['inline_string', 'inline_bytes', 'filename'], path, true, problems);
  let body: Buffer;
  let where: string;
  switch (which) {
    case 'inline_string':
      body = Buffer.from(str(ds['inline_string'], ''), 'utf8');
      where = `${path}.inline_string`;
      break;
    case 'inline_bytes':
      body = Buffer.from(str(ds['inline_bytes'], ''), 'base64');
      where = `${path}.inline_bytes`;
      break;
    case 'filename': {
      where = `${path}.filename`;
      const file = str(ds['filename'], '');
      try {
        body = fs.readFileSync(file);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        problems.push({ path: where, message: `cannot read direct_response body file '${file}': ${e.code ?? e.message}` });
        return null;
      }
      break;
    }
    default:
      return null;
  }
  if (body.length > MAX_DIRECT_RESPONSE_BODY_BYTES) {
    problems.push({ path: where, message: `response body is ${body.length} bytes; the maximum is ${MAX_DIRECT_RESPONSE_BODY_BYTES}` });
    return null;
  }
  return body;
}
