// Worker thread. What a worker tells the primary's active health checker: an upstream response carrying
// x-envoy-immediate-health-check-fail fails its host at once (Envoy's passive failure); the primary decides and
// sends the new host set to every worker. Only clusters with health_checks look at the header.

import type { HeaderList } from '../../src/http/stream-info.ts';
import { hasHeader } from '../../src/http/header-list.ts';
import type { WorkerToPrimary } from '../../src/messages/thread-messages.ts';
import type { UpstreamHost } from './upstream-host.ts';

let sink: ((m: WorkerToPrimary) => void) | null = null;

/** Set once by the worker's entry (workers/worker-main.ts). */
export function setHealthReportSink(send: (m: WorkerToPrimary) => void): void {
  sink = send;
}

/** Called with each final upstream response head of a cluster with active health checks. */
export function checkImmediateHealthCheckFail(cluster: string, host: UpstreamHost, headers: HeaderList): void {
  if (sink === null || !hasHeader(headers, 'x-envoy-immediate-health-check-fail')) return;
  sink({ type: 'host_health_fail', cluster, address: host.address, port: host.port });
}
