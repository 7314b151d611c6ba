/**
 * Weighted destinations, shared by HTTP and TCP routes. Istio requires the
 * weights of a route to add up to 100; a lone destination without a weight
 * takes all traffic. The typed form always carries the weight.
 */
import { Codes, array, transform, type Schema } from '../schema.js';

export type Weighted<T> = Omit<T, 'weight'> & { weight?: number };

export function weightedRoutes<T extends { weight: number }>(item: Schema<Weighted<T>>): Schema<T[]> {
  return transform(array(item, { min: 1 }), (routes, at) => {
    const [only] = routes;
    if (only && routes.length === 1 && only.weight === undefined) return [{ ...only, weight: 100 } as T];
    const sum = routes.reduce((total, r) => total + (r.weight ?? 0), 0);
    if (sum !== 100) return at.fail(Codes.value, `destination weights must add up to 100, not ${sum}`);
    return routes.map((r) => ({ ...r, weight: r.weight ?? 0 }) as T);
  });
}
