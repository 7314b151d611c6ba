/**
 * Per-cluster runtime state (`outbound|port|subset|host`): circuit breaker
 * counts, the connection pool with its pending queue, balancer, active
 * request counts and outlier ejections. It outlives config snapshots, so a
 * reload neither forgets what is in flight, nor drops reusable connections,
 * nor un-ejects a bad endpoint; a changed load-balancer or outlier policy
 * replaces only that piece, changed pool limits apply to the next request.
 */
import type { Upstream } from './config.js';
import { ConnectionPool, type Connector } from './connection-pool.js';
import {
  CircuitBreakers,
  createBalancer,
  OutlierDetector,
  RequestLoad,
  type Balancer,
  type CircuitBreaker,
  type DestinationPolicy,
  type Endpoint,
} from '../core/routing/index.js';

export interface ClusterState {
  breaker: CircuitBreaker;
  pool: ConnectionPool;
  balancer: Balancer;
  load: RequestLoad;
  outlier: OutlierDetector | undefined;
}

interface Entry extends ClusterState {
  /** The policy it was last asked for: what a config change is checked against. */
  policy: DestinationPolicy;
  lbKey: string;
  outlierKey: string;
  endpoints: readonly Endpoint[] | undefined;
}

export class Clusters {
  readonly #breakers = new CircuitBreakers();
  readonly #byName = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #connect: Connector;

  constructor(connect: Connector, opts: { now?: () => number } = {}) {
    this.#connect = connect;
    this.#now = opts.now ?? Date.now;
  }

  /** The state for `policy`'s cluster, updated to the policy's current settings. */
  for(policy: DestinationPolicy): ClusterState {
    const breaker = this.#breakers.for(policy.cluster, policy.connectionPool);
    let e = this.#byName.get(policy.cluster);
    const lbKey = JSON.stringify(policy.loadBalancer);
    const outlierKey = JSON.stringify(policy.outlierDetection ?? null);
    if (!e) {
      const load = new RequestLoad();
      e = {
        policy,
        breaker,
        pool: new ConnectionPool(policy.cluster, breaker, policy.connectionPool, this.#connect),
        load,
        lbKey,
        outlierKey,
        endpoints: undefined,
        balancer: createBalancer(policy.loadBalancer, { load }),
        outlier: this.#outlier(policy),
      };
      this.#byName.set(policy.cluster, e);
      return e;
    }
    e.policy = policy;
    e.pool.setLimits(policy.connectionPool);
    if (e.lbKey !== lbKey) {
      e.balancer = createBalancer(policy.loadBalancer, { load: e.load });
      e.lbKey = lbKey;
    }
    if (e.outlierKey !== outlierKey) {
      e.outlier = this.#outlier(policy);
      e.outlierKey = outlierKey;
      e.endpoints = undefined;
    }
    return e;
  }

  /** Tells the outlier detector the cluster's current endpoints (for its ejection cap); cheap when unchanged. */
  observeEndpoints(state: ClusterState, endpoints: readonly Endpoint[]): void {
    const e = state as Entry;
    if (e.endpoints === endpoints || !e.outlier) return;
    e.endpoints = endpoints;
    e.outlier.setEndpoints(endpoints.map((ep) => ep.key));
  }

  /** After a config change: connections whose endpoint is gone or moved close (busy ones when their request ends). */
  retain(keep: (upstream: Upstream, policy: DestinationPolicy) => boolean): void {
    for (const e of this.#byName.values()) e.pool.retain((up) => keep(up, e.policy));
  }

  /** Every pooled connection, in every cluster. */
  pools(): ConnectionPool[] {
    return [...this.#byName.values()].map((e) => e.pool);
  }

  close(): void {
    for (const e of this.#byName.values()) e.pool.close();
  }

  #outlier(policy: DestinationPolicy): OutlierDetector | undefined {
    return policy.outlierDetection ? new OutlierDetector(policy.outlierDetection, { now: this.#now }) : undefined;
  }
}
