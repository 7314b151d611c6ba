/**
 * Per-cluster runtime state (`outbound|port|subset|host`): circuit breaker
 * counts and pending queue, balancer, active request counts and outlier
 * ejections. It outlives config snapshots, so a reload neither forgets what
 * is in flight nor un-ejects a bad endpoint; a changed load-balancer or
 * outlier policy replaces only that piece.
 */
import { ConnectionGate } from './connection-gate.js';
import {
  CircuitBreakers, createBalancer, OutlierDetector, RequestLoad, type Balancer, type CircuitBreaker, type DestinationPolicy, type Endpoint,
} from './routing/index.js';

export interface ClusterState {
  breaker: CircuitBreaker;
  gate: ConnectionGate;
  balancer: Balancer;
  load: RequestLoad;
  outlier: OutlierDetector | undefined;
}

interface Entry extends ClusterState {
  lbKey: string;
  outlierKey: string;
  endpoints: readonly Endpoint[] | undefined;
}

export class Clusters {
  readonly #breakers = new CircuitBreakers();
  readonly #byName = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
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
        breaker, gate: new ConnectionGate(breaker), load, lbKey, outlierKey, endpoints: undefined,
        balancer: createBalancer(policy.loadBalancer, { load }),
        outlier: this.#outlier(policy),
      };
      this.#byName.set(policy.cluster, e);
      return e;
    }
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

  #outlier(policy: DestinationPolicy): OutlierDetector | undefined {
    return policy.outlierDetection ? new OutlierDetector(policy.outlierDetection, { now: this.#now }) : undefined;
  }
}
