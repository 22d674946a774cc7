// Worker thread. envoy.filters.http.health_check, as Envoy's HealthCheckFilter: a request every `headers` matcher
// matches is a health check (StreamInfo.healthCheck). Without pass-through mode it is answered here once it ends:
// 200 (health_check_ok), or 503 with LH (health_check_failed) while the server fails health checks (admin
// /healthcheck/fail, read from the overload region the primary writes), or 503 when a cluster of
// cluster_min_healthy_percentages has too few healthy hosts. In pass-through mode it goes upstream, unless the server
// is failed (503 here) or, with cache_time, a response of the upstream's is cached (answered with its status,
// health_check_cached). While failed, every other response gets x-envoy-immediate-health-check-fail: true.
// The cache is per worker and is emptied every cache_time (Envoy: one cache shared by its workers, emptied by a
// timer on the main thread); the ticks are computed from the clock, no timer runs. Stats
// http.<stat_prefix>.health_check.* count the checks answered here.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { ResponseFlag } from '../../../src/http/response-flags.ts';
import { setHeader } from '../../../src/http/header-list.ts';
import { overloadShared } from '../../../src/overload/overload-shared.ts';
import { compileHealthCheck, type HealthCheckSettings } from '../../../src/filters/health-check-config.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import type { WorkerClusterManager } from '../../upstream/cluster-manager.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks,
} from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

/** Envoy's RcDetails of the health check filter. */
const Details = Object.freeze({
  ok: 'health_check_ok',
  failed: 'health_check_failed',
  cached: 'health_check_cached',
  noCluster: 'health_check_failed_no_cluster_found',
  clusterEmpty: 'health_check_failed_cluster_empty',
  clusterHealthy: 'health_check_ok_cluster_healthy',
  clusterUnhealthy: 'health_check_failed_cluster_unhealthy',
});

const IMMEDIATE_FAIL = 'x-envoy-immediate-health-check-fail';
const DEGRADED = 'x-envoy-degraded';
const DEGRADED_REPLY_HEADERS: HeaderList = Object.freeze([DEGRADED, '']) as unknown as HeaderList;

const STAT_NAMES = [
  'request_total', 'failed', 'ok', 'cached_response', 'failed_cluster_not_found', 'failed_cluster_empty',
  'failed_cluster_unhealthy', 'degraded',
] as const;
type StatName = (typeof STAT_NAMES)[number];

/** What every stream's filter shares: the settings, the cache (this worker's) and the stats. */
class HealthCheckShared {
  readonly settings: HealthCheckSettings;
  readonly clusters: WorkerClusterManager;
  private readonly values: Float64Array;
  private readonly slots: Readonly<Record<string, number>> | null;
  /** The cache: the tick (cache_time period since this factory was made) its response was stored in, or -1. */
  private cachedTick: number;
  private cachedStatus: number;
  private cachedDegraded: boolean;
  private readonly startMs: number;

  constructor(config: Obj, context: HttpFilterFactoryContext) {
    // Checked by the primary already (src/filters/health-check-config.ts); compiled here for this worker.
    this.settings = compileHealthCheck(config, 'health_check', []);
    this.clusters = context.clusters;
    this.values = context.stats.values;
    this.slots = context.slots;
    this.cachedTick = -1;
    this.cachedStatus = 200;
    this.cachedDegraded = false;
    this.startMs = performance.now();
  }

  count(name: StatName): void {
    const slots = this.slots;
    if (slots !== null) this.values[slots[name]!]++;
  }

  private tick(): number {
    return Math.floor((performance.now() - this.startMs) / this.settings.cacheTimeMs);
  }

  /** Envoy's useCachedResponse: a response was stored since the cache was last emptied. */
  useCachedResponse(): boolean {
    return this.settings.cacheTimeMs > 0 && this.cachedTick >= 0 && this.cachedTick === this.tick();
  }

  cached(): { status: number; degraded: boolean } {
    return { status: this.cachedStatus, degraded: this.cachedDegraded };
  }

  setCachedResponse(status: number, degraded: boolean): void {
    if (this.settings.cacheTimeMs <= 0) return;
    this.cachedTick = this.tick();
    this.cachedStatus = status;
    this.cachedDegraded = degraded;
  }
}

class HealthCheckFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: HealthCheckShared;
  /** The request is a health check. */
  private healthCheckRequest: boolean;
  /** This filter answers it (not passed through). */
  private handling: boolean;

  constructor(cb: FilterCallbacks, shared: HealthCheckShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.healthCheckRequest = false;
    this.handling = false;
  }

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    const settings = this.shared.settings;
    if (this.matches(settings, headers)) {
      this.healthCheckRequest = true;
      this.cb.streamInfo.healthCheck = true;
      if (!settings.passThroughMode || overloadShared.healthCheckFailed || this.shared.useCachedResponse()) this.handling = true;
    }
    if (!this.handling) return FilterHeadersStatus.Continue;
    if (endStream) this.onComplete();
    return FilterHeadersStatus.StopIteration;
  }

  override decodeData(_data: Buffer, endStream: boolean): number {
    if (!this.handling) return FilterDataStatus.Continue;
    if (endStream) this.onComplete();
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    if (!this.handling) return FilterTrailersStatus.Continue;
    this.onComplete();
    return FilterTrailersStatus.StopIteration;
  }

  override encodeHeaders(headers: HeaderList, _endStream: boolean): number {
    if (this.healthCheckRequest) {
      let degraded = false;
      for (let i = 0; i < headers.length; i += 2) if (headers[i] === DEGRADED) degraded = true;
      this.shared.setCachedResponse(this.cb.responseStatus, degraded);
    } else if (overloadShared.healthCheckFailed) {
      setHeader(headers, IMMEDIATE_FAIL, 'true');
    }
    return FilterHeadersStatus.Continue;
  }

  private matches(settings: HealthCheckSettings, headers: HeaderList): boolean {
    const matchers = settings.headers;
    const info = this.cb.streamInfo;
    for (let i = 0; i < matchers.length; i++) {
      if (!matchers[i]!.matches(headers, info.authority, info.method, info.path)) return false;
    }
    return true;
  }

  /** The health check request ended: answer it (Envoy's onComplete). */
  private onComplete(): void {
    const shared = this.shared;
    const info = this.cb.streamInfo;
    shared.count('request_total');
    let status = 200;
    let details: string = Details.ok;
    let degraded = false;
    if (overloadShared.healthCheckFailed) {
      info.responseFlags |= ResponseFlag.FailedLocalHealthCheck;
      status = 503;
      details = Details.failed;
    } else {
      if (shared.useCachedResponse()) {
        const c = shared.cached();
        status = c.status;
        degraded = c.degraded;
        details = Details.cached;
        shared.count('cached_response');
      } else if (shared.settings.clusterMinHealthy.length > 0) {
        const verdict = this.clusterVerdict();
        status = verdict === Details.clusterHealthy ? 200 : 503;
        details = verdict;
      }
      if (status < 200 || status >= 300) info.responseFlags |= ResponseFlag.FailedLocalHealthCheck;
    }
    if (status >= 200 && status < 300) shared.count('ok');
    else shared.count('failed');
    if (degraded) shared.count('degraded');
    this.cb.sendLocalReply(status, '', degraded ? DEGRADED_REPLY_HEADERS.slice() : null, -1, details);
  }

  /** cluster_min_healthy_percentages, Envoy's rules: the first cluster that fails decides. */
  private clusterVerdict(): string {
    const shared = this.shared;
    const mins = shared.settings.clusterMinHealthy;
    for (let i = 0; i < mins.length; i++) {
      const m = mins[i]!;
      const cluster = shared.clusters.get(m.cluster);
      if (cluster === undefined) {
        shared.count('failed_cluster_not_found');
        return Details.noCluster;
      }
      const hosts = cluster.allHosts();
      if (hosts.length === 0) {
        // An empty cluster is healthy enough only for a minimum of 0.
        if (m.minHealthyPercent === 0) continue;
        shared.count('failed_cluster_empty');
        return Details.clusterEmpty;
      }
      let healthy = 0;
      for (let h = 0; h < hosts.length; h++) if (hosts[h]!.healthy) healthy++;
      if (100 * healthy < hosts.length * m.minHealthyPercent) {
        shared.count('failed_cluster_unhealthy');
        return Details.clusterUnhealthy;
      }
    }
    return Details.clusterHealthy;
  }
}

export function healthCheckFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new HealthCheckShared(config as Obj, context);
  return { createFilter: (cb) => new HealthCheckFilter(cb, shared) };
}
