// Any thread (pure). Medians with min–max over repeated benchmark runs.

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Median of the finite values (mean of the middle two for an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** A number with `digits` significant digits, without exponent notation for the usual ranges. */
export function sig(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= Math.pow(10, digits)) return Math.round(value).toString();
  return Number(value.toPrecision(digits)).toString();
}

/** "12.3 (11.9–12.8)" or just "12.3" when there was one run. */
export function formatSpread(s: Spread, digits = 3): string {
  if (s.n === 0) return '–';
  if (s.n === 1 || s.min === s.max) return sig(s.median, digits);
  return `${sig(s.median, digits)} (${sig(s.min, digits)}–${sig(s.max, digits)})`;
}
