// Primary thread (pure). The admin's home page (`/`): Envoy's endpoint list, and above it a live dashboard beyond
// Envoy's: server state and reloads, listeners, clusters with each host's health, request rates and latency
// percentiles per connection manager (from the HdrHistograms the workers record). Plain HTML and one inline
// script with no build step: it polls the admin's own JSON endpoints (/server_info, /listeners, /clusters, /stats)
// every two seconds and computes rates from successive counter values.

import type { AdminEndpoint } from './admin-endpoints.ts';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Envoy's endpoint list: a link per read-only endpoint, a POST form per endpoint that changes state. */
function endpointRows(endpoints: readonly AdminEndpoint[]): string {
  let rows = '';
  for (const e of endpoints) {
    const path = escapeHtml(e.path);
    const link = e.mutatesState
      ? `<form method="post" action="${path}"><button type="submit">${path}</button></form>`
      : `<a href="${path}">${path}</a>`;
    rows += `<tr><td>${link}</td><td>${escapeHtml(e.help)}</td></tr>\n`;
  }
  return rows;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #f7f8fa; }
h1 { font-size: 1.4em; margin: 0 0 .6em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; background: #fff; min-width: 40em; }
th, td { border: 1px solid #d7dbe3; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eef1f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.healthy { color: #1a7f37; } .unhealthy { color: #b42318; font-weight: 600; }
#server span { margin-right: 1.5em; } #error { color: #b42318; }
form { margin: 0; } button { font: inherit; }
`;

/**
 * The dashboard's script. It never trusts a stat name to be HTML: every value goes in with textContent. Rates are
 * per second over the poll interval; latencies are the interval quantiles of `http.<prefix>.downstream_rq_time`.
 */
const SCRIPT = `
'use strict';
const POLL_MS = 2000;
let previous = null;
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function clear(id) { const t = document.getElementById(id); while (t.rows.length > 1) t.deleteRow(1); return t; }
async function json(path) { const r = await fetch(path); if (!r.ok) throw new Error(path + ': ' + r.status); return r.json(); }
function statsMap(doc) {
  const values = new Map(); const quantiles = new Map(); let supported = [];
  for (const s of doc.stats) {
    if (s.histograms) { supported = s.histograms.supported_quantiles; for (const q of s.histograms.computed_quantiles) quantiles.set(q.name, q.values); }
    else values.set(s.name, s.value);
  }
  return { values, quantiles, supported, at: Date.now() };
}
function quantile(stats, name, q) {
  const values = stats.quantiles.get(name); if (!values) return null;
  const i = stats.supported.indexOf(q); if (i < 0 || !values[i]) return null;
  const v = values[i].interval ?? values[i].cumulative; return v === null || v === undefined ? null : v;
}
function fmtMs(v) { return v === null ? '–' : (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms'; }
function render(info, listeners, clusters, stats) {
  const server = document.getElementById('server');
  server.replaceChildren();
  for (const [k, v] of [['state', info.state], ['version', info.version], ['uptime', (info.uptime_current_epoch || '') + ''],
    ['reloads', String(stats.values.get('server.reload_success') ?? 0) + ' ok / ' + String(stats.values.get('server.reload_failed') ?? 0) + ' failed']]) {
    const s = document.createElement('span'); s.textContent = k + ': ' + v; server.appendChild(s);
  }
  const lt = clear('listeners');
  for (const l of listeners.listener_statuses) {
    const r = lt.insertRow(); const sa = l.local_address.socket_address;
    cell(r, l.name); cell(r, sa.address + ':' + sa.port_value);
  }
  const ct = clear('clusters');
  for (const c of clusters.cluster_statuses) {
    for (const h of c.host_statuses || []) {
      const r = ct.insertRow(); const sa = h.address.socket_address;
      const hs = h.health_status || {};
      const bad = Object.keys(hs).filter((k) => k !== 'eds_health_status' && hs[k] === true);
      const healthy = bad.length === 0 && (hs.eds_health_status === undefined || hs.eds_health_status === 'HEALTHY');
      const stat = (n) => { const s = (h.stats || []).find((x) => x.name === n); return s ? Number(s.value || 0) : 0; };
      cell(r, c.name); cell(r, sa.address + ':' + sa.port_value);
      cell(r, healthy ? 'healthy' : (bad.join(', ') || hs.eds_health_status), healthy ? 'healthy' : 'unhealthy');
      cell(r, String(stat('rq_total')), 'num'); cell(r, String(stat('rq_error')), 'num'); cell(r, String(stat('cx_active')), 'num');
    }
  }
  const ht = clear('traffic');
  for (const [name, total] of stats.values) {
    const m = /^http\\.(.+)\\.downstream_rq_total$/.exec(name); if (!m || m[1] === 'admin') continue;
    const prefix = m[1]; const r = ht.insertRow();
    let rate = '–';
    if (previous !== null && previous.values.has(name)) rate = ((total - previous.values.get(name)) * 1000 / (stats.at - previous.at)).toFixed(1);
    const rt = 'http.' + prefix + '.downstream_rq_time';
    cell(r, prefix); cell(r, rate, 'num'); cell(r, String(total), 'num');
    cell(r, String(stats.values.get('http.' + prefix + '.downstream_rq_5xx') ?? 0), 'num');
    cell(r, fmtMs(quantile(stats, rt, 50)), 'num'); cell(r, fmtMs(quantile(stats, rt, 99)), 'num'); cell(r, fmtMs(quantile(stats, rt, 99.9)), 'num');
  }
  previous = stats;
}
async function poll() {
  try {
    const [info, listeners, clusters, stats] = await Promise.all([json('/server_info'), json('/listeners?format=json'), json('/clusters?format=json'), json('/stats?format=json')]);
    render(info, listeners, clusters, statsMap(stats));
    document.getElementById('error').textContent = '';
    document.body.dataset.updated = String(Date.now());
  } catch (err) {
    document.getElementById('error').textContent = 'update failed: ' + err.message;
  }
  setTimeout(poll, POLL_MS);
}
poll();
`;

/** `/`: the dashboard, then Envoy's list of admin endpoints. */
export function dashboardPage(endpoints: readonly AdminEndpoint[]): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Legate admin</title><style>${STYLE}</style></head><body>
<h1>Legate</h1>
<div id="server"></div><div id="error"></div>
<h2>Traffic (per connection manager)</h2>
<table id="traffic"><tr><th>stat prefix</th><th>req/s</th><th>requests</th><th>5xx</th><th>p50</th><th>p99</th><th>p99.9</th></tr></table>
<h2>Listeners</h2>
<table id="listeners"><tr><th>name</th><th>address</th></tr></table>
<h2>Clusters</h2>
<table id="clusters"><tr><th>cluster</th><th>host</th><th>health</th><th>requests</th><th>errors</th><th>connections</th></tr></table>
<h2>Admin endpoints</h2>
<table>
${endpointRows(endpoints)}</table>
<script>${SCRIPT}</script>
</body></html>
`;
}
