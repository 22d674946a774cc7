// Any thread. A small leveled logger writing whole lines to stderr (Envoy's log format: [time][level] message).

import { threadId } from 'node:worker_threads';
import fs from 'node:fs';

const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5, off: 6 } as const;
export type Level = keyof typeof LEVELS;

let threshold: number = LEVELS.info;

export function setLogLevel(level: Level): void {
  threshold = LEVELS[level];
}

export function logEnabled(level: Level): boolean {
  return LEVELS[level] >= threshold;
}

function write(level: Level, msg: string): void {
  if (LEVELS[level] < threshold) return;
  const line = `[${new Date().toISOString()}][${threadId}][${level}] ${msg}\n`;
  // Whole-line synchronous write to fd 2: lines from several threads never interleave mid-line, and a
  // worker's log does not go through the main thread's stream. Logs are not on the request path.
  try {
    fs.writeSync(2, line);
  } catch {
    // stderr gone (EPIPE/EAGAIN): logging must never take the process down.
  }
}

export const log = {
  trace: (m: string) => write('trace', m),
  debug: (m: string) => write('debug', m),
  info: (m: string) => write('info', m),
  warn: (m: string) => write('warn', m),
  error: (m: string) => write('error', m),
  critical: (m: string) => write('critical', m),
};
