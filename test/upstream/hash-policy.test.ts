// RouteAction.hash_policy (src/router/hash-policy.ts): compile, and each policy's value as Envoy computes it
// (xxHash64 of the value; header values sorted and chained; combined by rotate-left-1 XOR; terminal; no value ->
// no hash), the generated cookie with ttl, and the cluster side (lb_policy, load_balancing_policy).

import test from 'node:test';
import assert from 'node:assert/strict';
import { Hash64, hash64Hex, xxHash64 } from '../../src/common/xxhash64.ts';
import { compileHashPolicies, computeRequestHash, cookieValue, firstQueryValue } from '../../src/router/hash-policy.ts';
import { StreamInfo } from '../../src/http/stream-info.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';
import type { RouteConfigProblem } from '../../src/router/config-values.ts';

function compile(list: unknown[]) {
  const problems: RouteConfigProblem[] = [];
  const policies = compileHashPolicies(list, 'route.hash_policy', problems);
  return { policies, problems };
}

function info(remote = '10.1.2.3:5555', local = '127.0.0.1:10000', path = '/'): StreamInfo {
  const i = new StreamInfo();
  i.downstreamRemoteAddress = remote;
  i.downstreamDirectRemoteAddress = remote;
  i.downstreamLocalAddress = local;
  i.path = path;
  return i;
}

function hashOf(list: unknown[], headers: string[], i = info(), cookies: string[] = []): string | null {
  const { policies, problems } = compile(list);
  assert.deepEqual(problems, []);
  const h = computeRequestHash(policies!, headers, i, new Hash64(), cookies);
  return h === null ? null : hash64Hex(h);
}

const x = (s: string): string => hash64Hex(xxHash64(s, new Hash64()));

test('header: xxHash64 of the value; absent -> no hash', () => {
  const p = [{ header: { header_name: 'X-User' } }];
  assert.equal(hashOf(p, ['x-user', 'alice']), x('alice'));
  assert.equal(hashOf(p, ['x-other', 'alice']), null);
});

test('header with several values: order does not matter, each hash seeds the next', () => {
  const p = [{ header: { header_name: 'x-k' } }];
  const ab = hashOf(p, ['x-k', 'b', 'x-k', 'a']);
  assert.equal(ab, hashOf(p, ['x-k', 'a', 'x-k', 'b']));
  const first = xxHash64('a', new Hash64());
  assert.equal(ab, hash64Hex(xxHash64('b', new Hash64(), first.hi, first.lo)));
});

test('header regex_rewrite: the rewritten value is hashed', () => {
  const p = [{ header: { header_name: 'x-session', regex_rewrite: { pattern: { regex: '^([a-z]+)-.*$' }, substitution: '\\1' } } }];
  assert.equal(hashOf(p, ['x-session', 'tenant-123']), x('tenant'));
  assert.equal(hashOf(p, ['x-session', 'tenant-999']), x('tenant'));
});

test(':authority hashes the host header', () => {
  assert.equal(hashOf([{ header: { header_name: ':authority' } }], ['host', 'example.com']), x('example.com'));
});

test('cookie: the value (quotes stripped); without ttl an absent cookie gives no hash', () => {
  const p = [{ cookie: { name: 'sid' } }];
  assert.equal(hashOf(p, ['cookie', 'a=1; sid="xyz"; b=2']), x('xyz'));
  assert.equal(hashOf(p, ['cookie', 'a=1', 'cookie', 'sid=q']), x('q'));
  assert.equal(hashOf(p, ['cookie', 'sidx=1']), null);
  assert.equal(hashOf(p, ['cookie', 'sid=']), null, 'an empty value is no value');
  assert.equal(cookieValue(['cookie', 'sid=; o=1'], 'sid'), '');
});

test('cookie with ttl: generated from the connection addresses, set on the response, and hashed', () => {
  const p = [{ cookie: { name: 'route', ttl: 3600_000, path: '/app' } }];
  const cookies: string[] = [];
  const i = info('192.0.2.7:40000', '127.0.0.1:10000');
  const h = hashOf(p, [], i, cookies);
  const generated = x('192.0.2.7:40000127.0.0.1:10000');
  assert.deepEqual(cookies, [`route="${generated}"; Max-Age=3600; Path=/app; HttpOnly`]);
  assert.equal(h, x(generated));
  // The next request carries it: the same hash.
  assert.equal(hashOf(p, ['cookie', `route="${generated}"`]), h);
  // ttl 0: a session cookie (no Max-Age).
  const session: string[] = [];
  hashOf([{ cookie: { name: 'r', ttl: 0 } }], [], i, session);
  assert.deepEqual(session, [`r="${generated}"; HttpOnly`]);
});

test('connection_properties.source_ip: the IP without the port', () => {
  const p = [{ connection_properties: { source_ip: true } }];
  assert.equal(hashOf(p, [], info('10.9.8.7:1234')), x('10.9.8.7'));
  assert.equal(hashOf(p, [], info('[::1]:1234')), x('::1'));
  assert.equal(hashOf([{ connection_properties: { source_ip: false } }], [], info()), null);
});

test('query_parameter: the first value, undecoded', () => {
  const p = [{ query_parameter: { name: 'u' } }];
  assert.equal(hashOf(p, [], info(undefined, undefined, '/a?x=1&u=bob%20s&u=2')), x('bob%20s'));
  assert.equal(hashOf(p, [], info(undefined, undefined, '/a?uu=1')), null);
  assert.equal(firstQueryValue('/a?u', 'u'), '');
  assert.equal(firstQueryValue('/a?x=1#u=2', 'u'), null);
});

test('filter_state: the string object\'s value', () => {
  const i = info();
  i.filterState = new Map([['my.key', { value: 'v1', readOnly: true }]]);
  assert.equal(hashOf([{ filter_state: { key: 'my.key' } }], [], i), x('v1'));
  assert.equal(hashOf([{ filter_state: { key: 'other' } }], [], i), null);
});

test('several policies: rotate-left-1 of the previous XOR the next; terminal stops once a value is found', () => {
  const a = xxHash64('A', new Hash64());
  const b = xxHash64('B', new Hash64());
  const rotated = new Hash64(((a.hi << 1) | (a.lo >>> 31)) >>> 0, ((a.lo << 1) | (a.hi >>> 31)) >>> 0);
  const expected = hash64Hex(new Hash64((rotated.hi ^ b.hi) >>> 0, (rotated.lo ^ b.lo) >>> 0));
  const two = [{ header: { header_name: 'x-a' } }, { header: { header_name: 'x-b' } }];
  assert.equal(hashOf(two, ['x-a', 'A', 'x-b', 'B']), expected);
  // The same policy twice does not cancel out.
  assert.notEqual(hashOf([{ header: { header_name: 'x-a' } }, { header: { header_name: 'x-a' } }], ['x-a', 'A']), '0000000000000000');
  const terminal = [{ header: { header_name: 'x-a' }, terminal: true }, { header: { header_name: 'x-b' } }];
  assert.equal(hashOf(terminal, ['x-a', 'A', 'x-b', 'B']), x('A'));
  // A terminal policy with no value does not stop the list.
  assert.equal(hashOf(terminal, ['x-b', 'B']), x('B'));
});

test('compile problems carry the field path', () => {
  assert.deepEqual(compile([{ header: {} }]).problems.map((p) => p.path), ['route.hash_policy[0].header.header_name']);
  assert.deepEqual(compile([{ cookie: { name: '' } }]).problems.map((p) => p.path), ['route.hash_policy[0].cookie.name']);
  assert.equal(compile([{}]).problems.length, 1);
  assert.equal(compile([]).policies, null);
});

// ---- cluster side ----

const endpoint = { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80 } } } };
function cluster(extra: Record<string, unknown>) {
  return compileCluster({ name: 'c', load_assignment: { endpoints: [{ lb_endpoints: [endpoint] }] }, ...extra }, 'clusters[0]');
}

const typed = (type: string, fields: Record<string, unknown> = {}) => ({
  typed_extension_config: { name: type, typed_config: { '@type': `type.googleapis.com/envoy.extensions.load_balancing_policies.${type}`, ...fields } },
});

test('lb_policy RING_HASH / MAGLEV with their configs and Envoy\'s defaults', () => {
  const r = cluster({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 4096 } });
  assert.deepEqual(r.problems, []);
  assert.equal(r.cluster!.lbPolicy, 'RING_HASH');
  assert.deepEqual(r.cluster!.hashLb, { minimumRingSize: 4096, maximumRingSize: 8388608, maglevTableSize: 65537, useHostnameForHashing: false });
  const byName = cluster({ lb_policy: 'MAGLEV', common_lb_config: { consistent_hashing_lb_config: { use_hostname_for_hashing: true } } });
  assert.deepEqual(byName.problems, []);
  assert.equal(byName.cluster!.hashLb.useHostnameForHashing, true);
  const typedByName = cluster({ load_balancing_policy: { policies: [typed('ring_hash.v3.RingHash', { consistent_hashing_lb_config: { use_hostname_for_hashing: true } })] } });
  assert.equal(typedByName.cluster!.hashLb.useHostnameForHashing, true);
  const balance = cluster({ lb_policy: 'MAGLEV', common_lb_config: { consistent_hashing_lb_config: { hash_balance_factor: 150 } } });
  assert.equal(balance.problems[0]!.path, 'clusters[0].common_lb_config.consistent_hashing_lb_config.hash_balance_factor');
  const m = cluster({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 131071 } });
  assert.equal(m.cluster!.lbPolicy, 'MAGLEV');
  assert.equal(m.cluster!.hashLb.maglevTableSize, 131071);
  assert.equal(cluster({ lb_policy: 'MAGLEV' }).cluster!.hashLb.maglevTableSize, 65537);
});

test('bad ring and table sizes, MURMUR_HASH_2 and other policies are refused with their path', () => {
  assert.match(cluster({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 65536 } }).problems[0]!.message, /prime/);
  const minMax = cluster({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 100, maximum_ring_size: 10 } });
  assert.match(minMax.problems[0]!.message, /minimum_ring_size \(100\) > maximum_ring_size \(10\)/);
  const murmur = cluster({ lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } });
  assert.equal(murmur.problems[0]!.code, 'not_supported');
  assert.equal(murmur.problems[0]!.path, 'clusters[0].ring_hash_lb_config.hash_function');
  assert.equal(cluster({ lb_policy: 'CLUSTER_PROVIDED' }).problems[0]!.path, 'clusters[0].lb_policy');
});


test('load_balancing_policy: the typed policies map onto the same balancers; the first known one wins', () => {
  const cases: Array<[unknown, string]> = [
    [typed('round_robin.v3.RoundRobin'), 'ROUND_ROBIN'],
    [typed('random.v3.Random'), 'RANDOM'],
    [typed('least_request.v3.LeastRequest', { choice_count: 3 }), 'LEAST_REQUEST'],
    [typed('ring_hash.v3.RingHash', { minimum_ring_size: 2048 }), 'RING_HASH'],
    [typed('maglev.v3.Maglev', { table_size: 131071 }), 'MAGLEV'],
  ];
  for (const [policy, name] of cases) {
    const r = cluster({ load_balancing_policy: { policies: [policy] } });
    assert.deepEqual(r.problems, [], name);
    assert.equal(r.cluster!.lbPolicy, name);
  }
  const lr = cluster({ load_balancing_policy: { policies: [typed('least_request.v3.LeastRequest', { choice_count: 3 })] } });
  assert.equal(lr.cluster!.leastRequestChoiceCount, 3);
  assert.equal(cluster({ load_balancing_policy: { policies: [typed('ring_hash.v3.RingHash', { minimum_ring_size: 2048 })] } }).cluster!.hashLb.minimumRingSize, 2048);
  const first = cluster({ load_balancing_policy: { policies: [typed('some.v3.Unknown'), typed('maglev.v3.Maglev'), typed('random.v3.Random')] } });
  assert.equal(first.cluster!.lbPolicy, 'MAGLEV');
  const none = cluster({ load_balancing_policy: { policies: [typed('some.v3.Unknown')] } });
  assert.equal(none.problems[0]!.code, 'not_supported');
  const extra = cluster({ load_balancing_policy: { policies: [typed('ring_hash.v3.RingHash', { hash_balance_factor: 150 })] } });
  assert.equal(extra.problems[0]!.path, 'clusters[0].load_balancing_policy.policies[0].typed_extension_config.typed_config.hash_balance_factor');
});

// ---- the config loader: what is refused, with its position ----

const BOOT = (routeExtra: string, clusterExtra: string) => `
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: p
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  cluster: c
                  hash_policy:
${routeExtra}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: c
    load_assignment:
      cluster_name: c
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 80 } } } }] }]
${clusterExtra}
`;

test('the loader takes every supported hash_policy and lb field, and names what it does not take', async () => {
  const { loads, problemsOf } = await import('../config-loader/support.ts');
  const policies = `                  - header: { header_name: x-u, regex_rewrite: { pattern: { regex: "a" }, substitution: "b" } }
                  - cookie: { name: s, ttl: 10s, path: / }
                  - connection_properties: { source_ip: true }
                  - query_parameter: { name: q }
                  - filter_state: { key: k }
                    terminal: true`;
  loads(undefined, BOOT(policies, `    lb_policy: RING_HASH
    ring_hash_lb_config: { minimum_ring_size: 10, maximum_ring_size: 100, hash_function: XX_HASH }`));
  loads(undefined, BOOT(policies, `    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: m
          typed_config: { "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev, table_size: 131071 }`));
  const cookieAttrs = problemsOf(undefined, BOOT(`                  - cookie: { name: s, ttl: 10s, attributes: [{ name: SameSite, value: Lax }] }`, ''));
  assert.equal(cookieAttrs.length, 1);
  assert.match(cookieAttrs[0]!.message, /not supported yet: .*hash_policy\[0\]\.cookie\.attributes \(line \d+\)/);
  const balance = problemsOf(undefined, BOOT(`                  - header: { header_name: x }`, `    lb_policy: MAGLEV
    common_lb_config: { consistent_hashing_lb_config: { hash_balance_factor: 150 } }`));
  assert.match(balance[0]!.message, /not supported yet: .*consistent_hashing_lb_config\.hash_balance_factor/);
  loads(undefined, BOOT(`                  - header: { header_name: x }`, `    lb_policy: MAGLEV
    common_lb_config: { consistent_hashing_lb_config: { use_hostname_for_hashing: true } }`));
});
