// Primary thread (pure). The bootstrap's application_log_config: the application log's format, which the
// command line's --log-format may give instead (Envoy refuses both).

import { compilePattern, LogFormatError, patternOf, type LogFormatSpec } from '../common/logger.ts';

export type ApplicationLogFormat = { ok: true; spec: LogFormatSpec | null } | { ok: false; message: string };

/**
 * application_log_config.log_format of a normalized bootstrap: null when absent, else the format (checked:
 * json_format without %v or %_). `cliFormatGiven`: --log-format was given, which may not be combined with it.
 */
export function applicationLogFormat(bootstrap: Record<string, unknown>, cliFormatGiven: boolean): ApplicationLogFormat {
  const config = bootstrap['application_log_config'] as Record<string, unknown> | undefined;
  const lf = config?.['log_format'] as Record<string, unknown> | undefined;
  if (lf === undefined) return { ok: true, spec: null };
  if (cliFormatGiven) {
    return { ok: false, message: 'application_log_config.log_format: only one of application_log_config.log_format or the command line option --log-format can be given' };
  }
  const spec: LogFormatSpec = typeof lf['text_format'] === 'string'
    ? { kind: 'text', pattern: lf['text_format'] }
    : { kind: 'json', struct: (lf['json_format'] ?? {}) as Record<string, unknown> };
  try {
    compilePattern(patternOf(spec));
  } catch (err) {
    if (err instanceof LogFormatError) return { ok: false, message: `application_log_config.log_format.json_format: ${err.message}` };
    throw err;
  }
  return { ok: true, spec };
}
