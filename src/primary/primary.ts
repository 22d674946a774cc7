// Primary thread. Owns the configuration (bootstrap file, reloads), the cluster membership, the workers, the
// admin server and the stats aggregation. Compiles each config version once and hands every worker the same
// immutable snapshot; nothing here is on the request path.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import v8 from 'node:v8';
import { Piscina } from 'piscina';
import type { CliOptions } from '../cli/options.ts';
import { configureLogger, log, reopenLogFile, type LogSettings } from '../common/logger.ts';
import { encodeMessage, type HostStatsReport, type PrimaryToWorker, type ThreadHeapStats } from '../messages/thread-messages.ts';
import { compileStatsSettings } from '../stats/stats-config.ts';
import type { ListenerConfig, Snapshot } from '../snapshot/snapshot-types.ts';
import { runConfigPipeline, sourcesOf, type ConfigSources, type PipelineResult } from './config-pipeline.ts';
import { applicationLogFormat } from './application-log.ts';
import { WorkerSupervisor } from './worker-supervisor.ts';
import { StatsHub } from './stats-hub.ts';
import { MembershipManager } from './membership-manager.ts';
import { outlierEventLogPath } from '../upstream/outlier-event-log.ts';
import { startAdmin, type AdminHandle } from './admin-wiring.ts';
import { reloadSummary } from './reload-summary.ts';
import { ServerState } from './server-state.ts';
import { CertificateRotation } from './certificate-rotation.ts';
import { daysUntilFirstCertExpiring } from '../tls/cert-expiry.ts';
import { OverloadManager } from '../overload/overload-manager.ts';
import { overloadShared } from '../overload/overload-shared.ts';
import { createCircuitBreakerRegion, type CircuitBreakerShared } from '../upstream/circuit-breaker-shared.ts';
import { CircuitBreakerGauges } from './circuit-breaker-gauges.ts';
import { startXds, type XdsHandle } from '../xds/xds-wiring.ts';
import type { DynamicResourceSet, XdsRejection } from '../xds/resource-types.ts';
import type { ApplyOutcome } from '../xds/ads-client.ts';
import { dynamicAsBootstrap } from '../xds/merge-resources.ts';
import { endpointOnlyChange } from '../xds/endpoint-update.ts';
import { compileCluster, type CompiledCluster } from '../upstream/cluster-config.ts';


export interface CurrentConfig {
  version: number;
  snapshot: Snapshot;
  encoded: Uint8Array;
  bootstrap: Record<string, unknown>;
  loadedAtMs: number;
}

export class Primary {
  readonly options: CliOptions;
  /** The application log's settings: the command line's, then application_log_config's format at start. */
  logSettings: LogSettings;
  readonly startedAtMs = Date.now();
  readonly stats: StatsHub;
  readonly supervisor: WorkerSupervisor;
  readonly memberships: MembershipManager;
  /** Watches the current version's certificate files and rotates them in the workers. */
  readonly certificates: CertificateRotation;
  /** overload_manager: monitors, action states, the global downstream connection limit. */
  readonly overload: OverloadManager;
  /** Circuit-breaker counters shared by the workers (one slot per cluster and priority) and their gauges. */
  readonly circuitBreakers: CircuitBreakerShared;
  readonly circuitBreakerGauges: CircuitBreakerGauges;
  current: CurrentConfig | null = null;
  state: number = ServerState.PRE_INITIALIZING;
  /** /healthcheck/fail: set through setHealthCheckFailed (server.live, server.state follow). */
  healthCheckFailed = false;
  /** Per-host counts summed over workers at the last stats collection ("cluster|address:port"). */
  hostStats = new Map<string, HostStatsReport>();
  /** Set by the CLI: what /quitquitquit does (the same graceful stop as SIGTERM). */
  onQuit: () => void = () => undefined;
  private admin: AdminHandle | null = null;
  private compilePool: Piscina | null = null;
  private reloadChain: Promise<unknown> = Promise.resolve();
  private nextVersion = 1;
  private shuttingDown = false;
  private statsTimer: NodeJS.Timeout | null = null;
  /** dynamic_resources: the ADS client and the resource set last applied (src/xds); null without xDS. */
  private xds: XdsHandle | null = null;
  xdsDynamic: DynamicResourceSet | null = null;
  /**
   * Listeners configured with port_value 0, by bind key: the port the kernel gave the first worker that bound it,
   * which every other worker then binds (SO_REUSEPORT), as Envoy's workers share one socket's port.
   */
  readonly listenerPorts = new Map<string, number>();
  /** While a port_value 0 listener gets its port: the worker binding it first; the others' replays wait. */
  private portsFirstWorker: number | null = null;
  private readonly portsHeldBack = new Set<number>();

  constructor(options: CliOptions, logSettings: LogSettings) {
    this.options = options;
    this.logSettings = logSettings;
    this.stats = new StatsHub(options.concurrency, options.statsTags);
    this.stats.setListenerDrainTimeMs(options.drainTimeS * 1000);
    this.memberships = new MembershipManager(this.stats, (update) => {
      this.supervisor.broadcast({ type: 'host_set', update });
    });
    this.certificates = new CertificateRotation((m) => {
      this.supervisor.broadcast(m);
      // Active health checks of TLS clusters connect from the primary with the same certificates.
      if (m.type === 'tls_update') this.memberships.health.onTlsUpdate(m.spec);
    });
    this.circuitBreakers = createCircuitBreakerRegion(options.concurrency);
    this.circuitBreakerGauges = new CircuitBreakerGauges(this.stats.registry, this.stats.primaryStore.values, this.circuitBreakers);
    this.overload = new OverloadManager(overloadShared, this.stats.registry, this.stats.primaryStore.values, options.concurrency, (m) => this.supervisor.broadcast(m));
    this.supervisor = new WorkerSupervisor(
      {
        onWorkerDied: (index) => {
          this.stats.onWorkerDied(index);
          overloadShared.releaseWorker(index);
          this.circuitBreakers.releaseWorker(index);
        },
        replayFor: (index): PrimaryToWorker[] => {
          // A listener with port 0 is being bound by its first worker: the others get the config with its port.
          if (this.portsFirstWorker !== null && index !== this.portsFirstWorker) {
            this.portsHeldBack.add(index);
            return [];
          }
          return this.replayMessages();
        },
        onListenerPorts: (ports) => {
          for (const key in ports) if (!this.listenerPorts.has(key)) this.listenerPorts.set(key, ports[key]!);
        },
        onHostHealthFailure: (cluster, address, port) => this.memberships.health.passiveFailure(cluster, address, port),
        onOutlierResults: (cluster, results) => this.memberships.outlier.report(cluster, results),
      },
      () => this.logSettings,
      options.fileFlushIntervalMs ?? -1,
      process.env['LEGATE_TEST_HOOKS'] === '1',
    );
  }

  private sources(): ConfigSources {
    return sourcesOf(this.options);
  }

  /** What brings a fresh worker to the current state: the snapshot with every cluster's host set. */
  private replayMessages(): PrimaryToWorker[] {
    const cur = this.current;
    if (cur === null) return [];
    return [
      {
        type: 'snapshot', version: cur.version, snapshot: cur.encoded, hostSets: this.memberships.currentHostSets(),
        listenerPorts: Object.fromEntries(this.listenerPorts),
      },
      ...this.certificates.replay(),
      ...this.overload.replay(),
    ];
  }

  /** Start-up: load, compile, resolve clusters, start workers, bind listeners, serve admin. Throws on failure. */
  async start(): Promise<void> {
    let result = runConfigPipeline(this.sources(), this.nextVersion++);
    if (!result.ok) throw new StartupError(result.message);
    // dynamic_resources: the first config waits for the control plane's LDS+CDS (+RDS/EDS) or initial_fetch_timeout.
    if (result.ads !== null) {
      this.xds = startXds(result.ads, this.stats.registry, this.stats.primaryStore.values, {
        compileFirst: (set) => {
          const r = runConfigPipeline(this.sources(), this.nextVersion++, set);
          if (r.ok) this.xdsDynamic = set;
          return r;
        },
        apply: (set) => this.applyDynamic(set),
      });
      // xDS files whose first set cannot start (a secret file that does not load) fail the start cleanly.
      result = await this.xds.firstResult.catch((err: Error) => {
        throw new StartupError(err.message);
      });
    }
    this.applyApplicationLogConfig(result.bootstrap);
    // stats_config/stats_sinks/stats_flush_interval: read once, as Envoy's (checked by the pipeline already).
    this.stats.configure(compileStatsSettings(result.bootstrap).settings);
    for (const w of result.warnings) log.warn(w);
    this.stats.incServerCounter('static_unknown_fields', result.staticUnknownFields);
    const cur = this.install(result);

    const adminAddress = adminSocketAddress(result.bootstrap);
    if (adminAddress !== null) {
      this.admin = await startAdmin(this, adminAddress.address, adminAddress.port, this.adminToken(), cur.snapshot.adminAccessLogs);
      log.info(`admin listening on ${adminAddress.address}:${this.admin.port}`);
      if (this.options.adminAddressPath !== undefined) {
        // Envoy's --admin-address-path: the address the admin really listens on (port 0 resolved).
        try {
          fs.writeFileSync(this.options.adminAddressPath, `${adminAddress.address}:${this.admin.port}\n`);
        } catch (err) {
          throw new StartupError(`cannot write --admin-address-path ${this.options.adminAddressPath}: ${(err as Error).message}`);
        }
      }
    }

    await this.memberships.apply(cur.snapshot.clusters, cur.snapshot.clusterSlots);
    this.state = ServerState.INITIALIZING;
    const specs = [];
    for (let i = 0; i < this.options.concurrency; i++) {
      specs.push({ index: i, statsRegion: this.stats.regionFor(i), workerSlots: this.stats.workerSlots(i), overloadRegion: overloadShared.buffer, circuitBreakerRegion: this.circuitBreakers.buffer });
    }
    // Each spawn replays the current snapshot; wait for every worker to report it applied. With a port_value 0
    // listener, worker 0 binds first and the others' replays (with its port) wait until it has.
    if (this.hasUnboundPortZero(cur.snapshot)) this.portsFirstWorker = 0;
    this.supervisor.drainTimeMs = this.options.drainTimeS * 1000;
    this.supervisor.start(specs);
    this.certificates.start(cur.snapshot);
    const problems: string[] = [];
    if (this.portsFirstWorker !== null) {
      problems.push(...await this.supervisor.waitForVersion(cur.version, [this.portsFirstWorker]));
      this.releaseHeldBackReplays();
    }
    problems.push(...await this.supervisor.waitForVersion(cur.version));
    if (problems.length > 0) throw new StartupError(problems.join('\n'));
    this.state = ServerState.LIVE;
    this.stats.setServerGauge('live', this.healthCheckFailed ? 0 : 1);
    this.stats.setServerGauge('concurrency', this.options.concurrency);
    this.statsTimer = setInterval(() => {
      try {
        this.refreshServerStats();
      } catch (err) {
        log.error(`server stats refresh failed: ${(err as Error).message}`);
      }
    }, 1000);
    this.statsTimer.unref();
    this.refreshServerStats();
    // Every stats_flush_interval: histogram intervals, memory gauges, stats_sinks (src/stats/stats-flusher.ts);
    // until the first, the memory gauges are the primary's own.
    this.stats.setMemory([primaryHeap()]);
    this.stats.startFlushing({
      collect: async () => {
        await this.collectStats();
        this.stats.setMemory(await this.threadHeaps());
      },
      onError: (err) => log.error(`stats flush failed: ${err.message}`),
    });
    for (const l of cur.snapshot.listeners) log.info(`listener '${l.name}' on ${l.address}:${this.listenerPort(l)}`);
    log.info(`legate started: ${this.options.concurrency} worker(s), config version ${cur.version}`);
    this.xds?.markLive();
  }

  /**
   * The bootstrap's application_log_config, read at start-up as Envoy reads its bootstrap once: its format
   * replaces the default for the primary and every worker. Conflicts with --log-format fail the start.
   */
  private applyApplicationLogConfig(bootstrap: Record<string, unknown>): void {
    const r = applicationLogFormat(bootstrap, this.options.logFormat !== undefined);
    if (!r.ok) throw new StartupError(r.message);
    if (r.spec === null) return;
    this.logSettings = { ...this.logSettings, format: r.spec };
    configureLogger(this.logSettings);
  }

  /** SIGUSR1: this thread's log file and, in every worker, the log file and every access log file reopen. */
  reopenLogs(): void {
    reopenLogFile();
    if (this.admin !== null) this.admin.reopenLogs();
    this.supervisor.broadcast({ type: 'reopen_logs' });
  }

  /** Stat slots, encoding, membership bookkeeping for a compiled config; becomes the current config. */
  private install(result: Extract<PipelineResult, { ok: true }>): CurrentConfig {
    this.stats.assignSlots(result.snapshot);
    this.stats.onRuntimeLoaded(result.bootstrap);
    this.circuitBreakerGauges.assign(result.snapshot);
    // Outlier ejections are logged as Envoy's OutlierDetectionEvent (cluster_manager.outlier_detection.event_log_path).
    this.memberships.outlier.setEventLogPath(outlierEventLogPath(result.bootstrap));
    const cur: CurrentConfig = {
      version: result.snapshot.version,
      snapshot: result.snapshot,
      encoded: encodeMessage(result.snapshot),
      bootstrap: result.bootstrap,
      loadedAtMs: Date.now(),
    };
    this.current = cur;
    this.overload.apply(result.snapshot.overload);
    return cur;
  }

  /** SIGHUP: re-read the file, validate and compile off-thread, then apply; a bad file changes nothing. */
  reload(): Promise<boolean> {
    const run = this.reloadChain.then(() => this.reloadOnce());
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  private async reloadOnce(): Promise<boolean> {
    return (await this.compileAndApply(this.xdsDynamic ?? undefined, true)).ok;
  }

  /** xDS resources refused and not accepted since (/config_dump's error_state). */
  xdsRejections(): XdsRejection[] {
    return this.xds?.client.rejections() ?? [];
  }

  /** Compiles `dynamic` (src/xds) with the bootstrap in the pipeline and applies it as a reload does. */
  applyDynamic(dynamic: DynamicResourceSet): Promise<ApplyOutcome> {
    const run = this.reloadChain.then(() => this.applyEndpointsOnly(dynamic) ?? this.compileAndApply(dynamic, false));
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  /**
   * An xDS set that changes only endpoints of CDS clusters (src/xds/endpoint-update.ts): the clusters' host sets
   * are pushed to the workers as DNS re-resolutions are, without a snapshot compile. Null: take the full path.
   */
  private applyEndpointsOnly(dynamic: DynamicResourceSet): Promise<ApplyOutcome> | null {
    const cur = this.current;
    if (this.shuttingDown || cur === null) return null;
    const changed = endpointOnlyChange(this.xdsDynamic, dynamic);
    if (changed === null) return null;
    const compiled = new Map<string, CompiledCluster>();
    for (const [name, c] of changed) {
      const r = compileCluster(c, `Cluster '${name}'`);
      if (r.cluster === null || r.problems.length > 0 || !cur.snapshot.clusters.some((x) => x.name === name)) return null;
      compiled.set(name, r.cluster);
    }
    return (async (): Promise<ApplyOutcome> => {
      const clusters = cur.snapshot.clusters.map((c) => compiled.get(c.name) ?? c);
      await this.memberships.apply(clusters, cur.snapshot.clusterSlots);
      this.xdsDynamic = dynamic;
      log.info(`xds update applied: endpoints of ${[...compiled.keys()].map((n) => `'${n}'`).join(', ')} pushed to the running clusters (no snapshot compile)`);
      return { ok: true, message: '' };
    })();
  }

  /** The one apply path of SIGHUP (`isReload`, counted in server.reload_*) and of xDS updates. */
  private async compileAndApply(dynamic: DynamicResourceSet | undefined, isReload: boolean): Promise<ApplyOutcome> {
    if (this.shuttingDown) return { ok: false, message: 'shutting down' };
    const version = this.nextVersion++;
    let result: PipelineResult;
    try {
      this.compilePool ??= new Piscina({
        filename: new URL('./compile-task.ts', import.meta.url).href,
        minThreads: 0,
        maxThreads: 1,
        idleTimeout: 30_000,
      });
      result = (await this.compilePool.run({ sources: this.sources(), version, dynamic })) as PipelineResult;
    } catch (err) {
      result = { ok: false, message: `config compile failed: ${(err as Error).message}`, problemCount: 1 };
    }
    if (result.ok) {
      // A listener the new version adds must be able to bind, or the whole version is refused: applied, it would
      // go live half-applied with a listener /listeners shows but nobody serves.
      const bindProblems = await checkNewListenersBind(this.current?.snapshot ?? null, result.snapshot);
      if (bindProblems.length > 0) result = { ok: false, message: bindProblems.join('\n'), problemCount: bindProblems.length };
    }
    if (!result.ok) {
      if (!isReload) return { ok: false, message: result.message };
      this.stats.incServerCounter('reload_failed');
      log.error(`reload rejected, the running config (version ${this.current?.version}) stays:\n${result.message}`);
      return { ok: false, message: result.message };
    }
    // An xDS update is summed up by the resources it changed (the bootstrap is the same).
    const xdsSummary = isReload ? null : reloadSummary(dynamicAsBootstrap(this.xdsDynamic), dynamicAsBootstrap(dynamic ?? null));
    if (!isReload) this.xdsDynamic = dynamic ?? null;
    for (const w of result.warnings) log.warn(w);
    const statsWarning = this.stats.reloadWarning(result.bootstrap);
    if (statsWarning !== null) log.warn(statsWarning);
    this.stats.incServerCounter('static_unknown_fields', result.staticUnknownFields);
    // The new version read its files afresh; rotations of the old one's must not follow its snapshot.
    this.certificates.stop();
    const summary = xdsSummary ?? reloadSummary(this.current?.bootstrap ?? {}, result.bootstrap);
    const cur = this.install(result);
    await this.memberships.apply(cur.snapshot.clusters, cur.snapshot.clusterSlots);
    const applied = this.applyToWorkers(cur);
    this.certificates.start(cur.snapshot);
    const problems = await applied;
    if (problems.length > 0) {
      if (isReload) this.stats.incServerCounter('reload_failed');
      log.error(`${isReload ? 'reload' : 'xds update'} to version ${cur.version} applied with problems:\n${problems.join('\n')}`);
      return { ok: false, message: problems.join('\n') };
    }
    if (isReload) this.stats.incServerCounter('reload_success');
    log.info(`${isReload ? 'reloaded' : 'xds update applied'}: config version ${cur.version}: ${summary}`);
    return { ok: true, message: '' };
  }

  /** The port a listener listens on: its port_value, or for port_value 0 the port its workers share (0 until bound). */
  listenerPort(l: Pick<ListenerConfig, 'port' | 'bindKey'>): number {
    return l.port !== 0 ? l.port : (this.listenerPorts.get(l.bindKey) ?? 0);
  }

  private hasUnboundPortZero(snapshot: Snapshot): boolean {
    return snapshot.listeners.some((l) => l.port === 0 && !this.listenerPorts.has(l.bindKey));
  }

  private releaseHeldBackReplays(): void {
    this.portsFirstWorker = null;
    for (const index of this.portsHeldBack) this.supervisor.sendTo(index, this.replayMessages());
    this.portsHeldBack.clear();
  }

  /**
   * A new version to every worker. When it adds a listener with port_value 0, one worker binds it first (the
   * kernel picks a port no other socket holds: no other process can share it), then the others bind that port.
   */
  private async applyToWorkers(cur: CurrentConfig): Promise<string[]> {
    const hostSets = this.memberships.currentHostSets();
    const running = this.supervisor.runningIndexes();
    const problems: string[] = [];
    if (running.length > 1 && this.hasUnboundPortZero(cur.snapshot)) {
      const first = running[0]!;
      this.portsFirstWorker = first;
      problems.push(...await this.supervisor.applySnapshot(cur.version, cur.encoded, hostSets, Object.fromEntries(this.listenerPorts), [first]));
      const rest = this.supervisor.runningIndexes().filter((i) => i !== first && !this.portsHeldBack.has(i));
      const applied = this.supervisor.applySnapshot(cur.version, cur.encoded, hostSets, Object.fromEntries(this.listenerPorts), rest);
      this.releaseHeldBackReplays();
      problems.push(...await applied, ...await this.supervisor.waitForVersion(cur.version));
    } else {
      problems.push(...await this.supervisor.applySnapshot(cur.version, cur.encoded, hostSets, Object.fromEntries(this.listenerPorts)));
    }
    // Ports of listeners this version removed are forgotten (added again, such a listener gets a new port).
    const live = new Set(cur.snapshot.listeners.map((l) => l.bindKey));
    for (const key of this.listenerPorts.keys()) if (!live.has(key)) this.listenerPorts.delete(key);
    return problems;
  }

  private refreshServerStats(): void {
    this.circuitBreakerGauges.refresh();
    // V8's own numbers need no file descriptor; the RSS is read from /proc and fails with EMFILE when the process
    // is out of descriptors: the gauge then keeps its last value (the primary must never die of fd exhaustion).
    this.stats.setServerGauge('uptime', Math.floor((Date.now() - this.startedAtMs) / 1000));
    this.stats.refreshPhysicalMemory();
    // As Envoy: a server failing health checks (/healthcheck/fail) reports DRAINING.
    this.stats.setServerGauge('state', this.state === ServerState.LIVE && this.healthCheckFailed ? ServerState.DRAINING : this.state);
    this.stats.setServerGauge('days_until_first_cert_expiring', daysUntilFirstCertExpiring(this.certificates.currentSpecs()));
  }

  /** Every thread's V8 heap numbers (server.memory_*): the primary's and each running worker's. */
  private async threadHeaps(): Promise<ThreadHeapStats[]> {
    const heaps = [primaryHeap()];
    for (const a of await this.supervisor.askWorkers({ kind: 'memory' }, 1000)) if (a.reply.kind === 'memory') heaps.push(a.reply.heap);
    return heaps;
  }

  /** Fresh stats: histogram deltas from the workers merged first, host counts summed, server gauges. */
  async collectStats(): Promise<void> {
    const replies = await this.supervisor.collectStats(500);
    const hosts = new Map<string, HostStatsReport>();
    for (const r of replies) {
      if (r.delta !== null) this.stats.mergeHistogramDelta(r.index, r.delta);
      for (const h of r.hosts) {
        const key = `${h.cluster}|${h.host}`;
        const sum = hosts.get(key);
        if (sum === undefined) {
          hosts.set(key, { ...h });
          continue;
        }
        sum.cxTotal += h.cxTotal;
        sum.cxActive += h.cxActive;
        sum.cxConnectFail += h.cxConnectFail;
        sum.rqTotal += h.rqTotal;
        sum.rqActive += h.rqActive;
        sum.rqSuccess += h.rqSuccess;
        sum.rqError += h.rqError;
        sum.rqTimeout += h.rqTimeout;
      }
    }
    this.hostStats = hosts;
    this.refreshServerStats();
  }

  /** SIGTERM/SIGINT and /quitquitquit: stop accepting, let requests finish (bounded), exit. */
  async shutdown(drainMs: number): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.state = ServerState.DRAINING;
    this.stats.setServerGauge('live', 0);
    log.info(`draining (up to ${Math.round(drainMs / 1000)} s) then exiting`);
    this.certificates.stop();
    this.overload.stop();
    this.xds?.stop();
    await this.supervisor.drainAndStop(drainMs);
    this.memberships.stopAll();
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.stats.stopFlushing();
    if (this.admin !== null) await this.admin.close();
    if (this.compilePool !== null) await this.compilePool.destroy();
  }

  /**
   * /drain_listeners: every listener, or with inboundOnly those whose traffic_direction is INBOUND (as Envoy), stops
   * accepting; graceful first drains their connections for --drain-time-s while still accepting.
   */
  drainListeners(inboundOnly: boolean, graceful: boolean, skipExit: boolean): void {
    let bindKeys: string[] | null = null;
    const cur = this.current;
    if (inboundOnly) {
      const sr = (cur?.bootstrap['static_resources'] ?? {}) as { listeners?: Record<string, unknown>[] };
      const inbound = new Set((sr.listeners ?? []).filter((l) => l['traffic_direction'] === 'INBOUND').map((l) => String(l['name'])));
      bindKeys = (cur?.snapshot.listeners ?? []).filter((l) => inbound.has(l.name)).map((l) => l.bindKey);
    }
    this.supervisor.broadcast({ type: 'drain_listeners', bindKeys, graceful, skipExit, drainTimeMs: this.options.drainTimeS * 1000 });
  }

  /** /healthcheck/fail (true) and /healthcheck/ok: /ready, server.live and server.state follow, as Envoy. */
  setHealthCheckFailed(failed: boolean): void {
    this.healthCheckFailed = failed;
    // Workers' health_check filters read it from the overload region (no message, nothing per request).
    overloadShared.setHealthCheckFailed(failed);
    if (this.state === ServerState.LIVE) this.stats.setServerGauge('live', failed ? 0 : 1);
    this.refreshServerStats();
  }

  /** --admin-token-path's token (Legate's extension), read once at start; null without the flag. */
  private adminToken(): string | null {
    const file = this.options.adminTokenPath;
    if (file === undefined) return null;
    let token: string;
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new StartupError(`cannot read --admin-token-path ${file}: ${(err as Error).message}`);
    }
    if (token === '' || /\s/.test(token)) throw new StartupError(`--admin-token-path ${file}: the token must be one word, not empty`);
    return token;
  }

  hostname(): string {
    return os.hostname();
  }
}

function primaryHeap(): ThreadHeapStats {
  const h = v8.getHeapStatistics();
  return { usedHeapSize: h.used_heap_size, totalHeapSize: h.total_heap_size, externalMemory: h.external_memory, mallocedMemory: h.malloced_memory };
}

export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * Binds, once and at once released, every address `next` listens on that `current` does not, with the options
 * the workers use (reusePort): an address another process holds fails here. Returns one line per failure.
 */
export async function checkNewListenersBind(current: Snapshot | null, next: Snapshot): Promise<string[]> {
  const bound = new Set(current?.listeners.map((l) => l.bindKey) ?? []);
  const checks = next.listeners
    .filter((l) => !bound.has(l.bindKey))
    .map((l) => new Promise<string | null>((resolve) => {
      // A client that connects in the moment this socket listens is dropped (the listener is not live yet).
      const server = net.createServer((socket) => socket.destroy());
      server.once('error', (err) => resolve(`listener '${l.name}' cannot bind ${l.address}:${l.port}: ${err.message}`));
      server.listen({ host: l.address, port: l.port, reusePort: true }, () => server.close(() => resolve(null)));
    }));
  const results = await Promise.all(checks);
  return results.filter((r): r is string => r !== null);
}

function adminSocketAddress(bootstrap: Record<string, unknown>): { address: string; port: number } | null {
  const admin = bootstrap['admin'] as Record<string, unknown> | undefined;
  const sa = (admin?.['address'] as Record<string, unknown> | undefined)?.['socket_address'] as Record<string, unknown> | undefined;
  if (sa === undefined) return null;
  return { address: String(sa['address'] ?? '127.0.0.1'), port: Number(sa['port_value'] ?? 0) };
}
