// The application log's format (Envoy's --log-format, spdlog's flags), escaping, levels and the log file.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import {
  configureLogger, DEFAULT_LOG_FORMAT, escapeLogLine, formatLogLine, log, LogFormatError, patternOf, reopenLogFile,
  type LogSettings,
} from '../../src/common/logger.ts';

function settings(over: Partial<LogSettings>): LogSettings {
  return { level: 'info', componentLevels: [], format: { kind: 'text', pattern: DEFAULT_LOG_FORMAT }, escaped: false, path: undefined, ...over };
}

test.after(() => configureLogger(settings({})));

test("Envoy's default format: [date time.ms][thread][level][component] message", () => {
  configureLogger(settings({}));
  const line = formatLogLine('warn', 'hello');
  assert.match(line, new RegExp(`^\\[\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\]\\[${threadId}\\]\\[warning\\]\\[main\\] hello$`));
});

test('spdlog flags, padding, escapes of the message, unknown flags kept as written', () => {
  configureLogger(settings({ format: { kind: 'text', pattern: '%L|%l|%n|%P|%v|%j|%_|%%|%q|%5L|%-5L|%=5L|%3!l|%e|%f|%F|%z' } }));
  const [short, long, comp, pid, v, j, nl, pct, unknown, right, left, centre, trunc, ms, us, ns, tz] = formatLogLine('error', 'a "b"\nc').split('|') as string[];
  assert.deepEqual([short, long, comp, pid, pct, unknown], ['E', 'error', 'main', String(process.pid), '%', '%q']);
  assert.equal(v, 'a "b"\nc');
  assert.equal(j, 'a \\"b\\"\\nc');
  assert.equal(nl, 'a "b"\\nc');
  assert.deepEqual([right, left, centre, trunc], ['    E', 'E    ', '  E  ', 'err']);
  assert.match(ms!, /^\d{3}$/);
  assert.match(us!, /^\d{6}$/);
  assert.match(ns!, /^\d{9}$/);
  assert.match(tz!, /^[+-]\d{2}:\d{2}$/);
});

test('dates and times: %Y-%m-%d %T, %D, %R, %a %b, %c', () => {
  configureLogger(settings({ format: { kind: 'text', pattern: '%Y-%m-%d %T|%D|%R|%a %b|%c' } }));
  const [ymdt, d, r, ab, c] = formatLogLine('info', 'x').split('|') as string[];
  assert.match(ymdt!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.match(d!, /^\d{2}\/\d{2}\/\d{2}$/);
  assert.match(r!, /^\d{2}:\d{2}$/);
  assert.match(ab!, /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)$/);
  assert.match(c!, /^\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \d{4}$/);
});

test('application_log_config json_format: one JSON object per line; %v and %_ refused', () => {
  configureLogger(settings({ format: { kind: 'json', struct: { level: '%l', message: '%j', n: 1 } } }));
  const parsed = JSON.parse(formatLogLine('info', 'say "hi"\n')) as Record<string, unknown>;
  assert.deepEqual(parsed, { level: 'info', message: 'say "hi"\n', n: 1 });
  assert.throws(() => patternOf({ kind: 'json', struct: { m: '%v' } }), LogFormatError);
  assert.throws(() => patternOf({ kind: 'json', struct: { m: '%_' } }), LogFormatError);
});

test('--log-format-escaped: C escapes in the line, its trailing newline kept', () => {
  assert.equal(escapeLogLine('a\tb\nc"\\\u0001\n'), 'a\\tb\\nc\\"\\\\\\001\n');
  configureLogger(settings({ format: { kind: 'text', pattern: '%v' }, escaped: true }));
  assert.equal(formatLogLine('info', 'one\ntwo'), 'one\\ntwo');
});

test('levels: -l sets all, a "main" --component-log-level wins (every Legate line is of component main)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-logger-'));
  const file = path.join(dir, 'app.log');
  try {
    configureLogger(settings({ level: 'info', componentLevels: [['main', 'error'], ['upstream', 'trace']], path: file, format: { kind: 'text', pattern: '%l %v' } }));
    log.warn('dropped');
    log.error('kept');
    configureLogger(settings({ level: 'error', componentLevels: [['upstream', 'trace']], path: file, format: { kind: 'text', pattern: '%l %v' } }));
    log.info('dropped too');
    log.critical('kept too');
    assert.equal(fs.readFileSync(file, 'utf8'), 'error kept\ncritical kept too\n');
  } finally {
    configureLogger(settings({}));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the log file reopens at its path after a logrotate-style rename', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-logger-'));
  const file = path.join(dir, 'app.log');
  try {
    configureLogger(settings({ path: file, format: { kind: 'text', pattern: '%v' } }));
    log.info('before');
    fs.renameSync(file, `${file}.1`);
    log.info('still old');
    reopenLogFile();
    log.info('after');
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'before\nstill old\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'after\n');
  } finally {
    configureLogger(settings({}));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
