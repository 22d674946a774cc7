// End to end: envoy.filters.http.local_ratelimit through bin/legate. The corpus's example runs as it is (addresses
// changed) and limits as its README says; a second config covers per-route buckets, filter_enforced, status, headers
// both ways and gRPC; a third runs two workers and checks that they share each bucket, as Envoy's one per process.
// The token bucket's arithmetic is tested in process with a clock the test sets, the shared one too.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, type CurlResult } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { TokenBucket } from '../../src/filters/local-ratelimit-config.ts';
import { sharedTokenBucket } from '../../src/filters/shared-token-bucket.ts';
import { OverloadShared } from '../../src/overload/overload-shared.ts';

const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__local_ratelimit-envoy.yaml');
const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

describe('local rate limit: the token bucket', () => {
  it('starts full, refills tokens_per_fill per whole fill_interval, never above max_tokens', () => {
    const b = new TokenBucket(3, 2, 100, 1000);
    assert.deepEqual([b.consume(1000), b.consume(1001), b.consume(1002), b.consume(1003)], [true, true, true, false]);
    assert.equal(b.consume(1099), false); // not a whole interval yet
    assert.deepEqual([b.consume(1100), b.consume(1100), b.consume(1100)], [true, true, false]);
    // Ten intervals later: full (3), not 20.
    assert.deepEqual([b.consume(2100), b.consume(2100), b.consume(2100), b.consume(2100)], [true, true, true, false]);
  });
});

describe('local rate limit: the shared token bucket', () => {
  it('one entry per key and settings, found again by another thread\'s view; lazy refill as the per-worker one', () => {
    const region = new OverloadShared();
    const other = new OverloadShared(region.buffer, 1);
    const a = sharedTokenBucket(region.tokenBuckets, region.tokenBucketTimes, 'hcm|lrl|path', 3, 2, 100, 1000)!;
    const b = sharedTokenBucket(other.tokenBuckets, other.tokenBucketTimes, 'hcm|lrl|path', 3, 2, 100, 5000)!;
    assert.deepEqual([a.consume(1000), b.consume(1001), a.consume(1002), b.consume(1003)], [true, true, true, false]);
    assert.equal(a.consume(1099), false);
    assert.deepEqual([b.consume(1100), a.consume(1100), b.consume(1100)], [true, true, false]);
    assert.deepEqual([a.consume(2100), b.consume(2100), a.consume(2100), b.consume(2100)], [true, true, true, false]);
    // Other settings or another key: a bucket of its own, full.
    const c = sharedTokenBucket(region.tokenBuckets, region.tokenBucketTimes, 'hcm|lrl|path', 4, 2, 100, 2100)!;
    const d = sharedTokenBucket(region.tokenBuckets, region.tokenBucketTimes, 'hcm|lrl|other', 3, 2, 100, 2100)!;
    assert.equal(c.tokens, 4);
    assert.equal(d.tokens, 3);
  });
});

describe('local rate limit: the corpus example (local_ratelimit/envoy.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('lrl-service');
    // The example's envoy-stat cluster points at its admin port, which must then be known beforehand (the admin
    // binds without SO_REUSEPORT: a clash fails the start, it is never shared). Its listeners bind port 0.
    const adminPort = await freePort();
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 9902', 'port_value: 0')
      .replace('port_value: 10000', 'port_value: 0')
      .replaceAll('port_value: 9901', `port_value: ${adminPort}`)
      .replace('address: service', 'address: 127.0.0.1')
      .replace('port_value: 80', `port_value: ${up.port}`);
    legate = await startLegate({ config: yaml, concurrency: 1 });
    // The example's listeners are unnamed: the second one (10000 in the file) is the one under test.
    base = `http://127.0.0.1:${Object.values(await legate.listenerPorts())[1]}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('lets 2 requests through per 5 s, then answers 429 with x-local-rate-limit: true, and counts them', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await curl([`${base}/service`]));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 429, 429]);
    assert.equal(results[2]!.body, 'local_rate_limited');
    assert.equal(header(results[2]!, 'x-local-rate-limit'), 'true');
    assert.equal(header(results[0]!, 'x-local-rate-limit'), undefined);
    assert.equal(up.seen.length, 2);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http_local_rate_limiter.http_local_rate_limit.enabled'), 4);
    assert.equal(stats.get('http_local_rate_limiter.http_local_rate_limit.ok'), 2);
    assert.equal(stats.get('http_local_rate_limiter.http_local_rate_limit.rate_limited'), 2);
    assert.equal(stats.get('http_local_rate_limiter.http_local_rate_limit.enforced'), 2);
    const prom = await legate.admin('/stats/prometheus');
    assert.match(prom.body, /envoy_http_local_rate_limit_enforced\{envoy_local_http_ratelimit_prefix="http_local_rate_limiter"\} 2/);
  });
});

describe('local rate limit: per-route buckets, enforcement, status and headers', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let logPath: string;

  before(async () => {
    up = await startUpstream('lrl');
    logPath = path.join(tempDir(), 'access.log');
    const always = '{ default_value: { numerator: 100 } }';
    const never = '{ default_value: { numerator: 0 } }';
    const routeLrl = (fields: string): string => `{ "@type": ${LRL}, ${fields} }`;
    const routes = [
      // Its own bucket of 1, its own stats; 503 instead of 429, headers on the limited response.
      { match: '{ prefix: "/own" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  lrl: ${routeLrl(`stat_prefix: own, token_bucket: { max_tokens: 1, fill_interval: 3600s }, filter_enabled: ${always}, filter_enforced: ${always}, status: { code: ServiceUnavailable }, response_headers_to_add: [{ header: { key: x-limited, value: "%RESPONSE_CODE%" } }]`)}` },
      // Limited but never enforced: the request goes on, marked.
      { match: '{ prefix: "/shadow" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  lrl: ${routeLrl(`stat_prefix: shadow, token_bucket: { max_tokens: 1, fill_interval: 3600s }, filter_enabled: ${always}, filter_enforced: ${never}, request_headers_to_add_when_not_enforced: [{ header: { key: x-would-be-limited, value: "yes" } }]`)}` },
      // Refills every 100 ms.
      { match: '{ prefix: "/refill" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  lrl: ${routeLrl(`stat_prefix: refill, token_bucket: { max_tokens: 1, fill_interval: 0.1s }, filter_enabled: ${always}, filter_enforced: ${always}, rate_limited_as_resource_exhausted: true`)}` },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listener = hcmListener({
      name: 'lrl', routes,
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n" }
`,
      httpFilters: filter('lrl', LRL, `              stat_prefix: main
              token_bucket: { max_tokens: 3, tokens_per_fill: 3, fill_interval: 3600s }
              filter_enabled: ${always}
              filter_enforced: ${always}
`),
    });
    legate = await startLegate({ config: bootstrap([listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
    base = `http://127.0.0.1:${await legate.listenerPort('lrl')}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    fs.rmSync(path.dirname(logPath), { recursive: true, force: true });
  });

  it('a per-route config has its own bucket, stats, status and response headers; the filter bucket is not touched', async () => {
    const a = await curl([`${base}/own/1`]);
    const b = await curl([`${base}/own/2`]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 503);
    assert.equal(b.body, 'local_rate_limited');
    assert.equal(header(b, 'x-limited'), '503');
    const stats = await legate.statsMap();
    assert.equal(stats.get('own.http_local_rate_limit.enforced'), 1);
    assert.equal(stats.get('own.http_local_rate_limit.ok'), 1);
    assert.equal(stats.get('main.http_local_rate_limit.enabled') ?? 0, 0);
    await waitUntil(() => fs.existsSync(logPath) && /^503 /m.test(fs.readFileSync(logPath, 'utf8')), () => 'the 503 in the access log');
    assert.match(fs.readFileSync(logPath, 'utf8'), /^503 RL local_rate_limited$/m);
  });

  it('limited but not enforced: the request goes upstream with request_headers_to_add_when_not_enforced', async () => {
    await curl([`${base}/shadow/1`]);
    const r = await curl([`${base}/shadow/2`]);
    assert.equal(r.status, 200);
    const seen = up.seen.filter((s) => s.url.startsWith('/shadow'));
    assert.equal(seen[0]!.headers['x-would-be-limited'], undefined);
    assert.equal(seen[1]!.headers['x-would-be-limited'], 'yes');
    const stats = await legate.statsMap();
    assert.equal(stats.get('shadow.http_local_rate_limit.rate_limited'), 1);
    assert.equal(stats.get('shadow.http_local_rate_limit.enforced') ?? 0, 0);
  });

  it('the filter bucket limits the other routes; a gRPC call is answered RESOURCE_EXHAUSTED when asked', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await curl([`${base}/main/${i}`])).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    // /refill's bucket: one token; the second call is limited, as a gRPC error (HTTP 200, grpc-status 8).
    await curl(['-H', 'content-type: application/grpc', `${base}/refill/a`]);
    const g = await curl(['-H', 'content-type: application/grpc', `${base}/refill/b`]);
    assert.equal(g.status, 200);
    assert.equal(header(g, 'grpc-status'), '8');
    // After more than a fill interval there is a token again.
    await new Promise((r) => setTimeout(r, 250));
    const again = await curl([`${base}/refill/c`]);
    assert.equal(again.status, 200);
  });
});

describe('local rate limit: two workers share each bucket (Envoy\'s bucket is one per process)', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('lrl-shared');
    const always = '{ default_value: { numerator: 100 } }';
    const routes = [
      { match: '{ prefix: "/own" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  lrl: { "@type": ${LRL}, stat_prefix: own, token_bucket: { max_tokens: 4, fill_interval: 3600s }, filter_enabled: ${always}, filter_enforced: ${always} }` },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listener = hcmListener({ name: 'lrl2', routes, httpFilters: filter('lrl', LRL, `              stat_prefix: main
              token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: 3600s }
              filter_enabled: ${always}
              filter_enforced: ${always}
`) });
    legate = await startLegate({ config: bootstrap([listener], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 2 });
    base = `http://127.0.0.1:${await legate.listenerPort('lrl2')}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  /** `n` requests to `path`, each on a connection of its own (the kernel spreads them over both workers), 8 at a time. */
  async function statuses(path: string, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 8); j++) batch.push(curl([`${base}${path}/${j}`]));
      for (const r of await Promise.all(batch)) out.push(r.status);
    }
    return out;
  }

  it('the filter\'s bucket and a route\'s bucket let through what they hold, in total over both workers', async () => {
    const main = await statuses('/main', 80);
    const own = await statuses('/own', 40);
    const stats = await legate.statsMap();
    // Both workers served enough requests that buckets of their own would have let more through.
    const perWorker = [stats.get('worker_0.downstream_rq_total') ?? 0, stats.get('worker_1.downstream_rq_total') ?? 0];
    assert.ok(perWorker[0]! > 14 && perWorker[1]! > 14, `requests per worker: ${perWorker.join(', ')}`);
    assert.equal(main.filter((s) => s === 200).length, 10, main.join(' '));
    assert.equal(main.filter((s) => s === 429).length, 70);
    assert.equal(own.filter((s) => s === 200).length, 4, own.join(' '));
    assert.equal(up.seen.filter((r) => r.url.startsWith('/main')).length, 10);
    assert.equal(up.seen.filter((r) => r.url.startsWith('/own')).length, 4);
    assert.equal(stats.get('main.http_local_rate_limit.ok'), 10);
    assert.equal(stats.get('main.http_local_rate_limit.rate_limited'), 70);
    assert.equal(stats.get('own.http_local_rate_limit.ok'), 4);
  });
});
