// Any thread (pure; the primary runs it at compile time). A cluster's circuit_breakers
// (envoy.config.cluster.v3.CircuitBreakers) -> the limits of its two priorities, DEFAULT and HIGH, with Envoy's
// defaults. The counters they bound live in shared memory (circuit-breaker-shared.ts), one slot per cluster and
// priority over all workers, so a limit means the same with 1 or N workers.

import type { BreakerThresholds } from './circuit-breaker-shared.ts';

type Obj = Record<string, unknown>;

/** Envoy's defaults (envoy.config.cluster.v3.CircuitBreakers.Thresholds). */
export const BREAKER_DEFAULTS: BreakerThresholds = Object.freeze({
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
  maxConnectionPools: 0xffffffff,
  trackRemaining: false,
  retryBudgetPercent: -1,
  minRetryConcurrency: 3,
});

/** retry_budget's defaults when the message is present (Envoy: 20% and 3). */
const RETRY_BUDGET_DEFAULTS = Object.freeze({ budgetPercent: 20, minRetryConcurrency: 3 });

export interface CompiledCircuitBreakers {
  /**
   * The DEFAULT priority's slot in the shared region (HIGH is slot + 1), per cluster name: assigned by the primary
   * with the stat slots (StatsHub.assignSlots); -1 until then.
   */
  slot: number;
  default: BreakerThresholds;
  high: BreakerThresholds;
}

export interface CircuitBreakerProblem {
  code: 'not_supported' | 'bad_value';
  path: string;
  message: string;
}

const THRESHOLD_FIELDS = new Set(['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'track_remaining', 'retry_budget']);
const RETRY_BUDGET_FIELDS = new Set(['budget_percent', 'min_retry_concurrency']);

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function limit(v: unknown, dflt: number, path: string, problems: CircuitBreakerProblem[]): number {
  if (v === undefined) return dflt;
  const n = Number(isObj(v) ? v['value'] : v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    problems.push({ code: 'bad_value', path, message: `expected an integer within [0, 4294967295], got ${String(v)}` });
    return dflt;
  }
  return n;
}

/** Thresholds.retry_budget: replaces max_retries when present (budgetPercent -1 when absent). */
function retryBudget(v: unknown, path: string, problems: CircuitBreakerProblem[]): { budgetPercent: number; minRetryConcurrency: number } {
  if (!isObj(v)) return { budgetPercent: -1, minRetryConcurrency: RETRY_BUDGET_DEFAULTS.minRetryConcurrency };
  for (const key of Object.keys(v)) {
    if (RETRY_BUDGET_FIELDS.has(key) || v[key] === undefined) continue;
    problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `'${key}' is not supported yet` });
  }
  let budgetPercent: number = RETRY_BUDGET_DEFAULTS.budgetPercent;
  if (v['budget_percent'] !== undefined) {
    const raw = v['budget_percent'];
    budgetPercent = Number(isObj(raw) ? (raw['value'] ?? 0) : raw);
    if (!(budgetPercent >= 0 && budgetPercent <= 100)) {
      problems.push({ code: 'bad_value', path: `${path}.budget_percent`, message: `a percentage must be within [0, 100], got ${String(isObj(raw) ? raw['value'] : raw)}` });
      budgetPercent = RETRY_BUDGET_DEFAULTS.budgetPercent;
    }
  }
  const minRetryConcurrency = limit(v['min_retry_concurrency'], RETRY_BUDGET_DEFAULTS.minRetryConcurrency, `${path}.min_retry_concurrency`, problems);
  return { budgetPercent, minRetryConcurrency };
}

/** Compiles `circuit_breakers` (undefined: Envoy's defaults for both priorities). */
export function compileCircuitBreakers(v: unknown, path: string, problems: CircuitBreakerProblem[]): CompiledCircuitBreakers {
  let dflt: BreakerThresholds = BREAKER_DEFAULTS;
  let high: BreakerThresholds = BREAKER_DEFAULTS;
  if (isObj(v)) {
    for (const key of Object.keys(v)) {
      if (key === 'thresholds') continue;
      const val = v[key];
      if (val === undefined || (Array.isArray(val) && val.length === 0)) continue;
      problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `'${key}' is not supported yet` });
    }
    const list = Array.isArray(v['thresholds']) ? v['thresholds'] : [];
    let seenDefault = false;
    let seenHigh = false;
    for (let i = 0; i < list.length; i++) {
      const t = isObj(list[i]) ? (list[i] as Obj) : {};
      const at = `${path}.thresholds[${i}]`;
      for (const key of Object.keys(t)) {
        if (THRESHOLD_FIELDS.has(key) || t[key] === undefined) continue;
        problems.push({ code: 'not_supported', path: `${at}.${key}`, message: `'${key}' is not supported yet` });
      }
      const priority = t['priority'] === undefined ? 'DEFAULT' : String(t['priority']);
      if (priority !== 'DEFAULT' && priority !== 'HIGH') {
        problems.push({ code: 'bad_value', path: `${at}.priority`, message: `unknown priority ${priority}` });
        continue;
      }
      const budget = retryBudget(t['retry_budget'], `${at}.retry_budget`, problems);
      const compiled: BreakerThresholds = Object.freeze({
        maxConnections: limit(t['max_connections'], BREAKER_DEFAULTS.maxConnections, `${at}.max_connections`, problems),
        maxPendingRequests: limit(t['max_pending_requests'], BREAKER_DEFAULTS.maxPendingRequests, `${at}.max_pending_requests`, problems),
        maxRequests: limit(t['max_requests'], BREAKER_DEFAULTS.maxRequests, `${at}.max_requests`, problems),
        maxRetries: limit(t['max_retries'], BREAKER_DEFAULTS.maxRetries, `${at}.max_retries`, problems),
        maxConnectionPools: BREAKER_DEFAULTS.maxConnectionPools,
        trackRemaining: t['track_remaining'] === true,
        retryBudgetPercent: budget.budgetPercent,
        minRetryConcurrency: budget.minRetryConcurrency,
      });
      // As Envoy: the first thresholds of a priority count.
      if (priority === 'DEFAULT' && !seenDefault) {
        dflt = compiled;
        seenDefault = true;
      } else if (priority === 'HIGH' && !seenHigh) {
        high = compiled;
        seenHigh = true;
      }
    }
  }
  return { slot: -1, default: dflt, high };
}
