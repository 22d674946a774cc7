// Any thread (compile: config time; computeRequestHash: a worker's request path, only for a cluster whose load
// balancer hashes). RouteAction.hash_policy: what a request is hashed by for RING_HASH and MAGLEV, as Envoy's
// HashPolicyImpl: each policy that yields a value is combined into the hash (previous rotated left by one, XOR the
// new value), a `terminal` policy that yielded one ends the list, and none yielding means no hash (a random pick).

import { Hash64, hash64Hex, xxHash64 } from '../common/xxhash64.ts';
import type { HeaderList, StreamInfo } from '../http/stream-info.ts';
import { compileRe2Rewrite, Re2Rewrite } from './re2.ts';
import { regexMatcherLimit } from './string-matcher.ts';
import { asciiLower } from './ascii.ts';
import { bool, checkHeaderName, durationMs, isObj, list, obj, oneofSet, str, type Obj, type RouteConfigProblem } from './config-values.ts';

export const HashPolicyKind = { HEADER: 0, COOKIE: 1, SOURCE_IP: 2, QUERY_PARAMETER: 3, FILTER_STATE: 4 } as const;

/** One compiled RouteAction.HashPolicy (frozen). */
export interface HashPolicy {
  /** A HashPolicyKind. */
  readonly kind: number;
  /** HEADER: the header (lower case; :authority is host); COOKIE: the cookie; QUERY_PARAMETER: the parameter; FILTER_STATE: the key. */
  readonly name: string;
  /** HEADER: regex_rewrite applied to each value before hashing; null: none. */
  readonly regexRewrite: Re2Rewrite | null;
  /** COOKIE: ttl in whole seconds when given (a missing cookie is then generated and set); -1: no ttl. */
  readonly cookieTtlS: number;
  /** COOKIE: the Path attribute of a generated cookie ('' = none). */
  readonly cookiePath: string;
  readonly terminal: boolean;
}

const POLICIES = ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state'] as const;

/** RouteAction.hash_policy at `path`; null when the list is empty or absent. Problems are pushed. */
export function compileHashPolicies(v: unknown, path: string, problems: RouteConfigProblem[]): readonly HashPolicy[] | null {
  const items = list(v);
  if (items.length === 0) return null;
  const out: HashPolicy[] = [];
  for (let i = 0; i < items.length; i++) {
    const p = compileHashPolicy(obj(items[i]), `${path}[${i}]`, problems);
    if (p !== null) out.push(Object.freeze(p));
  }
  return Object.freeze(out);
}

function compileHashPolicy(o: Obj, path: string, problems: RouteConfigProblem[]): HashPolicy | null {
  const which = oneofSet(o, POLICIES, path, true, problems);
  const terminal = bool(o['terminal'], false);
  const base = { kind: 0, name: '', regexRewrite: null as Re2Rewrite | null, cookieTtlS: -1, cookiePath: '', terminal };
  if (which === 'header') {
    const h = obj(o['header']);
    const name = str(h['header_name'], '');
    if (name === '') {
      problems.push({ path: `${path}.header.header_name`, message: 'header_name is required' });
      return null;
    }
    const lower = asciiLower(name);
    if (lower !== ':authority' && !checkHeaderName(name, `${path}.header.header_name`, problems)) return null;
    base.kind = HashPolicyKind.HEADER;
    base.name = lower === ':authority' ? 'host' : lower;
    if (isObj(h['regex_rewrite'])) {
      const rms = h['regex_rewrite'];
      const rPath = `${path}.header.regex_rewrite`;
      if (!isObj(rms['pattern'])) {
        problems.push({ path: `${rPath}.pattern`, message: 'pattern is required' });
        return null;
      }
      const pattern = obj(rms['pattern']);
      const re = compileRe2Rewrite(str(pattern['regex'], ''), str(rms['substitution'], ''), regexMatcherLimit(pattern));
      if (!(re instanceof Re2Rewrite)) {
        problems.push({ path: re.field === 'pattern' ? `${rPath}.pattern.regex` : `${rPath}.substitution`, message: re.error });
        return null;
      }
      base.regexRewrite = re;
    }
    return base;
  }
  if (which === 'cookie') {
    const c = obj(o['cookie']);
    const name = str(c['name'], '');
    if (name === '') {
      problems.push({ path: `${path}.cookie.name`, message: 'name is required' });
      return null;
    }
    base.kind = HashPolicyKind.COOKIE;
    base.name = name;
    if (c['ttl'] !== undefined) base.cookieTtlS = Math.floor(durationMs(c, 'ttl', 0, `${path}.cookie`, problems) / 1000);
    base.cookiePath = str(c['path'], '');
    return base;
  }
  if (which === 'connection_properties') {
    // source_ip false yields no hash (Envoy's ConnectionPropertiesHashMethod is only built for true): kept as a
    // policy that never yields, so the list's order and terminal flags stay as configured.
    base.kind = HashPolicyKind.SOURCE_IP;
    base.name = bool(obj(o['connection_properties'])['source_ip'], false) ? 'source_ip' : '';
    return base;
  }
  if (which === 'query_parameter') {
    const name = str(obj(o['query_parameter'])['name'], '');
    if (name === '') {
      problems.push({ path: `${path}.query_parameter.name`, message: 'name is required' });
      return null;
    }
    base.kind = HashPolicyKind.QUERY_PARAMETER;
    base.name = name;
    return base;
  }
  if (which === 'filter_state') {
    const key = str(obj(o['filter_state'])['key'], '');
    if (key === '') {
      problems.push({ path: `${path}.filter_state.key`, message: 'key is required' });
      return null;
    }
    base.kind = HashPolicyKind.FILTER_STATE;
    base.name = key;
    return base;
  }
  return null;
}

// Scratch for one policy's value (computeRequestHash runs to completion on one thread: never re-entered).
const one = new Hash64();

/**
 * The request's hash into `out` (returned), or null when no policy yielded a value. `setCookies` receives the
 * Set-Cookie values of cookies generated for policies with a ttl (Envoy's router adds them to the response).
 */
export function computeRequestHash(
  policies: readonly HashPolicy[], headers: HeaderList, info: StreamInfo, out: Hash64, setCookies: string[],
): Hash64 | null {
  let have = false;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    if (!policyHash(p, headers, info, setCookies)) continue;
    if (have) {
      // Rotating the previous value keeps two equal policies from cancelling each other out.
      const hi = out.hi, lo = out.lo;
      out.hi = (((hi << 1) | (lo >>> 31)) ^ one.hi) >>> 0;
      out.lo = (((lo << 1) | (hi >>> 31)) ^ one.lo) >>> 0;
    } else {
      out.hi = one.hi;
      out.lo = one.lo;
      have = true;
    }
    if (p.terminal) break;
  }
  return have ? out : null;
}

/** One policy's value into `one`; false when it yields none. */
function policyHash(p: HashPolicy, headers: HeaderList, info: StreamInfo, setCookies: string[]): boolean {
  switch (p.kind) {
    case HashPolicyKind.HEADER:
      return headerHash(p, headers);
    case HashPolicyKind.COOKIE: {
      // An empty value counts as absent (Envoy tests value.empty()).
      const value = cookieValue(headers, p.name);
      if (value !== null && value !== '') {
        xxHash64(value, one);
        return true;
      }
      if (p.cookieTtlS < 0) return false;
      // Envoy's generated cookie: the hex of the hash of the connection's remote and local addresses; the request
      // is hashed by that value, so it goes where the next request carrying the cookie will.
      xxHash64(info.downstreamDirectRemoteAddress + info.downstreamLocalAddress, one);
      const generated = hash64Hex(one);
      setCookies.push(setCookieValue(p, generated));
      xxHash64(generated, one);
      return true;
    }
    case HashPolicyKind.SOURCE_IP: {
      if (p.name === '') return false;
      const ip = ipOf(info.downstreamRemoteAddress);
      if (ip === '') return false;
      xxHash64(ip, one);
      return true;
    }
    case HashPolicyKind.QUERY_PARAMETER: {
      const value = firstQueryValue(info.path, p.name);
      if (value === null) return false;
      xxHash64(value, one);
      return true;
    }
    case HashPolicyKind.FILTER_STATE: {
      const state = info.filterState;
      const obj = state === null ? undefined : state.get(p.name);
      if (obj === undefined) return false;
      xxHash64(obj.value, one);
      return true;
    }
    default:
      return false;
  }
}

/**
 * Every value of the header (regex_rewrite applied), sorted so their order does not matter, hashed as Envoy's
 * HashUtil::xxHash64 over a list: each value's hash seeds the next.
 */
function headerHash(p: HashPolicy, headers: HeaderList): boolean {
  let first: string | null = null;
  let more: string[] | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== p.name) continue;
    const v = p.regexRewrite === null ? headers[i + 1]! : p.regexRewrite.replaceAll(headers[i + 1]!);
    if (first === null) first = v;
    else (more ??= [first]).push(v);
  }
  if (first === null) return false;
  if (more === null) {
    xxHash64(first, one);
    return true;
  }
  more.sort(byBytes);
  one.hi = 0;
  one.lo = 0;
  for (let i = 0; i < more.length; i++) xxHash64(more[i]!, one, one.hi, one.lo);
  return true;
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The value of cookie `name` in the request's cookie headers (quotes stripped), as Envoy's parseCookieValue; null: none. */
export function cookieValue(headers: HeaderList, name: string): string | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'cookie') continue;
    const line = headers[i + 1]!;
    let start = 0;
    while (start <= line.length) {
      let end = line.indexOf(';', start);
      if (end === -1) end = line.length;
      let s = start;
      while (s < end && (line.charCodeAt(s) === 32 || line.charCodeAt(s) === 9)) s++;
      const eq = line.indexOf('=', s);
      if (eq !== -1 && eq < end && eq - s === name.length && line.startsWith(name, s)) {
        let v = line.slice(eq + 1, end).trim();
        if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
        return v;
      }
      start = end + 1;
    }
  }
  return null;
}

/** Envoy's makeSetCookieValue: name="value"; Max-Age=N; Path=p; HttpOnly (Max-Age left out for a ttl of 0). */
function setCookieValue(p: HashPolicy, value: string): string {
  let s = `${p.name}="${value}"`;
  if (p.cookieTtlS > 0) s += `; Max-Age=${p.cookieTtlS}`;
  if (p.cookiePath !== '') s += `; Path=${p.cookiePath}`;
  return s + '; HttpOnly';
}

/** The IP of "1.2.3.4:80" / "[::1]:80" (no port: the string itself). */
function ipOf(address: string): string {
  if (address.charCodeAt(0) === 91 /* [ */) {
    const close = address.indexOf(']');
    return close === -1 ? address : address.slice(1, close);
  }
  const colon = address.lastIndexOf(':');
  return colon === -1 || address.indexOf(':') !== colon ? address : address.slice(0, colon);
}

/** The first value of query parameter `name` in `path`, undecoded (Envoy's QueryParamsMulti.getFirstValue); null: absent. */
export function firstQueryValue(path: string, name: string): string | null {
  const q = path.indexOf('?');
  if (q === -1) return null;
  let end = path.indexOf('#', q);
  if (end === -1) end = path.length;
  let start = q + 1;
  while (start < end) {
    let amp = path.indexOf('&', start);
    if (amp === -1 || amp > end) amp = end;
    const eq = path.indexOf('=', start);
    const keyEnd = eq !== -1 && eq < amp ? eq : amp;
    if (keyEnd - start === name.length && path.startsWith(name, start)) {
      return keyEnd === amp ? '' : path.slice(eq + 1, amp);
    }
    start = amp + 1;
  }
  return null;
}
