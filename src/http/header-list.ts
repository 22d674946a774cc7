// Any thread (pure). Operations on a HeaderList (flat [name, value, ...] with lower-case names), in place.

import type { HeaderList } from './stream-info.ts';
import { H, isHopByHop } from './header-names.ts';

/** Sets name to value, replacing every existing occurrence (the first keeps its place). */
export function setHeader(headers: HeaderList, lowerName: string, value: string): void {
  let found = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === lowerName) {
      if (!found) {
        headers[i + 1] = value;
        found = true;
      } else {
        headers.splice(i, 2);
        i -= 2;
      }
    }
  }
  if (!found) headers.push(lowerName, value);
}

export function removeHeader(headers: HeaderList, lowerName: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === lowerName) {
      headers.splice(i, 2);
      i -= 2;
    }
  }
}

export function hasHeader(headers: HeaderList, lowerName: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === lowerName) return true;
  return false;
}

/**
 * Removes hop-by-hop fields (te: trailers stays). Returns the index of the first `expect: 100-continue` left in
 * the list, or -1 (found in the same pass, so a request is scanned once).
 */
export function stripHopByHop(headers: HeaderList): number {
  let expect = -1;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (isHopByHop(name)) {
      if (name === 'te' && headers[i + 1]!.trim().toLowerCase() === 'trailers') continue;
      headers.splice(i, 2);
      i -= 2;
    } else if (name === H.expect && expect < 0 && headers[i + 1]!.trim().toLowerCase() === '100-continue') {
      expect = i;
    }
  }
  return expect;
}
