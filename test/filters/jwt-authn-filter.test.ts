// In process: the jwt_authn filter (workers/http/filters/jwt-authn/) driven through its FilterCallbacks by hand,
// for what a test through bin/legate cannot set up easily: filter_state_rules (filter state set by an earlier
// filter), strip_failure_response, normalize_payload_in_metadata, a stream destroyed while verifying.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { StreamInfo, type HeaderList } from '../../src/http/stream-info.ts';
import { compileJwtAuthn } from '../../src/filters/jwt-authn/jwt-authn-config.ts';
import type { FilterConfigProblem } from '../../src/filters/http-filter-config.ts';
import { jwtAuthnFilterFactory } from '../../workers/http/filters/jwt-authn/jwt-authn-filter.ts';
import { FilterHeadersStatus, type FilterCallbacks } from '../../workers/http/filters/http-filter.ts';
import type { HttpFilterFactoryContext } from '../../workers/http/filters/filter-registry.ts';

interface Outcome {
  status: number;
  body: string;
  headers: HeaderList | null;
  details: string;
}

/** A stream's callbacks that record what the filter does; `done` settles when it resumes or replies. */
function fakeStream(path: string): { cb: FilterCallbacks; info: StreamInfo; done: Promise<Outcome | 'continued'> } {
  const info = new StreamInfo();
  info.method = 'GET';
  info.path = path;
  info.authority = 'api.test';
  let settle!: (v: Outcome | 'continued') => void;
  const done = new Promise<Outcome | 'continued'>((r) => (settle = r));
  const cb = {
    streamInfo: info,
    filterConfigName: 'jwt',
    requestHeaders: [],
    responseStatus: 0,
    mostSpecificPerFilterConfig: () => null,
    route: () => null,
    clearRouteCache: () => {},
    continueDecoding: () => settle('continued'),
    sendLocalReply: (status: number, body: string, headers: HeaderList | null, _grpc: number, details: string) => settle({ status, body, headers, details }),
  } as unknown as FilterCallbacks;
  return { cb, info, done };
}

const context = { configName: 'jwt', statPrefix: 'x', stats: { values: new Float64Array(0) }, slots: null, statSlotsFor: () => null } as unknown as HttpFilterFactoryContext;

describe('jwt_authn filter, in process', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k' }] });
  const sign = (claims: Record<string, unknown>): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k' }).sign(privateKey);

  const factory = (extra: Record<string, unknown>): ReturnType<typeof jwtAuthnFilterFactory> => {
    const problems: FilterConfigProblem[] = [];
    const config = compileJwtAuthn({
      providers: {
        p: { issuer: 'i', local_jwks: { inline_string: jwks }, payload_in_metadata: 'claims', normalize_payload_in_metadata: { space_delimited_claims: ['scope'] } },
      },
      ...extra,
    }, 'jwt', problems);
    assert.deepEqual(problems, []);
    return jwtAuthnFilterFactory(config, context);
  };

  it('picks the requirement by filter state when no rule matches (filter_state_rules)', async () => {
    const f = factory({
      rules: [{ match: { prefix: '/ruled' }, requires: { allow_missing_or_failed: {} } }],
      filter_state_rules: { name: 'tenant', requires: { strict: { provider_name: 'p' } } },
    });
    // No filter state: nothing is required.
    const a = fakeStream('/x');
    assert.equal(f.createFilter(a.cb).decodeHeaders([], true), FilterHeadersStatus.Continue);
    // tenant=strict: the provider is required.
    const b = fakeStream('/x');
    b.info.setFilterState('tenant', 'strict', false);
    assert.equal(f.createFilter(b.cb).decodeHeaders([], true), FilterHeadersStatus.StopAllIterationAndWatermark);
    assert.equal(((await b.done) as Outcome).body, 'Jwt is missing');
    // tenant=other: no requirement of that name, nothing is required.
    const c = fakeStream('/x');
    c.info.setFilterState('tenant', 'other', false);
    assert.equal(f.createFilter(c.cb).decodeHeaders([], true), FilterHeadersStatus.Continue);
    // Only the map's own names: "constructor" names no requirement.
    const e = fakeStream('/x');
    e.info.setFilterState('tenant', 'constructor', false);
    assert.equal(f.createFilter(e.cb).decodeHeaders([], true), FilterHeadersStatus.Continue);
    // A matching rule comes first.
    const d = fakeStream('/ruled');
    d.info.setFilterState('tenant', 'strict', false);
    f.createFilter(d.cb).decodeHeaders([], true);
    assert.equal(await d.done, 'continued');
  });

  it('answers without body or www-authenticate with strip_failure_response', async () => {
    const f = factory({ rules: [{ match: { prefix: '/' }, requires: { provider_name: 'p' } }], strip_failure_response: true });
    const s = fakeStream('/x');
    f.createFilter(s.cb).decodeHeaders([], true);
    assert.deepEqual(await s.done, { status: 401, body: '', headers: null, details: 'jwt_authn_access_denied{Jwt_is_missing}' });
  });

  it('puts the payload in dynamic metadata, space_delimited_claims as lists', async () => {
    const f = factory({ rules: [{ match: { prefix: '/' }, requires: { provider_name: 'p' } }] });
    const s = fakeStream('/x');
    const token = await sign({ iss: 'i', scope: 'read  write', sub: 'u' });
    f.createFilter(s.cb).decodeHeaders(['authorization', `Bearer ${token}`], true);
    assert.equal(await s.done, 'continued');
    assert.deepEqual(s.info.dynamicMetadata?.['envoy.filters.http.jwt_authn']?.['claims'], { iss: 'i', scope: ['read', 'write'], sub: 'u' });
  });

  it('does nothing with a stream destroyed while its JWT is verified', async () => {
    const f = factory({ rules: [{ match: { prefix: '/' }, requires: { provider_name: 'p' } }] });
    const s = fakeStream('/x');
    const filter = f.createFilter(s.cb);
    const headers = ['authorization', `Bearer ${await sign({ iss: 'i', sub: 'u' })}`];
    assert.equal(filter.decodeHeaders(headers, true), FilterHeadersStatus.StopAllIterationAndWatermark);
    filter.onDestroy();
    const settled = await Promise.race([s.done, new Promise((r) => setTimeout(() => r('nothing'), 300))]);
    assert.equal(settled, 'nothing');
    assert.equal(s.info.dynamicMetadata, null, 'nothing forwarded for a stream that is gone');
  });
});
