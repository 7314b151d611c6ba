/**
 * DestinationRule traffic policy for one cluster (host, subset, port), in
 * typed form with Istio's defaults filled in.
 *
 * Merging follows Istio (MergeTrafficPolicy): start from the top-level
 * policy, let its portLevelSettings entry for the port replace fields, then
 * the subset's policy, then the subset's portLevelSettings entry. Each of
 * loadBalancer, connectionPool, outlierDetection and tls is replaced whole,
 * never merged field by field inside: a port-level connectionPool that sets
 * only http1MaxPendingRequests gets defaults for everything else.
 */
import type {
  ConnectionPoolSettings,
  ConsistentHashLB,
  DestinationRuleSpec,
  Labels,
  LoadBalancerSettings,
  OutlierDetection,
  PortTrafficPolicy,
  TrafficPolicy,
} from '../config/index.js';

/** 2^32-1: what Istio sets for every circuit-breaker threshold left unset (Envoy's own default is 1024). */
export const UNLIMITED = 4_294_967_295;

export type LoadBalancerPolicy = { kind: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH' } | { kind: 'CONSISTENT_HASH'; hash: ConsistentHashLB };

export interface ConnectionPoolLimits {
  maxConnections: number;
  /** Default 10s (Istio's mesh connectTimeout). */
  connectTimeoutMs: number;
  http1MaxPendingRequests: number;
  /** Despite the name, Envoy's max_requests: active requests over HTTP/1 and HTTP/2. */
  http2MaxRequests: number;
  /** 0: unlimited. */
  maxRequestsPerConnection: number;
  maxRetries: number;
  /** Default 1h. */
  idleTimeoutMs: number;
  /** UPGRADE: speak HTTP/2 (h2c) to endpoints whatever the client speaks. DEFAULT is Istio's mesh default, DO_NOT_UPGRADE. */
  h2UpgradePolicy: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  /** Speak to endpoints the HTTP version the client spoke; h2UpgradePolicy is then ignored. */
  useClientProtocol: boolean;
}

/**
 * Envoy's outlier detection as Istio configures it. Present only when the
 * DestinationRule has outlierDetection; then consecutive 5xx ejection is on
 * (5) and gateway-error ejection off unless consecutiveGatewayErrors is set
 * (Envoy counts it but enforces 0%). A value of 0 disables that detector.
 */
export interface OutlierSettings {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  /** Envoy's max_ejection_time: the cap on base × ejections (300s, or baseEjectionTime when larger). */
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
  /** Istio sets Envoy's panic threshold to this; 0 (the default) disables panic routing. */
  minHealthPercent: number;
}

export interface DestinationPolicy {
  /** Envoy-style cluster name, `outbound|port|subset|host`: the key for breaker and outlier state. */
  cluster: string;
  host: string;
  subset: string | undefined;
  port: number;
  /** Endpoints must carry all of these; undefined: every endpoint of the host. */
  subsetLabels: Readonly<Labels> | undefined;
  loadBalancer: LoadBalancerPolicy;
  connectionPool: ConnectionPoolLimits;
  outlierDetection: OutlierSettings | undefined;
  tlsMode: 'DISABLE' | 'ISTIO_MUTUAL' | undefined;
}

export const DEFAULT_CONNECTION_POOL: ConnectionPoolLimits = Object.freeze({
  maxConnections: UNLIMITED,
  connectTimeoutMs: 10_000,
  http1MaxPendingRequests: UNLIMITED,
  http2MaxRequests: UNLIMITED,
  maxRequestsPerConnection: 0,
  maxRetries: UNLIMITED,
  idleTimeoutMs: 3_600_000,
  h2UpgradePolicy: 'DEFAULT',
  useClientProtocol: false,
});

/** Istio picks LEAST_REQUEST when a DestinationRule leaves the algorithm unspecified. */
export const DEFAULT_LOAD_BALANCER: LoadBalancerPolicy = Object.freeze({ kind: 'LEAST_REQUEST' });

const MAX_EJECTION_TIME_MS = 300_000;

export function outlierSettings(o: OutlierDetection): OutlierSettings {
  const base = o.baseEjectionTime ?? 30_000;
  return Object.freeze({
    consecutive5xxErrors: o.consecutive5xxErrors ?? 5,
    consecutiveGatewayErrors: o.consecutiveGatewayErrors ?? 0,
    intervalMs: o.interval ?? 10_000,
    baseEjectionTimeMs: base,
    maxEjectionTimeMs: Math.max(MAX_EJECTION_TIME_MS, base),
    maxEjectionPercent: o.maxEjectionPercent ?? 10,
    minHealthPercent: o.minHealthPercent ?? 0,
  });
}

function connectionPool(c: ConnectionPoolSettings | undefined): ConnectionPoolLimits {
  if (!c) return DEFAULT_CONNECTION_POOL;
  const d = DEFAULT_CONNECTION_POOL;
  return Object.freeze({
    maxConnections: c.tcp?.maxConnections ?? d.maxConnections,
    connectTimeoutMs: c.tcp?.connectTimeout ?? d.connectTimeoutMs,
    http1MaxPendingRequests: c.http?.http1MaxPendingRequests ?? d.http1MaxPendingRequests,
    http2MaxRequests: c.http?.http2MaxRequests ?? d.http2MaxRequests,
    maxRequestsPerConnection: c.http?.maxRequestsPerConnection ?? d.maxRequestsPerConnection,
    maxRetries: c.http?.maxRetries ?? d.maxRetries,
    idleTimeoutMs: c.http?.idleTimeout ?? d.idleTimeoutMs,
    h2UpgradePolicy: c.http?.h2UpgradePolicy ?? d.h2UpgradePolicy,
    useClientProtocol: c.http?.useClientProtocol ?? d.useClientProtocol,
  });
}

/** The HTTP version spoken to the cluster's endpoints for a request that came in over `client`. */
export function upstreamProtocol(pool: ConnectionPoolLimits, client: 'h1' | 'h2'): 'h1' | 'h2' {
  if (pool.useClientProtocol) return client;
  return pool.h2UpgradePolicy === 'UPGRADE' ? 'h2' : 'h1';
}

function loadBalancer(lb: LoadBalancerSettings | undefined): LoadBalancerPolicy {
  if (lb?.consistentHash) return Object.freeze({ kind: 'CONSISTENT_HASH', hash: lb.consistentHash });
  const simple = lb?.simple;
  // LEAST_CONN is Istio's deprecated alias of LEAST_REQUEST.
  if (simple === undefined || simple === 'LEAST_CONN') return DEFAULT_LOAD_BALANCER;
  return Object.freeze({ kind: simple });
}

type Fields = Omit<PortTrafficPolicy, 'port'>;

/** `over`'s fields replace `base`'s, each whole. */
function overlay(base: Fields, over: Fields | undefined): Fields {
  if (!over) return base;
  return {
    loadBalancer: over.loadBalancer ?? base.loadBalancer,
    connectionPool: over.connectionPool ?? base.connectionPool,
    outlierDetection: over.outlierDetection ?? base.outlierDetection,
    tls: over.tls ?? base.tls,
  };
}

const atPort = (p: TrafficPolicy | undefined, port: number): Fields | undefined => p?.portLevelSettings?.find((s) => s.port?.number === port);

/** The merged policy of `subset` at `port`, or undefined when the DestinationRule does not define `subset`. */
export function resolvePolicy(dr: DestinationRuleSpec | undefined, host: string, subset: string | undefined, port: number): DestinationPolicy | undefined {
  const s = subset === undefined ? undefined : dr?.subsets?.find((x) => x.name === subset);
  if (subset !== undefined && !s) return undefined;
  let fields: Fields = overlay({}, dr?.trafficPolicy);
  fields = overlay(fields, atPort(dr?.trafficPolicy, port));
  fields = overlay(fields, s?.trafficPolicy);
  fields = overlay(fields, atPort(s?.trafficPolicy, port));
  return Object.freeze({
    cluster: clusterName(host, subset, port),
    host,
    subset,
    port,
    subsetLabels: s?.labels,
    loadBalancer: loadBalancer(fields.loadBalancer),
    connectionPool: connectionPool(fields.connectionPool),
    outlierDetection: fields.outlierDetection ? outlierSettings(fields.outlierDetection) : undefined,
    tlsMode: fields.tls?.mode,
  });
}

export const clusterName = (host: string, subset: string | undefined, port: number): string => `outbound|${port}|${subset ?? ''}|${host}`;
