// Primary thread (pure). Envoy's /logging: a level per Envoy logger (COMPONENT_NAMES, Envoy's order), changed by
// ?level=<level> (every logger), ?<name>=<level> (one) or ?paths=<name>:<level>,... (several), all or nothing, as
// Envoy's LogsHandler. Every Legate line is of logger "main": its level is what every thread logs at; the other
// names are kept and shown so that Envoy's scripts work unchanged, and change nothing (as --component-log-level).

import { COMPONENT_NAMES, type Level } from '../common/logger.ts';

/** spdlog's level names, what /logging takes and prints (Envoy says "warning", never "warn"). */
export const SPDLOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'];

const MAIN = 'main';

function spdlogName(level: Level): string {
  return level === 'warn' ? 'warning' : level;
}

function parseSpdlogLevel(name: string): Level | undefined {
  if (!SPDLOG_LEVELS.includes(name)) return undefined;
  return name === 'warning' ? 'warn' : (name as Level);
}

export type LoggingChange = { ok: true; messages: string[] } | { ok: false; error: string };

export class LoggerLevels {
  private readonly levels = new Map<string, Level>();

  /** --log-level for every logger, then --component-log-level's entries. */
  constructor(initial: Level, componentLevels: readonly (readonly [string, Level])[]) {
    for (const name of COMPONENT_NAMES) this.levels.set(name, initial);
    for (const [name, level] of componentLevels) if (this.levels.has(name)) this.levels.set(name, level);
  }

  /** The level Legate's lines are logged at. */
  get effective(): Level {
    return this.levels.get(MAIN)!;
  }

  /** "active loggers:" and one "  name: level" line per logger, as Envoy prints them. */
  listText(): string {
    let out = 'active loggers:\n';
    for (const [name, level] of this.levels) out += `  ${name}: ${spdlogName(level)}\n`;
    return `${out}\n`;
  }

  /**
   * Applies /logging's query (distinct keys, first value each). Nothing changes on error. `messages` are the
   * lines Envoy logs for the change.
   */
  apply(params: URLSearchParams): LoggingChange {
    const keys = [...new Set(params.keys())];
    if (keys.length !== 1) return { ok: false, error: 'invalid number of parameters' };
    const key = keys[0]!;
    const value = params.get(key)!;
    if (key === 'level') {
      const level = parseSpdlogLevel(value);
      if (level === undefined) return { ok: false, error: 'unknown logger level' };
      for (const name of this.levels.keys()) this.levels.set(name, level);
      return { ok: true, messages: [`change all log levels: level='${spdlogName(level)}'`] };
    }
    const changes = new Map<string, Level>();
    if (key === 'paths') {
      for (const pair of value.split(',')) {
        if (pair.trim() === '') continue;
        const colon = pair.indexOf(':');
        const name = (colon < 0 ? pair : pair.slice(0, colon)).trim();
        const levelName = colon < 0 ? '' : pair.slice(colon + 1).trim();
        if (name === '' || levelName === '') return { ok: false, error: 'empty logger name or empty logger level' };
        const level = parseSpdlogLevel(levelName);
        if (level === undefined) return { ok: false, error: 'unknown logger level' };
        changes.set(name, level);
      }
    } else {
      const level = parseSpdlogLevel(value);
      if (level === undefined) return { ok: false, error: 'unknown logger level' };
      changes.set(key, level);
    }
    for (const name of changes.keys()) if (!this.levels.has(name)) return { ok: false, error: 'unknown logger name' };
    const messages: string[] = [];
    for (const [name, level] of changes) {
      this.levels.set(name, level);
      messages.push(`change log level: name='${name}' level='${spdlogName(level)}'`);
    }
    return { ok: true, messages };
  }
}

/** The body of a /logging that failed, before the logger list (Envoy's wording). */
export function loggingUsage(error: string): string {
  return (
    `error: ${error}\n\n` +
    'usage: /logging?<name>=<level> (change single level)\n' +
    'usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n' +
    'usage: /logging?level=<level> (change all levels)\n' +
    `levels: ${SPDLOG_LEVELS.map((l) => `${l} `).join('')}\n`
  );
}
