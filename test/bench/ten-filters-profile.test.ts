// The benchmark's "realistic-filters" profile through bin/legate (the bootstrap `make bench` writes for the
// legate-1-filters row): the ten built-in HTTP filters are in the chain before the router, each live (the health
// check answers /healthz, CORS answers a preflight from its origin), and none of them acts on a request shaped like
// wrk's (GET, no Origin, no Accept-Encoding, no body): it reaches the upstream with the realistic profile's work
// done, and the filters' stats show they looked at it and let it pass. No timings.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, header } from '../support/curl.ts';
import { legateBootstrapYaml } from '../../bench/harness/configs/legate-bootstrap.ts';
import { CORS_ORIGIN, HEALTH_CHECK_PATH, TEN_FILTERS } from '../../bench/harness/configs/ten-filters.ts';
import path from 'node:path';

describe('bench profile realistic-filters: ten filters configured, none acting on the bench request', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('bench-upstream');
    const dir = tempDir('legate-ten-filters-');
    const config = legateBootstrapYaml({ port: 0, adminPort: 0, upstreamPort: up.port, profile: 'realistic-filters', accessLogPath: path.join(dir, 'access.log') });
    legate = await startLegate({ config, concurrency: 1 });
    base = `http://127.0.0.1:${await legate.listenerPort('bench')}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('has ten distinct built-in filters before the router', async () => {
    const names = TEN_FILTERS.map((f) => f['name']);
    assert.equal(new Set(names).size, 10);
    const dump = await legate.admin('/config_dump');
    assert.equal(dump.status, 200);
    const chain = [...dump.body.matchAll(/"name": ?"(envoy\.filters\.http\.[a-z_]+)"/g)].map((m) => m[1]);
    // The dump holds the chain once per section that shows the listener (bootstrap, listeners): each is the same.
    assert.ok(chain.length > 0 && chain.length % (names.length + 1) === 0, chain.join(' '));
    for (let i = 0; i < chain.length; i += names.length + 1) assert.deepEqual(chain.slice(i, i + names.length + 1), [...names, 'envoy.filters.http.router']);
  });

  it('passes a wrk-shaped GET to the upstream untouched by the filters, with the realistic work done', async () => {
    const r = await curl([`${base}/bench/5b`]);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'hello from bench-upstream');
    assert.equal(header(r, 'content-encoding'), undefined, 'not compressed');
    assert.equal(header(r, 'access-control-allow-origin'), undefined, 'no CORS answer');
    assert.equal(header(r, 'x-served-by'), 'legate', 'the realistic profile\'s response rewrite');
    const seen = up.seen.find((s) => s.url === '/bench/5b');
    assert.ok(seen !== undefined, 'the upstream saw the request');
    assert.equal(seen.headers['x-bench-profile'], 'realistic');
    assert.ok(typeof seen.headers['x-request-id'] === 'string' && seen.headers['x-request-id'].length > 0);

    const stats = await legate.statsMap();
    const stat = (name: string): number => stats.get(name) ?? 0;
    assert.equal(stat('http.bench.rbac.allowed'), 1, 'RBAC looked at it and allowed it');
    assert.equal(stat('http.bench.rbac.denied'), 0);
    assert.equal(stat('bench_ratelimit.http_local_rate_limit.ok'), 1, 'the token bucket was asked');
    assert.equal(stat('bench_ratelimit.http_local_rate_limit.rate_limited'), 0);
    assert.equal(stat('http.bench.fault.aborts_injected') + stat('http.bench.fault.delays_injected'), 0);
    assert.equal(stat('http.bench.compressor.gzip.gzip.response.no_accept_header'), 1, 'the compressor saw no Accept-Encoding');
    assert.equal(stat('http.bench.compressor.gzip.gzip.response.compressed'), 0);
    assert.equal(stat('http.bench.cors.origin_valid') + stat('http.bench.cors.origin_invalid'), 0);
    assert.equal(stat('http.bench.csrf.request_invalid') + stat('http.bench.csrf.missing_source_origin'), 0);
  });

  it('each filter is live: the health check and CORS answer the requests meant for them', async () => {
    const before = up.seen.length;
    const hc = await curl([`${base}${HEALTH_CHECK_PATH}`]);
    assert.equal(hc.status, 200);
    const pre = await curl(['-X', 'OPTIONS', '-H', `Origin: ${CORS_ORIGIN}`, '-H', 'Access-Control-Request-Method: GET', `${base}/bench/5b`]);
    assert.equal(pre.status, 200);
    assert.equal(header(pre, 'access-control-allow-origin'), CORS_ORIGIN);
    assert.equal(up.seen.length, before, 'both answered by Legate');
  });
});
