// Any thread (pure). Envoy's filter chain selection for a new connection. The primary builds it at compile time
// to find chains with the same matching rules; each worker builds it once per config version and runs match() for
// every accepted connection.
//
// Envoy's order (FilterChainManagerImpl): destination port, destination IP, server name, transport protocol,
// application protocols, directly connected source IP, source type, source IP, source port. At each step only the
// most specific group that fits the connection goes on (an exact port over "any port", the longest CIDR over a
// shorter one or "any", an exact server name over the longest matching "*." wildcard over "any"); if that group
// fails further down there is no fallback to a less specific one, and the connection has no filter chain.

import net from 'node:net';
import type { CidrSpec, FilterChainMatchSpec } from './snapshot-types.ts';

/** What is known about a connection when its filter chain is chosen (after the listener filters ran). */
export interface ConnectionFacts {
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** The peer of the TCP connection itself (differs from remoteIp only behind a PROXY protocol header). */
  directRemoteIp: string;
  /** SNI from the tls_inspector; '' when none. */
  serverName: string;
  /** "raw_buffer" unless a listener filter detected otherwise ("tls"). */
  transportProtocol: string;
  /** ALPN offered by the client, in its order; [] when none. */
  applicationProtocols: readonly string[];
}

// ---- IP addresses ----

/** An IP address as four 32-bit words (IPv4 in a0 only). IPv4-mapped IPv6 addresses are parsed as IPv4. */
export interface IpAddress {
  readonly v6: boolean;
  readonly a0: number;
  readonly a1: number;
  readonly a2: number;
  readonly a3: number;
}

function ipv4Word(text: string): number {
  const p = text.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** Parses a textual IPv4 or IPv6 address (a zone "%eth0" is ignored); null when it is not one. */
export function parseIp(text: string): IpAddress | null {
  const pct = text.indexOf('%');
  const s = pct >= 0 ? text.slice(0, pct) : text;
  if (net.isIPv4(s)) return { v6: false, a0: ipv4Word(s), a1: 0, a2: 0, a3: 0 };
  if (!net.isIPv6(s)) return null;
  const groups: number[] = [];
  const expand = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const w = ipv4Word(g);
        out.push(w >>> 16, w & 0xffff);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const dbl = s.indexOf('::');
  if (dbl < 0) {
    groups.push(...expand(s));
  } else {
    const head = expand(s.slice(0, dbl));
    const tail = expand(s.slice(dbl + 2));
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return { v6: false, a0: ((groups[6]! << 16) | groups[7]!) >>> 0, a1: 0, a2: 0, a3: 0 };
  }
  const w = (i: number): number => ((groups[i]! << 16) | groups[i + 1]!) >>> 0;
  return { v6: true, a0: w(0), a1: w(2), a2: w(4), a3: w(6) };
}

function maskWord(word: number, bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return word;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

function formatIp(ip: IpAddress): string {
  if (!ip.v6) return `${ip.a0 >>> 24}.${(ip.a0 >>> 16) & 255}.${(ip.a0 >>> 8) & 255}.${ip.a0 & 255}`;
  const g: number[] = [];
  for (const w of [ip.a0, ip.a1, ip.a2, ip.a3]) g.push(w >>> 16, w & 0xffff);
  // RFC 5952: the longest run (of at least two) zero groups becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  return bestAt < 0 ? hex(0, 8) : `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/**
 * envoy.config.core.v3.CidrRange -> CidrSpec with the host bits cleared (as Envoy does: 10.1.2.3/8 is 10.0.0.0/8),
 * or a reason it is not one.
 */
export function parseCidr(addressPrefix: string, prefixLen: number): CidrSpec | string {
  const ip = parseIp(addressPrefix);
  if (ip === null || addressPrefix.includes('%')) return `'${addressPrefix}' is not an IP address`;
  // An IPv4-mapped IPv6 prefix counts its length over the IPv6 form.
  const mapped = !ip.v6 && addressPrefix.includes(':');
  const max = ip.v6 || mapped ? 128 : 32;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
    return `prefix_len ${prefixLen} is out of range for ${addressPrefix} (0 to ${max})`;
  }
  const len = mapped ? Math.max(0, prefixLen - 96) : prefixLen;
  const masked: IpAddress = {
    v6: ip.v6,
    a0: maskWord(ip.a0, len),
    a1: maskWord(ip.a1, len - 32),
    a2: maskWord(ip.a2, len - 64),
    a3: maskWord(ip.a3, len - 96),
  };
  return { address: formatIp(masked), prefixLen: len, v6: ip.v6 };
}

export function cidrContains(c: IpAddress, len: number, ip: IpAddress): boolean {
  if (c.v6 !== ip.v6) return false;
  return (
    maskWord(ip.a0, len) === c.a0 &&
    (len <= 32 || maskWord(ip.a1, len - 32) === c.a1) &&
    (len <= 64 || maskWord(ip.a2, len - 64) === c.a2) &&
    (len <= 96 || maskWord(ip.a3, len - 96) === c.a3)
  );
}

function isLoopback(ip: IpAddress): boolean {
  return ip.v6 ? ip.a0 === 0 && ip.a1 === 0 && ip.a2 === 0 && ip.a3 === 1 : ip.a0 >>> 24 === 127;
}

function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.v6 === b.v6 && a.a0 === b.a0 && a.a1 === b.a1 && a.a2 === b.a2 && a.a3 === b.a3;
}

// ---- the match tree ----

/** Per match() call: the connection's addresses, parsed when a step first needs them. */
class ParsedFacts {
  readonly facts: ConnectionFacts;
  private local: IpAddress | null | undefined;
  private remote: IpAddress | null | undefined;
  private direct: IpAddress | null | undefined;

  constructor(facts: ConnectionFacts) {
    this.facts = facts;
    this.local = undefined;
    this.remote = undefined;
    this.direct = undefined;
  }

  ip(which: number): IpAddress | null {
    if (which === DESTINATION) return this.local === undefined ? (this.local = parseIp(this.facts.localIp)) : this.local;
    if (which === SOURCE) return this.remote === undefined ? (this.remote = parseIp(this.facts.remoteIp)) : this.remote;
    return this.direct === undefined ? (this.direct = parseIp(this.facts.directRemoteIp)) : this.direct;
  }
}

const DESTINATION = 0;
const SOURCE = 1;
const DIRECT_SOURCE = 2;

interface MatchNode {
  /** The index of the chain this connection gets, or -1. */
  find(p: ParsedFacts): number;
}

class Leaf implements MatchNode {
  readonly chain: number;
  constructor(chain: number) {
    this.chain = chain;
  }
  find(): number {
    return this.chain;
  }
}

/** Exact port, else the chains without a port (destination_port / source_ports). */
class PortNode implements MatchNode {
  readonly local: boolean;
  readonly byPort: ReadonlyMap<number, MatchNode>;
  readonly any: MatchNode | null;
  constructor(local: boolean, byPort: ReadonlyMap<number, MatchNode>, any: MatchNode | null) {
    this.local = local;
    this.byPort = byPort;
    this.any = any;
  }
  find(p: ParsedFacts): number {
    const next = this.byPort.get(this.local ? p.facts.localPort : p.facts.remotePort) ?? this.any;
    return next === null ? -1 : next.find(p);
  }
}

class CidrEntry {
  readonly network: IpAddress;
  readonly prefixLen: number;
  readonly next: MatchNode;
  constructor(network: IpAddress, prefixLen: number, next: MatchNode) {
    this.network = network;
    this.prefixLen = prefixLen;
    this.next = next;
  }
}

/** The longest range holding the address, else the chains without ranges. */
class CidrNode implements MatchNode {
  readonly which: number;
  /** Longest prefix first. */
  readonly entries: readonly CidrEntry[];
  readonly any: MatchNode | null;
  constructor(which: number, entries: readonly CidrEntry[], any: MatchNode | null) {
    this.which = which;
    this.entries = entries;
    this.any = any;
  }
  find(p: ParsedFacts): number {
    const entries = this.entries;
    if (entries.length > 0) {
      const ip = p.ip(this.which);
      if (ip !== null) {
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          if (cidrContains(e.network, e.prefixLen, ip)) return e.next.find(p);
        }
      }
    }
    return this.any === null ? -1 : this.any.find(p);
  }
}

/** Exact server name, else the longest "*." wildcard that covers it, else the chains without server names. */
class ServerNameNode implements MatchNode {
  readonly exact: ReadonlyMap<string, MatchNode>;
  /** Keyed by the suffix after "*": ".example.com". */
  readonly wildcard: ReadonlyMap<string, MatchNode>;
  readonly any: MatchNode | null;
  constructor(exact: ReadonlyMap<string, MatchNode>, wildcard: ReadonlyMap<string, MatchNode>, any: MatchNode | null) {
    this.exact = exact;
    this.wildcard = wildcard;
    this.any = any;
  }
  find(p: ParsedFacts): number {
    const name = p.facts.serverName.toLowerCase();
    if (name !== '') {
      const exact = this.exact.get(name);
      if (exact !== undefined) return exact.find(p);
      if (this.wildcard.size > 0) {
        // www.a.example.com tries .a.example.com, then .example.com, then .com.
        for (let dot = name.indexOf('.', 1); dot > 0 && dot < name.length - 1; dot = name.indexOf('.', dot + 1)) {
          const w = this.wildcard.get(name.slice(dot));
          if (w !== undefined) return w.find(p);
        }
      }
    }
    return this.any === null ? -1 : this.any.find(p);
  }
}

class TransportProtocolNode implements MatchNode {
  readonly exact: ReadonlyMap<string, MatchNode>;
  readonly any: MatchNode | null;
  constructor(exact: ReadonlyMap<string, MatchNode>, any: MatchNode | null) {
    this.exact = exact;
    this.any = any;
  }
  find(p: ParsedFacts): number {
    const next = this.exact.get(p.facts.transportProtocol) ?? this.any;
    return next === null ? -1 : next.find(p);
  }
}

/** The first of the client's protocols (in its order) some chain names, else the chains without protocols. */
class ApplicationProtocolsNode implements MatchNode {
  readonly exact: ReadonlyMap<string, MatchNode>;
  readonly any: MatchNode | null;
  constructor(exact: ReadonlyMap<string, MatchNode>, any: MatchNode | null) {
    this.exact = exact;
    this.any = any;
  }
  find(p: ParsedFacts): number {
    const offered = p.facts.applicationProtocols;
    for (let i = 0; i < offered.length; i++) {
      const next = this.exact.get(offered[i]!);
      if (next !== undefined) return next.find(p);
    }
    return this.any === null ? -1 : this.any.find(p);
  }
}

/** SAME_IP_OR_LOOPBACK or EXTERNAL chains when the connection is of that kind and such chains exist, else ANY. */
class SourceTypeNode implements MatchNode {
  readonly local: MatchNode | null;
  readonly external: MatchNode | null;
  readonly any: MatchNode | null;
  constructor(local: MatchNode | null, external: MatchNode | null, any: MatchNode | null) {
    this.local = local;
    this.external = external;
    this.any = any;
  }
  find(p: ParsedFacts): number {
    if (this.local !== null || this.external !== null) {
      const remote = p.ip(SOURCE);
      const local = p.ip(DESTINATION);
      const isLocal = remote !== null && (isLoopback(remote) || (local !== null && sameIp(remote, local)));
      const specific = isLocal ? this.local : this.external;
      if (specific !== null) return specific.find(p);
    }
    return this.any === null ? -1 : this.any.find(p);
  }
}

// ---- building ----

type Build = (chains: readonly number[]) => MatchNode;

/** Splits chains by the keys each lists; a chain listing none goes to `any`. */
function groupBy<K>(chains: readonly number[], keysOf: (chain: number) => readonly K[]): { groups: Map<K, number[]>; any: number[] } {
  const groups = new Map<K, number[]>();
  const any: number[] = [];
  for (const c of chains) {
    const keys = keysOf(c);
    if (keys.length === 0) {
      any.push(c);
      continue;
    }
    for (const k of new Set(keys)) {
      let g = groups.get(k);
      if (g === undefined) groups.set(k, (g = []));
      g.push(c);
    }
  }
  return { groups, any };
}

function buildMap<K>(groups: Map<K, number[]>, next: Build): Map<K, MatchNode> {
  const out = new Map<K, MatchNode>();
  for (const [k, g] of groups) out.set(k, next(g));
  return out;
}

function orNull(chains: readonly number[], next: Build): MatchNode | null {
  return chains.length === 0 ? null : next(chains);
}

export class FilterChainMatcher {
  private readonly root: MatchNode | null;

  constructor(root: MatchNode | null) {
    this.root = root;
  }

  /** The index (into the specs it was built from) of the chain for this connection, or -1 for none. */
  match(facts: ConnectionFacts): number {
    return this.root === null ? -1 : this.root.find(new ParsedFacts(facts));
  }
}

export interface BuiltMatcher {
  matcher: FilterChainMatcher;
  /** Pairs of chains (indices, the lower first) with the same matching rules: no connection can tell them apart. */
  duplicates: [number, number][];
}

/** Builds the match tree of a listener's filter chains (not the default chain, which is the caller's fallback). */
export function buildFilterChainMatcher(specs: readonly FilterChainMatchSpec[]): BuiltMatcher {
  const duplicates: [number, number][] = [];
  const seen = new Set<string>();
  const cidrs = (chains: readonly number[], which: number, rangesOf: (s: FilterChainMatchSpec) => CidrSpec[], next: Build): MatchNode => {
    const { groups, any } = groupBy(chains, (c) => rangesOf(specs[c]!).map((r) => `${r.address}/${r.prefixLen}`));
    const entries: CidrEntry[] = [];
    for (const [key, g] of groups) {
      const slash = key.lastIndexOf('/');
      entries.push(new CidrEntry(parseIp(key.slice(0, slash))!, Number(key.slice(slash + 1)), next(g)));
    }
    // Longest prefix first; IPv6 and IPv4 entries never both match one address, so their relative order is moot.
    entries.sort((x, y) => y.prefixLen - x.prefixLen);
    return new CidrNode(which, entries, orNull(any, next));
  };

  const leaf: Build = (chains) => {
    if (chains.length > 1) {
      const key = `${chains[0]}/${chains[1]}`;
      if (!seen.has(key)) {
        seen.add(key);
        duplicates.push([chains[0]!, chains[1]!]);
      }
    }
    return new Leaf(chains[0]!);
  };
  const sourcePort: Build = (chains) => {
    const { groups, any } = groupBy(chains, (c) => specs[c]!.sourcePorts);
    return new PortNode(false, buildMap(groups, leaf), orNull(any, leaf));
  };
  const sourceIp: Build = (chains) => cidrs(chains, SOURCE, (s) => s.sourcePrefixRanges, sourcePort);
  const sourceType: Build = (chains) => {
    const local = chains.filter((c) => specs[c]!.sourceType === 'SAME_IP_OR_LOOPBACK');
    const external = chains.filter((c) => specs[c]!.sourceType === 'EXTERNAL');
    const any = chains.filter((c) => specs[c]!.sourceType === 'ANY');
    return new SourceTypeNode(orNull(local, sourceIp), orNull(external, sourceIp), orNull(any, sourceIp));
  };
  const directSourceIp: Build = (chains) => cidrs(chains, DIRECT_SOURCE, (s) => s.directSourcePrefixRanges, sourceType);
  const applicationProtocols: Build = (chains) => {
    const { groups, any } = groupBy(chains, (c) => specs[c]!.applicationProtocols);
    return new ApplicationProtocolsNode(buildMap(groups, directSourceIp), orNull(any, directSourceIp));
  };
  const transportProtocol: Build = (chains) => {
    const { groups, any } = groupBy(chains, (c) => (specs[c]!.transportProtocol === '' ? [] : [specs[c]!.transportProtocol]));
    return new TransportProtocolNode(buildMap(groups, applicationProtocols), orNull(any, applicationProtocols));
  };
  const serverName: Build = (chains) => {
    const { groups, any } = groupBy(chains, (c) => specs[c]!.serverNames);
    const exact = new Map<string, number[]>();
    const wildcard = new Map<string, number[]>();
    for (const [name, g] of groups) {
      if (name.startsWith('*.')) wildcard.set(name.slice(1), g);
      else exact.set(name, g);
    }
    return new ServerNameNode(buildMap(exact, transportProtocol), buildMap(wildcard, transportProtocol), orNull(any, transportProtocol));
  };
  const destinationIp: Build = (chains) => cidrs(chains, DESTINATION, (s) => s.prefixRanges, serverName);
  const destinationPort: Build = (chains) => {
    const { groups, any } = groupBy(chains, (c) => (specs[c]!.destinationPort === 0 ? [] : [specs[c]!.destinationPort]));
    return new PortNode(true, buildMap(groups, destinationIp), orNull(any, destinationIp));
  };

  const all = specs.map((_, i) => i);
  return { matcher: new FilterChainMatcher(all.length === 0 ? null : destinationPort(all)), duplicates };
}

/** A match that selects every connection (an empty filter_chain_match). */
export function anyMatch(): FilterChainMatchSpec {
  return {
    destinationPort: 0,
    prefixRanges: [],
    serverNames: [],
    transportProtocol: '',
    applicationProtocols: [],
    directSourcePrefixRanges: [],
    sourceType: 'ANY',
    sourcePrefixRanges: [],
    sourcePorts: [],
  };
}

/** Whether a match selects every connection (nothing to look at). */
export function isAnyMatch(m: FilterChainMatchSpec): boolean {
  return (
    m.destinationPort === 0 && m.prefixRanges.length === 0 && m.serverNames.length === 0 && m.transportProtocol === '' &&
    m.applicationProtocols.length === 0 && m.directSourcePrefixRanges.length === 0 && m.sourceType === 'ANY' &&
    m.sourcePrefixRanges.length === 0 && m.sourcePorts.length === 0
  );
}
