// Any thread (pure). Access logger extensions by Envoy name and @type, so later loggers (gRPC, OpenTelemetry)
// register themselves beside the built-in stdout/stderr/file ones without touching the config compiler.

import type { AccessLogConfig, AccessLogProblem } from './access-log-config.ts';

export interface AccessLoggerFactory {
  /** Envoy extension name, e.g. "envoy.access_loggers.file". */
  readonly name: string;
  /** Full @type URL of its typed_config. */
  readonly typeUrl: string;
  /**
   * Validates a normalized typed_config and compiles it (primary, at config time). Pushes problems and returns
   * null when the config cannot be used.
   */
  compile(typedConfig: Record<string, unknown>, path: string, problems: AccessLogProblem[]): AccessLogConfig | null;
}

const byName = new Map<string, AccessLoggerFactory>();
const byType = new Map<string, AccessLoggerFactory>();

export function registerAccessLogger(factory: AccessLoggerFactory): void {
  byName.set(factory.name, factory);
  byType.set(factory.typeUrl, factory);
}

export function accessLoggerByName(name: string): AccessLoggerFactory | undefined {
  return byName.get(name);
}

export function accessLoggerByType(typeUrl: string): AccessLoggerFactory | undefined {
  return byType.get(typeUrl);
}
