// Any thread (pure). A listener with `address.socket_address.protocol: UDP` and the
// envoy.filters.udp_listener.udp_proxy listener filter (UdpProxyConfig), compiled into plain data for the workers
// (workers/udp). The UDP proxy is Envoy's only UDP listener filter Legate runs; anything else on a UDP listener is
// refused here with its field path.

import type { ScopeSlots } from '../stats/definitions.ts';
import type { CLUSTER_UDP_STATS, LISTENER_UDP_STATS, UDP_PROXY_STATS } from '../stats/definitions.ts';

export const UDP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig';
export const UDP_PROXY = 'envoy.filters.udp_listener.udp_proxy';
const UDP_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route';

/** Envoy's default for UdpSocketConfig.max_rx_datagram_size and UdpProxyConfig.idle_timeout. */
const DEFAULT_MAX_RX_DATAGRAM_SIZE = 1500;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** UdpProxyConfig.HashPolicy: the client's IP, or a fixed key (every session hashes the same). */
export type UdpHashPolicy = { kind: 'source_ip' } | { kind: 'key'; key: string };

/** envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig, compiled. */
export interface UdpProxyConfig {
  statPrefix: string;
  /** `cluster`, or the cluster of the matcher's on_no_match action. */
  cluster: string;
  /** 0 = sessions never time out. */
  idleTimeoutMs: number;
  hashPolicy: UdpHashPolicy | null;
  /** upstream_socket_config.max_rx_datagram_size: larger datagrams from an upstream are dropped. */
  upstreamMaxRxDatagramSize: number;
  /** use_per_packet_load_balancing: a host is chosen for every datagram instead of once per session. */
  perPacketLoadBalancing: boolean;
  /** udp.<stat_prefix>.*; set by the primary. */
  slots: ScopeSlots<typeof UDP_PROXY_STATS> | null;
  /** cluster.<cluster>.udp.*; set by the primary. */
  clusterSlots: ScopeSlots<typeof CLUSTER_UDP_STATS> | null;
}

/** A UDP listener, compiled. */
export interface UdpListenerConfig {
  name: string;
  address: string;
  port: number;
  family: 4 | 6;
  /** listener.<statAddress>.udp.* */
  statAddress: string;
  /** Identity across reloads: a listener whose key stays keeps its socket (and its sessions). */
  bindKey: string;
  /** udp_listener_config.downstream_socket_config.max_rx_datagram_size: larger client datagrams are dropped. */
  downstreamMaxRxDatagramSize: number;
  proxy: UdpProxyConfig;
  /** listener.<statAddress>.udp.*; set by the primary. */
  slots: ScopeSlots<typeof LISTENER_UDP_STATS> | null;
}

export interface UdpConfigProblem {
  code: 'missing_field' | 'bad_value' | 'not_supported';
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown, dflt: string): string {
  return typeof v === 'string' ? v : dflt;
}
/** Numbers, and 64-bit integers the loader may keep as text. */
function num(v: unknown, dflt: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return dflt;
}

/** Whether a listener asks for UDP: its socket address's protocol, or a UDP listener filter. */
export function isUdpListener(l: Obj): boolean {
  return str(obj(obj(l['address'])['socket_address'])['protocol'], 'TCP') === 'UDP';
}

/**
 * Compiles a listener whose address is UDP. `address` is the canonical IP the caller checked; `statAddress` its
 * stat form. Problems are returned with their field paths; null when the listener cannot be built.
 */
export function compileUdpListener(
  l: Obj,
  path: string,
  name: string,
  address: string,
  port: number,
  statAddress: string,
  clusterNames: ReadonlySet<string>,
  problems: UdpConfigProblem[],
  warnings: { path: string; message: string }[],
): UdpListenerConfig | null {
  if (port === 0) {
    problems.push({ code: 'not_supported', path: `${path}.address.socket_address.port_value`, message: 'not supported yet: a UDP listener on port 0 (give it a port)' });
    return null;
  }
  for (const f of ['filter_chains', 'default_filter_chain']) {
    if (l[f] !== undefined && !(Array.isArray(l[f]) && l[f].length === 0)) {
      problems.push({ code: 'bad_value', path: `${path}.${f}`, message: 'a UDP listener has no filter chains: its datagrams go to its udp_proxy listener filter' });
    }
  }
  const filters = list(l['listener_filters']);
  const proxies = filters.map((f, i) => ({ f: obj(f), i })).filter(({ f }) => obj(f['typed_config'])['@type'] === UDP_PROXY_TYPE);
  filters.forEach((f, i) => {
    if (obj(obj(f)['typed_config'])['@type'] !== UDP_PROXY_TYPE) {
      problems.push({ code: 'not_supported', path: `${path}.listener_filters[${i}]`, message: `not supported yet: listener filter '${str(obj(f)['name'], '')}' on a UDP listener (only ${UDP_PROXY})` });
    }
  });
  if (proxies.length !== 1) {
    problems.push({
      code: proxies.length === 0 ? 'missing_field' : 'not_supported',
      path: `${path}.listener_filters`,
      message: proxies.length === 0 ? `a UDP listener needs the ${UDP_PROXY} listener filter` : `not supported yet: more than one ${UDP_PROXY} on a listener`,
    });
    return null;
  }
  const ppath = `${path}.listener_filters[${proxies[0]!.i}].typed_config`;
  const proxy = compileUdpProxy(obj(proxies[0]!.f['typed_config']), ppath, clusterNames, problems, warnings);
  if (proxy === null) return null;
  const socketConfig = obj(obj(l['udp_listener_config'])['downstream_socket_config']);
  return {
    name,
    address,
    port,
    family: address.includes(':') ? 6 : 4,
    statAddress,
    bindKey: `udp:${address}:${port}`,
    downstreamMaxRxDatagramSize: num(socketConfig['max_rx_datagram_size'], DEFAULT_MAX_RX_DATAGRAM_SIZE),
    proxy,
    slots: null,
  };
}

function compileUdpProxy(
  t: Obj,
  path: string,
  clusterNames: ReadonlySet<string>,
  problems: UdpConfigProblem[],
  warnings: { path: string; message: string }[],
): UdpProxyConfig | null {
  const statPrefix = str(t['stat_prefix'], '');
  if (statPrefix === '') problems.push({ code: 'missing_field', path: `${path}.stat_prefix`, message: 'stat_prefix is required' });
  let cluster = '';
  let clusterPath = `${path}.cluster`;
  if (typeof t['cluster'] === 'string') {
    cluster = t['cluster'];
  } else if (t['matcher'] !== undefined) {
    // A matcher whose only action is on_no_match routes every session to one cluster; matcher_list (per-source
    // routing) is not supported yet.
    const m = obj(t['matcher']);
    if (m['matcher_list'] !== undefined || m['matcher_tree'] !== undefined) {
      problems.push({ code: 'not_supported', path: `${path}.matcher.${m['matcher_list'] !== undefined ? 'matcher_list' : 'matcher_tree'}`, message: 'not supported yet: a udp_proxy matcher with matchers (only on_no_match naming a cluster)' });
      return null;
    }
    const action = obj(obj(m['on_no_match'])['action']);
    const tc = obj(action['typed_config']);
    clusterPath = `${path}.matcher.on_no_match.action.typed_config.cluster`;
    if (tc['@type'] !== UDP_ROUTE_TYPE) {
      problems.push({ code: 'not_supported', path: `${path}.matcher.on_no_match`, message: 'not supported yet: a udp_proxy matcher whose on_no_match is not an action of type envoy.extensions.filters.udp.udp_proxy.v3.Route' });
      return null;
    }
    cluster = str(tc['cluster'], '');
  }
  if (cluster === '') {
    problems.push({ code: 'missing_field', path: `${path}.cluster`, message: 'udp_proxy needs cluster or a matcher naming one' });
    return null;
  }
  if (!clusterNames.has(cluster)) {
    warnings.push({ path: clusterPath, message: `udp_proxy names cluster '${cluster}', which is not defined in static_resources.clusters: its datagrams will be dropped (downstream_sess_no_route)` });
  }
  let hashPolicy: UdpHashPolicy | null = null;
  const policies = list(t['hash_policies']);
  if (policies.length > 1) problems.push({ code: 'bad_value', path: `${path}.hash_policies`, message: 'udp_proxy hash_policies takes at most one entry' });
  if (policies.length > 0) {
    const p = obj(policies[0]);
    if (p['source_ip'] === true) hashPolicy = { kind: 'source_ip' };
    else if (typeof p['key'] === 'string' && p['key'] !== '') hashPolicy = { kind: 'key', key: p['key'] };
    else problems.push({ code: 'missing_field', path: `${path}.hash_policies[0]`, message: 'a hash policy needs source_ip: true or a key' });
  }
  return {
    statPrefix,
    cluster,
    idleTimeoutMs: num(t['idle_timeout'], DEFAULT_IDLE_TIMEOUT_MS),
    hashPolicy,
    upstreamMaxRxDatagramSize: num(obj(t['upstream_socket_config'])['max_rx_datagram_size'], DEFAULT_MAX_RX_DATAGRAM_SIZE),
    perPacketLoadBalancing: t['use_per_packet_load_balancing'] === true,
    slots: null,
    clusterSlots: null,
  };
}
