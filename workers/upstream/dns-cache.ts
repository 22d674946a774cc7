// Worker thread. The dynamic forward proxy's DNS cache (Envoy's DnsCacheImpl), one per cache name per worker:
// request hosts ("host:port") resolved with node:dns lookup, kept while used (host_ttl), resolved again every
// dns_refresh_rate while in use, at most max_hosts of them, with a limit on requests waiting for resolutions
// (dns_cache_circuit_breaker.max_pending_requests). The filter (workers/http/filters/dynamic-forward-proxy-filter.ts)
// loads a host before the router runs; the cluster (dfp-hosts.ts) finds the address here. Stats dns_cache.<name>.*.

import dns from 'node:dns';
import type { DnsCacheSettings } from '../../src/common/dns-cache-config.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';

export const LoadDnsCacheEntryStatus = { InCache: 0, Loading: 1, Overflow: 2 } as const;

/** One host of the cache. */
export class DnsHostInfo {
  /** "host:port", lower case: the cache key. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  /** The resolved IP address; null before the first resolution, or when the last one failed. */
  address: string | null;
  /** Why there is no address (the lookup's error code), for the 503's details. */
  details: string;
  resolving: boolean;
  resolvedAt: number;
  lastUsedAt: number;
  /** Called once when the resolution in progress completes. */
  waiters: (() => void)[];

  constructor(key: string, host: string, port: number, now: number) {
    this.key = key;
    this.host = host;
    this.port = port;
    this.address = null;
    this.details = 'not_resolved';
    this.resolving = false;
    this.resolvedAt = 0;
    this.lastUsedAt = now;
    this.waiters = [];
  }
}

export interface LoadResult {
  status: number;
  info: DnsHostInfo | null;
}

/** Splits an authority into host and port (`defaultPort` when it names none); IPv6 literals keep no brackets. */
export function parseAuthority(authority: string, defaultPort: number): { host: string; port: number } {
  const a = authority.toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    const host = end < 0 ? a.slice(1) : a.slice(1, end);
    const rest = end < 0 ? '' : a.slice(end + 1);
    const port = rest.startsWith(':') ? Number(rest.slice(1)) : defaultPort;
    return { host, port: Number.isInteger(port) && port > 0 && port < 65536 ? port : defaultPort };
  }
  const colon = a.lastIndexOf(':');
  if (colon < 0 || a.indexOf(':') !== colon) return { host: a, port: defaultPort };
  const port = Number(a.slice(colon + 1));
  return { host: a.slice(0, colon), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : defaultPort };
}

export function hostKeyOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function lookupOptions(family: DnsCacheSettings['lookupFamily']): dns.LookupOneOptions {
  switch (family) {
    case 'V4_ONLY': return { family: 4 };
    case 'V6_ONLY': return { family: 6 };
    case 'V4_PREFERRED': return { family: 0, order: 'ipv4first' };
    case 'ALL': return { family: 0, order: 'verbatim' };
    default: return { family: 0, order: 'ipv6first' };
  }
}

export class DnsCache {
  settings: DnsCacheSettings;
  private stats: WorkerStatsStore | null;
  private slots: Readonly<Record<string, number>> | null;
  readonly hosts: Map<string, DnsHostInfo>;
  /** Requests waiting for a resolution (the dns_cache_circuit_breaker's count). */
  pendingRequests: number;
  private sweepTimer: NodeJS.Timeout | null;

  constructor(settings: DnsCacheSettings) {
    this.settings = settings;
    this.stats = null;
    this.slots = null;
    this.hosts = new Map();
    this.pendingRequests = 0;
    this.sweepTimer = null;
  }

  /** A new config (a reload, or another filter naming the same cache): its limits and stat slots. */
  configure(settings: DnsCacheSettings, stats: WorkerStatsStore | null, slots: Readonly<Record<string, number>> | null): void {
    this.settings = settings;
    if (slots !== null) {
      this.stats = stats;
      this.slots = slots;
    }
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    // Hosts unused for host_ttl leave; checked a few times per ttl (at most once a second).
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, Math.floor(settings.hostTtlMs / 4))));
    this.sweepTimer.unref();
  }

  /** Whether one more request may wait for a resolution (dns_cache_circuit_breaker); counts the overflow. */
  canCreateDnsRequest(): boolean {
    if (this.pendingRequests < this.settings.maxPendingRequests) return true;
    this.count('dns_rq_pending_overflow');
    return false;
  }

  /**
   * The host's entry: InCache (resolved, or failed: `info.address` null), Loading (`onDone` is called once the
   * resolution completes; the caller counts as pending until then) or Overflow (max_hosts reached).
   */
  load(host: string, port: number, onDone: () => void): LoadResult {
    const now = Date.now();
    const key = hostKeyOf(host, port);
    let info = this.hosts.get(key);
    if (info === undefined) {
      if (this.hosts.size >= this.settings.maxHosts) {
        this.count('host_overflow');
        return { status: LoadDnsCacheEntryStatus.Overflow, info: null };
      }
      info = new DnsHostInfo(key, host, port, now);
      this.hosts.set(key, info);
      this.count('host_added');
      this.setNumHosts();
      this.resolve(info);
    }
    info.lastUsedAt = now;
    if (!info.resolving && now - info.resolvedAt >= this.settings.refreshRateMs) this.resolve(info);
    // A host with an address keeps serving it while a refresh runs.
    if (!info.resolving || info.address !== null) return { status: LoadDnsCacheEntryStatus.InCache, info };
    this.pendingRequests++;
    info.waiters.push(() => {
      this.pendingRequests--;
      onDone();
    });
    return { status: LoadDnsCacheEntryStatus.Loading, info };
  }

  /** The entry for a "host:port" key, if resolved; marks it used. */
  find(key: string): DnsHostInfo | undefined {
    const info = this.hosts.get(key);
    if (info !== undefined) info.lastUsedAt = Date.now();
    return info;
  }

  close(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  private resolve(info: DnsHostInfo): void {
    info.resolving = true;
    this.count('dns_query_attempt');
    dns.lookup(info.host, lookupOptions(this.settings.lookupFamily), (err, address) => {
      info.resolving = false;
      info.resolvedAt = Date.now();
      if (err !== null) {
        this.count('dns_query_failure');
        info.address = null;
        info.details = (err.code ?? 'resolution_failed').toLowerCase();
      } else {
        this.count('dns_query_success');
        info.address = address;
        info.details = '';
      }
      const waiters = info.waiters;
      info.waiters = [];
      for (const w of waiters) w();
    });
  }

  private sweep(): void {
    const now = Date.now();
    const ttl = this.settings.hostTtlMs;
    let removed = false;
    for (const [key, info] of this.hosts) {
      if (info.resolving || now - info.lastUsedAt < ttl) continue;
      this.hosts.delete(key);
      this.count('host_removed');
      removed = true;
    }
    if (removed) this.setNumHosts();
  }

  private count(name: string): void {
    const slots = this.slots;
    if (slots === null || this.stats === null) return;
    const slot = slots[name];
    if (slot !== undefined) this.stats.values[slot]++;
  }

  private setNumHosts(): void {
    const slots = this.slots;
    if (slots === null || this.stats === null) return;
    const slot = slots['num_hosts'];
    if (slot !== undefined) this.stats.values[slot] = this.hosts.size;
  }
}

/** This worker's caches by name: the filter and the cluster naming one share it. */
const caches = new Map<string, DnsCache>();

/** The cache `settings.name` of this worker, made on first use and given the latest settings and slots. */
export function dnsCacheFor(settings: DnsCacheSettings, stats: WorkerStatsStore | null, slots: Readonly<Record<string, number>> | null): DnsCache {
  let cache = caches.get(settings.name);
  if (cache === undefined) {
    cache = new DnsCache(settings);
    caches.set(settings.name, cache);
  }
  cache.configure(settings, stats, slots);
  return cache;
}
