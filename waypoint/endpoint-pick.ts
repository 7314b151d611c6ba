/**
 * Which endpoint of a cluster gets a request or connection, one way for
 * every path that needs one (request tries, WebSocket upgrades, mirror
 * copies, TCP connections), so a balancer or outlier rule never applies to
 * one path and not another.
 *
 * - The cluster's endpoints are the destination service's on the port,
 *   narrowed to the DestinationRule subset. Outlier detection is shown the
 *   whole list first: its maxEjectionPercent counts every endpoint.
 * - Each pick leaves out the endpoints ejected at that moment (unless too
 *   few would be left: Envoy's panic mode), then asks the cluster's balancer.
 * - A retry asks for an endpoint not tried yet, as Istio configures Envoy's
 *   previous_hosts predicate: up to five picks, unless only one is healthy.
 */
import type { ClusterState, Clusters } from './clusters.js';
import { subsetEndpoints, type DestinationPolicy, type Endpoint, type PickContext } from '../core/routing/index.js';

/** Istio's host_selection_retry_max_attempts for previous_hosts. */
const HOST_SELECTION_ATTEMPTS = 5;

const NONE: ReadonlySet<string> = new Set();

/** `all` (the service's endpoints on the destination port) as `policy`'s cluster serves them; the same array while `all` is. */
export function clusterEndpoints(clusters: Clusters, cluster: ClusterState, policy: DestinationPolicy, all: readonly Endpoint[]): readonly Endpoint[] {
  clusters.observeEndpoints(cluster, all);
  return subsetEndpoints(all, policy.subsetLabels);
}

/** One endpoint among the healthy of `endpoints`, preferring one whose key is not in `tried`; undefined when none is healthy. */
export function pickEndpoint(cluster: ClusterState, endpoints: readonly Endpoint[], ctx: PickContext, tried: ReadonlySet<string> = NONE): Endpoint | undefined {
  const healthy = cluster.outlier?.healthy(endpoints) ?? endpoints;
  let ep = cluster.balancer.pick(healthy, ctx);
  for (let i = 1; i < HOST_SELECTION_ATTEMPTS && ep && tried.has(ep.key) && healthy.length > 1; i++) ep = cluster.balancer.pick(healthy, ctx);
  return ep;
}
