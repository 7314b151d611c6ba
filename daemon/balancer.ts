/**
 * Picks the endpoint for a connection to a service VIP: round robin over the
 * endpoints not currently ejected. An endpoint that refuses a connection is
 * ejected for a while (doubling on repeated failures, capped), like Envoy's
 * outlier detection for connect failures, so one dead instance does not fail
 * every Nth connection.
 */
import { formatAuthority } from '../core/hbone/authority.js';

/** Anything with an address: enrolled endpoints, and ServiceEntry endpoints that are not enrolled. */
export interface Addressed {
  address: string;
  port: number;
}

export interface BalancerOptions {
  baseEjectionMs?: number;
  maxEjectionMs?: number;
  now?: () => number;
}

interface Ejection {
  until: number;
  failures: number;
}

export class RoundRobinBalancer {
  readonly #next = new Map<string, number>();
  readonly #ejected = new Map<string, Ejection>();
  readonly #base: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: BalancerOptions = {}) {
    this.#base = options.baseEjectionMs ?? 5_000;
    this.#max = options.maxEjectionMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The next healthy endpoint of `service`, skipping `exclude` (endpoints this
   * connection already tried). When all are ejected, any not excluded is
   * better than none: ejection is a guess, a refused connection is a fact.
   */
  pick<T extends Addressed>(service: string, endpoints: readonly T[], exclude: ReadonlySet<string> = new Set()): T | undefined {
    const candidates = endpoints.filter((ep) => !exclude.has(keyOf(ep)));
    if (candidates.length === 0) return undefined;
    const now = this.#now();
    const healthy = candidates.filter((ep) => (this.#ejected.get(keyOf(ep))?.until ?? 0) <= now);
    const pool = healthy.length > 0 ? healthy : candidates;
    const i = (this.#next.get(service) ?? 0) % pool.length;
    this.#next.set(service, i + 1);
    return pool[i];
  }

  failed(ep: Addressed): void {
    const key = keyOf(ep);
    const failures = (this.#ejected.get(key)?.failures ?? 0) + 1;
    this.#ejected.set(key, { failures, until: this.#now() + Math.min(this.#max, this.#base * 2 ** (failures - 1)) });
  }

  succeeded(ep: Addressed): void {
    this.#ejected.delete(keyOf(ep));
  }

  ejected(): { endpoint: string; until: number; failures: number }[] {
    const now = this.#now();
    return [...this.#ejected].filter(([, e]) => e.until > now).map(([endpoint, e]) => ({ endpoint, ...e }));
  }
}

export function keyOf(ep: Addressed): string {
  return formatAuthority(ep.address, ep.port);
}
