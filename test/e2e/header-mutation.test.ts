// End to end: envoy.filters.http.header_mutation through bin/legate with a real upstream: the filter's request and
// response mutations in config order (not remove-before-add as on a route), %COMMAND% values, local replies, and
// HeaderMutationPerRoute on route and virtual host in Envoy's order (most specific first, or last with
// most_specific_header_mutations_wins).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, type CurlResult } from '../support/curl.ts';

const HM = 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation';
const HM_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute';

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

function echoed(r: CurlResult): Record<string, string | string[]> {
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { headers: Record<string, string | string[]> }).headers;
}

/** A listener whose http_filters start with the header_mutation filter `hm` (its HeaderMutation fields given). */
function listenerWith(name: string, port: number, hmFields: string): string {
  const perRoute = (key: string, value: string): string =>
    `{ "@type": ${HM_ROUTE}, mutations: { request_mutations: [{ append: { header: { key: ${key}, value: ${value} }, append_action: OVERWRITE_IF_EXISTS_OR_ADD } }] } }`;
  const routes = [
    {
      match: '{ prefix: "/echo-levels" }',
      action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  hm: ${perRoute('x-level', 'route')}`,
    },
    { match: '{ prefix: "/direct" }', action: 'direct_response: { status: 403, body: { inline_string: "no" } }' },
    { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
  ];
  return hcmListener({
    name, port, routes,
    vhostExtra: `              typed_per_filter_config:\n                hm: ${perRoute('x-level', 'vhost')}\n`,
    httpFilters: filter('hm', HM, hmFields),
  });
}

describe('header_mutation filter', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let winsBase: string;

  before(async () => {
    up = await startUpstream('hm');
    const port = await freePort();
    const winsPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    winsBase = `http://127.0.0.1:${winsPort}`;
    const fields = `              mutations:
                request_mutations:
                - append: { header: { key: x-seq, value: first } }
                - remove: x-seq
                - append: { header: { key: x-seq, value: second } }
                - remove: x-drop-me
                - append: { header: { key: x-added, value: a1 } }
                - append: { header: { key: x-added, value: a2 } }
                - append: { header: { key: x-only-if-absent, value: filter }, append_action: ADD_IF_ABSENT }
                - append: { header: { key: x-method, value: "%REQ(:METHOD)%" } }
                response_mutations:
                - remove: x-upstream
                - append: { header: { key: x-status, value: "%RESPONSE_CODE%" } }
`;
    const listeners = [
      listenerWith('hm', port, fields),
      listenerWith('hmwins', winsPort, '              most_specific_header_mutations_wins: true\n'),
    ];
    legate = await startLegate({ config: bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('applies request mutations in config order, with append actions and %COMMAND% values', async () => {
    const r = await curl([`${base}/echo`, '-H', 'x-drop-me: 1', '-H', 'x-only-if-absent: client', '-H', 'x-seq: client']);
    const h = echoed(r);
    // append, remove, append: only the last survives (a route's headers_to_add would remove first, then add both).
    assert.equal(h['x-seq'], 'second');
    assert.equal(h['x-drop-me'], undefined);
    assert.equal(h['x-added'], 'a1, a2');
    assert.equal(h['x-only-if-absent'], 'client');
    assert.equal(h['x-method'], 'GET');
  });

  it('applies response mutations to the upstream response and to local replies', async () => {
    const r = await curl([`${base}/plain`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'x-upstream'), undefined);
    assert.equal(header(r, 'x-status'), '200');
    const d = await curl([`${base}/direct`]);
    assert.equal(d.status, 403);
    assert.equal(header(d, 'x-status'), '403');
  });

  it('runs HeaderMutationPerRoute of route then virtual host, so the less specific one is last by default', async () => {
    assert.equal(echoed(await curl([`${base}/echo-levels`]))['x-level'], 'vhost');
    // Only the virtual host's on other routes.
    assert.equal(echoed(await curl([`${base}/echo`]))['x-level'], 'vhost');
  });

  it('with most_specific_header_mutations_wins the route\'s runs last', async () => {
    assert.equal(echoed(await curl([`${winsBase}/echo-levels`]))['x-level'], 'route');
  });
});

describe('header_mutation filter: config checks', () => {
  it('refuses a mutation of a pseudo-header, with its path', async () => {
    const port = await freePort();
    const listener = hcmListener({ name: 'bad', port, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }], httpFilters: filter('hm', HM, `              mutations: { request_mutations: [{ append: { header: { key: ":path", value: "/x" } } }] }
`) });
    const legate = await startLegate({ config: bootstrap([listener], []), concurrency: 1, waitReady: false });
    const code = await Promise.race([legate.waitExit(), new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
    if (code === -1) await legate.stop('SIGKILL');
    assert.notEqual(code, 0);
    assert.match(legate.stderr, /http_filters\[0\]\.typed_config\.mutations\.request_mutations\[0\]\.append\.header\.key/);
  });
});
