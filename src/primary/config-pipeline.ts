// Any thread (pure; the primary runs it inline at start and on a piscina thread for reloads).
// The one path every config takes: load + validate (file:line:col errors) -> compile -> Snapshot.

import { loadConfig } from '../config-loader/load-config.ts';
import type { ConfigProblem } from '../config-loader/types.ts';
import { formatConfigProblem, sortProblems } from '../config-loader/config-error.ts';
import { compileSnapshot } from '../snapshot/compile-snapshot.ts';
import type { Snapshot } from '../snapshot/snapshot-types.ts';

export interface ConfigSources {
  configPath: string | undefined;
  configYaml: string | undefined;
}

export type PipelineResult =
  | {
      ok: true;
      snapshot: Snapshot;
      warnings: string[];
      /** The normalized bootstrap, for /config_dump and the admin address. */
      bootstrap: Record<string, unknown>;
    }
  | { ok: false; message: string; problemCount: number };

export function runConfigPipeline(sources: ConfigSources, version: number): PipelineResult {
  let loaded;
  try {
    loaded = loadConfig({ configPath: sources.configPath, configYaml: sources.configYaml });
  } catch (err) {
    const problems = (err as { problems?: ConfigProblem[] }).problems;
    if (Array.isArray(problems)) return { ok: false, message: problems.map(formatConfigProblem).join('\n'), problemCount: problems.length };
    return { ok: false, message: (err as Error).message, problemCount: 1 };
  }
  const compiled = compileSnapshot(loaded, version);
  if (compiled.problems.length > 0) {
    const sorted = sortProblems(compiled.problems, fileOrder(loaded.files));
    return { ok: false, message: sorted.map(formatConfigProblem).join('\n'), problemCount: sorted.length };
  }
  return { ok: true, snapshot: compiled.snapshot, warnings: compiled.warnings, bootstrap: loaded.bootstrap };
}

/** The order problems are reported in: the config file(s), then the command-line overlay. */
function fileOrder(files: readonly string[]): string[] {
  return [...files, '--config-yaml'];
}
