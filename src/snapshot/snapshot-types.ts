// Any thread (pure). The compiled configuration a worker receives: plain data, defaults applied, references
// resolved, stat slots assigned. Built once per config version by the primary (compile-snapshot.ts), encoded with
// msgpackr, and frozen by each worker, which builds its runtime objects (route tables, pools, loggers) from it.

import type { CompiledCluster } from '../upstream/cluster-config.ts';
import type { AccessLogConfig } from '../access-log/access-log-config.ts';
import type { ScopeSlots } from '../stats/definitions.ts';
import type { HTTP_CONN_MANAGER_STATS, LISTENER_STATS, CLUSTER_STATS } from '../stats/definitions.ts';

export type ListenerSlots = ScopeSlots<typeof LISTENER_STATS>;
export type HcmSlots = ScopeSlots<typeof HTTP_CONN_MANAGER_STATS>;
export type ClusterSlots = ScopeSlots<typeof CLUSTER_STATS>;

export interface Snapshot {
  version: number;
  /** Listeners, in config order. */
  listeners: ListenerConfig[];
  clusters: CompiledCluster[];
  /** Cluster name -> slots of cluster.<name>.*; filled by the primary (assign-stat-slots.ts). */
  clusterSlots: Record<string, ClusterSlots>;
}

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  /** The address as Envoy writes it in stat names: 0.0.0.0_10000. */
  statAddress: string;
  /**
   * Identity for reload diffs: listeners with the same key keep their sockets across a reload; a new key
   * binds, a key gone drains.
   */
  bindKey: string;
  perConnectionBufferLimitBytes: number;
  hcm: HcmConfig;
  accessLogs: AccessLogConfig[];
  slots: ListenerSlots | null;
}

export const CodecType = { AUTO: 0, HTTP1: 1 } as const;

export interface HcmConfig {
  statPrefix: string;
  codecType: number;
  /** Normalized envoy.config.route.v3.RouteConfiguration (the worker builds its RouteTable from it). */
  routeConfig: Record<string, unknown>;
  accessLogs: AccessLogConfig[];
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  skipXffAppend: boolean;
  via: string;
  generateRequestId: boolean;
  preserveExternalRequestId: boolean;
  alwaysSetRequestIdInResponse: boolean;
  serverName: string;
  /** OVERWRITE (default), APPEND_IF_ABSENT, PASS_THROUGH. */
  serverHeaderTransformation: string;
  /** 0 = disabled. */
  requestTimeoutMs: number;
  streamIdleTimeoutMs: number;
  idleTimeoutMs: number;
  maxRequestHeadersKb: number;
  maxHeadersCount: number;
  /** normalize_path, then merge_slashes, applied to :path before routing (and sent upstream). */
  normalizePath: boolean;
  mergeSlashes: boolean;
  /** common_http_protocol_options.headers_with_underscores_action: ALLOW, REJECT_REQUEST or DROP_HEADER. */
  headersWithUnderscoresAction: string;
  acceptHttp10: boolean;
  defaultHostForHttp10: string;
  suppressEnvoyHeaders: boolean;
  /**
   * upgrade_configs: lower-case upgrade type ("websocket") -> enabled. A route's own upgrade_configs may turn a
   * listed type on or off; a type not listed here is never allowed. CONNECT is not supported yet.
   */
  upgradeConfigs: Record<string, boolean>;
  slots: HcmSlots | null;
}
