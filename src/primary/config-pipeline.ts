// Any thread (pure; the primary runs it inline at start and on a piscina thread for reloads).
// The one path every config takes: load + validate (file:line:col errors) -> compile -> Snapshot.

import { loadConfig } from '../config-loader/load-config.ts';
import type { ConfigProblem } from '../config-loader/types.ts';
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

export function formatProblem(p: ConfigProblem): string {
  const where = p.position === undefined ? '' : `${p.position.file}:${p.position.line}:${p.position.column}: `;
  const hint = p.suggestion === undefined ? '' : ` (${p.suggestion})`;
  return `${where}${p.path}: ${p.message}${hint}`;
}

export function runConfigPipeline(sources: ConfigSources, version: number): PipelineResult {
  let loaded;
  try {
    loaded = loadConfig({ configPath: sources.configPath, configYaml: sources.configYaml });
  } catch (err) {
    const problems = (err as { problems?: ConfigProblem[] }).problems;
    if (Array.isArray(problems)) return { ok: false, message: problems.map(formatProblem).join('\n'), problemCount: problems.length };
    return { ok: false, message: (err as Error).message, problemCount: 1 };
  }
  const compiled = compileSnapshot(loaded, version);
  if (compiled.problems.length > 0) {
    const sorted = compiled.problems.slice().sort((a, b) => (a.position?.line ?? 0) - (b.position?.line ?? 0));
    return { ok: false, message: sorted.map(formatProblem).join('\n'), problemCount: sorted.length };
  }
  return { ok: true, snapshot: compiled.snapshot, warnings: compiled.warnings, bootstrap: loaded.bootstrap };
}
