// The one DataSource reader (src/router/data-source.ts): each member, the caller's rules, and the problems' words.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/legate-process.ts';
import { readDataSourceBytes, readDataSourceText, type DataSourceProblem, type DataSourceRules } from '../../src/router/data-source.ts';

const FILES: DataSourceRules = { unreadable: 'cannot read thing file' };
const ENV_NO_FILES: DataSourceRules = { unreadable: 'cannot read', environmentVariable: true, fileRefused: 'not supported yet: a file', missing: 'needs a member' };

test('reads inline_string, inline_bytes and filename as bytes (with the member path) and as text', () => {
  const file = path.join(tempDir(), 'ds.txt');
  fs.writeFileSync(file, 'from a file\n');
  const problems: DataSourceProblem[] = [];
  assert.deepEqual(readDataSourceBytes({ inline_string: 'héllo' }, 'p', FILES, problems), { bytes: Buffer.from('héllo'), path: 'p.inline_string' });
  assert.deepEqual(readDataSourceBytes({ inline_bytes: Buffer.from([0, 255]).toString('base64') }, 'p', FILES, problems), { bytes: Buffer.from([0, 255]), path: 'p.inline_bytes' });
  assert.deepEqual(readDataSourceBytes({ filename: file }, 'p', FILES, problems), { bytes: Buffer.from('from a file\n'), path: 'p.filename' });
  assert.equal(readDataSourceText({ inline_bytes: Buffer.from('text').toString('base64') }, 'p', FILES, problems), 'text');
  assert.equal(readDataSourceText({ filename: file }, 'p', FILES, problems), 'from a file\n');
  assert.deepEqual(problems, []);
});

test('an unreadable file, no member, two members: problems at their paths in the caller\'s words', () => {
  const problems: DataSourceProblem[] = [];
  assert.equal(readDataSourceText({ filename: '/nonexistent/legate/ds' }, 'p', FILES, problems), null);
  assert.equal(readDataSourceText({}, 'q', FILES, problems), null);
  // Two members: a problem, and the first one's value (as the loader's oneof check refuses such a config first).
  assert.equal(readDataSourceText({ inline_string: 'a', filename: 'b' }, 'r', FILES, problems), 'a');
  assert.deepEqual(problems, [
    { path: 'p.filename', message: "cannot read thing file '/nonexistent/legate/ds': ENOENT" },
    { path: 'q', message: 'one of inline_string, inline_bytes, filename is required' },
    { path: 'r', message: 'only one of inline_string, inline_bytes, filename may be set' },
  ]);
});

test('environment_variable where admitted; a file refused; a custom missing message', () => {
  process.env['LEGATE_TEST_DATA_SOURCE'] = 'from env';
  const problems: DataSourceProblem[] = [];
  assert.equal(readDataSourceText({ environment_variable: 'LEGATE_TEST_DATA_SOURCE' }, 'p', ENV_NO_FILES, problems), 'from env');
  assert.equal(readDataSourceText({ environment_variable: 'LEGATE_TEST_DATA_SOURCE_UNSET' }, 'p', ENV_NO_FILES, problems), null);
  assert.equal(readDataSourceText({ filename: '/etc/hostname' }, 'p', ENV_NO_FILES, problems), null);
  assert.equal(readDataSourceText({}, 'p', ENV_NO_FILES, problems), null);
  // Not admitted by FILES: environment_variable alone is no member at all.
  assert.equal(readDataSourceText({ environment_variable: 'LEGATE_TEST_DATA_SOURCE' }, 'q', FILES, problems), null);
  assert.deepEqual(problems, [
    { code: 'bad_value', path: 'p.environment_variable', message: 'environment variable LEGATE_TEST_DATA_SOURCE_UNSET is not set' },
    { code: 'not_supported', path: 'p.filename', message: 'not supported yet: a file' },
    { code: 'missing_field', path: 'p', message: 'needs a member' },
    { path: 'q', message: 'one of inline_string, inline_bytes, filename is required' },
  ]);
});
