// Worker thread. Imports the user filter modules a config version names (TypeScriptFilterConfig.moduleUrl: the
// file's URL with its content hash as query, so a changed file is a new module and an unchanged one is the module
// already loaded) BEFORE the version is applied: worker-main awaits preloadTypeScriptFilters, then builds the
// factories synchronously from this cache, so no request ever sees a half-loaded filter. Streams of an older version
// keep the filter objects they were made with.

import type { Snapshot } from '../../../src/snapshot/snapshot-types.ts';
import { normalizeDefinition, type NormalizedDefinition } from '../../../src/filter-api/define-filter.ts';
import { typeScriptFiltersOf } from '../../../src/filters/typescript-filter-config.ts';

export interface LoadedFilterModule {
  /** null when the module did not load or exports no definition (then `error` says why). */
  readonly definition: NormalizedDefinition | null;
  readonly error: string;
}

const modules = new Map<string, LoadedFilterModule>();

/**
 * Imports every user filter module `snapshot` needs and is not loaded yet; forgets those it no longer needs (their
 * factories, already built, live on with the streams that use them). Returns one problem per module that failed
 * (its filter then answers 500: the version is reported "applied with problems").
 */
export async function preloadTypeScriptFilters(snapshot: Snapshot): Promise<string[]> {
  const filters = typeScriptFiltersOf(snapshot);
  if (filters.length === 0 && modules.size === 0) return [];
  const needed = new Map<string, string>();
  for (const f of filters) needed.set(f.moduleUrl, f.file);
  for (const url of [...modules.keys()]) if (!needed.has(url)) modules.delete(url);
  const problems: string[] = [];
  await Promise.all([...needed].map(async ([url, file]) => {
    if (modules.has(url)) return;
    let loaded: LoadedFilterModule;
    try {
      const d = normalizeDefinition(await import(url));
      loaded = typeof d === 'string' ? { definition: null, error: d } : { definition: d, error: '' };
    } catch (err) {
      loaded = { definition: null, error: (err as Error)?.stack ?? String(err) };
    }
    modules.set(url, loaded);
    if (loaded.definition === null) problems.push(`typescript filter module ${file}: ${loaded.error}`);
  }));
  return problems;
}

/** The module preloaded for `moduleUrl`; undefined when preloadTypeScriptFilters did not see it. */
export function loadedTypeScriptFilter(moduleUrl: string): LoadedFilterModule | undefined {
  return modules.get(moduleUrl);
}
