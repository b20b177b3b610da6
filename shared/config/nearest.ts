/**
 * "Did you mean": the known names nearest to a mistyped one, for unknown options and unknown
 * commands alike.
 */

/** How far a name may be from a known one (edit distance) and still be suggested. */
const MAX_DISTANCE = 2;

/**
 * The candidates nearest to `name`: those at the smallest edit distance, if that is at most 2.
 * With `words`, a candidate is also as near as its nearest `-`-separated word: `backups` is 0
 * from `list-backups` (suggested alone, though `backup` is 1 away); `restor` is 1 from both
 * `restore` and `verify-restore`, and the candidate that is near as a whole comes first.
 */
export function nearest(name: string, candidates: readonly string[], opts: { words?: boolean } = {}): string[] {
  const scored = candidates.map((candidate, order) => {
    const whole = editDistance(name, candidate);
    const words = opts.words ? candidate.split('-').map((word) => editDistance(name, word)) : [];
    return { candidate, order, whole, distance: Math.min(whole, ...words) };
  });
  const best = Math.min(...scored.map((s) => s.distance));
  if (best > MAX_DISTANCE) return [];
  return scored
    .filter((s) => s.distance === best)
    .sort((a, b) => a.whole - b.whole || a.order - b.order)
    .map((s) => s.candidate);
}

/** Levenshtein distance: insertions, deletions and substitutions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
