// Worker thread. The runtime of one http_connection_manager for one config version: its frozen config plus the
// objects built from it once (route table, HTTP filter factories, access log sinks). Streams capture it at their start, so a reload
// never changes a stream in flight.

import type { HcmConfig, ListenerConfig } from '../../src/snapshot/snapshot-types.ts';
import type { Http1Limits } from '../../src/http1/types.ts';
import { buildRouteTable, type RouteTable } from '../../src/router/route-table.ts';
import { compileHeaderValueFormat } from '../../src/access-log/formatter.ts';
import type { AccessLogSink } from '../../src/access-log/sink.ts';
import type { WorkerClusterManager } from '../upstream/cluster-manager.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { withFastProperties } from '../../src/common/fast-properties.ts';
import { HttpFilterChain } from './filters/http-filter-chain.ts';
import { ROUTE_FILTER_DEPS } from '../../src/filters/route-filter-deps.ts';
import { LocalReplyRewriter } from './local-reply-rewriter.ts';
import { HttpTracer } from '../tracing/http-tracer.ts';
import { InternalAddressMatcher } from '../../src/snapshot/internal-address.ts';

export class HcmRuntime {
  readonly config: HcmConfig;
  readonly listener: ListenerConfig;
  readonly routeTable: RouteTable;
  readonly limits: Http1Limits;
  /** HCM access logs then listener access logs, as Envoy runs them. */
  readonly accessLogs: readonly AccessLogSink[];
  readonly clusters: WorkerClusterManager;
  readonly stats: WorkerStatsStore;
  /** http_filters before the router; null when the router is the only one (the stream then calls it directly). */
  readonly filterChain: HttpFilterChain | null;
  /** local_reply_config; null when not configured (local replies are then sent as made). */
  readonly localReply: LocalReplyRewriter | null;
  /** tracing (workers/tracing); null when not configured: a stream then pays one null check. */
  readonly tracer: HttpTracer | null;
  /** internal_address_config: which peers (or x-forwarded-for addresses) are internal; none when not configured. */
  readonly internalAddress: InternalAddressMatcher;
  readonly workerSlots: Readonly<Record<string, number>>;
  /** worker.<id>.downstream_rq_total / downstream_rq_active, looked up once. */
  readonly workerRqTotalSlot: number;
  readonly workerRqActiveSlot: number;

  constructor(
    listener: ListenerConfig,
    /** The connection manager of the listener's filter chain this runtime serves. */
    hcm: HcmConfig,
    clusters: WorkerClusterManager,
    stats: WorkerStatsStore,
    workerSlots: Readonly<Record<string, number>>,
    accessLogs: readonly AccessLogSink[],
  ) {
    this.listener = listener;
    // Read on every request: fast-property copies of the decoded config and its slot table.
    this.config = Object.freeze(withFastProperties({ ...hcm, slots: hcm.slots === null ? null : withFastProperties(hcm.slots) }));
    this.routeTable = buildRouteTable(this.config.routeConfig as never, { compileHeaderValue: compileHeaderValueFormat, ...ROUTE_FILTER_DEPS });
    this.limits = Object.freeze({
      maxHeadBytes: hcm.maxRequestHeadersKb * 1024,
      maxHeadersCount: hcm.maxHeadersCount,
    });
    this.accessLogs = accessLogs;
    this.clusters = clusters;
    this.stats = stats;
    this.filterChain = hcm.httpFilters.length === 0
      ? null
      : new HttpFilterChain(hcm, listener.perConnectionBufferLimitBytes, { stats, clusters });
    this.localReply = hcm.localReplyConfig === null ? null : new LocalReplyRewriter(hcm.localReplyConfig);
    this.tracer = hcm.tracing == null ? null : new HttpTracer(hcm.tracing);
    this.internalAddress = new InternalAddressMatcher(hcm.internalAddressConfig ?? null);
    this.workerSlots = workerSlots;
    this.workerRqTotalSlot = workerSlots['downstream_rq_total']!;
    this.workerRqActiveSlot = workerSlots['downstream_rq_active']!;
  }
}
