// End to end: envoy.filters.http.ext_authz through bin/legate, against real authorization servers on 127.0.0.1: an
// HTTP one (node:http) and a gRPC one (@grpc/grpc-js serving envoy.service.auth.v3.Authorization from Envoy's own
// protos). Allow (with header mutations both ways), deny (the service's status, headers and body, UAEX
// ext_authz_denied), errors and timeouts (status_on_error, ext_authz_error), failure_mode_allow, with_request_body,
// per-route disable and context extensions, the stats; and the corpus's ext_authz http-service example as it is.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startLegate, freePort, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, header } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { cluster, filter as httpFilter, hcmListener, stdoutAccessLog, HTTP2_UPSTREAM, type RouteSpec } from '../support/config-builder.ts';
import { startHttpAuthServer, type HttpAuthServer } from '../support/ext-authz-peers.ts';
import { startEnvoyGrpcService } from '../support/envoy-grpc-service.ts';

const EXT_AUTHZ = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
const PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';
const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__ext_authz-config-http-service.yaml');

function staticCluster(name: string, port: number, extra = ''): string {
  return cluster({ name, endpoints: [{ address: '127.0.0.1', port }], extra });
}

/** A listener whose HCM runs `filterBody` (YAML of the ext_authz typed_config, 14-space indent) then the router. */
function listener(name: string, port: number, filterBody: string, routes: RouteSpec[]): string {
  return hcmListener({
    name, port, routes,
    hcmExtra: stdoutAccessLog(`AL ${name} %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n`),
    httpFilters: httpFilter('envoy.filters.http.ext_authz', EXT_AUTHZ, `${filterBody}\n`),
  });
}

const DEFAULT_ROUTES: RouteSpec[] = [
  { match: '{ prefix: "/nocheck" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  envoy.filters.http.ext_authz:\n                    "@type": ${PER_ROUTE}\n                    disabled: true` },
  { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
];

describe('ext_authz: http_service', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let auth: HttpAuthServer;
  let base: string;
  let failBase: string;
  let bodyBase: string;

  before(async () => {
    up = await startUpstream('backend');
    auth = await startHttpAuthServer((req, res) => {
      const p = req.url;
      if (p.startsWith('/ext/allow')) {
        res.writeHead(200, {
          'x-current-user': 'alice', 'x-append': 'from-authz', 'x-not-allowed': 'no', 'x-to-client': 'c',
          'x-envoy-auth-headers-to-remove': 'x-remove-me',
        });
        res.end();
      } else if (p.startsWith('/ext/deny')) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="legate"', 'x-denied': 'yes', 'content-type': 'text/plain' });
        res.end('go away');
      } else if (p.startsWith('/ext/error')) {
        res.writeHead(503);
        res.end('down');
      } else if (p.startsWith('/ext/slow')) {
        // never answers: the check times out
      } else if (p.startsWith('/ext/body')) {
        res.writeHead(200, { 'x-seen-body': req.body });
        res.end();
      } else {
        res.writeHead(200);
        res.end();
      }
    });
    const port = await freePort();
    const failPort = await freePort();
    const bodyPort = await freePort();
    const deadPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    failBase = `http://127.0.0.1:${failPort}`;
    bodyBase = `http://127.0.0.1:${bodyPort}`;
    const filter = `              http_service:
                server_uri: { uri: "http://authz", cluster: authz, timeout: 0.3s }
                path_prefix: /ext
                authorization_request:
                  allowed_headers: { patterns: [{ exact: x-custom }] }
                  headers_to_add: [{ key: x-added, value: "1" }]
                authorization_response:
                  allowed_upstream_headers: { patterns: [{ exact: x-current-user }] }
                  allowed_upstream_headers_to_append: { patterns: [{ prefix: x-append }] }
                  allowed_client_headers: { patterns: [{ exact: www-authenticate }, { exact: x-denied }] }
                  allowed_client_headers_on_success: { patterns: [{ exact: x-to-client }] }`;
    const failFilter = `              http_service:
                server_uri: { uri: "http://dead", cluster: dead, timeout: 0.3s }
              failure_mode_allow: true
              failure_mode_allow_header_add: true
              stat_prefix: fma`;
    const bodyFilter = `              http_service:
                server_uri: { uri: "http://authz", cluster: authz, timeout: 1s }
                path_prefix: /ext
              with_request_body: { max_request_bytes: 10 }
              status_on_error: { code: ServiceUnavailable }`;
    const yaml = `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
static_resources:
  listeners:
${listener('authz_http', port, filter, DEFAULT_ROUTES)}${listener('authz_fail', failPort, failFilter, DEFAULT_ROUTES)}${listener('authz_body', bodyPort, bodyFilter, DEFAULT_ROUTES)}  clusters:
${staticCluster('backend', up.port)}${staticCluster('authz', auth.port)}${staticCluster('dead', deadPort)}`;
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    auth?.close();
  });

  it('allows: the check carries method, prefixed path, host, allowed headers; the service mutates both ways', async () => {
    const r = await curl([`${base}/allow/me?q=1`, '-H', 'authorization: Bearer t', '-H', 'x-custom: yes', '-H', 'x-secret: s',
      '-H', 'x-remove-me: bye', '-H', 'x-append: from-client']);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'x-to-client'), 'c');
    const check = auth.seen.at(-1)!;
    assert.equal(check.method, 'GET');
    assert.equal(check.url, '/ext/allow/me?q=1');
    assert.equal(check.headers.host, base.slice('http://'.length));
    assert.equal(check.headers.authorization, 'Bearer t');
    assert.equal(check.headers['x-custom'], 'yes');
    assert.equal(check.headers['x-added'], '1');
    assert.equal(check.headers['x-secret'], undefined);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.url, '/allow/me?q=1');
    assert.equal(seen.headers['x-current-user'], 'alice');
    assert.equal(seen.headers['x-append'], 'from-client, from-authz');
    assert.equal(seen.headers['x-not-allowed'], undefined);
    assert.equal(seen.headers['x-remove-me'], undefined);
  });

  it('a chunked request body held while the check runs reaches the upstream whole', async () => {
    await curl([`${base}/allow/warm`]);
    const r = await curl([`${base}/allow/chunked`, '-H', 'transfer-encoding: chunked', '--data-binary', 'held-body']);
    assert.equal(r.status, 200);
    assert.equal(up.seen.at(-1)!.url, '/allow/chunked');
    assert.equal(up.seen.at(-1)!.body.toString(), 'held-body');
  });

  it('denies with the service status, allowed client headers and body; the upstream never sees it', async () => {
    const before = up.seen.length;
    const r = await curl([`${base}/deny`]);
    assert.equal(r.status, 401);
    assert.equal(r.body, 'go away');
    assert.equal(header(r, 'www-authenticate'), 'Bearer realm="legate"');
    assert.equal(header(r, 'x-denied'), 'yes');
    assert.equal(up.seen.length, before);
    await waitUntil(() => /AL authz_http \/deny 401 UAEX ext_authz_denied/.test(legate.stdout), () => `access log: ${legate.stdout}`, 10_000);
  });

  it('a 5xx or a timeout from the service is an error: 403 (status_on_error default), ext_authz_error', async () => {
    const e = await curl([`${base}/error`]);
    assert.equal(e.status, 403);
    const t = await curl([`${base}/slow`]);
    assert.equal(t.status, 403);
    await waitUntil(() => /AL authz_http \/slow 403 UAEX ext_authz_error/.test(legate.stdout), () => `access log: ${legate.stdout}`, 10_000);
  });

  it('a route with the filter disabled is not checked', async () => {
    const n = auth.seen.length;
    const r = await curl([`${base}/nocheck`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello from backend');
    assert.equal(auth.seen.length, n);
  });

  it('failure_mode_allow: the request goes on, marked with x-envoy-auth-failure-mode-allowed', async () => {
    const r = await curl([`${failBase}/echo`]);
    assert.equal(r.status, 200);
    assert.equal(up.seen.at(-1)!.headers['x-envoy-auth-failure-mode-allowed'], 'true');
  });

  it('with_request_body: the body goes to the service; over max_request_bytes is a 413', async () => {
    const r = await curl([`${bodyBase}/body`, '--data-binary', 'hello']);
    assert.equal(r.status, 200);
    assert.equal(auth.seen.at(-1)!.body, 'hello');
    assert.equal(auth.seen.at(-1)!.method, 'POST');
    assert.equal(up.seen.at(-1)!.body.toString(), 'hello');
    // A chunked body, buffered whole here, over a pooled connection (the one above is idle now).
    const chunked = await curl([`${bodyBase}/body`, '-H', 'transfer-encoding: chunked', '--data-binary', 'chunky']);
    assert.equal(chunked.status, 200);
    assert.equal(auth.seen.at(-1)!.body, 'chunky');
    assert.equal(up.seen.at(-1)!.body.toString(), 'chunky');
    const big = await curl([`${bodyBase}/body`, '--data-binary', 'x'.repeat(100)]);
    assert.equal(big.status, 413);
    const err = await curl([`${bodyBase}/error`]);
    assert.equal(err.status, 503, 'status_on_error');
  });

  it('counts ok, denied, error, failure_mode_allowed per filter stat_prefix', async () => {
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.authz_http.ext_authz.ok'), 3);
    assert.equal(stats.get('http.authz_http.ext_authz.denied'), 1);
    assert.equal(stats.get('http.authz_http.ext_authz.error'), 2);
    assert.equal(stats.get('http.authz_fail.ext_authz.fma.error'), 1);
    assert.equal(stats.get('http.authz_fail.ext_authz.fma.failure_mode_allowed'), 1);
    assert.equal(stats.get('http.authz_body.ext_authz.ok'), 2);
    assert.equal(stats.get('cluster.authz.upstream_rq_timeout'), 1);
  });
});

describe('ext_authz: grpc_service (envoy.service.auth.v3.Authorization on grpc-js)', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let server: grpc.Server;
  const checks: Record<string, unknown>[] = [];

  before(async () => {
    up = await startUpstream('backend');
    const authz = await startEnvoyGrpcService('envoy/service/auth/v3/external_auth.proto', 'envoy.service.auth.v3.Authorization', {
      Check(call: { request: Record<string, unknown> }, cb: (e: unknown, r?: unknown) => void) {
        checks.push(call.request);
        const httpReq = ((call.request['attributes'] as Record<string, unknown>)['request'] as Record<string, Record<string, unknown>>)['http']!;
        const p = String(httpReq['path']);
        if (p.startsWith('/allow')) {
          cb(null, {
            status: { code: 0 },
            ok_response: {
              headers: [{ header: { key: 'x-user', value: 'bob' } }, { header: { key: 'x-tag', value: 't2' }, append: { value: true } }],
              headers_to_remove: ['x-drop'],
              response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' } }],
            },
          });
        } else if (p.startsWith('/deny')) {
          cb(null, { status: { code: 7 }, denied_response: { status: { code: 'Unauthorized' }, headers: [{ header: { key: 'x-why', value: 'nope' } }], body: 'denied!' } });
        } else if (p.startsWith('/grpc-error')) {
          cb({ code: grpc.status.INTERNAL, details: 'boom' });
        } else if (p.startsWith('/slow')) {
          // never answers
        } else {
          cb(null, { status: { code: 0 } });
        }
      },
    } as never);
    server = authz.server;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const filter = `              grpc_service:
                envoy_grpc: { cluster_name: authz_grpc }
                timeout: 0.3s
                initial_metadata: [{ key: x-from-legate, value: "1" }]
              with_request_body: { max_request_bytes: 4, allow_partial_message: true, pack_as_bytes: true }
              transport_api_version: V3`;
    const routes: RouteSpec[] = [
      { match: '{ prefix: "/team" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  envoy.filters.http.ext_authz:\n                    "@type": ${PER_ROUTE}\n                    check_settings: { context_extensions: { team: blue } }` },
      ...DEFAULT_ROUTES,
    ];
    const yaml = `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
static_resources:
  listeners:
${listener('authz_grpc', port, filter, routes)}  clusters:
${staticCluster('backend', up.port)}${staticCluster('authz_grpc', authz.port, HTTP2_UPSTREAM)}`;
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    server?.forceShutdown();
  });

  it('allows: CheckRequest attributes; OkHttpResponse headers set, appended, removed, and added to the response', async () => {
    const r = await curl([`${base}/allow?x=1`, '-H', 'x-drop: d', '-H', 'x-tag: t1', '-H', 'x-custom: c']);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'x-resp'), 'r');
    const seen = up.seen.at(-1)!;
    assert.equal(seen.headers['x-user'], 'bob');
    assert.equal(seen.headers['x-tag'], 't1, t2');
    assert.equal(seen.headers['x-drop'], undefined);
    const attrs = checks.at(-1)!['attributes'] as Record<string, any>;
    const h = attrs['request']['http'];
    assert.equal(h['method'], 'GET');
    assert.equal(h['path'], '/allow?x=1');
    assert.equal(h['host'], base.slice('http://'.length));
    assert.equal(h['protocol'], 'HTTP/1.1');
    assert.equal(h['headers']['x-custom'], 'c');
    assert.equal(h['headers'][':method'], 'GET');
    assert.ok(String(h['id']).length > 0, 'request id');
    assert.equal(attrs['source']['address']['socket_address']['address'], '127.0.0.1');
    assert.equal(attrs['destination']['address']['socket_address']['port_value'], Number(new URL(base).port));
    assert.ok(Number(attrs['request']['time']['seconds']) > 0);
  });

  it('denies with DeniedHttpResponse status, headers and body', async () => {
    const r = await curl([`${base}/deny`]);
    assert.equal(r.status, 401);
    assert.equal(r.body, 'denied!');
    assert.equal(header(r, 'x-why'), 'nope');
    await waitUntil(() => /AL authz_grpc \/deny 401 UAEX ext_authz_denied/.test(legate.stdout), () => `access log: ${legate.stdout}`, 10_000);
  });

  it('a gRPC error or a timeout is an error (403)', async () => {
    assert.equal((await curl([`${base}/grpc-error`])).status, 403);
    assert.equal((await curl([`${base}/slow`])).status, 403);
  });

  it('per route: context_extensions in the check; disabled skips it', async () => {
    const n = checks.length;
    assert.equal((await curl([`${base}/team/x`])).status, 200);
    assert.deepEqual((checks.at(-1)!['attributes'] as Record<string, unknown>)['context_extensions'], { team: 'blue' });
    assert.equal((await curl([`${base}/nocheck`])).status, 200);
    assert.equal(checks.length, n + 1);
  });

  it('with_request_body (partial, packed as bytes): the first max_request_bytes go as raw_body', async () => {
    const r = await curl([`${base}/body`, '--data-binary', 'abcdefgh']);
    assert.equal(r.status, 200);
    const h = ((checks.at(-1)!['attributes'] as Record<string, any>)['request']['http']);
    assert.equal(Buffer.from(h['raw_body']).toString(), 'abcd');
    assert.equal(h['headers']['x-envoy-auth-partial-body'], 'true');
    assert.equal(up.seen.at(-1)!.body.toString(), 'abcdefgh');
  });

  it('stats', async () => {
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.authz_grpc.ext_authz.ok'), 3);
    assert.equal(stats.get('http.authz_grpc.ext_authz.denied'), 1);
    assert.equal(stats.get('http.authz_grpc.ext_authz.error'), 2);
    assert.ok((stats.get('cluster.authz_grpc.upstream_cx_http2_total') ?? 0) >= 1);
  });
});

describe('ext_authz: the corpus example (ext_authz/config/http-service.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let auth: HttpAuthServer;
  let base: string;

  before(async () => {
    up = await startUpstream('upstream-service');
    // As the example's auth service: a known bearer token is allowed and names its user.
    auth = await startHttpAuthServer((req, res) => {
      if (req.headers.authorization === 'Bearer token1') {
        res.writeHead(200, { 'x-current-user': 'user1' });
        res.end();
      } else {
        res.writeHead(403);
        res.end();
      }
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 8000', `port_value: ${port}`)
      .replace('address: upstream-service', 'address: 127.0.0.1')
      .replace('port_value: 8080', `port_value: ${up.port}`)
      .replace('address: ext_authz-http-service', 'address: 127.0.0.1')
      .replace('port_value: 9002', `port_value: ${auth.port}`);
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    auth?.close();
  });

  it('forbids without the token, forwards x-current-user with it', async () => {
    assert.equal((await curl([`${base}/service`])).status, 403);
    const r = await curl([`${base}/service`, '-H', 'authorization: Bearer token1']);
    assert.equal(r.status, 200);
    assert.equal(up.seen.at(-1)!.headers['x-current-user'], 'user1');
    assert.equal(up.seen.length, 1);
  });
});

describe('ext_authz: config', () => {
  it('refuses what it does not implement as "not supported yet", with its position', async () => {
    const { loadConfig } = await import('../../src/config-loader/load-config.ts');
    const { ConfigErrorList } = await import('../../src/config-loader/config-error.ts');
    const yaml = `static_resources:
  listeners:
${listener('l', 1, `              grpc_service:
                envoy_grpc: { cluster_name: c }
                google_grpc: { target_uri: "x", stat_prefix: s }
              include_peer_certificate: true`, DEFAULT_ROUTES)}  clusters:
${staticCluster('backend', 2)}${staticCluster('c', 3)}`;
    let problems: { code: string; message: string; path: string }[] = [];
    try {
      loadConfig({ configPath: undefined, configYaml: yaml });
    } catch (err) {
      if (!(err instanceof ConfigErrorList)) throw err;
      problems = err.problems as never;
    }
    const unsupported = problems.filter((p) => p.code === 'not_supported').map((p) => p.message);
    assert.ok(unsupported.some((m) => /include_peer_certificate.*\(line \d+\)/.test(m)), unsupported.join('\n'));
    assert.ok(problems.some((p) => /google_grpc/.test(p.path + p.message)), JSON.stringify(problems));
  });
});
