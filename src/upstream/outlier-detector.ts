// Primary thread. Outlier detection of one cluster, Envoy's detector decided in one place for all workers:
// workers send per-host result batches (workers/upstream/outlier-reports.ts); consecutive 5xx / gateway failures
// eject at once, success rate and failure percentage are judged every `interval`. The host sets workers get carry
// ejected hosts as unhealthy with `/failed_outlier_check`, so every worker routes around them.

import type { CompiledOutlierDetection } from './outlier-config.ts';
import type { HostDescription, HostSet } from './cluster-membership.ts';
import { nextHostSetVersion } from './cluster-membership.ts';

/** Envoy's ejection types (stat and event names). */
export type EjectionType =
  | 'consecutive_5xx' | 'consecutive_gateway_failure' | 'success_rate' | 'failure_percentage'
  | 'consecutive_local_origin_failure' | 'local_origin_success_rate' | 'local_origin_failure_percentage';

/** What a worker observed of one host since its last batch. */
export interface HostResults {
  address: string;
  port: number;
  /** Responses in the batch, and how many were 5xx. */
  total: number;
  failed5xx: number;
  /** 5xx at the end of the batch (after the last non-5xx); equals failed5xx when every response was a 5xx. */
  trailing5xx: number;
  /** Gateway failures (502, 503, 504) at the end of the batch (after the last other response). */
  trailingGateway: number;
  /** true when every response of the batch was a gateway failure. */
  allGateway: boolean;
  /**
   * Local-origin results (split_external_local_origin_errors only): attempts that got a response or failed locally
   * (connect failure, reset, timeout), the failures, and the failures at the end of the batch.
   */
  localTotal: number;
  localFailed: number;
  trailingLocal: number;
}

/** Stat sink: counter increments by Envoy's stat suffix, and the ejections_active gauge. */
export interface OutlierStatSink {
  inc(name: string): void;
  setActive(n: number): void;
}

export interface OutlierDetectorDeps {
  now: () => number;
  random: () => number;
  stats: OutlierStatSink;
  /** A host set with the current ejections folded in. */
  emit: (set: HostSet) => void;
  /** Optional: the ejection event log (Envoy's OutlierDetectionEvent, one JSON object per call). */
  event?: (e: Record<string, unknown>) => void;
  /** false in unit tests that drive intervals themselves. */
  startTimer?: boolean;
}

class HostState {
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Counts of the current interval (success rate, failure percentage). */
  total = 0;
  failed = 0;
  consecutiveLocal = 0;
  localTotal = 0;
  localFailed = 0;
  ejected = false;
  ejectedAtMs = 0;
  ejectionMs = 0;
  /** Envoy's num_ejections: grows with each ejection, shrinks on intervals without one. */
  numEjections = 0;
  /** The last interval's success rate (percent), or -1 when not computed. */
  successRate = -1;
  localOriginSuccessRate = -1;
}

export class OutlierDetector {
  readonly cluster: string;
  private config: CompiledOutlierDetection;
  private readonly deps: OutlierDetectorDeps;
  private emit: (set: HostSet) => void;
  private readonly hosts = new Map<string, HostState>();
  private base: HostSet | null = null;
  private timer: NodeJS.Timeout | null = null;
  private active = 0;

  constructor(cluster: string, config: CompiledOutlierDetection, deps: OutlierDetectorDeps) {
    this.cluster = cluster;
    this.config = config;
    this.deps = deps;
    this.emit = deps.emit;
    if (deps.startTimer !== false) this.armTimer();
  }

  updateConfig(config: CompiledOutlierDetection): void {
    const intervalChanged = config.intervalMs !== this.config.intervalMs;
    this.config = config;
    if (intervalChanged && this.timer !== null) {
      clearInterval(this.timer);
      this.armTimer();
    }
  }

  /** Where host sets go (the membership of a restarted cluster publishes anew). */
  setEmit(emit: (set: HostSet) => void): void {
    this.emit = emit;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The host set before ejections (membership, or active health checking's). */
  setBase(set: HostSet): void {
    this.base = set;
    const keep = new Set<string>();
    for (const h of set.hosts) keep.add(`${h.address}:${h.port}`);
    for (const key of this.hosts.keys()) {
      if (keep.has(key)) continue;
      if (this.hosts.get(key)!.ejected) this.active--;
      this.hosts.delete(key);
    }
    this.deps.stats.setActive(this.active);
    this.publish(set.version);
  }

  /** Envoy's ejected flag and success rate of a host, for admin views. */
  hostInfo(address: string, port: number): { ejected: boolean; successRate: number; localOriginSuccessRate: number } | null {
    const s = this.hosts.get(`${address}:${port}`);
    return s === undefined ? null : { ejected: s.ejected, successRate: s.successRate, localOriginSuccessRate: s.localOriginSuccessRate };
  }

  /** One worker's batch for this cluster. */
  report(results: readonly HostResults[]): void {
    if (this.base === null) return;
    for (const r of results) {
      const key = `${r.address}:${r.port}`;
      if (!this.isMember(key)) continue;
      const s = this.state(key);
      s.total += r.total;
      s.failed += r.failed5xx;
      s.consecutive5xx = r.trailing5xx === r.total ? s.consecutive5xx + r.trailing5xx : r.trailing5xx;
      s.consecutiveGateway = r.allGateway ? s.consecutiveGateway + r.trailingGateway : r.trailingGateway;
      s.localTotal += r.localTotal;
      s.localFailed += r.localFailed;
      s.consecutiveLocal = r.trailingLocal === r.localTotal ? s.consecutiveLocal + r.trailingLocal : r.trailingLocal;
      if (s.ejected) continue;
      const c = this.config;
      if (c.splitExternalLocalOriginErrors && c.consecutiveLocalOriginFailure > 0 && s.consecutiveLocal >= c.consecutiveLocalOriginFailure) {
        s.consecutiveLocal = 0;
        if (this.detect(key, s, 'consecutive_local_origin_failure', c.enforcingConsecutiveLocalOriginFailure)) continue;
      }
      // Envoy checks the gateway-failure detector first: a run of 503s is both.
      if (c.consecutiveGatewayFailure > 0 && s.consecutiveGateway >= c.consecutiveGatewayFailure) {
        s.consecutiveGateway = 0;
        if (this.detect(key, s, 'consecutive_gateway_failure', c.enforcingConsecutiveGatewayFailure)) {
          s.consecutive5xx = 0;
          continue;
        }
      }
      if (c.consecutive5xx > 0 && s.consecutive5xx >= c.consecutive5xx) {
        s.consecutive5xx = 0;
        this.detect(key, s, 'consecutive_5xx', c.enforcingConsecutive5xx);
      }
    }
  }

  /** Envoy's interval timer: un-ejections, success rate and failure percentage, ejection multipliers decay. */
  runInterval(): void {
    if (this.base === null) return;
    const now = this.deps.now();
    const c = this.config;
    let changed = false;
    for (const s of this.hosts.values()) {
      if (s.ejected) {
        if (now >= s.ejectedAtMs + s.ejectionMs) {
          s.ejected = false;
          this.active--;
          s.consecutive5xx = 0;
          s.consecutiveGateway = 0;
          s.consecutiveLocal = 0;
          changed = true;
          this.deps.event?.(this.eventBase(hostKeyOf(this.hosts, s), 'UNEJECT'));
        }
      } else if (s.numEjections > 0 && now >= s.ejectedAtMs + s.ejectionMs + c.baseEjectionTimeMs) {
        // Envoy: a host that stays healthy for an interval after its ejection time has its multiplier lowered.
        s.numEjections--;
      }
    }
    if (changed) this.deps.stats.setActive(this.active);
    this.judgeSuccessRate(false);
    this.judgeFailurePercentage(false);
    if (c.splitExternalLocalOriginErrors) {
      this.judgeSuccessRate(true);
      this.judgeFailurePercentage(true);
    }
    for (const s of this.hosts.values()) {
      s.total = 0;
      s.failed = 0;
      s.localTotal = 0;
      s.localFailed = 0;
    }
    if (changed) this.publish(nextHostSetVersion());
  }

  /** Envoy's success-rate detector over external results, or local-origin ones (`local`). */
  private judgeSuccessRate(local: boolean): void {
    const c = this.config;
    const rates: { key: string; s: HostState; rate: number }[] = [];
    for (const [key, s] of this.hosts) {
      const total = local ? s.localTotal : s.total;
      const failed = local ? s.localFailed : s.failed;
      let rate = -1;
      if (total >= c.successRateRequestVolume && total > 0) {
        rate = (100 * (total - failed)) / total;
        if (!s.ejected) rates.push({ key, s, rate });
      }
      if (local) s.localOriginSuccessRate = rate;
      else s.successRate = rate;
    }
    if (rates.length < c.successRateMinimumHosts || rates.length === 0) return;
    let sum = 0;
    for (const r of rates) sum += r.rate;
    const mean = sum / rates.length;
    let variance = 0;
    for (const r of rates) variance += (r.rate - mean) ** 2;
    const stdev = Math.sqrt(variance / rates.length);
    const threshold = mean - stdev * (c.successRateStdevFactor / 1000);
    for (const r of rates) {
      if (r.rate < threshold) {
        this.detect(r.key, r.s, local ? 'local_origin_success_rate' : 'success_rate', local ? c.enforcingLocalOriginSuccessRate : c.enforcingSuccessRate, {
          host_success_rate: Math.floor(r.rate), cluster_average_success_rate: Math.floor(mean), cluster_success_rate_ejection_threshold: Math.floor(threshold),
        });
      }
    }
  }

  /** Envoy's failure-percentage detector over external results, or local-origin ones (`local`). */
  private judgeFailurePercentage(local: boolean): void {
    const c = this.config;
    const eligible: [string, HostState][] = [];
    for (const [key, s] of this.hosts) {
      const total = local ? s.localTotal : s.total;
      if (total >= c.failurePercentageRequestVolume && total > 0) eligible.push([key, s]);
    }
    if (eligible.length < c.failurePercentageMinimumHosts || eligible.length === 0) return;
    for (const [key, s] of eligible) {
      if (s.ejected) continue;
      const total = local ? s.localTotal : s.total;
      const failed = local ? s.localFailed : s.failed;
      if ((100 * failed) / total >= c.failurePercentageThreshold) {
        const type = local ? 'local_origin_failure_percentage' : 'failure_percentage';
        this.detect(key, s, type, local ? c.enforcingFailurePercentageLocalOrigin : c.enforcingFailurePercentage, { host_success_rate: Math.floor((100 * (total - failed)) / total) });
      }
    }
  }

  /** A detector fired: count it, eject when enforced and max_ejection_percent allows. True when ejected. */
  private detect(key: string, s: HostState, type: EjectionType, enforcing: number, detail: Record<string, unknown> = {}): boolean {
    const stats = this.deps.stats;
    stats.inc(`ejections_detected_${type}`);
    const enforced = enforcing > 0 && this.deps.random() * 100 < enforcing;
    if (!enforced) {
      this.deps.event?.({ ...this.eventBase(key, 'EJECT'), type: eventType(type), num_ejections: s.numEjections, enforced: false, [eventDetailName(type)]: detail });
      return false;
    }
    const total = this.base === null ? 0 : this.base.hosts.length;
    // Envoy: ejection stops once the ejected share would reach max_ejection_percent (one host always can go).
    if (total === 0 || (100 * this.active) / total >= this.config.maxEjectionPercent) {
      stats.inc('ejections_overflow');
      return false;
    }
    const c = this.config;
    s.numEjections++;
    const jitter = c.maxEjectionTimeJitterMs > 0 ? Math.floor(this.deps.random() * c.maxEjectionTimeJitterMs) : 0;
    s.ejectionMs = Math.min(c.baseEjectionTimeMs * s.numEjections, Math.max(c.maxEjectionTimeMs, c.baseEjectionTimeMs)) + jitter;
    s.ejected = true;
    s.ejectedAtMs = this.deps.now();
    this.active++;
    stats.inc('ejections_enforced_total');
    stats.inc(`ejections_enforced_${type}`);
    stats.setActive(this.active);
    this.deps.event?.({ ...this.eventBase(key, 'EJECT'), type: eventType(type), num_ejections: s.numEjections, enforced: true, [eventDetailName(type)]: detail });
    this.publish(nextHostSetVersion());
    return true;
  }

  private eventBase(key: string, action: 'EJECT' | 'UNEJECT'): Record<string, unknown> {
    const i = key.lastIndexOf(':');
    return {
      timestamp: new Date(this.deps.now()).toISOString(),
      cluster_name: this.cluster,
      upstream_url: `tcp://${key.slice(0, i)}:${key.slice(i + 1)}`,
      action,
    };
  }

  private isMember(key: string): boolean {
    if (this.hosts.has(key)) return true;
    for (const h of this.base!.hosts) if (`${h.address}:${h.port}` === key) return true;
    return false;
  }

  private state(key: string): HostState {
    let s = this.hosts.get(key);
    if (s === undefined) {
      s = new HostState();
      this.hosts.set(key, s);
    }
    return s;
  }

  private publish(version: number): void {
    const base = this.base;
    if (base === null) return;
    const hosts: HostDescription[] = base.hosts.map((h) => {
      const s = this.hosts.get(`${h.address}:${h.port}`);
      if (s === undefined || !s.ejected) return h;
      const flags = h.healthFlags === undefined ? (h.healthy ? '' : '/failed_eds_health') : h.healthFlags === 'healthy' ? '' : h.healthFlags;
      return { ...h, healthy: false, healthFlags: `${flags}/failed_outlier_check` };
    });
    this.emit({ cluster: base.cluster, version, hosts });
  }

  private armTimer(): void {
    this.timer = setInterval(() => this.runInterval(), this.config.intervalMs);
    this.timer.unref();
  }
}

function hostKeyOf(hosts: Map<string, HostState>, s: HostState): string {
  for (const [k, v] of hosts) if (v === s) return k;
  return '';
}

/** Envoy's OutlierEjectionType enum names. */
function eventType(t: EjectionType): string {
  switch (t) {
    case 'consecutive_5xx': return 'CONSECUTIVE_5XX';
    case 'consecutive_gateway_failure': return 'CONSECUTIVE_GATEWAY_FAILURE';
    case 'success_rate': return 'SUCCESS_RATE';
    case 'failure_percentage': return 'FAILURE_PERCENTAGE';
    case 'consecutive_local_origin_failure': return 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE';
    case 'local_origin_success_rate': return 'SUCCESS_RATE_LOCAL_ORIGIN';
    case 'local_origin_failure_percentage': return 'FAILURE_PERCENTAGE_LOCAL_ORIGIN';
  }
}

/** The OutlierDetectionEvent field carrying an ejection's details. */
function eventDetailName(t: EjectionType): string {
  if (t === 'success_rate' || t === 'local_origin_success_rate') return 'eject_success_rate_event';
  if (t === 'failure_percentage' || t === 'local_origin_failure_percentage') return 'eject_failure_percentage_event';
  return 'eject_consecutive_event';
}
