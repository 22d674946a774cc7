// Primary thread. The `legate` command: parse options, then validate a config or run the proxy; `legate bench`
// runs the load benchmark.

import { parseCliOptions, CliUsageError, HELP_TEXT, type CliOptions } from './options.ts';
import { log, setLogLevel } from '../common/logger.ts';
// The proxy itself (config pipeline, primary) is imported only by the paths that run it, so `legate bench` and
// `--help` stay quick and independent of it.

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'bench') {
    const { runBenchCommand } = await import('./bench-command.ts');
    return runBenchCommand(argv.slice(1));
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
  setLogLevel(opts.logLevel);
  if (opts.mode === 'validate') return validate(opts);
  return serve(opts);
}

async function validate(opts: CliOptions): Promise<number> {
  const { runConfigPipeline } = await import('../primary/config-pipeline.ts');
  const result = runConfigPipeline({ configPath: opts.configPath, configYaml: opts.configYaml }, 1);
  if (!result.ok) {
    process.stderr.write(`${result.message}\n${result.problemCount} problem(s); configuration is not valid\n`);
    return 1;
  }
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  const s = result.snapshot;
  process.stdout.write(`configuration '${opts.configPath ?? '--config-yaml'}' OK: ${s.listeners.length} listener(s), ${s.clusters.length} cluster(s)\n`);
  return 0;
}

async function serve(opts: CliOptions): Promise<number> {
  const { Primary, StartupError } = await import('../primary/primary.ts');
  const primary = new Primary(opts);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    void primary.shutdown(opts.drainTimeS * 1000).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading configuration');
    void primary.reload();
  });
  if (process.env['LEGATE_TEST_HOOKS'] === '1') {
    // Test hook: SIGUSR2 makes worker 0 crash, to prove the primary replaces it.
    process.on('SIGUSR2', () => primary.supervisor.crashWorker(0));
  }
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
  primary.onQuit = () => stop('/quitquitquit');
  return -1; // keep running
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
