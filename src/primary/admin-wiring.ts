// Primary thread. The AdminContext the admin server reads: the running config, server state, stats and
// cluster/host views, backed by the Primary.

import { startAdminServer } from '../admin/admin-server.ts';
import type { AdminContext, ClusterView, HostView, ListenerView, ServerStateName } from '../admin/admin-context.ts';
import type { MergedStats } from '../stats/merged-stats.ts';
import type { Primary } from './primary.ts';
import { certificatesReport, type AdminCertificates } from '../tls/cert-expiry.ts';
import { ServerState } from './server-state.ts';
import { versionString } from './version-info.ts';
import { runtimeView } from '../admin/format-runtime.ts';

export interface AdminHandle {
  port: number;
  close(): Promise<void>;
}

const STATE_NAMES: Record<number, ServerStateName> = {
  [ServerState.LIVE]: 'LIVE',
  [ServerState.DRAINING]: 'DRAINING',
  [ServerState.PRE_INITIALIZING]: 'PRE_INITIALIZING',
  [ServerState.INITIALIZING]: 'INITIALIZING',
};

/** Envoy's circuit-breaker defaults, shown by /clusters (circuit_breakers config is not supported yet). */
const DEFAULT_THRESHOLDS = Object.freeze({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });

function durationString(ms: number): string {
  return `${Math.floor(ms / 1000)}s`;
}

class PrimaryAdminContext implements AdminContext {
  private readonly primary: Primary;

  constructor(primary: Primary) {
    this.primary = primary;
  }

  async stats(): Promise<MergedStats> {
    await this.primary.collectStats();
    return this.primary.stats.snapshot();
  }

  serverState(): ServerStateName {
    return STATE_NAMES[this.primary.state] ?? 'PRE_INITIALIZING';
  }

  serverInfo(): object {
    const p = this.primary;
    const o = p.options;
    const uptime = durationString(Date.now() - p.startedAtMs);
    const format = p.logSettings.format;
    return {
      version: versionString(),
      state: this.serverState(),
      hot_restart_version: 'disabled',
      // envoy.admin.v3.CommandLineOptions, as given (hot restart options included, though they do nothing).
      command_line_options: {
        base_id: o.baseId,
        use_dynamic_base_id: o.useDynamicBaseId,
        base_id_path: o.baseIdPath ?? '',
        concurrency: o.concurrency,
        config_path: o.configPath ?? '',
        config_yaml: o.configYaml ?? '',
        allow_unknown_static_fields: o.allowUnknownStaticFields,
        reject_unknown_dynamic_fields: o.rejectUnknownDynamicFields,
        ignore_unknown_dynamic_fields: o.ignoreUnknownDynamicFields,
        admin_address_path: o.adminAddressPath ?? '',
        local_address_ip_version: o.localAddressIpVersion,
        log_level: o.logLevel === 'warn' ? 'warning' : o.logLevel,
        component_log_level: o.componentLogLevels.map(([c, l]) => `${c}:${l}`).join(','),
        log_format: format.kind === 'text' ? format.pattern : JSON.stringify(format.struct),
        log_format_escaped: o.logFormatEscaped,
        log_path: o.logPath ?? '',
        service_cluster: o.serviceCluster ?? '',
        service_node: o.serviceNode ?? '',
        service_zone: o.serviceZone ?? '',
        mode: o.mode === 'validate' ? 'Validate' : o.mode === 'init_only' ? 'InitOnly' : 'Serve',
        disable_hot_restart: o.disableHotRestart,
        restart_epoch: o.restartEpoch,
        enable_core_dump: o.enableCoreDump,
        stats_tag: o.statsTags.map(([n, v]) => `${n}:${v}`),
        file_flush_interval: o.fileFlushIntervalMs === undefined ? '0.100s' : `${o.fileFlushIntervalMs / 1000}s`,
        drain_time: `${o.drainTimeS}s`,
        drain_strategy: o.drainStrategy === 'immediate' ? 'Immediate' : 'Gradual',
        parent_shutdown_time: `${o.parentShutdownTimeS}s`,
      },
      node: (p.current?.bootstrap['node'] as object | undefined) ?? {},
      uptime_current_epoch: uptime,
      uptime_all_epochs: uptime,
      health_check_failed: p.healthCheckFailed,
    };
  }

  runtime(): object {
    return runtimeView(this.primary.current?.bootstrap ?? {});
  }

  configDump(): object {
    const cur = this.primary.current;
    if (cur === null) return { configs: [] };
    const lastUpdated = new Date(cur.loadedAtMs).toISOString();
    const sr = (cur.bootstrap['static_resources'] ?? {}) as Record<string, unknown>;
    const listeners = (sr['listeners'] ?? []) as Record<string, unknown>[];
    const clusters = (sr['clusters'] ?? []) as Record<string, unknown>[];
    return {
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: cur.bootstrap, last_updated: lastUpdated },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
          version_info: String(cur.version),
          static_clusters: clusters.map((c) => ({ cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...c }, last_updated: lastUpdated })),
        },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
          version_info: String(cur.version),
          static_listeners: listeners.map((l) => ({ listener: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...l }, last_updated: lastUpdated })),
        },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
          static_route_configs: cur.snapshot.listeners.flatMap((l) =>
            [...l.filterChains, ...(l.defaultFilterChain === null ? [] : [l.defaultFilterChain])].flatMap((c) =>
              c.filter.kind === 'http_connection_manager'
                ? [{ route_config: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...c.filter.hcm.routeConfig }, last_updated: lastUpdated }]
                : [],
            ),
          ),
        },
      ],
    };
  }

  clusters(): readonly ClusterView[] {
    const cur = this.primary.current;
    if (cur === null) return [];
    const hostSets = new Map(this.primary.memberships.currentHostSets().map((h) => [h.cluster, h]));
    const hostStats = this.primary.hostStats;
    return cur.snapshot.clusters.map((c): ClusterView => {
      const set = hostSets.get(c.name);
      const hosts: HostView[] = (set?.hosts ?? []).map((h) => {
        const counters = hostStats.get(`${c.name}|${h.address}:${h.port}`);
        return {
          address: h.address,
          port: h.port,
          hostname: h.hostname,
          counters: {
            cx_total: counters?.cxTotal ?? 0,
            cx_connect_fail: counters?.cxConnectFail ?? 0,
            rq_total: counters?.rqTotal ?? 0,
            rq_error: counters?.rqError ?? 0,
            rq_success: counters?.rqSuccess ?? 0,
            rq_timeout: counters?.rqTimeout ?? 0,
          },
          gauges: { cx_active: counters?.cxActive ?? 0, rq_active: counters?.rqActive ?? 0 },
          healthFlags: h.healthy ? 'healthy' : '/failed_eds_health',
          weight: h.weight,
          region: '',
          zone: '',
          subZone: '',
          canary: false,
          priority: h.priority,
          successRate: -1,
          localOriginSuccessRate: -1,
        };
      });
      return { name: c.name, observabilityName: c.name, addedViaApi: false, defaultPriority: DEFAULT_THRESHOLDS, highPriority: DEFAULT_THRESHOLDS, hosts };
    });
  }

  listeners(): readonly ListenerView[] {
    const cur = this.primary.current;
    if (cur === null) return [];
    return cur.snapshot.listeners.map((l) => ({ name: l.name, address: l.address, port: l.port }));
  }

  isLive(): boolean {
    return this.primary.state === ServerState.LIVE && !this.primary.healthCheckFailed;
  }

  setHealthCheckFailed(failed: boolean): void {
    this.primary.healthCheckFailed = failed;
  }

  quit(): void {
    this.primary.onQuit();
  }

  drainListeners(opts: { inboundOnly: boolean; graceful: boolean }): void {
    this.primary.drainListeners(opts.inboundOnly);
  }

  certificates(): AdminCertificates {
    return certificatesReport(this.primary.certificates.currentSpecs());
  }
}

export async function startAdmin(primary: Primary, address: string, port: number): Promise<AdminHandle> {
  const server = await startAdminServer({ address, port, context: new PrimaryAdminContext(primary) });
  return { port: server.port, close: () => server.close() };
}
