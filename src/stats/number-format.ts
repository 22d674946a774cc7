// Any thread (pure). Numbers as Envoy's admin prints them.

/** A counter or gauge value: integers without a fraction (Envoy's are uint64). */
export function formatStatValue(value: number): string {
  return String(value);
}

/** A quantile in /stats text: shortest round-trip form, `nan` when nothing was recorded (fmt's `{}`). */
export function formatQuantile(value: number): string {
  return Number.isNaN(value) ? 'nan' : String(value);
}

/** `P{:g}` of a quantile: 0.995 -> "99.5". */
export function quantileLabel(quantile: number): string {
  return String(Math.round(quantile * 100 * 1000) / 1000);
}

/**
 * C's `%.32g` (what Envoy's Prometheus output uses for bucket bounds and sums): 32 significant digits, trailing
 * zeros dropped, exponent form below 1e-4 or from 1e32.
 */
export function formatG32(value: number): string {
  const precision = 32;
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exp = Number(value.toExponential(precision - 1).split('e')[1]);
  if (exp < -4 || exp >= precision) {
    const [mantissa, e] = value.toExponential(precision - 1).split('e') as [string, string];
    const sign = e[0] === '-' ? '-' : '+';
    const digits = e.replace(/^[+-]/, '');
    return `${stripZeros(mantissa)}e${sign}${digits.length < 2 ? `0${digits}` : digits}`;
  }
  if (exp >= 21) return BigInt(value).toString(); // toFixed turns exponential there; such doubles are integers
  return stripZeros(value.toFixed(precision - 1 - exp));
}

function stripZeros(fixed: string): string {
  if (!fixed.includes('.')) return fixed;
  return fixed.replace(/0+$/, '').replace(/\.$/, '');
}
