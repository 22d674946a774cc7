// DirectResponseAction: status and a body from inline_string, inline_bytes (base64) or a file read at build time.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { routesTable, requestHeaders } from './route-fixtures.ts';
import { RouteKind, RouteConfigError, buildRouteTable } from '../../src/router/route-table.ts';
import { DEPS } from './route-fixtures.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'body.txt');

test('direct_response bodies', () => {
  const t = routesTable([
    { name: 'health', match: { path: '/healthz' }, direct_response: { status: 200, body: { inline_string: 'ok ✓' } } },
    { match: { path: '/bytes' }, direct_response: { status: 503, body: { inline_bytes: Buffer.from([0, 1, 2, 255]).toString('base64') } } },
    { match: { path: '/file' }, direct_response: { status: 503, body: { filename: FIXTURE } } },
    { match: { path: '/empty' }, direct_response: { status: 204 } },
    { match: { path: '/empty-string' }, direct_response: { status: 200, body: { inline_string: '' } } },
  ]);
  const get = (p: string) => t.route('h', 'GET', p, requestHeaders())!;
  const health = get('/healthz');
  assert.deepEqual([health.kind, health.routeName, health.directStatus, health.clusterName, health.redirectStatus], [RouteKind.DIRECT_RESPONSE, 'health', 200, '', 0]);
  assert.deepEqual(health.directBody, Buffer.from('ok ✓', 'utf8'));
  assert.deepEqual(get('/bytes').directBody, Buffer.from([0, 1, 2, 255]));
  assert.deepEqual([get('/file').directStatus, get('/file').directBody?.toString()], [503, 'maintenance\n']);
  assert.equal(get('/empty').directBody, null);
  assert.deepEqual(get('/empty-string').directBody, Buffer.alloc(0));
});

test('a direct response knows its own URL (Envoy sends it as Location for 201 and 3xx)', () => {
  const r = routesTable([{ match: { prefix: '/' }, direct_response: { status: 301 } }]).route('h', 'GET', '/a?b', requestHeaders())!;
  assert.equal(r.redirectLocation('http', 'h:8080', '/a?b'), 'http://h:8080/a?b');
});

test('the body file is read when the table is built, not per request', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-route-')), 'body');
  fs.writeFileSync(file, 'first');
  const t = routesTable([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: file } } }]);
  fs.writeFileSync(file, 'second');
  assert.equal(t.route('h', 'GET', '/', requestHeaders())!.directBody?.toString(), 'first');
  fs.rmSync(path.dirname(file), { recursive: true });
});

test('buildRouteTable throws RouteConfigError with every problem', () => {
  const bad = { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: '/nonexistent/legate-body' } } }] }] };
  assert.throws(() => buildRouteTable(bad, DEPS), (err: unknown) => {
    assert.ok(err instanceof RouteConfigError);
    assert.equal(err.code, 'bad_route_config');
    assert.equal(err.problems.length, 1);
    assert.equal(err.problems[0]!.path, 'route_config.virtual_hosts[0].routes[0].direct_response.body.filename');
    return true;
  });
});
