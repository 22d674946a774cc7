// End to end: Cluster.lb_subset_config with route metadata_match through bin/legate. Four real upstreams carry
// envoy.lb metadata (version v1/v2, stage prod/canary); routes with criteria reach only their subset, a weighted
// cluster entry's criteria merge over its route's; without a subset the fallback policy decides (NO_FALLBACK: 503
// no healthy upstream with UH; ANY_ENDPOINT; DEFAULT_SUBSET; a selector's own NO_FALLBACK and KEYS_SUBSET); a reload
// that moves a host to another version moves it between subsets and an unhealthy host leaves its subset; the
// cluster.<name>.lb_subsets_* stats move.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';

interface Endpoint {
  port: number;
  version: string;
  stage: string;
  health?: string;
}

function subsetCluster(name: string, endpoints: Endpoint[], subsetConfig: string): string {
  const eps = endpoints.map((e) => `        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: ${e.port} }
${e.health === undefined ? '' : `          health_status: ${e.health}\n`}          metadata:
            filter_metadata:
              envoy.lb: { version: ${e.version}, stage: ${e.stage} }
`).join('');
  return `  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    lb_policy: ROUND_ROBIN
    lb_subset_config:
${subsetConfig}    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
${eps}`;
}

function criteria(c: Record<string, string>): string {
  return `metadata_match: { filter_metadata: { envoy.lb: { ${Object.entries(c).map(([k, v]) => `${k}: ${v}`).join(', ')} } } }`;
}

function route(prefix: string, cluster: string, c: Record<string, string> | null): { match: string; action: string } {
  return { match: `{ prefix: "${prefix}" }`, action: `route: { cluster: ${cluster}${c === null ? '' : `, ${criteria(c)}`} }` };
}

function get(port: number, path: string): Promise<{ status: number; upstream: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers['x-upstream'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

/** The upstreams `n` requests to `path` reached (sorted, unique); all must answer 200. */
async function reached(port: number, path: string, n = 12): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await get(port, path);
    assert.equal(r.status, 200, `${path}: ${r.status} ${r.body}`);
    seen.add(r.upstream);
  }
  return [...seen].sort();
}

describe('subset load balancing (lb_subset_config, metadata_match)', () => {
  const ups: TestUpstream[] = [];
  let legate: LegateProcess;
  let port = 0;
  let endpoints: Endpoint[] = [];

  const NOFB = `      subset_selectors:
      - keys: [version]
      - keys: [version, stage]
`;
  const ANY = `      fallback_policy: ANY_ENDPOINT
      subset_selectors:
      - keys: [version]
`;
  const DEFAULT = `      fallback_policy: DEFAULT_SUBSET
      default_subset: { version: v2 }
      subset_selectors:
      - keys: [version]
      - keys: [stage]
        fallback_policy: NO_FALLBACK
      - keys: [version, stage]
        fallback_policy: KEYS_SUBSET
        fallback_keys_subset: [version]
`;

  function config(): string {
    return bootstrap(
      [hcmListener({
        name: 'main',
        hcmExtra: `          access_log:
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
              log_format: { text_format_source: { inline_string: "SUBSET %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n" } }
`,
        routes: [
          {
            match: '{ prefix: "/status/503" }',
            action: `route: { cluster: nofb, ${criteria({ version: 'v1' })}, retry_policy: { retry_on: 5xx, num_retries: 3, retry_back_off: { base_interval: 0.001s } } }`,
          },
          route('/v1', 'nofb', { version: 'v1' }),
          route('/v2-canary', 'nofb', { version: 'v2', stage: 'canary' }),
          route('/v2', 'nofb', { version: 'v2' }),
          route('/v3', 'nofb', { version: 'v3' }),
          route('/none', 'nofb', null),
          route('/any-v3', 'anyfb', { version: 'v3' }),
          route('/def-v3', 'deffb', { version: 'v3' }),
          route('/def-stage-qa', 'deffb', { stage: 'qa' }),
          route('/def-keys', 'deffb', { version: 'v1', stage: 'qa' }),
          {
            match: '{ prefix: "/weighted" }',
            action: `route: { ${criteria({ version: 'v1', stage: 'canary' })}, weighted_clusters: { clusters: [{ name: nofb, weight: 1, ${criteria({ stage: 'prod' })} }] } }`,
          },
        ],
      })],
      [subsetCluster('nofb', endpoints, NOFB), subsetCluster('anyfb', endpoints, ANY), subsetCluster('deffb', endpoints, DEFAULT)],
    );
  }

  before(async () => {
    for (const n of ['u1', 'u2', 'u3', 'u4']) ups.push(await startUpstream(n));
    const [p1, p2, p3, p4] = ups.map((u) => u.port) as number[];
    endpoints = [
      { port: p1!, version: 'v1', stage: 'prod' },
      { port: p2!, version: 'v1', stage: 'canary' },
      { port: p3!, version: 'v2', stage: 'prod' },
      { port: p4!, version: 'v2', stage: 'canary' },
    ];
    legate = await startLegate({ config: config(), concurrency: 1 });
    port = await legate.listenerPort('main');
  });

  after(async () => {
    await legate?.stop();
    for (const u of ups) await u.close();
  });

  it('routes with metadata_match reach only their subset; a weighted entry\'s criteria merge over the route\'s', async () => {
    assert.deepEqual(await reached(port, '/v1'), ['u1', 'u2']);
    assert.deepEqual(await reached(port, '/v2'), ['u3', 'u4']);
    assert.deepEqual(await reached(port, '/v2-canary'), ['u4']);
    assert.deepEqual(await reached(port, '/weighted'), ['u1']);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.nofb.lb_subsets_active'), 6);
    assert.equal(stats.get('cluster.nofb.lb_subsets_created'), 6);
    assert.ok(stats.get('cluster.nofb.lb_subsets_selected')! >= 48);
  });

  it('retries pick from the same subset', async () => {
    const before = ups.map((u) => u.seen.length);
    const r = await get(port, '/status/503');
    assert.equal(r.status, 503);
    const attempts = ups.map((u, i) => u.seen.length - before[i]!);
    assert.equal(attempts[0]! + attempts[1]!, 4, `attempts per upstream: ${attempts.join(',')}`);
    assert.equal(attempts[2]! + attempts[3]!, 0, `attempts per upstream: ${attempts.join(',')}`);
  });

  it('NO_FALLBACK: no subset (or no criteria) is 503 no healthy upstream, flag UH', async () => {
    for (const path of ['/v3', '/none']) {
      const r = await get(port, path);
      assert.equal(r.status, 503);
      assert.equal(r.body, 'no healthy upstream');
      await waitUntil(() => legate.stdout.includes(`SUBSET ${path} 503 UH`), () => `access log:\n${legate.stdout}`, 10_000);
    }
  });

  it('ANY_ENDPOINT balances over every host; DEFAULT_SUBSET over the default subset; selector policies apply', async () => {
    assert.deepEqual(await reached(port, '/any-v3', 16), ['u1', 'u2', 'u3', 'u4']);
    assert.deepEqual(await reached(port, '/def-v3'), ['u3', 'u4']);
    // The [stage] selector's own NO_FALLBACK.
    assert.equal((await get(port, '/def-stage-qa')).status, 503);
    // [version, stage] with KEYS_SUBSET: the version v1 subset.
    assert.deepEqual(await reached(port, '/def-keys'), ['u1', 'u2']);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.anyfb.lb_subsets_fallback'), 16);
    assert.equal(stats.get('cluster.deffb.lb_subsets_fallback'), 12);
    assert.equal(stats.get('cluster.nofb.lb_subsets_fallback') ?? 0, 0);
  });

  it('a reload moves a host between subsets by its metadata; an unhealthy host leaves its subset', async () => {
    // u2 becomes version v2 (canary); u3 turns unhealthy.
    endpoints[1]!.version = 'v2';
    endpoints[2]!.health = 'UNHEALTHY';
    legate.writeConfig(config());
    assert.equal(await legate.reload(), true);
    assert.deepEqual(await reached(port, '/v1'), ['u1']);
    assert.deepEqual(await reached(port, '/v2'), ['u2', 'u4']);
    assert.deepEqual(await reached(port, '/v2-canary'), ['u2', 'u4']);
    const stats = await legate.statsMap();
    // [version, stage]: v1/canary is gone (u3's v2/prod stays a subset: unhealthy hosts keep their subsets).
    assert.equal(stats.get('cluster.nofb.lb_subsets_active'), 5);
    assert.equal(stats.get('cluster.nofb.lb_subsets_removed'), 1);
  });
});
