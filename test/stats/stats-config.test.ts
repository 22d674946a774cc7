// stats_config and stats_sinks compiled (src/stats/stats-config.ts) and applied by the registry: custom and default
// tags, fixed values, use_all_default_tags, the stats matcher, histogram buckets; histogram intervals; the
// cluster_manager/listener_manager bookkeeping; the StatsD and DogStatsD line formats.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatRegistry } from '../../src/stats/stat-registry.ts';
import { SharedRegions } from '../../src/stats/shared-regions.ts';
import { compileStatsSettings, StatsSinkKind } from '../../src/stats/stats-config.ts';
import { formatStatsPrometheus } from '../../src/stats/format-prometheus.ts';
import { formatStatsText } from '../../src/stats/format-text.ts';
import { parseStatsQuery } from '../../src/stats/stats-query.ts';
import { ManagerStats } from '../../src/stats/manager-stats.ts';
import { StatsdSink } from '../../src/stats/statsd-sink.ts';
import { CLUSTER_STATS, UPSTREAM_RQ_CODE_INDEX, UPSTREAM_RQ_CODE_NAMES } from '../../src/stats/definitions.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';

const q = (s: string) => parseStatsQuery(new URLSearchParams(s));

function settingsOf(bootstrap: Record<string, unknown>) {
  const r = compileStatsSettings(bootstrap);
  assert.deepEqual(r.problems, []);
  return r.settings;
}

describe('stats_config compile', () => {
  it('has Envoy defaults without a stats_config', () => {
    const s = settingsOf({});
    assert.equal(s.flushIntervalMs, 5000);
    assert.equal(s.useAllDefaultTags, true);
    assert.equal(s.matcher.kind, 'all');
    assert.deepEqual(s.sinks, []);
  });

  it('reports bad values with their paths', () => {
    const r = compileStatsSettings({
      stats_flush_interval: 0,
      stats_config: {
        stats_tags: [{ tag_name: 'x', regex: '(' }, { tag_name: 'not_default' }, { tag_name: 'y', regex: 'abc' }],
        histogram_bucket_settings: [{ match: { prefix: 'a' }, buckets: [] }],
      },
      stats_sinks: [
        { name: 'envoy.stat_sinks.metrics_service', typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig' } },
        { name: 'envoy.stat_sinks.statsd', typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.StatsdSink' } },
      ],
    });
    const paths = r.problems.map((p) => p.path);
    assert.deepEqual(paths, [
      'stats_flush_interval',
      'stats_config.stats_tags[0].regex',
      'stats_config.stats_tags[1].regex',
      'stats_config.stats_tags[2].regex',
      'stats_config.histogram_bucket_settings[0].buckets',
      'stats_sinks[0].typed_config',
      'stats_sinks[1].typed_config.address',
    ]);
    assert.match(r.problems[5]!.message, /^not supported yet: stats sink @type/);
  });

  it('compiles both sink kinds with Envoy\'s default prefix', () => {
    const s = settingsOf({
      stats_sinks: [
        { name: 'a', typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.StatsdSink', address: { socket_address: { address: '127.0.0.1', port_value: 8125 } } } },
        { name: 'b', typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink', address: { socket_address: { address: '::1', port_value: 8126 } }, prefix: 'p', max_bytes_per_datagram: 512 } },
      ],
    });
    assert.deepEqual(s.sinks.map((k) => [k.kind, k.address, k.port, k.prefix, k.maxBytesPerDatagram]), [
      [StatsSinkKind.STATSD, '127.0.0.1', 8125, 'envoy', 0],
      [StatsSinkKind.DOG_STATSD, '::1', 8126, 'p', 512],
    ]);
  });
});

describe('stats_config applied by the registry', () => {
  it('adds custom regex tags before the defaults and fixed values after, to stats named before and after', () => {
    const r = new StatRegistry({ maxValueSlots: 64 });
    const before = r.counter('cluster.backend.upstream_rq_200', [['envoy_cluster_name', 'backend']]);
    r.configure(settingsOf({
      stats_config: {
        stats_tags: [
          { tag_name: 'envoy.custom_shard', regex: '^cluster\\.\\w+\\.(shard_(\\d+)\\.)' },
          { tag_name: 'region', fixed_value: 'eu' },
        ],
      },
    }));
    const after = r.counter('cluster.backend.shard_3.upstream_rq_total', [['envoy_cluster_name', 'backend']]);
    const a = r.valueInfo(before);
    assert.equal(a.prometheusName, 'envoy_cluster_upstream_rq');
    assert.equal(a.prometheusLabels, 'envoy_response_code="200",envoy_cluster_name="backend",region="eu"');
    const b = r.valueInfo(after);
    assert.equal(b.tagExtractedName, 'cluster.upstream_rq_total');
    assert.equal(b.prometheusLabels, 'envoy_custom_shard="3",envoy_cluster_name="backend",region="eu"');
  });

  it('keeps only the default tags named when use_all_default_tags is false', () => {
    const r = new StatRegistry({ maxValueSlots: 64 });
    r.configure(settingsOf({ stats_config: { use_all_default_tags: false, stats_tags: [{ tag_name: 'envoy.response_code' }] } }));
    const slot = r.counter('cluster.backend.upstream_rq_503', [['envoy_cluster_name', 'backend']]);
    const info = r.valueInfo(slot);
    assert.equal(info.tagExtractedName, 'cluster.backend.upstream_rq');
    assert.equal(info.prometheusLabels, 'envoy_response_code="503"');
  });

  it('reports no stat the matcher rejects, and lazily named counters only once counted', () => {
    const r = new StatRegistry({ maxValueSlots: 4096 });
    r.configure(settingsOf({ stats_config: { stats_matcher: { exclusion_list: { patterns: [{ suffix: '_cx_active' }, { safe_regex: { regex: 'server\\..*' } }] } } } }));
    const regions = new SharedRegions(r);
    const slots = r.allocateScope('cluster.c.', CLUSTER_STATS, [['envoy_cluster_name', 'c']]);
    const codeBase = r.lazyCounterRun('cluster.c.', UPSTREAM_RQ_CODE_NAMES, [['envoy_cluster_name', 'c']]);
    assert.ok(codeBase >= 0);
    // Allocated again (a reload): the same run.
    assert.equal(r.lazyCounterRun('cluster.c.', UPSTREAM_RQ_CODE_NAMES, [['envoy_cluster_name', 'c']]), codeBase);
    r.gauge('server.live');
    const values = regions.primaryStore.values;
    values[slots.upstream_rq_total] = 2;
    values[codeBase + UPSTREAM_RQ_CODE_INDEX[204]!] = 2;
    const text = formatStatsText(regions.snapshot(), q(''));
    assert.match(text, /cluster\.c\.upstream_rq_total: 2/);
    assert.match(text, /cluster\.c\.upstream_rq_204: 2/);
    assert.ok(!text.includes('upstream_rq_200'), 'a code never counted is not listed');
    assert.ok(!text.includes('upstream_cx_active'), 'excluded by suffix');
    assert.ok(!text.includes('server.live'), 'excluded by regex');
    // Once seen, a lazily named counter stays listed (Envoy's would exist from then on).
    values[codeBase + UPSTREAM_RQ_CODE_INDEX[204]!] = 0;
    assert.match(formatStatsText(regions.snapshot(), q('')), /cluster\.c\.upstream_rq_204: 0/);

    const only = new StatRegistry({ maxValueSlots: 64 });
    only.configure(settingsOf({ stats_config: { stats_matcher: { inclusion_list: { patterns: [{ prefix: 'cluster.' }] } } } }));
    const onlyRegions = new SharedRegions(only);
    only.counter('cluster.x.upstream_rq_total');
    only.counter('http.x.downstream_rq_total');
    assert.equal(formatStatsText(onlyRegions.snapshot(), q('')), 'cluster.x.upstream_rq_total: 0\n');

    const none = new StatRegistry({ maxValueSlots: 64 });
    none.configure(settingsOf({ stats_config: { stats_matcher: { reject_all: true } } }));
    none.counter('cluster.x.upstream_rq_total');
    assert.equal(formatStatsText(new SharedRegions(none).snapshot(), q('')), '');
  });

  it('uses histogram_bucket_settings for the Prometheus buckets of the histograms they match', () => {
    const r = new StatRegistry({ maxValueSlots: 64 });
    r.configure(settingsOf({ stats_config: { histogram_bucket_settings: [{ match: { suffix: 'upstream_rq_time' }, buckets: [100, 1, 10] }] } }));
    const regions = new SharedRegions(r);
    const custom = r.histogram('cluster.b.upstream_rq_time', [['envoy_cluster_name', 'b']]);
    const dflt = r.histogram('cluster.b.upstream_cx_length_ms', [['envoy_cluster_name', 'b']]);
    for (const v of [0.5, 5, 50, 500]) regions.primaryStore.record(custom, v);
    regions.primaryStore.record(dflt, 3);
    const prom = formatStatsPrometheus(regions.snapshot(), q(''));
    assert.match(prom, /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="b",le="1"\} 1\n/);
    assert.match(prom, /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="b",le="10"\} 2\n/);
    assert.match(prom, /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="b",le="100"\} 3\n/);
    assert.match(prom, /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="b",le="\+Inf"\} 4\n/);
    assert.ok(!/envoy_cluster_upstream_rq_time_bucket\{[^}]*le="0.5"/.test(prom), 'custom bounds only');
    assert.match(prom, /envoy_cluster_upstream_cx_length_ms_bucket\{envoy_cluster_name="b",le="0.5"\} 0\n/);
  });
});

describe('histogram interval and cumulative', () => {
  it('prints the last complete flush interval first, the cumulative second', () => {
    const r = new StatRegistry({ maxValueSlots: 64 });
    const regions = new SharedRegions(r);
    const h = r.histogram('cluster.b.upstream_rq_time');
    regions.primaryStore.record(h, 1);
    // Before any flush, the interval is empty.
    assert.match(formatStatsText(regions.snapshot(), q('')), /P0\(nan,1\) .* P100\(nan,1\)/);
    regions.rotateHistogramInterval();
    regions.primaryStore.record(h, 9);
    // The interval is the one that ended (1); what came since only shows in the cumulative.
    assert.match(formatStatsText(regions.snapshot(), q('')), /P0\(1,1\) .* P100\(1,9\)/);
    regions.rotateHistogramInterval();
    assert.match(formatStatsText(regions.snapshot(), q('')), /P0\(9,1\) .* P100\(9,9\)/);
    regions.rotateHistogramInterval();
    assert.match(formatStatsText(regions.snapshot(), q('')), /P0\(nan,1\) .* P100\(nan,9\)/);
  });
});

describe('cluster_manager and listener_manager', () => {
  it('counts added, modified and removed by name between versions', () => {
    const r = new StatRegistry({ maxValueSlots: 64 });
    const regions = new SharedRegions(r);
    const m = new ManagerStats(r, regions.primaryStore.values);
    const get = (name: string) => regions.readAll()[r.lookup(name)!.slot];
    m.onVersion([{ name: 'a', signature: '1' }, { name: 'b', signature: '1' }], [{ name: 'l', signature: '1' }], 2);
    m.onVersion([{ name: 'a', signature: '2' }, { name: 'c', signature: '1' }], [{ name: 'l', signature: '1' }], 2);
    assert.equal(get('cluster_manager.cluster_added'), 3);
    assert.equal(get('cluster_manager.cluster_modified'), 1);
    assert.equal(get('cluster_manager.cluster_removed'), 1);
    assert.equal(get('cluster_manager.active_clusters'), 2);
    assert.equal(get('listener_manager.listener_added'), 1);
    assert.equal(get('listener_manager.listener_modified'), 0);
    assert.equal(get('listener_manager.listener_create_success'), 2);
    assert.equal(get('listener_manager.total_listeners_active'), 1);
  });
});

describe('statsd line formats', () => {
  it('writes StatsD full names and DogStatsD tag-extracted names with tags and sample rates', () => {
    const r = new StatRegistry({ maxValueSlots: 64 });
    const regions = new SharedRegions(r);
    const c = r.counter('cluster.backend.upstream_rq_2xx', [['envoy_cluster_name', 'backend']]);
    const g = r.gauge('cluster.backend.upstream_rq_active', [['envoy_cluster_name', 'backend']]);
    const h = r.histogram('cluster.backend.upstream_rq_time', [['envoy_cluster_name', 'backend']]);
    for (const v of [5, 5, 5, 40]) regions.primaryStore.record(h, v);
    regions.rotateHistogramInterval();
    const flush = {
      values: [{ info: r.valueInfo(c), value: 3 }, { info: r.valueInfo(g), value: 1 }],
      histograms: [r.histogramInfo(h)],
      forEachIntervalValue: (slot: number, fn: (value: number, count: number) => void) => regions.forEachIntervalValue(slot, fn),
    };
    const address = { address: '127.0.0.1', port: 9, maxBytesPerDatagram: 0 };
    const statsd = new StatsdSink({ kind: StatsSinkKind.STATSD, prefix: 'envoy', ...address });
    const dog = new StatsdSink({ kind: StatsSinkKind.DOG_STATSD, prefix: 'envoy', ...address });
    try {
      assert.deepEqual(statsd.lines(flush), [
        'envoy.cluster.backend.upstream_rq_2xx:3|c',
        'envoy.cluster.backend.upstream_rq_active:1|g',
        'envoy.cluster.backend.upstream_rq_time:5|ms|@0.333333',
        'envoy.cluster.backend.upstream_rq_time:40|ms',
      ]);
      assert.deepEqual(dog.lines(flush), [
        'envoy.cluster.upstream_rq_xx:3|c|#envoy.response_code_class:2,envoy.cluster_name:backend',
        'envoy.cluster.upstream_rq_active:1|g|#envoy.cluster_name:backend',
        'envoy.cluster.upstream_rq_time:5|ms|@0.333333|#envoy.cluster_name:backend',
        'envoy.cluster.upstream_rq_time:40|ms|#envoy.cluster_name:backend',
      ]);
    } finally {
      statsd.close();
      dog.close();
    }
  });
});

describe('stats_config and stats_sinks through the config pipeline', () => {
  const write = (text: string): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-stats-config-'));
    const file = path.join(dir, 'legate.yaml');
    fs.writeFileSync(file, text);
    return file;
  };
  const sink = (protocol: string) => `stats_sinks:
- name: envoy.stat_sinks.statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    address: { socket_address: { address: 127.0.0.1, port_value: 8125, protocol: ${protocol} } }
`;

  it('loads a statsd sink over UDP, while a listener over UDP stays refused', () => {
    const ok = runConfigPipeline({ configPath: write(`${sink('UDP')}stats_config: { stats_tags: [ { tag_name: t, fixed_value: v } ] }\n`), configYaml: undefined }, 1);
    assert.ok(ok.ok, ok.ok ? '' : ok.message);
    const udpListener = runConfigPipeline({ configPath: write(`static_resources:
  listeners:
  - address: { socket_address: { address: 127.0.0.1, port_value: 53, protocol: UDP } }
    filter_chains: [ { filters: [ { name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: x, cluster: c } } ] } ]
`), configYaml: undefined }, 1);
    assert.ok(!udpListener.ok);
    // A UDP listener runs the udp_proxy listener filter (src/snapshot/udp-listener-config.ts), not filter chains.
    assert.match(udpListener.message, /static_resources\.listeners\[0\]\.listener_filters: a UDP listener needs the envoy\.filters\.udp_listener\.udp_proxy listener filter/);
  });

  it('reports a bad stats_tags regex and an unsupported sink with their paths (as --mode validate does)', () => {
    const r = runConfigPipeline({ configPath: write(`stats_config: { stats_tags: [ { tag_name: t, regex: "(" } ] }
stats_sinks:
- name: envoy.stat_sinks.statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    tcp_cluster_name: statsd
`), configYaml: undefined }, 1);
    assert.ok(!r.ok);
    assert.match(r.message, /not supported yet: stats_sinks\[0\]\.typed_config\.tcp_cluster_name/);
    const bad = runConfigPipeline({ configPath: write('stats_config: { stats_tags: [ { tag_name: t, regex: "(" } ] }\n'), configYaml: undefined }, 1);
    assert.ok(!bad.ok);
    assert.match(bad.message, /stats_config\.stats_tags\[0\]\.regex: invalid regex/);
  });
});
