// Primary thread. The admin endpoints: path, help line, whether it changes server state (POST only, as in
// Envoy), and the handler. Resolved by exact path.

import type { AdminContext } from './admin-context.ts';
import { ContentType, jsonReply, reply, textReply, type AdminReply } from './admin-reply.ts';
import { clustersJson, formatClustersText } from './format-clusters.ts';
import { formatListenersText, listenersJson } from './format-listeners.ts';
import { parseStatsQuery, StatsFormat } from '../stats/stats-query.ts';
import { formatStatsText } from '../stats/format-text.ts';
import { formatStatsJson } from '../stats/format-json.ts';
import { formatStatsPrometheus } from '../stats/format-prometheus.ts';
import { helpText, homePage } from './admin-help.ts';

export interface AdminEndpoint {
  readonly path: string;
  readonly help: string;
  /** Changes server state: only POST is accepted. */
  readonly mutatesState: boolean;
  readonly handle: (ctx: AdminContext, params: URLSearchParams) => AdminReply | Promise<AdminReply>;
}

function endpoint(
  path: string,
  help: string,
  mutatesState: boolean,
  handle: AdminEndpoint['handle'],
): AdminEndpoint {
  return Object.freeze({ path, help, mutatesState, handle });
}

/** In path order (the order of the help text). */
export const ADMIN_ENDPOINTS: readonly AdminEndpoint[] = Object.freeze([
  endpoint('/', 'admin home page', false, () => reply(200, ContentType.HTML, homePage(ADMIN_ENDPOINTS))),
  endpoint('/certs', 'print certs on machine', false, (ctx) => jsonReply(ctx.certificates?.() ?? { certificates: [] })),
  endpoint('/clusters', 'upstream clusters and their hosts (?format=json)', false, (ctx, params) =>
    params.get('format') === 'json' ? jsonReply(clustersJson(ctx.clusters())) : textReply(formatClustersText(ctx.clusters())),
  ),
  endpoint('/config_dump', 'the running configuration', false, (ctx) => jsonReply(ctx.configDump())),
  endpoint('/drain_listeners', 'drain listeners (?inboundonly, ?graceful)', true, (ctx, params) => {
    ctx.drainListeners({ inboundOnly: params.has('inboundonly'), graceful: params.has('graceful') });
    return textReply('OK\n');
  }),
  endpoint('/healthcheck/fail', 'make the server fail health checks', true, (ctx) => {
    ctx.setHealthCheckFailed(true);
    return textReply('OK\n');
  }),
  endpoint('/healthcheck/ok', 'make the server pass health checks', true, (ctx) => {
    ctx.setHealthCheckFailed(false);
    return textReply('OK\n');
  }),
  endpoint('/help', 'this list', false, () => textReply(helpText(ADMIN_ENDPOINTS))),
  endpoint('/listeners', 'listeners and their addresses (?format=json)', false, (ctx, params) =>
    params.get('format') === 'json'
      ? jsonReply(listenersJson(ctx.listeners()))
      : textReply(formatListenersText(ctx.listeners())),
  ),
  endpoint('/quitquitquit', 'stop the server', true, (ctx) => textReply('OK\n', 200, () => ctx.quit())),
  endpoint('/ready', 'server state: 200 when LIVE, else 503', false, (ctx) => {
    const live = ctx.isLive();
    return textReply(`${live ? 'LIVE' : ctx.serverState()}\n`, live ? 200 : 503);
  }),
  endpoint('/runtime', 'runtime values: each layer of layered_runtime and the final value of every key', false, (ctx) =>
    jsonReply(ctx.runtime?.() ?? { layers: [], entries: {} }),
  ),
  endpoint('/server_info', 'server version and state', false, (ctx) => jsonReply(ctx.serverInfo())),
  endpoint('/stats', 'server stats (?filter=<regex>, ?usedonly, ?type=, ?format=json|prometheus)', false, async (ctx, params) => {
    const query = parseStatsQuery(params, StatsFormat.TEXT);
    const stats = await ctx.stats();
    if (query.format === StatsFormat.JSON) return reply(200, ContentType.JSON, formatStatsJson(stats, query));
    if (query.format === StatsFormat.PROMETHEUS) return reply(200, ContentType.PROMETHEUS, formatStatsPrometheus(stats, query));
    return textReply(formatStatsText(stats, query));
  }),
  endpoint('/stats/prometheus', 'server stats in Prometheus format (?filter=<regex>, ?usedonly)', false, async (ctx, params) => {
    const query = parseStatsQuery(params, StatsFormat.PROMETHEUS);
    return reply(200, ContentType.PROMETHEUS, formatStatsPrometheus(await ctx.stats(), query));
  }),
]);

const BY_PATH: ReadonlyMap<string, AdminEndpoint> = new Map(ADMIN_ENDPOINTS.map((e) => [e.path, e]));

export function findEndpoint(path: string): AdminEndpoint | undefined {
  return BY_PATH.get(path);
}
