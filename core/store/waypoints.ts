/**
 * How a waypoint lives in the registry: as an enrolled endpoint of the service
 * `<svc>-waypoint` on the node that runs it, with its own service account
 * (`<svc>-waypoint`, so the signer issues its certificate only to that node,
 * exactly as for any enrolled workload) and labels saying which service it
 * serves, where its metrics are, and whether it is ready. Attaching is then one
 * atomic enroll, detaching one unenroll, and every daemon learns of both through
 * the watcher like any other registry change.
 */
import type { EndpointRecord } from './types.js';

export const WAYPOINT_FOR_LABEL = 'ambit.dev/waypoint-for';
export const WAYPOINT_STATE_LABEL = 'ambit.dev/waypoint-state';
export const WAYPOINT_METRICS_LABEL = 'ambit.dev/waypoint-metrics-port';

/** `starting` until its node's daemon has it serving; daemons send traffic only to `ready` ones. */
export type WaypointState = 'starting' | 'ready';

/** The first HBONE port and metrics port tried on a node; later waypoints take the next free ones. */
export const WAYPOINT_FIRST_PORT = 15009;
export const WAYPOINT_FIRST_METRICS_PORT = 15021;

export interface WaypointInfo {
  /** The served service's namespace and name. */
  namespace: string;
  service: string;
  node: string;
  address: string;
  port: number;
  metricsPort: number;
  state: WaypointState;
  /** The service account of its identity. */
  serviceAccount: string;
}

export function waypointServiceName(service: string): string {
  return `${service}-waypoint`;
}

export function waypointEndpoint(w: Omit<WaypointInfo, 'serviceAccount'>): EndpointRecord {
  const name = waypointServiceName(w.service);
  return {
    service: name,
    namespace: w.namespace,
    node: w.node,
    address: w.address,
    port: w.port,
    serviceAccount: name,
    labels: { [WAYPOINT_FOR_LABEL]: w.service, [WAYPOINT_STATE_LABEL]: w.state, [WAYPOINT_METRICS_LABEL]: String(w.metricsPort) },
  };
}

/** The waypoint an endpoint record stands for, or undefined for an ordinary workload. */
export function waypointOf(ep: EndpointRecord): WaypointInfo | undefined {
  const service = ep.labels[WAYPOINT_FOR_LABEL];
  if (!service || ep.service !== waypointServiceName(service)) return undefined;
  return {
    namespace: ep.namespace,
    service,
    node: ep.node,
    address: ep.address,
    port: ep.port,
    metricsPort: Number(ep.labels[WAYPOINT_METRICS_LABEL] ?? WAYPOINT_FIRST_METRICS_PORT),
    state: ep.labels[WAYPOINT_STATE_LABEL] === 'ready' ? 'ready' : 'starting',
    serviceAccount: ep.serviceAccount,
  };
}

export function withWaypointState(ep: EndpointRecord, state: WaypointState): EndpointRecord {
  return { ...ep, labels: { ...ep.labels, [WAYPOINT_STATE_LABEL]: state } };
}
