// Worker thread. What a worker tells the primary's outlier detectors (src/upstream/outlier-detector.ts): per host
// of a cluster with outlier_detection, the responses since the last batch (total, 5xx) and the runs of 5xx and of
// gateway failures at the end of the batch, sent every BATCH_MS. The primary decides ejections and pushes them to
// every worker in the host sets. Clusters without outlier_detection never call in here.

import type { WorkerToPrimary } from '../../src/messages/thread-messages.ts';
import type { HostResults } from '../../src/upstream/outlier-detector.ts';
import type { UpstreamHost } from './upstream-host.ts';

/** How often a worker sends its batch (only when it has something to say). */
const BATCH_MS = 50;

class Tally {
  readonly address: string;
  readonly port: number;
  total = 0;
  failed5xx = 0;
  trailing5xx = 0;
  trailingGateway = 0;
  /** false once the batch saw a response that was not a gateway failure. */
  allGateway = true;
  localTotal = 0;
  localFailed = 0;
  trailingLocal = 0;

  constructor(address: string, port: number) {
    this.address = address;
    this.port = port;
  }
}

let sink: ((m: WorkerToPrimary) => void) | null = null;
const byCluster = new Map<string, Map<UpstreamHost, Tally>>();
let timer: NodeJS.Timeout | null = null;

/** Set once by the worker's entry (workers/worker-main.ts). */
export function setOutlierReportSink(send: (m: WorkerToPrimary) => void): void {
  sink = send;
}

/** A response status of an attempt to a host of a cluster with outlier_detection. */
export function reportOutlierResult(cluster: string, host: UpstreamHost, status: number): void {
  if (sink === null) return;
  const t = tallyOf(cluster, host);
  // A response: the connection worked (a local-origin success).
  t.localTotal++;
  t.trailingLocal = 0;
  countExternal(t, status);
}

/**
 * A local-origin failure (connect failure, reset: `mapped` 503; timeout: 504). With split_external_local_origin_errors
 * it counts apart; without, as the mapped status, as Envoy does.
 */
export function reportOutlierLocalFailure(cluster: string, host: UpstreamHost, mapped: number, split: boolean): void {
  if (sink === null) return;
  const t = tallyOf(cluster, host);
  t.localTotal++;
  t.localFailed++;
  t.trailingLocal++;
  if (!split) countExternal(t, mapped);
}

function tallyOf(cluster: string, host: UpstreamHost): Tally {
  let hosts = byCluster.get(cluster);
  if (hosts === undefined) {
    hosts = new Map();
    byCluster.set(cluster, hosts);
  }
  let t = hosts.get(host);
  if (t === undefined) {
    t = new Tally(host.address, host.port);
    hosts.set(host, t);
  }
  if (timer === null) {
    timer = setTimeout(flush, BATCH_MS);
    timer.unref();
  }
  return t;
}

function countExternal(t: Tally, status: number): void {
  t.total++;
  if (status >= 500) {
    t.failed5xx++;
    t.trailing5xx++;
  } else {
    t.trailing5xx = 0;
  }
  if (status === 502 || status === 503 || status === 504) {
    t.trailingGateway++;
  } else {
    t.trailingGateway = 0;
    t.allGateway = false;
  }
}

function flush(): void {
  timer = null;
  if (sink === null) return;
  for (const [cluster, hosts] of byCluster) {
    const results: HostResults[] = [];
    for (const t of hosts.values()) {
      results.push({
        address: t.address, port: t.port, total: t.total, failed5xx: t.failed5xx, trailing5xx: t.trailing5xx,
        trailingGateway: t.trailingGateway, allGateway: t.allGateway, localTotal: t.localTotal, localFailed: t.localFailed,
        trailingLocal: t.trailingLocal,
      });
    }
    if (results.length > 0) sink({ type: 'outlier_results', cluster, results });
  }
  byCluster.clear();
}
