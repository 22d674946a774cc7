// Any thread (pure). The bytes a worker hands the primary for its histograms: what was recorded since the
// previous delta, per histogram slot. A Float64Array seen as bytes (no per-value objects, and msgpackr carries it
// as one binary field):
//   [VERSION, recordCount, then per record: slot, count, sum, minUnits, maxUnits, pairCount, (units, count)*]
// `units` is the lowest value of an HdrHistogram bucket, so the primary's histogram (same settings) puts it in
// the same bucket. `sum` is the exact sum of the recorded values, in the stat's unit.

import type { JsHistogram } from 'hdr-histogram-js';
import { StatsError, StatsErrorCode } from './stats-error.ts';

const VERSION = 1;
const RECORD_HEADER = 6;

export class HistogramDeltaWriter {
  private parts: number[] = [VERSION, 0];
  private records = 0;

  /** Appends `hist` as the delta of `slot` if it recorded anything; the caller resets it afterwards. */
  add(slot: number, hist: JsHistogram, sum: number): void {
    const count = hist.totalCount;
    if (count === 0) return;
    const parts = this.parts;
    const maxUnits = hist.maxValue;
    const minUnits = hist.getCountAtIndex(0) > 0 ? 0 : hist.minNonZeroValue;
    parts.push(slot, count, sum, minUnits, maxUnits, 0);
    const pairCountAt = parts.length - 1;
    const last = Math.min(hist.countsArrayIndex(maxUnits), hist.countsArrayLength - 1);
    let pairs = 0;
    for (let i = 0; i <= last; i++) {
      const c = hist.getCountAtIndex(i);
      if (c === 0) continue;
      parts.push(hist.valueFromIndex(i), c);
      pairs++;
    }
    parts[pairCountAt] = pairs;
    this.records++;
  }

  /** The encoded delta, or null when nothing was recorded. Starts a new, empty delta. */
  finish(): Uint8Array | null {
    const parts = this.parts;
    const records = this.records;
    this.parts = [VERSION, 0];
    this.records = 0;
    if (records === 0) return null;
    parts[1] = records;
    return new Uint8Array(Float64Array.from(parts).buffer);
  }
}

/** One slot's part of a delta. `pairs` alternates bucket value (units) and count. */
export interface HistogramDeltaRecord {
  readonly slot: number;
  readonly count: number;
  readonly sum: number;
  readonly minUnits: number;
  readonly maxUnits: number;
  readonly pairs: Float64Array;
}

export function decodeHistogramDelta(bytes: Uint8Array): HistogramDeltaRecord[] {
  if (bytes.byteLength % 8 !== 0 || bytes.byteLength < 16) bad('length is not a whole number of records');
  // Copy when the bytes are not 8-aligned (msgpackr may hand a view into a larger buffer).
  const f =
    bytes.byteOffset % 8 === 0
      ? new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
      : new Float64Array(bytes.slice().buffer);
  if (f[0] !== VERSION) bad(`unknown version ${f[0]}`);
  const records = f[1]!;
  const out: HistogramDeltaRecord[] = [];
  let at = 2;
  for (let r = 0; r < records; r++) {
    if (at + RECORD_HEADER > f.length) bad('truncated record header');
    const pairCount = f[at + 5]!;
    const end = at + RECORD_HEADER + pairCount * 2;
    if (end > f.length) bad('truncated record');
    out.push({
      slot: f[at]!,
      count: f[at + 1]!,
      sum: f[at + 2]!,
      minUnits: f[at + 3]!,
      maxUnits: f[at + 4]!,
      pairs: f.subarray(at + RECORD_HEADER, end),
    });
    at = end;
  }
  return out;
}

function bad(why: string): never {
  throw new StatsError(StatsErrorCode.BAD_HISTOGRAM_DELTA, `histogram delta does not decode: ${why}`);
}
