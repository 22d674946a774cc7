// Primary thread. The admin endpoints, as Envoy's: path, help line and parameters, whether it changes server state
// (POST only, as in Envoy), and the handler. Resolved by exact path.

import type { AdminContext } from './admin-context.ts';
import { ContentType, jsonReply, reply, streamReply, textReply, type AdminReply } from './admin-reply.ts';
import { clustersJson, formatClustersText } from './format-clusters.ts';
import { formatListenersText, listenersJson } from './format-listeners.ts';
import { parseStatsQuery, StatsFormat } from '../stats/stats-query.ts';
import { formatStatsText } from '../stats/format-text.ts';
import { formatStatsJson } from '../stats/format-json.ts';
import { formatStatsPrometheus } from '../stats/format-prometheus.ts';
import { formatRecentLookups, RECENT_LOOKUPS_CAPACITY } from '../stats/recent-lookups.ts';
import { helpText } from './admin-help.ts';
import { dashboardPage } from './dashboard.ts';
import { buildConfigDump, configDumpQuery } from './config-dump.ts';
import { memoryJson } from './format-memory.ts';
import { loggingUsage } from './logging-levels.ts';

export interface AdminParam {
  readonly name: string;
  readonly help: string;
  /** An enum parameter's values. */
  readonly choices?: readonly string[];
}

export interface AdminEndpoint {
  readonly path: string;
  readonly help: string;
  /** Changes server state: only POST is accepted. */
  readonly mutatesState: boolean;
  /**
   * Needs the admin token when one is configured (--admin-token-path): every endpoint that changes state, and
   * /heap_dump (a heap holds the private keys).
   */
  readonly tokenRequired: boolean;
  readonly params: readonly AdminParam[];
  readonly handle: (ctx: AdminContext, params: URLSearchParams) => AdminReply | Promise<AdminReply>;
}

function endpoint(
  path: string,
  help: string,
  mutatesState: boolean,
  handle: AdminEndpoint['handle'],
  params: readonly AdminParam[] = [],
  tokenRequired = mutatesState,
): AdminEndpoint {
  return Object.freeze({ path, help, mutatesState, tokenRequired, params: Object.freeze(params), handle });
}

const OK = 'OK\n';

/** Envoy's check for /cpuprofiler and /heapprofiler: exactly ?enable=y or ?enable=n. */
function enableParam(params: URLSearchParams): boolean | null {
  const keys = [...new Set(params.keys())];
  if (keys.length !== 1 || keys[0] !== 'enable') return null;
  const v = params.get('enable');
  return v === 'y' ? true : v === 'n' ? false : null;
}

async function cpuProfiler(ctx: AdminContext, params: URLSearchParams): Promise<AdminReply> {
  const enable = enableParam(params);
  if (enable === null) return textReply('?enable=<y|n>\n', 400);
  if (enable === ctx.profilerRunning('cpu')) return textReply(OK);
  const r = await ctx.setProfiler('cpu', enable);
  if (r.errors.length > 0) {
    return textReply(enable ? `failure to start the profiler: ${r.errors.join('; ')}\n` : `failure to write the profile: ${r.errors.join('; ')}\n`, 500);
  }
  return textReply(OK);
}

async function heapProfiler(ctx: AdminContext, params: URLSearchParams): Promise<AdminReply> {
  const enable = enableParam(params);
  if (enable === null) return textReply('?enable=<y|n>\n', 400);
  const running = ctx.profilerRunning('heap');
  if (enable && running) return textReply('Fail to start heap profiler: already started', 400);
  if (!enable && !running) return textReply('Fail to stop heap profiler: not started', 400);
  const r = await ctx.setProfiler('heap', enable);
  if (r.errors.length > 0) return textReply(`Fail to ${enable ? 'start' : 'stop'} the heap profiler: ${r.errors.join('; ')}`, 500);
  if (enable) return textReply('Starting heap profiler');
  return textReply(`Heap profiler stopped and data written to ${r.files.join(', ')}. Open them in Chrome DevTools (Memory tab) or speedscope.`);
}

/** One heap snapshot at a time: each takes as much memory again as the heap it copies. */
let heapDumpInProgress = false;

async function heapDump(ctx: AdminContext, params: URLSearchParams): Promise<AdminReply> {
  const w = params.get('worker');
  let worker: number | null = null;
  if (w !== null) {
    if (!/^\d+$/.test(w)) return textReply(`worker must be a worker index, got '${w}'\n`, 400);
    worker = Number(w);
  }
  if (heapDumpInProgress) return textReply('a heap dump is in progress; try again when it is done\n', 503);
  const pending = ctx.heapSnapshot(worker);
  if (pending === null) return textReply(`worker ${w} is not running\n`, 404);
  heapDumpInProgress = true;
  let stream;
  try {
    stream = await pending;
  } catch (err) {
    heapDumpInProgress = false;
    throw err;
  }
  stream.once('close', () => {
    heapDumpInProgress = false;
  });
  return streamReply(ContentType.JSON, stream);
}

function logging(ctx: AdminContext, params: URLSearchParams): AdminReply {
  if (params.size === 0) return textReply(ctx.loggers.listText());
  const change = ctx.loggers.apply(params);
  if (!change.ok) return textReply(loggingUsage(change.error) + ctx.loggers.listText(), 400);
  ctx.loggingChanged(change.messages);
  return textReply(ctx.loggers.listText());
}

function runtimeModify(ctx: AdminContext, params: URLSearchParams): AdminReply {
  if (params.size === 0) {
    return textReply(
      'usage: /runtime_modify?key1=value1&key2=value2&keyN=valueN\n' +
        '       or send the parameters as form values\n' +
        'use an empty value to remove a previously added override',
      400,
    );
  }
  const error = ctx.runtimeModify([...params]);
  if (error !== null) return textReply(error, 503);
  return textReply(OK);
}

function drainListeners(ctx: AdminContext, params: URLSearchParams): AdminReply {
  const graceful = params.has('graceful');
  const skipExit = params.has('skip_exit');
  if (skipExit && !graceful) return textReply('skip_exit requires graceful\n', 400);
  ctx.drainListeners({ inboundOnly: params.has('inboundonly'), graceful, skipExit });
  return textReply(OK);
}

/** In path order (the order of the help text, as Envoy sorts it). */
export const ADMIN_ENDPOINTS: readonly AdminEndpoint[] = Object.freeze([
  endpoint('/', 'Admin home page: a live dashboard and this list', false, () => reply(200, ContentType.HTML, dashboardPage(ADMIN_ENDPOINTS))),
  endpoint('/certs', 'print certs on machine', false, (ctx) => jsonReply(ctx.certificates?.() ?? { certificates: [] })),
  endpoint('/clusters', 'upstream cluster status', false, (ctx, params) =>
    params.get('format') === 'json' ? jsonReply(clustersJson(ctx.clusters())) : textReply(formatClustersText(ctx.clusters())),
  [{ name: 'format', help: 'File format to use', choices: ['text', 'json'] }]),
  endpoint('/config_dump', 'dump current Envoy configs (experimental)', false, (ctx, params) => {
    const r = buildConfigDump(ctx.configDumpInput(), configDumpQuery(params));
    return r.ok ? jsonReply(r.dump) : textReply(r.message, r.status);
  }, [
    { name: 'resource', help: 'The resource to dump' },
    { name: 'mask', help: 'The mask to apply. When both resource and mask are specified, the mask is applied to every element in the desired repeated field so that only a subset of fields are returned. The mask is parsed as a ProtobufWkt::FieldMask' },
    { name: 'name_regex', help: 'Dump only the currently loaded configurations whose names match the specified regex. Can be used with both resource and mask query parameters.' },
    { name: 'include_eds', help: 'Dump currently loaded configuration including EDS. See the response definition for more information' },
  ]),
  endpoint('/cpuprofiler', 'enable/disable the CPU profiler (V8\'s, in every thread; profiles written under admin.profile_path)', true, cpuProfiler,
    [{ name: 'enable', help: 'enables the CPU profiler', choices: ['y', 'n'] }]),
  endpoint('/drain_listeners', 'drain listeners', true, drainListeners, [
    { name: 'graceful', help: 'When draining listeners, enter a graceful drain period prior to closing listeners. This behaviour and duration is configurable via server options or CLI' },
    { name: 'skip_exit', help: 'When draining listeners, do not exit after the drain period. This must be used with graceful' },
    { name: 'inboundonly', help: 'Drains all inbound listeners. traffic_direction field in envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a listener is inbound or outbound.' },
  ]),
  endpoint('/healthcheck/fail', 'cause the server to fail health checks', true, (ctx) => {
    ctx.setHealthCheckFailed(true);
    return textReply(OK);
  }),
  endpoint('/healthcheck/ok', 'cause the server to pass health checks', true, (ctx) => {
    ctx.setHealthCheckFailed(false);
    return textReply(OK);
  }),
  endpoint('/heap_dump', 'dump the current heap: V8\'s heap snapshot of the primary, or of a worker', false, heapDump,
    [{ name: 'worker', help: 'the index of the worker whose heap to dump (default: the primary)' }], true),
  endpoint('/heapprofiler', 'enable/disable the heap profiler (V8\'s sampling heap profiler, in every thread)', true, heapProfiler,
    [{ name: 'enable', help: 'enable/disable the heap profiler', choices: ['y', 'n'] }]),
  endpoint('/help', 'print out list of admin commands', false, () => textReply(helpText(ADMIN_ENDPOINTS))),
  // Hot restart is not available: what --hot-restart-version prints.
  endpoint('/hot_restart_version', 'print the hot restart compatibility version', false, () => textReply('disabled')),
  // Legate initialises its static config before it serves: no init target is ever left unready.
  endpoint('/init_dump', 'dump current Envoy init manager information (experimental)', false, () => jsonReply({}),
    [{ name: 'mask', help: 'The desired component to dump unready targets. The mask is parsed as a ProtobufWkt::FieldMask. For example, get the unready targets of all listeners with /init_dump?mask=listener`' }]),
  endpoint('/listeners', 'print listener info', false, (ctx, params) =>
    params.get('format') === 'json'
      ? jsonReply(listenersJson(ctx.listeners()))
      : textReply(formatListenersText(ctx.listeners())),
  [{ name: 'format', help: 'File format to use', choices: ['text', 'json'] }]),
  endpoint('/logging', 'query/change logging levels', true, logging, [
    { name: 'paths', help: 'Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>.' },
    { name: 'level', help: 'desired logging level, this will change all loggers\'s level', choices: ['', 'trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] },
  ]),
  endpoint('/memory', 'print current allocation/heap usage', false, async (ctx, params) => jsonReply(memoryJson(await ctx.memory(), params.has('per_thread'))),
    [{ name: 'per_thread', help: 'also each thread\'s V8 heap (legate_threads; a Legate extension)' }]),
  endpoint('/quitquitquit', 'exit the server', true, (ctx) => textReply(OK, 200, () => ctx.quit())),
  endpoint('/ready', 'print server state, return 200 if LIVE, otherwise return 503', false, (ctx) => {
    const live = ctx.isLive();
    return textReply(`${live ? 'LIVE' : ctx.serverState()}\n`, live ? 200 : 503);
  }),
  endpoint('/reopen_logs', 'reopen access logs', true, (ctx) => {
    ctx.reopenLogs();
    return textReply(OK);
  }),
  endpoint('/reset_counters', 'reset all counters to zero', true, async (ctx) => {
    await ctx.resetCounters();
    return textReply(OK);
  }),
  endpoint('/runtime', 'print runtime values', false, (ctx) => jsonReply(ctx.runtime?.() ?? { layers: [], entries: {} })),
  endpoint('/runtime_modify', 'Adds or modifies runtime values as passed in query parameters. To delete a previously added key, use an empty string as the value. Note that deletion only applies to overrides added via this endpoint; values loaded from disk can be modified via override but not deleted. E.g. ?key1=value1&key2=value2...', true, runtimeModify),
  endpoint('/server_info', 'print server version/status information', false, (ctx) => jsonReply(ctx.serverInfo())),
  endpoint('/stats', 'print server stats', false, async (ctx, params) => {
    const query = parseStatsQuery(params, StatsFormat.TEXT);
    const stats = await ctx.stats();
    if (query.format === StatsFormat.JSON) return reply(200, ContentType.JSON, formatStatsJson(stats, query));
    if (query.format === StatsFormat.PROMETHEUS) return reply(200, ContentType.PROMETHEUS, formatStatsPrometheus(stats, query));
    return textReply(formatStatsText(stats, query));
  }, [
    { name: 'usedonly', help: 'Only include stats that have been written by system since restart' },
    { name: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
    { name: 'format', help: 'Format to use', choices: ['text', 'json', 'prometheus'] },
    { name: 'type', help: 'Stat types to include.', choices: ['All', 'Counters', 'Histograms', 'Gauges'] },
  ]),
  endpoint('/stats/prometheus', 'print server stats in prometheus format', false, async (ctx, params) => {
    const query = parseStatsQuery(params, StatsFormat.PROMETHEUS);
    return reply(200, ContentType.PROMETHEUS, formatStatsPrometheus(await ctx.stats(), query));
  }, [
    { name: 'usedonly', help: 'Only include stats that have been written by system since restart' },
    { name: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
  ]),
  endpoint('/stats/recentlookups', 'Show recent stat-name lookups', false, (ctx) => textReply(formatRecentLookups(ctx.recentLookups()))),
  endpoint('/stats/recentlookups/clear', 'clear list of stat-name lookups and counter', true, (ctx) => {
    ctx.recentLookups().clear();
    return textReply(OK);
  }),
  endpoint('/stats/recentlookups/disable', 'disable recording of reset stat-name lookup names', true, (ctx) => {
    ctx.recentLookups().setCapacity(0);
    return textReply(OK);
  }),
  endpoint('/stats/recentlookups/enable', 'enable recording of reset stat-name lookup names', true, (ctx) => {
    ctx.recentLookups().setCapacity(RECENT_LOOKUPS_CAPACITY);
    return textReply(OK);
  }),
]);

const BY_PATH: ReadonlyMap<string, AdminEndpoint> = new Map(ADMIN_ENDPOINTS.map((e) => [e.path, e]));

export function findEndpoint(path: string): AdminEndpoint | undefined {
  return BY_PATH.get(path);
}
