// In process: jwt_authn's JWT parsing and claim checks (src/filters/jwt-authn/jwt-token.ts) with Envoy's messages,
// and the signature check against a JWKS (workers/http/filters/jwt-authn/jwks.ts) with keys made here by jose.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { audiencesAllowed, checkClaims, JwtStatus, parseJwt, type ClaimRules, type ParsedJwt } from '../../src/filters/jwt-authn/jwt-token.ts';
import { parseJwks, verifySignature } from '../../workers/http/filters/jwt-authn/jwks.ts';

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function parsed(token: string): ParsedJwt {
  const j = parseJwt(token);
  assert.equal(typeof j, 'object', String(j));
  return j as ParsedJwt;
}

describe('jwt_authn: parsing a JWT', () => {
  it('reads header, payload, audiences and times', () => {
    const j = parsed(`${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss: 'i', aud: ['a', 'b'], exp: 20, nbf: 10 })}.c2ln`);
    assert.equal(j.alg, 'RS256');
    assert.equal(j.kid, 'k1');
    assert.equal(j.iss, 'i');
    assert.deepEqual(j.audiences, ['a', 'b']);
    assert.equal(j.exp, 20);
    assert.equal(j.nbf, 10);
    assert.deepEqual(parsed(`${b64({ alg: 'HS256' })}.${b64({ aud: 'x' })}.c2ln`).audiences, ['x']);
  });

  it('words each malformation as Envoy (jwt_verify_lib)', () => {
    const h = b64({ alg: 'ES256' });
    const p = b64({ iss: 'i' });
    const cases: [string, string][] = [
      ['abc', JwtStatus.BadFormat],
      ['a.b.c.d', JwtStatus.BadFormat],
      [`a+b.${p}.c2ln`, JwtStatus.HeaderBadBase64],
      [`${b64('not json')}.${p}.c2ln`, JwtStatus.HeaderBadJson],
      [`${b64({ typ: 'JWT' })}.${p}.c2ln`, JwtStatus.HeaderBadAlg],
      [`${b64({ alg: 'none' })}.${p}.c2ln`, JwtStatus.HeaderNotImplementedAlg],
      [`${h}.a+b.c2ln`, JwtStatus.PayloadBadBase64],
      [`${h}.${b64('[1')}.c2ln`, JwtStatus.PayloadBadJson],
      [`${h}.${p}.`, JwtStatus.SignatureBadBase64],
      [`${h}.${p}.a/b`, JwtStatus.SignatureBadBase64],
    ];
    for (const [token, message] of cases) assert.equal(parseJwt(token), message, token);
  });
});

describe('jwt_authn: claim checks', () => {
  const jwt = (claims: Record<string, unknown>): ParsedJwt => parsed(`${b64({ alg: 'RS256' })}.${b64(claims)}.c2ln`);
  const rules = (issuer: string, audiences: string[], more: Partial<ClaimRules> = {}): ClaimRules => ({
    issuer, audiences, clockSkewSeconds: 60, subjectAllowed: null, maxLifetimeSeconds: -1, ...more,
  });

  it('checks issuer, then nbf and exp with the clock skew, then audiences', () => {
    const now = 1_000_000;
    assert.equal(checkClaims(jwt({ iss: 'i', exp: now + 1 }), rules('i', []), now), JwtStatus.Ok);
    assert.equal(checkClaims(jwt({ iss: 'x' }), rules('i', []), now), JwtStatus.UnknownIssuer);
    assert.equal(checkClaims(jwt({ iss: 'x' }), rules('', []), now), JwtStatus.Ok, 'no issuer configured: any');
    assert.equal(checkClaims(jwt({ exp: now - 61 }), rules('', []), now), JwtStatus.Expired);
    assert.equal(checkClaims(jwt({ exp: now - 60 }), rules('', []), now), JwtStatus.Ok);
    assert.equal(checkClaims(jwt({ nbf: now + 61 }), rules('', []), now), JwtStatus.NotYetValid);
    assert.equal(checkClaims(jwt({ nbf: now + 60 }), rules('', []), now), JwtStatus.Ok);
    // Order: an expired JWT from another issuer is reported for its issuer.
    assert.equal(checkClaims(jwt({ iss: 'x', exp: 1 }), rules('i', []), now), JwtStatus.UnknownIssuer);
    assert.equal(checkClaims(jwt({ exp: 1, aud: 'z' }), rules('', ['a']), now), JwtStatus.Expired);
    assert.equal(checkClaims(jwt({ aud: 'z' }), rules('', ['a']), now), JwtStatus.AudienceNotAllowed);
    assert.equal(checkClaims(jwt({}), rules('', ['a']), now), JwtStatus.AudienceNotAllowed);
  });

  it('checks the subject (a mismatch fails verification) and the remaining lifetime (as expired)', () => {
    const now = 1_000_000;
    const onlyAlice = { subjectAllowed: (sub: string) => sub === 'alice' };
    assert.equal(checkClaims(jwt({ sub: 'alice' }), rules('', [], onlyAlice), now), JwtStatus.Ok);
    assert.equal(checkClaims(jwt({ sub: 'bob' }), rules('', [], onlyAlice), now), JwtStatus.VerificationFail);
    assert.equal(checkClaims(jwt({}), rules('', [], onlyAlice), now), JwtStatus.VerificationFail);
    // require_expiration: any exp, but one.
    assert.equal(checkClaims(jwt({}), rules('', [], { maxLifetimeSeconds: Infinity }), now), JwtStatus.Expired);
    assert.equal(checkClaims(jwt({ exp: now + 1e9 }), rules('', [], { maxLifetimeSeconds: Infinity }), now), JwtStatus.Ok);
    // max_lifetime: the time left must be below it.
    assert.equal(checkClaims(jwt({ exp: now + 3599 }), rules('', [], { maxLifetimeSeconds: 3600 }), now), JwtStatus.Ok);
    assert.equal(checkClaims(jwt({ exp: now + 3600 }), rules('', [], { maxLifetimeSeconds: 3600 }), now), JwtStatus.Expired);
  });

  it('compares audiences without scheme or trailing slash', () => {
    assert.ok(audiencesAllowed(['https://api.example/'], ['api.example']));
    assert.ok(audiencesAllowed(['api.example'], ['http://api.example']));
    assert.ok(!audiencesAllowed(['api.example'], ['api.example.evil']));
    assert.ok(audiencesAllowed([], []));
  });
});

describe('jwt_authn: signatures against a JWKS', () => {
  it('verifies with the key whose kid and alg fit; says which failure it is', async () => {
    const a = await generateKeyPair('ES256');
    const b = await generateKeyPair('ES256');
    const keys = parseJwks(JSON.stringify({ keys: [{ ...(await exportJWK(a.publicKey)), kid: 'a', alg: 'ES256' }] }))!;
    const good = await new SignJWT({ iss: 'i' }).setProtectedHeader({ alg: 'ES256', kid: 'a' }).sign(a.privateKey);
    const forged = await new SignJWT({ iss: 'i' }).setProtectedHeader({ alg: 'ES256', kid: 'a' }).sign(b.privateKey);
    const otherKid = await new SignJWT({ iss: 'i' }).setProtectedHeader({ alg: 'ES256', kid: 'z' }).sign(a.privateKey);
    const noKid = await new SignJWT({ iss: 'i' }).setProtectedHeader({ alg: 'ES256' }).sign(a.privateKey);
    assert.equal(await verifySignature(parsed(good), keys), JwtStatus.Ok);
    assert.equal(await verifySignature(parsed(noKid), keys), JwtStatus.Ok);
    assert.equal(await verifySignature(parsed(forged), keys), JwtStatus.VerificationFail);
    assert.equal(await verifySignature(parsed(otherKid), keys), JwtStatus.KidAlgMismatch);
    // A payload changed after signing.
    const [h, , s] = good.split('.');
    assert.equal(await verifySignature(parsed(`${h}.${b64({ iss: 'i', admin: true })}.${s}`), keys), JwtStatus.VerificationFail);
  });

  it('refuses what is not a JWKS', () => {
    assert.equal(parseJwks('nope'), null);
    assert.equal(parseJwks('{"keys": []}'), null);
    assert.equal(parseJwks('{"keys": "x"}'), null);
  });
});
