// Primary thread. Starts the ADS client for a bootstrap with dynamic_resources and connects it to the primary: the
// first complete resource set is compiled inline (start-up waits for it, as Envoy's init manager does), every later
// one goes through the primary's apply path (the one a SIGHUP reload takes), once the server is live.

import type { PipelineResult } from '../primary/config-pipeline.ts';
import type { StatRegistry } from '../stats/stat-registry.ts';
import { log } from '../common/logger.ts';
import { AdsClient, type ApplyOutcome } from './ads-client.ts';
import type { AdsSettings, FileXdsSettings } from './ads-settings.ts';
import { FileXdsClient } from './file-subscription.ts';
import type { DynamicResourceSet, XdsRejection } from './resource-types.ts';
import { XdsStats } from './xds-stats.ts';

export type OkPipelineResult = Extract<PipelineResult, { ok: true }>;

export interface XdsHooks {
  /** Start-up: compiles bootstrap + `set` inline (nothing is serving yet). */
  compileFirst(set: DynamicResourceSet): PipelineResult;
  /** Live: compiles and applies bootstrap + `set` as a reload does; the outcome is the ACK or NACK. */
  apply(set: DynamicResourceSet): Promise<ApplyOutcome>;
}

/** What the primary sees of an xDS source (the ADS stream, or the xDS files). */
export interface XdsSource {
  start(): void;
  stop(): void;
  rejections(): XdsRejection[];
}

export interface XdsHandle {
  readonly client: XdsSource;
  /** The config start-up goes on with: bootstrap + the first complete set the control plane sent. */
  readonly firstResult: Promise<OkPipelineResult>;
  /** Start-up finished: later sets are applied to the running workers. */
  markLive(): void;
  stop(): void;
}

/** Legate's user agent version sent in the node (the package's). */
const USER_AGENT_VERSION = '0.1.0';

export function startXds(settings: AdsSettings | FileXdsSettings, registry: StatRegistry, values: Float64Array, hooks: XdsHooks): XdsHandle {
  let firstTaken = false;
  let resolveFirst!: (r: OkPipelineResult) => void;
  let rejectFirst!: (err: Error) => void;
  const firstResult = new Promise<OkPipelineResult>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  let markLive!: () => void;
  const live = new Promise<void>((resolve) => {
    markLive = resolve;
  });
  const apply = async (set: DynamicResourceSet): Promise<ApplyOutcome> => {
    if (!firstTaken) {
      const r = hooks.compileFirst(set);
      if (!r.ok) return { ok: false, message: r.message };
      firstTaken = true;
      resolveFirst(r);
      return { ok: true, message: '' };
    }
    await live;
    return hooks.apply(set);
  };
  const stats = new XdsStats(registry, values);
  let client: XdsSource;
  if (settings.mode === 'files') {
    client = new FileXdsClient(settings, stats, apply, (message) => rejectFirst(new Error(`the config cannot start (xDS files):\n${message}`)));
    const sds = (settings.sds ?? []).map((r) => `${r.source.path} (secret '${r.name}')`);
    log.info(`xds: from files: ${[settings.lds?.path, settings.cds?.path, ...sds].filter((p) => p !== undefined).join(', ')}`);
  } else {
    client = new AdsClient(settings, stats, apply, { userAgentVersion: USER_AGENT_VERSION });
    log.info(`xds: ${settings.delta ? 'delta' : 'state-of-the-world'} ADS to cluster '${settings.clusterName}' (${settings.target}); waiting for the first resources`);
  }
  client.start();
  return { client, firstResult, markLive, stop: () => client.stop() };
}
