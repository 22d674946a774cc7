// End to end: stats_sinks (envoy.stat_sinks.statsd and dog_statsd) flushed every stats_flush_interval to a real UDP
// peer: counters as changes since the previous flush, gauges as values, histograms as timers; stats_config's
// matcher and tags apply to what is sent.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';

interface UdpPeer {
  port: number;
  lines: string[];
  close(): Promise<void>;
}

async function udpPeer(): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4');
  const lines: string[] = [];
  socket.on('message', (m) => {
    for (const l of m.toString('utf8').split('\n')) if (l !== '') lines.push(l);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: socket.address().port,
    lines,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

function config(upPort: number, statsdPort: number, dogPort: number, statsdPrefix = 'legate'): string {
  return `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
stats_flush_interval: 0.2s
stats_server_version_override: 1234
layered_runtime:
  layers:
  - name: static
    static_layer: { a: 1, b: { c: "x" } }
  - name: admin
    admin_layer: {}
stats_config:
  stats_matcher:
    exclusion_list:
      patterns:
      - prefix: "cluster.backend.upstream_cx_"
  stats_tags:
  - tag_name: deployment
    fixed_value: blue
stats_sinks:
- name: envoy.stat_sinks.statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    address:
      socket_address: { address: 127.0.0.1, port_value: ${statsdPort}, protocol: UDP }
    prefix: ${statsdPrefix}
- name: envoy.stat_sinks.dog_statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink
    address:
      socket_address: { address: 127.0.0.1, port_value: ${dogPort}, protocol: UDP }
    max_bytes_per_datagram: 1400
static_resources:
  listeners:
${hcmListener({ name: 'sinked', port: 0, statPrefix: 'ingress', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }] })}  clusters:
${cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: upPort }] })}`;
}

/** Sum of the values of every `name:<v>|c` line (each flush sends the change since the previous one). */
function counterSum(lines: readonly string[], name: string): number {
  let total = 0;
  for (const l of lines) {
    const m = /^([^:]+):([0-9.]+)\|c/.exec(l);
    if (m !== null && m[1] === name) total += Number(m[2]);
  }
  return total;
}

describe('stats sinks: statsd and dog_statsd over UDP', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let statsd: UdpPeer;
  let dog: UdpPeer;
  let port: number;

  before(async () => {
    up = await startUpstream('backend');
    statsd = await udpPeer();
    dog = await udpPeer();
    legate = await startLegate({ concurrency: 2, config: config(up.port, statsd.port, dog.port) });
    port = await legate.listenerPort('sinked');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await statsd?.close();
    await dog?.close();
  });

  it('sends counters as deltas, gauges and timers to a StatsD peer, with the prefix and without excluded stats', async () => {
    const requests = 7;
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/x`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    await waitUntil(
      () => counterSum(statsd.lines, 'legate.cluster.backend.upstream_rq_total') === requests,
      () => `${requests} upstream_rq_total in the statsd lines; got ${counterSum(statsd.lines, 'legate.cluster.backend.upstream_rq_total')}`,
      15_000,
    );
    // A flush may fall between a request's upstream and downstream counts: the rest comes with the next.
    await waitUntil(() => counterSum(statsd.lines, 'legate.http.ingress.downstream_rq_2xx') === requests,
      () => `${requests} downstream_rq_2xx; got ${counterSum(statsd.lines, 'legate.http.ingress.downstream_rq_2xx')}`, 10_000);
    // Gauges of the same flush may come in a later datagram than the counters waited for above.
    await waitUntil(() => statsd.lines.some((l) => /^legate\.server\.live:1\|g$/.test(l)), () => 'server.live as a gauge', 10_000);
    // A histogram value reaches the primary with the next delta: it may come a flush after its counters.
    await waitUntil(() => statsd.lines.some((l) => /^legate\.cluster\.backend\.upstream_rq_time:[0-9.]+\|ms(\|@[0-9.]+)?$/.test(l)),
      () => 'upstream_rq_time as a timer', 10_000);
    assert.ok(!statsd.lines.some((l) => l.startsWith('legate.cluster.backend.upstream_cx_')), 'stats_matcher excluded stats are not sent');
    // More traffic: the counter keeps adding up by deltas (never re-sent as a total).
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/y`)).arrayBuffer();
    await waitUntil(
      () => counterSum(statsd.lines, 'legate.cluster.backend.upstream_rq_total') === requests + 3,
      () => `${requests + 3} upstream_rq_total; got ${counterSum(statsd.lines, 'legate.cluster.backend.upstream_rq_total')}`,
      15_000,
    );
  });

  it('sends tag-extracted names with DogStatsD tags, the default prefix, packed in datagrams', async () => {
    await waitUntil(
      () => dog.lines.some((l) => l.startsWith('envoy.cluster.upstream_rq_total:')),
      () => 'a DogStatsD upstream_rq_total line',
      15_000,
    );
    const line = dog.lines.find((l) => l.startsWith('envoy.cluster.upstream_rq_total:'))!;
    assert.match(line, /\|c\|#envoy\.cluster_name:backend,deployment:blue$/);
    assert.ok(dog.lines.some((l) => /^envoy\.http\.downstream_rq_xx:\d+\|c\|#envoy\.response_code_class:2,envoy\.http_conn_manager_prefix:ingress,deployment:blue$/.test(l)),
      'response code class tag');
  });

  it('counts runtime loads and keys (runtime.*), /runtime_modify included', async () => {
    const start = await legate.statsMap();
    assert.equal(start.get('runtime.load_success'), 1);
    assert.equal(start.get('runtime.num_keys'), 2);
    assert.equal(start.get('runtime.num_layers'), 2);
    assert.equal(start.get('runtime.admin_overrides_active'), 0);
    assert.equal((await legate.admin('/runtime_modify?z=1', { method: 'POST' })).status, 200);
    const after = await legate.statsMap();
    assert.equal(after.get('runtime.load_success'), 2);
    assert.equal(after.get('runtime.num_keys'), 3);
    assert.equal(after.get('runtime.admin_overrides_active'), 1);
  });

  it('prints the interval and cumulative quantiles of histograms in /stats and applies the matcher there too', async () => {
    const { body } = await legate.admin('/stats?filter=cluster.backend');
    assert.ok(!/upstream_cx_/.test(body), 'excluded stats are not in /stats');
    assert.match(body, /cluster\.backend\.upstream_rq_total: 10/);
    assert.match(body, /cluster\.backend\.upstream_rq_200: 10/);
    assert.ok(!/upstream_rq_404/.test(body), 'a status code never seen is not listed');
    // After a quiet flush interval, the interval part is empty and the cumulative one is not.
    await waitUntil(async () => /upstream_rq_time: P0\(nan,[0-9.]+\)/.test((await legate.admin('/stats?filter=upstream_rq_time')).body), () => 'an empty interval', 10_000);
    assert.equal((await legate.statsMap()).get('server.version'), 1234, 'stats_server_version_override');
    const prom = await legate.admin('/stats/prometheus');
    assert.match(prom.body, /envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="backend",deployment="blue"\} 10/);
  });

  it('keeps the sinks of the start on reload, as Envoy, and says so', async () => {
    legate.writeConfig(config(up.port, statsd.port, dog.port, 'renamed'));
    const from = legate.stderr.length;
    assert.equal(await legate.reload(), true);
    assert.match(legate.stderr.slice(from), /stats_sinks.*read at start-up only/);
    const seen = statsd.lines.length;
    await waitUntil(() => statsd.lines.length > seen + 5, () => 'more statsd lines after the reload', 10_000);
    assert.ok(statsd.lines.slice(seen).every((l) => l.startsWith('legate.')), 'still the start-up prefix');
  });
});
