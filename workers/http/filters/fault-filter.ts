// Worker thread. envoy.filters.http.fault, as Envoy's FaultFilter: for a request the settings apply to (the route's
// HTTPFault, else the filter's; the route's cluster is upstream_cluster when set; x-envoy-downstream-service-node is
// among downstream_nodes when set; every `headers` matcher matches), a delay picked by its percentage holds the
// request on a timer (StopIteration; DI; request data is held, the client paused past the buffer limit), then an
// abort picked by its percentage answers it locally ("fault filter abort", FI, fault_filter_abort; a gRPC status
// answers HTTP 200 with grpc-status); otherwise the request goes on. A stream that ends while delayed (the client
// left) cancels the timer in onDestroy, so it never reaches the upstream. max_active_faults bounds the requests
// with a fault at once, **per worker** (Envoy's gauge is shared by its workers): past it faults_overflow is counted
// and the request is not faulted. Stats http.<stat_prefix>.fault.{delays_injected,aborts_injected,faults_overflow,
// active_faults (gauge)}.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { ResponseFlag } from '../../../src/http/response-flags.ts';
import { reportInternalError } from '../../../src/common/internal-error.ts';
import { compileFault, FaultHeaders, FaultSettings } from '../../../src/filters/fault-config.ts';
import { RouteKind } from '../../../src/router/route-table.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks,
} from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';

/** Envoy's RcDetails FaultAbort. */
const ABORT_DETAILS = 'fault_filter_abort';
const ABORT_BODY = 'fault filter abort';

/** What every stream's filter shares: the filter's settings and the stats (slots -1 without stats). */
class FaultShared {
  readonly settings: FaultSettings;
  readonly values: Float64Array;
  readonly delaysSlot: number;
  readonly abortsSlot: number;
  readonly overflowSlot: number;
  readonly activeSlot: number;
  /** Requests of this filter config with a fault in progress in this worker (max_active_faults' count). */
  activeHere: number;

  constructor(config: Obj, context: HttpFilterFactoryContext) {
    // Checked by the primary already (src/filters/fault-config.ts); compiled here for this worker.
    this.settings = compileFault(config, 'fault', []);
    const stats: WorkerStatsStore = context.stats;
    this.values = stats.values;
    const s = context.slots;
    this.delaysSlot = s === null ? -1 : s['delays_injected']!;
    this.abortsSlot = s === null ? -1 : s['aborts_injected']!;
    this.overflowSlot = s === null ? -1 : s['faults_overflow']!;
    this.activeSlot = s === null ? -1 : s['active_faults']!;
    this.activeHere = 0;
  }

  count(slot: number): void {
    if (slot >= 0) this.values[slot]++;
  }
}

class FaultFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: FaultShared;
  private settings: FaultSettings;
  private delayTimer: NodeJS.Timeout | null;
  /** This request holds one of the active faults (counted once however many faults it gets, as Envoy). */
  private faultActive: boolean;

  constructor(cb: FilterCallbacks, shared: FaultShared) {
    super();
    this.cb = cb;
    this.shared = shared;
    this.settings = shared.settings;
    this.delayTimer = null;
    this.faultActive = false;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    // The route's HTTPFault replaces the filter's (Envoy reads runtime only for the filter's; Legate reads none).
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    const settings = perRoute instanceof FaultSettings ? perRoute : this.shared.settings;
    this.settings = settings;
    if (!this.matches(settings, headers)) return FilterHeadersStatus.Continue;
    const delay = settings.delay;
    if (delay !== null && delay.percentage.sample(headers, Math.random())) {
      const ms = delay.durationMs(headers);
      if (ms > 0 && this.tryIncActiveFaults()) {
        this.delayTimer = setTimeout(onDelayExpired, ms, this);
        this.shared.count(this.shared.delaysSlot);
        this.cb.streamInfo.responseFlags |= ResponseFlag.DelayInjected;
        return FilterHeadersStatus.StopIteration;
      }
    }
    if (this.maybeAbort(headers)) return FilterHeadersStatus.StopIteration;
    return FilterHeadersStatus.Continue;
  }

  override decodeData(_data: Buffer, _endStream: boolean): number {
    // Held while delayed; past the buffer limit the client is paused rather than refused.
    return this.delayTimer === null ? FilterDataStatus.Continue : FilterDataStatus.StopIterationAndWatermark;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    return this.delayTimer === null ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration;
  }

  override onDestroy(): void {
    if (this.delayTimer !== null) {
      clearTimeout(this.delayTimer);
      this.delayTimer = null;
    }
    if (this.faultActive) {
      this.faultActive = false;
      const slot = this.shared.activeSlot;
      if (slot >= 0) this.shared.values[slot]--;
      this.shared.activeHere--;
    }
  }

  /** The delay ran out: an abort may follow, else the request goes on. */
  onDelayExpired(): void {
    this.delayTimer = null;
    if (!this.maybeAbort(this.cb.requestHeaders)) this.cb.continueDecoding();
  }

  /** upstream_cluster, downstream_nodes and headers (Envoy's order). */
  private matches(settings: FaultSettings, headers: HeaderList): boolean {
    if (settings.upstreamCluster !== '') {
      const route = this.cb.route();
      if (route === null || route.kind !== RouteKind.CLUSTER || route.clusterName !== settings.upstreamCluster) return false;
    }
    const nodes = settings.downstreamNodes;
    if (nodes !== null) {
      const node = getHeader(headers, FaultHeaders.downstreamServiceNode);
      if (node === undefined || !nodes.has(node)) return false;
    }
    const matchers = settings.headers;
    if (matchers.length > 0) {
      const info = this.cb.streamInfo;
      for (let i = 0; i < matchers.length; i++) {
        if (!matchers[i]!.matches(headers, info.authority, info.method, info.path)) return false;
      }
    }
    return true;
  }

  /** Envoy's maybeDoAbort: an abort picked by its percentage, with an HTTP status (or 200 and a gRPC status). */
  private maybeAbort(headers: HeaderList): boolean {
    const abort = this.settings.abort;
    if (abort === null || !abort.percentage.sample(headers, Math.random())) return false;
    let status = abort.httpStatusFor(headers);
    let grpcStatus = -1;
    if (status === 0) {
      // No HTTP status: a gRPC one answers HTTP 200 (with grpc-status); neither, no abort.
      grpcStatus = abort.grpcStatusFor(headers);
      if (grpcStatus < 0) return false;
      status = 200;
    }
    if (!this.tryIncActiveFaults()) return false;
    this.shared.count(this.shared.abortsSlot);
    this.cb.streamInfo.responseFlags |= ResponseFlag.FaultInjected;
    this.cb.sendLocalReply(status, ABORT_BODY, null, grpcStatus, ABORT_DETAILS);
    return true;
  }

  /** One active fault per request; false (faults_overflow) when max_active_faults are active in this worker. */
  private tryIncActiveFaults(): boolean {
    if (this.faultActive) return true;
    const shared = this.shared;
    if (shared.activeHere >= this.settings.maxActiveFaults) {
      shared.count(shared.overflowSlot);
      return false;
    }
    shared.activeHere++;
    if (shared.activeSlot >= 0) shared.values[shared.activeSlot]++;
    this.faultActive = true;
    return true;
  }
}

function onDelayExpired(filter: FaultFilter): void {
  try {
    filter.onDelayExpired();
  } catch (err) {
    // A bug past the delay (here or in a later filter's decodeHeaders): logged; the stream's idle timeout bounds it.
    reportInternalError('fault filter delay', err);
  }
}

export function faultFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new FaultShared(config as Obj, context);
  return { createFilter: (cb) => new FaultFilter(cb, shared) };
}
