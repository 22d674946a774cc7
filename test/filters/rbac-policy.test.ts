// The RBAC policy engine and matcher in process (src/filters/rbac-policy.ts, rbac-matcher.ts, rbac-config.ts): Envoy's
// evaluation of permissions and principals on inputs the test sets, policy order, actions, and what is refused as not
// supported yet (by the compiler, and by the config loader with its position).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileRbac, RbacInput, pathWithoutQuery, rbacDenyDetails, type PeerIdentity } from '../../src/filters/rbac-policy.ts';
import { compileRbacMatcher } from '../../src/filters/rbac-matcher.ts';
import { compileNetworkRbac, compileRbacPerRoute, compileRbacRules } from '../../src/filters/rbac-config.ts';
import type { FilterConfigProblem } from '../../src/filters/http-filter-config.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { ConfigErrorList } from '../../src/config-loader/config-error.ts';

function input(o: Partial<Pick<RbacInput, 'headers' | 'path' | 'method' | 'authority' | 'directRemoteIp' | 'remoteIp' | 'localIp' | 'localPort' | 'serverName' | 'peer'>>): RbacInput {
  const i = new RbacInput();
  Object.assign(i, { headers: [], path: '/', method: 'GET', authority: 'example.com', directRemoteIp: '127.0.0.1', remoteIp: '127.0.0.1', localIp: '127.0.0.1', localPort: 8080 }, o);
  return i;
}

function engine(rbac: object) {
  const problems: FilterConfigProblem[] = [];
  const e = compileRbac(rbac as never, 'rules', problems);
  assert.deepEqual(problems, []);
  return e!;
}

const ANY_PRINCIPAL = [{ any: true }];

describe('RBAC policies', () => {
  it('ALLOW lets through what some policy matches; DENY what none matches; LOG everything; names in sorted order', () => {
    const policies = {
      'b-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: ANY_PRINCIPAL },
      'a-any-admin': { permissions: [{ url_path: { path: { prefix: '/adm' } } }], principals: ANY_PRINCIPAL },
    };
    const allow = engine({ action: 'ALLOW', policies });
    assert.equal(allow.evaluate(input({ path: '/admin/x' })), true);
    assert.equal(allow.matchedPolicy, 'a-any-admin');
    assert.equal(allow.evaluate(input({ path: '/public' })), false);
    assert.equal(allow.matchedPolicy, '');
    const deny = engine({ action: 'DENY', policies });
    assert.equal(deny.evaluate(input({ path: '/admin' })), false);
    assert.equal(deny.evaluate(input({ path: '/x' })), true);
    const log = engine({ action: 'LOG', policies });
    assert.equal(log.evaluate(input({ path: '/admin' })), true);
    assert.equal(log.matchedPolicy, 'a-any-admin');
    assert.equal(rbacDenyDetails(''), 'rbac_access_denied_matched_policy[none]');
    assert.equal(rbacDenyDetails('p'), 'rbac_access_denied_matched_policy[p]');
  });

  it('an empty ALLOW policy set denies everything; an empty DENY set allows everything', () => {
    assert.equal(engine({ policies: {} }).evaluate(input({})), false);
    assert.equal(engine({ action: 'DENY', policies: {} }).evaluate(input({})), true);
  });

  it('permissions: ports, port ranges (end exclusive), destination CIDRs (v4, v6), SNI, and/or/not', () => {
    const e = (perm: object) => engine({ policies: { p: { permissions: [perm], principals: ANY_PRINCIPAL } } });
    assert.equal(e({ destination_port: 8080 }).evaluate(input({ localPort: 8080 })), true);
    assert.equal(e({ destination_port: 8080 }).evaluate(input({ localPort: 8081 })), false);
    const range = e({ destination_port_range: { start: 8000, end: 8080 } });
    assert.deepEqual([7999, 8000, 8079, 8080].map((p) => range.evaluate(input({ localPort: p }))), [false, true, true, false]);
    const v4 = e({ destination_ip: { address_prefix: '10.1.2.3', prefix_len: 16 } });
    assert.equal(v4.evaluate(input({ localIp: '10.1.200.1' })), true);
    assert.equal(v4.evaluate(input({ localIp: '10.2.0.1' })), false);
    assert.equal(v4.evaluate(input({ localIp: '::ffff:10.1.0.9' })), true, 'an IPv4-mapped address is the IPv4 address');
    const v6 = e({ destination_ip: { address_prefix: '2001:db8::', prefix_len: 32 } });
    assert.equal(v6.evaluate(input({ localIp: '2001:db8:1::5' })), true);
    assert.equal(v6.evaluate(input({ localIp: '2001:db9::5' })), false);
    assert.equal(v6.evaluate(input({ localIp: '10.1.0.1' })), false);
    const sni = e({ requested_server_name: { suffix: '.example.com' } });
    assert.equal(sni.evaluate(input({ serverName: 'a.example.com' })), true);
    assert.equal(sni.evaluate(input({ serverName: '' })), false);
    const combo = e({ and_rules: { rules: [{ or_rules: { rules: [{ destination_port: 1 }, { destination_port: 2 }] } }, { not_rule: { header: { name: 'x-block', present_match: true } } }] } });
    assert.equal(combo.evaluate(input({ localPort: 2 })), true);
    assert.equal(combo.evaluate(input({ localPort: 2, headers: ['x-block', '1'] })), false);
    assert.equal(combo.evaluate(input({ localPort: 3 })), false);
  });

  it('url_path ignores the query and fragment; header and url_path never match a network connection', () => {
    assert.equal(pathWithoutQuery('/a/b?c=1#d'), '/a/b');
    assert.equal(pathWithoutQuery('/a#x?y'), '/a');
    const e = engine({ policies: { p: { permissions: [{ url_path: { path: { exact: '/a/b' } } }], principals: ANY_PRINCIPAL } } });
    assert.equal(e.evaluate(input({ path: pathWithoutQuery('/a/b?x') })), true);
    assert.equal(e.evaluate(input({ path: '/a/b', headers: null })), false);
    const h = engine({ policies: { p: { permissions: [{ any: true }], principals: [{ not_id: { header: { name: 'x-a', exact_match: 'v' } } }] } } });
    assert.equal(h.evaluate(input({ headers: null })), true, 'not_id of a header on a connection: the header never matches');
  });

  it('principals: direct_remote_ip and source_ip read the peer, remote_ip the trusted client address', () => {
    const e = (princ: object) => engine({ policies: { p: { permissions: [{ any: true }], principals: [princ] } } });
    const direct = e({ direct_remote_ip: { address_prefix: '192.0.2.0', prefix_len: 24 } });
    const source = e({ source_ip: { address_prefix: '192.0.2.0', prefix_len: 24 } });
    const remote = e({ remote_ip: { address_prefix: '192.0.2.0', prefix_len: 24 } });
    const i = input({ directRemoteIp: '192.0.2.7', remoteIp: '198.51.100.1' });
    assert.deepEqual([direct.evaluate(i), source.evaluate(i), remote.evaluate(i)], [true, true, false]);
    const ids = e({ and_ids: { ids: [{ remote_ip: { address_prefix: '198.51.100.0', prefix_len: 24 } }, { or_ids: { ids: [{ any: true }] } }] } });
    assert.equal(ids.evaluate(i), true);
  });

  it('authenticated: any TLS connection without principal_name; else URI SANs, then DNS SANs, then the subject', () => {
    const peer = (p: Partial<PeerIdentity>): PeerIdentity => ({ uriSans: [], dnsSans: [], subject: '', ...p });
    const any = engine({ policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: {} }] } } });
    assert.equal(any.evaluate(input({ peer: null })), false);
    assert.equal(any.evaluate(input({ peer: peer({}) })), true);
    const named = (m: object) => engine({ policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: m } }] } } });
    const alice = peer({ uriSans: ['spiffe://t/alice'], dnsSans: ['alice.test'], subject: 'CN=alice,O=Legate' });
    assert.equal(named({ exact: 'spiffe://t/alice' }).evaluate(input({ peer: alice })), true);
    assert.equal(named({ exact: 'alice.test' }).evaluate(input({ peer: alice })), true);
    assert.equal(named({ prefix: 'CN=alice,' }).evaluate(input({ peer: alice })), true);
    assert.equal(named({ exact: 'bob' }).evaluate(input({ peer: alice })), false);
    assert.equal(named({ exact: 'bob' }).evaluate(input({ peer: null })), false);
  });

  it('refuses what it does not run as not supported yet, at the field path', () => {
    const problems: FilterConfigProblem[] = [];
    compileRbac({ policies: { p: { permissions: [{ metadata: { filter: 'x' } }], principals: [{ filter_state: { key: 'k' } }] } } }, 'rules', problems);
    assert.deepEqual(problems.map((p) => [p.code, p.path]), [
      ['not_supported', 'rules.policies["p"].permissions[0].metadata'],
      ['not_supported', 'rules.policies["p"].principals[0].filter_state'],
    ]);
    const cidr: FilterConfigProblem[] = [];
    compileRbac({ policies: { p: { permissions: [{ destination_ip: { address_prefix: 'nope', prefix_len: 8 } }], principals: ANY_PRINCIPAL } } }, 'rules', cidr);
    assert.equal(cidr.length, 1);
  });

  it('config: rules and matcher are exclusive; RBACPerRoute without rbac is off; network stat_prefix is required', () => {
    const both: FilterConfigProblem[] = [];
    compileRbacRules({ rules: { policies: {} }, matcher: { matcher_list: { matchers: [] } } }, 'rbac', both);
    assert.equal(both.length, 1);
    assert.equal(compileRbacPerRoute({}, 'r', []).rules, null);
    const pr = compileRbacPerRoute({ rbac: { rules: { action: 'DENY', policies: {} } } }, 'r', []);
    assert.equal(pr.rules!.rules!.evaluate(input({})), true);
    const net: FilterConfigProblem[] = [];
    assert.equal(compileNetworkRbac({ rules: { policies: {} } }, 'f', net), null);
    assert.deepEqual(net.map((p) => p.path), ['f.stat_prefix']);
  });
});

describe('RBAC matcher (unified matcher API)', () => {
  const action = (name: string, a: string) => ({ action: { name: 'action', typed_config: { '@type': 'type.googleapis.com/envoy.config.rbac.v3.Action', name, action: a } } });
  const header = (name: string, m: object) => ({
    single_predicate: { input: { name: 'h', typed_config: { '@type': 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput', header_name: name } }, value_match: m },
  });

  it('the first matcher that matches decides; else on_no_match; without it, denied', () => {
    const problems: FilterConfigProblem[] = [];
    const m = compileRbacMatcher({
      matcher_list: {
        matchers: [
          { predicate: { not_matcher: header('referer', { prefix: 'https://ok' }) }, on_match: action('bad-referer', 'DENY') },
          { predicate: { and_matcher: { predicate: [header('x-a', { exact: '1' }), header('x-b', { exact: '2' })] } }, on_match: action('both', 'ALLOW') },
        ],
      },
    }, 'matcher', problems, true)!;
    assert.deepEqual(problems, []);
    assert.equal(m.evaluate(input({ headers: ['referer', 'https://evil'] })), false);
    assert.equal(m.matchedPolicy, 'bad-referer');
    assert.equal(m.evaluate(input({ headers: ['referer', 'https://ok/x', 'x-a', '1', 'x-b', '2'] })), true);
    assert.equal(m.matchedPolicy, 'both');
    assert.equal(m.evaluate(input({ headers: ['referer', 'https://ok/x'] })), false, 'no match and no on_no_match: denied');
    assert.equal(m.matchedPolicy, '');
  });

  it('refuses matcher_tree, custom_match and inputs it does not have', () => {
    const p1: FilterConfigProblem[] = [];
    assert.equal(compileRbacMatcher({ matcher_tree: {} }, 'm', p1, true), null);
    assert.equal(p1[0]!.code, 'not_supported');
    const p2: FilterConfigProblem[] = [];
    compileRbacMatcher({ matcher_list: { matchers: [{ predicate: header('x', { exact: 'y' }), on_match: action('a', 'ALLOW') }] } }, 'm', p2, false);
    assert.equal(p2[0]!.code, 'not_supported', 'request headers are not an input of the network filter');
  });
});

describe('the config loader and RBAC', () => {
  it('refuses an RBAC field Legate does not run as not supported yet, with its position', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-rbac-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, `static_resources:
  listeners:
  - address: { socket_address: { address: 127.0.0.1, port_value: 1 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: x
          route_config: {}
          http_filters:
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                policies:
                  p:
                    permissions: [{ any: true }]
                    principals: [{ any: true }]
                    condition: { const_expr: { bool_value: true } }
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`);
    try {
      assert.throws(() => loadConfig({ configPath: file, configYaml: undefined }), (err: unknown) => {
        assert.ok(err instanceof ConfigErrorList);
        assert.equal(err.problems.length, 1);
        assert.equal(err.problems[0]!.code, 'not_supported');
        assert.match(err.problems[0]!.message, /not supported yet: .*condition \(line 20\)/);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
