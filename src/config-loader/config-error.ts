// Any thread (pure). The one error type the configuration loader throws, and how a problem reads to a person.

import type { ConfigErrorCode, ConfigProblem, FieldPath, SourcePosition } from './types.ts';

export function makeProblem(
  code: ConfigErrorCode,
  path: FieldPath,
  position: SourcePosition | undefined,
  message: string,
  suggestion?: string,
): ConfigProblem {
  return { code, path, position, message, suggestion };
}

/** `<file>:<line>:<col>: <path>: <message>[ (did you mean 'x'?)]` */
export function formatConfigProblem(p: ConfigProblem): string {
  const where = p.position === undefined ? '' : `${p.position.file}:${p.position.line}:${p.position.column}: `;
  // A message that already names the path ("not supported yet: <path> (line N)") is not prefixed with it again.
  const path = p.path === '' || p.message.startsWith(`not supported yet: ${p.path}`) ? '' : `${p.path}: `;
  const hint = p.suggestion === undefined ? '' : ` (${p.suggestion})`;
  return `${where}${path}${p.message}${hint}`;
}

/**
 * Sorts by position: files in the order given (the config file before the --config-yaml overlay), then line and
 * column; problems without a position go last. Stable, so problems at one place keep the order they were found.
 */
export function sortProblems(problems: ConfigProblem[], fileOrder: readonly string[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => {
    if (p.position === undefined) return Number.MAX_SAFE_INTEGER;
    const i = fileOrder.indexOf(p.position.file);
    return i === -1 ? fileOrder.length : i;
  };
  return problems.slice().sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (a.position === undefined || b.position === undefined) return 0;
    if (a.position.line !== b.position.line) return a.position.line - b.position.line;
    return a.position.column - b.position.column;
  });
}

/** Thrown by loadConfig: every problem found, one line each in `message`. */
export class ConfigErrorList extends Error {
  readonly code = 'config_invalid';
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatConfigProblem).join('\n'));
    this.name = 'ConfigErrorList';
    this.problems = problems;
  }
}
