// End to end: envoy.filters.http.lua through bin/legate with a real upstream: the corpus's lua example as it is
// (a module from LUA_PATH, two filters, a per-route script), then Envoy's handle API on a Lua 5.4 VM: headers
// (get/add/replace/remove/pairs), the held body (length/getBytes/setBytes), respond(), streamInfo() dynamic
// metadata read by the access log, a script error counted while the stream goes on, and an API Legate lacks
// refused at config time.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLegate, freePort, tempDir, LEGATE_BIN, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

const run = promisify(execFile);
const CORPUS = path.resolve(import.meta.dirname, '../../../shared/compat/envoy-configs/envoyproxy-examples__lua-envoy.yaml');
const LUA = 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua';

describe('lua filter: the corpus example, unchanged but for addresses', { skip: fs.existsSync(CORPUS) ? false : `no corpus at ${CORPUS}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream('web');
    port = await freePort();
    const dir = tempDir('legate-lua-');
    // The example's lib/mylibrary.lua, found through LUA_PATH as Envoy's Lua finds it.
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'mylibrary.lua'), 'M = {}\nfunction M.foobar()\n  return "bar"\nend\nreturn M\n');
    const config = fs.readFileSync(CORPUS, 'utf8')
      .replace(/address: 0\.0\.0\.0\n(\s+)port_value: 10000/, `address: 127.0.0.1\n$1port_value: ${port}`)
      .replace(/address: web_service\n(\s+)port_value: 8080/, `address: 127.0.0.1\n$1port_value: ${up.port}`)
      .replace('type: STRICT_DNS', 'type: STATIC');
    legate = await startLegate({ config: `admin:\n  address:\n    socket_address: { address: 127.0.0.1, port_value: 0 }\n${config}`, env: { LUA_PATH: `${dir}/?.lua` } });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('adds the header the library computes to every request', async () => {
    const r = await curl([`http://127.0.0.1:${port}/echo`]);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['foo'], 'bar', legate.stderr);
    assert.equal(r.headers.get('header_key_1'), undefined);
  });

  it('runs the route\'s own script on the response of /multiple/lua/scripts', async () => {
    const r = await curl([`http://127.0.0.1:${port}/multiple/lua/scripts`]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers.get('header_key_1'), ['header_value_1']);
    assert.equal(up.seen.at(-1)!.headers['foo'], 'bar');
  });
});

describe('lua filter: the handle API', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  let accessLog: string;

  const script = `
function envoy_on_request(h)
  if h:headers():get("x-deny") ~= nil then
    h:respond({[":status"] = "403", ["x-why"] = "lua"}, "denied by lua")
  end
  if h:headers():get("x-fail") ~= nil then error("asked to fail") end
  local body = h:body()
  if body ~= nil and body:length() > 0 then
    h:headers():replace("x-body-length", tostring(body:length()))
    body:setBytes(string.upper(body:getBytes(0, body:length())))
  end
  h:headers():remove("x-secret")
  h:streamInfo():dynamicMetadata():set("envoy.lua", "path", h:headers():get(":path"))
  h:logInfo("saw " .. h:headers():get(":method"))
end
function envoy_on_response(h)
  local n = 0
  for k, v in pairs(h:headers()) do n = n + 1 end
  h:headers():add("x-response-fields", tostring(n))
  h:headers():add("x-status-seen", h:headers():get(":status"))
end
`;

  before(async () => {
    up = await startUpstream('web');
    port = await freePort();
    accessLog = path.join(tempDir('legate-lua-log-'), 'access.log');
    const scriptYaml = script.split('\n').map((l) => `                  ${l}`).join('\n');
    const listener = hcmListener({
      name: 'lua', port, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }],
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${accessLog}
              log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %DYNAMIC_METADATA(envoy.lua:path)%\\n" } }
`,
      httpFilters: `          - name: envoy.filters.http.lua
            typed_config:
              "@type": ${LUA}
              stat_prefix: api
              default_source_code:
                inline_string: |
${scriptYaml}
`,
    });
    legate = await startLegate({ config: bootstrap([listener], [cluster({ name: 'web', endpoints: [{ address: '127.0.0.1', port: up.port }] })]) });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('replaces the held body and its length, and removes a header, before the upstream sees them', async () => {
    const r = await curl([`http://127.0.0.1:${port}/echo/body`, '--data-binary', 'hello lua', '-H', 'x-secret: s3cret', '-H', 'content-type: text/plain']);
    assert.equal(r.status, 200);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.body.toString(), 'HELLO LUA');
    assert.equal(seen.headers['content-length'], '9');
    assert.equal(seen.headers['x-body-length'], '9');
    assert.equal(seen.headers['x-secret'], undefined);
  });

  it('sees the response head (pseudo-header :status included) and adds to it', async () => {
    const r = await curl([`http://127.0.0.1:${port}/status/201`]);
    assert.equal(r.status, 201);
    assert.deepEqual(r.headers.get('x-status-seen'), ['201']);
    assert.ok(Number(r.headers.get('x-response-fields')?.[0]) >= 3, 'pairs() walked the response head');
  });

  it('respond() answers locally: the upstream never sees the request', async () => {
    const before = up.seen.length;
    const r = await curl([`http://127.0.0.1:${port}/denied`, '-H', 'x-deny: 1']);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'denied by lua');
    assert.deepEqual(r.headers.get('x-why'), ['lua']);
    assert.equal(up.seen.length, before);
  });

  it('a script error is logged and counted; the request goes on unchanged', async () => {
    const r = await curl([`http://127.0.0.1:${port}/echo/failing`, '-H', 'x-fail: 1', '-H', 'x-secret: kept']);
    assert.equal(r.status, 200);
    assert.equal(up.seen.at(-1)!.headers['x-secret'], 'kept');
    await waitUntil(async () => (await legate.statsMap()).get('http.lua.lua.api.errors') === 1, () => 'http.lua.lua.api.errors counts the error', 10_000, 100);
    assert.match(legate.stderr, /lua: script 'default' failed: .*asked to fail/);
  });

  it('sets dynamic metadata the access log reads, and logs through handle:logInfo', async () => {
    await curl([`http://127.0.0.1:${port}/echo/metadata`]);
    await waitUntil(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/echo/metadata 200 /echo/metadata'),
      () => `access log: ${fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8') : '(none)'}`, 10_000, 100);
    assert.match(legate.stderr, /lua: saw GET/);
  });
});

describe('lua filter: config', () => {
  it('refuses a script that calls a handle method Legate does not run yet, with its position', async () => {
    const dir = tempDir('legate-lua-cfg-');
    const file = path.join(dir, 'envoy.yaml');
    const listener = hcmListener({ name: 'l', port: 0, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }], httpFilters: filter('envoy.filters.http.lua', LUA, `              default_source_code:
                inline_string: |
                  function envoy_on_request(h)
                    -- a comment naming h:timestamp() does not count
                    local headers, body = h:httpCall("auth", {[":method"] = "GET", [":path"] = "/", [":authority"] = "auth"}, "", 1000)
                  end
`) });
    fs.writeFileSync(file, bootstrap([listener], []));
    const r = await run(LEGATE_BIN, ['--mode', 'validate', '-c', file]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /\d+:\d+.*default_source_code.*not supported yet: the Lua handle method httpCall\(\)/);
    assert.doesNotMatch(r.stderr, /timestamp/);
  });
  it('takes a script file of any size (not the 4 KiB a direct_response body is held to)', async () => {
    const dir = tempDir('legate-lua-big-');
    const script = path.join(dir, 'big.lua');
    fs.writeFileSync(script, `${'-- padding\n'.repeat(800)}function envoy_on_request(h) h:headers():add("x-big", "1") end\n`);
    assert.ok(fs.statSync(script).size > 8192);
    const file = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(file, bootstrap([hcmListener({
      name: 'l', port: 0, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }],
      httpFilters: filter('envoy.filters.http.lua', LUA, `              default_source_code: { filename: ${script} }\n`),
    })], []));
    await run(LEGATE_BIN, ['--mode', 'validate', '-c', file]);
  });
});
