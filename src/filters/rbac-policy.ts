// Any thread (pure; compiled at config time, evaluated on the worker per request or connection). envoy.config.rbac.v3.RBAC,
// Envoy's policy engine shared by envoy.filters.http.rbac and envoy.filters.network.rbac: a policy matches when one of
// its permissions and one of its principals match; ALLOW lets through what a policy matches, DENY what none matches,
// LOG everything. Matchers (CIDRs, string and header matchers, RE2) are compiled once here; what is evaluated reads an
// RbacInput the filter fills from its request or connection. A compiled engine holds matchers: built where it is used
// (the worker), never sent across threads.

import type tls from 'node:tls';
import type net from 'node:net';
import type { HeaderList } from '../http/stream-info.ts';
import { compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';
import { compileHeaderMatcher } from '../router/request-matchers.ts';
import { list, num, obj, str, type Obj } from '../router/config-values.ts';
import { parseCidr, parseIp, type IpAddress } from '../snapshot/filter-chain-matcher.ts';
import type { FilterConfigProblem } from './http-filter-config.ts';

/** The mTLS peer as the `authenticated` principal sees it (Envoy's Ssl::ConnectionInfo). */
export interface PeerIdentity {
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  /** The subject in RFC 2253 order ("CN=client,O=Example,C=US"); '' without a certificate. */
  readonly subject: string;
}

const NO_PEER: PeerIdentity = Object.freeze({ uriSans: Object.freeze([]), dnsSans: Object.freeze([]), subject: '' });
const identities = new WeakMap<object, PeerIdentity>();

/** The peer identity of a TLS socket, parsed once per connection; null when the connection is not TLS. */
export function peerIdentityOf(socket: net.Socket): PeerIdentity | null {
  const s = socket as tls.TLSSocket;
  if (s.encrypted !== true) return null;
  let id = identities.get(s);
  if (id !== undefined) return id;
  const cert = s.getPeerX509Certificate();
  if (cert === undefined) {
    id = NO_PEER;
  } else {
    const uriSans: string[] = [];
    const dnsSans: string[] = [];
    for (const entry of splitSubjectAltName(cert.subjectAltName ?? '')) {
      if (entry.startsWith('URI:')) uriSans.push(entry.slice(4));
      else if (entry.startsWith('DNS:')) dnsSans.push(entry.slice(4));
    }
    // Node gives the subject one attribute a line, most significant first; RFC 2253 lists them the other way.
    const subject = cert.subject.split('\n').filter((l) => l !== '').reverse().join(',');
    id = Object.freeze({ uriSans, dnsSans, subject });
  }
  identities.set(s, id);
  return id;
}

/** Node's subjectAltName: "DNS:a, URI:b", a value with a comma quoted as a JSON string. */
function splitSubjectAltName(san: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const kind = san.slice(i, colon + 1);
    let value: string;
    let next: number;
    if (san.charCodeAt(colon + 1) === 34 /* " */) {
      let j = colon + 2;
      while (j < san.length && san.charCodeAt(j) !== 34) j += san.charCodeAt(j) === 92 ? 2 : 1;
      try {
        value = JSON.parse(san.slice(colon + 1, j + 1)) as string;
      } catch {
        value = san.slice(colon + 2, j);
      }
      next = san.indexOf(', ', j);
    } else {
      next = san.indexOf(', ', colon);
      value = san.slice(colon + 1, next < 0 ? san.length : next);
    }
    out.push(kind + value);
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

/**
 * What a policy looks at, filled by the filter once per evaluation. Addresses are IPs without port ('' unknown);
 * they are parsed the first time a CIDR needs them. `headers` is null on a network connection (header and url_path
 * then never match, as Envoy's network filter).
 */
export class RbacInput {
  headers: HeaderList | null;
  /** :path without query or fragment (what url_path matches). */
  path: string;
  /** :path as it is (what a header matcher on ":path" reads). */
  fullPath: string;
  method: string;
  authority: string;
  directRemoteIp: string;
  /** The trusted client IP; when '' and `remoteIpSource` is set, asked from it the first time a rule needs it. */
  remoteIp: string;
  remoteIpSource: { trustedRemoteIp(): string } | null;
  localIp: string;
  localPort: number;
  /** SNI; '' when none. */
  serverName: string;
  /** null: not a TLS connection. */
  peer: PeerIdentity | null;
  private parsedDirect: IpAddress | null | undefined;
  private parsedRemote: IpAddress | null | undefined;
  private parsedLocal: IpAddress | null | undefined;

  constructor() {
    this.headers = null;
    this.path = '';
    this.fullPath = '';
    this.method = '';
    this.authority = '';
    this.directRemoteIp = '';
    this.remoteIp = '';
    this.remoteIpSource = null;
    this.localIp = '';
    this.localPort = 0;
    this.serverName = '';
    this.peer = null;
    this.parsedDirect = undefined;
    this.parsedRemote = undefined;
    this.parsedLocal = undefined;
  }

  directRemote(): IpAddress | null {
    if (this.parsedDirect === undefined) this.parsedDirect = parseIp(this.directRemoteIp);
    return this.parsedDirect;
  }

  remote(): IpAddress | null {
    if (this.parsedRemote === undefined) this.parsedRemote = parseIp(this.remoteIpText());
    return this.parsedRemote;
  }

  /** The trusted client IP as text (asked from remoteIpSource once). */
  remoteIpText(): string {
    if (this.remoteIp === '' && this.remoteIpSource !== null) {
      this.remoteIp = this.remoteIpSource.trustedRemoteIp();
      this.remoteIpSource = null;
    }
    return this.remoteIp;
  }

  local(): IpAddress | null {
    if (this.parsedLocal === undefined) this.parsedLocal = parseIp(this.localIp);
    return this.parsedLocal;
  }
}

/** A compiled permission or principal. */
export type RbacMatcher = (input: RbacInput) => boolean;

export const RbacAction = { ALLOW: 0, DENY: 1, LOG: 2 } as const;

/** What decides for one rule set (policies, or a unified matcher): evaluate() and, after it, the policy that decided. */
export interface RbacDecider {
  /** The policy (or matcher action) name of the last evaluate(); '' when none matched. */
  readonly matchedPolicy: string;
  /** The action is LOG: the filter sets Envoy's access_log_hint (whether a policy matched). */
  readonly logs: boolean;
  /** Whether `input` is allowed. Synchronous, per call, on the thread that owns the decider. */
  evaluate(input: RbacInput): boolean;
}

/** One RBAC (rules or shadow_rules), compiled. */
export class RbacEngine implements RbacDecider {
  readonly action: number;
  /** Policy names in Envoy's order (sorted: Envoy keeps them in an ordered map). */
  readonly names: readonly string[];
  readonly policies: readonly RbacMatcher[];
  /** The policy of the last evaluate(): its name, or '' when none matched. */
  matchedPolicy: string;
  readonly logs: boolean;

  constructor(action: number, names: readonly string[], policies: readonly RbacMatcher[]) {
    this.action = action;
    this.logs = action === RbacAction.LOG;
    this.names = names;
    this.policies = policies;
    this.matchedPolicy = '';
  }

  /** Whether `input` is allowed (LOG: always); matchedPolicy tells which policy matched. Synchronous, per call. */
  evaluate(input: RbacInput): boolean {
    const policies = this.policies;
    let matched = -1;
    for (let i = 0; i < policies.length; i++) {
      if (policies[i]!(input)) {
        matched = i;
        break;
      }
    }
    this.matchedPolicy = matched < 0 ? '' : this.names[matched]!;
    if (this.action === RbacAction.ALLOW) return matched >= 0;
    if (this.action === RbacAction.DENY) return matched < 0;
    return true;
  }
}

/** What the response details (and a connection's termination details) say about a deny (Envoy's). */
export function rbacDenyDetails(policy: string): string {
  return `rbac_access_denied_matched_policy[${policy === '' ? 'none' : policy}]`;
}

function notSupported(problems: FilterConfigProblem[], path: string, what: string): void {
  problems.push({ code: 'not_supported', path, message: `not supported yet: ${what}` });
}

const ANY: RbacMatcher = () => true;
const NEVER: RbacMatcher = () => false;

/** envoy.config.rbac.v3.RBAC at `path`; null with problems when something is invalid or not supported. */
export function compileRbac(o: Obj, path: string, problems: FilterConfigProblem[]): RbacEngine | null {
  const before = problems.length;
  const actionName = o['action'] ?? 'ALLOW';
  const action = actionName === 'ALLOW' || actionName === 0 ? RbacAction.ALLOW
    : actionName === 'DENY' || actionName === 1 ? RbacAction.DENY
      : actionName === 'LOG' || actionName === 2 ? RbacAction.LOG : -1;
  if (action < 0) problems.push({ path: `${path}.action`, message: `unknown RBAC action ${String(actionName)}` });
  const audit = o['audit_logging_options'];
  if (audit !== undefined && audit !== null) notSupported(problems, `${path}.audit_logging_options`, `${path}.audit_logging_options`);
  const policies = obj(o['policies']);
  const names = Object.keys(policies).sort();
  const matchers: RbacMatcher[] = [];
  for (const name of names) {
    const pp = `${path}.policies[${JSON.stringify(name)}]`;
    const p = obj(policies[name]);
    for (const f of ['condition', 'checked_condition']) {
      if (p[f] !== undefined && p[f] !== null) notSupported(problems, `${pp}.${f}`, `${pp}.${f} (CEL expressions)`);
    }
    const perms = list(p['permissions']).map((x, i) => compilePermission(obj(x), `${pp}.permissions[${i}]`, problems));
    const princs = list(p['principals']).map((x, i) => compilePrincipal(obj(x), `${pp}.principals[${i}]`, problems));
    if (perms.length === 0) problems.push({ code: 'missing_field', path: `${pp}.permissions`, message: 'a policy needs at least one permission' });
    if (princs.length === 0) problems.push({ code: 'missing_field', path: `${pp}.principals`, message: 'a policy needs at least one principal' });
    const anyPerm = anyOf(perms);
    const anyPrinc = anyOf(princs);
    matchers.push((input) => anyPerm(input) && anyPrinc(input));
  }
  if (problems.length > before) return null;
  return new RbacEngine(action, Object.freeze(names), Object.freeze(matchers));
}

function anyOf(ms: readonly RbacMatcher[]): RbacMatcher {
  if (ms.length === 0) return NEVER;
  if (ms.length === 1) return ms[0]!;
  return (input) => {
    for (let i = 0; i < ms.length; i++) if (ms[i]!(input)) return true;
    return false;
  };
}

function allOf(ms: readonly RbacMatcher[]): RbacMatcher {
  if (ms.length === 1) return ms[0]!;
  return (input) => {
    for (let i = 0; i < ms.length; i++) if (!ms[i]!(input)) return false;
    return true;
  };
}

/** The rule set in a Permission/Principal oneof (Envoy requires exactly one). */
function ruleOf(o: Obj, kinds: readonly string[], path: string, problems: FilterConfigProblem[]): string | null {
  const set = Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== null);
  if (set.length !== 1) {
    problems.push({ code: set.length === 0 ? 'missing_field' : 'bad_value', path, message: set.length === 0 ? 'a rule is required' : `only one rule may be set, not ${set.join(', ')}` });
    return null;
  }
  const k = set[0]!;
  if (!kinds.includes(k)) {
    notSupported(problems, `${path}.${k}`, `${path}.${k}`);
    return null;
  }
  return k;
}

const PERMISSION_KINDS = [
  'and_rules', 'or_rules', 'any', 'header', 'url_path', 'destination_ip', 'destination_port', 'destination_port_range',
  'not_rule', 'requested_server_name',
];

function compilePermission(p: Obj, path: string, problems: FilterConfigProblem[]): RbacMatcher {
  const kind = ruleOf(p, PERMISSION_KINDS, path, problems);
  const v = p[kind ?? ''];
  switch (kind) {
    case 'any':
      return ANY;
    case 'and_rules':
    case 'or_rules': {
      const rules = list(obj(v)['rules']).map((x, i) => compilePermission(obj(x), `${path}.${kind}.rules[${i}]`, problems));
      if (rules.length === 0) problems.push({ code: 'missing_field', path: `${path}.${kind}.rules`, message: 'a rule set needs at least one rule' });
      return kind === 'and_rules' ? allOf(rules) : anyOf(rules);
    }
    case 'not_rule': {
      const inner = compilePermission(obj(v), `${path}.not_rule`, problems);
      return (input) => !inner(input);
    }
    case 'header':
      return headerRule(obj(v), `${path}.header`, problems);
    case 'url_path':
      return pathRule(obj(v), `${path}.url_path`, problems);
    case 'destination_ip':
      return cidrRule(obj(v), `${path}.destination_ip`, problems, LOCAL);
    case 'destination_port': {
      const port = num(v, 0);
      return (input) => input.localPort === port;
    }
    case 'destination_port_range': {
      // Int32Range: start inclusive, end exclusive.
      const start = num(obj(v)['start'], 0);
      const end = num(obj(v)['end'], 0);
      if (end < start) problems.push({ path: `${path}.destination_port_range`, message: `end ${end} is before start ${start}` });
      return (input) => input.localPort >= start && input.localPort < end;
    }
    case 'requested_server_name': {
      const m = compileStringMatcher(obj(v), `${path}.requested_server_name`, problems);
      return m === null ? NEVER : (input) => m.match(input.serverName);
    }
    default:
      return NEVER;
  }
}

const PRINCIPAL_KINDS = [
  'and_ids', 'or_ids', 'any', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip', 'header', 'url_path', 'not_id',
];

function compilePrincipal(p: Obj, path: string, problems: FilterConfigProblem[]): RbacMatcher {
  const kind = ruleOf(p, PRINCIPAL_KINDS, path, problems);
  const v = p[kind ?? ''];
  switch (kind) {
    case 'any':
      return ANY;
    case 'and_ids':
    case 'or_ids': {
      const ids = list(obj(v)['ids']).map((x, i) => compilePrincipal(obj(x), `${path}.${kind}.ids[${i}]`, problems));
      if (ids.length === 0) problems.push({ code: 'missing_field', path: `${path}.${kind}.ids`, message: 'an id set needs at least one id' });
      return kind === 'and_ids' ? allOf(ids) : anyOf(ids);
    }
    case 'not_id': {
      const inner = compilePrincipal(obj(v), `${path}.not_id`, problems);
      return (input) => !inner(input);
    }
    case 'authenticated':
      return authenticatedRule(obj(v), `${path}.authenticated`, problems);
    // source_ip (deprecated) is the direct remote address, as Envoy's.
    case 'source_ip':
    case 'direct_remote_ip':
      return cidrRule(obj(v), `${path}.${kind}`, problems, DIRECT_REMOTE);
    case 'remote_ip':
      return cidrRule(obj(v), `${path}.remote_ip`, problems, REMOTE);
    case 'header':
      return headerRule(obj(v), `${path}.header`, problems);
    case 'url_path':
      return pathRule(obj(v), `${path}.url_path`, problems);
    default:
      return NEVER;
  }
}

/**
 * Envoy's AuthenticatedMatcher: a TLS connection; with principal_name, one of the peer certificate's URI SANs, else
 * one of its DNS SANs, else its subject must match.
 */
function authenticatedRule(a: Obj, path: string, problems: FilterConfigProblem[]): RbacMatcher {
  if (a['principal_name'] === undefined || a['principal_name'] === null) return (input) => input.peer !== null;
  const m = compileStringMatcher(obj(a['principal_name']), `${path}.principal_name`, problems);
  if (m === null) return NEVER;
  return (input) => {
    const peer = input.peer;
    if (peer === null) return false;
    for (let i = 0; i < peer.uriSans.length; i++) if (m.match(peer.uriSans[i]!)) return true;
    for (let i = 0; i < peer.dnsSans.length; i++) if (m.match(peer.dnsSans[i]!)) return true;
    return m.match(peer.subject);
  };
}

function headerRule(h: Obj, path: string, problems: FilterConfigProblem[]): RbacMatcher {
  const m = compileHeaderMatcher(h, path, problems);
  if (m === null) return NEVER;
  return (input) => input.headers !== null && m.matches(input.headers, input.authority, input.method, input.fullPath);
}

/** PathMatcher: the path without query and fragment against a StringMatcher (never on a network connection). */
function pathRule(pm: Obj, path: string, problems: FilterConfigProblem[]): RbacMatcher {
  if (pm['path'] === undefined) {
    problems.push({ code: 'missing_field', path: `${path}.path`, message: 'a PathMatcher needs path' });
    return NEVER;
  }
  const m: StringMatcher | null = compileStringMatcher(obj(pm['path']), `${path}.path`, problems);
  if (m === null) return NEVER;
  return (input) => input.headers !== null && m.match(input.path);
}

const LOCAL = 0;
const DIRECT_REMOTE = 1;
const REMOTE = 2;

function cidrRule(c: Obj, path: string, problems: FilterConfigProblem[], which: number): RbacMatcher {
  const spec = parseCidr(str(c['address_prefix'], ''), num(c['prefix_len'], 0));
  if (typeof spec === 'string') {
    problems.push({ path, message: spec });
    return NEVER;
  }
  const net = parseIp(spec.address)!;
  const len = spec.prefixLen;
  return (input) => {
    const ip = which === LOCAL ? input.local() : which === DIRECT_REMOTE ? input.directRemote() : input.remote();
    return ip !== null && cidrContains(net, len, ip);
  };
}

function maskWord(word: number, bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return word;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

function cidrContains(c: IpAddress, len: number, ip: IpAddress): boolean {
  if (c.v6 !== ip.v6) return false;
  return maskWord(ip.a0, len) === c.a0 && maskWord(ip.a1, len - 32) === c.a1 && maskWord(ip.a2, len - 64) === c.a2 && maskWord(ip.a3, len - 96) === c.a3;
}

/** The path of a :path value without its query and fragment. */
export function pathWithoutQuery(p: string): string {
  let end = p.length;
  const q = p.indexOf('?');
  if (q >= 0) end = q;
  const h = p.indexOf('#');
  if (h >= 0 && h < end) end = h;
  return end === p.length ? p : p.slice(0, end);
}
