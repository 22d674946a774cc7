// End to end: file-based xDS (path_config_source) for LDS and CDS, with the corpus's dynamic-config-fs example
// (addresses changed): served from the files, a change of a file (written aside and renamed in, as tools do) is
// followed, a bad file is refused with file:line:col and the last good resources keep serving.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';

const CORPUS = path.resolve(ROOT, '../shared/compat/envoy-configs');
const BOOTSTRAP = path.join(CORPUS, 'envoyproxy-examples__dynamic-config-fs-envoy.yaml');
const LDS = path.join(CORPUS, 'envoyproxy-examples__dynamic-config-fs-configs-lds.yaml');
const CDS = path.join(CORPUS, 'envoyproxy-examples__dynamic-config-fs-configs-cds.yaml');

async function get(port: number): Promise<{ status: number; tag: string | null; upstream: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return { status: res.status, tag: res.headers.get('x-route-tag'), upstream: res.headers.get('x-upstream') };
}

/** Writes aside and renames into place: the file is never seen half-written. */
function replaceFile(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

describe('xds: LDS and CDS from files (the corpus dynamic-config-fs example)', { skip: fs.existsSync(BOOTSTRAP) ? false : `no corpus at ${CORPUS}` }, () => {
  let legate: LegateProcess;
  let a: TestUpstream;
  let b: TestUpstream;
  let port: number;
  let dir: string;
  let lds: string;
  let cds: string;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    port = await freePort();
    dir = tempDir('legate-xds-files-');
    lds = fs.readFileSync(LDS, 'utf8').replace('address: 0.0.0.0', 'address: 127.0.0.1').replace('port_value: 10000', `port_value: ${port}`);
    cds = fs.readFileSync(CDS, 'utf8').replace('address: service1', 'address: 127.0.0.1');
    fs.writeFileSync(path.join(dir, 'lds.yaml'), lds);
    fs.writeFileSync(path.join(dir, 'cds.yaml'), cds.replace('port_value: 8080', `port_value: ${a.port}`));
    const bootstrap = fs.readFileSync(BOOTSTRAP, 'utf8')
      .replaceAll('/var/lib/envoy/', `${dir}/`)
      .replace('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 19000', 'port_value: 0');
    legate = await startLegate({ config: bootstrap, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    a?.server.close();
    b?.server.close();
  });

  it('serves from the files', async () => {
    const r = await get(port);
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
    const stats = await legate.statsMap();
    assert.equal(stats.get('listener_manager.lds.update_success'), 1);
    assert.equal(stats.get('cluster_manager.cds.update_success'), 1);
  });

  it('follows a changed listener file and a changed cluster file', async () => {
    replaceFile(path.join(dir, 'lds.yaml'), lds.replace('          - name: local_service\n', '          - name: local_service\n            response_headers_to_add: [{ header: { key: x-route-tag, value: v2 } }]\n'));
    await waitUntil(async () => (await get(port)).tag === 'v2', () => 'the new listener file was not applied');
    replaceFile(path.join(dir, 'cds.yaml'), cds.replace('port_value: 8080', `port_value: ${b.port}`));
    await waitUntil(async () => (await get(port)).upstream === 'b', () => 'the new cluster file was not applied');
  });

  it('refuses a bad file with file:line:col and keeps serving the last good resources', async () => {
    const from = legate.stderr.length;
    replaceFile(path.join(dir, 'lds.yaml'), lds.replace('  name: listener_0\n', '  name: listener_0\n  freebind: true\n'));
    await legate.waitForLog(/lds\.yaml rejected/, 20_000, from);
    assert.match(legate.stderr.slice(from), /lds\.yaml:4:3: resources\[0\]\.freebind: not supported yet/);
    const r = await get(port);
    assert.equal(r.status, 200);
    assert.equal(r.tag, 'v2');
    assert.equal((await legate.statsMap()).get('listener_manager.lds.update_rejected'), 1);
  });
});

describe('xds: files behind a symlink swap (watched_directory, as a Kubernetes ConfigMap)', () => {
  let legate: LegateProcess | undefined;
  let up: TestUpstream | undefined;

  after(async () => {
    await legate?.stop();
    up?.server.close();
  });

  it('follows the swap of the directory symlink', async () => {
    up = await startUpstream('a');
    const port = await freePort();
    const dir = tempDir('legate-xds-swap-');
    const listener = (tag: string): string => `version_info: "${tag}"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: l
  address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: l
        http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            response_headers_to_add: [{ header: { key: x-route-tag, value: ${tag} } }]
            routes: [{ match: { prefix: / }, direct_response: { status: 200, body: { inline_string: ${tag} } } }]
`;
    for (const v of ['v1', 'v2']) {
      fs.mkdirSync(path.join(dir, v));
      fs.writeFileSync(path.join(dir, v, 'lds.yaml'), listener(v));
    }
    fs.symlinkSync('v1', path.join(dir, 'current'));
    const bootstrap = `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
dynamic_resources:
  lds_config:
    path_config_source:
      path: ${dir}/current/lds.yaml
      watched_directory: { path: ${dir} }
`;
    legate = await startLegate({ config: bootstrap, concurrency: 1 });
    assert.equal((await get(port)).tag, 'v1');
    fs.symlinkSync('v2', path.join(dir, 'next'));
    fs.renameSync(path.join(dir, 'next'), path.join(dir, 'current'));
    await waitUntil(async () => (await get(port)).tag === 'v2', () => 'the swapped-in listener file was not applied');
    const { body } = await legate.admin('/config_dump?resource=dynamic_listeners');
    assert.equal((JSON.parse(body) as { configs: { active_state: { version_info: string } }[] }).configs[0]!.active_state.version_info, 'v2');
  });
});
