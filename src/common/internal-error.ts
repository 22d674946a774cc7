// Any thread. An exception that reaches a connection or stream boundary is a bug: the boundary resets only the
// connection or stream concerned and counts it (`*.internal_error`); this logs its stack, once per distinct stack
// and for the first few only, so a bug hit by every request cannot flood the log while the counter keeps counting.

import { log } from './logger.ts';

/** Distinct stacks logged per thread; later ones are only counted. */
const MAX_LOGGED = 20;
const logged = new Set<string>();

/** Logs `err` (caught at `where`, e.g. "HTTP/1.1 connection 12") unless the same stack was logged already. */
export function reportInternalError(where: string, err: unknown): void {
  if (logged.size >= MAX_LOGGED) return;
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  if (logged.has(stack)) return;
  logged.add(stack);
  const more = logged.size === MAX_LOGGED ? ` (${MAX_LOGGED} distinct stacks logged: later ones are only counted)` : '';
  log.error(`internal error in ${where}, reset${more}: ${stack}`);
}
