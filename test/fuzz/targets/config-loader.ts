// Fuzz target: the config pipeline's pure part on arbitrary text: src/config-loader/load-config.ts (YAML/JSON
// parse, overlay merge, schema walk against Envoy's protos, support table), then src/snapshot's compileSnapshot
// and the snapshot's trip to a worker (msgpackr). The input is --config-yaml text; a NUL byte splits it into a
// -c file (before) and the --config-yaml overlay (after). Invariants: loadConfig returns or throws a
// ConfigErrorList of typed problems (code, field path, message, 1-based positions), never anything else; a loaded
// config compiles without throwing, into typed problems or a snapshot that encodes and decodes; and what the
// primary accepts a worker can build: every connection manager's route table, which routes a request.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigErrorList } from '../../../src/config-loader/config-error.ts';
import { loadConfig } from '../../../src/config-loader/load-config.ts';
import type { ConfigProblem, LoadedConfig } from '../../../src/config-loader/types.ts';
import { decodeMessage, encodeMessage } from '../../../src/messages/thread-messages.ts';
import { compileHeaderValueFormat } from '../../../src/access-log/formatter.ts';
import { buildRouteTable } from '../../../src/router/route-table.ts';
import { compileSnapshot } from '../../../src/snapshot/compile-snapshot.ts';
import type { Snapshot } from '../../../src/snapshot/snapshot-types.ts';
import { check } from './common.ts';

const DEPS = { compileHeaderValue: compileHeaderValueFormat };
const BASE_FILE = path.join(os.tmpdir(), `legate-fuzz-config-${process.pid}.yaml`);
process.on('exit', () => fs.rmSync(BASE_FILE, { force: true }));

function checkProblems(problems: readonly ConfigProblem[], what: () => string): void {
  check(problems.length > 0, () => `an error without problems: ${what()}`);
  for (const p of problems) {
    check(typeof p.code === 'string' && (p.code as string) !== '' && typeof p.path === 'string' && typeof p.message === 'string' && p.message !== '',
      () => `untyped problem ${JSON.stringify(p)}: ${what()}`);
    if (p.position !== undefined) {
      check(Number.isInteger(p.position.line) && p.position.line >= 1 && Number.isInteger(p.position.column) && p.position.column >= 1,
        () => `bad position ${JSON.stringify(p)}: ${what()}`);
    }
  }
}

export function fuzz(data: Buffer): void {
  const text = data.toString('utf8');
  const nul = text.indexOf('\0');
  let configPath: string | undefined;
  let configYaml = text;
  if (nul !== -1) {
    fs.writeFileSync(BASE_FILE, text.slice(0, nul));
    configPath = BASE_FILE;
    configYaml = text.slice(nul + 1);
  }
  const what = (): string => JSON.stringify(text);
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ configPath, configYaml });
  } catch (err) {
    check(err instanceof ConfigErrorList, () => `loadConfig threw ${String((err as Error)?.stack ?? err)}\n  for ${what()}`);
    checkProblems((err as ConfigErrorList).problems, what);
    return;
  }
  // Files the config names are read while compiling (certificates, direct_response bodies): not devices.
  if (/\/(dev|proc|sys)\b/.test(JSON.stringify(loaded.bootstrap))) return;
  const compiled = compileSnapshot(loaded, 1);
  if (compiled.problems.length > 0) {
    checkProblems(compiled.problems, what);
    return;
  }
  const bytes = encodeMessage({ type: 'snapshot', snapshot: compiled.snapshot });
  const snapshot = decodeMessage<{ snapshot: Snapshot }>(bytes).snapshot;
  for (const l of snapshot.listeners) {
    for (const chain of l.defaultFilterChain === null ? l.filterChains : [...l.filterChains, l.defaultFilterChain]) {
      if (chain.filter.kind !== 'http_connection_manager') continue;
      const table = buildRouteTable(chain.filter.hcm.routeConfig, DEPS);
      table.route('example.com', 'GET', '/', ['host', 'example.com', 'x-forwarded-proto', 'http']);
    }
  }
}
