// Any thread (pure). The bootstrap's overload_manager -> OverloadConfig, carried in the snapshot: the primary
// evaluates its monitors and triggers (src/overload/overload-manager.ts), workers take the reduce_timeouts
// factors and buffer_factory_config. Monitors, actions and timers Legate does not implement are "not supported
// yet", never ignored.

import { OVERLOAD_ACTION_NAMES, type OverloadActionId } from './overload-shared.ts';

type Obj = Record<string, unknown>;

export const FIXED_HEAP = 'envoy.resource_monitors.fixed_heap';
export const GLOBAL_DOWNSTREAM_MAX_CONNECTIONS = 'envoy.resource_monitors.global_downstream_max_connections';
const FIXED_HEAP_TYPE = 'type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig';
const DOWNSTREAM_CONNECTIONS_TYPE = 'type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig';
const SCALE_TIMERS_TYPE = 'type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig';

export type OverloadMonitorConfig =
  /** V8 heap in use (plus external memory: Buffers) summed over the primary and every worker, against the max. */
  | { name: string; kind: 'fixed_heap'; maxHeapSizeBytes: number }
  /** Active downstream connections of every worker against the max (also enforced at accept). */
  | { name: string; kind: 'global_downstream_max_connections'; maxConnections: number };

export type OverloadTrigger =
  | { monitor: string; kind: 'threshold'; value: number }
  | { monitor: string; kind: 'scaled'; scalingThreshold: number; saturationThreshold: number };

export interface OverloadActionConfig {
  name: string;
  id: OverloadActionId;
  triggers: OverloadTrigger[];
}

/** reduce_timeouts for one timer: the least it may shrink to (ms, or a fraction of its configured value); -1 unset. */
export interface TimerScaleConfig {
  minTimeoutMs: number;
  minScale: number;
}

export interface OverloadConfig {
  refreshIntervalMs: number;
  monitors: OverloadMonitorConfig[];
  actions: OverloadActionConfig[];
  /** max_active_downstream_connections of the global_downstream_max_connections monitor; 0 = not configured. */
  maxActiveDownstreamConnections: number;
  connectionIdle: TimerScaleConfig | null;
  streamIdle: TimerScaleConfig | null;
  /**
   * buffer_factory_config.minimum_account_to_track_power_of_two: reset_high_memory_stream looks at streams holding
   * at least 2^this bytes, in Envoy's 8 power-of-two classes from there; 0 = not configured.
   */
  minimumAccountToTrackPowerOfTwo: number;
  /**
   * Value slot of the root counter envoy.overload_actions.reset_high_memory_stream.count, which workers write; set
   * by the primary with the other stat slots (StatsHub.assignSlots) when the action is configured, else -1.
   */
  resetStreamsCountSlot: number;
}

export const NO_OVERLOAD: OverloadConfig = {
  refreshIntervalMs: 1000,
  monitors: [],
  actions: [],
  maxActiveDownstreamConnections: 0,
  connectionIdle: null,
  streamIdle: null,
  minimumAccountToTrackPowerOfTwo: 0,
  resetStreamsCountSlot: -1,
};

export const RESET_HIGH_MEMORY_STREAM = 'envoy.overload_actions.reset_high_memory_stream';
/** Envoy's root counter of the streams reset_high_memory_stream reset (not under overload.). */
export const RESET_STREAMS_COUNT_STAT = 'envoy.overload_actions.reset_high_memory_stream.count';
export const SHRINK_HEAP = 'envoy.overload_actions.shrink_heap';
/** Envoy's HeapShrinker counter: one per 10 s tick on which the saturated action shrank the heap. */
export const SHRINK_COUNT_STAT = `overload.${SHRINK_HEAP}.shrink_count`;

export interface OverloadProblem {
  code: 'not_supported' | 'bad_value' | 'duplicate_name' | 'missing_field';
  path: string;
  message: string;
}

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function int(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return 0;
}

export function compileOverloadManager(om: Obj | undefined, path: string, problems: OverloadProblem[]): OverloadConfig {
  if (om === undefined) return NO_OVERLOAD;
  const monitors: OverloadMonitorConfig[] = [];
  const names = new Set<string>();
  list(om['resource_monitors']).forEach((m, i) => {
    const mpath = `${path}.resource_monitors[${i}]`;
    const mo = obj(m);
    const name = String(mo['name'] ?? '');
    const tc = obj(mo['typed_config']);
    const type = tc['@type'];
    if (names.has(name)) {
      problems.push({ code: 'duplicate_name', path: `${mpath}.name`, message: `resource monitor '${name}' is configured twice` });
      return;
    }
    names.add(name);
    if (name === FIXED_HEAP || type === FIXED_HEAP_TYPE) {
      const max = int(tc['max_heap_size_bytes']);
      if (max <= 0) {
        problems.push({ code: 'missing_field', path: `${mpath}.typed_config`, message: 'fixed_heap needs max_heap_size_bytes' });
        return;
      }
      monitors.push({ name, kind: 'fixed_heap', maxHeapSizeBytes: max });
    } else if (name === GLOBAL_DOWNSTREAM_MAX_CONNECTIONS || type === DOWNSTREAM_CONNECTIONS_TYPE) {
      const max = int(tc['max_active_downstream_connections']);
      if (max <= 0) {
        problems.push({ code: 'missing_field', path: `${mpath}.typed_config`, message: 'global_downstream_max_connections needs max_active_downstream_connections' });
        return;
      }
      monitors.push({ name, kind: 'global_downstream_max_connections', maxConnections: max });
    } else {
      problems.push({
        code: 'not_supported',
        path: mpath,
        message: `not supported yet: resource monitor '${name}' (Legate has ${FIXED_HEAP} and ${GLOBAL_DOWNSTREAM_MAX_CONNECTIONS})`,
      });
    }
  });
  if (monitors.filter((m) => m.kind === 'global_downstream_max_connections').length > 1) {
    problems.push({ code: 'duplicate_name', path: `${path}.resource_monitors`, message: 'more than one global_downstream_max_connections monitor' });
  }

  const actions: OverloadActionConfig[] = [];
  let connectionIdle: TimerScaleConfig | null = null;
  let streamIdle: TimerScaleConfig | null = null;
  const actionNames = new Set<string>();
  list(om['actions']).forEach((a, i) => {
    const apath = `${path}.actions[${i}]`;
    const ao = obj(a);
    const name = String(ao['name'] ?? '');
    const id = Object.prototype.hasOwnProperty.call(OVERLOAD_ACTION_NAMES, name) ? OVERLOAD_ACTION_NAMES[name] : undefined;
    if (id === undefined) {
      problems.push({ code: 'not_supported', path: `${apath}.name`, message: `not supported yet: overload action '${name}'` });
      return;
    }
    if (actionNames.has(name)) {
      problems.push({ code: 'duplicate_name', path: `${apath}.name`, message: `overload action '${name}' is configured twice` });
      return;
    }
    actionNames.add(name);
    const triggers: OverloadTrigger[] = [];
    list(ao['triggers']).forEach((t, j) => {
      const tpath = `${apath}.triggers[${j}]`;
      const to = obj(t);
      const monitor = String(to['name'] ?? '');
      if (!names.has(monitor)) {
        problems.push({ code: 'bad_value', path: `${tpath}.name`, message: `trigger names resource monitor '${monitor}', which is not configured` });
        return;
      }
      if (to['threshold'] !== undefined) {
        triggers.push({ monitor, kind: 'threshold', value: Number(obj(to['threshold'])['value'] ?? 0) });
      } else if (to['scaled'] !== undefined) {
        const sc = obj(to['scaled']);
        const scalingThreshold = Number(sc['scaling_threshold'] ?? 0);
        const saturationThreshold = Number(sc['saturation_threshold'] ?? 0);
        if (scalingThreshold >= saturationThreshold) {
          problems.push({ code: 'bad_value', path: `${tpath}.scaled`, message: 'scaling_threshold must be below saturation_threshold' });
          return;
        }
        triggers.push({ monitor, kind: 'scaled', scalingThreshold, saturationThreshold });
      } else {
        problems.push({ code: 'missing_field', path: tpath, message: 'a trigger needs threshold or scaled' });
      }
    });
    if (triggers.length === 0) return;
    actions.push({ name, id, triggers });
    const tc = obj(ao['typed_config']);
    if (name === 'envoy.overload_actions.reduce_timeouts') {
      if (tc['@type'] !== SCALE_TIMERS_TYPE) {
        problems.push({ code: 'missing_field', path: `${apath}.typed_config`, message: 'reduce_timeouts needs a ScaleTimersOverloadActionConfig' });
        return;
      }
      list(tc['timer_scale_factors']).forEach((f, j) => {
        const fo = obj(f);
        const minScale = fo['min_scale'] === undefined ? -1 : Number(obj(fo['min_scale'])['value'] ?? 0) / 100;
        const scale: TimerScaleConfig = { minTimeoutMs: fo['min_timeout'] === undefined ? -1 : Number(fo['min_timeout']), minScale };
        if (scale.minTimeoutMs < 0 && scale.minScale < 0) scale.minScale = 0;
        if (fo['timer'] === 'HTTP_DOWNSTREAM_CONNECTION_IDLE') connectionIdle = scale;
        else if (fo['timer'] === 'HTTP_DOWNSTREAM_STREAM_IDLE') streamIdle = scale;
        else problems.push({ code: 'not_supported', path: `${apath}.typed_config.timer_scale_factors[${j}].timer`, message: `not supported yet: scaling timer ${String(fo['timer'])}` });
      });
    } else if (ao['typed_config'] !== undefined) {
      problems.push({ code: 'bad_value', path: `${apath}.typed_config`, message: `overload action '${name}' takes no typed_config` });
    }
  });

  // Envoy refuses reset_high_memory_stream without buffer_factory_config (there would be no accounts to reset).
  const minimumAccount = int(obj(om['buffer_factory_config'])['minimum_account_to_track_power_of_two']);
  const resetIndex = list(om['actions']).findIndex((a) => obj(a)['name'] === RESET_HIGH_MEMORY_STREAM);
  if (resetIndex >= 0 && minimumAccount === 0) {
    problems.push({
      code: 'missing_field',
      path: `${path}.actions[${resetIndex}].name`,
      message: `${RESET_HIGH_MEMORY_STREAM} needs buffer_factory_config.minimum_account_to_track_power_of_two`,
    });
  }

  const cx = monitors.find((m) => m.kind === 'global_downstream_max_connections');
  return {
    refreshIntervalMs: om['refresh_interval'] === undefined ? 1000 : Math.max(10, Number(om['refresh_interval'])),
    monitors,
    actions,
    maxActiveDownstreamConnections: cx === undefined ? 0 : cx.maxConnections,
    connectionIdle,
    streamIdle,
    minimumAccountToTrackPowerOfTwo: minimumAccount,
    resetStreamsCountSlot: -1,
  };
}
