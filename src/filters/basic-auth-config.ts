// Any thread (pure but for reading a users file; config time). envoy.filters.http.basic_auth: its BasicAuth (the
// filter's config) and BasicAuthPerRoute (a route's users instead of the filter's), compiled. Users come from a
// DataSource in htpasswd form, `name:{SHA}<base64 of the password's SHA-1>` per line; other schemes are refused as
// Envoy refuses them. The filter-level config crosses to the workers as plain data (name -> base64 digest); the
// worker turns it into a BasicAuthUsers (digests as Buffers, compared in constant time).

import { isHeaderName, str, type Obj } from '../router/config-values.ts';
import { readDataSourceText, type DataSourceRules } from '../router/data-source.ts';
import type { FilterConfigProblem, HttpFilterType } from './http-filter-config.ts';

export const BASIC_AUTH_TYPE = 'envoy.extensions.filters.http.basic_auth.v3.BasicAuth';
export const BASIC_AUTH_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute';

/** The length of a base64 SHA-1 digest (20 bytes, padded). */
const SHA1_BASE64_LENGTH = 28;

/** What crosses to the workers. */
export interface BasicAuthConfig {
  /** User name -> base64 SHA-1 of the password, in file order. */
  users: [string, string][];
  /** forward_username_header, lower-cased ('' when not set). */
  forwardUsernameHeader: string;
}

/**
 * A users table as the worker uses it: name -> the base64 SHA-1 of the password as bytes (28), compared as Envoy
 * compares them (the base64 text), in constant time.
 */
export class BasicAuthUsers {
  readonly byName: ReadonlyMap<string, Buffer>;
  constructor(users: readonly (readonly [string, string])[]) {
    const m = new Map<string, Buffer>();
    for (const [name, hash] of users) m.set(name, Buffer.from(hash, 'latin1'));
    this.byName = m;
    Object.freeze(this);
  }
}

const USERS_SOURCE: DataSourceRules = Object.freeze({ unreadable: 'basic auth: cannot read users file' });

/** htpasswd lines -> [name, base64 digest], with Envoy's checks (each a problem at `path`). */
export function parseHtpasswd(text: string, path: string, problems: FilterConfigProblem[]): [string, string][] {
  const users: [string, string][] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    // As Envoy: empty lines and comments are skipped.
    if (line === '' || line.startsWith('#')) continue;
    const where = `${path} (line ${i + 1} of the users)`;
    const colon = line.indexOf(':');
    if (colon < 0) {
      problems.push({ path: where, message: 'basic auth: invalid htpasswd format, username:password is expected' });
      continue;
    }
    const name = line.slice(0, colon);
    let hash = line.slice(colon + 1);
    if (name === '' || hash === '') {
      problems.push({ path: where, message: 'basic auth: empty user name or password' });
      continue;
    }
    if (seen.has(name)) {
      problems.push({ path: where, message: `basic auth: duplicate users ('${name}')` });
      continue;
    }
    if (!hash.startsWith('{SHA}')) {
      problems.push({ path: where, message: 'basic auth: unsupported htpasswd format: please use {SHA}' });
      continue;
    }
    hash = hash.slice(5);
    if (hash.length !== SHA1_BASE64_LENGTH) {
      problems.push({ path: where, message: 'basic auth: invalid htpasswd format, invalid SHA hash length' });
      continue;
    }
    seen.add(name);
    users.push([name, hash]);
  }
  return users;
}

/** `users`; absent: no user (every request is denied), as Envoy reads an unset DataSource as empty, unless `required`. */
function compileUsers(o: Obj, path: string, problems: FilterConfigProblem[], required: boolean): [string, string][] {
  const ds = o['users'];
  if (ds === undefined || ds === null) {
    if (required) problems.push({ code: 'missing_field', path: `${path}.users`, message: 'BasicAuthPerRoute needs users' });
    return [];
  }
  const text = readDataSourceText(ds as Obj, `${path}.users`, USERS_SOURCE, problems);
  return text === null ? [] : parseHtpasswd(text, `${path}.users`, problems);
}

/** BasicAuth at `path`. */
export function compileBasicAuth(o: Obj, path: string, problems: FilterConfigProblem[]): BasicAuthConfig {
  const users = compileUsers(o, path, problems, false);
  const header = str(o['forward_username_header'], '');
  if (header !== '' && !isHeaderName(header)) {
    problems.push({ path: `${path}.forward_username_header`, message: `'${header}' is not a valid header name` });
  }
  return { users, forwardUsernameHeader: header.toLowerCase() };
}

/** BasicAuthPerRoute (a route's typed_per_filter_config): its users replace the filter's. */
export function compileBasicAuthPerRoute(o: Obj, path: string, problems: FilterConfigProblem[]): BasicAuthUsers {
  return new BasicAuthUsers(compileUsers(o, path, problems, true));
}

/** The filter: stats http.<stat_prefix>.basic_auth.{allowed,denied} (Envoy's). */
export const BASIC_AUTH_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.basic_auth',
  compile(typedConfig, path, problems, hcmStatPrefix) {
    return {
      config: compileBasicAuth(typedConfig, path, problems),
      stats: { prefix: `http.${hcmStatPrefix}.basic_auth.`, definition: 'basic_auth', tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]] },
    };
  },
};
