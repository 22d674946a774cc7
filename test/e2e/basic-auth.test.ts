// End to end: envoy.filters.http.basic_auth through bin/legate with a real upstream and curl: {SHA} htpasswd users,
// per-route users, forward_username_header, Envoy's 401s and details; other htpasswd schemes refused at load.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot } from '../../src/snapshot/compile-snapshot.ts';

const BA = 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth';
const BA_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute';

function sha(password: string): string {
  return `{SHA}${crypto.createHash('sha1').update(password).digest('base64')}`;
}

/** The problems loading and compiling `yaml` gives (as the config check does). */
function problemsOf(yaml: string): string[] {
  try {
    const loaded = loadConfig({ configPath: '', configYaml: yaml });
    return compileSnapshot(loaded, 1).problems.map((p) => `${p.path}: ${p.message}`);
  } catch (err) {
    return [(err as Error).message];
  }
}

describe('basic auth through bin/legate', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let logPath: string;

  before(async () => {
    up = await startUpstream('ba');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const dir = tempDir();
    logPath = path.join(dir, 'access.log');
    const usersFile = path.join(dir, 'users.htpasswd');
    fs.writeFileSync(usersFile, `# users\nalice:${sha('wonderland')}\r\nbob:${sha('builder')}\n\n`);
    const listener = hcmListener({
      name: 'ba', port,
      routes: [
        { match: '{ prefix: "/admin" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  ba: { "@type": ${BA_ROUTE}, users: { inline_string: "root:${sha('toor')}" } }` },
        { match: '{ prefix: "/open" }', action: 'route: { cluster: backend }\n                typed_per_filter_config:\n                  ba: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true }' },
        { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
      ],
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\\n" }
`,
      httpFilters: filter('ba', BA, `              users: { filename: ${usersFile} }
              forward_username_header: X-Username
`),
    });
    const config = bootstrap([listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]);
    legate = await startLegate({ config, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('lets a user of the file through with the right password and forwards the user name', async () => {
    const r = await curl(['-u', 'alice:wonderland', '-H', 'x-username: mallory', `${base}/echo`]);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-username'], 'alice');
    assert.equal(seen.headers['authorization'], `Basic ${Buffer.from('alice:wonderland').toString('base64')}`);
    const r2 = await curl(['-u', 'bob:builder', `${base}/echo`]);
    assert.equal(r2.status, 200);
  });

  it('answers 401 with www-authenticate and Envoy\'s bodies and details otherwise', async () => {
    const cases: [string[], string, string][] = [
      [[], 'User authentication failed. Missing username and password.', 'no_credential_for_basic_auth'],
      [['-H', 'authorization: Bearer abc'], "User authentication failed. Expected 'Basic' authentication scheme.", 'invalid_scheme_for_basic_auth'],
      [['-H', `authorization: Basic ${Buffer.from('nocolon').toString('base64')}`], 'User authentication failed. Invalid basic credential format.', 'invalid_format_for_basic_auth'],
      [['-u', 'alice:wrong'], 'User authentication failed. Invalid username/password combination.', 'invalid_credential_for_basic_auth'],
      [['-u', 'carol:wonderland'], 'User authentication failed. Invalid username/password combination.', 'invalid_credential_for_basic_auth'],
      // The per-route users replace the filter's: alice is not one of them.
      [['-u', 'alice:wonderland'], 'User authentication failed. Invalid username/password combination.', 'invalid_credential_for_basic_auth'],
    ];
    const before = up.seen.length;
    for (const [i, [args, body]] of cases.entries()) {
      const url = i === cases.length - 1 ? `${base}/admin/x` : `${base}/private`;
      const r = await curl([...args, '-H', 'host: example.test', url]);
      assert.equal(r.status, 401, `case ${i}`);
      assert.equal(r.body, body, `case ${i}`);
      assert.deepEqual(r.headers.get('www-authenticate'), ['Basic realm="http://example.test"'], `case ${i}`);
    }
    assert.equal(up.seen.length, before, 'no denied request reaches the upstream');
    await waitUntil(() => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => l.startsWith('401')).length >= cases.length, () => 'the access log lines', 10_000);
    const details = fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => l.startsWith('401 ')).map((l) => l.slice(4));
    assert.deepEqual(details.slice(-cases.length), cases.map((c) => c[2]));
  });

  it('takes a route\'s own users, and runs nowhere the filter is disabled', async () => {
    assert.equal((await curl(['-u', 'root:toor', `${base}/admin/x`])).status, 200);
    assert.equal((await curl([`${base}/open/x`])).status, 200);
  });

  it('counts allowed and denied requests in http.<stat_prefix>.basic_auth.*', async () => {
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ba.basic_auth.allowed'), 3);
    assert.equal(stats.get('http.ba.basic_auth.denied'), 6);
  });
});

describe('basic auth config checks', () => {
  const config = (users: string, extra = ''): string => {
    const listener = hcmListener({ name: 'bac', port: 1, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }], httpFilters: filter('ba', BA, `              users: { inline_string: ${JSON.stringify(users)} }
${extra}`) });
    return bootstrap([listener], []);
  };

  it('accepts {SHA} users', () => {
    assert.deepEqual(problemsOf(config(`a:${sha('x')}\nb:${sha('y')}`)), []);
  });

  it('refuses other htpasswd schemes, bad lines, duplicate users and bad digests, as Envoy', () => {
    const cases: [string, RegExp][] = [
      ['a:$apr1$abc$0123456789', /unsupported htpasswd format: please use \{SHA\}/],
      ['a:$2y$05$abcdefghijklmnopqrstuv', /unsupported htpasswd format: please use \{SHA\}/],
      ['a:plaintext', /unsupported htpasswd format: please use \{SHA\}/],
      ['no-colon', /invalid htpasswd format, username:password is expected/],
      [`a:${sha('x')}\na:${sha('y')}`, /duplicate users/],
      ['a:{SHA}short', /invalid SHA hash length/],
      [':{SHA}x', /empty user name or password/],
    ];
    for (const [users, re] of cases) {
      const problems = problemsOf(config(users));
      assert.ok(problems.some((p) => re.test(p)), `${users}: ${problems.join('; ')}`);
    }
  });
});
