// End to end: envoy.filters.http.rbac through bin/legate with curl. An ALLOW policy set (path, header, method,
// remote_ip through x-forwarded-for) with DENY shadow rules; per-route RBACPerRoute (disabled, and rules of its own);
// a TLS listener whose policies name the mTLS client certificate's URI SAN and subject. Denied requests are 403
// "RBAC: access denied" with rbac_access_denied_matched_policy[...] details, counted in http.<prefix>.rbac.*.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { backendBootstrap, filter, hcmListener, routeAllHcm, tlsListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { TestPki, opensslAvailable, type IssuedCert } from '../tls/support/test-pki.ts';
import { issueMtlsPeers, curlWithCert } from '../support/mtls-peers.ts';

const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__rbac-envoy.yaml');
const PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';

const FILTER = filter('envoy.filters.http.rbac', RBAC, `              rules:
                action: ALLOW
                policies:
                  public:
                    permissions: [{ url_path: { path: { prefix: /public } } }]
                    principals: [{ any: true }]
                  alice-reads:
                    permissions:
                    - and_rules:
                        rules:
                        - header: { name: ":method", string_match: { exact: GET } }
                        - not_rule: { url_path: { path: { prefix: /secret } } }
                    principals: [{ header: { name: x-user, string_match: { exact: alice } } }]
                  office:
                    permissions: [{ any: true }]
                    principals:
                    - and_ids:
                        ids:
                        - remote_ip: { address_prefix: 10.1.0.0, prefix_len: 16 }
                        - direct_remote_ip: { address_prefix: 127.0.0.0, prefix_len: 8 }
              shadow_rules:
                action: DENY
                policies:
                  no-bots:
                    permissions: [{ any: true }]
                    principals: [{ header: { name: user-agent, string_match: { prefix: bot } } }]
`);

describe('HTTP RBAC: policies, shadow rules, per-route configs', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let port: number;
  let logPath: string;
  let trustedPort: number;
  let untrustedPort: number;

  before(async () => {
    up = await startUpstream('rbac');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    logPath = path.join(tempDir(), 'access.log');
    const routes = [
      { match: '{ prefix: "/open" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  envoy.filters.http.rbac: { "@type": ${PER_ROUTE} }` },
      {
        match: '{ prefix: "/strict" }',
        action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  envoy.filters.http.rbac:\n                    "@type": ${PER_ROUTE}\n                    rbac:\n                      rules:\n                        action: DENY\n                        policies:\n                          local-port:\n                            permissions: [{ destination_port_range: { start: ${port}, end: ${port + 1} } }]\n                            principals: [{ direct_remote_ip: { address_prefix: 127.0.0.1, prefix_len: 32 } }]`,
      },
      {
        match: '{ prefix: "/logged" }',
        action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  envoy.filters.http.rbac:\n                    "@type": ${PER_ROUTE}\n                    rbac:\n                      rules:\n                        action: LOG\n                        policies:\n                          watched:\n                            permissions: [{ any: true }]\n                            principals: [{ header: { name: x-watch, present_match: true } }]`,
      },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listener = hcmListener({
      name: 'rbac_test', port, routes,
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_engine_result)% %DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_effective_policy_id)% %DYNAMIC_METADATA(envoy.common:access_log_hint)%\\n" }
`,
      httpFilters: FILTER,
    });
    // The same filter behind connection managers that use the peer address: with one trusted hop (the client is
    // the x-forwarded-for entry before the peer Legate appends), and with none (x-forwarded-for is not trusted).
    trustedPort = await freePort();
    untrustedPort = await freePort();
    const xffListener = (name: string, p: number, hops: number): string => hcmListener({
      name, port: p, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }],
      hcmExtra: `          use_remote_address: true\n          xff_num_trusted_hops: ${hops}\n`,
      httpFilters: FILTER,
    });
    const listeners = [listener, xffListener('rbac_hop1', trustedPort, 1), xffListener('rbac_hop0', untrustedPort, 0)];
    legate = await startLegate({ config: backendBootstrap(listeners, up.port), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    fs.rmSync(path.dirname(logPath), { recursive: true, force: true });
  });

  it('remote_ip with use_remote_address: the entry xff_num_trusted_hops selects; with no trusted hop, the peer', async () => {
    assert.equal((await curl(['-H', 'x-forwarded-for: 10.1.2.3', `http://127.0.0.1:${trustedPort}/x`])).status, 200);
    assert.equal((await curl(['-H', 'x-forwarded-for: 10.1.2.3, 10.9.9.9', `http://127.0.0.1:${trustedPort}/x`])).status, 403);
    assert.equal((await curl(['-H', 'x-forwarded-for: 10.1.2.3', `http://127.0.0.1:${untrustedPort}/x`])).status, 403);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.rbac_hop1.rbac.allowed'), 1);
    assert.equal(stats.get('http.rbac_hop1.rbac.denied'), 1);
    assert.equal(stats.get('http.rbac_hop0.rbac.denied'), 1);
  });

  const logLine = async (p: string): Promise<string> => {
    let line = '';
    await waitUntil(() => {
      if (!fs.existsSync(logPath)) return false;
      line = fs.readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith(`${p} `)) ?? '';
      return line !== '';
    }, () => `the access log line of ${p}`);
    return line;
  };

  it('allows what a policy matches and answers the rest 403 "RBAC: access denied" with the details', async () => {
    const before = up.seen.length;
    const pub = await curl([`${base}/public/page`]);
    assert.equal(pub.status, 200);
    const denied = await curl([`${base}/private`]);
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal(up.seen.length, before + 1, 'the denied request never went upstream');
    assert.match(await logLine('/private'), /^\/private 403 rbac_access_denied_matched_policy\[none\] /);
  });

  it('header, method, not_rule and and_rules: alice may GET but not /secret, nor POST', async () => {
    assert.equal((await curl(['-H', 'x-user: alice', `${base}/docs`])).status, 200);
    assert.equal((await curl(['-H', 'x-user: alice', `${base}/secret/x`])).status, 403);
    assert.equal((await curl(['-X', 'POST', '-H', 'x-user: alice', `${base}/docs`])).status, 403);
    assert.equal((await curl(['-H', 'x-user: bob', `${base}/docs`])).status, 403);
  });

  it('remote_ip is the x-forwarded-for client (use_remote_address false), direct_remote_ip the peer', async () => {
    assert.equal((await curl(['-H', 'x-forwarded-for: 10.1.2.3', `${base}/xff-in`])).status, 200);
    assert.equal((await curl(['-H', 'x-forwarded-for: 10.2.0.1', `${base}/xff-out`])).status, 403);
    // Only the last entry counts (no trusted hops).
    assert.equal((await curl(['-H', 'x-forwarded-for: 10.1.2.3, 192.0.2.1', `${base}/xff-last`])).status, 403);
  });

  it('shadow rules are counted and recorded in dynamic metadata, never enforced', async () => {
    const r = await curl(['-A', 'bot/1.0', `${base}/public/shadow`]);
    assert.equal(r.status, 200);
    assert.match(await logLine('/public/shadow'), / 200 via_upstream denied no-bots -$/);
    assert.match(await logLine('/public/page'), / 200 via_upstream allowed - -$/);
  });

  it('per route: RBACPerRoute without rbac turns the filter off; one with rules replaces the filter rules', async () => {
    assert.equal((await curl([`${base}/open/anything`])).status, 200);
    const strict = await curl([`${base}/strict/x`]);
    assert.equal(strict.status, 403);
    assert.match(await logLine('/strict/x'), / 403 rbac_access_denied_matched_policy\[local-port\] /);
  });

  it('LOG lets everything through and sets envoy.common access_log_hint to whether a policy matched', async () => {
    assert.equal((await curl(['-H', 'x-watch: 1', `${base}/logged/a`])).status, 200);
    assert.equal((await curl([`${base}/logged/b`])).status, 200);
    assert.match(await logLine('/logged/a'), / 200 via_upstream - - true$/);
    assert.match(await logLine('/logged/b'), / 200 via_upstream - - false$/);
  });

  it('counts http.<prefix>.rbac.{allowed,denied,shadow_allowed,shadow_denied}', async () => {
    const stats = await legate.statsMap();
    // Filter-level and /strict decisions (the /open request is not counted: the filter is off there).
    assert.equal(stats.get('http.rbac_test.rbac.allowed'), 6);
    assert.equal(stats.get('http.rbac_test.rbac.denied'), 7);
    assert.equal(stats.get('http.rbac_test.rbac.shadow_denied'), 1);
    assert.equal(stats.get('http.rbac_test.rbac.shadow_allowed'), 9);
  });
});

describe('HTTP RBAC: authenticated principals from the mTLS client certificate', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let pki: TestPki;
  let base: string;
  let alice: IssuedCert;
  let bob: IssuedCert;
  let carol: IssuedCert;

  before(async () => {
    up = await startUpstream('rbac-mtls');
    pki = TestPki.create();
    const peers = issueMtlsPeers(pki);
    alice = peers.alice;
    bob = peers.bob;
    carol = pki.issue('carol', { cn: 'carol' });
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    const listener = tlsListener({
      name: 'mtls', port, certPath: peers.server.certPath, keyPath: peers.server.keyPath, clientCaPath: pki.ca.certPath,
      filters: routeAllHcm('mtls', 'backend', filter('envoy.filters.http.rbac', RBAC, `              rules:
                policies:
                  by-uri-san:
                    permissions: [{ any: true }]
                    principals: [{ authenticated: { principal_name: { exact: "spiffe://legate.test/alice" } } }]
                  by-subject:
                    permissions: [{ url_path: { path: { exact: /carol } } }]
                    principals: [{ authenticated: { principal_name: { exact: "CN=carol" } } }]
`)),
    });
    legate = await startLegate({ config: backendBootstrap([listener], up.port), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    pki?.remove();
  });

  const get = (who: IssuedCert, p: string) => curlWithCert(who, [`${base}${p}`]);

  it('matches principal_name against the URI SAN, else the subject (RFC 2253)', async () => {
    assert.equal((await get(alice, '/x')).status, 200);
    const b = await get(bob, '/x');
    assert.equal(b.status, 403);
    assert.equal(b.body, 'RBAC: access denied');
    assert.equal((await get(carol, '/carol')).status, 200);
    assert.equal((await get(carol, '/other')).status, 403);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.mtls.rbac.allowed'), 2);
    assert.equal(stats.get('http.mtls.rbac.denied'), 2);
  });
});

describe('HTTP RBAC: the corpus example (rbac/envoy.yaml, the unified matcher API)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('rbac-example');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000', `port_value: ${port}`)
      .replace('port_value: 10001', 'port_value: 0')
      .replace('address: backend', 'address: 127.0.0.1')
      .replace('port_value: 8080', `port_value: ${up.port}`);
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('allows a referer from the Envoy docs (on_no_match ALLOW); any other, or none, is denied by illegal-referer', async () => {
    const ok = await curl(['-H', 'referer: https://www.envoyproxy.io/docs/envoy/latest/', `${base}/`]);
    assert.equal(ok.status, 200);
    const other = await curl(['-H', 'referer: https://example.com/', `${base}/`]);
    assert.equal(other.status, 403);
    assert.equal(other.body, 'RBAC: access denied');
    assert.equal((await curl([`${base}/`])).status, 403);
    assert.equal(up.seen.length, 1);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ingress_http.rbac.allowed'), 1);
    assert.equal(stats.get('http.ingress_http.rbac.denied'), 2);
  });
});
