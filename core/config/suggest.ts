/**
 * "did you mean …?" for names a person typed: a kind, a node. Damerau-style
 * edit distance (an adjacent swap counts as one edit, the typo people make most),
 * case-insensitive, and only suggestions close enough to be a typo rather than
 * another word: at most a third of the input's length, and never more than 3.
 * Commander makes the same suggestion for commands and options itself.
 */

/** The edit distance between two strings: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidates within typo distance of `input` with their distances, closest first (ties in the given order). */
function scored(input: string, candidates: Iterable<string>): { name: string; distance: number }[] {
  const typed = input.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 3)));
  const close: { name: string; distance: number }[] = [];
  for (const name of new Set(candidates)) {
    const distance = editDistance(typed, name.toLowerCase());
    if (distance > 0 && distance <= limit) close.push({ name, distance });
  }
  return close.sort((x, y) => x.distance - y.distance);
}

/** The candidates within typo distance of `input`, closest first (ties in the given order). */
export function suggestions(input: string, candidates: Iterable<string>): string[] {
  return scored(input, candidates).map((s) => s.name);
}

/** ` (did you mean X?)`, or `X or Y` when two are equally close, or '' when nothing is. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const close = scored(input, candidates);
  if (close.length === 0) return '';
  const tied = close.filter((c) => c.distance === close[0]!.distance).slice(0, 2);
  return ` (did you mean ${tied.map((c) => c.name).join(' or ')}?)`;
}
