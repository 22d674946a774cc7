// Virtual host selection: Envoy's domain search order (exact, suffix wildcards longest first, prefix wildcards
// longest first, '*'), case-insensitive hosts, ports as part of the host, wildcards never matching nothing.

import test from 'node:test';
import assert from 'node:assert/strict';
import { tableOf, requestHeaders } from './route-fixtures.ts';

/** Each virtual host routes everything to a cluster named after itself. */
function vh(name: string, ...domains: string[]) {
  return { name, domains, routes: [{ match: { prefix: '/' }, route: { cluster: name } }] };
}

const table = tableOf([
  vh('exact', 'www.foo.com', 'API.Foo.com', 'ports.foo.com:8080', '[::1]:9000'),
  vh('suffix-short', '*.foo.com'),
  vh('suffix-long', '*-bar.foo.com'),
  vh('suffix-port', '*.foo.com:8080'),
  vh('prefix-short', 'foo.*'),
  vh('prefix-long', 'foo.bar.*'),
  vh('default', '*'),
]);

const cases: [host: string, expected: string][] = [
  ['www.foo.com', 'exact'],
  ['WWW.FOO.COM', 'exact'],
  ['api.foo.com', 'exact'], // domains are compared lower-cased too
  ['ports.foo.com:8080', 'exact'],
  ['[::1]:9000', 'exact'],
  ['baz.foo.com', 'suffix-short'],
  ['baz-bar.foo.com', 'suffix-long'], // longest suffix wins over *.foo.com
  ['x.baz-bar.foo.com', 'suffix-long'],
  ['-bar.foo.com', 'suffix-short'], // '*' never matches the empty string: *-bar.foo.com does not take it
  ['.foo.com', 'default'], // nor does *.foo.com take '.foo.com'
  ['a.foo.com:8080', 'suffix-port'],
  ['foo.com', 'prefix-short'],
  ['foo.bar.baz', 'prefix-long'], // longest prefix wins
  ['foo.', 'default'], // foo.* needs at least one character after the dot
  ['www.foo.com:8080', 'suffix-port'], // a port that no exact domain lists: the port stays part of the host
  ['www.foo.com:9999', 'default'],
  ['api.foo.com:80', 'default'], // no stripping of default ports either (strip_*_host_port not set)
  ['foo.com:443', 'prefix-short'], // prefix wildcards cover host:port
  ['unknown.example', 'default'],
  ['', 'default'],
];

test('virtual host domain search order', () => {
  for (const [host, expected] of cases) {
    const r = table.route(host, 'GET', '/', requestHeaders());
    assert.equal(r?.clusterName, expected, `Host: ${host}`);
  }
});

test('no virtual host matches without a * domain', () => {
  const t = tableOf([vh('only', 'a.example')]);
  assert.equal(t.route('b.example', 'GET', '/', requestHeaders()), null);
  assert.equal(t.route('A.EXAMPLE', 'GET', '/', requestHeaders())?.clusterName, 'only');
});

test('a table with only * ignores the host entirely', () => {
  const t = tableOf([vh('star', '*')]);
  assert.equal(t.route('', 'GET', '/', requestHeaders())?.clusterName, 'star');
  assert.equal(t.route('anything:1', 'GET', '/', requestHeaders())?.clusterName, 'star');
});

test('many wildcards of one length are found through the map path', () => {
  const hosts = Array.from({ length: 12 }, (_, i) => vh(`s${i}`, `*.d${i}x.com`));
  const t = tableOf([...hosts, vh('p', 'api-*')]);
  for (let i = 0; i < 12; i++) assert.equal(t.route(`a.d${i}x.com`, 'GET', '/', requestHeaders())?.clusterName, `s${i}`);
  assert.equal(t.route('api-eu', 'GET', '/', requestHeaders())?.clusterName, 'p');
  assert.equal(t.route('a.d99x.com', 'GET', '/', requestHeaders()), null);
});

test('virtual hosts with no routes match but route nothing', () => {
  const t = tableOf([{ name: 'empty', domains: ['e.com'] }, vh('default', '*')]);
  assert.equal(t.route('e.com', 'GET', '/', requestHeaders()), null);
});
