// Worker thread. A connection manager's http_filters for one config version: each filter's factory, built once
// from its compiled config when the version is applied; per stream, the filters the route does not disable are made
// (FilterManager), the router last. A connection manager whose only filter is the router has no HttpFilterChain.

import type { HcmConfig } from '../../../src/snapshot/snapshot-types.ts';
import type { Route } from '../../../src/router/route-table.ts';
import type { ActiveStream } from '../active-stream.ts';
import { FilterManager } from './filter-manager.ts';
import { filterCallbacksImplemented, type StreamFilter } from './http-filter.ts';
import { httpFilterFactoryBuilder, type HttpFilterFactory, type HttpFilterFactoryContext } from './filter-registry.ts';
import { RouterFilter } from '../../router/router-filter.ts';
import { asyncClientFor } from '../../upstream/async-client.ts';
import './builtin-filters.ts';

const ROUTER_NAME = 'envoy.filters.http.router';

class ChainEntry {
  readonly name: string;
  readonly disabled: boolean;
  readonly factory: HttpFilterFactory;
  /** The class of the last filter the factory made, and which callbacks it implements (filterCallbacksImplemented). */
  private lastClass: unknown;
  private lastImplemented: number;

  constructor(name: string, disabled: boolean, factory: HttpFilterFactory) {
    this.name = name;
    this.disabled = disabled;
    this.factory = factory;
    this.lastClass = null;
    this.lastImplemented = 0;
  }

  /** filterCallbacksImplemented(filter), worked out once per filter class. */
  implemented(filter: StreamFilter): number {
    const cls = filter.constructor;
    if (cls !== this.lastClass) {
      this.lastClass = cls;
      this.lastImplemented = filterCallbacksImplemented(filter);
    }
    return this.lastImplemented;
  }
}

export class HttpFilterChain {
  private readonly entries: readonly ChainEntry[];
  /** The connection's buffer limit: what filters may buffer of a request or a response. */
  private readonly bufferLimit: number;

  /** Throws when a filter has no registered factory (the compiler only emits filters Legate runs). */
  constructor(hcm: HcmConfig, bufferLimit: number, context: Pick<HttpFilterFactoryContext, 'stats' | 'clusters'>) {
    const statSlotsFor = (prefix: string): Readonly<Record<string, number>> | null => {
      for (const f of hcm.httpFilters) if (f.stats !== null && f.stats.prefix === prefix) return f.slots;
      for (const r of hcm.routeFilterStats) if (r.stats.prefix === prefix) return r.slots;
      return null;
    };
    const asyncClient = asyncClientFor(context.clusters);
    this.entries = Object.freeze(hcm.httpFilters.map((c) => {
      const builder = httpFilterFactoryBuilder(c.filter);
      if (builder === undefined) throw new Error(`http filter '${c.name}': no factory for ${c.filter}`);
      return new ChainEntry(c.name, c.disabled, builder(c.config, {
        configName: c.name, statPrefix: hcm.statPrefix, stats: context.stats, clusters: context.clusters, asyncClient, slots: c.slots, statSlotsFor,
      }));
    }));
    this.bufferLimit = bufferLimit;
  }

  /**
   * The stream's filters for `route` (its typed_per_filter_config may disable a filter, or enable one disabled by
   * default), the router last; null when only the router would run (the caller then calls it directly).
   */
  createFilterManager(stream: ActiveStream, route: Route | null): FilterManager | null {
    const entries = this.entries;
    const perRoute = route === null ? null : route.perFilterConfigs;
    let manager: FilterManager | null = null;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      let disabled = e.disabled;
      if (perRoute !== null) {
        const c = perRoute[e.name];
        if (c !== undefined) disabled = c.disabled;
      }
      if (disabled) continue;
      if (manager === null) manager = new FilterManager(stream, this.bufferLimit);
      const f = manager.add(e.name);
      const filter = e.factory.createFilter(f);
      f.filter = filter;
      f.implemented = e.implemented(filter);
    }
    if (manager === null) return null;
    manager.add(ROUTER_NAME).filter = new RouterFilter(stream);
    return manager;
  }
}
