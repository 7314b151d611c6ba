/** Plain records for the daemon's pure modules: snapshots, endpoints, nodes, resources. */
import type { Resource } from '../../../core/config/resource.js';
import type { EndpointRecord, NodeRecord, ServiceRecord, Snapshot } from '../../../core/store/types.js';
import { MeshState, type StateOptions } from '../../../core/mesh/index.js';

export function endpoint(over: Partial<EndpointRecord> & Pick<EndpointRecord, 'service' | 'node' | 'address' | 'port'>): EndpointRecord {
  return { namespace: 'default', serviceAccount: over.service, labels: {}, ...over };
}

export function resource(kind: string, name: string, spec: Record<string, unknown>, metadata: Partial<Resource['metadata']> = {}): Resource {
  const group = kind.endsWith('Policy') || kind.endsWith('Authentication') ? 'security.istio.io' : 'networking.istio.io';
  return { apiVersion: `${group}/v1`, kind, metadata: { name, namespace: 'default', ...metadata }, spec };
}

export const NODES: NodeRecord[] = [
  { name: 'a', address: '10.0.0.1', hbonePort: 15008 },
  { name: 'b', address: '10.0.0.2', hbonePort: 15118 },
];

/** A snapshot of these endpoints (each service gets a VIP 240.240.0.<n>) and resources. */
export function snapshot(endpoints: EndpointRecord[], resources: Resource[] = [], revision = 7): Snapshot {
  const services = new Map<string, ServiceRecord>();
  for (const ep of endpoints) {
    const key = `${ep.namespace}/${ep.service}`;
    const prev = services.get(key);
    services.set(key, {
      name: ep.service,
      namespace: ep.namespace,
      ports: [...new Set([...(prev?.ports ?? []), ep.port])].sort(),
      vip: prev?.vip ?? `240.240.0.${services.size + 1}`,
    });
  }
  return {
    revision,
    resources: new Map(resources.map((r) => [`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r])),
    services,
    endpoints: new Map(endpoints.map((ep) => [`${ep.namespace}/${ep.service}/${ep.node}/${ep.address}:${ep.port}`, ep])),
  };
}

export function state(endpoints: EndpointRecord[], resources: Resource[] = [], options: Partial<StateOptions> = {}): MeshState {
  return new MeshState(snapshot(endpoints, resources), NODES, { nodeName: 'a', trustDomain: 'cluster.local', domain: 'cluster.local', ...options });
}
