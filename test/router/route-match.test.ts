// RouteMatch: prefix, path, safe_regex, path_separated_prefix, case_sensitive, first match wins, headers
// (every specifier, invert_match, treat_missing_header_as_empty, multi-valued headers, pseudo-headers) and
// query_parameters (string_match, present_match, raw values, first value wins).

import test from 'node:test';
import assert from 'node:assert/strict';
import { routesTable, to, requestHeaders, clusterOf, type Obj } from './route-fixtures.ts';

/** [path, matches?] rows for one RouteMatch. */
type Rows = [path: string, matches: boolean][];

function check(match: Obj, rows: Rows, headers = requestHeaders()): void {
  const t = routesTable([to('hit', match)]);
  for (const [path, expected] of rows) {
    assert.equal(clusterOf(t.route('example.com', 'GET', path, headers)), expected ? 'hit' : null, `${JSON.stringify(match)} ${path}`);
  }
}

test('prefix: against the path without query or fragment', () => {
  check({ prefix: '/api' }, [
    ['/api', true], ['/api/v1', true], ['/apiary', true], ['/api?x=1', true], ['/ap', false], ['/API', false],
    ['/ap?i', false], ['/ap#i', false],
  ]);
  check({ prefix: '' }, [['/', true], ['/anything', true], ['?q', true]]);
});

test('prefix with case_sensitive: false folds ASCII only', () => {
  check({ prefix: '/Api/', case_sensitive: false }, [['/api/x', true], ['/API/x', true], ['/aPI/', true], ['/api', false], ['/ápi/', false]]);
});

test('path: exact, query ignored', () => {
  check({ path: '/status' }, [['/status', true], ['/status?verbose', true], ['/status#frag', true], ['/status/', false], ['/Status', false], ['/statu', false]]);
  check({ path: '/Status', case_sensitive: false }, [['/status', true], ['/STATUS?x', true], ['/status/', false]]);
});

test('safe_regex: the whole path without query must match; case_sensitive ignored', () => {
  check({ safe_regex: { regex: '/users/[0-9]+' } }, [
    ['/users/42', true], ['/users/42?x=1', true], ['/users/42/orders', false], ['/v1/users/42', false], ['/users/', false],
  ]);
  check({ safe_regex: { regex: '/a.c' }, case_sensitive: false }, [['/abc', true], ['/ABC', false]]);
  check({ safe_regex: { regex: '(?i)/abc' } }, [['/ABC', true]]);
  check({ safe_regex: { regex: '/x|/y' } }, [['/x', true], ['/y', true], ['/xy', false]]);
});

test('path_separated_prefix: the prefix followed by end, / or the query', () => {
  check({ path_separated_prefix: '/api/dev' }, [
    ['/api/dev', true], ['/api/dev/', true], ['/api/dev/v1', true], ['/api/dev?param=true', true], ['/api/developer', false],
    ['/api/de', false], ['/API/dev', false],
  ]);
  check({ path_separated_prefix: '/Api', case_sensitive: false }, [['/api/x', true], ['/API', true], ['/apix', false]]);
});

test('routes are tried in order and the first match wins', () => {
  const t = routesTable([to('exact', { path: '/a/b' }), to('prefix-ab', { prefix: '/a/b' }), to('prefix-a', { prefix: '/a' }), to('rest', { prefix: '/' })]);
  const rows: [string, string][] = [['/a/b', 'exact'], ['/a/bc', 'prefix-ab'], ['/a/x', 'prefix-a'], ['/z', 'rest']];
  for (const [path, cluster] of rows) assert.equal(clusterOf(t.route('h', 'GET', path, requestHeaders())), cluster, path);
});

test('a route returns the same frozen Route object every time', () => {
  const t = routesTable([to('c', { prefix: '/' })]);
  const a = t.route('h', 'GET', '/x', requestHeaders());
  const b = t.route('other', 'POST', '/y?z', requestHeaders());
  assert.ok(a !== null && a === b);
  assert.ok(Object.isFrozen(a));
  assert.equal(a.routeName, 'c');
});

/** [header list, matches?] rows for one HeaderMatcher. */
function checkHeader(matcher: Obj, rows: [headers: string[], matches: boolean][]): void {
  const t = routesTable([to('hit', { prefix: '/', headers: [matcher] })]);
  for (const [pairs, expected] of rows) {
    const r = t.route('example.com', 'GET', '/p?q=1', requestHeaders(...pairs));
    assert.equal(clusterOf(r), expected ? 'hit' : null, `${JSON.stringify(matcher)} with ${JSON.stringify(pairs)}`);
  }
}

test('header string_match: exact, prefix, suffix, contains, safe_regex, ignore_case', () => {
  checkHeader({ name: 'x-env', string_match: { exact: 'prod' } }, [[['x-env', 'prod'], true], [['x-env', 'Prod'], false], [['x-env', 'prod2'], false], [[], false]]);
  checkHeader({ name: 'X-Env', string_match: { exact: 'prod', ignore_case: true } }, [[['x-env', 'PROD'], true], [['x-env', 'pro'], false]]);
  checkHeader({ name: 'x-env', string_match: { prefix: 'pr' } }, [[['x-env', 'prod'], true], [['x-env', 'xprod'], false]]);
  checkHeader({ name: 'x-env', string_match: { prefix: 'PR', ignore_case: true } }, [[['x-env', 'prod'], true]]);
  checkHeader({ name: 'x-env', string_match: { suffix: 'od' } }, [[['x-env', 'prod'], true], [['x-env', 'prodx'], false]]);
  checkHeader({ name: 'x-env', string_match: { suffix: 'OD', ignore_case: true } }, [[['x-env', 'prod'], true], [['x-env', 'd'], false]]);
  checkHeader({ name: 'x-env', string_match: { contains: 'ro' } }, [[['x-env', 'prod'], true], [['x-env', 'pod'], false]]);
  checkHeader({ name: 'x-env', string_match: { contains: 'RO', ignore_case: true } }, [[['x-env', 'pRod'], true]]);
  checkHeader({ name: 'x-env', string_match: { safe_regex: { regex: 'p[a-z]+' } } }, [[['x-env', 'prod'], true], [['x-env', 'prod1'], false], [['x-env', 'xprod'], false]]);
});

test('header legacy specifiers: exact_match, prefix_match, suffix_match, contains_match, safe_regex_match', () => {
  checkHeader({ name: 'x-a', exact_match: 'v' }, [[['x-a', 'v'], true], [['x-a', 'w'], false], [[], false]]);
  // Envoy's legacy exact_match with an empty value matches any present value.
  checkHeader({ name: 'x-a', exact_match: '' }, [[['x-a', 'anything'], true], [['x-a', ''], true], [[], false]]);
  checkHeader({ name: 'x-a', prefix_match: 'ab' }, [[['x-a', 'abc'], true], [['x-a', 'cab'], false]]);
  checkHeader({ name: 'x-a', suffix_match: 'bc' }, [[['x-a', 'abc'], true], [['x-a', 'bca'], false]]);
  checkHeader({ name: 'x-a', contains_match: 'b' }, [[['x-a', 'abc'], true], [['x-a', 'ac'], false]]);
  checkHeader({ name: 'x-a', safe_regex_match: { regex: '\\d{3}' } }, [[['x-a', '123'], true], [['x-a', '1234'], false]]);
});

test('grpc: content-type application/grpc, with a +suffix or ;parameters', () => {
  const t = routesTable([to('hit', { prefix: '/', grpc: {} })]);
  const cases: [string[], boolean][] = [
    [['content-type', 'application/grpc'], true], [['content-type', 'application/grpc+proto'], true],
    [['content-type', 'application/grpc;charset=utf-8'], true], [['content-type', 'application/grpcx'], false],
    [['content-type', 'application/grp'], false], [['content-type', 'application/json'], false], [[], false],
  ];
  for (const [pairs, expected] of cases) {
    assert.equal(clusterOf(t.route('example.com', 'POST', '/svc/M', requestHeaders(...pairs))), expected ? 'hit' : null, JSON.stringify(pairs));
  }
});

test('safe_regex literal start and end are checked first (a miss in either never runs the regex)', () => {
  check({ safe_regex: { regex: '^/users/[0-9]+/orders-1$' } }, [['/users/12/orders-1', true], ['/users/12/orders-2', false], ['/user/12/orders-1', false]]);
  checkHeader({ name: 'x-v', string_match: { safe_regex: { regex: 'v[0-9]+\\.json' } } }, [[['x-v', 'v12.json'], true], [['x-v', 'v12.jsonx'], false], [['x-v', 'v12xjson'], false]]);
});

test('header presence: present_match, no specifier, and their inversions', () => {
  checkHeader({ name: 'x-a' }, [[['x-a', ''], true], [[], false]]);
  checkHeader({ name: 'x-a', present_match: true }, [[['x-a', 'v'], true], [[], false]]);
  checkHeader({ name: 'x-a', present_match: false }, [[['x-a', 'v'], false], [[], true]]);
  checkHeader({ name: 'x-a', present_match: true, invert_match: true }, [[['x-a', 'v'], false], [[], true]]);
  checkHeader({ name: 'x-a', present_match: false, invert_match: true }, [[['x-a', 'v'], true], [[], false]]);
});

test('header invert_match: an absent header never matches a value matcher, inverted or not', () => {
  checkHeader({ name: 'x-a', string_match: { exact: 'v' }, invert_match: true }, [[['x-a', 'v'], false], [['x-a', 'w'], true], [[], false]]);
  // The proto's own examples: the regex \d{3} does not match 1234, so it matches when inverted.
  checkHeader({ name: 'x-a', string_match: { safe_regex: { regex: '\\d{3}' } }, invert_match: true }, [[['x-a', '1234'], true]]);
});

test('header treat_missing_header_as_empty', () => {
  checkHeader({ name: 'x-a', string_match: { safe_regex: { regex: '^$' } }, treat_missing_header_as_empty: true }, [[[], true], [['x-a', 'v'], false]]);
  checkHeader({ name: 'x-a', string_match: { safe_regex: { regex: '^$' } } }, [[[], false]]);
  checkHeader({ name: 'x-a', string_match: { exact: 'v' }, invert_match: true, treat_missing_header_as_empty: true }, [[[], true]]);
});

test('a header sent several times is matched as its values joined with ","', () => {
  checkHeader({ name: 'x-a', string_match: { exact: 'one,two' } }, [[['x-a', 'one', 'x-b', 'z', 'x-a', 'two'], true], [['x-a', 'one'], false]]);
  checkHeader({ name: 'x-a', string_match: { exact: 'one' } }, [[['x-a', 'one', 'x-a', 'two'], false]]);
});

test('header names are compared lower-cased', () => {
  checkHeader({ name: 'X-Tenant', string_match: { exact: 't1' } }, [[['x-tenant', 't1'], true]]);
});

test('pseudo-headers :method, :path, :authority (and host), :scheme', () => {
  const t = routesTable([
    to('post', { prefix: '/', headers: [{ name: ':method', string_match: { exact: 'POST' } }] }),
    to('query', { prefix: '/', headers: [{ name: ':path', string_match: { suffix: '?debug' } }] }),
    to('host', { prefix: '/', headers: [{ name: ':authority', string_match: { exact: 'a.example' } }] }),
    to('legacy-host', { prefix: '/', headers: [{ name: 'Host', string_match: { exact: 'b.example' } }] }),
    to('https', { prefix: '/', headers: [{ name: ':scheme', string_match: { exact: 'https' } }] }),
    to('protocol', { prefix: '/', headers: [{ name: ':protocol', present_match: true }] }),
    to('rest', { prefix: '/' }),
  ]);
  const h = requestHeaders();
  assert.equal(clusterOf(t.route('x', 'POST', '/', h)), 'post');
  assert.equal(clusterOf(t.route('x', 'GET', '/p?debug', h)), 'query');
  assert.equal(clusterOf(t.route('a.example', 'GET', '/', h)), 'host');
  assert.equal(clusterOf(t.route('b.example', 'GET', '/', h)), 'legacy-host');
  // Legate's downstream is plaintext, so :scheme is http and :protocol never present.
  assert.equal(clusterOf(t.route('x', 'GET', '/', h)), 'rest');
});

test('every header matcher of a route must match', () => {
  const t = routesTable([
    to('both', { prefix: '/', headers: [{ name: 'x-a', present_match: true }, { name: 'x-b', string_match: { exact: '1' } }] }),
  ]);
  assert.equal(clusterOf(t.route('h', 'GET', '/', requestHeaders('x-a', '', 'x-b', '1'))), 'both');
  assert.equal(clusterOf(t.route('h', 'GET', '/', requestHeaders('x-a', ''))), null);
  assert.equal(clusterOf(t.route('h', 'GET', '/', requestHeaders('x-b', '1'))), null);
});

/** [path, matches?] rows for one QueryParameterMatcher. */
function checkQuery(matcher: Obj, rows: Rows): void {
  check({ prefix: '/', query_parameters: [matcher] }, rows);
}

test('query_parameters string_match, on the raw (not percent-decoded) value, first value wins', () => {
  checkQuery({ name: 'debug', string_match: { exact: 'true' } }, [
    ['/x?debug=true', true], ['/x?a=1&debug=true&b=2', true], ['/x?debug=false', false], ['/x?debug=true2', false],
    ['/x?xdebug=true', false], ['/x?debug', false], ['/x', false], ['/x?debug=false&debug=true', false],
    ['/x?debug=true&debug=false', true],
  ]);
  checkQuery({ name: 'q', string_match: { exact: 'a b' } }, [['/?q=a%20b', false], ['/?q=a b', true]]);
  checkQuery({ name: 'q', string_match: { exact: 'a%20b' } }, [['/?q=a%20b', true]]);
  checkQuery({ name: 'q', string_match: { prefix: 'AB', ignore_case: true } }, [['/?q=abc', true], ['/?q=xab', false]]);
  checkQuery({ name: 'q', string_match: { safe_regex: { regex: '[0-9]+' } } }, [['/?q=123', true], ['/?q=12a', false], ['/?q=', false]]);
  checkQuery({ name: 'q', string_match: { exact: '' } }, [['/?q', true], ['/?q=', true], ['/?q=1', false]]);
});

test('query_parameters present_match and a bare name', () => {
  checkQuery({ name: 'debug' }, [['/?debug', true], ['/?debug=', true], ['/?debug=0', true], ['/?debugx=1', false], ['/', false]]);
  checkQuery({ name: 'debug', present_match: true }, [['/?x=1&debug', true], ['/?x=1', false]]);
  // Envoy's present-match behaviour (enable_new_query_param_present_match_behavior): false means absent.
  checkQuery({ name: 'debug', present_match: false }, [['/?x=1', true], ['/', true], ['/?debug=1', false]]);
});

test('query parameters come after the first "?" only', () => {
  checkQuery({ name: 'a', string_match: { exact: '1' } }, [['/p?a=1', true], ['/p?b=2?a=1', false], ['/p?b=2&a=1', true]]);
});

test('header and query matchers combine with the path', () => {
  const t = routesTable([
    to('tenant', { prefix: '/tenant/', headers: [{ name: 'x-tenant', string_match: { exact: 't1' } }], query_parameters: [{ name: 'v', present_match: true }] }),
    to('rest', { prefix: '/' }),
  ]);
  assert.equal(clusterOf(t.route('h', 'GET', '/tenant/x?v', requestHeaders('x-tenant', 't1'))), 'tenant');
  assert.equal(clusterOf(t.route('h', 'GET', '/tenant/x', requestHeaders('x-tenant', 't1'))), 'rest');
  assert.equal(clusterOf(t.route('h', 'GET', '/other?v', requestHeaders('x-tenant', 't1'))), 'rest');
});

test('many near-identical routes: the first that really matches wins, whatever is tested first', () => {
  const routes: Obj[] = [];
  for (let i = 0; i < 40; i++) routes.push(to(`svc-${i}`, { prefix: `/api/v1/service-${i}/` }));
  for (let i = 0; i < 5; i++) routes.push(to(`ci-${i}`, { prefix: `/CI/Service-${i}/`, case_sensitive: false }));
  for (let i = 0; i < 5; i++) routes.push(to(`exact-${i}`, { path: `/status/check-${i}` }));
  for (let i = 0; i < 5; i++) routes.push(to(`sep-${i}`, { path_separated_prefix: `/sep/item-${i}` }));
  for (let i = 0; i < 5; i++) routes.push(to(`re-${i}`, { safe_regex: { regex: `^/users/[0-9]+/orders-${i}$` } }));
  routes.push(to('re-star', { safe_regex: { regex: '/files/a*b' } }));
  routes.push(to('rest', { prefix: '/' }));
  const t = routesTable(routes);
  const rows: [string, string][] = [
    ['/api/v1/service-3/x', 'svc-3'], ['/api/v1/service-33/x', 'svc-33'], ['/api/v1/service-39/', 'svc-39'],
    ['/api/v1/service-40/x', 'rest'], ['/api/v1/service-3', 'rest'], ['/api/v2/service-3/x', 'rest'],
    ['/ci/service-2/x', 'ci-2'], ['/CI/SERVICE-4/', 'ci-4'], ['/ci/service-5/', 'rest'],
    ['/status/check-1', 'exact-1'], ['/status/check-1?x', 'exact-1'], ['/status/check-11', 'rest'],
    ['/sep/item-2', 'sep-2'], ['/sep/item-2/x', 'sep-2'], ['/sep/item-22', 'rest'],
    ['/users/42/orders-3', 're-3'], ['/users/42/orders-3?page=1', 're-3'], ['/users/x/orders-3', 'rest'],
    ['/files/b', 're-star'], ['/files/aab', 're-star'], ['/files/ac', 'rest'],
  ];
  for (const [path, cluster] of rows) assert.equal(clusterOf(t.route('h', 'GET', path, requestHeaders())), cluster, path);
});
