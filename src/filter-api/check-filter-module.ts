// A child process of the config compile (src/filters/typescript-filter-config.ts): imports one user filter module
// (argv[2], a file URL) apart from the proxy, so its syntax errors, top-level exceptions and export shape are
// reported at config time with file:line, and a module's top-level code never runs in the primary itself. Prints
// one JSON line: { ok: true, counters, gauges, histograms } or { ok: false, message, line, column }.

import { fileURLToPath } from 'node:url';
import { normalizeDefinition } from './define-filter.ts';

interface Located {
  message: string;
  line: number;
  column: number;
}

/** Where in `file` an error points: the stack's first `file:line[:col]` (a SyntaxError's first line is that). */
export function locate(err: unknown, file: string): Located {
  const e = err as { message?: unknown; stack?: unknown; name?: unknown };
  const message = `${typeof e?.name === 'string' ? `${e.name}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`;
  const stack = typeof e?.stack === 'string' ? e.stack : '';
  const lines = stack.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const i = raw.indexOf(file);
    if (i < 0) continue;
    const rest = raw.slice(i + file.length).replace(/^\?[^:]*/, '');
    const m = /^:(\d+)(?::(\d+))?/.exec(rest);
    if (m === null) continue;
    if (m[2] !== undefined) return { message, line: Number(m[1]), column: Number(m[2]) };
    // A SyntaxError: "file:line", some source, then a caret under the place.
    let caret = -1;
    for (let k = n + 1; k < Math.min(lines.length, n + 8) && caret < 0; k++) if (/^\s*\^+\s*$/.test(lines[k]!)) caret = lines[k]!.indexOf('^');
    return { message, line: Number(m[1]), column: caret >= 0 ? caret + 1 : 1 };
  }
  return { message, line: 0, column: 0 };
}

async function main(): Promise<void> {
  const url = process.argv[2] ?? '';
  const file = fileURLToPath(url);
  let out: unknown;
  try {
    const mod: unknown = await import(url);
    const d = normalizeDefinition(mod);
    out = typeof d === 'string'
      ? { ok: false, message: d, line: 0, column: 0 }
      : { ok: true, counters: d.counters, gauges: d.gauges, histograms: d.histograms };
  } catch (err) {
    out = { ok: false, ...locate(err, file) };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  // The module may have left timers or sockets: this check is done.
  process.exit(0);
}

if (import.meta.main) void main();
