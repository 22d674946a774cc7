// Primary thread. A health checker's event_log_path: one JSON line per event, Envoy's HealthCheckEvent
// (envoy.data.core.v3) in proto3 JSON with primitive fields printed, as Envoy's file event logger writes them.

import fs from 'node:fs';
import { log } from '../common/logger.ts';
import type { HealthCheckerKind } from './health-check-config.ts';

/** envoy.data.core.v3.HealthCheckFailureType. */
export type HealthCheckFailureType = 'ACTIVE' | 'PASSIVE' | 'NETWORK' | 'NETWORK_TIMEOUT';

export class HealthCheckEventLog {
  private readonly kind: HealthCheckerKind;
  private readonly cluster: string;
  /** event_log_path and each file event sink; a file that fails is dropped with a warning. */
  private streams: fs.WriteStream[];

  constructor(paths: readonly string[], kind: HealthCheckerKind, cluster: string) {
    this.kind = kind;
    this.cluster = cluster;
    this.streams = [];
    for (const path of paths) {
      const stream = fs.createWriteStream(path, { flags: 'a' });
      stream.on('error', (err) => {
        log.warn(`health check event log ${path}: ${err.message}`);
        this.streams = this.streams.filter((s) => s !== stream);
      });
      this.streams.push(stream);
    }
  }

  ejectUnhealthy(address: string, port: number, failureType: HealthCheckFailureType): void {
    this.write(address, port, 'eject_unhealthy_event', { failure_type: failureType });
  }

  addHealthy(address: string, port: number, firstCheck: boolean): void {
    this.write(address, port, 'add_healthy_event', { first_check: firstCheck });
  }

  failure(address: string, port: number, failureType: HealthCheckFailureType, firstCheck: boolean): void {
    this.write(address, port, 'health_check_failure_event', { failure_type: failureType, first_check: firstCheck });
  }

  success(address: string, port: number): void {
    this.write(address, port, 'successful_health_check_event', {});
  }

  degraded(address: string, port: number): void {
    this.write(address, port, 'degraded_healthy_host', {});
  }

  noLongerDegraded(address: string, port: number): void {
    this.write(address, port, 'no_longer_degraded_host', {});
  }

  close(): void {
    for (const s of this.streams) s.end();
    this.streams = [];
  }

  private write(address: string, port: number, event: string, body: object): void {
    if (this.streams.length === 0) return;
    const line = JSON.stringify({
      health_checker_type: this.kind,
      host: { socket_address: { protocol: 'TCP', address, resolver_name: '', ipv4_compat: false, port_value: port } },
      cluster_name: this.cluster,
      [event]: body,
      timestamp: new Date().toISOString(),
    });
    for (const s of this.streams) s.write(`${line}\n`);
  }
}
