// Primary thread (pure). Command-line options, as Envoy spells them and with Envoy's meaning, so an Envoy systemd
// unit or Kubernetes manifest starts Legate unchanged. Flags that concern Envoy's hot restart (Legate reloads on
// SIGHUP instead) are accepted and checked, and do nothing; --help says so for each.

import os from 'node:os';
import { ArgReader } from '../common/arg-reader.ts';
import { COMPONENT_NAMES, parseLogLevel, type Level } from '../common/logger.ts';

export type Mode = 'serve' | 'validate' | 'init_only';
export type LogLevel = Level;
export type DrainStrategy = 'gradual' | 'immediate';

export interface CliOptions {
  configPath: string | undefined;
  configYaml: string | undefined;
  mode: Mode;
  /** Worker threads; Envoy's --concurrency 0 runs one. */
  concurrency: number;
  logLevel: LogLevel;
  /** --component-log-level, in the order given: [component, level]. */
  componentLogLevels: [string, LogLevel][];
  /** --log-path: the application log goes to this file (reopened on SIGUSR1) instead of stderr. */
  logPath: string | undefined;
  /** --log-format as given; undefined when not given (Envoy's default format then, or application_log_config). */
  logFormat: string | undefined;
  logFormatEscaped: boolean;
  /** --service-cluster / --service-node / --service-zone: override node.cluster, node.id, node.locality.zone. */
  serviceCluster: string | undefined;
  serviceNode: string | undefined;
  serviceZone: string | undefined;
  drainTimeS: number;
  drainStrategy: DrainStrategy;
  parentShutdownTimeS: number;
  /** --file-flush-interval-msec; undefined keeps Legate's access log default (100 ms). */
  fileFlushIntervalMs: number | undefined;
  allowUnknownStaticFields: boolean;
  rejectUnknownDynamicFields: boolean;
  ignoreUnknownDynamicFields: boolean;
  localAddressIpVersion: 'v4' | 'v6';
  enableCoreDump: boolean;
  /** --stats-tag name:value, repeatable: a fixed tag on every stat. */
  statsTags: [string, string][];
  adminAddressPath: string | undefined;
  /** --admin-token-path (Legate's extension): the file holding the token the admin's mutating endpoints require. */
  adminTokenPath: string | undefined;
  /** --watch-filters (Legate's extension): a change to a TypeScript filter's file reloads as SIGHUP does. */
  watchFilters: boolean;
  // Hot restart (no-ops in Legate, kept so /server_info shows what was given).
  baseId: number;
  useDynamicBaseId: boolean;
  baseIdPath: string | undefined;
  restartEpoch: number;
  disableHotRestart: boolean;
  help: boolean;
  version: boolean;
  hotRestartVersion: boolean;
}

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export const HELP_TEXT = `Usage: legate [options]
       legate bench [options] URL | --config FILE   (load benchmark; see 'legate bench --help')
       legate filter new NAME [--dir DIR]          (a TypeScript filter to start from; see docs/FILTERS.md)

Runs Legate, an HTTP/TCP proxy configured with Envoy v3 bootstrap YAML or JSON. It takes Envoy's command line:
a systemd unit or Kubernetes manifest written for Envoy starts Legate unchanged.

Configuration:
  -c, --config-path FILE         Envoy v3 bootstrap file (YAML or JSON).
      --config-yaml STRING       YAML merged over the file (repeated fields append, as Envoy does).
      --mode MODE                serve (default) runs the proxy; validate checks the config and exits 0 ("OK")
                                 or 1 with one line per problem, binding nothing; init_only starts everything
                                 (listeners bound, workers running) and exits 0 at once.
      --allow-unknown-static-fields
                                 Unknown fields in the bootstrap are warnings (counted in
                                 server.static_unknown_fields) instead of errors.
      --allow-unknown-fields     Deprecated alias of --allow-unknown-static-fields.
      --reject-unknown-dynamic-fields, --ignore-unknown-dynamic-fields
                                 Accepted; no effect: Legate takes no dynamic (xDS) configuration.
      --service-cluster NAME     Overrides node.cluster of the bootstrap.
      --service-node NAME        Overrides node.id of the bootstrap.
      --service-zone NAME        Overrides node.locality.zone of the bootstrap.
      --local-address-ip-version v4|v6
                                 Checked (v4 or v6); no effect: Legate derives no "server local address".

Threads:
      --concurrency N            Worker threads (default: the available CPUs, here ${os.availableParallelism()}; 0 runs one, as Envoy).
      --cpuset-threads           Accepted: the default concurrency already counts only the CPUs this process may run on.

Logging:
  -l, --log-level LEVEL          trace|debug|info|warning|warn|error|critical|off (default: info).
      --component-log-level LIST Comma-separated component:level pairs (e.g. upstream:debug,main:trace), Envoy's
                                 component names. Every Legate log line is of component "main".
      --log-path FILE            Write the application log to FILE (appended; reopened on SIGUSR1) instead of stderr.
      --log-format FORMAT        Envoy's (spdlog's) format: %v message, %j JSON-escaped message, %_ message with
                                 newlines escaped, %l level, %L short level, %n component, %t thread, %P pid,
                                 %Y-%m-%d %T.%e %f %F %z ... and %%. Default "[%Y-%m-%d %T.%e][%t][%l][%n] %v".
                                 The bootstrap's application_log_config may set it instead (not both).
      --log-format-escaped       Escape C-style escape sequences (newlines, tabs, ...) in application log lines.
      --file-flush-interval-msec N
                                 Longest time an access log line waits in memory before it is written (Legate's
                                 default: 100 ms).

Stopping:
      --drain-time-s N           On SIGTERM/SIGINT, how long in-flight requests may take to finish (default: 600).
      --drain-strategy gradual|immediate
                                 Checked; Legate always drains immediately (every connection is asked to close at
                                 once: HTTP/1.1 "connection: close", HTTP/2 GOAWAY).

Statistics:
      --stats-tag NAME:VALUE     A tag (a Prometheus label) on every stat; repeatable, one value per name.

Admin:
      --admin-address-path FILE  Write the admin address (ip:port) to FILE once it listens.
      --admin-token-path FILE    Legate's extension: the admin endpoints that change state (POST) and /heap_dump
                                 require "Authorization: Bearer <token>", the token being FILE's content (read
                                 at start; 401 without it, 403 with another).

TypeScript filters (Legate's extension, docs/FILTERS.md):
      --watch-filters            Watch the files of the running config's TypeScript filters; a change reloads
                                 the configuration as SIGHUP does (a file that does not load is refused and the
                                 running version stays).

Hot restart (Legate has none; it reloads on SIGHUP). Accepted and checked, no effect:
      --base-id N, --use-dynamic-base-id, --base-id-path FILE (the base id is written to it), --restart-epoch N,
      --disable-hot-restart, --parent-shutdown-time-s N, --skip-hot-restart-on-no-parent,
      --skip-hot-restart-parent-stats, --enable-mutex-tracing
      --hot-restart-version      Prints "disabled" (hot restart is not available) and exits.

Other:
      --enable-core-dump         Accepted; no effect: core dumps follow the process limits (ulimit -c).
      --version                  Version information, as Envoy prints it, and exits.
  -h, --help                     This text.

Signals: SIGHUP reloads the config file (a config that fails, or whose new listeners cannot bind, changes
nothing); SIGUSR1 reopens the application log (--log-path) and every access log file (log rotation);
SIGTERM/SIGINT stop accepting, let in-flight requests finish (--drain-time-s), log "exiting" and exit 0.
`;

function parseUint(v: string, flag: string): number {
  if (!/^[0-9]+$/.test(v) || Number(v) > 0xffffffff) throw new CliUsageError(`${flag} takes a whole number (uint32), got '${v}'`);
  return Number(v);
}

function level(v: string, flag: string): LogLevel {
  const l = parseLogLevel(v);
  if (l === undefined) throw new CliUsageError(`${flag}: invalid log level '${v}' (trace|debug|info|warning|warn|error|critical|off)`);
  return l;
}

/** Envoy's --component-log-level: `name:level[,name:level...]`, names from Envoy's component list. */
function parseComponentLevels(v: string, out: [string, LogLevel][]): void {
  for (const part of v.split(',')) {
    const pair = part.split(':');
    if (pair.length !== 2) throw new CliUsageError(`--component-log-level: component log level not correctly specified '${part}' (name:level)`);
    const [name, lv] = pair as [string, string];
    if (!COMPONENT_NAMES.has(name)) throw new CliUsageError(`--component-log-level: invalid component specified '${name}'`);
    out.push([name, level(lv, '--component-log-level')]);
  }
}

/** Envoy's --stats-tag: `name:value`, an alphanumeric (or _) name, a value without '.', one value per name. */
function parseStatsTag(v: string, out: [string, string][]): void {
  const colon = v.indexOf(':');
  if (colon <= 0) throw new CliUsageError(`--stats-tag: '${v}' is not name:value`);
  const name = v.slice(0, colon);
  const value = v.slice(colon + 1);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new CliUsageError(`--stats-tag: tag name '${name}' may hold only letters, digits and '_'`);
  if (value.includes('.')) throw new CliUsageError(`--stats-tag: tag value '${value}' may not contain '.'`);
  if (out.some(([n]) => n === name)) throw new CliUsageError(`--stats-tag: tag '${name}' is given twice`);
  out.push([name, value]);
}

export function defaultCliOptions(): CliOptions {
  return {
    configPath: undefined,
    configYaml: undefined,
    mode: 'serve',
    concurrency: os.availableParallelism(),
    logLevel: 'info',
    componentLogLevels: [],
    logPath: undefined,
    logFormat: undefined,
    logFormatEscaped: false,
    serviceCluster: undefined,
    serviceNode: undefined,
    serviceZone: undefined,
    drainTimeS: 600,
    drainStrategy: 'gradual',
    parentShutdownTimeS: 900,
    fileFlushIntervalMs: undefined,
    allowUnknownStaticFields: false,
    rejectUnknownDynamicFields: false,
    ignoreUnknownDynamicFields: false,
    localAddressIpVersion: 'v4',
    enableCoreDump: false,
    statsTags: [],
    adminAddressPath: undefined,
    adminTokenPath: undefined,
    watchFilters: false,
    baseId: 0,
    useDynamicBaseId: false,
    baseIdPath: undefined,
    restartEpoch: 0,
    disableHotRestart: false,
    help: false,
    version: false,
    hotRestartVersion: false,
  };
}

export function parseCliOptions(argv: readonly string[]): CliOptions {
  const opts = defaultCliOptions();
  const args = new ArgReader(argv, (flag) => new CliUsageError(`${flag} needs a value (see --help)`));
  const value = (): string => args.value();
  for (let arg = args.next(); arg !== undefined; arg = args.next()) {
    switch (arg) {
      case '-c':
      case '--config-path':
        opts.configPath = value();
        break;
      case '--config-yaml':
        opts.configYaml = value();
        break;
      case '--mode': {
        const m = value();
        if (m !== 'serve' && m !== 'validate' && m !== 'init_only') throw new CliUsageError(`--mode: unknown mode '${m}' (serve|validate|init_only)`);
        opts.mode = m;
        break;
      }
      case '--concurrency':
        // Envoy: std::max(1, --concurrency).
        opts.concurrency = Math.max(1, parseUint(value(), '--concurrency'));
        break;
      case '--cpuset-threads':
        break;
      case '-l':
      case '--log-level':
        opts.logLevel = level(value(), '--log-level');
        break;
      case '--component-log-level':
        parseComponentLevels(value(), opts.componentLogLevels);
        break;
      case '--log-path':
        opts.logPath = value();
        break;
      case '--log-format':
        opts.logFormat = value();
        break;
      case '--log-format-escaped':
        opts.logFormatEscaped = true;
        break;
      case '--service-cluster':
        opts.serviceCluster = value();
        break;
      case '--service-node':
        opts.serviceNode = value();
        break;
      case '--service-zone':
        opts.serviceZone = value();
        break;
      case '--drain-time-s':
        opts.drainTimeS = parseUint(value(), '--drain-time-s');
        break;
      case '--drain-strategy': {
        const s = value();
        if (s !== 'gradual' && s !== 'immediate') throw new CliUsageError(`--drain-strategy: unknown drain-strategy '${s}' (gradual|immediate)`);
        opts.drainStrategy = s;
        break;
      }
      case '--parent-shutdown-time-s':
        opts.parentShutdownTimeS = parseUint(value(), '--parent-shutdown-time-s');
        break;
      case '--file-flush-interval-msec':
        opts.fileFlushIntervalMs = parseUint(value(), '--file-flush-interval-msec');
        break;
      case '--allow-unknown-static-fields':
      case '--allow-unknown-fields':
        opts.allowUnknownStaticFields = true;
        break;
      case '--reject-unknown-dynamic-fields':
        opts.rejectUnknownDynamicFields = true;
        break;
      case '--ignore-unknown-dynamic-fields':
        opts.ignoreUnknownDynamicFields = true;
        break;
      case '--local-address-ip-version': {
        const v = value();
        if (v !== 'v4' && v !== 'v6') throw new CliUsageError(`--local-address-ip-version: unknown IP address version '${v}' (v4|v6)`);
        opts.localAddressIpVersion = v;
        break;
      }
      case '--enable-core-dump':
        opts.enableCoreDump = true;
        break;
      case '--stats-tag':
        parseStatsTag(value(), opts.statsTags);
        break;
      case '--admin-address-path':
        opts.adminAddressPath = value();
        break;
      case '--admin-token-path':
        opts.adminTokenPath = value();
        break;
      case '--watch-filters':
        opts.watchFilters = true;
        break;
      case '--base-id':
        opts.baseId = parseUint(value(), '--base-id');
        break;
      case '--use-dynamic-base-id':
        opts.useDynamicBaseId = true;
        break;
      case '--base-id-path':
        opts.baseIdPath = value();
        break;
      case '--restart-epoch':
        opts.restartEpoch = parseUint(value(), '--restart-epoch');
        break;
      case '--disable-hot-restart':
        opts.disableHotRestart = true;
        break;
      case '--skip-hot-restart-on-no-parent':
      case '--skip-hot-restart-parent-stats':
      case '--enable-mutex-tracing':
        break;
      case '--hot-restart-version':
        opts.hotRestartVersion = true;
        break;
      case '--version':
        opts.version = true;
        break;
      case '-h':
      case '--help':
        opts.help = true;
        break;
      default:
        throw new CliUsageError(`unknown option '${arg}' (see --help)`);
    }
  }
  if (opts.useDynamicBaseId && opts.restartEpoch > 0) {
    throw new CliUsageError(`cannot use --restart-epoch=${opts.restartEpoch} with --use-dynamic-base-id`);
  }
  const exitsAtOnce = opts.help || opts.version || opts.hotRestartVersion;
  if (!exitsAtOnce && opts.configPath === undefined && opts.configYaml === undefined) {
    throw new CliUsageError('no configuration: give -c FILE and/or --config-yaml STRING (see --help)');
  }
  return opts;
}
