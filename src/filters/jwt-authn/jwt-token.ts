// Any thread (pure). A JWT as envoy.filters.http.jwt_authn reads it before any key is looked at: the three
// base64url sections parsed, then Envoy's claim checks (issuer, time with clock skew, audiences) in Envoy's order,
// each failure worded as Envoy words it (jwt_verify_lib's status strings, which become the 401/403 body).

/** Envoy's failure messages (the local reply's body; the details are jwt_authn_access_denied{<message>}). */
export const JwtStatus = Object.freeze({
  Ok: '',
  Missing: 'Jwt is missing',
  BadFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  HeaderBadBase64: 'Jwt header is an invalid Base64url encoded',
  HeaderBadJson: 'Jwt header is an invalid JSON',
  HeaderBadAlg: 'Jwt header [alg] field is required and must be a string',
  HeaderNotImplementedAlg: 'Jwt header [alg] is not supported',
  PayloadBadBase64: 'Jwt payload is an invalid Base64url encoded',
  PayloadBadJson: 'Jwt payload is an invalid JSON',
  SignatureBadBase64: 'Jwt signature is an invalid Base64url encoded',
  NotYetValid: 'Jwt not yet valid',
  Expired: 'Jwt is expired',
  UnknownIssuer: 'Jwt issuer is not configured',
  AudienceNotAllowed: 'Audiences in Jwt are not allowed',
  VerificationFail: 'Jwt verification fails',
  KidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
  NoValidKeys: "Jwks doesn't have any valid public key",
  FetchFail: 'Jwks remote fetch is failed',
});

/** The algorithms Envoy verifies (jwt_verify_lib), by JWK key type. */
export const SUPPORTED_ALGS: ReadonlyMap<string, string> = new Map([
  ['RS256', 'RSA'], ['RS384', 'RSA'], ['RS512', 'RSA'], ['PS256', 'RSA'], ['PS384', 'RSA'], ['PS512', 'RSA'],
  ['ES256', 'EC'], ['ES384', 'EC'], ['ES512', 'EC'], ['EdDSA', 'OKP'], ['HS256', 'oct'], ['HS384', 'oct'], ['HS512', 'oct'],
]);

/** A parsed JWT (not yet verified). */
export interface ParsedJwt {
  /** The compact token as it came. */
  token: string;
  /** The payload section as sent (base64url): what forward_payload_header forwards. */
  payloadBase64: string;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  alg: string;
  kid: string;
  iss: string;
  audiences: string[];
  /** Seconds since the epoch; 0 when absent. */
  exp: number;
  nbf: number;
  /** '' when absent. */
  sub: string;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeSection(s: string): Record<string, unknown> | null | undefined {
  // undefined: not base64url; null: not a JSON object.
  if (!BASE64URL.test(s)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The JWT in `token`, or Envoy's message for why it is not one. */
export function parseJwt(token: string): ParsedJwt | string {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) return JwtStatus.BadFormat;
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  const header = decodeSection(headerPart);
  if (header === undefined) return JwtStatus.HeaderBadBase64;
  if (header === null) return JwtStatus.HeaderBadJson;
  const alg = header['alg'];
  if (typeof alg !== 'string') return JwtStatus.HeaderBadAlg;
  if (!SUPPORTED_ALGS.has(alg)) return JwtStatus.HeaderNotImplementedAlg;
  const payload = decodeSection(payloadPart);
  if (payload === undefined) return JwtStatus.PayloadBadBase64;
  if (payload === null) return JwtStatus.PayloadBadJson;
  if (!BASE64URL.test(signaturePart) || signaturePart === '') return JwtStatus.SignatureBadBase64;
  const aud = payload['aud'];
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  return {
    token,
    payloadBase64: payloadPart,
    header,
    payload,
    alg,
    kid: typeof header['kid'] === 'string' ? header['kid'] : '',
    iss: typeof payload['iss'] === 'string' ? payload['iss'] : '',
    audiences,
    exp: typeof payload['exp'] === 'number' ? payload['exp'] : 0,
    nbf: typeof payload['nbf'] === 'number' ? payload['nbf'] : 0,
    sub: typeof payload['sub'] === 'string' ? payload['sub'] : '',
  };
}

/** Envoy compares audiences without a scheme prefix or a trailing slash ("https://a/" and "a" are the same). */
function sanitizeAudience(a: string): string {
  let s = a;
  if (s.startsWith('http://')) s = s.slice(7);
  else if (s.startsWith('https://')) s = s.slice(8);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Whether one of the JWT's audiences is allowed (no allowed audiences: any JWT is). */
export function audiencesAllowed(allowed: readonly string[], audiences: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  for (const a of audiences) {
    const s = sanitizeAudience(a);
    for (const b of allowed) if (sanitizeAudience(b) === s) return true;
  }
  return false;
}

/** What a provider asks of a JWT's claims. */
export interface ClaimRules {
  /** '' : any issuer. */
  issuer: string;
  /** Empty: any audience. */
  audiences: readonly string[];
  clockSkewSeconds: number;
  /** The subject check (subjects); null: any subject. */
  subjectAllowed: ((sub: string) => boolean) | null;
  /** The longest remaining lifetime allowed, seconds (Infinity: exp required; -1: no check). */
  maxLifetimeSeconds: number;
}

/**
 * Envoy's checks before the signature, in its order: the issuer (when the provider names one), nbf and exp with
 * the clock skew, the audiences, the subject (a mismatch fails as "Jwt verification fails"), the remaining
 * lifetime (require_expiration / max_lifetime; failing as "Jwt is expired"). JwtStatus.Ok ('') when they pass.
 */
export function checkClaims(jwt: ParsedJwt, rules: ClaimRules, nowSeconds: number): string {
  if (rules.issuer !== '' && jwt.iss !== rules.issuer) return JwtStatus.UnknownIssuer;
  const skew = rules.clockSkewSeconds;
  if (jwt.nbf !== 0 && jwt.nbf > nowSeconds + skew) return JwtStatus.NotYetValid;
  if (jwt.exp !== 0 && jwt.exp < nowSeconds - skew) return JwtStatus.Expired;
  if (!audiencesAllowed(rules.audiences, jwt.audiences)) return JwtStatus.AudienceNotAllowed;
  if (rules.subjectAllowed !== null && !rules.subjectAllowed(jwt.sub)) return JwtStatus.VerificationFail;
  const max = rules.maxLifetimeSeconds;
  if (max >= 0 && (jwt.exp === 0 || !(jwt.exp - nowSeconds < max))) return JwtStatus.Expired;
  return JwtStatus.Ok;
}
