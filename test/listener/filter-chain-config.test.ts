// Compiling listeners with several filter chains and tcp_proxy: what the snapshot holds, which configs are
// rejected (with the field path and line), and which only get a warning.

import test from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot, type CompileResult } from '../../src/snapshot/compile-snapshot.ts';
import { formatConfigProblem, sortProblems } from '../../src/config-loader/config-error.ts';

const TCP = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function compile(listener: string, clusters = ['a', 'b']): CompileResult {
  const yaml = `static_resources:
  listeners:
${listener}
  clusters:
${clusters.map((c) => `  - name: ${c}\n    connect_timeout: 1s\n    load_assignment: { cluster_name: ${c} }\n`).join('')}`;
  return compileSnapshot(loadConfig({ configPath: undefined, configYaml: yaml }), 1);
}

function problems(r: CompileResult): string[] {
  return sortProblems(r.problems, ['--config-yaml']).map(formatConfigProblem);
}

function tcpChain(match: string, cluster = 'a', prefix = 'p'): string {
  return `    - ${match === '' ? '' : `filter_chain_match: ${match}\n      `}filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: ${prefix}, cluster: ${cluster} }
`;
}

const HEAD = `  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 9000 } }
`;

test('several chains and a default chain compile to the snapshot, with Envoy defaults', () => {
  const r = compile(`${HEAD}    filter_chains:
${tcpChain('{ destination_port: 9000, source_prefix_ranges: [{ address_prefix: 10.1.2.3, prefix_len: 8 }] }')}${tcpChain('{ server_names: ["*.Example.com"] }', 'b')}    default_filter_chain:
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP}
          stat_prefix: d
          weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: b, weight: 3 }] }
          idle_timeout: 30s
          max_connect_attempts: 3
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
`);
  assert.deepEqual(problems(r), []);
  const l = r.snapshot.listeners[0]!;
  assert.deepEqual(l.listenerFilters, ['envoy.filters.listener.tls_inspector']);
  assert.equal(l.filterChains.length, 2);
  const [first, second] = l.filterChains;
  assert.equal(first!.name, 'filter_chains[0]');
  assert.deepEqual(first!.match.sourcePrefixRanges, [{ address: '10.0.0.0', prefixLen: 8, v6: false }]);
  assert.equal(first!.match.destinationPort, 9000);
  assert.deepEqual(second!.match.serverNames, ['*.example.com']);
  assert.equal(first!.transportSocket, null);
  assert.deepEqual(first!.filter, {
    kind: 'tcp_proxy',
    tcpProxy: { statPrefix: 'p', clusters: [{ name: 'a', weight: 1 }], totalWeight: 1, idleTimeoutMs: 3_600_000, maxDownstreamConnectionDurationMs: 0, maxConnectAttempts: 1, accessLogs: [], hashPolicy: null, slots: null },
  });
  const d = l.defaultFilterChain!;
  assert.equal(d.name, 'default_filter_chain');
  assert.notEqual(d.key, first!.key);
  assert.deepEqual(d.filter.kind === 'tcp_proxy' && d.filter.tcpProxy.clusters, [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }]);
  assert.equal(d.filter.kind === 'tcp_proxy' && d.filter.tcpProxy.totalWeight, 4);
  assert.equal(d.filter.kind === 'tcp_proxy' && d.filter.tcpProxy.idleTimeoutMs, 30_000);
  assert.equal(d.filter.kind === 'tcp_proxy' && d.filter.tcpProxy.maxConnectAttempts, 3);
  // The inspector reads ClientHellos: matching on server_names with it is not worth a warning.
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(l.tls, {
    tlsInspector: true, listenerFiltersTimeoutMs: 15_000, continueOnListenerFiltersTimeout: false, inspectorSlots: null, slots: null,
  });
  assert.equal(first!.transportSocketConnectTimeoutMs, 0);
});

test('listener_filters_timeout, continue_on_listener_filters_timeout and transport_socket_connect_timeout compile', () => {
  const r = compile(`${HEAD}    listener_filters_timeout: 2.5s
    continue_on_listener_filters_timeout: true
    filter_chains:
    - transport_socket_connect_timeout: 0.75s
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a }
`);
  assert.deepEqual(problems(r), []);
  const l = r.snapshot.listeners[0]!;
  assert.equal(l.tls.tlsInspector, false);
  assert.equal(l.tls.listenerFiltersTimeoutMs, 2500);
  assert.equal(l.tls.continueOnListenerFiltersTimeout, true);
  assert.equal(l.filterChains[0]!.transportSocketConnectTimeoutMs, 750);
});

test('a listener with only a default chain is valid', () => {
  const r = compile(`${HEAD}    default_filter_chain:
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a }
`);
  assert.deepEqual(problems(r), []);
  assert.equal(r.snapshot.listeners[0]!.filterChains.length, 0);
  assert.notEqual(r.snapshot.listeners[0]!.defaultFilterChain, null);
});

test('chains with the same matching rules are rejected, naming both', () => {
  const r = compile(`${HEAD}    filter_chains:
${tcpChain('{ destination_port: 9000 }')}${tcpChain('{ source_ports: [1] }')}    - name: again
      filter_chain_match: { destination_port: 9000 }
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a }
`);
  assert.deepEqual(problems(r), [
    "--config-yaml:15:7: static_resources.listeners[0].filter_chains[2].filter_chain_match: filter chain 'again' has the same matching rules as 'filter_chains[0]': no connection could ever select it",
  ]);
});

test('duplicate chain names, bad ranges and partial wildcards are errors with their line', () => {
  const r = compile(`${HEAD}    filter_chains:
    - name: x
      filter_chain_match:
        prefix_ranges: [{ address_prefix: 10.0.0.300, prefix_len: 8 }]
        server_names: ["www.*.com", "*"]
        source_prefix_ranges: [{ address_prefix: 10.0.0.1, prefix_len: 33 }]
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a }
${tcpChain('{ destination_port: 1 }').replace('    - ', '    - name: y\n      ')}${tcpChain('{ destination_port: 2 }').replace('    - ', '    - name: y\n      ')}`);
  assert.deepEqual(problems(r), [
"--config-yaml:8:25: static_resources.listeners[0].filter_chains[0].filter_chain_match.prefix_ranges[0]: '10.0.0.300' is not an IP address",
    '--config-yaml:9:24: static_resources.listeners[0].filter_chains[0].filter_chain_match.server_names[0]: partial wildcards are not supported in server_names: \'www.*.com\' (only a leading "*." is)',
    '--config-yaml:9:37: static_resources.listeners[0].filter_chains[0].filter_chain_match.server_names[1]: partial wildcards are not supported in server_names: \'*\' (only a leading "*." is)',
    '--config-yaml:10:32: static_resources.listeners[0].filter_chains[0].filter_chain_match.source_prefix_ranges[0]: prefix_len 33 is out of range for 10.0.0.1 (0 to 32)',
    "--config-yaml:19:7: static_resources.listeners[0].filter_chains[2].name: filter chain name 'y' is already used by filter_chains[1]",
  ]);
});

test('matching on SNI, ALPN or "tls" without the tls_inspector is a warning, as it can never match', () => {
  const r = compile(`${HEAD}    filter_chains:
${tcpChain('{ server_names: [a.example] }')}${tcpChain('{ transport_protocol: tls, application_protocols: [h2] }')}${tcpChain('{ transport_protocol: raw_buffer }')}`);
  assert.deepEqual(problems(r), []);
  assert.deepEqual(r.warnings, [
    '--config-yaml:6:7: static_resources.listeners[0].filter_chains[0].filter_chain_match: matching on server_names needs the envoy.filters.listener.tls_inspector listener filter, which this listener does not have: without it connections carry no SNI or ALPN and are raw_buffer, so this chain never matches on it',
    '--config-yaml:10:7: static_resources.listeners[0].filter_chains[1].filter_chain_match: matching on transport_protocol "tls", application_protocols needs the envoy.filters.listener.tls_inspector listener filter, which this listener does not have: without it connections carry no SNI or ALPN and are raw_buffer, so this chain never matches on them',
  ]);
});

test('tcp_proxy: a cluster that is not defined is a warning (Envoy resolves it per connection); a missing cluster_specifier is an error', () => {
  const r = compile(`${HEAD}    filter_chains:
${tcpChain('', 'nope')}`);
  assert.deepEqual(problems(r), []);
  assert.deepEqual(r.warnings, [
    "--config-yaml:8:126: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.cluster: tcp_proxy names cluster 'nope', which is not defined in static_resources.clusters: its connections will be closed (downstream_cx_no_route)",
  ]);
  assert.throws(
    () => compile(`${HEAD}    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p }
`),
    /cluster_specifier/,
  );
});

test('tcp_proxy fields Legate does not implement yet, and network filters before the terminal one, are named', () => {
  assert.throws(
    () => compile(`${HEAD}    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a, tunneling_config: { hostname: x } }
`),
    /not supported yet: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.tunneling_config/,
  );
  const r = compile(`${HEAD}    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a }
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: q, cluster: a }
`);
  assert.deepEqual(problems(r), [
    '--config-yaml:7:9: static_resources.listeners[0].filter_chains[0].filters[0]: not supported yet: network filters before the terminal filter (http_connection_manager or tcp_proxy) other than one envoy.filters.network.connection_limit, envoy.filters.network.rbac and envoy.filters.network.local_ratelimit',
  ]);
});
