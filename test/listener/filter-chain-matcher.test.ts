// The filter chain matcher: Envoy's criteria order (destination port, destination IP, server name, transport
// protocol, application protocols, direct source IP, source type, source IP, source port), the most specific group
// winning at each step with no fallback, and duplicate detection.

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  anyMatch, buildFilterChainMatcher, parseCidr, parseIp, type ConnectionFacts,
} from '../../src/snapshot/filter-chain-matcher.ts';
import type { CidrSpec, FilterChainMatchSpec } from '../../src/snapshot/snapshot-types.ts';

function cidr(text: string): CidrSpec {
  const [address, len] = text.split('/');
  const c = parseCidr(address!, Number(len));
  assert.ok(typeof c !== 'string', c as string);
  return c;
}

function spec(partial: Partial<Omit<FilterChainMatchSpec, 'prefixRanges' | 'sourcePrefixRanges' | 'directSourcePrefixRanges'>> & {
  prefixRanges?: string[];
  sourcePrefixRanges?: string[];
  directSourcePrefixRanges?: string[];
}): FilterChainMatchSpec {
  return {
    ...anyMatch(),
    ...partial,
    prefixRanges: (partial.prefixRanges ?? []).map(cidr),
    sourcePrefixRanges: (partial.sourcePrefixRanges ?? []).map(cidr),
    directSourcePrefixRanges: (partial.directSourcePrefixRanges ?? []).map(cidr),
  };
}

function facts(partial: Partial<ConnectionFacts> = {}): ConnectionFacts {
  const remoteIp = partial.remoteIp ?? '192.0.2.10';
  return {
    localIp: '10.0.0.1',
    localPort: 443,
    remoteIp,
    remotePort: 40000,
    directRemoteIp: remoteIp,
    serverName: '',
    transportProtocol: 'raw_buffer',
    applicationProtocols: [],
    ...partial,
  };
}

/** Builds the matcher (asserting no duplicates) and returns a function: facts -> chain index or -1. */
function matcher(specs: FilterChainMatchSpec[]): (f: Partial<ConnectionFacts>) => number {
  const built = buildFilterChainMatcher(specs);
  assert.deepEqual(built.duplicates, []);
  return (f) => built.matcher.match(facts(f));
}

test('an empty match takes every connection; no chains match nothing', () => {
  assert.equal(matcher([spec({})])({}), 0);
  assert.equal(matcher([])({}), -1);
});

test('destination port: the exact port wins over "any port", with no fallback when its chains fail later', () => {
  const m = matcher([
    spec({ destinationPort: 443, sourcePrefixRanges: ['10.0.0.0/8'] }),
    spec({}),
  ]);
  assert.equal(m({ localPort: 443, remoteIp: '10.1.1.1' }), 0);
  // Port 443 has its own chains: a source outside 10/8 finds none there, and does not fall back to chain 1.
  assert.equal(m({ localPort: 443, remoteIp: '192.0.2.1' }), -1);
  assert.equal(m({ localPort: 80, remoteIp: '192.0.2.1' }), 1);
});

test('destination IP: the longest prefix holding the address wins, else chains without prefix_ranges', () => {
  const m = matcher([
    spec({ prefixRanges: ['10.0.0.0/8'] }),
    spec({ prefixRanges: ['10.1.0.0/16', '192.168.0.0/16'] }),
    spec({}),
    spec({ prefixRanges: ['2001:db8::/32'] }),
  ]);
  assert.equal(m({ localIp: '10.2.3.4' }), 0);
  assert.equal(m({ localIp: '10.1.3.4' }), 1);
  assert.equal(m({ localIp: '192.168.7.7' }), 1);
  assert.equal(m({ localIp: '172.16.0.1' }), 2);
  assert.equal(m({ localIp: '2001:db8:1::5' }), 3);
  assert.equal(m({ localIp: '2001:db9::5' }), 2);
  // IPv4-mapped IPv6 (a dual-stack listener) is matched as IPv4.
  assert.equal(m({ localIp: '::ffff:10.1.0.9' }), 1);
});

test('server names: exact, then the longest "*." wildcard, then chains without server_names; no SNI is "any"', () => {
  const m = matcher([
    spec({ serverNames: ['www.example.com'] }),
    spec({ serverNames: ['*.example.com'] }),
    spec({ serverNames: ['*.api.example.com'] }),
    spec({}),
  ]);
  assert.equal(m({ serverName: 'www.example.com' }), 0);
  assert.equal(m({ serverName: 'WWW.Example.com' }), 0, 'SNI is case-insensitive');
  assert.equal(m({ serverName: 'shop.example.com' }), 1);
  assert.equal(m({ serverName: 'v1.api.example.com' }), 2);
  assert.equal(m({ serverName: 'a.b.example.com' }), 1);
  assert.equal(m({ serverName: 'example.com' }), 3, '*.example.com does not cover example.com');
  assert.equal(m({ serverName: '' }), 3);
  // Without a catch-all, a connection without SNI has no chain.
  assert.equal(matcher([spec({ serverNames: ['*.example.com'] })])({ serverName: '' }), -1);
});

test('transport protocol: exact, else chains without it; raw_buffer never matches a "tls" chain', () => {
  const m = matcher([spec({ transportProtocol: 'tls' }), spec({ transportProtocol: 'raw_buffer' })]);
  assert.equal(m({ transportProtocol: 'raw_buffer' }), 1);
  assert.equal(m({ transportProtocol: 'tls' }), 0);
  assert.equal(matcher([spec({ transportProtocol: 'tls' })])({}), -1);
});

test('application protocols: the first protocol the client offers that some chain names, else chains without them', () => {
  const m = matcher([spec({ applicationProtocols: ['h2'] }), spec({ applicationProtocols: ['http/1.1'] }), spec({})]);
  assert.equal(m({ applicationProtocols: ['h2', 'http/1.1'] }), 0);
  assert.equal(m({ applicationProtocols: ['http/1.1', 'h2'] }), 1);
  assert.equal(m({ applicationProtocols: ['spdy/3'] }), 2);
  assert.equal(m({ applicationProtocols: [] }), 2);
});

test('source type: loopback or same IP vs external, each over ANY only when such chains exist', () => {
  const m = matcher([spec({ sourceType: 'SAME_IP_OR_LOOPBACK' }), spec({ sourceType: 'EXTERNAL' })]);
  assert.equal(m({ remoteIp: '127.0.0.1' }), 0);
  assert.equal(m({ remoteIp: '::1' }), 0);
  assert.equal(m({ remoteIp: '10.0.0.1', localIp: '10.0.0.1' }), 0, 'same IP as the local address');
  assert.equal(m({ remoteIp: '192.0.2.1' }), 1);
  const onlyLocal = matcher([spec({ sourceType: 'SAME_IP_OR_LOOPBACK' }), spec({ sourcePorts: [1] })]);
  assert.equal(onlyLocal({ remoteIp: '127.0.0.1', remotePort: 1 }), 0, 'the local group wins over ANY');
  assert.equal(onlyLocal({ remoteIp: '192.0.2.1', remotePort: 1 }), 1, 'no EXTERNAL chains: ANY');
  assert.equal(onlyLocal({ remoteIp: '192.0.2.1', remotePort: 2 }), -1);
});

test('source IP and source port: longest prefix, then exact port, else "any"', () => {
  const m = matcher([
    spec({ sourcePrefixRanges: ['192.0.2.0/24'], sourcePorts: [5000] }),
    spec({ sourcePrefixRanges: ['192.0.2.0/24'] }),
    spec({ sourcePrefixRanges: ['192.0.2.128/25'] }),
    spec({}),
  ]);
  assert.equal(m({ remoteIp: '192.0.2.1', remotePort: 5000 }), 0);
  assert.equal(m({ remoteIp: '192.0.2.1', remotePort: 5001 }), 1);
  assert.equal(m({ remoteIp: '192.0.2.200', remotePort: 5000 }), 2, 'the /25 is more specific than the /24');
  assert.equal(m({ remoteIp: '198.51.100.1' }), 3);
});

test('direct source IP is its own step, before source type', () => {
  const m = matcher([spec({ directSourcePrefixRanges: ['10.0.0.0/8'], sourceType: 'EXTERNAL' }), spec({ sourceType: 'SAME_IP_OR_LOOPBACK' })]);
  assert.equal(m({ remoteIp: '10.9.9.9' }), 0);
  assert.equal(m({ remoteIp: '127.0.0.1' }), 1);
});

test('the order of the criteria decides, not the order of the chains', () => {
  // A source range would be more specific to a person, but destination port comes first in Envoy.
  const m = matcher([spec({ sourcePrefixRanges: ['192.0.2.7/32'] }), spec({ destinationPort: 443 })]);
  assert.equal(m({ remoteIp: '192.0.2.7', localPort: 443 }), 1);
  assert.equal(m({ remoteIp: '192.0.2.7', localPort: 8443 }), 0);
  // Server name before source IP.
  const n = matcher([spec({ sourcePrefixRanges: ['192.0.2.7/32'] }), spec({ serverNames: ['a.example'] })]);
  assert.equal(n({ remoteIp: '192.0.2.7', serverName: 'a.example' }), 1);
  assert.equal(n({ remoteIp: '192.0.2.7', serverName: 'b.example' }), 0);
  // Destination IP before server name.
  const d = matcher([spec({ serverNames: ['a.example'] }), spec({ prefixRanges: ['10.0.0.1/32'] })]);
  assert.equal(d({ localIp: '10.0.0.1', serverName: 'a.example' }), 1);
});

test('chains with the same matching rules are reported; overlapping but distinct ones are not', () => {
  assert.deepEqual(buildFilterChainMatcher([spec({}), spec({})]).duplicates, [[0, 1]]);
  assert.deepEqual(buildFilterChainMatcher([spec({ destinationPort: 80 }), spec({ destinationPort: 81 }), spec({ destinationPort: 80 })]).duplicates, [[0, 2]]);
  assert.deepEqual(buildFilterChainMatcher([spec({ sourcePorts: [1000, 1001] }), spec({ sourcePorts: [1001] })]).duplicates, [[0, 1]]);
  // 10.0.0.0/8 written two ways is the same range.
  assert.deepEqual(buildFilterChainMatcher([spec({ prefixRanges: ['10.1.2.3/8'] }), spec({ prefixRanges: ['10.0.0.0/8'] })]).duplicates, [[0, 1]]);
  assert.deepEqual(buildFilterChainMatcher([spec({ prefixRanges: ['10.0.0.0/8'] }), spec({ prefixRanges: ['10.0.0.0/16'] }), spec({ serverNames: ['x'] }), spec({})]).duplicates, []);
});

test('parseCidr clears host bits and rejects what is not a range; parseIp reads both families', () => {
  assert.deepEqual(parseCidr('10.1.2.3', 8), { address: '10.0.0.0', prefixLen: 8, v6: false });
  assert.deepEqual(parseCidr('192.0.2.77', 32), { address: '192.0.2.77', prefixLen: 32, v6: false });
  assert.deepEqual(parseCidr('2001:db8:ff::1', 32), { address: '2001:db8::', prefixLen: 32, v6: true });
  assert.deepEqual(parseCidr('::', 0), { address: '::', prefixLen: 0, v6: true });
  assert.deepEqual(parseCidr('::ffff:10.1.2.3', 104), { address: '10.0.0.0', prefixLen: 8, v6: false });
  assert.equal(parseCidr('10.0.0.0', 33), 'prefix_len 33 is out of range for 10.0.0.0 (0 to 32)');
  assert.equal(parseCidr('example.com', 8), "'example.com' is not an IP address");
  assert.deepEqual(parseIp('::1'), { v6: true, a0: 0, a1: 0, a2: 0, a3: 1 });
  assert.deepEqual(parseIp('fe80::1%eth0'), { v6: true, a0: 0xfe800000, a1: 0, a2: 0, a3: 1 });
  assert.deepEqual(parseIp('1.2.3.4'), { v6: false, a0: 0x01020304, a1: 0, a2: 0, a3: 0 });
  assert.equal(parseIp('1.2.3'), null);
});
