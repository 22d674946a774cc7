// Fuzz target: src/router, a request through compiled route tables. The input is lines (latin1): authority,
// method, path, then "name:value" header lines; bit 0 of the first byte picks one of two tables. Invariants:
// route() and everything a worker then calls on the route (rewritePath, redirectLocation, the header mutations)
// never throw; routing is deterministic and the authority is matched without regard to ASCII case.

import { compileHeaderValueFormat } from '../../../src/access-log/formatter.ts';
import { StreamInfo, type HeaderList } from '../../../src/http/stream-info.ts';
import { buildRouteTable, type RouteTable } from '../../../src/router/route-table.ts';
import { check, show } from './common.ts';

const DEPS = { compileHeaderValue: compileHeaderValueFormat };
const add = (key: string, value: string, action?: string): object => ({ header: { key, value }, ...(action === undefined ? {} : { append_action: action }) });

const RICH = buildRouteTable({
  name: 'rich',
  internal_only_headers: ['x-internal'],
  request_headers_to_add: [add('x-rid', '%REQ(x-request-id)%', 'OVERWRITE_IF_EXISTS_OR_ADD'), add('x-path', '%REQ(:PATH)%')],
  request_headers_to_remove: ['x-debug'],
  response_headers_to_add: [add('x-up', '%UPSTREAM_HOST% %RESPONSE_CODE% %REQ(user-agent):10%')],
  virtual_hosts: [
    {
      name: 'api', domains: ['api.example.com', '*.api.example.com', 'api.*', 'api.example.com:8080', '[::1]:443'], require_tls: 'EXTERNAL_ONLY',
      request_headers_to_add: [add('x-vh', 'api', 'ADD_IF_ABSENT')],
      routes: [
        {
          name: 'users', match: { safe_regex: { regex: '^/users/(?P<id>[0-9]+)$' }, headers: [
            { name: 'x-a', exact_match: 'a' }, { name: 'x-b', prefix_match: 'b' }, { name: 'x-c', suffix_match: 'c' },
            { name: 'x-d', contains_match: 'd' }, { name: 'x-e', safe_regex_match: { regex: '\\pL+' } }, { name: 'x-f', present_match: true },
            { name: 'x-g', string_match: { exact: 'G', ignore_case: true }, invert_match: true, treat_missing_header_as_empty: true },
            { name: 'x-r', range_match: { start: -10, end: 100 } },
          ], query_parameters: [{ name: 'q', string_match: { prefix: 'a' } }, { name: 'p', present_match: true }] },
          route: { cluster: 'users', regex_rewrite: { pattern: { regex: '^/users/([0-9]+)$' }, substitution: '/u/\\1' }, host_rewrite_header: 'x-host' },
        },
        { match: { prefix: '/v1/', case_sensitive: false }, route: { cluster: 'v1', prefix_rewrite: '/', host_rewrite_literal: 'v1.internal' } },
        { match: { path: '/auto' }, route: { cluster: 'auto', auto_host_rewrite: true } },
        { match: { path_separated_prefix: '/sep' }, redirect: { https_redirect: true, port_redirect: 8443, prefix_rewrite: '/s', response_code: 'PERMANENT_REDIRECT', strip_query: true } },
        { match: { prefix: '/old' }, redirect: { scheme_redirect: 'https', host_redirect: 'new.example', path_redirect: '/new?x=1' } },
        { match: { prefix: '/re' }, redirect: { regex_rewrite: { pattern: { regex: '(?i)^/RE(.*)$' }, substitution: '/\\1' }, response_code: 'FOUND' } },
        { match: { prefix: '/g', grpc: {} }, route: { cluster: 'grpc' } },
        { match: { path: '/health' }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
        { match: { prefix: '/created' }, direct_response: { status: 201 } },
      ],
    },
    {
      name: 'suffix', domains: ['*.example.com', '*-suffix', 'pre-*'],
      routes: [
        { match: { safe_regex: { regex: '/a+(b|c)*[^/]{0,3}' } }, route: { cluster: 'rx', regex_rewrite: { pattern: { regex: '([a-z])' }, substitution: '<\\1\\0>' } } },
        { match: { prefix: '/', query_parameters: [{ name: 'k', string_match: { safe_regex: { regex: '^[0-9]{2,}$' } } }] }, route: { cluster: 'query' } },
        { match: { prefix: '' }, route: { cluster: 'any' } },
      ],
    },
    { name: 'default', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'web', prefix_rewrite: '/web/' } }] },
  ],
}, DEPS);

const PLAIN = buildRouteTable({
  name: 'plain',
  virtual_hosts: [
    { name: 'one', domains: ['one.test'], routes: [{ match: { path: '/' }, route: { cluster: 'one' } }, { match: { prefix: '/x' }, route: { cluster: 'x', prefix_rewrite: '' } }] },
  ],
}, DEPS);

const TABLES: readonly RouteTable[] = [RICH, PLAIN];

function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const table = TABLES[data[0]! & 1]!;
  const lines = data.subarray(1).toString('latin1').split('\n');
  const authority = lines[0] ?? '';
  const method = lines[1] ?? 'GET';
  const path = lines[2] ?? '/';
  const headers: HeaderList = ['host', authority, 'x-forwarded-proto', 'http'];
  for (let i = 3; i < lines.length; i++) {
    const colon = lines[i]!.indexOf(':');
    if (colon > 0) headers.push(lines[i]!.slice(0, colon).toLowerCase(), lines[i]!.slice(colon + 1));
  }
  table.removeInternalOnlyHeaders(headers);
  const route = table.route(authority, method, path, headers);
  check(table.route(authority, method, path, headers) === route, () => `routing is not deterministic: ${show(data)}`);
  check(table.route(asciiUpper(authority), method, path, headers) === route, () => `authority case changes the route: ${show(data)}`);
  if (route === null) return;
  const info = new StreamInfo();
  info.requestHeaders = headers;
  info.path = path;
  info.authority = authority;
  info.method = method;
  info.protocol = 'HTTP/1.1';
  info.downstreamRemoteAddress = '203.0.113.7:51324';
  const rewritten = route.rewritePath(path);
  check(typeof rewritten === 'string', () => `rewritePath gave ${String(rewritten)}: ${show(data)}`);
  check(typeof route.redirectLocation('http', authority, path) === 'string', () => `redirectLocation: ${show(data)}`);
  route.applyRequestHeaderMutations(headers, info);
  check(headers.length % 2 === 0 && headers.every((h) => typeof h === 'string'), () => `request headers ${JSON.stringify(headers)}: ${show(data)}`);
  const response: HeaderList = ['content-type', 'text/plain'];
  info.responseHeaders = response;
  route.applyResponseHeaderMutations(response, info);
  check(response.length % 2 === 0 && response.every((h) => typeof h === 'string'), () => `response headers ${JSON.stringify(response)}: ${show(data)}`);
}
