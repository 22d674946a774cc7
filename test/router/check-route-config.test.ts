// checkRouteConfig: the problems the schema cannot see, each at its exact field path, and none for valid configs.

import test from 'node:test';
import assert from 'node:assert/strict';
import { checkRouteConfig } from '../../src/router/check-route-config.ts';
import type { Obj } from './route-fixtures.ts';

const P = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config';

const ok = (extra: Obj = {}): Obj => ({ match: { prefix: '/' }, route: { cluster: 'c' }, ...extra });

/** A config of one virtual host (`vhost` merged in) holding `routes`, plus top-level `top`. */
function rc(routes: Obj[], vhost: Obj = {}, top: Obj = {}): Obj {
  return { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes, ...vhost }], ...top };
}

const R = `${P}.virtual_hosts[0].routes[0]`;
const V = `${P}.virtual_hosts[0]`;

/** [what, config, [path, message fragment] expected] */
const cases: [string, Obj, [string, string][]][] = [
  ['regex that does not compile', rc([{ match: { safe_regex: { regex: '/a(b' } }, route: { cluster: 'c' } }]), [[`${R}.match.safe_regex.regex`, 'unclosed group']]],
  ['backreference', rc([{ match: { safe_regex: { regex: '(a)\\1' } }, route: { cluster: 'c' } }]), [[`${R}.match.safe_regex.regex`, 'backreferences like \\1 are not supported by RE2']]],
  ['lookahead', rc([{ match: { safe_regex: { regex: '/a(?=b)' } }, route: { cluster: 'c' } }]), [[`${R}.match.safe_regex.regex`, 'lookahead and lookbehind']]],
  ['lookbehind in a header matcher', rc([ok({ match: { prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '(?<!a)b' } } }] } })]), [[`${R}.match.headers[0].string_match.safe_regex.regex`, 'lookahead and lookbehind']]],
  ['bad legacy header regex', rc([ok({ match: { prefix: '/', headers: [{ name: 'x', safe_regex_match: { regex: '\\u0041' } }] } })]), [[`${R}.match.headers[0].safe_regex_match.regex`, 'invalid escape sequence \\u']]],
  ['bad query regex', rc([ok({ match: { prefix: '/', query_parameters: [{ name: 'q', string_match: { safe_regex: { regex: 'a{2000}' } } }] } })]), [[`${R}.match.query_parameters[0].string_match.safe_regex.regex`, 'at most 1000']]],
  ['bad regex_rewrite pattern', rc([ok({ route: { cluster: 'c', regex_rewrite: { pattern: { regex: '*' }, substitution: '' } } })]), [[`${R}.route.regex_rewrite.pattern.regex`, 'invalid RE2 regex']]],
  ['regex over the default program size (100)', rc([{ match: { safe_regex: { regex: '/asdf/.*'.repeat(13) } }, route: { cluster: 'c' } }]), [[`${R}.match.safe_regex.regex`, 'max program size of 100 set for the error level threshold']]],
  ['regex over google_re2.max_program_size', rc([ok({ match: { prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '/asdf/.*', google_re2: { max_program_size: 1 } } } }] } })]), [[`${R}.match.headers[0].string_match.safe_regex.regex`, 'max program size of 1. Increase configured max program size']]],
  ['regex_rewrite pattern over the program size', rc([ok({ route: { cluster: 'c', regex_rewrite: { pattern: { regex: 'a{200}' }, substitution: '' } } })]), [[`${R}.route.regex_rewrite.pattern.regex`, 'program size of']]],
  ['substitution naming a missing group', rc([ok({ route: { cluster: 'c', regex_rewrite: { pattern: { regex: '^/(a)$' }, substitution: '/\\2' } } })]), [[`${R}.route.regex_rewrite.substitution`, 'refers to group \\2 but the pattern has 1 capture group']]],
  ['substitution with a bad escape', rc([{ match: { prefix: '/' }, redirect: { regex_rewrite: { pattern: { regex: 'a' }, substitution: '\\n' } } }]), [[`${R}.redirect.regex_rewrite.substitution`, 'invalid rewrite']]],
  ['no action', rc([{ match: { prefix: '/' } }]), [[R, 'one of route, redirect, direct_response is required']]],
  ['two actions', rc([{ match: { prefix: '/' }, route: { cluster: 'c' }, direct_response: { status: 200 } }]), [[R, 'only one of route, redirect, direct_response']]],
  ['no match', rc([{ route: { cluster: 'c' } }]), [[`${R}.match`, 'match is required']]],
  ['no path specifier', rc([{ match: { headers: [{ name: 'x' }] }, route: { cluster: 'c' } }]), [[`${R}.match`, 'one of prefix, path, safe_regex, path_separated_prefix is required']]],
  ['path_separated_prefix ending in /', rc([{ match: { path_separated_prefix: '/api/' }, route: { cluster: 'c' } }]), [[`${R}.match.path_separated_prefix`, "must not end in '/'"]]],
  ['path_separated_prefix with ?', rc([{ match: { path_separated_prefix: '/a?b' }, route: { cluster: 'c' } }]), [[`${R}.match.path_separated_prefix`, "must not contain '?'"]]],
  ['no cluster', rc([{ match: { prefix: '/' }, route: {} }]), [[`${R}.route.cluster`, 'cluster is required']]],
  ['prefix_rewrite and regex_rewrite', rc([ok({ route: { cluster: 'c', prefix_rewrite: '/x', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } })]), [[`${R}.route`, 'only one of prefix_rewrite and regex_rewrite']]],
  ['bad host_rewrite_header name', rc([ok({ route: { cluster: 'c', host_rewrite_header: 'x host' } })]), [[`${R}.route.host_rewrite_header`, 'not a valid HTTP header name']]],
  ['negative timeout', rc([ok({ route: { cluster: 'c', timeout: -1 } })]), [[`${R}.route.timeout`, 'non-negative']]],
  ['port_redirect out of range', rc([{ match: { prefix: '/' }, redirect: { port_redirect: 70000 } }]), [[`${R}.redirect.port_redirect`, 'port number']]],
  ['CR in host_redirect', rc([{ match: { prefix: '/' }, redirect: { host_redirect: 'a\r\nb' } }]), [[`${R}.redirect.host_redirect`, 'NUL, CR or LF']]],
  ['unreadable body file', rc([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: '/nonexistent/legate/body.html' } } }]), [[`${R}.direct_response.body.filename`, "cannot read direct_response body file '/nonexistent/legate/body.html': ENOENT"]]],
  ['body too large', rc([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(4097) } } }]), [[`${R}.direct_response.body.inline_string`, 'response body is 4097 bytes; the maximum is 4096']]],
  ['bad status', rc([{ match: { prefix: '/' }, direct_response: { status: 99 } }]), [[`${R}.direct_response.status`, 'from 200 to 599']]],
  ['removing :path', rc([ok({ request_headers_to_remove: [':path'] })]), [[`${R}.request_headers_to_remove[0]`, "':path': ':'-prefixed headers and host may not be removed"]]],
  ['removing Host', rc([ok()], { response_headers_to_remove: ['x-ok', 'Host'] }), [[`${V}.response_headers_to_remove[1]`, "'Host': ':'-prefixed headers and host may not be removed"]]],
  ['adding :authority', rc([ok()], {}, { request_headers_to_add: [{ header: { key: ':authority', value: 'x' } }] }), [[`${P}.request_headers_to_add[0].header.key`, 'may not be modified']]],
  ['adding host', rc([ok({ response_headers_to_add: [{ header: { key: 'x-fine', value: '1' } }, { header: { key: 'HOST', value: 'x' } }] })]), [[`${R}.response_headers_to_add[1].header.key`, 'may not be modified']]],
  ['bad header name', rc([ok({ request_headers_to_add: [{ header: { key: 'bad name', value: 'x' } }] })]), [[`${R}.request_headers_to_add[0].header.key`, 'not a valid HTTP header name']]],
  ['LF in a header value', rc([ok({ request_headers_to_add: [{ header: { key: 'x-a', value: 'a\nb' } }] })]), [[`${R}.request_headers_to_add[0].header.value`, 'NUL, CR or LF']]],
  ['unknown format operator', rc([ok({ request_headers_to_add: [{ header: { key: 'x-a', value: '%NO_SUCH_THING%' } }] })]), [[`${R}.request_headers_to_add[0].header.value`, 'invalid header value format']]],
  ['append with append_action', rc([ok({ request_headers_to_add: [{ header: { key: 'x-a', value: 'v' }, append: true, append_action: 'OVERWRITE_IF_EXISTS' }] })]), [[`${R}.request_headers_to_add[0].append`, 'append and append_action cannot both be set']]],
  ['bad header matcher name', rc([ok({ match: { prefix: '/', headers: [{ name: 'x y', present_match: true }] } })]), [[`${R}.match.headers[0].name`, 'not a valid HTTP header name']]],
  ['two header match specifiers', rc([ok({ match: { prefix: '/', headers: [{ name: 'x', exact_match: 'a', present_match: true }] } })]), [[`${R}.match.headers[0]`, 'only one of exact_match']]],
  ['string matcher without a pattern', rc([ok({ match: { prefix: '/', headers: [{ name: 'x', string_match: { ignore_case: true } }] } })]), [[`${R}.match.headers[0].string_match`, 'one of exact, prefix, suffix, contains, safe_regex is required']]],
  ['bad internal_only_headers name', rc([ok()], {}, { internal_only_headers: ['x-ok', 'not ok'] }), [[`${P}.internal_only_headers[1]`, 'not a valid HTTP header name']]],
];

test('checkRouteConfig finds each problem at its path', () => {
  for (const [what, config, expected] of cases) {
    const problems = checkRouteConfig(config, P);
    assert.equal(problems.length, expected.length, `${what}: ${JSON.stringify(problems)}`);
    expected.forEach(([path, fragment], i) => {
      assert.equal(problems[i]!.path, path, what);
      assert.ok(problems[i]!.message.includes(fragment), `${what}: "${problems[i]!.message}" lacks "${fragment}"`);
    });
  }
});

test('domains: duplicates across virtual hosts, one *, wildcard placement', () => {
  const problems = checkRouteConfig({
    virtual_hosts: [
      { name: 'a', domains: ['example.com', '*', '*.example.com'], routes: [ok()] },
      { name: 'b', domains: ['EXAMPLE.com', '*', '*.Example.COM', 'api.*', 'a*b.com', '*.x.*', 'ok.example.com'], routes: [ok()] },
      { name: 'a', domains: ['api.*'], routes: [ok()] },
      { name: 'c', domains: [] },
    ],
  }, P);
  assert.deepEqual(problems, [
    { path: `${P}.virtual_hosts[1].domains[0]`, message: "domain 'EXAMPLE.com' is already used at virtual_hosts[0].domains[0]; a domain must be unique across virtual hosts (compared case-insensitively)" },
    { path: `${P}.virtual_hosts[1].domains[1]`, message: "only one virtual host may have the wildcard domain '*' (already at virtual_hosts[0].domains[1])" },
    { path: `${P}.virtual_hosts[1].domains[2]`, message: "domain '*.Example.COM' is already used at virtual_hosts[0].domains[2]; a domain must be unique across virtual hosts (compared case-insensitively)" },
    { path: `${P}.virtual_hosts[1].domains[4]`, message: "'a*b.com': a wildcard '*' must be the first or the last character (*.example.com, example.*)" },
    { path: `${P}.virtual_hosts[1].domains[5]`, message: "'*.x.*' has more than one '*'; a wildcard is a single '*' at the start or the end" },
    { path: `${P}.virtual_hosts[2].name`, message: "duplicate virtual host name 'a' (also virtual_hosts[0])" },
    { path: `${P}.virtual_hosts[2].domains[0]`, message: "domain 'api.*' is already used at virtual_hosts[1].domains[3]; a domain must be unique across virtual hosts (compared case-insensitively)" },
    { path: `${P}.virtual_hosts[3].domains`, message: 'at least one domain is required (use "*" to match any host)' },
  ]);
});

test('a valid config using every supported field has no problems', () => {
  const config: Obj = {
    name: 'all',
    validate_clusters: false,
    most_specific_header_mutations_wins: true,
    internal_only_headers: ['x-internal'],
    request_headers_to_add: [{ header: { key: 'x-rid', value: '%REQ(x-request-id)%' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD', keep_empty_value: true }],
    request_headers_to_remove: ['x-debug'],
    response_headers_to_add: [{ header: { key: 'x-served-by', value: 'legate' }, append: false }],
    response_headers_to_remove: ['x-internal-debug'],
    virtual_hosts: [
      {
        name: 'api', domains: ['api.example.com', '*.api.example.com', 'api.*', 'api.example.com:8080'], require_tls: 'EXTERNAL_ONLY',
        request_headers_to_add: [{ header: { key: 'x-vh', value: 'api' } }], request_headers_to_remove: ['x-a'],
        response_headers_to_add: [{ header: { key: 'x-vh', value: 'api' } }], response_headers_to_remove: ['x-b'],
        routes: [
          {
            name: 'users', match: { safe_regex: { regex: '^/users/(?P<id>[0-9]+)$', google_re2: { max_program_size: 200 } }, headers: [
              { name: 'x-a', exact_match: 'a' }, { name: 'x-b', prefix_match: 'b' }, { name: 'x-c', suffix_match: 'c' },
              { name: 'x-d', contains_match: 'd' }, { name: 'x-e', safe_regex_match: { regex: '\\pL+' } }, { name: 'x-f', present_match: true },
              { name: 'x-g', string_match: { exact: 'G', ignore_case: true }, invert_match: true, treat_missing_header_as_empty: true },
            ], query_parameters: [{ name: 'q', string_match: { prefix: 'a' } }, { name: 'p', present_match: true }] },
            route: { cluster: 'users', regex_rewrite: { pattern: { regex: '^/users/([0-9]+)$' }, substitution: '/u/\\1' }, host_rewrite_header: 'x-host', timeout: 1000, idle_timeout: 5000 },
            request_headers_to_add: [{ header: { key: 'x-r', value: 'r' }, append_action: 'ADD_IF_ABSENT' }], request_headers_to_remove: ['x-c'],
            response_headers_to_add: [{ header: { key: 'x-r', value: 'r' }, append_action: 'OVERWRITE_IF_EXISTS' }], response_headers_to_remove: ['x-d'],
          },
          { match: { prefix: '/v1/', case_sensitive: false }, route: { cluster: 'v1', prefix_rewrite: '/', host_rewrite_literal: 'v1.internal' } },
          { match: { path: '/auto' }, route: { cluster: 'auto', auto_host_rewrite: true } },
          { match: { path_separated_prefix: '/sep' }, redirect: { https_redirect: true, port_redirect: 8443, prefix_rewrite: '/s', response_code: 'PERMANENT_REDIRECT', strip_query: true } },
          { match: { prefix: '/old' }, redirect: { scheme_redirect: 'https', host_redirect: 'new.example', path_redirect: '/new?x=1' } },
          { match: { prefix: '/re' }, redirect: { regex_rewrite: { pattern: { regex: '(?i)^/RE(.*)$' }, substitution: '/\\1' }, response_code: 'FOUND' } },
          { match: { path: '/health' }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
          { match: { path: '/bytes' }, direct_response: { status: 200, body: { inline_bytes: 'AAEC' } } },
        ],
      },
      { name: 'default', domains: ['*'], require_tls: 'NONE', routes: [{ match: { prefix: '/' }, route: { cluster: 'web' } }] },
    ],
  };
  assert.deepEqual(checkRouteConfig(config, P), []);
});

test('an empty route configuration is valid (and routes nothing)', () => {
  assert.deepEqual(checkRouteConfig({}, P), []);
});
