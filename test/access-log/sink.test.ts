// Sinks on real targets: a temp file shared by two worker threads, stdout of a child process (two threads),
// a stdout pipe nobody reads (bounded buffer, dropped lines counted), reopen for rotation, failures.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createAccessLogSink } from '../../src/access-log/sink.ts';
import { checkEntries, entryInfo, lineConfig } from './fixtures/log-lines.ts';

const NODE = process.execPath;
const FIXTURES = path.join(import.meta.dirname, 'fixtures');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'legate-access-log-'));
}

function runWriterThread(job: { kind: 'file' | 'stdout'; path: string; writer: number; count: number; maxPad: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fixtures/log-writer-thread.ts', import.meta.url), { workerData: job });
    w.once('message', (m: { dropped: number }) => resolve(m.dropped));
    w.once('error', reject);
  });
}

test('two worker threads append to one file: every line whole, none lost', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'access.log');
  const count = 4000;
  const maxPad = 3000;
  const dropped = await Promise.all([0, 1].map((writer) => runWriterThread({ kind: 'file', path: file, writer, count, maxPad })));
  assert.deepEqual(dropped, [0, 0]);
  assert.equal(checkEntries(fs.readFileSync(file, 'utf8'), 2, count, maxPad), null);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the file is opened for append: existing content is kept', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'access.log');
  fs.writeFileSync(file, 'earlier\n');
  const sink = createAccessLogSink(lineConfig('file', file));
  sink.log(entryInfo(0, 0, 10));
  await sink.close();
  assert.equal(fs.readFileSync(file, 'utf8'), `earlier\n${'0-0 ' + 'x'.repeat(20)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('stdout sinks in two threads of a child process: the reader gets every line whole', async () => {
  const count = 3000;
  const maxPad = 3500; // lines up to ~3.5 KB: a 4 KiB write holds few of them, so chunking is exercised
  const child = spawn(NODE, [path.join(FIXTURES, 'stdout-child.ts'), String(count), String(maxPad)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /dropped=0/);
  assert.equal(checkEntries(stdout, 2, count, maxPad), null);
});

test('a stdout pipe nobody reads: the buffer stays bounded and dropped lines are counted', { timeout: 60_000 }, async () => {
  const child = spawn(NODE, [path.join(FIXTURES, 'stuck-stdout-child.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
  // stdout is deliberately never read.
  let stderr = '';
  const report = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /logged=\d+ dropped=\d+/.exec(stderr);
      if (m !== null) resolve(m[0]);
    });
    child.on('close', (code) => reject(new Error(`child exited (${code}) without a report: ${stderr}`)));
  });
  child.kill('SIGKILL');
  const [, logged, dropped] = /logged=(\d+) dropped=(\d+)/.exec(report)!.map(Number);
  assert.ok(dropped! > 0, report);
  // Lines were buffered up to the 1 MiB bound (entries are at most ~930 bytes) before any was dropped.
  assert.ok(logged! - dropped! >= (1024 * 1024) / 1000, report);
});

test('reopen() moves writing to a new file at the same path (log rotation)', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'access.log');
  const sink = createAccessLogSink(lineConfig('file', file));
  for (let i = 0; i < 10; i++) sink.log(entryInfo(0, i, 10));
  await sink.flush();
  fs.renameSync(file, `${file}.1`);
  for (let i = 10; i < 15; i++) sink.log(entryInfo(0, i, 10));
  await sink.reopen();
  for (let i = 15; i < 20; i++) sink.log(entryInfo(0, i, 10));
  await sink.close();
  const rotated = fs.readFileSync(`${file}.1`, 'utf8');
  const current = fs.readFileSync(file, 'utf8');
  assert.equal(checkEntries(rotated + current, 1, 20, 10), null);
  assert.equal(rotated.split('\n').length - 1 >= 10, true);
  assert.match(current, /^0-1[5-9] /m);
  assert.equal(sink.droppedLines, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a file that cannot be opened: lines are dropped and counted, flush and close do not hang', async () => {
  const dir = tempDir();
  const sink = createAccessLogSink(lineConfig('file', path.join(dir, 'no-such-dir', 'access.log')));
  for (let i = 0; i < 5; i++) sink.log(entryInfo(0, i, 10));
  await sink.flush();
  assert.equal(sink.droppedLines, 5);
  await sink.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('entries logged after close() are dropped and counted', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'access.log');
  const sink = createAccessLogSink(lineConfig('file', file));
  sink.log(entryInfo(0, 0, 10));
  await sink.close();
  sink.log(entryInfo(0, 1, 10));
  assert.equal(sink.droppedLines, 1);
  assert.equal(checkEntries(fs.readFileSync(file, 'utf8'), 1, 1, 10), null);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a JSON sink writes one object per line', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'access.json');
  const sink = createAccessLogSink({ ...lineConfig('file', file), format: 'json', text: '', json: { id: '%REQ(X-ID)%', code: '%RESPONSE_CODE%' } });
  sink.log(entryInfo(3, 1, 10));
  sink.log(entryInfo(3, 2, 10));
  await sink.close();
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(lines, [{ id: '3-1', code: 0 }, { id: '3-2', code: 0 }]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an entry is written without flush() once the flush interval passes', { timeout: 10_000 }, async () => {
  const dir = tempDir();
  const file = path.join(dir, 'access.log');
  const sink = createAccessLogSink(lineConfig('file', file), { flushIntervalMs: 5, flushBytes: 1024 * 1024, maxBufferedBytes: 1024 * 1024 });
  sink.log(entryInfo(0, 0, 10));
  // Keep the loop alive while polling (the flush timer is unref'd); the test runner's timeout bounds this.
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').length > 0)) await new Promise((r) => setTimeout(r, 5));
  assert.equal(checkEntries(fs.readFileSync(file, 'utf8'), 1, 1, 10), null);
  await sink.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
