// Reading real configs as Envoy reads them (issue 13 §3): enum values in any case, the bootstrap fields generated
// configs carry, types newer than the bundled schema, --allow-unknown-static-fields, and the load-time checks
// Envoy makes that the schema cannot (duplicate names, IP literals, one listener per address).

import test from 'node:test';
import assert from 'node:assert/strict';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { brief, loads, problemsOf, writeConfig } from './support.ts';

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function hcm(extra: string, accessLog = ''): string {
  return `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE}
          stat_prefix: x
${extra}${accessLog}          route_config: { virtual_hosts: [ { name: v, domains: ["*"], routes: [ { match: { prefix: / }, route: { cluster: backend } } ] } ] }
          http_filters: [ { name: envoy.filters.http.router } ]
  clusters:
  - name: backend
    type: strict_dns
    lb_policy: Round_Robin
    dns_lookup_family: v4_only
    load_assignment: { cluster_name: backend, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: localhost, port_value: 1 } } } } ] } ] }
`;
}

test('enum values in any case are read as Envoy reads them, and normalised to the canonical name', () => {
  const file = writeConfig('enum-case.yaml', hcm('          codec_type: auto\n          forward_client_cert_details: sanitize\n'));
  const loaded = loads(file);
  const sr = loaded.bootstrap['static_resources'] as { listeners: { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }[]; clusters: Record<string, unknown>[] };
  const tc = sr.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config;
  assert.equal(tc['codec_type'], 'AUTO');
  // An unsupported field at its zero value, in lower case, asks for nothing Legate lacks.
  assert.equal(tc['forward_client_cert_details'], 'SANITIZE');
  const c = sr.clusters[0]!;
  assert.deepEqual([c['type'], c['lb_policy'], c['dns_lookup_family']], ['STRICT_DNS', 'ROUND_ROBIN', 'V4_ONLY']);
  // And the compiled config sees the one spelling.
  const r = runConfigPipeline({ configPath: file, configYaml: undefined }, 1);
  assert.ok(r.ok, r.ok ? '' : r.message);
});

test('an enum value that is no value in any case is still refused, with a suggestion', () => {
  const file = writeConfig('enum-bad.yaml', hcm('          codec_type: autoo\n'));
  assert.deepEqual(problemsOf(file).map(brief), [
    '11:11 bad_enum static_resources.listeners[0].filter_chains[0].filters[0].typed_config.codec_type: unknown value \'autoo\' for enum envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.CodecType; expected one of AUTO, HTTP1, HTTP2, HTTP3 (did you mean \'AUTO\'?)',
  ]);
});

test('a field whose type the bundled schema lacks is reported with its position, never as a protobufjs error', () => {
  const otel = `          access_log:
          - name: envoy.access_loggers.open_telemetry
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig
              common_config: { log_name: x, transport_api_version: V3, grpc_service: { envoy_grpc: { cluster_name: backend } } }
              resource_attributes: { values: [ { key: a, value: { string_value: b } } ] }
`;
  const file = writeConfig('otel.yaml', hcm('', otel));
  const lines = problemsOf(file).map(brief);
  const AL = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log[0].typed_config';
  assert.deepEqual(lines, [
    `13:13 not_supported ${AL}: not supported yet: access logger envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig (line 13)`,
    `16:15 newer_api ${AL}.resource_attributes: this field needs a newer Envoy API than Legate's schema (Envoy API v1.31, from @grpc/grpc-js-xds 1.14.1): its type opentelemetry.proto.common.v1.KeyValueList is not in it`,
  ]);
  for (const l of lines) assert.doesNotMatch(l, /no such Type or Enum/);
});

test('the bootstrap fields generated configs carry: implemented or accepted', () => {
  const file = writeConfig('bootstrap-fields.yaml', `node:
  id: n1
  cluster: c1
  user_agent_name: envoy
  user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 2 }, metadata: { a: b } }
cluster_manager:
  local_cluster_name: backend
  outlier_detection: { event_log_path: /dev/null }
default_regex_engine: { name: envoy.regex_engines.google_re2, typed_config: { "@type": type.googleapis.com/envoy.extensions.regex_engines.v3.GoogleRE2 } }
layered_runtime:
  layers:
  - name: static
    static_layer: { overload: { global_downstream_max_connections: 50000 } }
  - name: admin
    admin_layer: {}
application_log_config: { log_format: { json_format: { level: "%l", message: "%j" } } }
bootstrap_extensions: []
use_tcp_for_dns_lookups: false
${hcm('')}`);
  const loaded = loads(file);
  assert.deepEqual(loaded.bootstrap['application_log_config'], { log_format: { json_format: { level: '%l', message: '%j' } } });
  const r = runConfigPipeline({ configPath: file, configYaml: undefined }, 1);
  assert.ok(r.ok, r.ok ? '' : r.message);
  // Runtime values are shown, never silently taken as applied.
  assert.match(r.warnings.join('\n'), /layered_runtime\.layers\[0\]\.static_layer: Legate reads no runtime key yet: .*overload\.global_downstream_max_connections/);
});

test('bootstrap fields Legate does not implement are "not supported yet", each where it is written', () => {
  const file = writeConfig('bootstrap-unsupported.yaml', `stats_config: { use_all_default_tags: false }
stats_sinks: [ { name: envoy.stat_sinks.statsd, typed_config: { "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink, tcp_cluster_name: backend } } ]
header_prefix: x-acme
use_tcp_for_dns_lookups: true
cluster_manager: { load_stats_config: { api_type: GRPC } }
layered_runtime: { layers: [ { name: disk, disk_layer: { symlink_root: /srv/runtime } } ] }
bootstrap_extensions:
- name: envoy.bootstrap.internal_listener
  typed_config: { "@type": type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener }
${hcm('')}`);
  assert.deepEqual(problemsOf(file).map((p) => `${p.position?.line} ${p.code} ${p.path}`), [
    // stats_config loads (src/stats/stats-config.ts); a statsd sink over TCP to a cluster does not yet.
    '2 not_supported stats_sinks[0].typed_config.tcp_cluster_name',
    '3 not_supported header_prefix',
    '4 not_supported use_tcp_for_dns_lookups',
    '5 not_supported cluster_manager.load_stats_config',
    '6 not_supported layered_runtime.layers[0].disk_layer',
    '9 not_supported bootstrap_extensions[0].typed_config',
  ]);
});

test('--allow-unknown-static-fields: unknown fields are skipped and listed, other problems still count', () => {
  const file = writeConfig('unknown-fields.yaml', hcm('          bogus_field: 1\n').replace('    type: strict_dns', '    type: strict_dns\n    also_bogus: { a: 1 }'));
  assert.equal(problemsOf(file).length, 2);
  const loaded = loadConfig({ configPath: file, configYaml: undefined, allowUnknownFields: true });
  assert.deepEqual(loaded.ignoredUnknownFields.map((p) => `${p.position?.line} ${p.path}`), [
    '11 static_resources.listeners[0].filter_chains[0].filters[0].typed_config.bogus_field',
    '17 static_resources.clusters[0].also_bogus',
  ]);
  const r = runConfigPipeline({ configPath: file, configYaml: undefined, allowUnknownStaticFields: true }, 1);
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.equal(r.staticUnknownFields, 2);
  assert.match(r.warnings[0]!, /unknown field 'bogus_field' .*\(ignored: --allow-unknown-static-fields\)/);
  // An unknown @type is not an unknown field: still refused.
  const typed = writeConfig('unknown-type.yaml', hcm('').replace('http_filters: [ { name: envoy.filters.http.router } ]', 'http_filters: [ { name: r, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope } } ]'));
  const r2 = runConfigPipeline({ configPath: typed, configYaml: undefined, allowUnknownStaticFields: true }, 1);
  assert.equal(r2.ok, false);
});

test('--service-node, --service-cluster and --service-zone override the bootstrap node', () => {
  const file = writeConfig('node.yaml', `node: { id: a, cluster: b, locality: { region: r, zone: z } }\n${hcm('')}`);
  const r = runConfigPipeline({ configPath: file, configYaml: undefined, serviceNode: 'n2', serviceCluster: 'c2', serviceZone: 'z2' }, 1);
  assert.ok(r.ok);
  assert.deepEqual(r.bootstrap['node'], { id: 'n2', cluster: 'c2', locality: { region: 'r', zone: 'z2' } });
});

function tcpListener(name: string, address: string, port: number): string {
  return `  - name: ${name}
    address: { socket_address: { address: "${address}", port_value: ${port} } }
    filter_chains: [ { filters: [ { name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: c } } ] } ]
`;
}
const CLUSTER_C = `  - name: c
    load_assignment: { cluster_name: c, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ] }
`;

function pipelineLines(name: string, text: string): string[] {
  const r = runConfigPipeline({ configPath: writeConfig(name, text), configYaml: undefined }, 1);
  assert.equal(r.ok, false);
  return r.ok ? [] : r.message.split('\n').map((l) => l.replace(/^.*?\.yaml:/, ''));
}

test('rejected at load, as Envoy: duplicate listener and cluster names, a host name or bad IP as a listener address, an address bound twice', () => {
  const text = `static_resources:
  listeners:
${tcpListener('a', '127.0.0.1', 10001)}${tcpListener('a', '127.0.0.1', 10002)}${tcpListener('b', '127.0.0.300', 10003)}${tcpListener('c', 'localhost', 10004)}${tcpListener('d', '::1', 10005)}${tcpListener('e', '0:0:0:0:0:0:0:1', 10005)}  clusters:
${CLUSTER_C}${CLUSTER_C}`;
  assert.deepEqual(pipelineLines('parity.yaml', text), [
    "6:5: static_resources.listeners[1].name: listener name 'a' is already used by static_resources.listeners[0]",
    '10:34: static_resources.listeners[2].address.socket_address.address: malformed IP address: 127.0.0.300 (a listener binds an IPv4 or IPv6 address, not a host name)',
    '13:34: static_resources.listeners[3].address.socket_address.address: malformed IP address: localhost (a listener binds an IPv4 or IPv6 address, not a host name)',
    "19:5: static_resources.listeners[5].address: listener 'e' binds ::1:10005, already bound by listener 'd'",
    "24:5: static_resources.clusters[1].name: cluster name 'c' is already used by static_resources.clusters[0]",
  ]);
});

test('cluster_manager.local_cluster_name must name a cluster, as Envoy checks', () => {
  const text = `cluster_manager: { local_cluster_name: nowhere }
static_resources:
  listeners:
${tcpListener('a', '127.0.0.1', 10001)}  clusters:
${CLUSTER_C}`;
  assert.deepEqual(pipelineLines('local-cluster.yaml', text), [
    "1:20: cluster_manager.local_cluster_name: local cluster 'nowhere' must be defined in static_resources.clusters",
  ]);
});
