// RouteAction: prefix_rewrite (the matched prefix or path replaced, query kept), regex_rewrite (RE2
// substitution on the path without query), host rewrites, timeouts and their defaults.

import test from 'node:test';
import assert from 'node:assert/strict';
import { routesTable, to, requestHeaders, infoFor, type Obj } from './route-fixtures.ts';
import { RouteKind } from '../../src/router/route-table.ts';

function rewrite(match: Obj, action: Obj, rows: [from: string, to: string][]): void {
  const t = routesTable([to('c', match, action)]);
  for (const [from, expected] of rows) {
    const r = t.route('h', 'GET', from, requestHeaders());
    assert.ok(r !== null, `no route for ${from}`);
    assert.equal(r.rewritePath(from), expected, `${JSON.stringify(match)} ${JSON.stringify(action)} ${from}`);
  }
}

test('no rewrite returns the path itself', () => {
  const t = routesTable([to('c', { prefix: '/' })]);
  const path = '/a/b?c=d';
  assert.equal(t.route('h', 'GET', path, requestHeaders())!.rewritePath(path), path);
  rewrite({ prefix: '/' }, { prefix_rewrite: '' }, [['/a?b', '/a?b']]); // an empty prefix_rewrite is no rewrite
});

test('prefix_rewrite replaces the matched prefix and keeps the rest and the query', () => {
  rewrite({ prefix: '/prefix/' }, { prefix_rewrite: '/' }, [['/prefix/etc', '/etc'], ['/prefix/', '/'], ['/prefix/a?x=1', '/a?x=1']]);
  rewrite({ prefix: '/prefix' }, { prefix_rewrite: '/' }, [['/prefix', '/'], ['/prefix/etc', '//etc'], ['/prefix?q', '/?q']]);
  rewrite({ prefix: '/api/v1' }, { prefix_rewrite: '/v2' }, [['/api/v1/users', '/v2/users']]);
  // case-insensitive matches replace as many characters as the configured prefix has
  rewrite({ prefix: '/API/', case_sensitive: false }, { prefix_rewrite: '/internal/' }, [['/api/x', '/internal/x'], ['/Api/x?y', '/internal/x?y']]);
});

test('prefix_rewrite on path, path_separated_prefix and safe_regex routes', () => {
  rewrite({ path: '/old' }, { prefix_rewrite: '/new' }, [['/old', '/new'], ['/old?a=b', '/new?a=b']]);
  rewrite({ path_separated_prefix: '/svc' }, { prefix_rewrite: '/backend' }, [['/svc/a', '/backend/a'], ['/svc', '/backend'], ['/svc?x', '/backend?x']]);
  // a regex match "matched" the whole path without query
  rewrite({ safe_regex: { regex: '/users/[0-9]+' } }, { prefix_rewrite: '/user' }, [['/users/42?x=1', '/user?x=1']]);
});

test('regex_rewrite: the proto documentation examples', () => {
  rewrite({ prefix: '/' }, { regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } }, [
    ['/service/foo/v1/api', '/v1/api/instance/foo'],
  ]);
  rewrite({ prefix: '/' }, { regex_rewrite: { pattern: { regex: 'one' }, substitution: 'two' } }, [['/xxx/one/yyy/one/zzz', '/xxx/two/yyy/two/zzz']]);
  rewrite({ prefix: '/' }, { regex_rewrite: { pattern: { regex: '^(.*?)one(.*)$' }, substitution: '\\1two\\2' } }, [['/xxx/one/yyy/one/zzz', '/xxx/two/yyy/one/zzz']]);
  rewrite({ prefix: '/' }, { regex_rewrite: { pattern: { regex: '(?i)/xxx/' }, substitution: '/yyy/' } }, [['/aaa/XxX/bbb', '/aaa/yyy/bbb']]);
});

test('regex_rewrite works on the path without query and re-appends it', () => {
  const action = { regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } };
  rewrite({ prefix: '/' }, action, [['/a/a?a=a', '/b/b?a=a'], ['/aa#a', '/bb#a'], ['/x', '/x']]);
  rewrite({ prefix: '/' }, { regex_rewrite: { pattern: { regex: '^/v1' }, substitution: '\\0/\\\\$1' } }, [['/v1/x', '/v1/\\$1/x']]);
  rewrite({ prefix: '/' }, { regex_rewrite: { pattern: { regex: '^.*$' }, substitution: '' } }, [['/gone?q', '?q']]);
});

test('host rewrites', () => {
  const t = routesTable([
    to('literal', { prefix: '/l' }, { host_rewrite_literal: 'upstream.internal' }),
    to('auto', { prefix: '/a' }, { auto_host_rewrite: true }),
    to('from-header', { prefix: '/h' }, { host_rewrite_header: 'X-Host' }),
    to('plain', { prefix: '/' }),
  ]);
  const l = t.route('h', 'GET', '/l', requestHeaders())!;
  assert.equal(l.hostRewriteLiteral, 'upstream.internal');
  assert.equal(l.autoHostRewrite, false);
  const a = t.route('h', 'GET', '/a', requestHeaders())!;
  assert.equal(a.autoHostRewrite, true);
  assert.equal(a.hostRewriteLiteral, null);
  const p = t.route('h', 'GET', '/p', requestHeaders())!;
  assert.equal(p.hostRewriteLiteral, null);
  assert.equal(p.hostRewriteHeader, null);

  const hr = t.route('h', 'GET', '/h', requestHeaders())!;
  assert.equal(hr.hostRewriteHeader, 'x-host');
  const headers = ['host', 'example.com', 'x-host', 'backend.example', 'x-host', 'second'];
  hr.applyRequestHeaderMutations(headers, infoFor(headers));
  assert.deepEqual(headers, ['host', 'backend.example', 'x-host', 'backend.example', 'x-host', 'second']);
  // absent or empty: host untouched
  for (const hs of [['host', 'example.com'], ['host', 'example.com', 'x-host', '']]) {
    const copy = hs.slice();
    hr.applyRequestHeaderMutations(copy, infoFor(copy));
    assert.deepEqual(copy, hs);
  }
});

test('host_rewrite_header runs after the header mutations, as in Envoy', () => {
  const t = routesTable([
    {
      match: { prefix: '/' },
      route: { cluster: 'c', host_rewrite_header: 'x-host' },
      request_headers_to_add: [{ header: { key: 'x-host', value: 'added.example' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    },
  ]);
  const headers = ['host', 'example.com'];
  t.route('h', 'GET', '/', headers)!.applyRequestHeaderMutations(headers, infoFor(headers));
  assert.deepEqual(headers, ['host', 'added.example', 'x-host', 'added.example']);
});

test('timeouts: 15 s by default, 0 disables, idle_timeout only when set', () => {
  const t = routesTable([
    to('default', { path: '/d' }),
    to('set', { path: '/s' }, { timeout: 2500.9, idle_timeout: 30_000 }),
    to('off', { path: '/o' }, { timeout: 0, idle_timeout: 0 }),
  ]);
  const d = t.route('h', 'GET', '/d', requestHeaders())!;
  assert.deepEqual([d.kind, d.timeoutMs, d.idleTimeoutMs, d.idleTimeoutConfigured], [RouteKind.CLUSTER, 15_000, 0, false]);
  const s = t.route('h', 'GET', '/s', requestHeaders())!;
  assert.deepEqual([s.timeoutMs, s.idleTimeoutMs, s.idleTimeoutConfigured], [2500, 30_000, true]);
  const o = t.route('h', 'GET', '/o', requestHeaders())!;
  assert.deepEqual([o.timeoutMs, o.idleTimeoutMs, o.idleTimeoutConfigured], [0, 0, true]);
});

test('cluster routes carry their cluster and name, and nothing of the other kinds', () => {
  const r = routesTable([{ name: 'named', match: { prefix: '/' }, route: { cluster: 'backend' } }]).route('h', 'GET', '/', requestHeaders())!;
  assert.deepEqual(
    [r.kind, r.routeName, r.clusterName, r.directStatus, r.directBody, r.redirectStatus],
    [RouteKind.CLUSTER, 'named', 'backend', 0, null, 0],
  );
});
