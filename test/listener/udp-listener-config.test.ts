// Compiling UDP listeners (udp_proxy) and tcp_proxy hash_policy: what the snapshot holds, Envoy's defaults, and
// what is refused with its field path ("not supported yet" for the parts Legate does not run).

import test from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { ConfigErrorList, formatConfigProblem, sortProblems } from '../../src/config-loader/config-error.ts';
import { compileSnapshot, type CompileResult } from '../../src/snapshot/compile-snapshot.ts';

const UDP = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig';
const TCP = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function compile(listener: string): CompileResult {
  const yaml = `static_resources:
  listeners:
${listener}
  clusters:
  - name: a
    connect_timeout: 1s
    load_assignment: { cluster_name: a }
`;
  return compileSnapshot(loadConfig({ configPath: undefined, configYaml: yaml }), 1);
}

/** Every problem, from the loader (thrown) or the compiler, formatted. */
function problemsOf(listener: string): string[] {
  try {
    const r = compile(listener);
    return sortProblems(r.problems, ['--config-yaml']).map(formatConfigProblem);
  } catch (err) {
    if (err instanceof ConfigErrorList) return err.problems.map(formatConfigProblem);
    throw err;
  }
}

function udpListener(proxy: string, extra = '', port = 5300): string {
  return `  - name: u
    address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: ${port} } }
${extra}    listener_filters:
    - name: envoy.filters.udp_listener.udp_proxy
      typed_config:
        "@type": ${UDP}
        stat_prefix: s
${proxy}`;
}

test('a UDP listener with udp_proxy compiles, with Envoy defaults', () => {
  const r = compile(udpListener('        cluster: a\n'));
  assert.deepEqual(sortProblems(r.problems, []).map(formatConfigProblem), []);
  assert.equal(r.snapshot.listeners.length, 0);
  const u = r.snapshot.udpListeners![0]!;
  assert.equal(u.name, 'u');
  assert.equal(u.bindKey, 'udp:127.0.0.1:5300');
  assert.equal(u.downstreamMaxRxDatagramSize, 1500);
  assert.deepEqual(u.proxy, {
    statPrefix: 's', cluster: 'a', idleTimeoutMs: 60_000, hashPolicy: null, upstreamMaxRxDatagramSize: 1500,
    perPacketLoadBalancing: false, slots: null, clusterSlots: null,
  });
});

test('matcher on_no_match, idle_timeout, hash_policies, socket configs and per-packet balancing', () => {
  const r = compile(udpListener(`        matcher:
          on_no_match:
            action:
              name: route
              typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route, cluster: a }
        idle_timeout: 5s
        hash_policies: [ { key: k1 } ]
        upstream_socket_config: { max_rx_datagram_size: 9000 }
        use_per_packet_load_balancing: true
`, `    udp_listener_config: { downstream_socket_config: { max_rx_datagram_size: 4096 } }
`));
  assert.deepEqual(r.problems, []);
  const u = r.snapshot.udpListeners![0]!;
  assert.equal(u.downstreamMaxRxDatagramSize, 4096);
  assert.equal(u.proxy.cluster, 'a');
  assert.equal(u.proxy.idleTimeoutMs, 5000);
  assert.deepEqual(u.proxy.hashPolicy, { kind: 'key', key: 'k1' });
  assert.equal(u.proxy.upstreamMaxRxDatagramSize, 9000);
  assert.equal(u.proxy.perPacketLoadBalancing, true);
});

test('what a UDP listener cannot have is refused with its path', () => {
  const cases: [string, RegExp][] = [
    [udpListener('        cluster: a\n        use_original_src_ip: true\n'), /not supported yet: .*use_original_src_ip/],
    [udpListener(`        matcher:
          matcher_list:
            matchers:
            - predicate:
                single_predicate:
                  input: { name: i, typed_config: { "@type": type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.SourceIPInput } }
                  value_match: { exact: 1.2.3.4 }
              on_match:
                action: { name: r, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route, cluster: a } }
`), /not supported yet/],
    [udpListener('        cluster: a\n', '', 0), /port_value: not supported yet: a UDP listener on port 0/],
    [`  - name: u
    address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: 5300 } }
`, /listener_filters: a UDP listener needs the envoy.filters.udp_listener.udp_proxy listener filter/],
    [`  - name: t
    address: { socket_address: { address: 127.0.0.1, port_value: 5300 } }
    listener_filters:
    - name: envoy.filters.udp_listener.udp_proxy
      typed_config: { "@type": ${UDP}, stat_prefix: s, cluster: a }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: p, cluster: a }
`, /listener_filters\[0\]: envoy.filters.udp_listener.udp_proxy runs on a UDP listener/],
  ];
  for (const [listener, expected] of cases) {
    const problems = problemsOf(listener);
    assert.ok(problems.some((p) => expected.test(p)), `${expected}:\n${problems.join('\n')}`);
  }
});

test('tcp_proxy hash_policy: source_ip and filter_state compile; two entries are refused', () => {
  const tcp = (policy: string): string => `  - name: t
    address: { socket_address: { address: 127.0.0.1, port_value: 5301 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP}
          stat_prefix: p
          cluster: a
          hash_policy: ${policy}
`;
  const hashOf = (policy: string): unknown => {
    const f = compile(tcp(policy)).snapshot.listeners[0]!.filterChains[0]!.filter;
    return f.kind === 'tcp_proxy' ? f.tcpProxy.hashPolicy : undefined;
  };
  assert.deepEqual(hashOf('[ { source_ip: {} } ]'), { kind: 'source_ip' });
  assert.deepEqual(hashOf('[ { filter_state: { key: k } } ]'), { kind: 'filter_state', key: 'k' });
  const problems = problemsOf(tcp('[ { source_ip: {} }, { source_ip: {} } ]'));
  assert.ok(problems.some((p) => /hash_policy/.test(p)), problems.join('\n'));
});
