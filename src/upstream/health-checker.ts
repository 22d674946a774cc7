// Primary thread. Active health checking of one cluster, once per host for the whole process (never per worker):
// a session per host runs Envoy's state machine (thresholds, first-check shortcut, intervals by health and
// traffic, jitter, timeouts), counts cluster.<name>.health_check.*, writes the event log, and on every verdict
// change hands a new host set (each host's `healthy`, `degraded` and `healthFlags`) to the primary, which
// broadcasts it to every worker. Workers only read the verdict (workers/upstream/worker-cluster.ts).

import type { CompiledCluster } from './cluster-config.ts';
import type { CompiledHealthCheck } from './health-check-config.ts';
import type { HostDescription, HostSet } from './cluster-membership.ts';
import { nextHostSetVersion } from './cluster-membership.ts';
import { HealthCheckEventLog, type HealthCheckFailureType } from './health-check-event-log.ts';
import { createProber, type ProbeResult, type Prober } from './health-check-probes.ts';
import type { WorkerStatsStore } from '../stats/definitions.ts';
import type { ClusterSlots } from '../snapshot/snapshot-types.ts';
import { ClientTlsContext } from '../tls/client-tls-context.ts';
import type { TlsSpec, UpstreamTlsSpec } from '../tls/tls-spec.ts';
import { compileStringMatcher, type StringMatcher } from '../router/string-matcher.ts';

/** Envoy's HealthTransition. */
const UNCHANGED = 0;
const CHANGED = 1;
const CHANGE_PENDING = 2;
type HealthTransition = typeof UNCHANGED | typeof CHANGED | typeof CHANGE_PENDING;

export interface HealthCheckerDeps {
  store: WorkerStatsStore;
  slots: ClusterSlots;
  /** True once the cluster has ever opened an upstream connection (Envoy: upstream_cx_total used). */
  hasTraffic: () => boolean;
  /** A new host set for the workers (every verdict change after the first round). */
  emit: (set: HostSet) => void;
  random: () => number;
}

class HostSession {
  readonly checker: ClusterHealthChecker;
  readonly address: string;
  readonly port: number;
  description: HostDescription;
  failedActiveHc: boolean;
  pendingActiveHc: boolean;
  degradedActiveHc: boolean;
  firstCheck: boolean;
  /** Gone from service discovery but kept while it passes its checks (ignore_health_on_host_removal false). */
  pendingRemoval: boolean;
  numHealthy: number;
  numUnhealthy: number;
  private readonly prober: Prober;
  private intervalTimer: NodeJS.Timeout | null;
  private timeoutTimer: NodeJS.Timeout | null;
  private stopped: boolean;

  constructor(checker: ClusterHealthChecker, d: HostDescription) {
    this.checker = checker;
    this.address = d.address;
    this.port = d.port;
    this.description = d;
    // Envoy: a host under active health checking starts failed and pending until its first check.
    this.failedActiveHc = true;
    this.pendingActiveHc = true;
    this.degradedActiveHc = false;
    this.firstCheck = true;
    this.pendingRemoval = false;
    this.numHealthy = 0;
    this.numUnhealthy = 0;
    const check = checker.check;
    const port = d.healthCheckPort !== undefined && d.healthCheckPort > 0 ? d.healthCheckPort : d.port;
    const authority = check.grpc !== null
      ? (check.grpc.authority !== '' ? check.grpc.authority : checker.defaultAuthority(d))
      : check.http !== null && check.http.host !== '' ? check.http.host : checker.defaultAuthority(d);
    this.prober = createProber(check, {
      address: d.address, port, authority, tls: checker.tls, serviceMatcher: checker.serviceMatcher, onVerifyCluster: checker.countVerifyCluster,
    });
    this.intervalTimer = null;
    this.timeoutTimer = null;
    this.stopped = false;
  }

  start(): void {
    const jitter = this.checker.check.initialJitterMs;
    if (jitter > 0) this.schedule(Math.floor(this.checker.random() * jitter));
    else this.runCheck();
  }

  stop(): void {
    this.stopped = true;
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    if (this.timeoutTimer !== null) clearTimeout(this.timeoutTimer);
    this.intervalTimer = null;
    this.timeoutTimer = null;
    this.prober.close();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.intervalTimer = setTimeout(onIntervalTimer, ms, this);
    this.intervalTimer.unref();
  }

  /** @internal Timer entry. */
  runCheck(): void {
    this.intervalTimer = null;
    if (this.stopped) return;
    this.checker.count('health_check.attempt');
    this.timeoutTimer = setTimeout(onTimeoutTimer, this.checker.check.timeoutMs, this);
    this.timeoutTimer.unref();
    this.prober.run((result) => this.onResult(result));
  }

  /** @internal Timer entry. */
  onTimeout(): void {
    this.timeoutTimer = null;
    if (this.stopped) return;
    this.prober.abort();
    this.handleFailure('NETWORK_TIMEOUT', true);
  }

  private onResult(result: ProbeResult): void {
    if (this.stopped) return;
    if (this.timeoutTimer !== null) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = null;
    switch (result) {
      case 'success':
        this.handleSuccess(false);
        break;
      case 'degraded':
        this.handleSuccess(true);
        break;
      case 'failed':
        this.handleFailure('ACTIVE', false);
        break;
      case 'retriable':
        this.handleFailure('ACTIVE', true);
        break;
      case 'network':
        this.handleFailure('NETWORK', true);
        break;
    }
  }

  private handleSuccess(degraded: boolean): void {
    this.numUnhealthy = 0;
    let changed: HealthTransition = UNCHANGED;
    const log = this.checker.eventLog;
    if (this.failedActiveHc) {
      // As Envoy: the very first result moves a host to healthy at once (faster start-up).
      if (this.firstCheck || ++this.numHealthy === this.checker.check.healthyThreshold) {
        this.failedActiveHc = false;
        this.checker.adjustGauge('health_check.healthy', 1);
        changed = CHANGED;
        log?.addHealthy(this.address, this.port, this.firstCheck);
      } else {
        changed = CHANGE_PENDING;
      }
    }
    if (degraded !== this.degradedActiveHc) {
      this.degradedActiveHc = degraded;
      this.checker.adjustGauge('health_check.degraded', degraded ? 1 : -1);
      if (degraded) log?.degraded(this.address, this.port);
      else log?.noLongerDegraded(this.address, this.port);
      changed = CHANGED;
    }
    changed = this.clearPending(changed);
    this.checker.count('health_check.success');
    if (this.checker.check.alwaysLogHealthCheckSuccess) log?.success(this.address, this.port);
    this.firstCheck = false;
    this.checker.onSessionResult(this, changed);
    this.schedule(this.checker.interval(true, changed));
  }

  /** Envoy's setUnhealthy: ACTIVE or PASSIVE non-retriable failures mark the host at once, others count to the threshold. */
  setUnhealthy(type: HealthCheckFailureType, retriable: boolean): HealthTransition {
    this.numHealthy = 0;
    let changed: HealthTransition = UNCHANGED;
    const log = this.checker.eventLog;
    if (!this.failedActiveHc) {
      const immediate = !retriable && (type === 'ACTIVE' || type === 'PASSIVE');
      if (immediate || ++this.numUnhealthy >= this.checker.check.unhealthyThreshold) {
        this.failedActiveHc = true;
        this.checker.adjustGauge('health_check.healthy', -1);
        changed = CHANGED;
        log?.ejectUnhealthy(this.address, this.port, type);
      } else {
        changed = CHANGE_PENDING;
      }
    }
    changed = this.clearPending(changed);
    if (this.firstCheck || this.checker.check.alwaysLogHealthCheckFailures) log?.failure(this.address, this.port, type, this.firstCheck);
    this.checker.count('health_check.failure');
    if (type === 'NETWORK' || type === 'NETWORK_TIMEOUT') this.checker.count('health_check.network_failure');
    else if (type === 'PASSIVE') this.checker.count('health_check.passive_failure');
    this.firstCheck = false;
    this.checker.onSessionResult(this, changed);
    return changed;
  }

  private handleFailure(type: HealthCheckFailureType, retriable: boolean): void {
    const changed = this.setUnhealthy(type, retriable);
    this.schedule(this.checker.interval(false, changed));
  }

  private clearPending(changed: HealthTransition): HealthTransition {
    if (!this.pendingActiveHc) return changed;
    this.pendingActiveHc = false;
    return CHANGED;
  }

}

function onIntervalTimer(session: HostSession): void {
  session.runCheck();
}
function onTimeoutTimer(session: HostSession): void {
  session.onTimeout();
}

export class ClusterHealthChecker {
  cluster: CompiledCluster;
  readonly check: CompiledHealthCheck;
  readonly eventLog: HealthCheckEventLog | null;
  readonly random: () => number;
  /** The cluster's upstream TLS, built once on the primary for the checks (null = plaintext). */
  tls: ClientTlsContext | null;
  /** http_health_check.service_name_matcher, compiled once (validated when the config was compiled). */
  readonly serviceMatcher: StringMatcher | null;
  private readonly deps: HealthCheckerDeps;
  private readonly sessions = new Map<string, HostSession>();
  /** The last host set from membership (EDS health), or null before one arrived. */
  private base: HostSet | null;
  /** Until every host had its first result, no set is emitted (Envoy's cluster warming waits for the first round). */
  private warmed: boolean;
  private warmWaiters: (() => void)[];
  private current: HostSet | null;
  private stopped: boolean;

  constructor(cluster: CompiledCluster, deps: HealthCheckerDeps) {
    this.cluster = cluster;
    this.check = cluster.healthChecks[0]!;
    this.deps = deps;
    this.random = deps.random;
    this.tls = cluster.transportSocket === null ? null : new ClientTlsContext(cluster.transportSocket);
    const rawMatcher = this.check.http?.serviceNameMatcher ?? null;
    this.serviceMatcher = rawMatcher === null ? null : compileStringMatcher(rawMatcher, 'service_name_matcher', []);
    const logPaths = this.check.eventLogPath !== '' ? [this.check.eventLogPath, ...this.check.eventSinkPaths] : this.check.eventSinkPaths;
    this.eventLog = logPaths.length > 0 ? new HealthCheckEventLog(logPaths, this.check.kind, cluster.name) : null;
    this.base = null;
    this.warmed = false;
    this.warmWaiters = [];
    this.current = null;
    this.stopped = false;
  }

  defaultAuthority(d: HostDescription): string {
    // Envoy: the endpoint's health_check_config.hostname, else the cluster's name.
    return d.healthCheckHostname !== undefined && d.healthCheckHostname !== '' ? d.healthCheckHostname : this.cluster.name;
  }

  /**
   * The same health check under a changed cluster config (endpoints, other settings): sessions of hosts that remain
   * keep their state, as Envoy keeps a host's health across EDS updates.
   */
  updateCluster(cluster: CompiledCluster, slots: ClusterSlots): void {
    // New sessions use the new TLS settings; running ones keep the context they were made with.
    if (JSON.stringify(cluster.transportSocket) !== JSON.stringify(this.cluster.transportSocket)) {
      this.tls = cluster.transportSocket === null ? null : new ClientTlsContext(cluster.transportSocket);
    }
    this.cluster = cluster;
    this.deps.slots = slots;
  }

  /** Certificate rotation: the cluster's TLS context takes the re-read spec of the same id (new connections use it). */
  onTlsUpdate(spec: TlsSpec): void {
    const current = this.tls;
    if (current !== null && current.currentSpec.id === spec.id) current.update(spec as UpstreamTlsSpec);
  }

  /** The host set to show and send, or null while the first round runs. */
  get hostSet(): HostSet | null {
    return this.current;
  }

  /** Resolves once the first round is done (every host checked once), or at once when it is. */
  whenWarmed(): Promise<void> {
    if (this.warmed || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.warmWaiters.push(resolve));
  }

  /** A new host list from membership: sessions start for new hosts and stop for removed ones. */
  setBase(set: HostSet): void {
    if (this.stopped) return;
    this.base = set;
    const wasWarmed = this.warmed;
    const keep = new Set<string>();
    const added: HostSession[] = [];
    for (const d of set.hosts) {
      const key = `${d.address}|${d.port}`;
      keep.add(key);
      const existing = this.sessions.get(key);
      if (existing !== undefined) {
        const p = existing.description;
        if (p.healthCheckPort === d.healthCheckPort && p.healthCheckHostname === d.healthCheckHostname && d.healthCheckDisabled !== true) {
          existing.description = d;
          existing.pendingRemoval = false;
          continue;
        }
        // Checked elsewhere now (health_check_config changed): a fresh session.
        this.removeSession(key, existing);
      }
      if (d.healthCheckDisabled === true) continue;
      const session = new HostSession(this, d);
      this.sessions.set(key, session);
      added.push(session);
    }
    for (const [key, session] of this.sessions) {
      if (keep.has(key)) continue;
      // Envoy: a removed host that still passes its checks stays (pending_dynamic_removal) until it fails one.
      if (!this.cluster.ignoreHealthOnHostRemoval && !session.failedActiveHc) {
        session.pendingRemoval = true;
        continue;
      }
      this.removeSession(key, session);
    }
    for (const s of added) s.start();
    // The first warm-up publishes by itself; afterwards every membership change does.
    if (wasWarmed) this.publish();
    else this.maybeWarm();
  }

  private removeSession(key: string, session: HostSession): void {
    session.stop();
    if (!session.failedActiveHc) this.adjustGauge('health_check.healthy', -1);
    if (session.degradedActiveHc) this.adjustGauge('health_check.degraded', -1);
    this.sessions.delete(key);
  }

  /** x-envoy-immediate-health-check-fail seen by a worker: the host is failed now (Envoy's passive failure). */
  passiveFailure(address: string, port: number): void {
    const session = this.sessions.get(`${address}|${port}`);
    if (session === undefined || this.stopped) return;
    session.setUnhealthy('PASSIVE', false);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.sessions.values()) s.stop();
    this.sessions.clear();
    const slots = this.cluster.healthCheckSlots;
    if (slots !== null) {
      this.deps.store.values[slots['health_check.healthy']] = 0;
      this.deps.store.values[slots['health_check.degraded']] = 0;
    }
    this.eventLog?.close();
    this.releaseWaiters();
  }

  readonly countVerifyCluster = (): void => {
    const slots = this.cluster.healthCheckSlots;
    if (slots !== null) this.deps.store.values[slots['health_check.verify_cluster']]++;
  };

  count(name: 'health_check.attempt' | 'health_check.success' | 'health_check.failure' | 'health_check.network_failure' | 'health_check.passive_failure'): void {
    const slots = this.cluster.healthCheckSlots;
    if (slots !== null) this.deps.store.values[slots[name]]++;
  }

  adjustGauge(name: 'health_check.healthy' | 'health_check.degraded', by: number): void {
    const slots = this.cluster.healthCheckSlots;
    if (slots !== null) this.deps.store.values[slots[name]] += by;
  }

  /** @internal A session finished an attempt. */
  onSessionResult(session: HostSession, changed: HealthTransition): void {
    if (this.stopped) return;
    if (session.pendingRemoval && session.failedActiveHc) {
      this.removeSession(`${session.address}|${session.port}`, session);
      this.publish();
      return;
    }
    if (!this.warmed) {
      this.maybeWarm();
      return;
    }
    if (changed === CHANGED) this.publish();
  }

  /** Envoy's HealthCheckerImplBase::interval. */
  interval(healthy: boolean, changed: HealthTransition): number {
    const c = this.check;
    let base: number;
    if (this.deps.hasTraffic()) {
      if (healthy) base = changed === CHANGE_PENDING ? c.healthyEdgeIntervalMs : c.intervalMs;
      else base = changed === CHANGE_PENDING ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    } else {
      base = healthy ? c.noTrafficHealthyIntervalMs : c.noTrafficIntervalMs;
    }
    const percentJitter = Math.floor((c.intervalJitterPercent * base) / 100);
    if (percentJitter > 0) base += Math.floor(this.random() * percentJitter);
    if (c.intervalJitterMs > 0) base += Math.floor(this.random() * c.intervalJitterMs);
    return base;
  }

  private maybeWarm(): void {
    if (this.warmed || this.base === null) return;
    for (const s of this.sessions.values()) if (s.pendingActiveHc) return;
    this.warmed = true;
    this.publish();
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.warmWaiters;
    this.warmWaiters = [];
    for (const w of waiters) w();
  }

  /** Builds the host set with active health folded in, writes the membership gauges, and emits it. */
  private publish(): void {
    const base = this.base;
    if (base === null) return;
    const hosts: HostDescription[] = [];
    let healthy = 0;
    let degraded = 0;
    for (const d of base.hosts) {
      const session = this.sessions.get(`${d.address}|${d.port}`);
      // Envoy's order (HostUtility::healthFlagsToString).
      let flags = '';
      if (session?.failedActiveHc === true) flags += '/failed_active_hc';
      if (!d.healthy) flags += '/failed_eds_health';
      if (session?.degradedActiveHc === true) flags += '/degraded_active_hc';
      if (d.healthy && d.degraded) flags += '/degraded_eds_health';
      if (session?.pendingActiveHc === true) flags += '/pending_active_hc';
      let isHealthy = d.healthy;
      let isDegraded = d.degraded;
      if (session !== undefined) {
        if (session.failedActiveHc) isHealthy = false;
        if (session.degradedActiveHc) isDegraded = true;
      }
      if (isDegraded && isHealthy) degraded++;
      else if (isHealthy) healthy++;
      hosts.push({ ...d, healthy: isHealthy, degraded: isDegraded, healthFlags: flags === '' ? 'healthy' : flags });
    }
    for (const s of this.sessions.values()) {
      if (!s.pendingRemoval) continue;
      // Still passing its checks (a failed one is removed at once).
      if (s.degradedActiveHc) degraded++;
      else healthy++;
      const flags = s.degradedActiveHc ? '/degraded_active_hc/pending_dynamic_removal' : '/pending_dynamic_removal';
      hosts.push({ ...s.description, healthy: true, degraded: s.degradedActiveHc, healthFlags: flags });
    }
    const values = this.deps.store.values;
    values[this.deps.slots.membership_total] = hosts.length;
    values[this.deps.slots.membership_healthy] = healthy;
    values[this.deps.slots.membership_degraded] = degraded;
    const set: HostSet = { cluster: base.cluster, version: nextHostSetVersion(), hosts };
    this.current = set;
    this.deps.emit(set);
  }
}
