// Any thread (pure; the primary runs it inline at start and on a piscina thread on reload).
// Normalized Envoy bootstrap -> Snapshot: Envoy's defaults applied, every reference resolved, every problem the
// schema cannot see reported with its field path and position.

import net from 'node:net';
import { dirname, resolve } from 'node:path';
import type { ConfigProblem, LoadedConfig } from '../config-loader/types.ts';
import { compileCluster, type CompiledCluster } from '../upstream/cluster-config.ts';
import { compileAccessLogs, type AccessLogConfig } from '../access-log/access-log-config.ts';
import { DEFAULT_FORMAT } from '../access-log/formatter.ts';
import { checkRouteConfig } from '../router/check-route-config.ts';
import { buildFilterChainMatcher, parseCidr } from './filter-chain-matcher.ts';
import { compileInternalAddressConfig } from './internal-address.ts';
import {
  CodecType, type CidrSpec, type ConnectionLimitConfig, type FilterChainConfig, type FilterChainMatchSpec, type HcmConfig, type ListenerConfig,
  type NetworkFilterConfig, type Snapshot, type TcpProxyConfig, type TcpHashPolicy,
} from './snapshot-types.ts';
import { formatConfigProblem } from '../config-loader/config-error.ts';
import { compileHttp2Options, type Http2OptionsProblem } from './http2-options.ts';
import { compileTransportSocket } from '../tls/compile-tls-context.ts';
import type { DownstreamTlsSpec } from '../tls/tls-spec.ts';
import { compileListenerTlsConfig, transportSocketConnectTimeoutOf } from '../tls/listener-tls-config.ts';
import { compileOverloadManager, type OverloadProblem } from '../overload/overload-config.ts';
import { compileHttpFilters, perRouteFilterStats, type FilterConfigProblem } from '../filters/http-filter-config.ts';
import { compileNetworkLocalRateLimit, NETWORK_LOCAL_RATELIMIT_TYPE_URL, type NetworkLocalRateLimitConfig } from '../filters/network-local-ratelimit-config.ts';
import { ROUTE_FILTER_DEPS } from '../filters/route-filter-deps.ts';
import { compileNetworkRbac, NETWORK_RBAC_TYPE, type NetworkRbacConfig } from '../filters/rbac-config.ts';
import { compileLocalReplyConfig } from './local-reply-config.ts';
import { compileUdpListener, isUdpListener, UDP_PROXY, UDP_PROXY_TYPE, type UdpConfigProblem, type UdpListenerConfig } from './udp-listener-config.ts';
import { compileStatsSettings } from '../stats/stats-config.ts';
import { compileTracing, type TracingProblem } from '../tracing/tracing-config.ts';
import { listenerIdentityOf } from '../config-loader/listener-identity.ts';

type Obj = Record<string, unknown>;

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
const ORIGINAL_DST_LISTENER_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
const ORIGINAL_DST_LISTENER = 'envoy.filters.listener.original_dst';
const NETWORK_RBAC_TYPE_URL = `type.googleapis.com/${NETWORK_RBAC_TYPE}`;
const CONNECTION_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit';
const DEFAULT_CHAIN = 'default_filter_chain';

class ProblemCollector {
  readonly problems: ConfigProblem[] = [];
  /** Formatted like problems (file:line:col: path: message). */
  readonly warnings: string[] = [];
  readonly loaded: LoadedConfig;
  constructor(loaded: LoadedConfig) {
    this.loaded = loaded;
  }
  add(code: ConfigProblem['code'], path: string, message: string): void {
    this.problems.push({ code, path, position: this.loaded.positions.at(path), message, suggestion: undefined });
  }
  warn(path: string, message: string): void {
    this.warnings.push(formatConfigProblem({ code: 'bad_value', path, position: this.loaded.positions.at(path), message, suggestion: undefined }));
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
  const bootstrap = loaded.bootstrap;
  const sr = obj(bootstrap['static_resources']);

  const clusters: CompiledCluster[] = [];
  const clusterIndex = new Map<string, number>();
  list(sr['clusters']).forEach((c, i) => {
    const path = `static_resources.clusters[${i}]`;
    // Envoy's cluster manager refuses a second cluster of the same name.
    const name = obj(c)['name'];
    if (typeof name === 'string' && name !== '') {
      const first = clusterIndex.get(name);
      if (first !== undefined) {
        out.add('duplicate_name', `${path}.name`, `cluster name '${name}' is already used by static_resources.clusters[${first}]`);
        return;
      }
      clusterIndex.set(name, i);
    }
    const r = compileCluster(obj(c) as never, path);
    for (const p of r.problems) out.add(p.code, p.path, p.message);
    if (r.cluster !== null) clusters.push(r.cluster);
  });
  const clusterNames = new Set(clusters.map((c) => c.name));
  // Envoy: "local cluster '<name>' must be defined".
  const localCluster = obj(bootstrap['cluster_manager'])['local_cluster_name'];
  if (typeof localCluster === 'string' && localCluster !== '' && !clusterIndex.has(localCluster)) {
    out.add('unknown_reference', 'cluster_manager.local_cluster_name', `local cluster '${localCluster}' must be defined in static_resources.clusters`);
  }

  const listeners: ListenerConfig[] = [];
  const udpListeners: UdpListenerConfig[] = [];
  const bindKeys = new Map<string, string>();
  const listenerIndex = new Map<string, number>();
  list(sr['listeners']).forEach((l, i) => {
    const path = `static_resources.listeners[${i}]`;
    // Envoy's listener manager refuses a second listener of the same name.
    const name = obj(l)['name'];
    if (typeof name === 'string' && name !== '') {
      const first = listenerIndex.get(name);
      if (first !== undefined) {
        out.add('duplicate_name', `${path}.name`, `listener name '${name}' is already used by static_resources.listeners[${first}]`);
        return;
      }
      listenerIndex.set(name, i);
    }
    if (isUdpListener(obj(l))) {
      const udp = compileUdpListenerAt(obj(l), path, i, out, clusterNames);
      if (udp === null) return;
      const taken = bindKeys.get(udp.bindKey);
      if (taken !== undefined) {
        out.add('duplicate_name', `${path}.address`, `listener '${udp.name}' binds UDP ${udp.address}:${udp.port}, already bound by listener '${taken}'`);
        return;
      }
      bindKeys.set(udp.bindKey, udp.name);
      udpListeners.push(udp);
      return;
    }
    const listener = compileListener(obj(l), path, i, out, clusterNames);
    if (listener === null) return;
    const other = bindKeys.get(listener.bindKey);
    if (other !== undefined) {
      out.add('duplicate_name', `${path}.address`, `listener '${listener.name}' binds ${listener.address}:${listener.port}, already bound by listener '${other}'`);
      return;
    }
    bindKeys.set(listener.bindKey, listener.name);
    listeners.push(listener);
  });

  const overloadProblems: OverloadProblem[] = [];
  const om = bootstrap['overload_manager'];
  const overload = compileOverloadManager(om === undefined ? undefined : obj(om), 'overload_manager', overloadProblems);
  for (const p of overloadProblems) out.add(p.code, p.path, p.message);

  const adminAccessLogs = compileAdminAccessLogs(obj(bootstrap['admin']), out);
  // stats_config, stats_sinks, stats_flush_interval: checked here (--mode validate), read by the primary at start.
  for (const p of compileStatsSettings(bootstrap).problems) out.add(p.message.startsWith('not supported yet') ? 'not_supported' : 'bad_value', p.path, p.message);

  return { snapshot: { version, listeners, clusters, clusterSlots: {}, overload, adminAccessLogs, udpListeners }, problems: out.problems, warnings: out.warnings };
}

/** admin.access_log, then the deprecated admin.access_log_path ('/dev/null', Envoy's old default, logs nothing). */
function compileAdminAccessLogs(admin: Obj, out: ProblemCollector): AccessLogConfig[] {
  const logs = compileAccessLogs(list(admin['access_log']) as never, 'admin.access_log');
  for (const p of logs.problems) out.add(p.code, p.path, p.message);
  const legacyPath = str(admin['access_log_path'], '');
  if (legacyPath !== '' && legacyPath !== '/dev/null') {
    logs.config.push({
      logger: 'envoy.access_loggers.file', kind: 'file', path: legacyPath, format: 'text', text: DEFAULT_FORMAT, json: null,
      jsonTyped: true, omitEmptyValues: false, sortProperties: false, textEndsWithNewline: true,
    });
  }
  return logs.config;
}

/** A listener whose address is UDP: its address checked here, the rest in udp-listener-config.ts. */
function compileUdpListenerAt(l: Obj, path: string, index: number, out: ProblemCollector, clusterNames: ReadonlySet<string>): UdpListenerConfig | null {
  const sa = obj(obj(l['address'])['socket_address']);
  const given = str(sa['address'], '');
  const port = num(sa['port_value'], -1);
  const address = canonicalIp(given);
  if (address === null || port < 0 || port > 65535) {
    out.add('bad_value', `${path}.address.socket_address`, 'a UDP listener needs an IP address and a port_value');
    return null;
  }
  const name = str(l['name'], `listener_${index}_${statAddressOf(address, port)}`);
  const statAddress = str(l['stat_prefix'], '') || statAddressOf(address, port);
  const problems: UdpConfigProblem[] = [];
  const warnings: { path: string; message: string }[] = [];
  const udp = compileUdpListener(l, path, name, address, port, statAddress, clusterNames, problems, warnings);
  for (const p of problems) out.add(p.code, p.path, p.message);
  for (const w of warnings) out.warn(w.path, w.message);
  return problems.length > 0 ? null : udp;
}

function compileListener(
  l: Obj,
  path: string,
  index: number,
  out: ProblemCollector,
  clusterNames: ReadonlySet<string>,
): ListenerConfig | null {
  const sa = obj(obj(l['address'])['socket_address']);
  const given = str(sa['address'], '');
  const port = num(sa['port_value'], -1);
  if (given === '' || port < 0 || port > 65535) {
    out.add('missing_field', `${path}.address`, 'a listener needs address.socket_address with address and port_value');
    return null;
  }
  // Envoy binds a listener to an IP literal only (no name resolution): anything else is refused at load.
  const address = canonicalIp(given);
  if (address === null) {
    out.add('bad_value', `${path}.address.socket_address.address`, `malformed IP address: ${given} (a listener binds an IPv4 or IPv6 address, not a host name)`);
    return null;
  }
  const name = str(l['name'], `listener_${index}_${statAddressOf(address, port)}`);

  // The loader lets through only listener filters Legate knows (tls_inspector); keep their names.
  const listenerFilters = list(l['listener_filters']).map((f) =>
    obj(obj(f)['typed_config'])['@type'] === TLS_INSPECTOR_TYPE ? TLS_INSPECTOR
      : obj(obj(f)['typed_config'])['@type'] === ORIGINAL_DST_LISTENER_TYPE ? ORIGINAL_DST_LISTENER : str(obj(f)['name'], ''),
  );
  if (listenerFilters.includes(ORIGINAL_DST_LISTENER)) {
    // Once per config load: what Legate can and cannot restore (docs/ARCHITECTURE.md, ORIGINAL_DST).
    out.warn(`${path}.listener_filters`, `${ORIGINAL_DST_LISTENER}: Node cannot read SO_ORIGINAL_DST, so the original destination is the connection's local address: right for TPROXY (transparent) and direct connections, wrong after an iptables REDIRECT (every connection would go to Legate's own address)`);
  }
  const hasTlsInspector = listenerFilters.includes(TLS_INSPECTOR);
  const udpProxyAt = list(l['listener_filters']).findIndex((f) => obj(obj(f)['typed_config'])['@type'] === UDP_PROXY_TYPE);
  if (udpProxyAt >= 0) {
    out.add('bad_value', `${path}.listener_filters[${udpProxyAt}]`, `${UDP_PROXY} runs on a UDP listener: set address.socket_address.protocol to UDP`);
    return null;
  }

  const rawChains = list(l['filter_chains']);
  if (rawChains.length === 0 && l['default_filter_chain'] === undefined) {
    out.add('missing_field', `${path}.filter_chains`, 'a listener needs at least one filter chain (filter_chains or default_filter_chain)');
    return null;
  }
  let ok = true;
  const filterChains: FilterChainConfig[] = [];
  rawChains.forEach((c, i) => {
    const chain = compileFilterChain(obj(c), `${path}.filter_chains[${i}]`, `filter_chains[${i}]`, out, clusterNames);
    if (chain === null) ok = false;
    else filterChains.push(chain);
  });
  let defaultFilterChain: FilterChainConfig | null = null;
  if (l['default_filter_chain'] !== undefined) {
    const dpath = `${path}.default_filter_chain`;
    const d = obj(l['default_filter_chain']);
    if (d['filter_chain_match'] !== undefined) {
      out.warn(`${dpath}.filter_chain_match`, 'ignored: the default filter chain serves every connection no other chain matches (as in Envoy)');
    }
    defaultFilterChain = compileFilterChain({ ...d, filter_chain_match: undefined }, dpath, DEFAULT_CHAIN, out, clusterNames);
    if (defaultFilterChain === null) ok = false;
  }
  // Envoy: chain names, when given, are unique within a listener.
  const named = new Map<string, number>();
  rawChains.forEach((c, i) => {
    const n = obj(c)['name'];
    if (typeof n !== 'string' || n === '') return;
    const first = named.get(n);
    if (first !== undefined) out.add('duplicate_name', `${path}.filter_chains[${i}].name`, `filter chain name '${n}' is already used by filter_chains[${first}]`);
    else named.set(n, i);
  });
  if (!ok) return null;
  // What an update compares (Envoy's listener manager: modified, or only some filter chains: in place).
  const identity = listenerIdentityOf(l);
  filterChains.forEach((c, i) => {
    c.identity = identity.chains[i] ?? '';
  });
  if (defaultFilterChain !== null) defaultFilterChain.identity = identity.defaultChain;

  // No two chains may match the same connections.
  for (const [a, b] of buildFilterChainMatcher(filterChains.map((c) => c.match)).duplicates) {
    out.add('bad_value', `${path}.filter_chains[${b}].filter_chain_match`, `filter chain '${filterChains[b]!.name}' has the same matching rules as '${filterChains[a]!.name}': no connection could ever select it`);
  }

  filterChains.forEach((c, i) => {
    const needs = tlsOnlyCriteria(c.match);
    if (needs.length > 0 && !hasTlsInspector) {
      out.warn(`${path}.filter_chains[${i}].filter_chain_match`, `matching on ${needs.join(', ')} needs the envoy.filters.listener.tls_inspector listener filter, which this listener does not have: without it connections carry no SNI or ALPN and are raw_buffer, so this chain never matches on ${needs.length === 1 ? 'it' : 'them'}`);
    }
  });

  const logs = compileAccessLogs(list(l['access_log']) as never, `${path}.access_log`);
  for (const p of logs.problems) out.add(p.code, p.path, p.message);
  return {
    name,
    address,
    port,
    // Envoy's listener stat_prefix replaces the address in listener.<…>. (how port-0 listeners tell their stats apart).
    statAddress: str(l['stat_prefix'], '') || statAddressOf(address, port),
    // Port 0 (the kernel picks a port): each such listener binds a port of its own, so several never collide.
    bindKey: port === 0 ? `${address}:0/${name}` : `${address}:${port}`,
    perConnectionBufferLimitBytes: num(l['per_connection_buffer_limit_bytes'], 1024 * 1024),
    listenerFilters,
    tls: compileListenerTlsConfig(l, listenerFilters),
    filterChains,
    defaultFilterChain,
    accessLogs: logs.config,
    slots: null,
    identity: identity.listener,
    drainType: l['drain_type'] === 'MODIFY_ONLY' ? 'MODIFY_ONLY' : 'DEFAULT',
  };
}

/**
 * One spelling per IP address (so two listeners on "::1" and "0:0::1" are seen to be the same): IPv4 as given,
 * IPv6 compressed and lower-case; null when `s` is not an IP literal.
 */
function canonicalIp(s: string): string | null {
  const family = net.isIP(s);
  if (family === 4) return s;
  if (family !== 6 || s.includes('%')) return family === 6 ? s : null;
  try {
    return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  } catch {
    return s;
  }
}

/** The criteria of a match only the tls_inspector can satisfy. */
function tlsOnlyCriteria(m: FilterChainMatchSpec): string[] {
  const out: string[] = [];
  if (m.serverNames.length > 0) out.push('server_names');
  if (m.transportProtocol === 'tls') out.push('transport_protocol "tls"');
  if (m.applicationProtocols.length > 0) out.push('application_protocols');
  return out;
}

function compileFilterChain(
  c: Obj,
  path: string,
  fallbackName: string,
  out: ProblemCollector,
  clusterNames: ReadonlySet<string>,
): FilterChainConfig | null {
  const match = compileFilterChainMatch(obj(c['filter_chain_match']), `${path}.filter_chain_match`, out);
  const filters = list(c['filters']);
  const fpath = `${path}.filters`;
  if (filters.length === 0) {
    out.add('missing_field', fpath, 'a filter chain needs a terminal network filter (envoy.filters.network.http_connection_manager or envoy.filters.network.tcp_proxy)');
    return null;
  }
  // Before the terminal filter: envoy.filters.network.connection_limit (at most one), envoy.filters.network.rbac and
  // envoy.filters.network.local_ratelimit.
  let connectionLimit: ConnectionLimitConfig | null = null;
  let networkRbac: NetworkRbacConfig[] | null = null;
  let networkLocalRateLimits: NetworkLocalRateLimitConfig[] | null = null;
  for (let i = 0; i < filters.length - 1; i++) {
    const ftc = obj(obj(filters[i])['typed_config']);
    // envoy.filters.network.local_ratelimit, any number (workers/listener/network-local-ratelimit.ts): a bucket each.
    if (ftc['@type'] === NETWORK_LOCAL_RATELIMIT_TYPE_URL) {
      const lrProblems: FilterConfigProblem[] = [];
      const lr = compileNetworkLocalRateLimit(ftc, `${fpath}[${i}].typed_config`, `${path}|${i}`, lrProblems);
      for (const p of lrProblems) out.add(p.code ?? 'bad_value', p.path, p.message);
      if (lr === null) return null;
      (networkLocalRateLimits ??= []).push(lr);
      continue;
    }
    // envoy.filters.network.rbac, any number (workers/listener/rbac-network-filter.ts).
    if (ftc['@type'] === NETWORK_RBAC_TYPE_URL) {
      const rbacProblems: FilterConfigProblem[] = [];
      const rbac = compileNetworkRbac(ftc, `${fpath}[${i}].typed_config`, rbacProblems);
      for (const p of rbacProblems) out.add(p.code ?? 'bad_value', p.path, p.message);
      if (rbac === null) return null;
      (networkRbac ??= []).push(rbac);
      continue;
    }
    if (ftc['@type'] !== CONNECTION_LIMIT_TYPE || connectionLimit !== null) {
      out.add('not_supported', `${fpath}[${i}]`, 'not supported yet: network filters before the terminal filter (http_connection_manager or tcp_proxy) other than one envoy.filters.network.connection_limit, envoy.filters.network.rbac and envoy.filters.network.local_ratelimit');
      return null;
    }
    const max = num(ftc['max_connections'], 0);
    if (max < 1) {
      out.add('missing_field', `${fpath}[${i}].typed_config.max_connections`, 'connection_limit needs max_connections of at least 1');
      return null;
    }
    connectionLimit = { statPrefix: str(ftc['stat_prefix'], ''), maxConnections: Math.min(max, 0x7fffffff), delayMs: num(ftc['delay'], 0), counterIndex: -1, slots: null };
  }
  const last = filters.length - 1;
  const tpath = `${fpath}[${last}].typed_config`;
  const tc = obj(obj(filters[last])['typed_config']);
  let filter: NetworkFilterConfig;
  if (tc['@type'] === HCM_TYPE) {
    const hcm = compileHcm(tc, tpath, out, clusterNames);
    if (hcm === null) return null;
    filter = { kind: 'http_connection_manager', hcm };
  } else if (tc['@type'] === TCP_PROXY_TYPE) {
    const tcpProxy = compileTcpProxy(tc, tpath, out, clusterNames);
    if (tcpProxy === null) return null;
    filter = { kind: 'tcp_proxy', tcpProxy };
  } else {
    out.add('not_supported', tpath, `not supported yet: network filter @type ${String(tc['@type'])}`);
    return null;
  }
  if (match === null) return null;
  let transportSocket: DownstreamTlsSpec | null = null;
  if (c['transport_socket'] !== undefined) {
    const ts = compileTransportSocket(obj(c['transport_socket']), `${path}.transport_socket`, 'downstream');
    for (const p of ts.problems) out.add(p.code, p.path, p.message);
    if (ts.problems.length > 0) return null;
    transportSocket = ts.spec as DownstreamTlsSpec | null;
  }
  const name = str(c['name'], '');
  return {
    name: name === '' ? fallbackName : name,
    // The default chain matches whatever the others do not: its identity is its role, not its (ignored) match.
    key: fallbackName === DEFAULT_CHAIN ? `${DEFAULT_CHAIN} ${filter.kind}` : `${filter.kind} ${JSON.stringify(match)}`,
    match,
    transportSocket,
    transportSocketConnectTimeoutMs: transportSocketConnectTimeoutOf(c),
    connectionLimit,
    networkRbac,
    networkLocalRateLimits,
    filter,
    identity: '',
  };
}

function compileCidrs(v: unknown, path: string, out: ProblemCollector): CidrSpec[] | null {
  const ranges: CidrSpec[] = [];
  let ok = true;
  list(v).forEach((r, i) => {
    const c = parseCidr(str(obj(r)['address_prefix'], ''), num(obj(r)['prefix_len'], 0));
    if (typeof c === 'string') {
      out.add('bad_value', `${path}[${i}]`, c);
      ok = false;
    } else {
      ranges.push(c);
    }
  });
  return ok ? ranges : null;
}

function compileFilterChainMatch(m: Obj, path: string, out: ProblemCollector): FilterChainMatchSpec | null {
  const prefixRanges = compileCidrs(m['prefix_ranges'], `${path}.prefix_ranges`, out);
  const directSourcePrefixRanges = compileCidrs(m['direct_source_prefix_ranges'], `${path}.direct_source_prefix_ranges`, out);
  const sourcePrefixRanges = compileCidrs(m['source_prefix_ranges'], `${path}.source_prefix_ranges`, out);
  let ok = prefixRanges !== null && directSourcePrefixRanges !== null && sourcePrefixRanges !== null;
  const serverNames: string[] = [];
  list(m['server_names']).forEach((n, i) => {
    const name = str(n, '').toLowerCase();
    // Envoy: "*.example.com" is the only wildcard form.
    if (name.includes('*') && !(name.startsWith('*.') && name.length > 2 && !name.slice(1).includes('*'))) {
      out.add('bad_value', `${path}.server_names[${i}]`, `partial wildcards are not supported in server_names: '${name}' (only a leading "*." is)`);
      ok = false;
      return;
    }
    if (name === '') {
      out.add('bad_value', `${path}.server_names[${i}]`, 'a server name cannot be empty');
      ok = false;
      return;
    }
    serverNames.push(name);
  });
  if (!ok) return null;
  const sourceType = str(m['source_type'], 'ANY');
  return {
    destinationPort: num(m['destination_port'], 0),
    prefixRanges: prefixRanges!,
    serverNames,
    transportProtocol: str(m['transport_protocol'], ''),
    applicationProtocols: list(m['application_protocols']).map((p) => str(p, '')),
    directSourcePrefixRanges: directSourcePrefixRanges!,
    sourceType: sourceType === 'SAME_IP_OR_LOOPBACK' || sourceType === 'EXTERNAL' ? sourceType : 'ANY',
    sourcePrefixRanges: sourcePrefixRanges!,
    sourcePorts: list(m['source_ports']).map((p) => num(p, 0)),
  };
}

function compileTcpProxy(t: Obj, path: string, out: ProblemCollector, clusterNames: ReadonlySet<string>): TcpProxyConfig | null {
  const statPrefix = str(t['stat_prefix'], '');
  if (statPrefix === '') out.add('missing_field', `${path}.stat_prefix`, 'stat_prefix is required');
  const clusters: { name: string; weight: number }[] = [];
  let clustersPath = `${path}.cluster`;
  if (typeof t['cluster'] === 'string') {
    clusters.push({ name: t['cluster'], weight: 1 });
  } else {
    clustersPath = `${path}.weighted_clusters.clusters`;
    list(obj(t['weighted_clusters'])['clusters']).forEach((c) => {
      clusters.push({ name: str(obj(c)['name'], ''), weight: num(obj(c)['weight'], 0) });
    });
  }
  if (clusters.length === 0) {
    out.add('missing_field', `${path}.cluster`, 'tcp_proxy needs cluster or weighted_clusters');
    return null;
  }
  clusters.forEach((c, i) => {
    // Envoy resolves the cluster per connection (it may come later from CDS): a missing one is not a config error,
    // but with static clusters only it can never appear, so say so.
    if (!clusterNames.has(c.name)) {
      const p = clusters.length === 1 && clustersPath.endsWith('.cluster') ? clustersPath : `${clustersPath}[${i}].name`;
      out.warn(p, `tcp_proxy names cluster '${c.name}', which is not defined in static_resources.clusters: its connections will be closed (downstream_cx_no_route)`);
    }
  });
  const logs = compileAccessLogs(list(t['access_log']) as never, `${path}.access_log`);
  for (const p of logs.problems) out.add(p.code, p.path, p.message);
  return {
    statPrefix,
    clusters,
    totalWeight: clusters.reduce((sum, c) => sum + c.weight, 0),
    idleTimeoutMs: num(t['idle_timeout'], 3_600_000),
    maxDownstreamConnectionDurationMs: num(t['max_downstream_connection_duration'], 0),
    maxConnectAttempts: num(t['max_connect_attempts'], 1),
    accessLogs: logs.config,
    hashPolicy: compileTcpHashPolicy(list(t['hash_policy']), `${path}.hash_policy`, out),
    slots: null,
  };
}

/** tcp_proxy hash_policy: at most one entry (Envoy's validation), source_ip or filter_state. */
function compileTcpHashPolicy(policies: unknown[], path: string, out: ProblemCollector): TcpHashPolicy | null {
  if (policies.length === 0) return null;
  if (policies.length > 1) out.add('bad_value', path, 'tcp_proxy hash_policy takes at most one entry');
  const p = obj(policies[0]);
  if (p['source_ip'] !== undefined) return { kind: 'source_ip' };
  if (p['filter_state'] !== undefined) {
    const key = str(obj(p['filter_state'])['key'], '');
    if (key === '') out.add('missing_field', `${path}[0].filter_state.key`, 'filter_state hash policy needs a key');
    return { kind: 'filter_state', key };
  }
  out.add('missing_field', `${path}[0]`, 'a hash policy needs source_ip or filter_state');
  return null;
}

function compileHcm(h: Obj, path: string, out: ProblemCollector, clusterNames: ReadonlySet<string>): HcmConfig | null {
  const statPrefix = str(h['stat_prefix'], '');
  if (statPrefix === '') out.add('missing_field', `${path}.stat_prefix`, 'stat_prefix is required');
  const codec = str(h['codec_type'], 'AUTO');
  if (codec !== 'AUTO' && codec !== 'HTTP1' && codec !== 'HTTP2') {
    out.add('not_supported', `${path}.codec_type`, `not supported yet: codec_type ${codec} (HTTP/1.1 and HTTP/2 only)`);
  }
  const h2Problems: Http2OptionsProblem[] = [];
  const http2 = compileHttp2Options(obj(h['http2_protocol_options']), `${path}.http2_protocol_options`, h2Problems, h['stream_error_on_invalid_http_message']);
  for (const p of h2Problems) out.add(p.code, p.path, p.message);
  const routeConfig = h['route_config'];
  if (routeConfig === undefined) {
    out.add('missing_field', `${path}.route_config`, 'an inline route_config is required (rds is not supported yet)');
    return null;
  }
  for (const p of checkRouteConfig(obj(routeConfig), `${path}.route_config`, ROUTE_FILTER_DEPS)) {
    out.add((p as FilterConfigProblem).code ?? 'bad_value', p.path, p.message);
  }
  checkRouteClusters(obj(routeConfig), `${path}.route_config`, out, clusterNames);

  const filterProblems: FilterConfigProblem[] = [];
  const filterWarnings: FilterConfigProblem[] = [];
  // A file a filter names (a TypeScript filter's module) is relative to the config file's directory.
  const filterBaseDir = out.loaded.files.length > 0 ? dirname(resolve(out.loaded.files[0]!)) : process.cwd();
  const httpFilters = compileHttpFilters(list(h['http_filters']), `${path}.http_filters`, statPrefix, filterProblems, filterWarnings, filterBaseDir);
  for (const p of filterProblems) out.add(p.code ?? 'bad_value', p.path, p.message);
  for (const w of filterWarnings) out.warn(w.path, w.message);

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
  const localReplyProblems: FilterConfigProblem[] = [];
  const localReplyConfig = compileLocalReplyConfig(h['local_reply_config'], `${path}.local_reply_config`, localReplyProblems);
  for (const p of localReplyProblems) out.add(p.code ?? 'bad_value', p.path, p.message);
  const tracingProblems: TracingProblem[] = [];
  const tracing = h['tracing'] === undefined ? null : compileTracing(obj(h['tracing']), { bootstrap: out.loaded.bootstrap, path: `${path}.tracing`, httpFilters: list(h['http_filters']) }, tracingProblems);
  for (const p of tracingProblems) out.add(p.code ?? 'bad_value', p.path, p.message);
  const internalAddressProblems: { path: string; message: string }[] = [];
  const internalAddressConfig = compileInternalAddressConfig(h['internal_address_config'], `${path}.internal_address_config`, internalAddressProblems);
  for (const p of internalAddressProblems) out.add('bad_value', p.path, p.message);
  const maxKb = num(h['max_request_headers_kb'], 60);
  if (maxKb < 1 || maxKb > 8192) out.add('bad_value', `${path}.max_request_headers_kb`, 'must be between 1 and 8192');

  return {
    statPrefix,
    codecType: codec === 'HTTP1' ? CodecType.HTTP1 : codec === 'HTTP2' ? CodecType.HTTP2 : CodecType.AUTO,
    routeConfig: obj(routeConfig),
    httpFilters: httpFilters.filters,
    routeFilterStats: perRouteFilterStats(obj(routeConfig)).map((stats) => ({ stats, slots: null })),
    accessLogs: logs.config,
    useRemoteAddress: bool(h['use_remote_address'], false),
    internalAddressConfig,
    xffNumTrustedHops: num(h['xff_num_trusted_hops'], 0),
    skipXffAppend: bool(h['skip_xff_append'], false),
    via: str(h['via'], ''),
    generateRequestId: bool(h['generate_request_id'], true),
    preserveExternalRequestId: bool(h['preserve_external_request_id'], false),
    alwaysSetRequestIdInResponse: bool(h['always_set_request_id_in_response'], false),
    serverName: str(h['server_name'], 'envoy'),
    serverHeaderTransformation: str(h['server_header_transformation'], 'OVERWRITE'),
    requestTimeoutMs: num(h['request_timeout'], 0),
    requestHeadersTimeoutMs: num(h['request_headers_timeout'], 0),
    streamIdleTimeoutMs: num(h['stream_idle_timeout'], 300_000),
    delayedCloseTimeoutMs: num(h['delayed_close_timeout'], 1000),
    idleTimeoutMs: num(common['idle_timeout'], 3_600_000),
    maxConnectionDurationMs: num(common['max_connection_duration'], 0),
    maxRequestsPerConnection: num(common['max_requests_per_connection'], 0),
    maxStreamDurationMs: num(common['max_stream_duration'], 0),
    maxRequestHeadersKb: maxKb,
    maxHeadersCount: num(common['max_headers_count'], 100),
    normalizePath: bool(h['normalize_path'], false),
    mergeSlashes: bool(h['merge_slashes'], false),
    // IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED in Envoy.
    pathWithEscapedSlashesAction: str(h['path_with_escaped_slashes_action'], 'KEEP_UNCHANGED').replace('IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED'),
    headersWithUnderscoresAction: str(common['headers_with_underscores_action'], 'ALLOW'),
    acceptHttp10: bool(h1['accept_http_10'], false),
    defaultHostForHttp10: str(h1['default_host_for_http_10'], ''),
    suppressEnvoyHeaders: httpFilters.suppressEnvoyHeaders,
    upgradeConfigs,
    proxy100Continue: bool(h['proxy_100_continue'], false),
    http2,
    localReplyConfig,
    tracing,
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
      // Envoy checks weighted clusters' and mirror policies' named clusters too (not those from a header).
      const rp = `${path}.virtual_hosts[${v}].routes[${i}].route`;
      list(obj(obj(obj(r)['route'])['weighted_clusters'])['clusters']).forEach((c, k) => {
        const name = obj(c)['name'];
        if (typeof name === 'string' && !clusterNames.has(name)) {
          out.add('unknown_reference', `${rp}.weighted_clusters.clusters[${k}].name`, `weighted cluster '${name}' is not defined in static_resources.clusters`);
        }
      });
      checkMirrorClusters(obj(obj(r)['route'])['request_mirror_policies'], `${rp}.request_mirror_policies`, out, clusterNames);
    });
    checkMirrorClusters(obj(vh)['request_mirror_policies'], `${path}.virtual_hosts[${v}].request_mirror_policies`, out, clusterNames);
  });
}

function checkMirrorClusters(policies: unknown, path: string, out: ProblemCollector, clusterNames: ReadonlySet<string>): void {
  list(policies).forEach((m, k) => {
    const name = obj(m)['cluster'];
    if (typeof name === 'string' && name !== '' && !clusterNames.has(name)) {
      out.add('unknown_reference', `${path}[${k}].cluster`, `mirror cluster '${name}' is not defined in static_resources.clusters`);
    }
  });
}
