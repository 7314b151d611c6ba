/**
 * The waypoint's routing and resilience decisions: pure logic the L7 proxy
 * calls per request. See route-table.ts for how a request becomes a
 * RouteDecision, destination-policy.ts for DestinationRule merging, and
 * balancers/circuit-breaker/outlier-detector for per-cluster state.
 */
export { compileRoutes, rewritePath, RouteTable, type RouteTableOptions, type TcpDecision } from './route-table.js';
export type { TcpRouteRequest } from './tcp-routes.js';
export type { HostConflict } from './hosts.js';
export type { RouteRequest, RequestHeaders } from './request.js';
export {
  injectFault,
  type DirectDecision,
  type FaultPolicy,
  type ForwardDecision,
  type HeaderOp,
  type MirrorTarget,
  type NotFoundDecision,
  type RedirectDecision,
  type RouteDecision,
  type Target,
} from './decision.js';
export { DEFAULT_RETRY_POLICY, retryPolicyFor, shouldRetry, type AttemptError, type AttemptOutcome, type RetryCondition, type RetryPolicy } from './retry.js';
export {
  clusterName,
  DEFAULT_CONNECTION_POOL,
  DEFAULT_LOAD_BALANCER,
  resolvePolicy,
  UNLIMITED,
  upstreamProtocol,
  type ConnectionPoolLimits,
  type DestinationPolicy,
  type LoadBalancerPolicy,
  type OutlierSettings,
} from './destination-policy.js';
export {
  createBalancer,
  hash32,
  LeastRequestBalancer,
  RandomBalancer,
  RequestLoad,
  RingHashBalancer,
  RoundRobinBalancer,
  subsetEndpoints,
  type Balancer,
  type Endpoint,
  type PickContext,
} from './balancers.js';
export { CircuitBreaker, CircuitBreakers, OVERFLOW_HEADER, type OverflowReason, type Release, type ResourceKind } from './circuit-breaker.js';
export { OutlierDetector, type Ejection } from './outlier-detector.js';
export { RoutingError, type RoutingErrorCode } from './errors.js';
