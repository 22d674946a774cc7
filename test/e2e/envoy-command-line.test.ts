// End to end (issue 13 §2): bin/legate started with Envoy's command line as a systemd unit or a Kubernetes manifest
// writes it, Envoy's --version and --mode init_only, and the signals: SIGUSR1 reopens the application log and the
// access logs (a logrotate-style rename), SIGTERM drains and ends with Envoy's "exiting" line.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LEGATE_BIN, LegateProcess, ROOT, listenOnPortZero, tempDir } from '../support/legate-process.ts';
import { bootstrap, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(LEGATE_BIN, args, { cwd: ROOT }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** bin/legate with exactly `args` (no options added), in `dir`. */
function spawnLegate(args: string[], dir: string, configPath: string): LegateProcess {
  const proc = spawn(LEGATE_BIN, args, { cwd: dir, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new LegateProcess(proc, configPath);
}

/** The real port of listener `name` (port_value 0) from the start-up line of an application log file. */
function loggedListenerPort(logFile: string, name: string): number {
  const m = new RegExp(`listener '${name}' on 127\\.0\\.0\\.1:(\\d+)`).exec(fs.readFileSync(logFile, 'utf8'));
  assert.ok(m !== null, `no listener line for '${name}' in ${logFile}`);
  return Number(m[1]);
}

function directListener(name: string, port: number, body: string, hcmExtra = ''): string {
  return hcmListener({ name, port, hcmExtra, routes: [{ match: '{ prefix: "/" }', action: `direct_response: { status: 200, body: { inline_string: "${body}" } }` }] });
}

describe("Envoy's command line", () => {
  it('an Envoy systemd/Kubernetes command line starts Legate unchanged, and SIGTERM ends with "exiting"', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'envoy.yaml');
    const appLog = path.join(dir, 'envoy.log');
    const adminPath = path.join(dir, 'admin-address');
    fs.writeFileSync(configPath, bootstrap([directListener('ingress', 0, 'hello')], []));
    const legate = spawnLegate([
      '-c', configPath, '--service-cluster', 'front-proxy', '--service-node', 'node-7', '--log-level', 'info',
      '--drain-time-s', '5', '--base-id', '1', '--concurrency', '2', '--restart-epoch', '0', '--parent-shutdown-time-s', '10',
      '--drain-strategy', 'immediate', '--disable-hot-restart', '--local-address-ip-version', 'v4',
      '--file-flush-interval-msec', '1000', '--component-log-level', 'upstream:debug,misc:error', '--enable-core-dump',
      '--stats-tag', 'pod:web-1', '--log-path', appLog, '--log-format', 'APP [%l][%n] %v', '--admin-address-path', adminPath,
    ], dir, configPath);
    try {
      await waitUntil(() => fs.existsSync(appLog) && fs.readFileSync(appLog, 'utf8').includes('legate started'), () => `no start line in ${appLog}:\n${legate.stderr}`);
      const port = loggedListenerPort(appLog, 'ingress');
      const r = await curl([`http://127.0.0.1:${port}/`]);
      assert.equal(r.body, 'hello');
      const adminAddress = fs.readFileSync(adminPath, 'utf8').trim();
      assert.match(adminAddress, /^127\.0\.0\.1:\d+$/);
      const info = JSON.parse(await (await fetch(`http://${adminAddress}/server_info`)).text()) as Record<string, Record<string, unknown>>;
      assert.equal(info['node']!['id'], 'node-7');
      assert.equal(info['node']!['cluster'], 'front-proxy');
      assert.equal(info['command_line_options']!['concurrency'], 2);
      assert.equal(info['command_line_options']!['drain_strategy'], 'Immediate');
      const prom = await (await fetch(`http://${adminAddress}/stats/prometheus`)).text();
      assert.match(prom, /envoy_server_concurrency\{pod="web-1"\} 2/);
      const stopped = legate.stop('SIGTERM');
      assert.equal(await stopped, 0);
      const lines = fs.readFileSync(appLog, 'utf8').trimEnd().split('\n');
      for (const l of lines) assert.match(l, /^APP \[(info|warning|error|debug)\]\[main\] /);
      assert.equal(lines.at(-1), 'APP [info][main] exiting');
      assert.equal(legate.stderr, '', 'with --log-path nothing goes to stderr');
    } finally {
      await legate.stop('SIGKILL');
    }
  });

  it('--concurrency 0 runs one worker, as Envoy', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(configPath, bootstrap([directListener('ingress', 0, 'one')], []));
    const legate = spawnLegate(['-c', configPath, '--concurrency', '0', '--drain-time-s', '1'], dir, configPath);
    try {
      await legate.waitForLog(/legate started: 1 worker\(s\)/);
      assert.equal((await legate.statsMap()).get('server.concurrency'), 1);
    } finally {
      await legate.stop();
    }
  });

  it("--version prints Envoy's version line; --hot-restart-version says hot restart is disabled", async () => {
    const v = await run(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\nlegate {2}version: [0-9a-f]{40}\/\d+\.\d+\.\d+\/(Clean|Modified|Unknown)\/RELEASE\/OpenSSL\n/);
    assert.match(v.stdout, /Envoy API v1\.31/);
    const h = await run(['--hot-restart-version']);
    assert.equal(h.code, 0);
    assert.equal(h.stderr, 'disabled\n');
  });

  it('--mode init_only initialises (listeners bound) and exits 0; a listener that cannot bind fails it', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(configPath, bootstrap([directListener('ingress', 0, 'x')], []));
    const ok = await run(['-c', configPath, '--mode', 'init_only', '--concurrency', '1']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /legate started/);
    assert.match(ok.stderr, /init_only: initialised; exiting/);
    // Another process holds the port the listener names.
    const holder = net.createServer();
    const port = await listenOnPortZero(holder);
    fs.writeFileSync(configPath, bootstrap([directListener('ingress', port, 'x')], []));
    try {
      const busy = await run(['-c', configPath, '--mode', 'init_only', '--concurrency', '1']);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /cannot bind 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });

  it('--allow-unknown-static-fields: an unknown field is a warning, counted in server.static_unknown_fields', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(configPath, bootstrap([directListener('ingress', 0, 'lenient', '          some_future_field: true\n')], []));
    const strict = await run(['-c', configPath, '--mode', 'validate']);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /unknown field 'some_future_field'/);
    const legate = spawnLegate(['-c', configPath, '--allow-unknown-static-fields', '--concurrency', '1', '--drain-time-s', '1'], dir, configPath);
    try {
      await legate.waitForLog(/legate started/);
      assert.match(legate.stderr, /some_future_field.*\(ignored: --allow-unknown-static-fields\)/);
      const port = await legate.listenerPort('ingress');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'lenient');
      assert.equal((await legate.statsMap()).get('server.static_unknown_fields'), 1);
    } finally {
      await legate.stop();
    }
  });
});

describe('SIGUSR1 reopens the logs (logrotate)', () => {
  it('after a rename, new application log and access log lines go to new files at the old paths; no inspector starts', async () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'envoy.yaml');
    const appLog = path.join(dir, 'app.log');
    const accessLog = path.join(dir, 'access.log');
    const access = `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${accessLog}
              log_format: { text_format_source: { inline_string: "%REQ(:PATH)%\\n" } }
`;
    fs.writeFileSync(configPath, bootstrap([directListener('ingress', 0, 'ok', access)], []));
    const legate = spawnLegate(['-c', configPath, '--concurrency', '2', '--log-path', appLog, '--file-flush-interval-msec', '10', '--drain-time-s', '1'], dir, configPath);
    try {
      await waitUntil(() => fs.existsSync(appLog) && fs.readFileSync(appLog, 'utf8').includes('legate started'), () => `no start line:\n${legate.stderr}`);
      const port = loggedListenerPort(appLog, 'ingress');
      assert.equal((await curl([`http://127.0.0.1:${port}/before`])).status, 200);
      await waitUntil(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/before'), () => 'first access log line');
      fs.renameSync(appLog, `${appLog}.1`);
      fs.renameSync(accessLog, `${accessLog}.1`);
      legate.proc.kill('SIGUSR1');
      await waitUntil(() => fs.existsSync(appLog) && fs.readFileSync(appLog, 'utf8').includes('SIGUSR1: reopened'), () => `no reopen line in a new ${appLog}`);
      // The workers reopen on a message: a few requests, until one lands in the new access log.
      await waitUntil(async () => {
        await curl([`http://127.0.0.1:${port}/after`]);
        return fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/after');
      }, () => `no new ${accessLog}`, 10_000, 100);
      assert.equal(fs.readFileSync(`${accessLog}.1`, 'utf8'), '/before\n');
      assert.doesNotMatch(fs.readFileSync(accessLog, 'utf8'), /\/before/);
      assert.match(fs.readFileSync(`${appLog}.1`, 'utf8'), /legate started/);
      assert.doesNotMatch(fs.readFileSync(appLog, 'utf8'), /legate started/);
      assert.doesNotMatch(legate.stderr + fs.readFileSync(appLog, 'utf8'), /Debugger listening/);
      assert.equal(await legate.stop(), 0);
    } finally {
      await legate.stop('SIGKILL');
    }
  });
});
