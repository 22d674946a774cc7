// Primary thread (pure). The endpoint list as text (/help, and the body of a 404); the HTML home page is dashboard.ts.

import type { AdminEndpoint } from './admin-endpoints.ts';

/** Envoy's help: each path, " (POST)" for those that change state, then its parameters. */
export function helpText(endpoints: readonly AdminEndpoint[]): string {
  let out = 'admin commands are:\n';
  for (const e of endpoints) {
    out += `  ${e.path}${e.mutatesState ? ' (POST)' : ''}: ${e.help}\n`;
    for (const p of e.params) out += `      ${p.name}: ${p.help}${p.choices === undefined ? '' : `; One of (${p.choices.join(', ')})`}\n`;
  }
  return out;
}
