// Primary thread. --watch-filters: watches the files of the running config's TypeScript filters and reloads the
// configuration (the same path as SIGHUP) when one changes. Directories are watched, not the files, so an editor's
// write-to-temp-then-rename is seen too; events are gathered for a moment so one save is one reload.

import fs from 'node:fs';
import path from 'node:path';
import { log } from '../common/logger.ts';

/** Events within this time of the first are one change (an editor's save is several events). */
const SETTLE_MS = 150;

export class TypeScriptFilterWatcher {
  private readonly filesOf: () => readonly string[];
  private readonly reload: () => Promise<unknown>;
  private watchers = new Map<string, fs.FSWatcher>();
  /** Base names watched, per directory. */
  private names = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** `filesOf`: the running config's filter files (absolute); `reload`: what SIGHUP does. */
  constructor(filesOf: () => readonly string[], reload: () => Promise<unknown>) {
    this.filesOf = filesOf;
    this.reload = reload;
  }

  /** Watches the running config's files (again: call it after every reload, whatever started it). */
  refresh(): void {
    if (this.stopped) return;
    const names = new Map<string, Set<string>>();
    for (const f of this.filesOf()) {
      const dir = path.dirname(f);
      let set = names.get(dir);
      if (set === undefined) names.set(dir, (set = new Set()));
      set.add(path.basename(f));
    }
    for (const [dir, w] of this.watchers) {
      if (!names.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of names.keys()) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, (_event, name) => this.onEvent(dir, name));
        w.on('error', (err) => log.warn(`--watch-filters: watching ${dir} failed: ${err.message}`));
        this.watchers.set(dir, w);
      } catch (err) {
        log.warn(`--watch-filters: cannot watch ${dir}: ${(err as Error).message}`);
      }
    }
    this.names = names;
  }

  private onEvent(dir: string, name: string | Buffer | null): void {
    // No name (some platforms): any event in the directory counts.
    if (name !== null && !(this.names.get(dir)?.has(String(name)) ?? false)) return;
    if (this.timer !== null || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      log.info(`--watch-filters: a filter file changed in ${dir}: reloading configuration`);
      void this.reload().finally(() => this.refresh());
    }, SETTLE_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
