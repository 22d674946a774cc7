// Any thread (pure; runs inside the cluster compile). A cluster's `outlier_detection`
// (envoy.config.cluster.v3.OutlierDetection) -> CompiledOutlierDetection: plain data with Envoy's defaults, read by
// the primary's detector (src/upstream/outlier-detector.ts). Fields Legate does not implement are reported.

type Obj = Record<string, unknown>;

export interface CompiledOutlierDetection {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionTimeMs: number;
  maxEjectionTimeJitterMs: number;
  maxEjectionPercent: number;
  enforcingConsecutive5xx: number;
  enforcingConsecutiveGatewayFailure: number;
  enforcingSuccessRate: number;
  successRateMinimumHosts: number;
  successRateRequestVolume: number;
  successRateStdevFactor: number;
  failurePercentageThreshold: number;
  enforcingFailurePercentage: number;
  failurePercentageMinimumHosts: number;
  failurePercentageRequestVolume: number;
  /** split_external_local_origin_errors: local-origin failures (connect, reset, timeout) judged apart. */
  splitExternalLocalOriginErrors: boolean;
  consecutiveLocalOriginFailure: number;
  enforcingConsecutiveLocalOriginFailure: number;
  enforcingLocalOriginSuccessRate: number;
  enforcingFailurePercentageLocalOrigin: number;
}

type NumericField = Exclude<keyof CompiledOutlierDetection, 'splitExternalLocalOriginErrors'>;

export interface OutlierProblem {
  code: 'not_supported' | 'bad_value';
  path: string;
  message: string;
}

/** Fields compiled here; the rest of OutlierDetection is refused (supported-fields lists the same). */
export const OUTLIER_DETECTION_FIELDS: readonly string[] = [
  'consecutive_5xx', 'consecutive_gateway_failure', 'interval', 'base_ejection_time', 'max_ejection_time',
  'max_ejection_time_jitter', 'max_ejection_percent', 'enforcing_consecutive_5xx',
  'enforcing_consecutive_gateway_failure', 'enforcing_success_rate', 'success_rate_minimum_hosts',
  'success_rate_request_volume', 'success_rate_stdev_factor', 'failure_percentage_threshold',
  'enforcing_failure_percentage', 'failure_percentage_minimum_hosts', 'failure_percentage_request_volume',
  'split_external_local_origin_errors', 'consecutive_local_origin_failure', 'enforcing_consecutive_local_origin_failure',
  'enforcing_local_origin_success_rate', 'enforcing_failure_percentage_local_origin',
];

/** Envoy's OutlierDetection defaults. */
const DEFAULTS: CompiledOutlierDetection = Object.freeze({
  consecutive5xx: 5,
  consecutiveGatewayFailure: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionTimeJitterMs: 0,
  maxEjectionPercent: 10,
  enforcingConsecutive5xx: 100,
  enforcingConsecutiveGatewayFailure: 0,
  enforcingSuccessRate: 100,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
  enforcingLocalOriginSuccessRate: 100,
  enforcingFailurePercentageLocalOrigin: 0,
});

/** null when the cluster has no outlier_detection (or it did not compile: see `problems`). */
export function compileOutlierDetection(raw: unknown, path: string, problems: OutlierProblem[]): CompiledOutlierDetection | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ code: 'bad_value', path, message: 'outlier_detection must be an object' });
    return null;
  }
  const o = raw as Obj;
  const before = problems.length;
  // The loader's support check refuses these too (supported-fields.ts lists the same set); CDS resources and direct
  // callers get the same answer here.
  for (const key of Object.keys(o)) {
    if (!OUTLIER_DETECTION_FIELDS.includes(key)) problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `outlier_detection.${key} is not supported yet` });
  }
  const out: { -readonly [K in keyof CompiledOutlierDetection]: CompiledOutlierDetection[K] } = { ...DEFAULTS };
  const uint = (key: string, field: NumericField, max = 0xffffffff): void => {
    const v = unwrap(o[key]);
    if (v === undefined) return;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) {
      problems.push({ code: 'bad_value', path: `${path}.${key}`, message: `${key} must be an integer from 0 to ${max}` });
      return;
    }
    out[field] = n;
  };
  const duration = (key: string, field: NumericField, positive: boolean): void => {
    if (o[key] === undefined) return;
    // The loader gives durations as milliseconds; a string form is read here too (unit tests, raw configs).
    const v = durationMs(o[key]);
    if (!Number.isFinite(v) || v < 0 || (positive && v === 0)) {
      problems.push({ code: 'bad_value', path: `${path}.${key}`, message: `${key} must be a duration ${positive ? 'greater than 0' : 'not negative'}` });
      return;
    }
    out[field] = v;
  };
  uint('consecutive_5xx', 'consecutive5xx');
  uint('consecutive_gateway_failure', 'consecutiveGatewayFailure');
  duration('interval', 'intervalMs', true);
  duration('base_ejection_time', 'baseEjectionTimeMs', true);
  duration('max_ejection_time', 'maxEjectionTimeMs', true);
  duration('max_ejection_time_jitter', 'maxEjectionTimeJitterMs', false);
  uint('max_ejection_percent', 'maxEjectionPercent', 100);
  uint('enforcing_consecutive_5xx', 'enforcingConsecutive5xx', 100);
  uint('enforcing_consecutive_gateway_failure', 'enforcingConsecutiveGatewayFailure', 100);
  uint('enforcing_success_rate', 'enforcingSuccessRate', 100);
  uint('success_rate_minimum_hosts', 'successRateMinimumHosts');
  uint('success_rate_request_volume', 'successRateRequestVolume');
  uint('success_rate_stdev_factor', 'successRateStdevFactor');
  uint('failure_percentage_threshold', 'failurePercentageThreshold', 100);
  uint('enforcing_failure_percentage', 'enforcingFailurePercentage', 100);
  uint('failure_percentage_minimum_hosts', 'failurePercentageMinimumHosts');
  uint('failure_percentage_request_volume', 'failurePercentageRequestVolume');
  uint('consecutive_local_origin_failure', 'consecutiveLocalOriginFailure');
  uint('enforcing_consecutive_local_origin_failure', 'enforcingConsecutiveLocalOriginFailure', 100);
  uint('enforcing_local_origin_success_rate', 'enforcingLocalOriginSuccessRate', 100);
  uint('enforcing_failure_percentage_local_origin', 'enforcingFailurePercentageLocalOrigin', 100);
  if (o['split_external_local_origin_errors'] !== undefined) {
    if (typeof o['split_external_local_origin_errors'] !== 'boolean') problems.push({ code: 'bad_value', path: `${path}.split_external_local_origin_errors`, message: 'split_external_local_origin_errors must be a boolean' });
    else out.splitExternalLocalOriginErrors = o['split_external_local_origin_errors'];
  }
  // Envoy: max_ejection_time never below base_ejection_time (the config is refused when it is set lower).
  if (o['max_ejection_time'] !== undefined && out.maxEjectionTimeMs < out.baseEjectionTimeMs) {
    problems.push({ code: 'bad_value', path: `${path}.max_ejection_time`, message: 'max_ejection_time must not be less than base_ejection_time' });
  }
  if (o['max_ejection_time'] === undefined) out.maxEjectionTimeMs = Math.max(out.maxEjectionTimeMs, out.baseEjectionTimeMs);
  if (problems.length > before) return null;
  return Object.freeze(out);
}

/** A google.protobuf.UInt32Value may come as {value: n}. */
function unwrap(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'value' in (v as Obj)) return (v as Obj)['value'];
  return v;
}

/** Milliseconds from the loader's number, or a "1.5s" string; NaN when neither. */
function durationMs(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const m = /^(\d+(?:\.\d{1,9})?)s$/.exec(v.trim());
  return m === null ? NaN : Number(m[1]) * 1000;
}
