// Any thread. What `legate bench` writes: the JSON document, the text summary and the HTML report.

import os from 'node:os';
import fs from 'node:fs';
import type { LoadResult } from './load-run.ts';
import { escapeXml, formatLatencyUs, renderPercentilePlot } from './percentile-plot.ts';

export interface BenchTarget {
  readonly url: string;
  readonly method: string;
  readonly connections: number;
  readonly pipelining: number;
  /** 0 = closed loop. */
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyBytes: number;
}

export interface BenchReport {
  readonly schema: 'legate-bench/1';
  readonly target: BenchTarget;
  /** Set when `legate bench -c CONFIG` started Legate itself. */
  readonly legate: { readonly configPath: string; readonly concurrency: number | undefined } | undefined;
  readonly upstream: { readonly port: number; readonly bodyBytes: number; readonly status: number } | undefined;
  readonly machine: MachineInfo;
  readonly result: LoadResult;
}

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m !== null) cpuModel = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return { nproc: os.availableParallelism(), cpuModel, kernel: `${os.type()} ${os.release()}`, node: process.version };
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

function bytesText(n: number): string {
  if (n >= 1024 * 1024) return `${dec1.format(n / 1024 / 1024)} MiB`;
  if (n >= 1024) return `${dec1.format(n / 1024)} KiB`;
  return `${int.format(n)} B`;
}

function lat(us: number): string {
  return Number.isFinite(us) ? formatLatencyUs(us) : '–';
}

function statusLine(codes: Readonly<Record<string, number>>): string {
  const keys = Object.keys(codes).sort();
  return keys.length === 0 ? 'none' : keys.map((k) => `${k}: ${int.format(codes[k]!)}`).join('   ');
}

export function describeTarget(t: BenchTarget): string {
  const rate = t.rate > 0 ? `, at most ${int.format(t.rate)} req/s` : '';
  return `${t.method} ${t.url} for ${dec1.format(t.durationS)} s, ${t.connections} connections, pipelining ${t.pipelining}${rate}`;
}

/** The summary printed on stdout after a run. */
export function renderBenchText(r: BenchReport): string {
  const x = r.result;
  const l = x.latency;
  const lines = [
    `legate bench: ${describeTarget(r.target)}`,
    `  requests   ${int.format(x.responses)} in ${dec1.format(x.durationS)} s = ${int.format(x.requestsPerSecond)} req/s (sent ${int.format(x.requestsSent)})`,
    `  read       ${bytesText(x.bytesRead)} = ${bytesText(x.bytesPerSecond)}/s`,
    `  latency    p50 ${lat(l.p50Us)}   p90 ${lat(l.p90Us)}   p99 ${lat(l.p99Us)}   p99.9 ${lat(l.p999Us)}   max ${lat(l.maxUs)}`,
    `             mean ${lat(l.meanUs)}, stdev ${lat(l.stdevUs)}, min ${lat(l.minUs)}; ${int.format(l.count)} samples (HdrHistogram, µs)`,
    `  errors     ${int.format(x.errors)} (timeouts ${int.format(x.timeouts)})${x.errorSamples.length > 0 ? ': ' + x.errorSamples.join('; ') : ''}`,
    `  non-2xx    ${int.format(x.non2xx)}`,
    `  status     ${statusLine(x.statusCodes)}`,
  ];
  return lines.join('\n') + '\n';
}

/** A self-contained HTML page: the summary table, status codes and the latency percentile plot (inline SVG). */
export function renderBenchHtml(r: BenchReport, title: string | undefined): string {
  const x = r.result;
  const l = x.latency;
  const heading = title ?? `${r.target.method} ${r.target.url}`;
  const svg = renderPercentilePlot([{ title: 'latency by percentile', series: [{ name: heading, points: x.curve }] }], {
    columns: 1,
    panelWidth: 760,
    panelHeight: 420,
  });
  const rows: [string, string][] = [
    ['target', describeTarget(r.target)],
    ['started', x.startedAt],
    ['requests', `${int.format(x.responses)} (${int.format(x.requestsPerSecond)} req/s)`],
    ['read', `${bytesText(x.bytesRead)} (${bytesText(x.bytesPerSecond)}/s)`],
    ['p50 / p90 / p99', `${lat(l.p50Us)} / ${lat(l.p90Us)} / ${lat(l.p99Us)}`],
    ['p99.9 / max', `${lat(l.p999Us)} / ${lat(l.maxUs)}`],
    ['mean (stdev)', `${lat(l.meanUs)} (${lat(l.stdevUs)})`],
    ['errors (timeouts)', `${int.format(x.errors)} (${int.format(x.timeouts)})`],
    ['non-2xx', int.format(x.non2xx)],
    ['status codes', statusLine(x.statusCodes)],
    ['machine', `${r.machine.nproc} × ${r.machine.cpuModel}, ${r.machine.kernel}, Node ${r.machine.node}`],
  ];
  if (r.legate !== undefined) rows.push(['legate', `-c ${r.legate.configPath}${r.legate.concurrency !== undefined ? ` --concurrency ${r.legate.concurrency}` : ''}`]);
  if (x.errorSamples.length > 0) rows.push(['error samples', x.errorSamples.join('; ')]);
  const table = rows.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(heading)}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { text-align: left; padding: 0.25em 1em 0.25em 0; border-bottom: 1px solid #eee; vertical-align: top; }
th { color: #555; font-weight: normal; }
p.note { color: #555; max-width: 60em; }
</style>
</head>
<body>
<h1>${escapeXml(heading)}</h1>
<table>
${table}
</table>
${svg}
<p class="note">Latency is measured by the load generator (autocannon) from writing each request to reading its whole
response, recorded in microseconds in an HdrHistogram with 3 significant digits. The x axis counts nines: 90%, 99%,
99.9%…, up to the last percentile this many samples resolve.</p>
</body>
</html>
`;
}
