// End to end: envoy.filters.http.csrf through bin/legate with curl. The corpus's CSRF example (csrf/samesite) runs as
// it is (addresses changed): the virtual host's policy enforces, its routes disable it, shadow it, or allow any origin
// (additional_origins). Mutating requests from another origin are 403 "Invalid origin"; counted in
// http.<prefix>.csrf.{missing_source_origin,request_invalid,request_valid}.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { hostAndPort } from '../../workers/http/filters/csrf-filter.ts';

const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__csrf-samesite-envoy.yaml');
const CSRF = 'type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy';

describe('CSRF: the source origin', () => {
  it('is host[:port] of an absolute URL; anything else as it is', () => {
    assert.equal(hostAndPort('https://example.com'), 'example.com');
    assert.equal(hostAndPort('http://example.com:8080/a/b?c#d'), 'example.com:8080');
    assert.equal(hostAndPort('null'), 'null');
    assert.equal(hostAndPort('example.com:80'), 'example.com:80');
  });
});

describe('CSRF: the corpus example (csrf/samesite/envoy.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let self: string;

  before(async () => {
    up = await startUpstream('csrf-service');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    self = base;
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000', `port_value: ${port}`)
      .replace('port_value: 8001', 'port_value: 0')
      .replace('address: service', 'address: 127.0.0.1')
      .replace('port_value: 8080', `port_value: ${up.port}`);
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  const post = (p: string, headers: string[]) => curl(['-X', 'POST', ...headers.flatMap((h) => ['-H', h]), `${base}${p}`]);

  it('enforced (the virtual host policy): another origin, or none, is 403 "Invalid origin"; the same origin passes', async () => {
    const before = up.seen.length;
    const evil = await post('/submit', ['Origin: http://evil.example']);
    assert.equal(evil.status, 403);
    assert.equal(evil.body, 'Invalid origin');
    const none = await post('/submit', []);
    assert.equal(none.status, 403);
    assert.equal(up.seen.length, before);
    assert.equal((await post('/submit', [`Origin: ${self}`])).status, 200);
    // Without Origin, the Referer's host and port.
    assert.equal((await post('/submit', [`Referer: ${self}/form?x=1`])).status, 200);
    // Not a mutating method: not checked.
    assert.equal((await curl(['-H', 'Origin: http://evil.example', `${base}/page`])).status, 200);
    assert.equal(up.seen.length, before + 3);
  });

  it('per route: disabled passes uncounted; shadow passes but counts; additional_origins allows any origin', async () => {
    const s0 = await legate.statsMap();
    assert.equal((await post('/csrf/disabled', ['Origin: http://evil.example'])).status, 200);
    const s1 = await legate.statsMap();
    assert.equal(s1.get('http.ingress_http.csrf.request_invalid'), s0.get('http.ingress_http.csrf.request_invalid'));
    assert.equal((await post('/csrf/shadow', ['Origin: http://evil.example'])).status, 200);
    const s2 = await legate.statsMap();
    assert.equal(s2.get('http.ingress_http.csrf.request_invalid'), s1.get('http.ingress_http.csrf.request_invalid')! + 1);
    assert.equal((await post('/csrf/additional_origin', ['Origin: http://evil.example'])).status, 200);
  });

  it('counts http.<prefix>.csrf.*', async () => {
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ingress_http.csrf.missing_source_origin'), 1);
    assert.equal(stats.get('http.ingress_http.csrf.request_invalid'), 3);
    assert.equal(stats.get('http.ingress_http.csrf.request_valid'), 3);
  });
});

describe('CSRF: the filter-level policy', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('csrf-filter');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const listener = hcmListener({ name: 'csrf_main', port, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }], httpFilters: filter('envoy.filters.http.csrf', CSRF, `              filter_enabled: { default_value: { numerator: 100 } }
              additional_origins: [{ suffix: ".trusted.example" }]
`) });
    legate = await startLegate({ config: bootstrap([listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('enforces without per-route configs; additional_origins match the source host[:port]', async () => {
    const del = (origin: string) => curl(['-X', 'DELETE', '-H', `Origin: ${origin}`, `${base}/x`]);
    assert.equal((await del('https://app.trusted.example')).status, 200);
    assert.equal((await del('https://app.trusted.example.evil')).status, 403);
    assert.equal((await curl(['-X', 'PATCH', '-H', 'Origin: null', `${base}/x`])).status, 403);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.csrf_main.csrf.request_valid'), 1);
    assert.equal(stats.get('http.csrf_main.csrf.request_invalid'), 2);
  });
});
