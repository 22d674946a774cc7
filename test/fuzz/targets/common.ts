// Fuzz targets (fuzz process, main thread): what they share. A target is `export function fuzz(data: Buffer)`:
// it throws (any error) on a broken invariant, and jazzer reports the input as a crash.

import { cut, prng, randomCuts } from '../../http1/harness.ts';

/** A broken invariant (as opposed to an exception out of the code under test). */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

export function check(ok: boolean, message: () => string): void {
  if (!ok) throw new InvariantError(message());
}

/** FNV-1a of the input: chunking choices derive from the bytes themselves, so a crash file replays exactly. */
export function hashOf(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}

/** The same bytes in a few pieces, cut where the input's hash says. */
export function splitByHash(data: Buffer, pieces: number): Buffer[] {
  return randomCuts(data, prng(hashOf(data)), pieces);
}

/** Cut in two at every offset (small inputs only: O(n^2) in total). */
export function everySplit(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 1; i < data.length; i++) out.push(cut(data, [i]));
  return out;
}

export function show(data: Uint8Array): string {
  return JSON.stringify(Buffer.from(data).toString('latin1'));
}
