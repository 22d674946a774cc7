// request/response_headers_to_add/remove at route, virtual host and route configuration level: Envoy's
// evaluation order (and most_specific_header_mutations_wins), append / append_action, keep_empty_value,
// remove-before-add, %COMMAND% values through the real header value formatter.

import test from 'node:test';
import assert from 'node:assert/strict';
import { tableOf, infoFor, type Obj } from './route-fixtures.ts';
import type { Route } from '../../src/router/route-table.ts';

function add(key: string, value: string, extra: Obj = {}): Obj {
  return { header: { key, value }, ...extra };
}

/** A route config with mutations at all three levels, each setting x-level (and the route's name). */
function threeLevels(action: string, mostSpecificWins: boolean): Route {
  const opt = { append_action: action };
  const t = tableOf(
    [
      {
        name: 'vh', domains: ['*'],
        request_headers_to_add: [add('x-level', 'vhost', opt)],
        response_headers_to_add: [add('x-level', 'vhost', opt)],
        routes: [
          {
            match: { prefix: '/' }, route: { cluster: 'c' },
            request_headers_to_add: [add('x-level', 'route', opt)],
            response_headers_to_add: [add('x-level', 'route', opt)],
          },
        ],
      },
    ],
    {
      most_specific_header_mutations_wins: mostSpecificWins,
      request_headers_to_add: [add('x-level', 'global', opt)],
      response_headers_to_add: [add('x-level', 'global', opt)],
    },
  );
  return t.route('h', 'GET', '/', [])!;
}

function values(headers: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) out.push(headers[i + 1]!);
  return out;
}

test('levels run route, virtual host, route configuration: the least specific wins by default', () => {
  const r = threeLevels('OVERWRITE_IF_EXISTS_OR_ADD', false);
  const req: string[] = ['x-level', 'client'];
  r.applyRequestHeaderMutations(req, infoFor(req));
  assert.deepEqual(values(req, 'x-level'), ['global']);
  const resp: string[] = [];
  r.applyResponseHeaderMutations(resp, infoFor([]));
  assert.deepEqual(values(resp, 'x-level'), ['global']);
});

test('most_specific_header_mutations_wins: route configuration, virtual host, route', () => {
  const r = threeLevels('OVERWRITE_IF_EXISTS_OR_ADD', true);
  const req: string[] = [];
  r.applyRequestHeaderMutations(req, infoFor(req));
  assert.deepEqual(values(req, 'x-level'), ['route']);
  const resp: string[] = [];
  r.applyResponseHeaderMutations(resp, infoFor([]));
  assert.deepEqual(values(resp, 'x-level'), ['route']);
});

test('appending levels show the evaluation order', () => {
  const req: string[] = [];
  threeLevels('APPEND_IF_EXISTS_OR_ADD', false).applyRequestHeaderMutations(req, infoFor(req));
  assert.deepEqual(values(req, 'x-level'), ['route', 'vhost', 'global']);
  const req2: string[] = [];
  threeLevels('APPEND_IF_EXISTS_OR_ADD', true).applyRequestHeaderMutations(req2, infoFor(req2));
  assert.deepEqual(values(req2, 'x-level'), ['global', 'vhost', 'route']);
  const req3: string[] = [];
  threeLevels('ADD_IF_ABSENT', false).applyRequestHeaderMutations(req3, infoFor(req3));
  assert.deepEqual(values(req3, 'x-level'), ['route']);
});

/** One route with `adds` as request_headers_to_add (and `removes`), applied to `headers`. */
function applyRoute(adds: Obj[], headers: string[], removes: string[] = []): string[] {
  const t = tableOf([{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: adds, request_headers_to_remove: removes }] }]);
  const out = headers.slice();
  t.route('h', 'GET', '/', out)!.applyRequestHeaderMutations(out, infoFor(out));
  return out;
}

test('append_action on absent and present headers', () => {
  const cases: [action: string, before: string[], after: string[]][] = [
    ['APPEND_IF_EXISTS_OR_ADD', [], ['x-a', 'new']],
    ['APPEND_IF_EXISTS_OR_ADD', ['x-a', 'old'], ['x-a', 'old', 'x-a', 'new']],
    ['ADD_IF_ABSENT', [], ['x-a', 'new']],
    ['ADD_IF_ABSENT', ['x-a', 'old'], ['x-a', 'old']],
    ['OVERWRITE_IF_EXISTS_OR_ADD', [], ['x-a', 'new']],
    ['OVERWRITE_IF_EXISTS_OR_ADD', ['x-a', 'old', 'x-b', 'b', 'x-a', 'older'], ['x-a', 'new', 'x-b', 'b']],
    ['OVERWRITE_IF_EXISTS', [], []],
    ['OVERWRITE_IF_EXISTS', ['x-a', 'old'], ['x-a', 'new']],
  ];
  for (const [action, before, after] of cases) {
    assert.deepEqual(applyRoute([add('x-a', 'new', { append_action: action })], before), after, `${action} on ${JSON.stringify(before)}`);
  }
});

test('deprecated append: true appends (the default), false overwrites', () => {
  assert.deepEqual(applyRoute([add('x-a', 'new', { append: true })], ['x-a', 'old']), ['x-a', 'old', 'x-a', 'new']);
  assert.deepEqual(applyRoute([add('x-a', 'new', { append: false })], ['x-a', 'old']), ['x-a', 'new']);
  assert.deepEqual(applyRoute([add('x-a', 'new')], ['x-a', 'old']), ['x-a', 'old', 'x-a', 'new']);
  assert.deepEqual(applyRoute([add('x-a', 'new', { append: false, append_action: 'APPEND_IF_EXISTS_OR_ADD' })], ['x-a', 'old']), ['x-a', 'new']);
});

test('within a level: removes first, every value decided against the headers before any add, overwrites then appends', () => {
  // Both ADD_IF_ABSENT entries see x-a absent, so both are added (Envoy evaluates all before applying).
  assert.deepEqual(
    applyRoute([add('x-a', '1', { append_action: 'ADD_IF_ABSENT' }), add('x-a', '2', { append_action: 'ADD_IF_ABSENT' })], []),
    ['x-a', '1', 'x-a', '2'],
  );
  // An append listed before an overwrite of the same header still comes after it.
  assert.deepEqual(
    applyRoute([add('x-a', 'appended'), add('x-a', 'over', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], ['x-a', 'old']),
    ['x-a', 'over', 'x-a', 'appended'],
  );
  // A removed header is absent for ADD_IF_ABSENT / OVERWRITE_IF_EXISTS of the same level.
  assert.deepEqual(applyRoute([add('x-a', 'new', { append_action: 'ADD_IF_ABSENT' })], ['x-a', 'old'], ['X-A']), ['x-a', 'new']);
  assert.deepEqual(applyRoute([add('x-a', 'new', { append_action: 'OVERWRITE_IF_EXISTS' })], ['x-a', 'old'], ['x-a']), []);
  // Formatters read the headers as they were before this level's adds.
  assert.deepEqual(
    applyRoute([add('x-a', 'a', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), add('x-copy', '%REQ(x-a)%')], ['x-a', 'orig']),
    ['x-a', 'a', 'x-copy', 'orig'],
  );
});

test('header names are lower-cased; removal removes every occurrence', () => {
  assert.deepEqual(applyRoute([add('X-Mixed-Case', 'v')], []), ['x-mixed-case', 'v']);
  assert.deepEqual(applyRoute([], ['x-debug', '1', 'keep', 'k', 'x-debug', '2'], ['X-Debug']), ['keep', 'k']);
});

test('%COMMAND% values through compileHeaderValueFormat; "%%" is a literal percent', () => {
  const out = applyRoute(
    [add('x-client', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'), add('x-ua', 'ua=%REQ(user-agent)%'), add('x-pct', '100%%'), add('x-plain', 'no format')],
    ['user-agent', 'curl/8'],
  );
  assert.deepEqual(out, ['user-agent', 'curl/8', 'x-client', '203.0.113.7', 'x-ua', 'ua=curl/8', 'x-pct', '100%', 'x-plain', 'no format']);
});

test('empty values are dropped unless keep_empty_value', () => {
  assert.deepEqual(applyRoute([add('x-missing', '%REQ(x-nothing)%')], []), []);
  assert.deepEqual(applyRoute([add('x-missing', '%REQ(x-nothing)%', { keep_empty_value: true })], []), ['x-missing', '']);
  assert.deepEqual(applyRoute([add('x-empty', '')], []), []);
  assert.deepEqual(applyRoute([add('x-empty', '', { keep_empty_value: true })], []), ['x-empty', '']);
  // an empty overwrite does not remove what is there
  assert.deepEqual(applyRoute([add('x-a', '%REQ(x-nothing)%', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], ['x-a', 'old']), ['x-a', 'old']);
});

test('response mutations read the response through %RESP()% and remove per level', () => {
  const t = tableOf(
    [{
      name: 'v', domains: ['*'], response_headers_to_remove: ['x-internal-debug'],
      routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, response_headers_to_add: [add('x-upstream-type', 'was %RESP(content-type)%')] }],
    }],
    { response_headers_to_add: [add('x-served-by', 'legate', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], response_headers_to_remove: ['server'] },
  );
  const r = t.route('h', 'GET', '/', [])!;
  const resp = ['content-type', 'text/html', 'server', 'upstream', 'x-internal-debug', '1', 'x-served-by', 'app'];
  const info = infoFor([]);
  info.responseHeaders = resp;
  r.applyResponseHeaderMutations(resp, info);
  assert.deepEqual(resp, ['content-type', 'text/html', 'x-served-by', 'legate', 'x-upstream-type', 'was text/html']);
});

test('direct responses and redirects get response mutations only', () => {
  const t = tableOf(
    [{
      name: 'v', domains: ['*'],
      routes: [
        { match: { path: '/direct' }, direct_response: { status: 200 }, request_headers_to_add: [add('x-req', '1')], response_headers_to_add: [add('x-resp', 'd')] },
        { match: { path: '/redirect' }, redirect: { host_redirect: 'x' }, response_headers_to_add: [add('x-resp', 'r')] },
      ],
    }],
    { request_headers_to_add: [add('x-global-req', '1')] },
  );
  for (const [path, value] of [['/direct', 'd'], ['/redirect', 'r']] as const) {
    const r = t.route('h', 'GET', path, [])!;
    const req: string[] = [];
    r.applyRequestHeaderMutations(req, infoFor(req));
    assert.deepEqual(req, [], path);
    const resp: string[] = [];
    r.applyResponseHeaderMutations(resp, infoFor([]));
    assert.deepEqual(resp, ['x-resp', value], path);
  }
});

test('the same route applies its mutations to many requests without carrying state', () => {
  const r = threeLevels('APPEND_IF_EXISTS_OR_ADD', false);
  for (let i = 0; i < 3; i++) {
    const req: string[] = [];
    r.applyRequestHeaderMutations(req, infoFor(req));
    assert.deepEqual(values(req, 'x-level'), ['route', 'vhost', 'global']);
  }
});

test('internal_only_headers are listed lower-cased and removed on request', () => {
  const t = tableOf([{ name: 'v', domains: ['*'], routes: [] }], { internal_only_headers: ['X-Internal-Token', 'x-debug'] });
  assert.deepEqual(t.internalOnlyHeaders, ['x-internal-token', 'x-debug']);
  const headers = ['host', 'h', 'x-internal-token', 'secret', 'x-debug', '1', 'x-internal-token', 'again', 'keep', 'k'];
  t.removeInternalOnlyHeaders(headers);
  assert.deepEqual(headers, ['host', 'h', 'keep', 'k']);
});
