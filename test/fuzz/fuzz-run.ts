// Test helper and CLI (main thread of the test process, or `make fuzz`): runs one coverage-guided fuzz target with
// @jazzer.js (libFuzzer driving instrumented code in one process) for a bounded time and reports what it found.
//
//   node test/fuzz/fuzz-run.ts [--seconds=N] [--fresh] [target ...]    (make fuzz; see README.md)
//   node test/fuzz/fuzz-run.ts --replay <target> <file>...               (runs inputs through a target, no fuzzer)
//
// Each target is test/fuzz/targets/<name>.ts, seeded from test/fuzz/corpus/<name>/ (read only). Coverage comes
// from Legate's own src/ and workers/ only. Node starts through the launcher install-runtime.sh writes (the
// fuzzer's prebuilt addon may need a newer glibc than the system's).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const FUZZ_DIR = path.join(ROOT, 'test/fuzz');
export const LAUNCHER = path.join(ROOT, 'node_modules/.cache/legate-fuzz/launcher');
const JAZZER_CLI = path.join(ROOT, 'node_modules/@jazzer.js/core/dist/cli.js');
/** Where `make fuzz` keeps what it learns between runs, and the crashes it finds. */
export const WORK_DIR = path.join(ROOT, 'node_modules/.cache/legate-fuzz/work');

export interface FuzzTarget {
  name: string;
  /** libFuzzer's -max_len. */
  maxLen: number;
  /** jazzer's bug detectors to turn off (regexes): none of Legate's parsers spawns processes or opens paths. */
  disableBugDetectors: string;
  /** A libFuzzer dictionary in dict/ (tokens the code compares with in ways the fuzzer cannot see). */
  dict?: string;
}

export const TARGETS: readonly FuzzTarget[] = [
  { name: 'http1-request', maxLen: 4096, disableBugDetectors: '.*', dict: 'http1.dict' },
  { name: 'http1-response', maxLen: 4096, disableBugDetectors: '.*', dict: 'http1.dict' },
  { name: 'hpack-decoder', maxLen: 4096, disableBugDetectors: '.*' },
  { name: 'http2-frames', maxLen: 8192, disableBugDetectors: '.*' },
  { name: 'tls-client-hello', maxLen: 4096, disableBugDetectors: '.*' },
  // Config text becomes objects: jazzer's prototype-pollution detector watches for __proto__ keys taking effect.
  { name: 'config-loader', maxLen: 8192, disableBugDetectors: 'command-injection|path-traversal', dict: 'config-loader.dict' },
  { name: 'route-matcher', maxLen: 1024, disableBugDetectors: '.*', dict: 'route-matcher.dict' },
];

export interface FuzzResult {
  target: string;
  /** 0: no finding within the time. */
  exitCode: number;
  /** libFuzzer's and jazzer's output (stderr and stdout), for the report. */
  output: string;
  /** The input that crashed (or timed out, or ran out of memory), when one was written. */
  finding: Buffer | null;
  findingPath: string;
  /** libFuzzer's last status line (#N DONE cov: ...). */
  summary: string;
}

export interface RunOptions {
  seconds: number;
  /**
   * Directory libFuzzer adds new inputs to (the first corpus directory); when absent, a temp dir, removed after a
   * clean run.
   */
  workCorpus?: string;
  /** Where crash/timeout/oom files go. */
  artifactDir?: string;
  /** Seconds one input may take before it is a finding (a parser that loops). */
  timeoutSeconds?: number;
  extraLibFuzzerArgs?: string[];
}

export function targetByName(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}

/** Spawns the fuzz process for `target` and waits for it. */
export async function runFuzzTarget(target: FuzzTarget, opts: RunOptions): Promise<FuzzResult> {
  if (!fs.existsSync(LAUNCHER)) throw new Error(`${LAUNCHER} is missing: run make fuzz-deps (test/fuzz/install-runtime.sh)`);
  const work = opts.workCorpus ?? fs.mkdtempSync(path.join(os.tmpdir(), `legate-fuzz-${target.name}-`));
  const artifacts = opts.artifactDir ?? work;
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const seeds = path.join(FUZZ_DIR, 'corpus', target.name);
  const args = [
    '--disable-warning=ExperimentalWarning',
    '--import', path.join(FUZZ_DIR, 'support/register-ts.ts'),
    JAZZER_CLI,
    path.join(FUZZ_DIR, 'targets', `${target.name}.ts`),
    work, seeds,
    '--sync',
    '-i', path.join(ROOT, 'src') + path.sep,
    '-i', path.join(ROOT, 'workers') + path.sep,
    '--disable_bug_detectors', target.disableBugDetectors,
    `--timeout=${(opts.timeoutSeconds ?? 10) * 1000}`,
    '--',
    `-max_total_time=${opts.seconds}`,
    `-max_len=${target.maxLen}`,
    `-artifact_prefix=${artifacts}${path.sep}`,
    '-print_final_stats=1',
    '-rss_limit_mb=3072',
    ...(target.dict === undefined ? [] : [`-dict=${path.join(FUZZ_DIR, 'dict', target.dict)}`]),
    ...(opts.extraLibFuzzerArgs ?? []),
  ];
  const before = new Set(fs.readdirSync(artifacts));
  const child = spawn(LAUNCHER, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (output += d));
  child.stderr.on('data', (d: string) => (output += d));
  // A run is bounded by -max_total_time; the kill is for a fuzzer that hangs outside an input (never expected).
  const guard = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 120) * 1000);
  const exitCode = await new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)));
  });
  clearTimeout(guard);
  const found = fs.readdirSync(artifacts).filter((f) => !before.has(f) && /^(crash|timeout|oom|leak|slow-unit)-/.test(f));
  const findingPath = found.length > 0 ? path.join(artifacts, found[0]!) : '';
  const lines = output.split('\n').filter((l) => /^#\d+\s+(DONE|INITED|NEW|REDUCE|pulse)/.test(l));
  const finding = findingPath === '' ? null : fs.readFileSync(findingPath);
  // A temp corpus goes once the run is clean; after a finding it stays, with the input in it.
  if (opts.workCorpus === undefined && exitCode === 0) fs.rmSync(work, { recursive: true, force: true });
  return {
    target: target.name, exitCode, output, finding, findingPath,
    summary: lines[lines.length - 1] ?? '',
  };
}

/** A finding, ready to print: the input as hex and as a latin1 string, and the end of the fuzzer's output. */
export function describeFinding(r: FuzzResult): string {
  const tail = r.output.split('\n').slice(-60).join('\n');
  const input = r.finding === null
    ? '(no input file was written)'
    : `${r.findingPath} (${r.finding.length} bytes)\n  hex    ${r.finding.toString('hex')}\n  latin1 ${JSON.stringify(r.finding.toString('latin1'))}`;
  return `fuzz target ${r.target} failed (exit ${r.exitCode})\ninput: ${input}\n--- fuzzer output (tail) ---\n${tail}`;
}

async function replay(name: string, files: string[]): Promise<number> {
  targetByName(name);
  const target = (await import(path.join(FUZZ_DIR, 'targets', `${name}.ts`))) as { fuzz(data: Buffer): void };
  for (const f of files) {
    target.fuzz(fs.readFileSync(f));
    console.log(`${f}: ok`);
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--replay') return replay(argv[1] ?? '', argv.slice(2));
  let seconds = 300;
  let keep = true;
  const names: string[] = [];
  for (const a of argv) {
    const m = /^--seconds=(\d+)$/.exec(a);
    if (m !== null) seconds = Number(m[1]);
    else if (a === '--fresh') keep = false;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a} (--seconds=N, --fresh)`);
    else names.push(a);
  }
  const targets = names.length === 0 ? TARGETS : names.map(targetByName);
  let failed = 0;
  for (const t of targets) {
    const work = path.join(WORK_DIR, t.name, 'corpus');
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
    const artifactDir = path.join(WORK_DIR, t.name, 'findings');
    console.log(`fuzz ${t.name}: ${seconds} s (corpus ${path.relative(ROOT, work)}, findings ${path.relative(ROOT, artifactDir)})`);
    const r = await runFuzzTarget(t, { seconds, workCorpus: work, artifactDir });
    if (r.exitCode === 0) {
      console.log(`  ok: ${r.summary}`);
    } else {
      failed++;
      console.log(describeFinding(r));
    }
  }
  console.log(`${targets.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
