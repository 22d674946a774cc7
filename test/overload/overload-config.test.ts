// The bootstrap's overload_manager compiled into the snapshot: what Legate implements is compiled, what it does
// not is "not supported yet" with its field path, never ignored. And reset_high_memory_stream's choice of streams
// (Envoy's buffer-account classes), a pure rule.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { compileSnapshot, type CompileResult } from '../../src/snapshot/compile-snapshot.ts';
import { formatConfigProblem, sortProblems } from '../../src/config-loader/config-error.ts';
import { OverloadAction } from '../../src/overload/overload-shared.ts';
import { HighMemorySweep, classesToReset, memoryClassOf, type HighMemoryStreamOwner } from '../../src/overload/high-memory-streams.ts';

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
  loadshed_points:
  - name: envoy.load_shed_points.tcp_listener_accept
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.95 }
`),
    (err: Error) =>
      /resource_monitors\[1\]\.typed_config: not supported yet: extension envoy\.extensions\.resource_monitors\.injected_resource/.test(err.message) &&
      /not supported yet: overload_manager\.loadshed_points/.test(err.message),
  );
});

test('a trigger naming a monitor that is not configured, and an unknown action, are reported', () => {
  const r = compile(`  resource_monitors:
${HEAP}  actions:
  - name: envoy.overload_actions.close_idle_http_connections
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.9 }
  - name: envoy.overload_actions.stop_accepting_requests
    triggers:
    - name: envoy.resource_monitors.nope
      threshold: { value: 0.9 }
`);
  assert.deepEqual(problems(r), [
    "--config-yaml:8:5: overload_manager.actions[0].name: not supported yet: overload action 'envoy.overload_actions.close_idle_http_connections'",
    "--config-yaml:14:7: overload_manager.actions[1].triggers[0].name: trigger names resource monitor 'envoy.resource_monitors.nope', which is not configured",
  ]);
});

test('reset_high_memory_stream with buffer_factory_config, and shrink_heap, compile', () => {
  const r = compile(`  resource_monitors:
${HEAP}  buffer_factory_config: { minimum_account_to_track_power_of_two: 20 }
  actions:
  - name: envoy.overload_actions.reset_high_memory_stream
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      scaled: { scaling_threshold: 0.85, saturation_threshold: 0.95 }
  - name: envoy.overload_actions.shrink_heap
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.95 }
`);
  assert.deepEqual(problems(r), []);
  const o = r.snapshot.overload;
  assert.equal(o.minimumAccountToTrackPowerOfTwo, 20);
  assert.deepEqual(o.actions.map((a) => a.id), [OverloadAction.RESET_HIGH_MEMORY_STREAM, OverloadAction.SHRINK_HEAP]);
  // The primary gives the counter its slot with the other stats.
  assert.equal(o.resetStreamsCountSlot, -1);
});

test('reset_high_memory_stream needs buffer_factory_config (as Envoy); its range and shrink_heap typed_config are checked', () => {
  const action = `  actions:
  - name: envoy.overload_actions.reset_high_memory_stream
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.9 }
`;
  assert.deepEqual(problems(compile(`  resource_monitors:\n${HEAP}${action}`)), [
    '--config-yaml:8:5: overload_manager.actions[0].name: envoy.overload_actions.reset_high_memory_stream needs buffer_factory_config.minimum_account_to_track_power_of_two',
  ]);
  assert.throws(
    () => compile(`  resource_monitors:\n${HEAP}  buffer_factory_config: { minimum_account_to_track_power_of_two: 9 }\n${action}`),
    (err: Error) => /minimum_account_to_track_power_of_two: .*at least 10/.test(err.message),
  );
  const r = compile(`  resource_monitors:
${HEAP}  actions:
  - name: envoy.overload_actions.shrink_heap
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.9 }
    typed_config:
      "@type": type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig
      timer_scale_factors: [{ timer: HTTP_DOWNSTREAM_CONNECTION_IDLE, min_timeout: 1s }]
`);
  assert.deepEqual(problems(r), [
    "--config-yaml:12:5: overload_manager.actions[0].typed_config: overload action 'envoy.overload_actions.shrink_heap' takes no typed_config",
  ]);
});

test("Envoy's classes: 8 power-of-two buckets from 2^minimum; floor(8 x state) + 1 of the highest are reset", () => {
  // minimum_account_to_track_power_of_two 20: bucket 0 is [1 MiB, 2 MiB), bucket 7 is >= 128 MiB (Envoy's docs).
  const MiB = 1 << 20;
  assert.equal(memoryClassOf(MiB - 1, 20), -1);
  assert.equal(memoryClassOf(MiB, 20), 0);
  assert.equal(memoryClassOf(2 * MiB - 1, 20), 0);
  assert.equal(memoryClassOf(2 * MiB, 20), 1);
  assert.equal(memoryClassOf(64 * MiB, 20), 6);
  assert.equal(memoryClassOf(128 * MiB, 20), 7);
  assert.equal(memoryClassOf(2 ** 40, 20), 7);
  assert.equal(classesToReset(0), 0);
  assert.equal(classesToReset(0.01), 1); // just past scaling_threshold: the last bucket only
  assert.equal(classesToReset(0.125), 2);
  assert.equal(classesToReset(0.5), 5);
  assert.equal(classesToReset(0.99), 8);
  assert.equal(classesToReset(1), 8);
});

test('a sweep resets the streams of the classes the state reaches, the largest first, at most 50', () => {
  const reset: number[] = [];
  const owner: HighMemoryStreamOwner<number> = { resetStreamForOverload: (s) => reset.push(s) };
  const sweep = new HighMemorySweep<number>();
  // State 0.25: 3 buckets, i.e. streams from 2^(10 + 5) = 32 KiB with minimum 10.
  sweep.begin(0.25, 10);
  assert.equal(sweep.thresholdBytes, 32 * 1024);
  sweep.offer(owner, 1, 32 * 1024 - 1);
  sweep.offer(owner, 2, 32 * 1024);
  sweep.offer(owner, 3, 1 << 30);
  sweep.offer(owner, 4, 100 * 1024);
  assert.equal(sweep.finish(), 3);
  assert.deepEqual(reset, [3, 4, 2]);
  assert.equal(sweep.bucketsReset, 3);
  // Saturated: every tracked stream, but 50 a run, the largest first.
  reset.length = 0;
  sweep.begin(1, 10);
  for (let i = 0; i < 60; i++) sweep.offer(owner, i, 1024 + i);
  sweep.offer(owner, 1000, 1 << 20);
  assert.equal(sweep.finish(), 50);
  assert.equal(reset[0], 1000);
  assert.equal(reset.length, 50);
  // Nothing is left over for the next run.
  reset.length = 0;
  sweep.begin(1, 10);
  assert.equal(sweep.finish(), 0);
  assert.deepEqual(reset, []);
});

const edgeConfig = path.resolve(import.meta.dirname, '../../../shared/compat/envoy-configs/envoyproxy-envoy__docs-root-configuration-best_practices-_include-edge.yaml');

test("Envoy's edge best-practice config (fixed_heap, shrink_heap, stop_accepting_requests) compiles its overload_manager", { skip: fs.existsSync(edgeConfig) ? false : 'no compat corpus' }, () => {
  const r = compileSnapshot(loadConfig({ configPath: edgeConfig, configYaml: undefined }), 1);
  // Only its certificate files (certs/*.pem, relative to where Envoy runs) are missing here.
  assert.deepEqual(r.problems.filter((p) => p.code !== 'io'), []);
  assert.deepEqual(r.snapshot.overload.actions.map((a) => a.name), ['envoy.overload_actions.shrink_heap', 'envoy.overload_actions.stop_accepting_requests']);
});
