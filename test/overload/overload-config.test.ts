// The bootstrap's overload_manager compiled into the snapshot: what Legate implements is compiled, what it does
// not is "not supported yet" with its field path, never ignored.

import test from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot, type CompileResult } from '../../src/snapshot/compile-snapshot.ts';
import { formatConfigProblem, sortProblems } from '../../src/config-loader/config-error.ts';
import { OverloadAction } from '../../src/overload/overload-shared.ts';

function compile(overloadManager: string): CompileResult {
  return compileSnapshot(loadConfig({ configPath: undefined, configYaml: `overload_manager:\n${overloadManager}static_resources: {}\n` }), 1);
}

function problems(r: CompileResult): string[] {
  return sortProblems(r.problems, ['--config-yaml']).map(formatConfigProblem);
}

const HEAP = `  - name: envoy.resource_monitors.fixed_heap
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
      max_heap_size_bytes: 2147483648
`;

test('monitors, threshold and scaled triggers, and reduce_timeouts compile', () => {
  const r = compile(`  refresh_interval: 0.25s
  resource_monitors:
${HEAP}  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 1000
  actions:
  - name: envoy.overload_actions.stop_accepting_requests
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.95 }
  - name: envoy.overload_actions.reduce_timeouts
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      scaled: { scaling_threshold: 0.8, saturation_threshold: 0.95 }
    typed_config:
      "@type": type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig
      timer_scale_factors:
      - timer: HTTP_DOWNSTREAM_CONNECTION_IDLE
        min_timeout: 2s
      - timer: HTTP_DOWNSTREAM_STREAM_IDLE
        min_scale: { value: 10 }
`);
  assert.deepEqual(problems(r), []);
  const o = r.snapshot.overload;
  assert.equal(o.refreshIntervalMs, 250);
  assert.equal(o.maxActiveDownstreamConnections, 1000);
  assert.deepEqual(o.monitors.map((m) => m.kind), ['fixed_heap', 'global_downstream_max_connections']);
  assert.deepEqual(o.actions.map((a) => a.id), [OverloadAction.STOP_ACCEPTING_REQUESTS, OverloadAction.REDUCE_TIMEOUTS]);
  assert.deepEqual(o.connectionIdle, { minTimeoutMs: 2000, minScale: -1 });
  assert.deepEqual(o.streamIdle, { minTimeoutMs: -1, minScale: 0.1 });
});

test('unimplemented monitors and fields are "not supported yet", with their line', () => {
  assert.throws(
    () => compile(`  resource_monitors:
${HEAP}  - name: envoy.resource_monitors.injected_resource
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.injected_resource.v3.InjectedResourceConfig
      filename: /tmp/x
  buffer_factory_config: { minimum_account_to_track_power_of_two: 20 }
`),
    (err: Error) =>
      /resource_monitors\[1\]\.typed_config: not supported yet: extension envoy\.extensions\.resource_monitors\.injected_resource/.test(err.message) &&
      /not supported yet: overload_manager\.buffer_factory_config/.test(err.message),
  );
});

test('a trigger naming a monitor that is not configured, and an unknown action, are reported', () => {
  const r = compile(`  resource_monitors:
${HEAP}  actions:
  - name: envoy.overload_actions.shrink_heap
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.9 }
  - name: envoy.overload_actions.stop_accepting_requests
    triggers:
    - name: envoy.resource_monitors.nope
      threshold: { value: 0.9 }
`);
  assert.deepEqual(problems(r), [
    "--config-yaml:8:5: overload_manager.actions[0].name: not supported yet: overload action 'envoy.overload_actions.shrink_heap'",
    "--config-yaml:14:7: overload_manager.actions[1].triggers[0].name: trigger names resource monitor 'envoy.resource_monitors.nope', which is not configured",
  ]);
});
