/**
 * The mesh lookups behind metric labels, shared by ambitd and the waypoint so
 * both name a caller and an endpoint the same way: what labels.ts builds from
 * is resolved here, once, when a connection or request opens.
 */
import type { MeshState } from '../mesh/index.js';
import type { EndpointRecord } from '../store/types.js';
import type { PartyFacts } from './labels.js';

/** A verified caller: its principal, and its workload when the mesh knows which one dialled. */
export function callerParty(mesh: Pick<MeshState, 'callerWorkload'>, principal: string, peerAddress: string): PartyFacts {
  const w = mesh.callerWorkload(principal, peerAddress);
  if (w?.service === undefined) return { principal };
  return { principal, workload: { service: w.service, namespace: w.namespace, labels: w.labels } };
}

/** An endpoint of the mesh, as the identity it holds. */
export function endpointParty(mesh: Pick<MeshState, 'identityOf'>, ep: EndpointRecord): PartyFacts {
  return { principal: mesh.identityOf(ep), workload: ep };
}
