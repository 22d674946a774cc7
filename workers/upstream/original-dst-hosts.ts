// Worker thread. The hosts of an ORIGINAL_DST cluster on this worker (Envoy's original destination cluster and its
// load balancer): one UpstreamHost (with its pools) per destination ip:port, made when a request or a tcp_proxy
// connection first needs it, dropped by a timer once unused for a cleanup_interval. The destination is, in Envoy's
// order: the request's dynamic metadata at metadata_key, else the use_http_header header (first value; either must
// be an IP literal and a port, anything else counts original_dst_host_invalid and is no destination), else the downstream connection's local address when its
// listener has envoy.filters.listener.original_dst (Envoy's "local address restored"), else none (503 / close).
// upstream_port_override then replaces the port. Node cannot read SO_ORIGINAL_DST, so the "restored" address is the
// socket's local address: right for TPROXY (transparent) and direct connections, not after an iptables REDIRECT.

import net from 'node:net';
import type { OriginalDstSettings } from '../../src/upstream/original-dst-config.ts';
import type { HeaderList, StreamInfo } from '../../src/http/stream-info.ts';
import { getHeader } from '../../src/http/stream-info.ts';
import type { ListenerConfig } from '../../src/snapshot/snapshot-types.ts';
import type { ConnectionPool, PoolContext } from './connection-pool.ts';
import type { LoadBalancer } from './load-balancers.ts';
import { UpstreamHost, hostKey } from './upstream-host.ts';

export const ORIGINAL_DST_LISTENER_FILTER = 'envoy.filters.listener.original_dst';

/** The listener marks its connections' local address as their original destination. */
export function restoresOriginalDst(listener: ListenerConfig): boolean {
  return listener.listenerFilters.includes(ORIGINAL_DST_LISTENER_FILTER);
}

/**
 * "10.0.0.1:80" or "[::1]:80" -> its IP and port; null for anything else (a host name, no port, a bad port), as
 * Envoy's parseInternetAddressAndPort. An IPv4-mapped IPv6 address ("::ffff:10.0.0.1", a dual-stack socket's
 * local address) is given as IPv4.
 */
export function parseIpPort(value: string): { ip: string; port: number } | null {
  let ip: string;
  let portText: string;
  if (value.startsWith('[')) {
    const end = value.indexOf(']:');
    if (end < 0) return null;
    ip = value.slice(1, end);
    if (net.isIPv6(ip) === false) return null;
    portText = value.slice(end + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return null;
    ip = value.slice(0, colon);
    if (!net.isIPv4(ip)) return null;
    portText = value.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  if (ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7))) ip = ip.slice(7);
  return { ip, port };
}

class Entry {
  readonly host: UpstreamHost;
  /** Picked since the last sweep (Envoy's HostImpl used flag). */
  used: boolean;
  constructor(host: UpstreamHost) {
    this.host = host;
    this.used = true;
  }
}

/**
 * Also the cluster's load balancer (WorkerCluster's only priority level): pick() chooses the host of the request
 * about to start and chooseHost() hands it over once, so WorkerCluster.chooseHost() serves it unchanged.
 */
export class OriginalDstHosts implements LoadBalancer<UpstreamHost> {
  settings: OriginalDstSettings;
  private readonly context: PoolContext;
  private readonly highContext: PoolContext;
  private readonly hosts: Map<string, Entry>;
  private readonly draining: Set<ConnectionPool>;
  private picked: UpstreamHost | null;
  private timer: NodeJS.Timeout | null;
  /** Counts original_dst_host_invalid (the cluster's stat, through its current slots). */
  private readonly onInvalid: () => void;

  constructor(settings: OriginalDstSettings, context: PoolContext, highContext: PoolContext, onInvalid: () => void) {
    this.settings = settings;
    this.context = context;
    this.highContext = highContext;
    this.hosts = new Map();
    this.draining = new Set();
    this.picked = null;
    this.onInvalid = onInvalid;
    this.timer = null;
    this.startTimer();
  }

  /** New settings for the same cluster: hosts stay; the sweep follows the new cleanup_interval. */
  update(settings: OriginalDstSettings): void {
    const restart = settings.cleanupIntervalMs !== this.settings.cleanupIntervalMs;
    this.settings = settings;
    if (restart) this.startTimer();
  }

  /** The router, right before it starts the request's upstream request (whose first pick is chooseHost()). */
  pick(info: StreamInfo, headers: HeaderList | null, restored: boolean): void {
    this.picked = this.hostForStream(info, headers, restored);
  }

  chooseHost(): UpstreamHost | null {
    const host = this.picked;
    this.picked = null;
    return host;
  }

  /**
   * The destination of a request: its dynamic metadata (metadata_key), else the header (use_http_header), else the
   * restored local address, else null.
   */
  hostForStream(info: StreamInfo, headers: HeaderList | null, restored: boolean): UpstreamHost | null {
    const mk = this.settings.metadataKey;
    if (mk !== null && info.dynamicMetadata !== null) {
      let v: unknown = info.dynamicMetadata[mk.key];
      for (let i = 0; i < mk.path.length && v !== undefined; i++) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[mk.path[i]!] : undefined;
      // A list: its first element, as Envoy.
      if (Array.isArray(v)) v = v[0];
      if (typeof v === 'string') {
        const dst = parseIpPort(v);
        if (dst !== null) return this.hostFor(dst.ip, dst.port);
        this.onInvalid();
      }
    }
    const name = this.settings.httpHeaderName;
    if (name !== null) {
      const value = getHeader(headers, name);
      if (value !== undefined) {
        const dst = parseIpPort(value.trim());
        if (dst !== null) return this.hostFor(dst.ip, dst.port);
        this.onInvalid();
      }
    }
    return restored ? this.hostForAddress(info.downstreamLocalAddress) : null;
  }

  /** A connection's destination: its local address ("ip:port") when the listener restores it, else null. */
  hostForConnection(localAddress: string, restored: boolean): UpstreamHost | null {
    return restored ? this.hostForAddress(localAddress) : null;
  }

  private hostForAddress(address: string): UpstreamHost | null {
    const dst = parseIpPort(address);
    return dst === null ? null : this.hostFor(dst.ip, dst.port);
  }

  /** The host for ip:port (upstream_port_override applied), made on first use; marked used. */
  hostFor(ip: string, port: number): UpstreamHost {
    const p = this.settings.upstreamPortOverride === 0 ? port : this.settings.upstreamPortOverride;
    const key = hostKey(ip, p);
    let entry = this.hosts.get(key);
    if (entry === undefined) {
      const host = new UpstreamHost(
        { address: ip, port: p, weight: 1, priority: 0, healthy: true, degraded: false, hostname: '' },
        this.context,
        this.highContext,
      );
      entry = new Entry(host);
      this.hosts.set(key, entry);
    }
    entry.used = true;
    return entry.host;
  }

  all(): UpstreamHost[] {
    const out: UpstreamHost[] = [];
    for (const e of this.hosts.values()) out.push(e.host);
    return out;
  }

  /**
   * Every cleanup_interval, as Envoy's cleanup(): a host picked since the last sweep stays (its flag cleared), one
   * that was not, and has no request in flight, goes: its pools drain (idle connections close).
   */
  sweep(): void {
    for (const [key, e] of this.hosts) {
      if (e.used) {
        e.used = false;
        continue;
      }
      if (e.host.counters.rqActive > 0) continue;
      this.hosts.delete(key);
      this.drainHost(e.host);
    }
  }

  /** The cluster was removed: requests in flight finish, then connections close; no more sweeps. */
  drain(): void {
    this.stopTimer();
    for (const e of this.hosts.values()) this.drainHost(e.host);
    this.hosts.clear();
  }

  /** Worker shutdown: every connection closes now. */
  close(): void {
    this.stopTimer();
    for (const e of this.hosts.values()) {
      const host = e.host;
      host.pool.close();
      host.http2PoolIfAny?.close();
      for (const hp of host.highPoolsIfAny) hp.close();
    }
    for (const pool of this.draining) pool.close();
    this.draining.clear();
    this.hosts.clear();
  }

  private drainHost(host: UpstreamHost): void {
    const pool = host.pool;
    this.draining.add(pool);
    pool.onDrained = (p) => this.draining.delete(p);
    pool.drain();
    host.http2PoolIfAny?.drain();
    for (const hp of host.highPoolsIfAny) hp.drain();
  }

  private startTimer(): void {
    this.stopTimer();
    this.timer = setInterval(() => this.sweep(), this.settings.cleanupIntervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
