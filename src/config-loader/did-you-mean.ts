// Any thread (pure). "did you mean 'x'?" for near-miss field and enum names, across snake_case and camelCase.

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = new Array<number>(m + 1);
  let cur = new Array<number>(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
    }
    const t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[m]!;
}

/** Case and underscores do not count: `connectTimeout`, `ConnectTimeout` and `connect_timeout` are the same. */
function folded(s: string): string {
  return s.replace(/_/g, '').toLowerCase();
}

/** The closest candidate if it is close enough to be a likely typo, else undefined. */
export function closestName(input: string, candidates: readonly string[]): string | undefined {
  const f = folded(input);
  const limit = f.length <= 4 ? 1 : f.length <= 10 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const d = editDistance(f, folded(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const best = closestName(input, candidates);
  return best === undefined ? undefined : `did you mean '${best}'?`;
}
