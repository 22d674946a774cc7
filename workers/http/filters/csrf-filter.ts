// Worker thread. envoy.filters.http.csrf, as Envoy's: for a mutating request (POST, PUT, DELETE, PATCH) on a route
// whose policy (the route's typed_per_filter_config, else the filter's) is enabled or in shadow mode, the source
// origin (Origin, else Referer, as host[:port]) must be the request's host or match additional_origins. Counted in
// http.<stat_prefix>.csrf.{missing_source_origin,request_invalid,request_valid}; enforced, a mismatch is a 403
// "Invalid origin" (csrf_origin_mismatch); in shadow mode it is only counted.

import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { compileCsrfPolicy, CsrfPolicy } from '../../../src/filters/csrf-config.ts';
import type { Obj } from '../../../src/router/config-values.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';

class CsrfShared {
  readonly policy: CsrfPolicy;
  readonly stats: WorkerStatsStore;
  readonly missingSlot: number;
  readonly invalidSlot: number;
  readonly validSlot: number;

  constructor(config: Obj, context: HttpFilterFactoryContext) {
    // Checked by the primary already (src/filters/csrf-config.ts); compiled here for this worker.
    this.policy = compileCsrfPolicy(config, 'csrf', []);
    this.stats = context.stats;
    const s = context.slots;
    this.missingSlot = s === null ? -1 : s['missing_source_origin']!;
    this.invalidSlot = s === null ? -1 : s['request_invalid']!;
    this.validSlot = s === null ? -1 : s['request_valid']!;
  }
}

function sample(fraction: number): boolean {
  return fraction >= 1 || (fraction > 0 && Math.random() < fraction);
}

function isModifyMethod(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'DELETE' || method === 'PATCH';
}

/**
 * host[:port] of an absolute URL (Origin, Referer), as Envoy's Url::hostAndPort; a value that is not one (e.g. "null")
 * is compared as it is.
 */
export function hostAndPort(value: string): string {
  const scheme = value.indexOf('://');
  if (scheme <= 0) return value;
  const start = scheme + 3;
  let end = value.length;
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  return end === start ? value : value.slice(start, end);
}

class CsrfFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: CsrfShared;

  constructor(cb: FilterCallbacks, shared: CsrfShared) {
    super();
    this.cb = cb;
    this.shared = shared;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    const policy = perRoute instanceof CsrfPolicy ? perRoute : this.shared.policy;
    const enabled = sample(policy.enabledFraction);
    if (!enabled && !sample(policy.shadowFraction)) return FilterHeadersStatus.Continue;
    if (!isModifyMethod(this.cb.streamInfo.method)) return FilterHeadersStatus.Continue;
    const shared = this.shared;
    const values = shared.stats.values;
    let source = getHeader(headers, 'origin');
    if (source === undefined || source === '') source = getHeader(headers, 'referer') ?? '';
    source = source === '' ? '' : hostAndPort(source);
    let valid = true;
    if (source === '') {
      valid = false;
      if (shared.missingSlot >= 0) values[shared.missingSlot]++;
    }
    if (!this.isValid(source, policy)) {
      valid = false;
      if (shared.invalidSlot >= 0) values[shared.invalidSlot]++;
    }
    if (valid) {
      if (shared.validSlot >= 0) values[shared.validSlot]++;
      return FilterHeadersStatus.Continue;
    }
    if (!enabled) return FilterHeadersStatus.Continue; // shadow mode: counted, not enforced
    this.cb.sendLocalReply(403, 'Invalid origin', null, -1, 'csrf_origin_mismatch');
    return FilterHeadersStatus.StopIteration;
  }

  private isValid(source: string, policy: CsrfPolicy): boolean {
    if (source === hostAndPort(this.cb.streamInfo.authority)) return true;
    const origins = policy.additionalOrigins;
    for (let i = 0; i < origins.length; i++) if (origins[i]!.match(source)) return true;
    return false;
  }
}

export function csrfFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new CsrfShared(config as Obj, context);
  return { createFilter: (cb) => new CsrfFilter(cb, shared) };
}
