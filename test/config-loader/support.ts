// Test support for the config loader: real files in a temp dir, and problems as one comparable line each.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ConfigErrorList } from '../../src/config-loader/config-error.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import type { ConfigProblem, LoadedConfig } from '../../src/config-loader/types.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-config-loader-'));
// Registered at import, so it runs once after every test of the file.
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `text` to a file in this test file's temp dir and returns its path. */
export function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The problems loadConfig throws; fails the test when it loads. */
export function problemsOf(configPath: string | undefined, configYaml?: string): ConfigProblem[] {
  try {
    loadConfig({ configPath, configYaml });
  } catch (err) {
    assert.ok(err instanceof ConfigErrorList, `expected a ConfigErrorList, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

/** loadConfig, failing the test with every problem when it throws. */
export function loads(configPath: string | undefined, configYaml?: string): LoadedConfig {
  try {
    return loadConfig({ configPath, configYaml });
  } catch (err) {
    assert.fail(`expected the config to load:\n${(err as Error).message}`);
  }
}

/** `line:col code path: message (suggestion)`, the file left out (each test names it once). */
export function brief(p: ConfigProblem): string {
  const where = p.position === undefined ? '-' : `${p.position.line}:${p.position.column}`;
  const hint = p.suggestion === undefined ? '' : ` (${p.suggestion})`;
  return `${where} ${p.code} ${p.path}: ${p.message}${hint}`;
}
