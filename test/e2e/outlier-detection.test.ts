// End to end: a cluster's outlier_detection through bin/legate with two workers. Workers report results to the
// primary, which ejects: a host answering 503s is ejected after consecutive_5xx errors and then gets no request
// from either worker (fresh connections land on both), comes back after base_ejection_time, and is flagged
// /failed_outlier_check in /clusters meanwhile; the cluster.<name>.outlier_detection.* stats; max_ejection_percent
// keeping hosts of an all-failing cluster in service (ejections_overflow); connect failures counting as 5xx, or apart
// with split_external_local_origin_errors; the ejection event log.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startLegate, tempDir, unusedPort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';

/** An HTTP upstream answering 200, or 503 while `failing`; counts requests. */
class Upstream {
  readonly name: string;
  readonly server: http.Server;
  failing = false;
  requests = 0;
  port = 0;

  constructor(name: string, failing = false) {
    this.name = name;
    this.failing = failing;
    this.server = http.createServer((req, res) => {
      req.resume();
      this.requests++;
      res.writeHead(this.failing ? 503 : 200, { 'x-upstream': this.name });
      res.end(this.name);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** One request on a fresh connection (so the kernel spreads them over both workers). */
function get(port: number, urlPath = '/'): Promise<{ status: number; upstream: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: String(res.headers['x-upstream'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function burst(port: number, n: number, urlPath = '/'): Promise<{ status: number; upstream: string }[]> {
  const out: { status: number; upstream: string }[] = [];
  for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => get(port, urlPath)))));
  return out;
}

function hostFlags(clustersText: string, clusterName: string, port: number): string {
  const m = new RegExp(`^${clusterName}::127\\.0\\.0\\.1:${port}::health_flags::(.*)$`, 'm').exec(clustersText);
  return m === null ? '(absent)' : m[1]!;
}

describe('outlier detection, two workers, one ejection', () => {
  let legate: LegateProcess;
  let good: Upstream[];
  let bad: Upstream;
  let sick: Upstream[];
  let port: number;
  let eventLog: string;
  let closedPort: number;

  before(async () => {
    good = await Promise.all([new Upstream('a').listen(), new Upstream('b').listen()]);
    bad = await new Upstream('bad', true).listen();
    sick = await Promise.all([new Upstream('s1', true).listen(), new Upstream('s2', true).listen(), new Upstream('s3', true).listen()]);
    const web = cluster({
      name: 'web',
      endpoints: [...good, bad].map((u) => ({ address: '127.0.0.1', port: u.port })),
      extra: `    outlier_detection:
      consecutive_5xx: 5
      interval: 0.1s
      base_ejection_time: 3s
      max_ejection_percent: 50
`,
    });
    const all = cluster({
      name: 'all',
      endpoints: sick.map((u) => ({ address: '127.0.0.1', port: u.port })),
      extra: `    outlier_detection:
      consecutive_5xx: 2
      interval: 0.1s
      base_ejection_time: 60s
      max_ejection_percent: 30
`,
    });
    closedPort = await unusedPort();
    const dead = cluster({
      name: 'dead',
      endpoints: [{ address: '127.0.0.1', port: good[0]!.port }, { address: '127.0.0.1', port: closedPort }],
      extra: `    outlier_detection:
      consecutive_5xx: 2
      interval: 0.1s
      base_ejection_time: 60s
      max_ejection_percent: 50
`,
    });
    const split = cluster({
      name: 'split',
      endpoints: [{ address: '127.0.0.1', port: good[1]!.port }, { address: '127.0.0.1', port: closedPort }],
      extra: `    outlier_detection:
      split_external_local_origin_errors: true
      consecutive_local_origin_failure: 2
      consecutive_5xx: 1
      interval: 0.1s
      base_ejection_time: 60s
      max_ejection_percent: 50
`,
    });
    const listener = hcmListener({
      name: 'ingress',
      routes: [
        { match: '{ prefix: "/all" }', action: 'route: { cluster: all }' },
        { match: '{ prefix: "/dead" }', action: 'route: { cluster: dead }' },
        { match: '{ prefix: "/split" }', action: 'route: { cluster: split }' },
        { match: '{ prefix: "/" }', action: 'route: { cluster: web }' },
      ],
    });
    eventLog = path.join(tempDir('legate-od-'), 'outlier-events.log');
    const config = `${bootstrap([listener], [web, all, dead, split])}cluster_manager:\n  outlier_detection:\n    event_log_path: ${eventLog}\n`;
    legate = await startLegate({ config, concurrency: 2 });
    port = await legate.listenerPort('ingress');
  });

  after(async () => {
    await legate?.stop();
    await Promise.all([...(good ?? []), ...(sick ?? []), ...(bad === undefined ? [] : [bad])].map((u) => u.close()));
    if (eventLog !== undefined) fs.rmSync(path.dirname(eventLog), { recursive: true, force: true });
  });

  async function clustersText(): Promise<string> {
    return (await legate.admin('/clusters', { signal: AbortSignal.timeout(10_000) })).body;
  }

  async function stat(name: string): Promise<number> {
    return (await legate.statsMap()).get(name) ?? 0;
  }

  it('ejects the failing host on both workers, flags it, counts it, and brings it back after base_ejection_time', async () => {
    assert.equal(hostFlags(await clustersText(), 'web', bad.port), 'healthy');
    // Fresh connections spread over both workers until the primary has seen consecutive_5xx errors and ejected.
    await waitUntil(async () => {
      await burst(port, 10);
      return (await stat('cluster.web.outlier_detection.ejections_active')) === 1;
    }, () => `no ejection; bad saw ${bad.requests} requests`);
    assert.equal(await stat('cluster.web.outlier_detection.ejections_enforced_total'), 1);
    assert.equal(await stat('cluster.web.outlier_detection.ejections_enforced_consecutive_5xx'), 1);
    assert.equal(await stat('cluster.web.outlier_detection.ejections_detected_consecutive_5xx'), 1);
    assert.equal(hostFlags(await clustersText(), 'web', bad.port), '/failed_outlier_check');
    assert.equal(hostFlags(await clustersText(), 'web', good[0]!.port), 'healthy');

    // Ejected on every worker: no request of many fresh connections reaches it (with the ejection on one worker
    // only, about half of them would).
    const before = bad.requests;
    const results = await burst(port, 40);
    assert.equal(bad.requests, before, 'the ejected host got requests');
    assert.ok(results.every((r) => r.status === 200 && r.upstream !== 'bad'));
    assert.equal(await stat('cluster.web.outlier_detection.ejections_active'), 1, 'the ejection outlived the burst');

    // Back after base_ejection_time (the host has recovered meanwhile).
    bad.failing = false;
    await waitUntil(async () => hostFlags(await clustersText(), 'web', bad.port) === 'healthy', () => 'the host never came back', 15_000, 100);
    assert.equal(await stat('cluster.web.outlier_detection.ejections_active'), 0);
    await waitUntil(async () => {
      await burst(port, 10);
      return bad.requests > before;
    }, () => 'no request reached the host after its ejection ended');
  });

  it('max_ejection_percent keeps the other hosts of an all-failing cluster in service (ejections_overflow)', async () => {
    await waitUntil(async () => {
      const r = await burst(port, 10, '/all');
      assert.ok(r.every((x) => x.status === 503));
      return (await stat('cluster.all.outlier_detection.ejections_overflow')) >= 1;
    }, () => 'no ejections_overflow');
    assert.equal(await stat('cluster.all.outlier_detection.ejections_active'), 1);
    assert.equal(await stat('cluster.all.outlier_detection.ejections_enforced_total'), 1);
    const text = await clustersText();
    const flags = sick.map((u) => hostFlags(text, 'all', u.port));
    assert.equal(flags.filter((f) => f === '/failed_outlier_check').length, 1, flags.join(' '));
    assert.equal(flags.filter((f) => f === 'healthy').length, 2, flags.join(' '));
  });

  it('connect failures count as 5xx: a host that refuses connections is ejected', async () => {
    await waitUntil(async () => {
      await burst(port, 10, '/dead');
      return (await stat('cluster.dead.outlier_detection.ejections_active')) === 1;
    }, () => 'the refusing host was never ejected');
    assert.equal(hostFlags(await clustersText(), 'dead', closedPort), '/failed_outlier_check');
    const results = await burst(port, 20, '/dead');
    assert.ok(results.every((r) => r.status === 200), results.map((r) => r.status).join(' '));
  });

  it('split_external_local_origin_errors: connect failures eject as consecutive_local_origin_failure', async () => {
    await waitUntil(async () => {
      await burst(port, 10, '/split');
      return (await stat('cluster.split.outlier_detection.ejections_active')) === 1;
    }, () => 'the refusing host was never ejected');
    assert.equal(await stat('cluster.split.outlier_detection.ejections_enforced_consecutive_local_origin_failure'), 1);
    assert.equal(await stat('cluster.split.outlier_detection.ejections_detected_consecutive_5xx'), 0);
    assert.equal(hostFlags(await clustersText(), 'split', closedPort), '/failed_outlier_check');
  });

  it('logs ejections and un-ejections as Envoy OutlierDetectionEvent JSON lines', async () => {
    const events = (): Record<string, unknown>[] => (fs.existsSync(eventLog) ? fs.readFileSync(eventLog, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : []);
    await waitUntil(() => events().some((e) => e['action'] === 'UNEJECT'), () => `no UNEJECT event in ${JSON.stringify(events())}`);
    // The 503s are gateway failures too: detected and logged, not enforced (enforcing_consecutive_gateway_failure 0).
    const detected = events().find((e) => e['action'] === 'EJECT' && e['cluster_name'] === 'web' && e['enforced'] === false)!;
    assert.equal(detected['type'], 'CONSECUTIVE_GATEWAY_FAILURE');
    const eject = events().find((e) => e['action'] === 'EJECT' && e['cluster_name'] === 'web' && e['enforced'] === true)!;
    assert.equal(eject['type'], 'CONSECUTIVE_5XX');
    assert.equal(eject['upstream_url'], `tcp://127.0.0.1:${bad.port}`);
    assert.equal(eject['enforced'], true);
    assert.equal(eject['num_ejections'], 1);
    assert.deepEqual(eject['eject_consecutive_event'], {});
    assert.match(String(eject['timestamp']), /^\d{4}-\d\d-\d\dT/);
  });
});
