// Worker thread. envoy.filters.http.jwt_authn, as Envoy's: the request's requirement (the route's PerRouteConfig
// requirement_name, else the first rule whose RouteMatch matches) is verified: JWTs are taken from the providers'
// locations (headers with value_prefix, query parameters, cookies; by default `Authorization: Bearer` and
// access_token), checked (issuer, nbf/exp with clock skew, audiences) and their signatures verified (jose) with the
// provider's JWKS, local or fetched (jwks.ts). The chain waits meanwhile (StopAllIterationAndWatermark) and resumes
// with continueDecoding(); a failure is answered 401 (403 for audiences) with www-authenticate: Bearer
// realm="<scheme>://<host><path>" and details jwt_authn_access_denied{<message>}. A verified JWT's payload is
// forwarded as configured (forward_payload_header, claim_to_headers, dynamic metadata); without `forward` its header
// is removed. Stats http.<stat_prefix>.jwt_authn.*.

import type { HeaderList } from '../../../../src/http/stream-info.ts';
import { getHeader } from '../../../../src/http/stream-info.ts';
import { removeHeader, setHeader } from '../../../../src/http/header-list.ts';
import { compileRouteMatch, PathMatch, type CompiledMatch } from '../../../../src/router/route-match.ts';
import { asciiLower } from '../../../../src/router/ascii.ts';
import {
  JWT_AUTHN_METADATA_NAMESPACE, JwtAuthnPerRoute, wrongRequirementName, type JwtAuthnConfig, type JwtProviderConfig, type JwtRequirementConfig,
} from '../../../../src/filters/jwt-authn/jwt-authn-config.ts';
import { checkClaims, JwtStatus, parseJwt, type ClaimRules, type ParsedJwt } from '../../../../src/filters/jwt-authn/jwt-token.ts';
import { compileStringMatcher } from '../../../../src/router/string-matcher.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from '../http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from '../filter-registry.ts';
import type { WorkerStatsStore } from '../../../../src/stats/definitions.ts';
import { LocalJwks, RemoteJwks, verifySignature, type JwksSource } from './jwks.ts';

/** Envoy's MaximumUriLength: the realm's path is cut there. */
const MAX_REALM_PATH = 256;

/** Characters a compact JWT is made of (base64url and '.'): a token ends at the first other one. */
const JWT_CHAR = /[A-Za-z0-9._-]/;

/** One JWT found in a request, and where (to remove it when not forwarded). */
interface FoundToken {
  token: string;
  /** The header it came in ('' for a query parameter or cookie). */
  header: string;
  /** The providers that look where it was found. */
  providers: Provider[];
}

/** A provider in this worker: its config, keys and verified-JWT cache. */
class Provider {
  readonly config: JwtProviderConfig;
  readonly jwks: JwksSource;
  /** Headers searched: from_headers, or Authorization with "Bearer " when no location is configured. */
  readonly headers: readonly { name: string; prefix: string }[];
  readonly params: readonly string[];
  readonly cookies: readonly string[];
  /** Verified tokens -> their JWT (jwt_cache_config); null without a cache. */
  readonly cache: Map<string, ParsedJwt> | null;
  /** The claim checks with the provider's audiences. */
  readonly rules: ClaimRules;
  /** The headers it forwards a payload in (forward_payload_header, claim_to_headers): removed from every request. */
  readonly payloadHeaders: readonly string[];

  constructor(config: JwtProviderConfig, jwks: JwksSource) {
    this.config = config;
    this.jwks = jwks;
    const subjects = config.subjects === null ? null : compileStringMatcher(config.subjects, 'subjects', []);
    this.rules = {
      issuer: config.issuer,
      audiences: config.audiences,
      clockSkewSeconds: config.clockSkewSeconds,
      subjectAllowed: subjects === null ? null : (sub: string) => subjects.match(sub),
      maxLifetimeSeconds: config.maxLifetimeSeconds,
    };
    const none = config.fromHeaders.length === 0 && config.fromParams.length === 0 && config.fromCookies.length === 0;
    this.headers = none ? [{ name: 'authorization', prefix: 'Bearer ' }] : config.fromHeaders;
    this.params = none ? ['access_token'] : config.fromParams;
    this.cookies = config.fromCookies;
    this.cache = config.jwtCacheSize > 0 ? new Map() : null;
    const ph = config.claimToHeaders.map((c) => c.header);
    if (config.forwardPayloadHeader !== '') ph.push(config.forwardPayloadHeader);
    this.payloadHeaders = ph;
  }
}

/** What every stream's filter shares: providers, compiled rules, named requirements, stats. */
class JwtAuthnShared {
  readonly providers: Map<string, Provider>;
  readonly providerList: readonly Provider[];
  /** The first provider without an issuer (it verifies JWTs of issuers no provider names), or null. */
  readonly providerWithoutIssuer: Provider | null;
  readonly rules: { match: CompiledMatch; requirement: JwtRequirementConfig | null }[];
  readonly requirementMap: Readonly<Record<string, JwtRequirementConfig>>;
  readonly filterStateRules: JwtAuthnConfig['filterStateRules'];
  readonly bypassCorsPreflight: boolean;
  readonly stripFailureResponse: boolean;
  readonly stats: WorkerStatsStore;
  private readonly slots: Readonly<Record<string, number>> | null;

  constructor(config: JwtAuthnConfig, context: HttpFilterFactoryContext) {
    this.stats = context.stats;
    this.slots = context.slots;
    this.providers = new Map();
    const observer = { onFetch: (ok: boolean) => this.count(ok ? 'jwks_fetch_success' : 'jwks_fetch_failed') };
    for (const name of Object.keys(config.providers)) {
      const p = config.providers[name]!;
      const jwks = p.remote !== null ? new RemoteJwks(p.remote, context.asyncClient, observer) : new LocalJwks(p.localJwks ?? '');
      this.providers.set(name, new Provider(p, jwks));
    }
    this.providerList = [...this.providers.values()];
    this.providerWithoutIssuer = this.providerList.find((p) => p.config.issuer === '') ?? null;
    this.rules = [];
    for (const r of config.rules) {
      // Checked by the primary already (src/filters/jwt-authn/jwt-authn-config.ts).
      const match = compileRouteMatch(r.match, 'rules.match', []);
      if (match !== null) this.rules.push({ match, requirement: r.requirement });
    }
    this.requirementMap = config.requirementMap;
    this.filterStateRules = config.filterStateRules;
    this.bypassCorsPreflight = config.bypassCorsPreflight;
    this.stripFailureResponse = config.stripFailureResponse;
  }

  count(stat: string): void {
    const slots = this.slots;
    if (slots !== null) this.stats.values[slots[stat]!]++;
  }
}

function matchesRule(m: CompiledMatch, headers: HeaderList, path: string, authority: string, method: string): boolean {
  let pathEnd = path.length;
  const q = path.indexOf('?');
  if (q >= 0) pathEnd = q;
  const h = path.indexOf('#');
  if (h >= 0 && h < pathEnd) pathEnd = h;
  const v = m.pathValue;
  const bare = path.slice(0, pathEnd);
  const subject = m.caseSensitive ? bare : asciiLower(bare);
  const value = m.caseSensitive ? v : asciiLower(v);
  switch (m.pathKind) {
    case PathMatch.PREFIX:
      if (!subject.startsWith(value)) return false;
      break;
    case PathMatch.EXACT:
      if (subject !== value) return false;
      break;
    case PathMatch.SEPARATED_PREFIX:
      if (!subject.startsWith(value) || (subject.length !== value.length && subject.charCodeAt(value.length) !== 47)) return false;
      break;
    default:
      if (m.regex === null || !m.regex.fullMatch(bare)) return false;
  }
  for (const hm of m.headers) if (!hm.matches(headers, authority, method, path)) return false;
  for (const qm of m.queryParameters) if (!qm.matches(path, q >= 0 ? q + 1 : -1)) return false;
  return true;
}

/** The JWT after `prefix` in a header value ('' when absent). "Bearer " is matched in any case, as Envoy does. */
function tokenAfterPrefix(value: string, prefix: string): string {
  let start = 0;
  if (prefix !== '') {
    const i = prefix === 'Bearer ' ? asciiLower(value).indexOf('bearer ') : value.indexOf(prefix);
    if (i < 0) return '';
    start = i + prefix.length;
  }
  while (start < value.length && !JWT_CHAR.test(value[start]!)) start++;
  let end = start;
  while (end < value.length && JWT_CHAR.test(value[end]!)) end++;
  return value.slice(start, end);
}

function queryParam(path: string, name: string): string {
  const q = path.indexOf('?');
  if (q < 0) return '';
  const params = new URLSearchParams(path.slice(q + 1));
  return params.get(name) ?? '';
}

function cookie(headers: HeaderList, name: string): string {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'cookie') continue;
    for (const part of headers[i + 1]!.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return '';
}

/** The payload for the metadata, its space_delimited_claims (strings) as lists of their words. */
function normalizedPayload(payload: Record<string, unknown>, claims: readonly string[]): Record<string, unknown> {
  if (claims.length === 0) return payload;
  const out: Record<string, unknown> = { ...payload };
  for (const c of claims) {
    const v = out[c];
    if (typeof v === 'string') out[c] = v.split(' ').filter((w) => w !== '');
  }
  return out;
}

/** Envoy's response code details: jwt_authn_access_denied{<message with whitespace as '_'>}. */
function rcDetails(message: string): string {
  return `jwt_authn_access_denied{${message.replace(/\s/g, '_')}}`;
}

function claimValue(payload: Record<string, unknown>, claimPath: readonly string[]): string | null {
  let v: unknown = payload;
  for (const key of claimPath) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    v = (v as Record<string, unknown>)[key];
  }
  // As Envoy: strings, numbers (whole non-negative ones without a fraction, others with six decimals) and booleans;
  // other values (objects, lists) are not copied.
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? String(v) : v.toFixed(6);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return null;
}

class JwtAuthnFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: JwtAuthnShared;
  private headers: HeaderList | null;
  private destroyed: boolean;

  constructor(cb: FilterCallbacks, shared: JwtAuthnShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.headers = null;
    this.destroyed = false;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const shared = this.shared;
    const info = this.cb.streamInfo;
    if (shared.bypassCorsPreflight && info.method === 'OPTIONS' && getHeader(headers, 'origin') !== undefined
      && getHeader(headers, 'access-control-request-method') !== undefined) {
      // As Envoy: counted as bypassed, and as allowed (its verification completes with OK).
      shared.count('cors_preflight_bypassed');
      shared.count('allowed');
      return FilterHeadersStatus.Continue;
    }
    let requirement: JwtRequirementConfig | null = null;
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    if (perRoute instanceof JwtAuthnPerRoute) {
      // Own keys only: a name such as "constructor" is not a requirement.
      const map = shared.requirementMap;
      const name = perRoute.requirementName;
      const named = perRoute.disabled ? null : Object.hasOwn(map, name) ? map[name]! : undefined;
      if (named === undefined) {
        shared.count('denied');
        const message = wrongRequirementName(perRoute.requirementName, shared.requirementMap);
        this.cb.sendLocalReply(403, shared.stripFailureResponse ? '' : `Failed JWT authentication: ${message}`, null, -1, rcDetails(message));
        return FilterHeadersStatus.StopIteration;
      }
      requirement = named;
    } else {
      let matched = false;
      for (const rule of shared.rules) {
        if (matchesRule(rule.match, headers, info.path, info.authority, info.method)) {
          requirement = rule.requirement;
          matched = true;
          break;
        }
      }
      // No rule matched: filter_state_rules, by the value of its filter state object.
      const fsr = shared.filterStateRules;
      if (!matched && fsr !== null) {
        const value = info.getFilterState(fsr.name);
        if (value !== undefined && Object.hasOwn(fsr.requires, value)) requirement = fsr.requires[value]!;
      }
    }
    if (requirement === null) {
      // Nothing to verify: Envoy completes with OK, so it counts as allowed.
      shared.count('allowed');
      return FilterHeadersStatus.Continue;
    }
    this.headers = headers;
    this.evaluate(requirement).then((status) => this.onComplete(status), () => this.onComplete(JwtStatus.VerificationFail));
    return FilterHeadersStatus.StopAllIterationAndWatermark;
  }

  override onDestroy(): void {
    this.destroyed = true;
  }

  private onComplete(status: string): void {
    if (this.destroyed) return;
    const shared = this.shared;
    if (status === JwtStatus.Ok) {
      shared.count('allowed');
      this.cb.continueDecoding();
      return;
    }
    shared.count('denied');
    const info = this.cb.streamInfo;
    // Envoy's buildOriginalUri: scheme://host and the path (query included) cut at 256 characters.
    const p = info.path.length > MAX_REALM_PATH ? info.path.slice(0, MAX_REALM_PATH) : info.path;
    let value = `Bearer realm="${info.scheme}://${info.authority}${p}"`;
    if (status !== JwtStatus.Missing) value += ', error="invalid_token"';
    const code = status === JwtStatus.AudienceNotAllowed ? 403 : 401;
    if (shared.stripFailureResponse) this.cb.sendLocalReply(code, '', null, -1, rcDetails(status));
    else this.cb.sendLocalReply(code, status, ['www-authenticate', value], -1, rcDetails(status));
  }

  /** The requirement's outcome: JwtStatus.Ok or the failure's message. */
  private async evaluate(req: JwtRequirementConfig): Promise<string> {
    switch (req.kind) {
      case 'provider': {
        // Every JWT at the provider's locations must pass (a good one beside a bad one is not enough).
        const provider = this.shared.providers.get(req.provider)!;
        const tokens = this.tokensOf([provider]);
        if (tokens.length === 0) return JwtStatus.Missing;
        for (let i = tokens.length - 1; i >= 0; i--) {
          const status = await this.verifyToken(provider, tokens[i]!, req.audiences, true);
          if (status !== JwtStatus.Ok) return status;
        }
        return JwtStatus.Ok;
      }
      case 'allow_missing':
      case 'allow_missing_or_failed': {
        // The JWTs at every provider's locations, each verified by the provider of its issuer (among those that
        // look there; else one without an issuer). As Envoy: all are tried; the outcome is the last one's.
        const tokens = this.tokensOf(this.shared.providerList);
        let last: string = JwtStatus.Missing;
        for (let i = tokens.length - 1; i >= 0; i--) {
          const t = tokens[i]!;
          const jwt = parseJwt(t.token);
          if (typeof jwt === 'string') {
            last = jwt;
            continue;
          }
          const provider = t.providers.find((p) => p.config.issuer === jwt.iss) ?? this.shared.providerWithoutIssuer;
          last = provider === null ? JwtStatus.UnknownIssuer : await this.verifyToken(provider, t, null, false);
        }
        if (req.kind === 'allow_missing_or_failed' || last === JwtStatus.Missing) return JwtStatus.Ok;
        return last;
      }
      case 'allow_all':
        return JwtStatus.Ok;
      case 'any': {
        // As Envoy: allow_missing / allow_missing_or_failed among the alternatives only soften the outcome.
        let allowMissing = false;
        let allowFailed = false;
        let children = 0;
        let final: string = JwtStatus.Missing;
        for (const r of req.requirements) {
          if (r.kind === 'allow_missing') allowMissing = true;
          else if (r.kind === 'allow_missing_or_failed') allowFailed = true;
          if (r.kind === 'allow_missing' || r.kind === 'allow_missing_or_failed') continue;
          children++;
          const status = await this.evaluate(r);
          if (status === JwtStatus.Ok) return status;
          // Prefer an error other than missing / unknown issuer; then unknown issuer over missing.
          if ((status !== JwtStatus.Missing && status !== JwtStatus.UnknownIssuer) || final === JwtStatus.Missing) final = status;
        }
        if (children === 0) return this.evaluate({ kind: allowFailed ? 'allow_missing_or_failed' : 'allow_missing' });
        if (allowFailed || (allowMissing && final === JwtStatus.Missing)) return JwtStatus.Ok;
        return final;
      }
      case 'all': {
        for (const r of req.requirements) {
          const status = await this.evaluate(r);
          if (status !== JwtStatus.Ok) return status;
        }
        return JwtStatus.Ok;
      }
    }
  }

  /**
   * The JWTs in the request at the providers' locations (each once, with the providers that look there). As
   * Envoy, the providers' payload headers are removed first: only a verified JWT sets them, never the client.
   */
  private tokensOf(providers: readonly Provider[]): FoundToken[] {
    const headers = this.headers!;
    for (const p of providers) for (const h of p.payloadHeaders) removeHeader(headers, h);
    const path = this.cb.streamInfo.path;
    const out: FoundToken[] = [];
    const add = (token: string, header: string, provider: Provider): void => {
      if (token === '') return;
      const seen = out.find((t) => t.token === token);
      if (seen === undefined) out.push({ token, header, providers: [provider] });
      else if (!seen.providers.includes(provider)) seen.providers.push(provider);
    };
    for (const p of providers) {
      for (const h of p.headers) {
        const v = getHeader(headers, h.name);
        if (v !== undefined) add(tokenAfterPrefix(v, h.prefix), h.name, p);
      }
      for (const name of p.params) add(queryParam(path, name), '', p);
      for (const name of p.cookies) add(cookie(headers, name), '', p);
    }
    return out;
  }

  /** One JWT against one provider; on success its payload is forwarded as the provider says. */
  private async verifyToken(provider: Provider, found: FoundToken, audiences: readonly string[] | null, byName: boolean): Promise<string> {
    const jwt = parseJwt(found.token);
    if (typeof jwt === 'string') return jwt;
    const c = provider.config;
    const rules = audiences === null ? provider.rules : { ...provider.rules, audiences };
    const claims = checkClaims(jwt, rules, Math.floor(Date.now() / 1000));
    if (claims !== JwtStatus.Ok) return claims;
    // As Envoy: the verified-JWT cache serves requirements naming the provider; without jwt_cache_config it holds
    // nothing, and every lookup counts as a miss.
    const cache = byName ? provider.cache : null;
    if (cache !== null && cache.has(found.token)) {
      this.shared.count('jwt_cache_hit');
    } else {
      if (byName) this.shared.count('jwt_cache_miss');
      const keys = await provider.jwks.get();
      if (keys === null) return provider.config.remote === null ? JwtStatus.NoValidKeys : JwtStatus.FetchFail;
      const status = await verifySignature(jwt, keys);
      if (status !== JwtStatus.Ok) return status;
      if (cache !== null) {
        if (cache.size >= c.jwtCacheSize) cache.delete(cache.keys().next().value!);
        cache.set(found.token, jwt);
      }
    }
    if (!this.destroyed) this.forward(provider, jwt, found);
    return JwtStatus.Ok;
  }

  private forward(provider: Provider, jwt: ParsedJwt, found: FoundToken): void {
    const c = provider.config;
    const headers = this.headers!;
    if (!c.forward && found.header !== '') removeHeader(headers, found.header);
    let added = false;
    if (c.forwardPayloadHeader !== '') {
      let v = jwt.payloadBase64;
      if (c.padForwardPayloadHeader) v += '='.repeat((4 - (v.length % 4)) % 4);
      setHeader(headers, c.forwardPayloadHeader, v);
      added = true;
    }
    for (const ch of c.claimToHeaders) {
      const v = claimValue(jwt.payload, ch.claimPath);
      if (v === null) continue;
      setHeader(headers, ch.header, v);
      added = true;
    }
    const info = this.cb.streamInfo;
    if (c.payloadInMetadata !== '') {
      info.setDynamicMetadata(JWT_AUTHN_METADATA_NAMESPACE, { [c.payloadInMetadata]: normalizedPayload(jwt.payload, c.spaceDelimitedClaims) });
    }
    if (c.headerInMetadata !== '') info.setDynamicMetadata(JWT_AUTHN_METADATA_NAMESPACE, { [c.headerInMetadata]: jwt.header });
    if (added && c.clearRouteCache) this.cb.clearRouteCache();
  }
}

export function jwtAuthnFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new JwtAuthnShared(config as JwtAuthnConfig, context);
  return { createFilter: (cb) => new JwtAuthnFilter(cb, shared) };
}
