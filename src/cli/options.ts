// Primary thread (pure). Command-line options, as Envoy spells them.

import os from 'node:os';
import { ArgReader } from '../common/arg-reader.ts';

export type Mode = 'serve' | 'validate';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical' | 'off';

export interface CliOptions {
  configPath: string | undefined;
  configYaml: string | undefined;
  mode: Mode;
  concurrency: number;
  logLevel: LogLevel;
  drainTimeS: number;
  help: boolean;
}

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'off'];

export const HELP_TEXT = `Usage: legate [options]
       legate bench [options] URL | --config FILE   (load benchmark; see 'legate bench --help')

Runs Legate, an HTTP/TCP proxy configured with Envoy v3 bootstrap YAML or JSON.

Options:
  -c, --config-path FILE     Envoy v3 bootstrap file (YAML or JSON).
      --config-yaml STRING   YAML merged over the file (repeated fields append, as Envoy does).
      --mode serve|validate  serve (default) runs the proxy; validate checks the config and exits
                             0 when it is good, 1 with one line per problem when it is not.
      --concurrency N        Worker threads (default: the number of cores, here ${os.availableParallelism()}).
  -l, --log-level LEVEL      trace|debug|info|warn|error|critical|off (default: info).
      --drain-time-s N       On SIGTERM/SIGINT, how long in-flight requests may take to finish (default: 600).
  -h, --help                 This text.

Signals: SIGHUP reloads the config file (a bad file leaves the running config alone);
SIGTERM/SIGINT stop accepting, let in-flight requests finish, then exit 0.
`;

function parsePositiveInt(v: string, flag: string): number {
  if (!/^[0-9]+$/.test(v)) throw new CliUsageError(`${flag} takes a whole number, got '${v}'`);
  return Number(v);
}

export function parseCliOptions(argv: readonly string[]): CliOptions {
  const opts: CliOptions = {
    configPath: undefined,
    configYaml: undefined,
    mode: 'serve',
    concurrency: os.availableParallelism(),
    logLevel: 'info',
    drainTimeS: 600,
    help: false,
  };
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
        if (m !== 'serve' && m !== 'validate') throw new CliUsageError(`--mode is serve or validate, got '${m}'`);
        opts.mode = m;
        break;
      }
      case '--concurrency': {
        const n = parsePositiveInt(value(), '--concurrency');
        if (n < 1) throw new CliUsageError('--concurrency must be at least 1');
        opts.concurrency = n;
        break;
      }
      case '-l':
      case '--log-level': {
        const l = value().toLowerCase();
        if (!LOG_LEVELS.includes(l)) throw new CliUsageError(`--log-level is one of ${LOG_LEVELS.join('|')}, got '${l}'`);
        opts.logLevel = (l === 'warning' ? 'warn' : l) as LogLevel;
        break;
      }
      case '--drain-time-s':
        opts.drainTimeS = parsePositiveInt(value(), '--drain-time-s');
        break;
      case '-h':
      case '--help':
        opts.help = true;
        break;
      default:
        throw new CliUsageError(`unknown option '${arg}' (see --help)`);
    }
  }
  if (!opts.help && opts.configPath === undefined && opts.configYaml === undefined) {
    throw new CliUsageError('no configuration: give -c FILE and/or --config-yaml STRING (see --help)');
  }
  return opts;
}
