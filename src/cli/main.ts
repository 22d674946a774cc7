// Primary thread. The `legate` command: parse Envoy's command line, then validate a config, initialise and exit
// (init_only), or run the proxy; `legate bench` runs the load benchmark. Signals as Envoy: SIGHUP reloads,
// SIGUSR1 reopens the logs, SIGTERM/SIGINT drain and exit.

import fs from 'node:fs';
import { parseCliOptions, CliUsageError, HELP_TEXT, type CliOptions } from './options.ts';
import { configureLogger, DEFAULT_LOG_FORMAT, log, type LogSettings } from '../common/logger.ts';
// The proxy itself (config pipeline, primary) is imported only by the paths that run it, so `legate bench` and
// `--help` stay quick and independent of it.

// Installed first thing: a SIGUSR1 listener replaces Node's default for it (starting the inspector), which must
// never happen to a proxy. As Envoy, SIGUSR1 reopens the logs once the server runs.
let onReopenLogs: (() => void) | null = null;
process.on('SIGUSR1', () => onReopenLogs?.());

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'bench') {
    const { runBenchCommand } = await import('./bench-command.ts');
    return runBenchCommand(argv.slice(1));
  }
  if (argv[0] === 'filter') {
    const { runFilterCommand } = await import('./filter-command.ts');
    return runFilterCommand(argv.slice(1));
  }
  let opts: CliOptions;
  try {
    opts = parseCliOptions(argv);
  } catch (err) {
    if (err instanceof CliUsageError) {
      process.stderr.write(`legate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(HELP_TEXT);
    return 0;
  }
  if (opts.version) {
    const { versionText } = await import('../primary/version-info.ts');
    process.stdout.write(versionText());
    return 0;
  }
  if (opts.hotRestartVersion) {
    // Envoy prints its hot restart compatibility version; with hot restart unavailable that is "disabled".
    process.stderr.write('disabled\n');
    return 0;
  }
  const logSettings: LogSettings = {
    level: opts.logLevel,
    componentLevels: opts.componentLogLevels,
    format: { kind: 'text', pattern: opts.logFormat ?? DEFAULT_LOG_FORMAT },
    escaped: opts.logFormatEscaped,
    path: opts.logPath,
  };
  try {
    configureLogger(logSettings);
  } catch (err) {
    process.stderr.write(`legate: cannot open the log file ${opts.logPath}: ${(err as Error).message}\n`);
    return 1;
  }
  if (opts.mode === 'validate') return validate(opts);
  return serve(opts, logSettings);
}

async function validate(opts: CliOptions): Promise<number> {
  const { runConfigPipeline, sourcesOf } = await import('../primary/config-pipeline.ts');
  const { applicationLogFormat } = await import('../primary/application-log.ts');
  const result = runConfigPipeline(sourcesOf(opts), 1);
  if (!result.ok) {
    process.stderr.write(`${result.message}\n${result.problemCount} problem(s); configuration is not valid\n`);
    return 1;
  }
  const logFormat = applicationLogFormat(result.bootstrap, opts.logFormat !== undefined);
  if (!logFormat.ok) {
    process.stderr.write(`${logFormat.message}\n1 problem(s); configuration is not valid\n`);
    return 1;
  }
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  const s = result.snapshot;
  process.stdout.write(`configuration '${opts.configPath ?? '--config-yaml'}' OK: ${s.listeners.length} listener(s), ${s.clusters.length} cluster(s)\n`);
  return 0;
}

async function serve(opts: CliOptions, logSettings: LogSettings): Promise<number> {
  const { Primary, StartupError } = await import('../primary/primary.ts');
  const primary = new Primary(opts, logSettings);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    void primary.shutdown(opts.drainTimeS * 1000).then(() => exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // --watch-filters: set once started; it watches again after every reload (the files may have changed).
  let filterWatcher: { refresh(): void } | null = null;
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading configuration');
    void primary.reload().finally(() => filterWatcher?.refresh());
  });
  onReopenLogs = () => {
    primary.reopenLogs();
    log.info('SIGUSR1: reopened the application log and the access logs');
  };
  if (process.env['LEGATE_TEST_HOOKS'] === '1') {
    // Test hook: SIGUSR2 makes worker 0 crash, to prove the primary replaces it.
    process.on('SIGUSR2', () => primary.supervisor.crashWorker(0));
  }
  if (opts.baseIdPath !== undefined) writeQuietly(opts.baseIdPath, String(opts.baseId));
  try {
    await primary.start();
  } catch (err) {
    if (err instanceof StartupError) {
      log.critical(`cannot start:\n${err.message}`);
      await primary.shutdown(0);
      return 1;
    }
    throw err;
  }
  if (opts.mode === 'init_only') {
    // Envoy's init_only: everything initialised (config, listeners bound, workers serving), then exit 0.
    log.info('init_only: initialised; exiting');
    await primary.shutdown(0);
    return 0;
  }
  primary.onQuit = () => stop('/quitquitquit');
  if (opts.watchFilters) {
    const { TypeScriptFilterWatcher } = await import('../filters/typescript-filter-watcher.ts');
    const { typeScriptFiltersOf } = await import('../filters/typescript-filter-config.ts');
    const filesOf = (): string[] => (primary.current === null ? [] : typeScriptFiltersOf(primary.current.snapshot).map((f) => f.file));
    filterWatcher = new TypeScriptFilterWatcher(filesOf, () => primary.reload());
    filterWatcher.refresh();
  }
  return -1; // keep running
}

/** The end of a clean stop: the final line, as Envoy's "exiting", then exit. */
function exit(code: number): void {
  log.info('exiting');
  process.exit(code);
}

function writeQuietly(file: string, text: string): void {
  try {
    fs.writeFileSync(file, `${text}\n`);
  } catch (err) {
    log.warn(`cannot write ${file}: ${(err as Error).message}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`legate: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
