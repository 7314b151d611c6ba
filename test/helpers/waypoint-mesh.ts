/**
 * The mesh a test or bench waypoint serves, from plain store records and
 * Istio resources: services in `default` on one port, endpoints behind one
 * peer daemon "node-b", the waypoint on "node-wp". Shared by the waypoint
 * harness and bench/tracing's waypoint process, which both need exactly this.
 */
import { refKey, type Resource } from '../../core/config/index.js';
import { MeshState } from '../../core/mesh/index.js';
import type { EndpointRecord, ServiceRecord, Snapshot } from '../../core/store/types.js';

export interface MeshSpec {
  services: ReadonlyMap<string, ServiceRecord>;
  endpoints: readonly EndpointRecord[];
  /** Where node-b's HBONE server listens on 127.0.0.1. */
  peerPort: number;
}

export function meshState(spec: MeshSpec, resources: readonly Resource[], revision: number): MeshState {
  const snapshot: Snapshot = {
    revision,
    resources: new Map(resources.map((r) => [refKey(r), r])),
    services: new Map(spec.services),
    endpoints: new Map(spec.endpoints.map((r) => [`default/${r.service}/${r.node}/${r.address}:${r.port}`, r])),
  };
  return new MeshState(snapshot, [{ name: 'node-b', address: '127.0.0.1', hbonePort: spec.peerPort }], {
    nodeName: 'node-wp',
    trustDomain: 'cluster.local',
    domain: 'cluster.local',
  });
}
