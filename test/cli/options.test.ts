// The command-line parser: Envoy's flags with Envoy's meaning (issue 13 §2).

import test from 'node:test';
import assert from 'node:assert/strict';
import { CliUsageError, HELP_TEXT, parseCliOptions } from '../../src/cli/options.ts';

function usageError(argv: string[]): string {
  try {
    parseCliOptions(argv);
  } catch (err) {
    assert.ok(err instanceof CliUsageError, String(err));
    return err.message;
  }
  assert.fail(`expected a usage error for ${argv.join(' ')}`);
}

test('an Envoy command line from a systemd unit or a Kubernetes manifest parses unchanged', () => {
  const o = parseCliOptions([
    '-c', '/etc/envoy/envoy.yaml', '--service-cluster', 'front', '--service-node', 'node-1', '--service-zone', 'us-east-1a',
    '--log-level', 'info', '--drain-time-s', '5', '--base-id', '1', '--concurrency', '2', '--restart-epoch', '0',
    '--drain-strategy', 'immediate', '--parent-shutdown-time-s', '10', '--local-address-ip-version', 'v4',
    '--file-flush-interval-msec', '1000', '--disable-hot-restart', '--allow-unknown-static-fields',
    '--component-log-level', 'misc:error,main:debug', '--log-format', '%Y-%m-%dT%T.%fZ\t%l\tenvoy %n\t%v',
    '--stats-tag', 'pod:web-1', '--stats-tag', 'zone:a', '--enable-core-dump', '--reject-unknown-dynamic-fields',
    '--ignore-unknown-dynamic-fields', '--log-format-escaped', '--log-path=/var/log/envoy.log', '--mode', 'serve',
  ]);
  assert.equal(o.configPath, '/etc/envoy/envoy.yaml');
  assert.deepEqual([o.serviceCluster, o.serviceNode, o.serviceZone], ['front', 'node-1', 'us-east-1a']);
  assert.deepEqual([o.logLevel, o.drainTimeS, o.baseId, o.concurrency, o.restartEpoch], ['info', 5, 1, 2, 0]);
  assert.deepEqual([o.drainStrategy, o.parentShutdownTimeS, o.localAddressIpVersion, o.fileFlushIntervalMs], ['immediate', 10, 'v4', 1000]);
  assert.deepEqual([o.disableHotRestart, o.allowUnknownStaticFields, o.enableCoreDump, o.rejectUnknownDynamicFields, o.ignoreUnknownDynamicFields, o.logFormatEscaped], [true, true, true, true, true, true]);
  assert.deepEqual(o.componentLogLevels, [['misc', 'error'], ['main', 'debug']]);
  assert.equal(o.logFormat, '%Y-%m-%dT%T.%fZ\t%l\tenvoy %n\t%v');
  assert.equal(o.logPath, '/var/log/envoy.log');
  assert.deepEqual(o.statsTags, [['pod', 'web-1'], ['zone', 'a']]);
  assert.equal(o.mode, 'serve');
});

test('--concurrency 0 runs one worker, as Envoy (std::max(1, concurrency))', () => {
  assert.equal(parseCliOptions(['-c', 'x', '--concurrency', '0']).concurrency, 1);
  assert.match(usageError(['-c', 'x', '--concurrency', '-1']), /whole number/);
});

test('log levels: Envoy names, warning and warn alike', () => {
  assert.equal(parseCliOptions(['-c', 'x', '-l', 'warning']).logLevel, 'warn');
  assert.equal(parseCliOptions(['-c', 'x', '-l', 'warn']).logLevel, 'warn');
  assert.equal(parseCliOptions(['-c', 'x', '-l', 'critical']).logLevel, 'critical');
  assert.match(usageError(['-c', 'x', '-l', 'loud']), /invalid log level 'loud'/);
});

test('--component-log-level takes Envoy component names and levels, as Envoy checks them', () => {
  assert.match(usageError(['-c', 'x', '--component-log-level', 'nosuch:debug']), /invalid component specified 'nosuch'/);
  assert.match(usageError(['-c', 'x', '--component-log-level', 'upstream']), /not correctly specified 'upstream'/);
  assert.match(usageError(['-c', 'x', '--component-log-level', 'upstream:loud']), /invalid log level 'loud'/);
});

test('modes: serve, validate, init_only; anything else is refused', () => {
  assert.equal(parseCliOptions(['-c', 'x', '--mode', 'init_only']).mode, 'init_only');
  assert.equal(parseCliOptions(['-c', 'x', '--mode', 'validate']).mode, 'validate');
  assert.match(usageError(['-c', 'x', '--mode', 'dry']), /unknown mode 'dry'/);
});

test('checked values: drain strategy, IP version, stats tags, hot restart combinations', () => {
  assert.match(usageError(['-c', 'x', '--drain-strategy', 'slow']), /unknown drain-strategy 'slow'/);
  assert.match(usageError(['-c', 'x', '--local-address-ip-version', 'v5']), /unknown IP address version 'v5'/);
  assert.match(usageError(['-c', 'x', '--stats-tag', 'novalue']), /not name:value/);
  assert.match(usageError(['-c', 'x', '--stats-tag', 'bad-name:v']), /tag name 'bad-name'/);
  assert.match(usageError(['-c', 'x', '--stats-tag', 'a:b.c']), /may not contain '\.'/);
  assert.match(usageError(['-c', 'x', '--stats-tag', 'a:1', '--stats-tag', 'a:2']), /'a' is given twice/);
  assert.match(usageError(['-c', 'x', '--use-dynamic-base-id', '--restart-epoch', '1']), /cannot use --restart-epoch=1 with --use-dynamic-base-id/);
});

test('--version, --hot-restart-version and --help need no configuration; anything else does', () => {
  assert.equal(parseCliOptions(['--version']).version, true);
  assert.equal(parseCliOptions(['--hot-restart-version']).hotRestartVersion, true);
  assert.equal(parseCliOptions(['--help']).help, true);
  assert.match(usageError(['--concurrency', '1']), /no configuration/);
  assert.match(usageError(['-c', 'x', '--bogus']), /unknown option '--bogus'/);
  assert.match(usageError(['-c']), /-c needs a value/);
});

test('--admin-token-path (Legate\'s extension) names the token file', () => {
  assert.equal(parseCliOptions(['-c', 'x', '--admin-token-path', '/etc/legate/admin-token']).adminTokenPath, '/etc/legate/admin-token');
  assert.equal(parseCliOptions(['-c', 'x']).adminTokenPath, undefined);
});

test('--help lists every flag the parser takes', () => {
  const flags = [
    '--config-path', '--config-yaml', '--mode', '--concurrency', '--cpuset-threads', '--log-level', '--component-log-level',
    '--log-path', '--log-format', '--log-format-escaped', '--service-cluster', '--service-node', '--service-zone',
    '--drain-time-s', '--drain-strategy', '--parent-shutdown-time-s', '--file-flush-interval-msec',
    '--allow-unknown-static-fields', '--allow-unknown-fields', '--reject-unknown-dynamic-fields',
    '--ignore-unknown-dynamic-fields', '--local-address-ip-version', '--enable-core-dump', '--stats-tag',
    '--admin-address-path', '--admin-token-path', '--base-id', '--use-dynamic-base-id', '--base-id-path', '--restart-epoch',
    '--disable-hot-restart', '--skip-hot-restart-on-no-parent', '--skip-hot-restart-parent-stats',
    '--enable-mutex-tracing', '--hot-restart-version', '--version', '--help',
  ];
  for (const f of flags) {
    assert.ok(HELP_TEXT.includes(f), `--help mentions ${f}`);
    // And the parser takes it (switches alone, valued flags with a value).
    const takesValue = !/^--(cpuset-threads|log-format-escaped|allow-unknown|reject-unknown|ignore-unknown|enable-core-dump|use-dynamic-base-id|disable-hot-restart|skip-hot-restart|enable-mutex-tracing|hot-restart-version|version|help)/.test(f);
    const value = f === '--mode' ? 'serve' : f === '--drain-strategy' ? 'gradual' : f === '--local-address-ip-version' ? 'v6'
      : f === '--stats-tag' ? 'a:b' : f === '--component-log-level' ? 'main:info' : f === '--log-level' ? 'info' : '1';
    parseCliOptions(['-c', 'x', f, ...(takesValue ? [value] : [])]);
  }
});
