// Worker thread (pure). How a cluster's traffic splits across priority levels, Envoy's way: a level takes load in
// proportion to its health scaled by the overprovisioning factor (1.4), so priority 0 keeps all traffic until
// less than ~71% of its hosts are healthy, then spills to the next level. A level whose healthy share is below
// the panic threshold balances over all its hosts, healthy or not (when the levels together are not 100% healthy).

export const OVERPROVISIONING_FACTOR = 1.4;

export interface PriorityLoad {
  /** Percent of requests per level (index = priority); integers summing to 100, or all 0 when none can serve. */
  loads: number[];
  /** Per level: balance over all hosts instead of the healthy ones. */
  panic: boolean[];
}

/**
 * `healthy[i]` and `total[i]`: host counts of priority i (levels may be empty). `panicThresholdPercent` 0 turns
 * panic mode off, so a cluster with no healthy host gets no load at all.
 */
export function computePriorityLoad(healthy: readonly number[], total: readonly number[], panicThresholdPercent: number): PriorityLoad {
  const n = total.length;
  const loads = new Array<number>(n).fill(0);
  const panic = new Array<boolean>(n).fill(false);
  const health = new Array<number>(n).fill(0);
  let healthSum = 0;
  for (let i = 0; i < n; i++) {
    if (total[i]! > 0) health[i] = Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * 100 * healthy[i]!) / total[i]!));
    healthSum += health[i]!;
  }
  const normalizedTotal = Math.min(100, healthSum);

  let allPanic = n > 0 && panicThresholdPercent > 0 && normalizedTotal < 100;
  if (normalizedTotal < 100 && panicThresholdPercent > 0) {
    for (let i = 0; i < n; i++) {
      const healthyPercent = total[i]! === 0 ? 0 : (100 * healthy[i]!) / total[i]!;
      panic[i] = healthyPercent < panicThresholdPercent;
      if (!panic[i]) allPanic = false;
    }
  }

  if (allPanic) {
    // Every level is in panic: spread by host count, as if all hosts were healthy.
    let hostSum = 0;
    for (let i = 0; i < n; i++) hostSum += total[i]!;
    if (hostSum === 0) return { loads, panic };
    let assigned = 0;
    for (let i = 0; i < n; i++) {
      loads[i] = Math.floor((100 * total[i]!) / hostSum);
      assigned += loads[i]!;
    }
    addRemainder(loads, total, 100 - assigned);
    return { loads, panic };
  }
  if (normalizedTotal === 0) return { loads, panic };

  let remaining = 100;
  for (let i = 0; i < n; i++) {
    loads[i] = Math.min(remaining, Math.floor((health[i]! * 100) / normalizedTotal));
    remaining -= loads[i]!;
  }
  addRemainder(loads, health, remaining);
  return { loads, panic };
}

/** Rounding leftovers go to the first level that can take load. */
function addRemainder(loads: number[], weights: readonly number[], remainder: number): void {
  if (remainder <= 0) return;
  for (let i = 0; i < loads.length; i++) {
    if (weights[i]! > 0) {
      loads[i]! += remainder;
      return;
    }
  }
}
