// End to end: envoy.filters.http.jwt_authn through bin/legate, with JWTs signed here with jose (RS256, ES256,
// EdDSA, HS256), local JWKS and a real JWKS server behind a cluster (remote_jwks; its fetches counted), a recording
// upstream that shows what is forwarded, and curl. Envoy's failure bodies, statuses, www-authenticate and details.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, type CurlResult } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot } from '../../src/snapshot/compile-snapshot.ts';

const JWT = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
const JWT_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig';
const CORPUS = path.resolve(import.meta.dirname, '../../../shared/compat/envoy-configs/envoyproxy-envoy__configs-jwt_authn.yaml');

interface SigningKey {
  alg: string;
  kid: string;
  key: CryptoKey | Uint8Array;
  publicJwk: JWK;
}

async function asymmetric(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, key: privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

function hmac(kid: string): SigningKey {
  const secret = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
  return { alg: 'HS256', kid, key: secret, publicJwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid, alg: 'HS256' } };
}

const now = (): number => Math.floor(Date.now() / 1000);

function sign(k: SigningKey, claims: Record<string, unknown>, kid = k.kid): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid }).sign(k.key);
}

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

/**
 * A JWKS server: /jwks.json answers the keys and counts its fetches; /flaky answers 503 `flakyFailures` times,
 * then the keys; /hang never answers; others answer 500.
 */
class JwksServer {
  readonly server: http.Server;
  fetches = 0;
  hung = 0;
  flakyHits = 0;
  flakyFailures = 0;
  port = 0;
  body = '';
  constructor() {
    this.server = http.createServer((req, res) => {
      if (req.url === '/flaky') {
        this.flakyHits++;
        if (this.flakyFailures > 0) {
          this.flakyFailures--;
          res.writeHead(503);
          res.end('busy');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(this.body);
        return;
      }
      if (req.url === '/hang') {
        this.hung++;
        return;
      }
      if (req.url === '/jwks.json') {
        this.fetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(this.body);
      } else {
        res.writeHead(500);
        res.end('no');
      }
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

interface Seen {
  headers: Record<string, string>;
  url: string;
}

describe('jwt_authn through bin/legate', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let jwksServer: JwksServer;
  let asyncServer: JwksServer;
  let base: string;
  let logPath: string;
  let rs: SigningKey;
  let es: SigningKey;
  let ed: SigningKey;
  let hs: SigningKey;
  let stranger: SigningKey;
  let remoteKey: SigningKey;

  const LOCAL_ISS = 'https://local.example';
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    iss: LOCAL_ISS, aud: 'api.example', sub: 'user-1', org: { tenant: 'acme' }, exp: now() + 600, ...extra,
  });

  const get = (p: string, ...args: string[]): Promise<CurlResult> => curl([...args, '-H', 'host: api.test', `${base}${p}`]);
  const bearer = (t: string): string[] => ['-H', `authorization: Bearer ${t}`];
  // What the upstream got last (the request `r` answered).
  const seen = (_r: CurlResult): Seen => {
    const last = up.seen.at(-1)!;
    return { url: last.url, headers: last.headers as Record<string, string> };
  };

  before(async () => {
    [rs, es, ed, stranger, remoteKey] = await Promise.all([
      asymmetric('RS256', 'rs'), asymmetric('ES256', 'es'), asymmetric('EdDSA', 'ed'), asymmetric('RS256', 'rs'), asymmetric('ES256', 'remote'),
    ]);
    hs = hmac('hs');
    up = await startUpstream('jwt');
    jwksServer = new JwksServer();
    jwksServer.body = JSON.stringify({ keys: [remoteKey.publicJwk] });
    await jwksServer.listen();
    asyncServer = new JwksServer();
    asyncServer.body = jwksServer.body;
    await asyncServer.listen();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const dir = tempDir();
    logPath = path.join(dir, 'access.log');
    const jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: [rs.publicJwk, es.publicJwk, ed.publicJwk, hs.publicJwk] }));
    const localJwks = `{ filename: ${jwksFile} }`;
    const inlineJwks = `{ inline_string: ${JSON.stringify(JSON.stringify({ keys: [rs.publicJwk] }))} }`;
    const r = (prefix: string, extra = ''): { match: string; action: string } => ({
      match: `{ prefix: "${prefix}" }`,
      action: `route: { cluster: backend }${extra === '' ? '' : `\n                typed_per_filter_config:\n                  jwt: ${extra}`}`,
    });
    const listener = hcmListener({
      name: 'jwt', port,
      routes: [
        r('/perroute-off', `{ "@type": ${JWT_ROUTE}, disabled: true }`),
        r('/perroute-named', `{ "@type": ${JWT_ROUTE}, requirement_name: named }`),
        r('/perroute-bad', `{ "@type": ${JWT_ROUTE}, requirement_name: nope }`),
        r('/'),
      ],
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:sub)%\\n" }
`,
      httpFilters: filter('jwt', JWT, `              bypass_cors_preflight: true
              providers:
                local:
                  issuer: ${LOCAL_ISS}
                  audiences: [api.example, "https://also.example/"]
                  local_jwks: ${localJwks}
                  forward_payload_header: x-jwt-payload
                  claim_to_headers:
                  - { header_name: x-sub, claim_name: sub }
                  - { header_name: x-tenant, claim_name: org.tenant }
                  - { header_name: x-n, claim_name: n }
                  - { header_name: x-list, claim_name: roles }
                  payload_in_metadata: jwt_payload
                  jwt_cache_config: { jwt_cache_size: 10 }
                fwd:
                  issuer: https://fwd.example
                  local_jwks: ${inlineJwks}
                  forward: true
                  from_headers: [{ name: x-token, value_prefix: "Token " }]
                  forward_payload_header: x-fwd-payload
                  pad_forward_payload_header: true
                params:
                  issuer: https://params.example
                  local_jwks: ${inlineJwks}
                  from_params: [jwt]
                  from_cookies: [session]
                  clock_skew_seconds: 5
                strict:
                  issuer: https://strict.example
                  local_jwks: ${inlineJwks}
                  subjects: { prefix: "spiffe://" }
                  max_lifetime: 3600s
                flaky:
                  issuer: https://flaky.example
                  remote_jwks:
                    http_uri: { uri: "http://jwks.test/flaky", cluster: jwks, timeout: 10s }
                    retry_policy: { num_retries: 3, retry_back_off: { base_interval: 0.01s, max_interval: 0.05s } }
                flakynoretry:
                  issuer: https://flakynoretry.example
                  remote_jwks:
                    http_uri: { uri: "http://jwks.test/flaky", cluster: jwks, timeout: 10s }
                    retry_policy: { num_retries: 3, retry_on: connect-failure, retry_back_off: { base_interval: 0.01s } }
                hang:
                  issuer: https://hang.example
                  remote_jwks:
                    http_uri: { uri: "http://jwks.test/hang", cluster: jwks, timeout: 1s }
                badkeys:
                  issuer: https://badkeys.example
                  local_jwks: { inline_string: "not a JWKS" }
                remote:
                  issuer: https://remote.example
                  remote_jwks:
                    http_uri: { uri: "http://jwks.test/jwks.json", cluster: jwks, timeout: 5s }
                    cache_duration: 3s
                async:
                  issuer: https://async.example
                  remote_jwks:
                    http_uri: { uri: "http://jwks.test/jwks.json", cluster: jwks_async, timeout: 5s }
                    async_fetch: { fast_listener: true }
                broken:
                  issuer: https://broken.example
                  remote_jwks:
                    http_uri: { uri: "http://jwks.test/broken", cluster: jwks, timeout: 5s }
              requirement_map:
                named: { provider_name: local }
              rules:
              - { match: { prefix: /public }, requires: {} }
              - { match: { prefix: /nothing } }
              - { match: { prefix: /local }, requires: { provider_name: local } }
              - { match: { prefix: /aud }, requires: { provider_and_audiences: { provider_name: local, audiences: [other.example] } } }
              - { match: { prefix: /fwd }, requires: { provider_name: fwd } }
              - { match: { prefix: /params }, requires: { provider_name: params } }
              - { match: { prefix: /anyopt }, requires: { requires_any: { requirements: [{ provider_name: local }, { allow_missing: {} }] } } }
              - { match: { prefix: /any }, requires: { requires_any: { requirements: [{ provider_name: local }, { provider_name: fwd }] } } }
              - { match: { prefix: /all }, requires: { requires_all: { requirements: [{ provider_name: local }, { provider_name: fwd }] } } }
              - { match: { prefix: /optional }, requires: { allow_missing: {} } }
              - { match: { prefix: /lenient }, requires: { allow_missing_or_failed: {} } }
              - { match: { prefix: /remote }, requires: { provider_name: remote } }
              - { match: { prefix: /async }, requires: { provider_name: async } }
              - { match: { prefix: /broken }, requires: { provider_name: broken } }
              - { match: { prefix: /badkeys }, requires: { provider_name: badkeys } }
              - { match: { prefix: /hang }, requires: { provider_name: hang } }
              - { match: { prefix: /strict }, requires: { provider_name: strict } }
              - { match: { prefix: /flakynoretry }, requires: { provider_name: flakynoretry } }
              - { match: { prefix: /flaky }, requires: { provider_name: flaky } }
              - { match: { prefix: /named }, requirement_name: named }
              - { match: { prefix: /hdr, headers: [{ name: x-check, exact_match: "yes" }] }, requires: { provider_name: local } }
`),
    });
    const clusters = [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
      cluster({ name: 'jwks', endpoints: [{ address: '127.0.0.1', port: jwksServer.port }] }),
      cluster({ name: 'jwks_async', endpoints: [{ address: '127.0.0.1', port: asyncServer.port }] }),
    ];
    legate = await startLegate({ config: bootstrap([listener], clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await jwksServer?.close();
    await asyncServer?.close();
  });

  it('answers a request without a JWT 401 "Jwt is missing", realm without error, and lets rule-less paths through', async () => {
    const r = await get('/local/x?q=1');
    assert.equal(r.status, 401);
    assert.equal(r.body, 'Jwt is missing');
    assert.equal(header(r, 'www-authenticate'), 'Bearer realm="http://api.test/local/x?q=1"');
    assert.equal((await get('/public')).status, 200);
    assert.equal((await get('/nothing')).status, 200);
    // A rule's headers matter: without x-check: yes the /hdr rule does not apply (and no other does).
    assert.equal((await get('/hdr')).status, 200);
    assert.equal((await get('/hdr', '-H', 'x-check: yes')).status, 401);
  });

  it('verifies RS256, ES256, EdDSA and HS256 JWTs against a local JWKS file', async () => {
    for (const k of [rs, es, ed, hs]) {
      const r = await get('/local/echo', ...bearer(await sign(k, claims())));
      assert.equal(r.status, 200, `${k.alg}: ${r.body}`);
    }
  });

  it('holds a request body while verifying and passes it on whole', async () => {
    const body = 'x'.repeat(200_000);
    const file = path.join(tempDir(), 'body.txt');
    fs.writeFileSync(file, body);
    const r = await get('/local/echo', ...bearer(await sign(rs, claims())), '--data-binary', `@${file}`, '-H', 'content-type: text/plain');
    assert.equal(r.status, 200, r.body);
    assert.equal(up.seen.at(-1)!.body.length, body.length);
  });

  it('forwards the payload, claims as headers, removes the JWT without forward, sets dynamic metadata', async () => {
    const payload = claims({ sub: 'alice', n: 42, roles: ['a', 'b'] });
    const token = await sign(rs, payload);
    const r = await get('/local/echo', ...bearer(token), '-H', 'x-sub: forged');
    assert.equal(r.status, 200, r.body);
    const s = seen(r);
    assert.equal(s.headers['x-jwt-payload'], token.split('.')[1]);
    assert.deepEqual(JSON.parse(Buffer.from(s.headers['x-jwt-payload']!, 'base64url').toString()), payload);
    assert.equal(s.headers['x-sub'], 'alice');
    assert.equal(s.headers['x-tenant'], 'acme');
    assert.equal(s.headers['x-n'], '42');
    assert.equal(s.headers['x-list'], undefined, 'a list claim is not copied (as Envoy)');
    assert.equal(s.headers['authorization'], undefined);
    await waitUntil(() => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').includes('/local/echo 200 via_upstream alice'), () => fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : 'no log', 10_000);
  });

  it("fails JWTs as Envoy: expiry and nbf with clock skew, issuer, audiences (403), signature, kid", async () => {
    const cases: [Promise<string>, number, string][] = [
      [sign(rs, claims({ exp: now() - 120 })), 401, 'Jwt is expired'],
      [sign(rs, claims({ nbf: now() + 300 })), 401, 'Jwt not yet valid'],
      [sign(rs, claims({ iss: 'https://evil.example' })), 401, 'Jwt issuer is not configured'],
      [sign(rs, claims({ aud: 'elsewhere.example' })), 403, 'Audiences in Jwt are not allowed'],
      [sign(stranger, claims()), 401, 'Jwt verification fails'],
      [sign(rs, claims(), 'unknown-kid'), 401, "Jwks doesn't have key to match kid or alg from Jwt"],
      [Promise.resolve('not-a-jwt'), 401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
    ];
    for (const [tokenP, status, body] of cases) {
      const r = await get('/local/echo', ...bearer(await tokenP));
      assert.equal(r.status, status, body);
      assert.equal(r.body, body);
      assert.equal(header(r, 'www-authenticate'), 'Bearer realm="http://api.test/local/echo", error="invalid_token"');
    }
    // Within the 60 s default clock skew; an audience given as "https://also.example/" matches "also.example".
    assert.equal((await get('/local/echo', ...bearer(await sign(rs, claims({ exp: now() - 20 }))))).status, 200);
    assert.equal((await get('/local/echo', ...bearer(await sign(rs, claims({ aud: ['x', 'also.example'] }))))).status, 200);
    await waitUntil(() => fs.readFileSync(logPath, 'utf8').includes('jwt_authn_access_denied{Audiences'), () => fs.readFileSync(logPath, 'utf8'), 10_000);
    assert.match(fs.readFileSync(logPath, 'utf8'), /\/local\/echo 403 jwt_authn_access_denied\{Audiences_in_Jwt_are_not_allowed\}/);
  });

  it('checks subjects and max_lifetime as Envoy', async () => {
    const strict = (c: Record<string, unknown>): Promise<string> => sign(rs, { iss: 'https://strict.example', ...c });
    assert.equal((await get('/strict', ...bearer(await strict({ sub: 'spiffe://a', exp: now() + 600 })))).status, 200);
    assert.equal((await get('/strict', ...bearer(await strict({ sub: 'bob', exp: now() + 600 })))).body, 'Jwt verification fails');
    assert.equal((await get('/strict', ...bearer(await strict({ sub: 'spiffe://a', exp: now() + 7200 })))).body, 'Jwt is expired');
    assert.equal((await get('/strict', ...bearer(await strict({ sub: 'spiffe://a' })))).body, 'Jwt is expired');
  });

  it('takes provider_and_audiences over the provider\'s audiences', async () => {
    assert.equal((await get('/aud', ...bearer(await sign(rs, claims())))).status, 403);
    assert.equal((await get('/aud', ...bearer(await sign(rs, claims({ aud: 'other.example' }))))).status, 200);
  });

  it('finds JWTs in from_headers with value_prefix (kept with forward), from_params and from_cookies', async () => {
    const t = await sign(rs, { iss: 'https://fwd.example', sub: 'f', exp: now() + 600 });
    const r = await get('/fwd/echo', '-H', `x-token: Token ${t}`);
    assert.equal(r.status, 200, r.body);
    const s = seen(r);
    assert.equal(s.headers['x-token'], `Token ${t}`);
    const p = t.split('.')[1]!;
    assert.equal(s.headers['x-fwd-payload'], p + '='.repeat((4 - (p.length % 4)) % 4));
    assert.ok(s.headers['x-fwd-payload']!.length % 4 === 0);
    // The default location (Authorization: Bearer) is not one of this provider's.
    assert.equal((await get('/fwd/echo', ...bearer(t))).body, 'Jwt is missing');

    const pt = await sign(rs, { iss: 'https://params.example', exp: now() + 600 });
    assert.equal((await get(`/params/echo?a=1&jwt=${pt}`)).status, 200);
    assert.equal((await get('/params/echo', '-H', `cookie: a=b; session=${pt}`)).status, 200);
    assert.equal((await get('/params/echo')).body, 'Jwt is missing');
    // clock_skew_seconds: 5 -> 20 s past exp is expired.
    const late = await sign(rs, { iss: 'https://params.example', exp: now() - 20 });
    assert.equal((await get(`/params/echo?jwt=${late}`)).body, 'Jwt is expired');
    // The default access_token parameter works for a provider without locations.
    assert.equal((await get(`/local/echo?access_token=${await sign(rs, claims())}`)).status, 200);
  });

  it('combines requirements: requires_any, requires_all, allow_missing, allow_missing_or_failed', async () => {
    const local = await sign(es, claims());
    const fwd = await sign(rs, { iss: 'https://fwd.example', exp: now() + 600 });
    const expired = await sign(rs, claims({ exp: now() - 600 }));
    assert.equal((await get('/any', ...bearer(local))).status, 200);
    assert.equal((await get('/any', '-H', `x-token: Token ${fwd}`)).status, 200);
    assert.equal((await get('/any')).body, 'Jwt is missing');
    assert.equal((await get('/any', ...bearer(expired))).body, 'Jwt is expired');
    // requires_any with allow_missing: no JWT is fine, a bad one is not.
    assert.equal((await get('/anyopt')).status, 200);
    assert.equal((await get('/anyopt', ...bearer(local))).status, 200);
    assert.equal((await get('/anyopt', ...bearer(expired))).body, 'Jwt is expired');
    assert.equal((await get('/all', ...bearer(local), '-H', `x-token: Token ${fwd}`)).status, 200);
    assert.equal((await get('/all', ...bearer(local))).body, 'Jwt is missing');
    assert.equal((await get('/optional')).status, 200);
    assert.equal((await get('/optional', ...bearer(local))).status, 200);
    assert.equal((await get('/optional', ...bearer(expired))).body, 'Jwt is expired');
    assert.equal((await get('/lenient', ...bearer(expired))).status, 200);
    // Headers a verified JWT sets never come from the client, verified or not.
    const forged = await get('/lenient/echo', '-H', 'x-sub: forged', '-H', 'x-jwt-payload: e30');
    assert.equal(forged.status, 200);
    assert.equal(seen(forged).headers['x-sub'], undefined);
    assert.equal(seen(forged).headers['x-jwt-payload'], undefined);
    assert.equal((await get('/named', ...bearer(local))).status, 200);
    assert.equal((await get('/named')).body, 'Jwt is missing');
  });

  it('follows the route\'s PerRouteConfig: disabled, or a requirement_name', async () => {
    assert.equal((await get('/perroute-off/x')).status, 200);
    assert.equal((await get('/perroute-named/x')).body, 'Jwt is missing');
    assert.equal((await get('/perroute-named/x', ...bearer(await sign(hs, claims())))).status, 200);
    const bad = await get('/perroute-bad/x');
    assert.equal(bad.status, 403);
    assert.equal(bad.body, 'Failed JWT authentication: Wrong requirement_name: nope. It should be one of [named]');
  });

  it('lets CORS preflights through with bypass_cors_preflight', async () => {
    const r = await get('/local/x', '-X', 'OPTIONS', '-H', 'origin: https://web.example', '-H', 'access-control-request-method: GET');
    assert.equal(r.status, 200);
  });

  it('fetches remote_jwks through the cluster, caches it for cache_duration, then fetches again', async () => {
    const iss = { iss: 'https://remote.example', exp: now() + 600 };
    const before = jwksServer.fetches;
    const [a, b] = await Promise.all([get('/remote', ...bearer(await sign(remoteKey, iss))), get('/remote', ...bearer(await sign(remoteKey, { ...iss, sub: 'b' })))]);
    assert.equal(a.status, 200, a.body);
    assert.equal(b.status, 200, b.body);
    assert.equal((await get('/remote', ...bearer(await sign(remoteKey, { ...iss, sub: 'c' })))).status, 200);
    assert.equal(jwksServer.fetches - before, 1, 'one fetch for requests within cache_duration, concurrent ones included');
    await sleep(3200);
    assert.equal((await get('/remote', ...bearer(await sign(remoteKey, { ...iss, sub: 'd' })))).status, 200);
    assert.equal(jwksServer.fetches - before, 2, 'fetched again after cache_duration');
    assert.equal((await get('/remote', ...bearer(await sign(rs, iss)))).body, "Jwks doesn't have key to match kid or alg from Jwt");
  });

  it('fetches an async_fetch JWKS before any request needs it', async () => {
    await waitUntil(() => asyncServer.fetches >= 1, () => `${asyncServer.fetches} fetches`, 10_000);
    const r = await get('/async', ...bearer(await sign(remoteKey, { iss: 'https://async.example', exp: now() + 600 })));
    assert.equal(r.status, 200, r.body);
    assert.equal(asyncServer.fetches, 1);
  });

  it('answers "Jwks remote fetch is failed" when the JWKS cannot be fetched', async () => {
    const r = await get('/broken', ...bearer(await sign(rs, { iss: 'https://broken.example', exp: now() + 600 })));
    assert.equal(r.status, 401);
    assert.equal(r.body, 'Jwks remote fetch is failed');
  });

  it('retries a JWKS fetch as retry_policy says (retry_on, num_retries)', async () => {
    jwksServer.flakyFailures = 2;
    jwksServer.flakyHits = 0;
    const token = await sign(remoteKey, { iss: 'https://flaky.example', exp: now() + 600 });
    const r = await get('/flaky', ...bearer(token));
    assert.equal(r.status, 200, r.body);
    assert.equal(jwksServer.flakyHits, 3, 'two 503s, then the keys');
    // retry_on: connect-failure does not retry a 503.
    jwksServer.flakyFailures = 2;
    jwksServer.flakyHits = 0;
    const r2 = await get('/flakynoretry', ...bearer(await sign(remoteKey, { iss: 'https://flakynoretry.example', exp: now() + 600 })));
    assert.equal(r2.body, 'Jwks remote fetch is failed');
    assert.equal(jwksServer.flakyHits, 1);
  });

  it('survives a client that goes away while its JWKS is fetched; the fetch is bounded by http_uri.timeout', async () => {
    const token = await sign(rs, { iss: 'https://hang.example', exp: now() + 600 });
    const gone = await curl(['--max-time', '0.3', ...bearer(token), `${base}/hang`]);
    assert.notEqual(gone.exitCode, 0, 'curl gave up first');
    await waitUntil(() => jwksServer.hung >= 1, () => `${jwksServer.hung} fetches of /hang`, 10_000);
    // The verification of the stream that is gone completes (the fetch times out) into nothing; the next request
    // waits for its own fetch, which times out too.
    const r = await get('/hang', ...bearer(token));
    assert.equal(r.status, 401);
    assert.equal(r.body, 'Jwks remote fetch is failed');
    assert.equal((await get('/local/echo', ...bearer(await sign(rs, claims())))).status, 200);
    assert.equal(legate.exitCode, null);
  });

  it('accepts a local JWKS that does not parse, as Envoy, and fails its JWTs', async () => {
    const r = await get('/badkeys', ...bearer(await sign(rs, { iss: 'https://badkeys.example', exp: now() + 600 })));
    assert.equal(r.status, 401);
    assert.equal(r.body, "Jwks doesn't have any valid public key");
  });

  it('counts in http.<stat_prefix>.jwt_authn.*', async () => {
    const stats = await legate.statsMap();
    for (const s of ['allowed', 'denied', 'cors_preflight_bypassed', 'jwks_fetch_success', 'jwks_fetch_failed', 'jwt_cache_miss']) {
      assert.ok((stats.get(`http.jwt.jwt_authn.${s}`) ?? 0) > 0, `${s}: ${stats.get(`http.jwt.jwt_authn.${s}`)}`);
    }
    assert.equal(stats.get('http.jwt.jwt_authn.cors_preflight_bypassed'), 1);
    // jwks.json twice, the async one, flaky once (after its retries).
    assert.equal(stats.get('http.jwt.jwt_authn.jwks_fetch_success'), 4);
  });

  it('uses the verified-JWT cache for a JWT seen before', async () => {
    const token = await sign(rs, claims({ sub: 'cached' }));
    const before = (await legate.statsMap()).get('http.jwt.jwt_authn.jwt_cache_hit') ?? 0;
    assert.equal((await get('/local/echo', ...bearer(token))).status, 200);
    assert.equal((await get('/local/echo', ...bearer(token))).status, 200);
    assert.equal((await legate.statsMap()).get('http.jwt.jwt_authn.jwt_cache_hit'), before + 1);
  });
});

/** The problems loading and compiling `yaml` gives. */
function problemsOf(yaml: string, configPath = ''): string[] {
  try {
    const loaded = loadConfig({ configPath, configYaml: configPath === '' ? yaml : undefined });
    return compileSnapshot(loaded, 1).problems.map((p) => `${p.path}: ${p.message}`);
  } catch (err) {
    return [(err as Error).message];
  }
}

describe('jwt_authn config checks', () => {
  const config = (fields: string): string => bootstrap([hcmListener({ name: 'jc', port: 1, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }], httpFilters: filter('jwt', JWT, fields) })], []);
  const jwks = JSON.stringify(JSON.stringify({ keys: [{ kty: 'oct', k: 'AAAA', kid: 'a' }] }));

  it('accepts a provider and its rules', () => {
    assert.deepEqual(problemsOf(config(`              providers: { p: { issuer: i, local_jwks: { inline_string: ${jwks} } } }
              rules: [{ match: { prefix: / }, requires: { provider_name: p } }]
`)), []);
  });

  it('refuses a requirement naming no provider, an unknown requirement_name', () => {
    const problems = problemsOf(config(`              providers: { p: { issuer: i, local_jwks: { inline_string: "not json" } } }
              rules:
              - { match: { prefix: /a }, requires: { provider_name: q } }
              - { match: { prefix: /b }, requirement_name: nope }
`));
    assert.ok(problems.some((p) => p.includes("Required provider ['q'] is not configured.")), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('Wrong requirement_name: nope')), problems.join('\n'));
  });

  it('refuses what it does not implement as not supported yet', () => {
    const problems = problemsOf(config(`              providers:
                p:
                  issuer: i
                  remote_jwks: { http_uri: { uri: "http://x/j", cluster: c, timeout: 1s }, retry_policy: { num_retries: 3, retry_priority: { name: x } } }
                  failed_status_in_metadata: failed
`));
    for (const f of ['retry_priority', 'failed_status_in_metadata']) {
      assert.ok(problems.some((p) => p.includes(f) && p.includes('not supported yet')), `${f}: ${problems.join('\n')}`);
    }
  });

  it('loads the corpus jwt_authn config\'s filter (retry_policy, async_fetch, claims, cache) but for its known newer-API field', { skip: fs.existsSync(CORPUS) ? false : 'no corpus' }, () => {
    const lines = problemsOf('', CORPUS).flatMap((p) => p.split('\n'));
    const filter = lines.filter((l) => l.includes('http_filters[0]'));
    assert.equal(filter.length, 1, lines.join('\n'));
    assert.match(filter[0]!, /claim_to_headers\[2\]\.claim_path/);
  });
});
