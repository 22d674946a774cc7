// Bench tool. Reads V8 .cpuprofile files (one per thread, as --cpu-prof writes them) and prints each thread's self
// time by function and by source file: the summary bench/profile.ts prints after a profiled load.

import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The short form of a script URL: the last two path parts, or the whole thing for node: built-ins. */
function shortUrl(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url;
  return url.split('/').slice(-2).join('/');
}

function percent(part: number, total: number): string {
  return ((100 * part) / total).toFixed(1).padStart(5) + '%';
}

/** Self time per function and per file, for each profile that sampled anything. */
export function summarizeCpuProfiles(files: readonly string[], top: number): string {
  const out: string[] = [];
  for (const file of files) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map<number, ProfileNode>();
    for (const n of p.nodes) byId.set(n.id, n);
    const byFunction = new Map<string, number>();
    const byFile = new Map<string, number>();
    let total = 0;
    let idle = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const dt = p.timeDeltas[i] ?? 0;
      const cf = byId.get(p.samples[i]!)!.callFrame;
      if (cf.functionName === '(idle)') {
        idle += dt;
        continue;
      }
      total += dt;
      const fn = `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
      const f = cf.url === '' ? `(${cf.functionName})` : shortUrl(cf.url);
      byFile.set(f, (byFile.get(f) ?? 0) + dt);
    }
    if (total === 0) continue;
    out.push(`\n${path.basename(file)}: ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle`);
    out.push('  self time by function:');
    for (const [k, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${percent(t, total)}  ${k}`);
    out.push('  self time by file:');
    for (const [k, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, Math.min(top, 20))) out.push(`  ${percent(t, total)}  ${k}`);
  }
  return out.join('\n');
}
