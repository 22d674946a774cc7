// Worker thread. A jwt_authn provider's keys (JWKS) in this worker and the signature check with them (jose):
// local_jwks imported once; remote_jwks fetched through this worker's pools with the async client, cached for
// cache_duration, shared by the requests that arrive while a fetch is in flight (each bounded by http_uri.timeout),
// refreshed in the background when async_fetch is set (stale keys serve meanwhile), never blocking the worker.

import { compactVerify, importJWK, type JWK } from 'jose';
import { JwtStatus, SUPPORTED_ALGS, type ParsedJwt } from '../../../../src/filters/jwt-authn/jwt-token.ts';
import type { JwksRetryPolicy, RemoteJwksConfig } from '../../../../src/filters/jwt-authn/jwt-authn-config.ts';
import { AsyncClientError, type AsyncClient, type AsyncResponse } from '../../../upstream/async-client.ts';

/** A JWKS response larger than this is a failed fetch. */
const MAX_JWKS_BYTES = 1024 * 1024;

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** One key of a set; imported per algorithm on first use. */
class JwkEntry {
  readonly jwk: JWK;
  readonly kid: string;
  readonly alg: string;
  readonly kty: string;
  private readonly imported = new Map<string, Promise<VerifyKey | null>>();
  constructor(jwk: JWK) {
    this.jwk = jwk;
    this.kid = typeof jwk.kid === 'string' ? jwk.kid : '';
    this.alg = typeof jwk.alg === 'string' ? jwk.alg : '';
    this.kty = typeof jwk.kty === 'string' ? jwk.kty : '';
  }

  /** Whether this key may verify `jwt` (Envoy: kid equal when both have one, alg equal when the key has one, the family). */
  fits(jwt: ParsedJwt): boolean {
    if (jwt.kid !== '' && this.kid !== '' && jwt.kid !== this.kid) return false;
    if (this.alg !== '' && this.alg !== jwt.alg) return false;
    return SUPPORTED_ALGS.get(jwt.alg) === this.kty;
  }

  keyFor(alg: string): Promise<VerifyKey | null> {
    let p = this.imported.get(alg);
    if (p === undefined) {
      p = importJWK({ ...this.jwk, alg }, alg).catch(() => null);
      this.imported.set(alg, p);
    }
    return p;
  }
}

/** The keys of a JWKS text; null when it is not one (no usable key). */
export function parseJwks(text: string): JwkEntry[] | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const keys = typeof v === 'object' && v !== null ? (v as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) return null;
  const out: JwkEntry[] = [];
  for (const k of keys) if (typeof k === 'object' && k !== null && typeof (k as JWK).kty === 'string') out.push(new JwkEntry(k as JWK));
  return out.length === 0 ? null : out;
}

/** The signature check: JwtStatus.Ok, KidAlgMismatch (no key fits) or VerificationFail. */
export async function verifySignature(jwt: ParsedJwt, keys: readonly JwkEntry[]): Promise<string> {
  let fitted = false;
  for (const entry of keys) {
    if (!entry.fits(jwt)) continue;
    fitted = true;
    const key = await entry.keyFor(jwt.alg);
    if (key === null) continue;
    try {
      await compactVerify(jwt.token, key, { algorithms: [jwt.alg] });
      return JwtStatus.Ok;
    } catch {
      // Another key of the set may fit.
    }
  }
  return fitted ? JwtStatus.VerificationFail : JwtStatus.KidAlgMismatch;
}

/** What a source reports (the filter's jwks_fetch_success / jwks_fetch_failed counters). */
export interface JwksFetchObserver {
  onFetch(ok: boolean): void;
}

/** A provider's keys: get() gives them, or null when they cannot be had (Envoy's "Jwks remote fetch is failed"). */
export interface JwksSource {
  get(): JwkEntry[] | null | Promise<JwkEntry[] | null>;
}

export class LocalJwks implements JwksSource {
  private readonly keys: JwkEntry[] | null;
  constructor(text: string) {
    this.keys = parseJwks(text);
  }
  get(): JwkEntry[] | null {
    return this.keys;
  }
}

export class RemoteJwks implements JwksSource {
  private readonly config: RemoteJwksConfig;
  private readonly client: AsyncClient;
  private readonly observer: JwksFetchObserver;
  private keys: JwkEntry[] | null;
  private expiresAtMs: number;
  private inflight: Promise<JwkEntry[] | null> | null;
  private lastFailureMs: number;

  constructor(config: RemoteJwksConfig, client: AsyncClient, observer: JwksFetchObserver) {
    this.config = config;
    this.client = client;
    this.observer = observer;
    this.keys = null;
    this.expiresAtMs = 0;
    this.inflight = null;
    this.lastFailureMs = -Infinity;
    // async_fetch: fetched now, before a request needs the keys.
    if (config.asyncFetch) void this.fetch();
  }

  get(): JwkEntry[] | null | Promise<JwkEntry[] | null> {
    const now = performance.now();
    if (this.keys !== null && now < this.expiresAtMs) return this.keys;
    if (this.config.asyncFetch) {
      // Stale keys serve while the refresh runs; a failed fetch is retried after failed_refetch_duration.
      if (this.inflight === null && now - this.lastFailureMs >= this.config.failedRefetchMs) void this.fetch();
      if (this.keys !== null) return this.keys;
    }
    return this.inflight ?? this.fetch();
  }

  private fetch(): Promise<JwkEntry[] | null> {
    const c = this.config;
    // fetchWithRetries rejects on nothing the peer can cause; anything else is a failed fetch too.
    const p = this.fetchWithRetries()
      .catch(() => null)
      .then((keys) => {
        this.inflight = null;
        this.observer.onFetch(keys !== null);
        if (keys === null) {
          this.lastFailureMs = performance.now();
          return this.config.asyncFetch ? this.keys : null;
        }
        this.keys = keys;
        this.expiresAtMs = performance.now() + c.cacheDurationMs;
        return keys;
      });
    this.inflight = p;
    return p;
  }

  /**
   * Attempts within http_uri.timeout (the whole fetch's, retries included, as Envoy's route timeout), retried as
   * retry_policy says with a jittered exponential back-off. A 200 that is not a JWKS is not retried.
   */
  private async fetchWithRetries(): Promise<JwkEntry[] | null> {
    const c = this.config;
    const deadline = performance.now() + c.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const remaining = Math.ceil(deadline - performance.now());
      if (remaining <= 0) return null;
      let res: AsyncResponse | null = null;
      let error: AsyncClientError | null = null;
      try {
        res = await this.client.send(c.cluster, { method: 'GET', path: c.path, authority: c.authority, headers: null, body: null, timeoutMs: remaining }, MAX_JWKS_BYTES);
      } catch (err) {
        error = err instanceof AsyncClientError ? err : null;
      }
      if (res !== null && res.status === 200) return parseJwks(res.body.toString('utf8'));
      const retry = c.retry;
      if (retry === null || attempt >= retry.numRetries || !retriable(retry, res, error)) return null;
      const wait = Math.random() * Math.min(retry.baseMs * 2 ** attempt, retry.maxMs);
      if (performance.now() + wait >= deadline) return null;
      await new Promise<void>((resolve) => setTimeout(resolve, wait).unref());
    }
  }
}

/** Whether a failed attempt is one retry_on names. */
function retriable(retry: JwksRetryPolicy, res: AsyncResponse | null, error: AsyncClientError | null): boolean {
  if (res !== null) {
    const s = res.status;
    return (retry.on5xx && s >= 500) || (retry.onGatewayError && (s === 502 || s === 503 || s === 504));
  }
  if (error === null) return false;
  switch (error.code) {
    case 'connect_failure':
    case 'no_healthy_upstream':
      return retry.onConnectFailure || retry.on5xx || retry.onGatewayError;
    case 'reset':
      return retry.onReset || retry.on5xx || retry.onGatewayError;
    default:
      return false;
  }
}

export { JwkEntry };

