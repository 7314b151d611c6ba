/**
 * Istio's weighted destinations, for HTTP and tcp routes alike: several
 * destinations' weights must add up to 100; a 0-weight destination is
 * skipped unless it is alone; a lone destination takes everything. Targets
 * carry running totals so a pick is one rng call and a scan.
 */
import { RoutingError } from './errors.js';

/** The destinations that can be picked, each with its running total (`upTo`), and the sum. */
export function weighted<D extends { weight: number }, T>(
  dests: readonly D[],
  ref: string,
  where: string,
  target: (d: D, single: boolean) => T,
): { targets: (T & { upTo: number })[]; total: number } {
  const total = dests.reduce((s, d) => s + d.weight, 0);
  if (dests.length > 1 && total !== 100) {
    throw new RoutingError('EROUTE_WEIGHTS', `${ref} ${where}: destination weights add up to ${total}, not 100`, { resource: ref });
  }
  const used = dests.length === 1 ? dests : dests.filter((d) => d.weight > 0);
  const single = used.length === 1;
  let upTo = 0;
  const targets = used.map((d) => {
    upTo += single ? 100 : d.weight;
    return { ...target(d, single), upTo };
  });
  return { targets, total: upTo };
}

/** Weighted choice over running totals; one rng call. */
export function pickWeighted<T extends { upTo: number }>(targets: readonly T[], total: number, rng: () => number): T {
  if (targets.length === 1) return targets[0]!;
  const x = rng() * total;
  for (const t of targets) if (x < t.upTo) return t;
  return targets[targets.length - 1]!;
}
