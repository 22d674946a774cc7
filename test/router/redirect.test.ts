// RedirectAction: Location built as Envoy's newUri does (scheme, host, port, path, query) for every field, the
// response codes, and VirtualHost.require_tls's redirect.

import test from 'node:test';
import assert from 'node:assert/strict';
import { routesTable, tableOf, requestHeaders, type Obj } from './route-fixtures.ts';
import { RouteKind } from '../../src/router/route-table.ts';

/** [redirect action, request scheme, authority, path, expected Location] */
type Row = [redirect: Obj, scheme: string, authority: string, path: string, location: string];

const rows: Row[] = [
  // scheme
  [{ https_redirect: true }, 'http', 'example.com', '/p?q=1', 'https://example.com/p?q=1'],
  [{ https_redirect: true }, 'http', 'example.com:80', '/p', 'https://example.com/p'], // old scheme's default port dropped
  [{ https_redirect: true }, 'http', 'example.com:8080', '/p', 'https://example.com:8080/p'],
  [{ https_redirect: true }, 'http', 'example.com:443', '/p', 'https://example.com:443/p'], // only the *old* default goes
  [{ https_redirect: true }, 'https', 'example.com:443', '/p', 'https://example.com:443/p'], // scheme unchanged: port kept
  [{ https_redirect: false }, 'http', 'example.com', '/p', 'http://example.com/p'],
  [{ scheme_redirect: 'http' }, 'https', 'example.com:443', '/p', 'http://example.com/p'],
  [{ scheme_redirect: 'ws' }, 'http', 'example.com:80', '/p', 'ws://example.com/p'],
  [{ https_redirect: true }, 'http', '[::1]:80', '/p', 'https://[::1]/p'],
  [{ https_redirect: true }, 'http', '[::1]', '/p', 'https://[::1]/p'],
  [{ https_redirect: true }, 'http', '[2001:db8::1]:8080', '/p', 'https://[2001:db8::1]:8080/p'],
  // host and port
  [{ host_redirect: 'new.example' }, 'http', 'old.example:8080', '/p', 'http://new.example/p'],
  [{ port_redirect: 8443 }, 'http', 'example.com:8080', '/p', 'http://example.com:8443/p'],
  [{ port_redirect: 8443 }, 'http', 'example.com', '/p', 'http://example.com:8443/p'],
  [{ port_redirect: 8443 }, 'http', '[::1]:8080', '/p', 'http://[::1]:8443/p'],
  [{ host_redirect: 'new.example', port_redirect: 8443 }, 'http', 'old.example:80', '/p', 'http://new.example:8443/p'],
  [{ host_redirect: 'new.example', https_redirect: true, port_redirect: 443 }, 'http', 'old', '/p', 'https://new.example:443/p'],
  [{ path_redirect: '/new' }, 'http', 'example.com:80', '/old', 'http://example.com:80/new'], // same scheme: port kept
  // path_redirect and the query
  [{ path_redirect: '/new' }, 'http', 'h', '/old?a=1', 'http://h/new?a=1'],
  [{ path_redirect: '/new', strip_query: true }, 'http', 'h', '/old?a=1', 'http://h/new'],
  [{ path_redirect: '/new?b=2' }, 'http', 'h', '/old?a=1', 'http://h/new?b=2'],
  [{ path_redirect: '/new?b=2', strip_query: true }, 'http', 'h', '/old?a=1', 'http://h/new?b=2'],
  [{ path_redirect: 'relative' }, 'http', 'h', '/old', 'http://h/relative'],
  [{ strip_query: true }, 'http', 'h', '/keep?a=1&b=2', 'http://h/keep'],
  [{ host_redirect: 'h2' }, 'http', 'h', '/keep?a=1', 'http://h2/keep?a=1'],
];

test('redirect Location for every RedirectAction field', () => {
  for (const [redirect, scheme, authority, path, location] of rows) {
    const r = routesTable([{ match: { prefix: '/' }, redirect }]).route(authority, 'GET', path, requestHeaders())!;
    assert.equal(r.kind, RouteKind.REDIRECT);
    assert.equal(r.redirectLocation(scheme, authority, path), location, `${JSON.stringify(redirect)} ${scheme}://${authority}${path}`);
  }
});

test('redirect prefix_rewrite and regex_rewrite rewrite the path, keeping the query unless stripped', () => {
  const t = routesTable([
    { match: { prefix: '/old/' }, redirect: { prefix_rewrite: '/new/' } },
    { match: { path: '/exact' }, redirect: { prefix_rewrite: '/other', strip_query: true } },
    { match: { prefix: '/svc/' }, redirect: { regex_rewrite: { pattern: { regex: '^/svc/([^/]+)/(.*)$' }, substitution: '/\\2/\\1' } } },
    { match: { prefix: '/gone' }, redirect: { regex_rewrite: { pattern: { regex: '^.*$' }, substitution: '' } } },
  ]);
  const loc = (path: string) => t.route('h', 'GET', path, requestHeaders())!.redirectLocation('http', 'h', path);
  assert.equal(loc('/old/x?y=1'), 'http://h/new/x?y=1');
  assert.equal(loc('/exact?y=1'), 'http://h/other');
  assert.equal(loc('/svc/users/list?page=2'), 'http://h/list/users?page=2');
  assert.equal(loc('/gone?x'), 'http://h/gone?x'); // a rewrite to nothing is no rewrite
});

test('redirect response codes', () => {
  const codes: [string | undefined, number][] = [
    [undefined, 301], ['MOVED_PERMANENTLY', 301], ['FOUND', 302], ['SEE_OTHER', 303], ['TEMPORARY_REDIRECT', 307], ['PERMANENT_REDIRECT', 308],
  ];
  for (const [name, status] of codes) {
    const redirect: Obj = { host_redirect: 'x' };
    if (name !== undefined) redirect['response_code'] = name;
    const r = routesTable([{ match: { prefix: '/' }, redirect }]).route('h', 'GET', '/', requestHeaders())!;
    assert.equal(r.redirectStatus, status, String(name));
  }
});

test('require_tls ALL redirects plaintext requests to https with host and path kept', () => {
  const t = tableOf([
    { name: 'secure', domains: ['secure.example', 'secure.example:8080'], require_tls: 'ALL', routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] },
    { name: 'open', domains: ['*'], require_tls: 'NONE', routes: [{ match: { prefix: '/' }, route: { cluster: 'o' } }] },
  ]);
  const r = t.route('secure.example:8080', 'GET', '/p?q=1', requestHeaders())!;
  assert.equal(r.kind, RouteKind.REDIRECT);
  assert.equal(r.redirectStatus, 301);
  assert.equal(r.redirectLocation('http', 'secure.example:8080', '/p?q=1'), 'https://secure.example:8080/p?q=1');
  assert.equal(r.routeName, '');
  // no route match needed: even a path no route takes is redirected
  const headers = ['host', 'secure.example', 'x-forwarded-proto', 'https'];
  assert.equal(t.route('secure.example', 'GET', '/p', headers)?.clusterName, 'c');
  assert.equal(t.route('other', 'GET', '/p', requestHeaders())?.clusterName, 'o');
  // no x-forwarded-proto at all counts as not https
  assert.equal(t.route('secure.example', 'GET', '/p', ['host', 'secure.example'])?.kind, RouteKind.REDIRECT);
});

test('require_tls EXTERNAL_ONLY spares requests marked x-envoy-internal: true', () => {
  const t = tableOf([{ name: 'v', domains: ['*'], require_tls: 'EXTERNAL_ONLY', routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }]);
  assert.equal(t.route('h', 'GET', '/', requestHeaders())?.kind, RouteKind.REDIRECT);
  assert.equal(t.route('h', 'GET', '/', requestHeaders('x-envoy-internal', 'true'))?.clusterName, 'c');
  assert.equal(t.route('h', 'GET', '/', requestHeaders('x-envoy-internal', 'yes'))?.kind, RouteKind.REDIRECT);
});

test('the TLS redirect adds no header mutations', () => {
  const t = tableOf(
    [{ name: 'v', domains: ['*'], require_tls: 'ALL', response_headers_to_add: [{ header: { key: 'x-v', value: '1' } }] }],
    { response_headers_to_add: [{ header: { key: 'x-g', value: '1' } }] },
  );
  const r = t.route('h', 'GET', '/', requestHeaders())!;
  const headers: string[] = [];
  r.applyResponseHeaderMutations(headers, {} as never);
  assert.deepEqual(headers, []);
});
