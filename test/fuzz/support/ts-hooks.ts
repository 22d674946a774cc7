// Fuzz process, module-loader hooks thread. Hands TypeScript modules to the loader as plain ES modules (types
// stripped, positions kept), so @jazzer.js's loader hook, which instruments only `module`-format sources, adds
// its coverage counters to Legate's .ts files too. Registered before jazzer's (support/register-ts.ts), so it runs
// beneath it: jazzer's load() calls this one as its nextLoad. Also resolves a fuzz target named `x.ts.js` (jazzer
// appends ".js" to a target file not ending in .js/.mjs/.cjs) to `x.ts`.

import { existsSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: object) => Promise<LoadResult>;
type NextResolve = (specifier: string, context?: object) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: object, nextResolve: NextResolve): Promise<{ url: string }> {
  if (specifier.startsWith('file://') && specifier.endsWith('.ts.js') && !existsSync(fileURLToPath(specifier))) {
    return nextResolve(specifier.slice(0, -3), context);
  }
  return nextResolve(specifier, context);
}

export async function load(url: string, context: object, nextLoad: NextLoad): Promise<LoadResult> {
  const r = await nextLoad(url, context);
  if (r.format !== 'module-typescript' || r.source === null || r.source === undefined) return r;
  const text = typeof r.source === 'string' ? r.source : Buffer.from(r.source as Uint8Array).toString('utf8');
  return { format: 'module', source: stripTypeScriptTypes(text, { mode: 'strip' }), shortCircuit: true };
}
