// Worker thread. HTTP filter factories by Envoy extension name (envoy.filters.http.cors, ...): one small registry,
// as the load balancers' (workers/upstream/load-balancers.ts). A connection manager's runtime builds one factory
// per configured filter when a config version is applied; the factory makes one filter object per stream. The
// router is not here: it ends every chain (workers/router/router-filter.ts).

import type { FilterCallbacks, StreamFilter } from './http-filter.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';
import type { WorkerClusterManager } from '../../upstream/cluster-manager.ts';
import type { AsyncClient } from '../../upstream/async-client.ts';

/** Made once per config version and connection manager; createFilter runs per stream (no config work there). */
export interface HttpFilterFactory {
  createFilter(callbacks: FilterCallbacks): StreamFilter;
}

/** What a factory may keep from its connection manager. */
export interface HttpFilterFactoryContext {
  /** HttpFilter.name: the key of this filter's typed_per_filter_config. */
  readonly configName: string;
  /** The connection manager's stat_prefix. */
  readonly statPrefix: string;
  readonly stats: WorkerStatsStore;
  /** The filter's own stat slots by name (HttpFilterConfig.slots); null when it has none. */
  readonly slots: Readonly<Record<string, number>> | null;
  /**
   * The slots the primary gave a stat scope of this connection manager's filters (e.g. a per-route config's
   * "<stat_prefix>.http_local_rate_limit."); null when it has none. A lookup: call it once per config, not per request.
   */
  statSlotsFor(prefix: string): Readonly<Record<string, number>> | null;
  readonly clusters: WorkerClusterManager;
  /** This worker's async HTTP client (through the cluster pools), for filters that call out (ext_authz, ...). */
  readonly asyncClient: AsyncClient;
}

/** Builds a factory from the filter's compiled, frozen config (src/filters). */
export type HttpFilterFactoryBuilder = (config: unknown, context: HttpFilterFactoryContext) => HttpFilterFactory;

const builders = new Map<string, HttpFilterFactoryBuilder>();

/** Registers the filter `name` (an Envoy extension name, or a test's own). A name is registered once. */
export function registerHttpFilter(name: string, builder: HttpFilterFactoryBuilder): void {
  if (builders.has(name)) throw new Error(`http filter '${name}' is already registered`);
  builders.set(name, builder);
}

export function httpFilterFactoryBuilder(name: string): HttpFilterFactoryBuilder | undefined {
  return builders.get(name);
}
