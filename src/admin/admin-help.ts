// Primary thread (pure). The endpoint list as text (/help, and the body of a 404) and as the HTML home page.

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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function homePage(endpoints: readonly AdminEndpoint[]): string {
  let rows = '';
  for (const e of endpoints) {
    const path = escapeHtml(e.path);
    const link = e.mutatesState
      ? `<form method="post" action="${path}"><button type="submit">${path}</button></form>`
      : `<a href="${path}">${path}</a>`;
    rows += `<tr><td>${link}</td><td>${escapeHtml(e.help)}</td></tr>\n`;
  }
  return (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Legate admin</title></head><body>\n' +
    `<h1>Legate admin</h1>\n<table>\n${rows}</table>\n</body></html>\n`
  );
}
