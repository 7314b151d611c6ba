/**
 * Folding a bench's interleaved rounds into the figures its tables show: the
 * best round (what the path can do when the shared host lets it) and the
 * median (what it typically did).
 */

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const best = (xs: number[], higherIsBetter: boolean): number => (higherIsBetter ? Math.max(...xs) : Math.min(...xs));

/** A table cell: NaN (not measured on this path) shows as a dash. */
export const fmt = (n: number, digits: number): string => (Number.isNaN(n) ? '–' : n.toFixed(digits));

/** max − min as a share of the median: how far apart the rounds were. */
export const spread = (xs: number[]): string => `${((100 * (Math.max(...xs) - Math.min(...xs))) / median(xs)).toFixed(0)}%`;
