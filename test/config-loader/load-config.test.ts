// loadConfig: Envoy v3 YAML/JSON -> the normalized bootstrap, or every problem with its path and file:line:col.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ConfigErrorList, formatConfigProblem } from '../../src/config-loader/config-error.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { brief, loads, problemsOf, writeConfig } from './support.ts';

const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

const FULL = `node:
  id: edge-1
  metadata:
    filter_metadata:
      envoy.lb: { canary: true, weight: 3, tags: [a, b] }
admin:
  address:
    socketAddress: { address: 127.0.0.1, portValue: 9901 }
static_resources:
  listeners:
  - name: ingress
    perConnectionBufferLimitBytes: { value: 32768 }
    address:
      socket_address: { address: 0.0.0.0, port_value: "10000" }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE}
          statPrefix: ingress_http
          codec_type: 1
          use_remote_address: true
          xff_num_trusted_hops: "2"
          stream_idle_timeout: 0.25s
          request_timeout: { seconds: 3, nanos: 500000000 }
          access_log:
          - name: envoy.access_loggers.stdout
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/api" }
                route: { cluster: api, timeout: 15s }
              - match: { path: "/health", case_sensitive: false }
                direct_response: { status: 200, body: { inline_string: ok } }
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: api
    connectTimeout: 1.5s
    type: STRICT_DNS
    lb_policy: 1
    dns_lookup_family: V4_ONLY
    respect_dns_ttl: yes
    load_assignment:
      cluster_name: api
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: api.internal, port_value: 8080 }
          load_balancing_weight: 2
`;

test('a full bootstrap is normalized: snake_case keys, ms durations, plain wrappers, enum names, resolved Any', () => {
  const file = writeConfig('full.yaml', FULL);
  const loaded = loads(file);
  assert.deepEqual(loaded.files, [file]);
  assert.deepEqual(loaded.bootstrap, {
    node: { id: 'edge-1', metadata: { filter_metadata: { 'envoy.lb': { canary: true, weight: 3, tags: ['a', 'b'] } } } },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 9901 } } },
    static_resources: {
      listeners: [{
        name: 'ingress',
        per_connection_buffer_limit_bytes: 32768,
        address: { socket_address: { address: '0.0.0.0', port_value: 10000 } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: 'ingress_http',
              codec_type: 'HTTP1',
              use_remote_address: true,
              xff_num_trusted_hops: 2,
              stream_idle_timeout: 250,
              request_timeout: 3500,
              access_log: [{
                name: 'envoy.access_loggers.stdout',
                typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' },
              }],
              route_config: {
                name: 'local',
                virtual_hosts: [{
                  name: 'all',
                  domains: ['*'],
                  routes: [
                    { match: { prefix: '/api' }, route: { cluster: 'api', timeout: 15000 } },
                    { match: { path: '/health', case_sensitive: false }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
                  ],
                }],
              },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
            },
          }],
        }],
      }],
      clusters: [{
        name: 'api',
        connect_timeout: 1500,
        type: 'STRICT_DNS',
        lb_policy: 'LEAST_REQUEST',
        dns_lookup_family: 'V4_ONLY',
        respect_dns_ttl: true, // an unquoted yes, as Envoy's YAML reader (yaml-cpp) takes it for a bool
        load_assignment: {
          cluster_name: 'api',
          endpoints: [{
            lb_endpoints: [{
              endpoint: { address: { socket_address: { address: 'api.internal', port_value: 8080 } } },
              load_balancing_weight: 2,
            }],
          }],
        },
      }],
    },
  });
});

test('positions: a field maps to its key, a list item to its start, anything else to its nearest ancestor', () => {
  const file = writeConfig('positions.yaml', FULL);
  const { positions } = loads(file);
  assert.deepEqual(positions.at(''), { file, line: 1, column: 1 });
  // camelCase in the file, snake_case in the path.
  assert.deepEqual(positions.at('admin.address.socket_address.port_value'), { file, line: 8, column: 42 });
  assert.deepEqual(positions.at('static_resources.listeners[0]'), { file, line: 11, column: 5 });
  assert.deepEqual(positions.at(`${HCM}.stat_prefix`), { file, line: 20, column: 11 });
  assert.deepEqual(positions.at(`${HCM}.route_config.virtual_hosts[0].routes[1].match.path`), { file, line: 36, column: 26 });
  assert.deepEqual(positions.at('node.metadata.filter_metadata["envoy.lb"].tags[1]'), { file, line: 5, column: 54 });
  assert.deepEqual(positions.at('static_resources.clusters[0].connect_timeout'), { file, line: 42, column: 5 });
  // The router's typed_config was filled in: it has no position of its own, so its filter's is used.
  assert.deepEqual(positions.at(`${HCM}.http_filters[0].typed_config`), { file, line: 39, column: 13 });
  assert.deepEqual(positions.at('static_resources.clusters[0].no_such_field.deeper'), { file, line: 41, column: 5 });
});

test('JSON is read by the same parser, with positions', () => {
  const file = writeConfig('c.json', '{\n  "static_resources": {\n    "clusters": [{"name": "j", "connectTimeout": "0.25s", "type": "STATIC"}]\n  }\n}\n');
  const loaded = loads(file);
  assert.deepEqual(loaded.bootstrap, { static_resources: { clusters: [{ name: 'j', connect_timeout: 250, type: 'STATIC' }] } });
  assert.deepEqual(loaded.positions.at('static_resources.clusters[0].connect_timeout'), { file, line: 3, column: 32 });
});

test('an unknown field names its path and position and suggests the near miss', () => {
  const file = writeConfig('typo.yaml', `static_resources:
  clusters:
  - name: a
    conect_timeout: 1s
`);
  const problems = problemsOf(file);
  assert.deepEqual(problems.map(brief), [
    "4:5 unknown_field static_resources.clusters[0].conect_timeout: unknown field 'conect_timeout' in envoy.config.cluster.v3.Cluster (did you mean 'connect_timeout'?)",
  ]);
  assert.equal(formatConfigProblem(problems[0]!),
    `${file}:4:5: static_resources.clusters[0].conect_timeout: unknown field 'conect_timeout' in envoy.config.cluster.v3.Cluster (did you mean 'connect_timeout'?)`);
});

test('a removed (reserved) field says so, and an xDS resource file given as bootstrap is recognized', () => {
  const file = writeConfig('removed.yaml', `static_resources:
  clusters:
  - name: a
    hosts: [{ socket_address: { address: 127.0.0.1, port_value: 80 } }]
`);
  assert.deepEqual(problemsOf(file).map(brief), [
    "4:5 unknown_field static_resources.clusters[0].hosts: 'hosts' was removed from Envoy's API (it is reserved in envoy.config.cluster.v3.Cluster) (use 'load_assignment')",
  ]);
  const lds = writeConfig('lds.yaml', 'resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l\n');
  assert.deepEqual(problemsOf(lds).map(brief), [
    "1:1 unknown_field resources: unknown field 'resources' in envoy.config.bootstrap.v3.Bootstrap (this looks like an xDS resource file; a bootstrap names it in dynamic_resources (path_config_source))",
  ]);
});

test('wrong JSON types say what was expected and what was given', () => {
  const file = writeConfig('types.yaml', `static_resources:
  listeners: not-a-listener
  clusters:
  - name: 123
    respect_dns_ttl: "true"
    per_connection_buffer_limit_bytes: [1]
    load_assignment: endpoints
    connect_timeout: 5
    dns_refresh_rate: { seconds: 1, millis: 3 }
    type: [STATIC]
`);
  assert.deepEqual(problemsOf(file).map(brief), [
    '2:14 wrong_type static_resources.listeners[0]: expected an object (envoy.config.listener.v3.Listener), got string "not-a-listener"',
    '4:5 wrong_type static_resources.clusters[0].name: expected a string (quote it to make it one), got number 123',
    '5:5 wrong_type static_resources.clusters[0].respect_dns_ttl: expected true or false, got string "true"',
    '6:5 wrong_type static_resources.clusters[0].per_connection_buffer_limit_bytes: expected a plain uint32 value, got a list',
    '7:5 wrong_type static_resources.clusters[0].load_assignment: expected an object (envoy.config.endpoint.v3.ClusterLoadAssignment), got string "endpoints"',
    '8:5 wrong_type static_resources.clusters[0].connect_timeout: expected a duration like "5s" (a string ending in s), got number 5',
    `9:37 unknown_field static_resources.clusters[0].dns_refresh_rate.millis: unknown field 'millis' in a duration (expected "1.5s" or {seconds, nanos})`,
    '10:5 wrong_type static_resources.clusters[0].type: expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST (enum envoy.config.cluster.v3.Cluster.DiscoveryType), got a list',
  ]);
});

test('a single value where a list is expected is a list of one, as Envoy reads it', () => {
  const file = writeConfig('single.yaml', `static_resources:
  clusters:
    name: only
    connect_timeout: 2s
`);
  const loaded = loads(file);
  assert.deepEqual(loaded.bootstrap, { static_resources: { clusters: [{ name: 'only', connect_timeout: 2000 }] } });
  assert.deepEqual(loaded.positions.at('static_resources.clusters[0].connect_timeout'), { file, line: 4, column: 5 });
});

test('enums: a bad name or number is bad_enum with the allowed names and a suggestion', () => {
  const file = writeConfig('enum.yaml', `static_resources:
  clusters:
  - name: a
    type: STRICT_DN
  - name: b
    type: 9
`);
  assert.deepEqual(problemsOf(file).map(brief), [
    "4:5 bad_enum static_resources.clusters[0].type: unknown value 'STRICT_DN' for enum envoy.config.cluster.v3.Cluster.DiscoveryType; expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST (did you mean 'STRICT_DNS'?)",
    '6:5 bad_enum static_resources.clusters[1].type: unknown value 9 for enum envoy.config.cluster.v3.Cluster.DiscoveryType; expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST',
  ]);
});

test('durations: Envoy string forms are accepted, malformed ones are bad_value', () => {
  const file = writeConfig('durations.yaml', `static_resources:
  clusters:
  - name: a
    connect_timeout: "5 s"
  - name: b
    connect_timeout: 1.5m
  - name: c
    connect_timeout: { seconds: 1, nanos: -5 }
`);
  assert.deepEqual(problemsOf(file).map(brief), [
    '4:5 bad_value static_resources.clusters[0].connect_timeout: expected a duration like "0.25s", "1.5s" or "3600s", got "5 s"',
    '6:5 bad_value static_resources.clusters[1].connect_timeout: expected a duration like "0.25s", "1.5s" or "3600s", got "1.5m"',
    '8:5 bad_value static_resources.clusters[2].connect_timeout: duration seconds and nanos must have the same sign',
  ]);
});

test('oneofs: two members set is bad_value; a required oneof with none set is missing_field', () => {
  const file = writeConfig('oneof.yaml', `static_resources:
  listeners:
  - address:
      socket_address: { address: 0.0.0.0, port_value: 80 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE}
          stat_prefix: x
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: a }
                direct_response: { status: 200 }
              - match: { prefix: "/b" }
          http_filters:
          - name: envoy.filters.http.router
  - address:
      socket_address: { address: 0.0.0.0 }
`);
  const R = `${HCM}.route_config.virtual_hosts[0].routes`;
  assert.deepEqual(problemsOf(file).map(brief), [
    `18:17 bad_value ${R}[0].direct_response: 'route' and 'direct_response' are both set, but only one of oneof 'action' (route, redirect, direct_response, filter_action, non_forwarding_action) may be`,
    `19:17 missing_field ${R}[1]: one of 'route', 'redirect', 'direct_response', 'filter_action', 'non_forwarding_action' is required (oneof 'action')`,
    "23:7 missing_field static_resources.listeners[1].address.socket_address: one of 'port_value', 'named_port' is required (oneof 'port_specifier')",
  ]);
});

test('PGV rules: required messages, string lengths, list sizes, numeric and duration bounds', () => {
  const file = writeConfig('pgv.yaml', `static_resources:
  listeners:
  - address:
      socket_address: { address: 0.0.0.0, port_value: 70000 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE}
          stat_prefix: ""
          route_config:
            virtual_hosts:
            - name: v
              domains: []
              routes:
              - route: { cluster: a }
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - connect_timeout: 0s
`);
  assert.deepEqual(problemsOf(file).map(brief), [
    '4:43 bad_value static_resources.listeners[0].address.socket_address.port_value: must be at most 65535, got 70000',
    `10:11 bad_value ${HCM}.stat_prefix: must be at least 1 character long, got ""`,
    `14:15 bad_value ${HCM}.route_config.virtual_hosts[0].domains: must have at least 1 item, got 0`,
    `16:17 missing_field ${HCM}.route_config.virtual_hosts[0].routes[0].match: 'match' is required`,
    '20:5 bad_value static_resources.clusters[0].connect_timeout: must be greater than 0ms, got 0ms',
    "20:5 missing_field static_resources.clusters[0].name: 'name' is required (a non-empty string)",
  ]);
});

test('the same field through both spellings is an error', () => {
  const file = writeConfig('twice.yaml', `static_resources:
  clusters:
  - name: a
    connect_timeout: 1s
    connectTimeout: 2s
`);
  assert.deepEqual(problemsOf(file).map(brief), [
    "5:5 duplicate_name static_resources.clusters[0].connect_timeout: 'connect_timeout' is given twice: as 'connect_timeout' at line 4 and as 'connectTimeout'",
  ]);
});

const FILTERS_PREFIX = `static_resources:
  listeners:
  - address:
      socket_address: { address: 0.0.0.0, port_value: 80 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE}
          stat_prefix: x
          route_config: { virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: a } }] }] }
          http_filters:
`;

test('@type: unknown, removed v2 (with the v3 replacement), missing, and a name Legate cannot resolve', () => {
  const file = writeConfig('types-any.yaml', `${FILTERS_PREFIX}          - name: nope
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope
          - name: old
            typed_config:
              "@type": type.googleapis.com/envoy.config.filter.http.router.v2.Router
          - name: untyped
            typed_config: { dynamic_stats: false }
          - name: envoy.filters.http.routr
`);
  const F = `${HCM}.http_filters`;
  assert.deepEqual(problemsOf(file).map(brief), [
    `14:13 unknown_type ${F}[0].typed_config: unknown @type envoy.extensions.filters.http.nope.v3.Nope: no such message in Envoy's v3 API (Legate's schema: Envoy API v1.31, from @grpc/grpc-js-xds 1.14.1; a type added later needs a newer Envoy API than that)`,
    `17:13 removed_type ${F}[1].typed_config: @type envoy.config.filter.http.router.v2.Router is from Envoy's v2 API, which was removed in Envoy 1.18 (did you mean type.googleapis.com/envoy.extensions.filters.http.router.v3.Router?)`,
    `20:13 missing_field ${F}[2].typed_config: "@type" is required: a typed config names its message, e.g. "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`,
    `21:13 missing_field ${F}[3].typed_config: typed_config is required: 'envoy.filters.http.routr' is not an extension Legate can configure by name alone; give typed_config with its "@type" (did you mean 'envoy.filters.http.router'?)`,
  ]);
});

// Found by fuzzing (test/fuzz/targets/config-loader.ts): an @type that is no protobuf name went into the RegExp
// and the directory path the loader uses to find a .proto file: "[" or "(" threw a raw SyntaxError out of
// loadConfig (not a config problem), "../" walked out of the proto directories, and a pattern could backtrack.
test('@type that is not a protobuf full name: unknown_type, never a raw exception, a RegExp or a path', () => {
  const names = ['[envoy.a.B', 'envoy.a.(B', 'envoy.config.bootstrap.v3.(\\s|\\S)*Q', '../../envoy.a.B', 'envoy..a.B', 'envoy.a.B*'];
  const file = writeConfig('types-not-names.yaml', FILTERS_PREFIX + names.map((n, i) => `          - name: f${i}
            typed_config:
              "@type": 'type.googleapis.com/${n}'
`).join(''));
  const problems = problemsOf(file);
  assert.equal(problems.length, names.length, problems.map(brief).join('\n'));
  for (const p of problems) assert.equal(p.code, 'unknown_type', brief(p));
});

test('not supported yet: a field, a whole message behind an @type, an enum value; one problem per subtree', () => {
  const file = writeConfig('unsupported.yaml', `static_resources:
  listeners:
  - address:
      socket_address: { address: 0.0.0.0, port_value: 80, protocol: UDP }
    listener_filters:
    - name: envoy.filters.listener.proxy_protocol
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol
        allow_requests_without_proxy_protocl: true
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE}
          stat_prefix: x
          route_config: { virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: a } }] }] }
          http_filters:
          - name: envoy.filters.http.kill_request
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.kill_request.v3.KillRequest
          - name: envoy.filters.http.router
  clusters:
  - name: a
    circuit_breakers: { thresholds: [{ max_connections: 10, max_requests: 5 }], per_host_thresholds: [{ max_connections: 1 }] }
    respect_dns_ttl: false
    health_checks: []
    load_assignment: { cluster_name: a, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 1.2.3.4, port_value: 53, protocol: UDP } } } }] }] }
`);
  // (A listener's UDP is supported: the udp_proxy, src/snapshot/udp-listener-config.ts; a cluster's is not.)
  assert.deepEqual(problemsOf(file).map(brief), [
    '7:7 not_supported static_resources.listeners[0].listener_filters[0].typed_config: not supported yet: listener filter envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol (line 7)',
    // Inside an unsupported subtree Envoy's schema still applies: a typo is still a typo.
    "9:9 unknown_field static_resources.listeners[0].listener_filters[0].typed_config.allow_requests_without_proxy_protocl: unknown field 'allow_requests_without_proxy_protocl' in envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol (did you mean 'allow_requests_without_proxy_protocol'?)",
    `19:13 not_supported ${HCM}.http_filters[0].typed_config: not supported yet: http filter envoy.extensions.filters.http.kill_request.v3.KillRequest (line 19)`,
    '24:81 not_supported static_resources.clusters[0].circuit_breakers.per_host_thresholds: not supported yet: static_resources.clusters[0].circuit_breakers.per_host_thresholds (line 24)',
    '27:147 not_supported static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.protocol: not supported yet: static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.protocol = UDP (line 27)',
  ]);
});

test('--config-yaml merges over the file like protobuf MergeFrom, keeping the overlay positions', () => {
  const file = writeConfig('base.yaml', `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 9901 }
static_resources:
  clusters:
  - name: a
    connect_timeout: 1s
    load_assignment: { cluster_name: a }
`);
  const overlay = `admin: { address: { socket_address: { port_value: 9999 } } }
static_resources:
  clusters:
  - name: b
    connectTimeout: 2.5s
`;
  const loaded = loads(file, overlay);
  assert.deepEqual(loaded.files, [file]);
  assert.deepEqual(loaded.bootstrap, {
    // Scalar replaced, sibling kept.
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 9999 } } },
    // Repeated field appended.
    static_resources: {
      clusters: [
        { name: 'a', connect_timeout: 1000, load_assignment: { cluster_name: 'a' } },
        { name: 'b', connect_timeout: 2500 },
      ],
    },
  });
  const O = '--config-yaml';
  assert.deepEqual(loaded.positions.at('admin.address.socket_address.port_value'), { file: O, line: 1, column: 39 });
  assert.deepEqual(loaded.positions.at('admin.address.socket_address.address'), { file, line: 3, column: 23 });
  assert.deepEqual(loaded.positions.at('static_resources.clusters[1].connect_timeout'), { file: O, line: 5, column: 5 });

  // A oneof member in the overlay clears the file's (socket_address -> pipe: no conflict, just unsupported);
  // problems in both sources come sorted, the file's first.
  const problems = problemsOf(file, '{admin: {address: {pipe: {path: /tmp/admin.sock}}}, static_resources: {clusters: [{name: c, typ: STATIC}]}}');
  assert.deepEqual(problems.map(brief), [
    '1:20 not_supported admin.address.pipe: not supported yet: admin.address.pipe (line 1)',
    "1:93 unknown_field static_resources.clusters[1].typ: unknown field 'typ' in envoy.config.cluster.v3.Cluster (did you mean 'type'?)",
  ]);
  assert.equal(problems[0]!.position?.file, O);
  const both = problemsOf(writeConfig('base-bad.yaml', 'static_resources: { clusters: [{ name: a, tipe: STATIC }] }\n'), 'node: { idd: x }');
  assert.deepEqual(both.map((p) => `${p.position?.file === O ? O : 'file'} ${p.path}`), [
    'file static_resources.clusters[0].tipe',
    '--config-yaml node.idd',
  ]);
});

test('--config-yaml alone is a whole config; an empty one adds nothing', () => {
  assert.deepEqual(loads(undefined, 'node: { id: n1 }').bootstrap, { node: { id: 'n1' } });
  assert.deepEqual(loads(undefined, 'node: { id: n1 }').files, []);
  const file = writeConfig('just-node.yaml', 'node: { id: n2 }\n');
  assert.deepEqual(loads(file, '  ').bootstrap, { node: { id: 'n2' } });
  assert.deepEqual(problemsOf(undefined, '# a comment only').map(brief), [
    '1:1 syntax : --config-yaml holds no YAML document, and no config file was given',
  ]);
  assert.deepEqual(problemsOf(undefined, '[1, 2]').map(brief), [
    '1:1 wrong_type : expected an object (envoy.config.bootstrap.v3.Bootstrap), got a list',
  ]);
});

test('YAML syntax errors carry their position', () => {
  const file = writeConfig('syntax.yaml', 'static_resources:\n  clusters:\n  - name: a\n   bad: [1, 2\n');
  const problems = problemsOf(file);
  assert.ok(problems.length >= 1);
  for (const p of problems) assert.equal(p.code, 'syntax');
  assert.deepEqual(problems[0]!.position, { file, line: 4, column: 1 });
  assert.match(problems[0]!.message, /^YAML syntax: /);
});

test('io: an unreadable file names the file and the OS error; no config and an empty file are problems', () => {
  const missing = `${writeConfig('x.yaml', '')}.missing`;
  const [io, ...rest] = problemsOf(missing);
  assert.deepEqual(rest, []);
  assert.equal(io!.code, 'io');
  assert.equal(io!.message, `cannot read config file ${missing}: ENOENT: no such file or directory, open '${missing}'`);

  assert.deepEqual(problemsOf(undefined, undefined).map(brief), [
    '- missing_field : no configuration given: name a bootstrap file with -c <path> (YAML or JSON), or give it inline with --config-yaml',
  ]);
  const empty = writeConfig('empty.yaml', '# nothing but a comment\n');
  assert.deepEqual(problemsOf(empty).map(brief), [
    '1:1 syntax : the config file is empty: it needs a bootstrap (e.g. static_resources with listeners and clusters)',
  ]);
});

test('ConfigErrorList reads one line per problem, sorted by position', () => {
  const file = writeConfig('two.yaml', 'static_resources:\n  clusters:\n  - name: a\n    tipe: STATIC\nnod: {}\n');
  try {
    loadConfig({ configPath: file, configYaml: undefined });
    assert.fail('expected a ConfigErrorList');
  } catch (err) {
    assert.ok(err instanceof ConfigErrorList);
    assert.equal(err.code, 'config_invalid');
    assert.equal(err.message, [
      `${file}:4:5: static_resources.clusters[0].tipe: unknown field 'tipe' in envoy.config.cluster.v3.Cluster (did you mean 'type'?)`,
      `${file}:5:1: nod: unknown field 'nod' in envoy.config.bootstrap.v3.Bootstrap (did you mean 'node'?)`,
    ].join('\n'));
  }
});
