// Config compile: Envoy access_log lists -> AccessLogConfig, with problems at field paths.

import test from 'node:test';
import assert from 'node:assert/strict';
import { compileAccessLogs, type AccessLogConfig } from '../../src/access-log/access-log-config.ts';
import { DEFAULT_FORMAT } from '../../src/access-log/formatter.ts';

const STDOUT = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog';
const FILE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const BASE = 'static_resources.listeners[0].access_log';

function one(entry: Record<string, unknown>): AccessLogConfig {
  const r = compileAccessLogs([entry], BASE);
  assert.deepEqual(r.problems, []);
  assert.equal(r.config.length, 1);
  return r.config[0]!;
}

test('no access_log gives no loggers', () => {
  assert.deepEqual(compileAccessLogs(undefined, BASE), { config: [], problems: [] });
  assert.deepEqual(compileAccessLogs([], BASE), { config: [], problems: [] });
});

test('stdout and stderr loggers default to Envoy\'s format', () => {
  const out = one({ name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT } });
  assert.deepEqual(out, {
    logger: 'envoy.access_loggers.stdout',
    kind: 'stdout',
    path: '',
    format: 'text',
    text: DEFAULT_FORMAT,
    json: null,
    jsonTyped: true,
    omitEmptyValues: false,
    sortProperties: false,
    textEndsWithNewline: true,
  });
  const err = one({ name: 'anything', typed_config: { '@type': STDERR } });
  assert.equal(err.kind, 'stderr');
  assert.equal(err.logger, 'envoy.access_loggers.stderr');
});

test('a logger named without typed_config is found by name', () => {
  assert.equal(one({ name: 'envoy.access_loggers.stdout' }).kind, 'stdout');
});

test('log_format: text_format, text_format_source (inline_string / inline_bytes), json_format with options', () => {
  const t = one({ typed_config: { '@type': STDOUT, log_format: { text_format: '%RESPONSE_CODE%' } } });
  assert.equal(t.text, '%RESPONSE_CODE%');
  assert.equal(t.textEndsWithNewline, false);
  const s = one({ typed_config: { '@type': STDOUT, log_format: { text_format_source: { inline_string: '%PROTOCOL%\n' }, omit_empty_values: true } } });
  assert.equal(s.text, '%PROTOCOL%\n');
  assert.equal(s.textEndsWithNewline, true);
  assert.equal(s.omitEmptyValues, true);
  const b = one({ typed_config: { '@type': STDOUT, log_format: { text_format_source: { inline_bytes: Buffer.from('%DURATION%\n').toString('base64') } } } });
  assert.equal(b.text, '%DURATION%\n');
  const j = one({ typed_config: { '@type': STDERR, log_format: { json_format: { s: '%RESPONSE_CODE%' }, json_format_options: { sort_properties: true } } } });
  assert.equal(j.format, 'json');
  assert.deepEqual(j.json, { s: '%RESPONSE_CODE%' });
  assert.equal(j.jsonTyped, true);
  assert.equal(j.sortProperties, true);
  assert.equal(j.textEndsWithNewline, true);
});

test('file logger: path, deprecated format / json_format / typed_json_format, /dev/stdout', () => {
  const f = one({ name: 'envoy.access_loggers.file', typed_config: { '@type': FILE, path: '/var/log/a.log' } });
  assert.equal(f.kind, 'file');
  assert.equal(f.path, '/var/log/a.log');
  assert.equal(f.text, DEFAULT_FORMAT);
  assert.equal(one({ typed_config: { '@type': FILE, path: '/x', format: '' } }).text, DEFAULT_FORMAT);
  assert.equal(one({ typed_config: { '@type': FILE, path: '/x', format: '%BYTES_SENT%\n' } }).text, '%BYTES_SENT%\n');
  const untyped = one({ typed_config: { '@type': FILE, path: '/x', json_format: { a: '%BYTES_SENT%' } } });
  assert.equal(untyped.format, 'json');
  assert.equal(untyped.jsonTyped, false);
  assert.equal(one({ typed_config: { '@type': FILE, path: '/x', typed_json_format: { a: '%BYTES_SENT%' } } }).jsonTyped, true);
  const lf = one({ typed_config: { '@type': FILE, path: '/x', log_format: { text_format: 'x\n' } } });
  assert.equal(lf.text, 'x\n');
  const dev = one({ typed_config: { '@type': FILE, path: '/dev/stdout' } });
  assert.equal(dev.kind, 'stdout');
  assert.equal(dev.logger, 'envoy.access_loggers.file');
  assert.equal(one({ typed_config: { '@type': FILE, path: '/dev/stderr' } }).kind, 'stderr');
});

test('the compiled config is plain data', () => {
  const c = one({ typed_config: { '@type': FILE, path: '/x', log_format: { json_format: { a: { b: ['%PROTOCOL%'] } } } } });
  assert.deepEqual(JSON.parse(JSON.stringify(c)), c);
  assert.equal(Object.getPrototypeOf(c), Object.prototype);
});

test('problems carry field paths and codes; good loggers beside bad ones still compile', () => {
  const r = compileAccessLogs(
    [
      { typed_config: { '@type': STDOUT, log_format: { text_format: '%BOGUS%' } } },
      { typed_config: { '@type': STDOUT } },
      { typed_config: { '@type': FILE } },
      { typed_config: { '@type': STDOUT, log_format: { json_format: { a: '%UPSTREAM_FILTER_STATE(x)%' } } } },
      { typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig' } },
      { typed_config: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster' } },
      { name: 'my.logger' },
      { typed_config: { '@type': STDOUT }, filter: { runtime_filter: { runtime_key: 'k' } } },
      { typed_config: { '@type': STDOUT, log_format: {} } },
      { typed_config: { '@type': STDOUT, log_format: { text_format_source: { filename: '/etc/fmt' } } } },
      { typed_config: { '@type': FILE, path: '/x', format: 'a', log_format: { text_format: 'b' } } },
      { typed_config: { '@type': STDOUT, log_format: { text_format: '%START_TIME(%Q)%' } } },
    ],
    BASE,
  );
  assert.equal(r.config.length, 1);
  assert.equal(r.config[0]!.kind, 'stdout');
  const got = r.problems.map((p) => [p.code, p.path]);
  assert.deepEqual(got, [
    ['bad_value', `${BASE}[0].typed_config.log_format.text_format`],
    ['missing_field', `${BASE}[2].typed_config.path`],
    ['not_supported', `${BASE}[3].typed_config.log_format.json_format`],
    ['not_supported', `${BASE}[4].typed_config`],
    ['unknown_type', `${BASE}[5].typed_config`],
    ['missing_field', `${BASE}[6].typed_config`],
    ['not_supported', `${BASE}[7].filter.runtime_filter`],
    ['missing_field', `${BASE}[8].typed_config.log_format`],
    ['not_supported', `${BASE}[9].typed_config.log_format.text_format_source.filename`],
    ['bad_value', `${BASE}[10].typed_config`],
    ['not_supported', `${BASE}[11].typed_config.log_format.text_format`],
  ]);
  assert.match(r.problems[0]!.message, /%BOGUS%/);
  assert.match(r.problems[2]!.message, /UPSTREAM_FILTER_STATE/);
});
