// Worker thread. envoy.filters.http.rbac, as Envoy's: the request (its headers, path, the connection's addresses, SNI
// and mTLS peer) is checked against shadow_rules (counted in shadow_allowed/shadow_denied and recorded in dynamic
// metadata, never enforced), then against rules: allowed goes on (allowed), denied is a 403 "RBAC: access denied"
// with details rbac_access_denied_matched_policy[<policy>|none] (denied). A route's RBACPerRoute replaces both rule
// sets; one without `rbac` turns the filter off for that route. Stats http.<stat_prefix>.rbac.*.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { RbacInput, pathWithoutQuery, peerIdentityOf, rbacDenyDetails, type RbacDecider } from '../../../src/filters/rbac-policy.ts';
import { compileRbacRules, RbacPerRoute, type RbacRules } from '../../../src/filters/rbac-config.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';

const METADATA_NS = 'envoy.filters.http.rbac';
/** Envoy's shared namespace for access_log_hint (the LOG action). */
const LOG_NS = 'envoy.common';

class RbacShared {
  readonly rules: RbacRules;
  readonly stats: WorkerStatsStore;
  readonly allowedSlot: number;
  readonly deniedSlot: number;
  readonly shadowAllowedSlot: number;
  readonly shadowDeniedSlot: number;

  constructor(config: Obj, context: HttpFilterFactoryContext) {
    // Checked by the primary already (src/filters/rbac-config.ts); compiled here for this worker.
    this.rules = compileRbacRules(config, 'rbac', []);
    this.stats = context.stats;
    const s = context.slots;
    this.allowedSlot = s === null ? -1 : s['allowed']!;
    this.deniedSlot = s === null ? -1 : s['denied']!;
    this.shadowAllowedSlot = s === null ? -1 : s['shadow_allowed']!;
    this.shadowDeniedSlot = s === null ? -1 : s['shadow_denied']!;
  }
}

function count(values: Float64Array, slot: number): void {
  if (slot >= 0) values[slot]!++;
}

class RbacFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: RbacShared;

  constructor(cb: FilterCallbacks, shared: RbacShared) {
    super();
    this.cb = cb;
    this.shared = shared;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const shared = this.shared;
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    let rules: RbacRules | null = shared.rules;
    if (perRoute instanceof RbacPerRoute) rules = perRoute.rules;
    if (rules === null || (rules.rules === null && rules.shadowRules === null)) return FilterHeadersStatus.Continue;
    const input = this.inputOf(headers);
    const values = shared.stats.values;
    const shadow = rules.shadowRules;
    if (shadow !== null) {
      const ok = shadow.evaluate(input);
      count(values, ok ? shared.shadowAllowedSlot : shared.shadowDeniedSlot);
      this.recordShadow(shadow, ok, rules.shadowPrefix);
    }
    const engine = rules.rules;
    if (engine === null) return FilterHeadersStatus.Continue;
    const allowed = engine.evaluate(input);
    // LOG: Envoy's hint for access loggers, whether a policy matched.
    if (engine.logs) this.setMetadata(LOG_NS, { access_log_hint: engine.matchedPolicy !== '' });
    if (allowed) {
      count(values, shared.allowedSlot);
      return FilterHeadersStatus.Continue;
    }
    count(values, shared.deniedSlot);
    this.cb.sendLocalReply(403, 'RBAC: access denied', null, -1, rbacDenyDetails(engine.matchedPolicy));
    return FilterHeadersStatus.StopIteration;
  }

  /** Envoy's shadow metadata: <prefix>shadow_effective_policy_id (when a policy matched) and <prefix>shadow_engine_result. */
  private recordShadow(engine: RbacDecider, allowed: boolean, prefix: string): void {
    const fields: Record<string, unknown> = {};
    if (engine.matchedPolicy !== '') fields[`${prefix}shadow_effective_policy_id`] = engine.matchedPolicy;
    fields[`${prefix}shadow_engine_result`] = allowed ? 'allowed' : 'denied';
    this.setMetadata(METADATA_NS, fields);
  }

  private setMetadata(ns: string, fields: Record<string, unknown>): void {
    this.cb.setDynamicMetadata(ns, fields);
  }

  private inputOf(headers: HeaderList): RbacInput {
    const cb = this.cb;
    const info = cb.streamInfo;
    const socket = cb.downstreamSocket();
    const input = new RbacInput();
    input.headers = headers;
    input.fullPath = info.path;
    input.path = pathWithoutQuery(info.path);
    input.method = info.method;
    input.authority = info.authority;
    input.directRemoteIp = socket.remoteAddress ?? '';
    input.remoteIpSource = cb; // x-forwarded-for is read only if a rule needs the client address
    input.localIp = socket.localAddress ?? '';
    input.localPort = socket.localPort ?? 0;
    const sni = (socket as { servername?: unknown }).servername;
    input.serverName = typeof sni === 'string' ? sni : '';
    input.peer = peerIdentityOf(socket);
    return input;
  }
}

export function rbacFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new RbacShared(config as Obj, context);
  return { createFilter: (cb) => new RbacFilter(cb, shared) };
}
