// Any thread (config time only; reads a file synchronously). envoy.config.core.v3.DataSource read once, now, as
// Envoy reads one when the config loads: inline_string, inline_bytes (base64), filename and, where the caller
// admits it, environment_variable. One reader for every compiler that takes a DataSource (direct_response bodies,
// Lua scripts, basic_auth users, jwt_authn local_jwks, local_reply bodies, access-log format sources); the TLS one
// (src/tls/compile-tls-context.ts) stays apart because it remembers where it read from to reread on rotation.

import fs from 'node:fs';
import { oneofSet, type Obj } from './config-values.ts';

/** A problem as every caller's problem type can hold it (no code = the caller's default, bad_value). */
export interface DataSourceProblem {
  path: string;
  message: string;
  code?: 'bad_value' | 'missing_field' | 'not_supported';
}

/** What a caller admits and how its problems read. Module constants: built once per caller. */
export interface DataSourceRules {
  /** The start of the problem for a file that cannot be read: `<unreadable> '<file>': <ENOENT...>`. */
  readonly unreadable: string;
  /** environment_variable is admitted (its value read now; unset is a problem). */
  readonly environmentVariable?: boolean;
  /** When set, filename is refused as not supported yet, with this message. */
  readonly fileRefused?: string;
  /** When set, the message (missing_field) for a DataSource with no member; else "one of ... is required". */
  readonly missing?: string;
}

/** The bytes read and the path of the member they came from (`<path>.inline_string`...). */
export interface DataSourceBytes {
  readonly bytes: Buffer;
  readonly path: string;
}

const MEMBERS = ['inline_string', 'inline_bytes', 'filename'] as const;
const MEMBERS_WITH_ENV = ['inline_string', 'inline_bytes', 'filename', 'environment_variable'] as const;

function member(ds: Obj, path: string, rules: DataSourceRules, problems: DataSourceProblem[]): string | null {
  const members = rules.environmentVariable === true ? MEMBERS_WITH_ENV : MEMBERS;
  const which = oneofSet(ds, members, path, rules.missing === undefined, problems);
  if (which === null && rules.missing !== undefined) problems.push({ code: 'missing_field', path, message: rules.missing });
  return which;
}

function read(ds: Obj, which: string, path: string, rules: DataSourceRules, problems: DataSourceProblem[], asText: boolean): string | Buffer | null {
  const value = typeof ds[which] === 'string' ? (ds[which] as string) : '';
  switch (which) {
    case 'inline_string':
      return asText ? value : Buffer.from(value, 'utf8');
    case 'inline_bytes': {
      const bytes = Buffer.from(value, 'base64');
      return asText ? bytes.toString('utf8') : bytes;
    }
    case 'environment_variable': {
      const env = process.env[value];
      if (env === undefined) {
        problems.push({ code: 'bad_value', path: `${path}.environment_variable`, message: `environment variable ${value} is not set` });
        return null;
      }
      return asText ? env : Buffer.from(env, 'utf8');
    }
    case 'filename':
      if (rules.fileRefused !== undefined) {
        problems.push({ code: 'not_supported', path: `${path}.filename`, message: rules.fileRefused });
        return null;
      }
      try {
        return asText ? fs.readFileSync(value, 'utf8') : fs.readFileSync(value);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        problems.push({ path: `${path}.filename`, message: `${rules.unreadable} '${value}': ${e.code ?? e.message}` });
        return null;
      }
    default:
      return null;
  }
}

/** The DataSource at `path` as bytes, with the member's path; null (with a problem) when it cannot be had. */
export function readDataSourceBytes(ds: Obj, path: string, rules: DataSourceRules, problems: DataSourceProblem[]): DataSourceBytes | null {
  const which = member(ds, path, rules, problems);
  if (which === null) return null;
  const bytes = read(ds, which, path, rules, problems, false) as Buffer | null;
  return bytes === null ? null : { bytes, path: `${path}.${which}` };
}

/** The DataSource at `path` as UTF-8 text; null (with a problem) when it cannot be had. */
export function readDataSourceText(ds: Obj, path: string, rules: DataSourceRules, problems: DataSourceProblem[]): string | null {
  const which = member(ds, path, rules, problems);
  return which === null ? null : (read(ds, which, path, rules, problems, true) as string | null);
}
