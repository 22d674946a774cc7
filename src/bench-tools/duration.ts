// Any thread (pure). Durations on the command line: "10", "10s", "500ms", "2m".

export class DurationSyntaxError extends Error {
  override name = 'DurationSyntaxError';
  readonly code = 'BENCH_BAD_DURATION';
}

/** Seconds from "10" (seconds), "10s", "1.5s", "500ms", "2m". */
export function parseDurationSeconds(text: string, flag: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw new DurationSyntaxError(`${flag} takes a duration like 10, 10s, 500ms or 2m, got '${text}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : n;
}
