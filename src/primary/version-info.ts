// Primary thread. Legate's version as Envoy reports its own (`envoy --version`, /server_info's "version"):
// <git sha>/<release>/<Clean|Modified>/RELEASE/<TLS library>, worked out once from the checkout (the sha from .git
// itself; Clean/Modified from `git status` when git is there, else Unknown).

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SCHEMA_SOURCE } from '../config-loader/proto-schema.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

let cached: string | undefined;

function packageVersion(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}

/** The commit checked out, from .git itself (HEAD, a loose ref or packed-refs); 40 zeros when unknown. */
function gitSha(): string {
  const unknown = '0'.repeat(40);
  try {
    const gitDir = path.join(ROOT, '.git');
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return /^[0-9a-f]{40}$/.test(head) ? head : unknown;
    const ref = head.slice(5);
    try {
      return fs.readFileSync(path.join(gitDir, ref), 'utf8').trim();
    } catch {
      const packed = fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      return line?.slice(0, 40) ?? unknown;
    }
  } catch {
    return unknown;
  }
}

/** Clean when git reports no change to tracked files, Modified when it does, Unknown without git. */
function treeStatus(): string {
  try {
    const out = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    return out.trim() === '' ? 'Clean' : 'Modified';
  } catch {
    return 'Unknown';
  }
}

/** `<sha>/<release>/<Clean|Modified>/RELEASE/OpenSSL`, Envoy's VersionInfo::version() shape. */
export function versionString(): string {
  cached ??= `${gitSha()}/${packageVersion()}/${treeStatus()}/RELEASE/OpenSSL`;
  return cached;
}

/** What `legate --version` prints (Envoy's TCLAP form, then what Legate runs on and speaks). */
export function versionText(): string {
  return `\nlegate  version: ${versionString()}\n` +
    `Node.js ${process.version}, OpenSSL ${process.versions.openssl}; configuration schema: ${SCHEMA_SOURCE}\n\n`;
}
