// Primary thread (bench harness). The external programs a run uses (nginx, haproxy, wrk, h2load, openssl): found on
// PATH or in sbin, installed from Debian with apt-get when missing and allowed, and their versions for the report.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type ToolName = 'nginx' | 'haproxy' | 'wrk' | 'h2load' | 'openssl';
export const TOOL_NAMES: readonly ToolName[] = ['nginx', 'haproxy', 'wrk', 'h2load', 'openssl'];

/** The Debian package that ships each tool. */
const DEBIAN_PACKAGE: Readonly<Record<ToolName, string>> = {
  nginx: 'nginx',
  haproxy: 'haproxy',
  wrk: 'wrk',
  h2load: 'nghttp2-client',
  openssl: 'openssl',
};

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin', '/bin'];

/** Absolute path of `name`, or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== ''), ...SEARCH];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface InstallOutcome {
  readonly installed: readonly ToolName[];
  /** Why nothing (more) could be installed, when something is still missing. */
  readonly problem: string | undefined;
}

/**
 * apt-get update once, then apt-get install -y for the missing tools' Debian packages (h2load is in
 * nghttp2-client). Root only, or passwordless sudo; output goes to `logFile`.
 */
export function installTools(missing: readonly ToolName[], logFile: string): InstallOutcome {
  if (missing.length === 0) return { installed: [], problem: undefined };
  if (findTool('apt-get') === undefined) return { installed: [], problem: 'apt-get is not available (not Debian?)' };
  let prefix: string[] = [];
  if (process.getuid?.() !== 0) {
    if (findTool('sudo') === undefined || spawnSync('sudo', ['-n', 'true']).status !== 0) {
      return { installed: [], problem: 'not root and no passwordless sudo: install them with apt-get install -y ' + missing.map((t) => DEBIAN_PACKAGE[t]).join(' ') };
    }
    prefix = ['sudo', '-n'];
  }
  const log = fs.openSync(logFile, 'a');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]): number => {
    const cmd = [...prefix, ...args];
    return spawnSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', log, log], env }).status ?? 1;
  };
  process.stderr.write(`bench: installing ${missing.join(', ')} with apt-get (log: ${logFile})\n`);
  try {
    if (run(['apt-get', 'update']) !== 0) return { installed: [], problem: `apt-get update failed (see ${logFile})` };
    if (run(['apt-get', 'install', '-y', '--no-install-recommends', ...new Set(missing.map((t) => DEBIAN_PACKAGE[t]))]) !== 0) {
      return { installed: missing.filter((t) => findTool(t) !== undefined), problem: `apt-get install failed (see ${logFile})` };
    }
  } finally {
    fs.closeSync(log);
  }
  const still = missing.filter((t) => findTool(t) === undefined);
  return { installed: missing.filter((t) => !still.includes(t)), problem: still.length > 0 ? `still missing after apt-get: ${still.join(', ')}` : undefined };
}

function firstLine(cmd: string, args: string[], re: RegExp): string | undefined {
  // nginx -v prints on stderr and wrk -v exits 1: read both streams whatever the status.
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const m = re.exec(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  return m === null ? undefined : m[1];
}

export function toolVersion(name: ToolName, bin: string): string | undefined {
  switch (name) {
    case 'nginx':
      return firstLine(bin, ['-v'], /nginx\/(\S+)/);
    case 'haproxy':
      return firstLine(bin, ['-v'], /HA-?Proxy version (\S+)/);
    case 'wrk':
      return firstLine(bin, ['-v'], /wrk (\S+)/);
    case 'h2load':
      return firstLine(bin, ['--version'], /nghttp2\/(\S+)/);
    case 'openssl':
      return firstLine(bin, ['version'], /OpenSSL (\S+)/);
  }
}

export function packageVersion(root: string, pkg: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** "0.1.0 (abc1234, modified)" from package.json and git, when git is there. */
export function legateVersion(root: string): string {
  let v = 'unknown';
  try {
    v = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // keep unknown
  }
  try {
    const rev = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    v += ` (${rev}${dirty !== '' ? ', modified' : ''})`;
  } catch {
    // not a git checkout
  }
  return v;
}
