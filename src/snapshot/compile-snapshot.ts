// Any thread (pure; the primary runs it inline at start and on a piscina thread on reload).
// Normalized Envoy bootstrap -> Snapshot: Envoy's defaults applied, every reference resolved, every problem the
// schema cannot see reported with its field path and position.

import type { ConfigProblem, LoadedConfig } from '../config-loader/types.ts';
import { compileCluster, type CompiledCluster } from '../upstream/cluster-config.ts';
import { compileAccessLogs } from '../access-log/access-log-config.ts';
import { checkRouteConfig } from '../router/check-route-config.ts';
import { CodecType, type HcmConfig, type ListenerConfig, type Snapshot } from './snapshot-types.ts';

type Obj = Record<string, unknown>;

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

class ProblemCollector {
  readonly problems: ConfigProblem[] = [];
  readonly loaded: LoadedConfig;
  constructor(loaded: LoadedConfig) {
    this.loaded = loaded;
  }
  add(code: ConfigProblem['code'], path: string, message: string): void {
    this.problems.push({ code, path, position: this.loaded.positions.at(path), message, suggestion: undefined });
  }
}

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function num(v: unknown, dflt: number): number {
  return typeof v === 'number' ? v : dflt;
}
function str(v: unknown, dflt: string): string {
  return typeof v === 'string' ? v : dflt;
}
function bool(v: unknown, dflt: boolean): boolean {
  return typeof v === 'boolean' ? v : dflt;
}

/** Envoy's stat form of an address: dots kept, ':' separators become '_' (0.0.0.0_10000, [::1]_80 -> ::1_80). */
export function statAddressOf(address: string, port: number): string {
  return `${address.replace(/:/g, '_')}_${port}`;
}

export interface CompileResult {
  snapshot: Snapshot;
  problems: ConfigProblem[];
  /** Non-fatal findings a person should see (e.g. a config that can never match). */
  warnings: string[];
}

export function compileSnapshot(loaded: LoadedConfig, version: number): CompileResult {
  const out = new ProblemCollector(loaded);
  const warnings: string[] = [];
  const bootstrap = loaded.bootstrap;
  const sr = obj(bootstrap['static_resources']);

  const clusters: CompiledCluster[] = [];
  list(sr['clusters']).forEach((c, i) => {
    const path = `static_resources.clusters[${i}]`;
    const r = compileCluster(obj(c) as never, path);
    for (const p of r.problems) out.add(p.code, p.path, p.message);
    if (r.cluster !== null) clusters.push(r.cluster);
  });
  const clusterNames = new Set(clusters.map((c) => c.name));

  const listeners: ListenerConfig[] = [];
  const bindKeys = new Map<string, string>();
  list(sr['listeners']).forEach((l, i) => {
    const listener = compileListener(obj(l), `static_resources.listeners[${i}]`, i, out, clusterNames, warnings);
    if (listener === null) return;
    const other = bindKeys.get(listener.bindKey);
    if (other !== undefined) {
      out.add('duplicate_name', `static_resources.listeners[${i}].address`, `listener '${listener.name}' binds ${listener.address}:${listener.port}, already bound by listener '${other}'`);
      return;
    }
    bindKeys.set(listener.bindKey, listener.name);
    listeners.push(listener);
  });

  return { snapshot: { version, listeners, clusters, clusterSlots: {} }, problems: out.problems, warnings };
}

function compileListener(
  l: Obj,
  path: string,
  index: number,
  out: ProblemCollector,
  clusterNames: ReadonlySet<string>,
  warnings: string[],
): ListenerConfig | null {
  const sa = obj(obj(l['address'])['socket_address']);
  const address = str(sa['address'], '');
  const port = num(sa['port_value'], -1);
  if (address === '' || port < 0 || port > 65535) {
    out.add('missing_field', `${path}.address`, 'a listener needs address.socket_address with address and port_value');
    return null;
  }
  const name = str(l['name'], `listener_${index}_${statAddressOf(address, port)}`);
  const chains = list(l['filter_chains']);
  if (chains.length === 0) {
    out.add('missing_field', `${path}.filter_chains`, 'a listener needs at least one filter chain');
    return null;
  }
  if (chains.length > 1) {
    out.add('not_supported', `${path}.filter_chains[1]`, 'not supported yet: several filter chains (filter_chain_match comes with TLS)');
    return null;
  }
  const filters = list(obj(chains[0])['filters']);
  const fpath = `${path}.filter_chains[0].filters`;
  if (filters.length !== 1) {
    out.add(filters.length === 0 ? 'missing_field' : 'not_supported', fpath, filters.length === 0
      ? 'a filter chain needs a terminal network filter (envoy.filters.network.http_connection_manager)'
      : 'not supported yet: network filters before the http_connection_manager');
    return null;
  }
  const tc = obj(obj(filters[0])['typed_config']);
  if (tc['@type'] !== HCM_TYPE) {
    out.add('not_supported', `${fpath}[0].typed_config`, `not supported yet: network filter @type ${String(tc['@type'])}`);
    return null;
  }
  const hcm = compileHcm(tc, `${fpath}[0].typed_config`, out, clusterNames);
  if (hcm === null) return null;
  const logs = compileAccessLogs(list(l['access_log']) as never, `${path}.access_log`);
  for (const p of logs.problems) out.add(p.code, p.path, p.message);
  void warnings;
  return {
    name,
    address,
    port,
    statAddress: statAddressOf(address, port),
    bindKey: `${address}:${port}`,
    perConnectionBufferLimitBytes: num(l['per_connection_buffer_limit_bytes'], 1024 * 1024),
    hcm,
    accessLogs: logs.config,
    slots: null,
  };
}

function compileHcm(h: Obj, path: string, out: ProblemCollector, clusterNames: ReadonlySet<string>): HcmConfig | null {
  const statPrefix = str(h['stat_prefix'], '');
  if (statPrefix === '') out.add('missing_field', `${path}.stat_prefix`, 'stat_prefix is required');
  const codec = str(h['codec_type'], 'AUTO');
  if (codec !== 'AUTO' && codec !== 'HTTP1') {
    out.add('not_supported', `${path}.codec_type`, `not supported yet: codec_type ${codec} (HTTP/1.1 only for now)`);
  }
  const routeConfig = h['route_config'];
  if (routeConfig === undefined) {
    out.add('missing_field', `${path}.route_config`, 'an inline route_config is required (rds is not supported yet)');
    return null;
  }
  for (const p of checkRouteConfig(obj(routeConfig), `${path}.route_config`)) out.add('bad_value', p.path, p.message);
  checkRouteClusters(obj(routeConfig), `${path}.route_config`, out, clusterNames);

  const filters = list(h['http_filters']);
  let suppressEnvoyHeaders = false;
  if (filters.length === 0) {
    out.add('missing_field', `${path}.http_filters`, 'http_filters must end with envoy.filters.http.router');
  }
  filters.forEach((f, i) => {
    const tc = obj(obj(f)['typed_config']);
    const fp = `${path}.http_filters[${i}]`;
    if (tc['@type'] === ROUTER_TYPE) {
      if (i !== filters.length - 1) out.add('bad_value', fp, 'envoy.filters.http.router must be the last http filter');
      suppressEnvoyHeaders = bool(tc['suppress_envoy_headers'], false);
    } else {
      out.add('not_supported', `${fp}.typed_config`, `not supported yet: http filter @type ${String(tc['@type'])}`);
    }
  });

  const common = obj(h['common_http_protocol_options']);
  const h1 = obj(h['http_protocol_options']);
  const logs = compileAccessLogs(list(h['access_log']) as never, `${path}.access_log`);
  for (const p of logs.problems) out.add(p.code, p.path, p.message);
  const upgradeConfigs: Record<string, boolean> = {};
  list(h['upgrade_configs']).forEach((u, i) => {
    const type = str(obj(u)['upgrade_type'], '').toLowerCase();
    const up = `${path}.upgrade_configs[${i}]`;
    if (type === '') out.add('missing_field', `${up}.upgrade_type`, 'upgrade_type is required (e.g. websocket)');
    else if (type === 'connect') out.add('not_supported', `${up}.upgrade_type`, `not supported yet: ${up}.upgrade_type CONNECT`);
    else upgradeConfigs[type] = bool(obj(u)['enabled'], true);
  });
  const maxKb = num(h['max_request_headers_kb'], 60);
  if (maxKb < 1 || maxKb > 8192) out.add('bad_value', `${path}.max_request_headers_kb`, 'must be between 1 and 8192');

  return {
    statPrefix,
    codecType: codec === 'HTTP1' ? CodecType.HTTP1 : CodecType.AUTO,
    routeConfig: obj(routeConfig),
    accessLogs: logs.config,
    useRemoteAddress: bool(h['use_remote_address'], false),
    xffNumTrustedHops: num(h['xff_num_trusted_hops'], 0),
    skipXffAppend: bool(h['skip_xff_append'], false),
    via: str(h['via'], ''),
    generateRequestId: bool(h['generate_request_id'], true),
    preserveExternalRequestId: bool(h['preserve_external_request_id'], false),
    alwaysSetRequestIdInResponse: bool(h['always_set_request_id_in_response'], false),
    serverName: str(h['server_name'], 'envoy'),
    serverHeaderTransformation: str(h['server_header_transformation'], 'OVERWRITE'),
    requestTimeoutMs: num(h['request_timeout'], 0),
    streamIdleTimeoutMs: num(h['stream_idle_timeout'], 300_000),
    idleTimeoutMs: num(common['idle_timeout'], 3_600_000),
    maxRequestHeadersKb: maxKb,
    maxHeadersCount: num(common['max_headers_count'], 100),
    normalizePath: bool(h['normalize_path'], false),
    mergeSlashes: bool(h['merge_slashes'], false),
    headersWithUnderscoresAction: str(common['headers_with_underscores_action'], 'ALLOW'),
    acceptHttp10: bool(h1['accept_http_10'], false),
    defaultHostForHttp10: str(h1['default_host_for_http_10'], ''),
    suppressEnvoyHeaders,
    upgradeConfigs,
    slots: null,
  };
}

/** Envoy's validate_clusters (on by default for inline route configs): every route.cluster must exist. */
function checkRouteClusters(rc: Obj, path: string, out: ProblemCollector, clusterNames: ReadonlySet<string>): void {
  if (rc['validate_clusters'] === false) return;
  list(rc['virtual_hosts']).forEach((vh, v) => {
    list(obj(vh)['routes']).forEach((r, i) => {
      const cluster = obj(obj(r)['route'])['cluster'];
      if (typeof cluster === 'string' && !clusterNames.has(cluster)) {
        const p = `${path}.virtual_hosts[${v}].routes[${i}].route.cluster`;
        out.add('unknown_reference', p, `route names cluster '${cluster}', which is not defined in static_resources.clusters`);
      }
    });
  });
}
