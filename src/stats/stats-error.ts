// Any thread (pure). Errors of the stats subsystem, with stable codes. These are programming or capacity
// errors raised at allocation time on the primary, never on a worker's request path.

export const StatsErrorCode = {
  /** The same full name was asked for as two different kinds (a counter and a gauge, ...). */
  KIND_CONFLICT: 'STATS_KIND_CONFLICT',
  /** More counters and gauges than the shared regions were created for. */
  CAPACITY_EXCEEDED: 'STATS_CAPACITY_EXCEEDED',
  /** A name that cannot be a stat name (empty, or with an empty segment). */
  INVALID_NAME: 'STATS_INVALID_NAME',
  /** A histogram delta that does not decode (wrong version or truncated). */
  BAD_HISTOGRAM_DELTA: 'STATS_BAD_HISTOGRAM_DELTA',
} as const;
export type StatsErrorCode = (typeof StatsErrorCode)[keyof typeof StatsErrorCode];

export class StatsError extends Error {
  override name = 'StatsError';
  readonly code: StatsErrorCode;

  constructor(code: StatsErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
