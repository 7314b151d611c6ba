/**
 * L4 authorization of a connection to a workload on this node, shared by the
 * inbound HBONE path and the same-node shortcut of the outbound path (traffic
 * between two services on one host is authorized exactly like remote traffic).
 */
import { evaluate, type Decision, type WorkloadPolicies } from '../authz/index.js';
import type { EndpointRecord } from '../store/types.js';
import { formatAuthority } from '../hbone/authority.js';
import type { MeshState } from './state.js';

export interface L4Source {
  /** Verified SPIFFE ID (spiffe://td/ns/x/sa/y), undefined for plaintext. */
  identity: string | undefined;
  ip: string;
}

// Policies per workload are selected once per config snapshot, not per connection.
const cache = new WeakMap<MeshState, Map<string, WorkloadPolicies>>();

function policiesFor(state: MeshState, ep: EndpointRecord): WorkloadPolicies {
  let perState = cache.get(state);
  if (!perState) cache.set(state, (perState = new Map<string, WorkloadPolicies>()));
  const key = formatAuthority(ep.address, ep.port);
  let wp = perState.get(key);
  if (!wp) perState.set(key, (wp = state.policies.forWorkload({ namespace: ep.namespace, labels: ep.labels, serviceName: ep.service })));
  return wp;
}

export function authorizeL4(state: MeshState, ep: EndpointRecord, source: L4Source, destinationIp: string): Decision {
  return evaluate(policiesFor(state, ep), {
    ...(source.identity ? { sourcePrincipal: source.identity } : {}),
    sourceIp: source.ip,
    destinationIp,
    destinationPort: ep.port,
  });
}
