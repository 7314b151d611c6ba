/**
 * Envoy's cluster circuit breakers: counters of what is in flight to one
 * cluster, checked before starting more. Past a limit Envoy fails fast
 * with 503 (x-envoy-overloaded); ambit's waypoint sends 503 with
 * `x-ambit-overflow: <reason>`. A retry over maxRetries is different: Envoy
 * does not retry and returns the response it has, so for `retries` the
 * proxy should skip the retry rather than answer 503.
 */
import type { ConnectionPoolLimits } from './destination-policy.js';

export type ResourceKind = 'connection' | 'pending' | 'request' | 'retry';
export type OverflowReason = 'connections' | 'pending' | 'requests' | 'retries';
export type Release = () => void;

export const OVERFLOW_HEADER = 'x-ambit-overflow';

const REASON: Record<ResourceKind, OverflowReason> = { connection: 'connections', pending: 'pending', request: 'requests', retry: 'retries' };
const KINDS: readonly ResourceKind[] = ['connection', 'pending', 'request', 'retry'];

export class CircuitBreaker {
  #limits: ConnectionPoolLimits;
  readonly #active: Record<ResourceKind, number> = { connection: 0, pending: 0, request: 0, retry: 0 };
  // One release function per kind, made once: acquiring allocates nothing.
  readonly #release: Record<ResourceKind, Release>;

  constructor(limits: ConnectionPoolLimits) {
    this.#limits = limits;
    const rel = (k: ResourceKind) => () => {
      if (this.#active[k] > 0) this.#active[k]--;
    };
    this.#release = { connection: rel('connection'), pending: rel('pending'), request: rel('request'), retry: rel('retry') };
  }

  /** New limits from a config change; counts in flight are kept. */
  setLimits(limits: ConnectionPoolLimits): void {
    this.#limits = limits;
  }

  /** A release function (call it exactly once when that thing ends), or why the limit is reached. */
  tryAcquire(kind: ResourceKind): Release | OverflowReason {
    if (this.#active[kind] >= this.#limit(kind)) return REASON[kind];
    this.#active[kind]++;
    return this.#release[kind];
  }

  active(kind: ResourceKind): number {
    return this.#active[kind];
  }

  snapshot(): Record<ResourceKind, { active: number; limit: number }> {
    return Object.fromEntries(KINDS.map((k) => [k, { active: this.#active[k], limit: this.#limit(k) }])) as Record<
      ResourceKind,
      { active: number; limit: number }
    >;
  }

  #limit(kind: ResourceKind): number {
    const l = this.#limits;
    switch (kind) {
      case 'connection':
        return l.maxConnections;
      case 'pending':
        return l.http1MaxPendingRequests;
      case 'request':
        return l.http2MaxRequests;
      case 'retry':
        return l.maxRetries;
    }
  }
}

/** Breakers by cluster name, kept across config snapshots so in-flight counts survive a reload. */
export class CircuitBreakers {
  readonly #byCluster = new Map<string, CircuitBreaker>();

  for(cluster: string, limits: ConnectionPoolLimits): CircuitBreaker {
    let cb = this.#byCluster.get(cluster);
    if (!cb) this.#byCluster.set(cluster, (cb = new CircuitBreaker(limits)));
    else cb.setLimits(limits);
    return cb;
  }
}
